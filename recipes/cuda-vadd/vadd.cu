// Vector add on the GPU. Asks the runtime for a device first: without a GPU
// or a driver it prints CUDA's own error string and exits nonzero, so a
// smoke test can tell "no GPU here" from a broken image.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_runtime.h>

static int check(cudaError_t err, const char *what)
{
	if (err == cudaSuccess)
		return 0;
	std::fprintf(stderr, "vadd: %s: %s (%s)\n", what, cudaGetErrorString(err),
		     cudaGetErrorName(err));
	return 1;
}

__global__ void vadd(const float *a, const float *b, float *c, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;

	if (i < n)
		c[i] = a[i] + b[i];
}

int main()
{
	const int n = 1 << 20;
	const size_t bytes = n * sizeof(float);
	std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n, 0.0f);
	float *da = nullptr, *db = nullptr, *dc = nullptr;
	int devices = 0;

	if (check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount"))
		return 2;
	if (devices == 0) {
		std::fprintf(stderr, "vadd: no CUDA device\n");
		return 2;
	}
	{
		cudaDeviceProp prop;

		if (check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties"))
			return 1;
		std::printf("vadd: device 0: %s\n", prop.name);
		std::fflush(stdout);
	}
	if (check(cudaMalloc(&da, bytes), "cudaMalloc") || check(cudaMalloc(&db, bytes), "cudaMalloc") ||
	    check(cudaMalloc(&dc, bytes), "cudaMalloc"))
		return 1;
	if (check(cudaMemcpy(da, a.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy") ||
	    check(cudaMemcpy(db, b.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy"))
		return 1;
	vadd<<<(n + 255) / 256, 256>>>(da, db, dc, n);
	if (check(cudaGetLastError(), "vadd launch") || check(cudaDeviceSynchronize(), "vadd"))
		return 1;
	if (check(cudaMemcpy(c.data(), dc, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy"))
		return 1;
	for (int i = 0; i < n; i++)
		if (c[i] != 3.0f) {
			std::fprintf(stderr, "vadd: c[%d] = %f, want 3\n", i, c[i]);
			return 1;
		}
	cudaFree(da);
	cudaFree(db);
	cudaFree(dc);
	std::printf("vadd: ok, %d elements on %d device(s)\n", n, devices);
	return 0;
}
