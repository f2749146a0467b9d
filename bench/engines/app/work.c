/* CPU work for bench/engines.sh: a few seconds of integer hashing. */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
	uint64_t h = 1469598103934665603ULL;

	for (uint64_t i = 0; i < 1500000000ULL; i++)
		h = (h ^ i) * 1099511628211ULL;
	printf("work: %llx\n", (unsigned long long)h);
	return 0;
}
