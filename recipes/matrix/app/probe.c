/* A program for the strip axis to work on: built with -g, so the cells
 * that keep symbols ship .symtab and .debug_info and the others do not. */
#include <stdio.h>

int main(void)
{
	puts("probe: ok");
	return 0;
}
