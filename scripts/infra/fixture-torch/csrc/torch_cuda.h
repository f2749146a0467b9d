/* The tests' own torch: what libtorch_cuda.so reports about the CUDA libraries it links. */
#ifndef TORCH_FIXTURE_CUDA_H
#define TORCH_FIXTURE_CUDA_H

#include <stddef.h>

struct torch_cuda_info {
	int cudart;             /* cudaRuntimeGetVersion: 13000 for 13.0 */
	int device_count;       /* cudaGetDeviceCount, 0 when it failed */
	char device_error[96];  /* cudaGetErrorName of that call, "cudaSuccess" when none */
	int cublas[3];          /* cublasGetProperty MAJOR, MINOR, PATCH */
	size_t cudnn;           /* cudnnGetVersion: 91900 for 9.19.0 */
	int nccl;               /* ncclGetVersion: 22809 for 2.28.9 */
	int nvrtc[2];           /* nvrtcVersion */
	unsigned nvjitlink[2];  /* nvJitLinkVersion */
	int cufft, curand;      /* cufftGetVersion, curandGetVersion */
	int cusolver[3];        /* cusolverGetProperty MAJOR, MINOR, PATCH */
	int cusparse[3];        /* cusparseGetProperty MAJOR, MINOR, PATCH */
	unsigned cupti;         /* cuptiGetVersion (the CUPTI API version) */
};

/* Calls one function of each library; returns 0, or -1 when one of them failed. */
int torch_cuda_query(struct torch_cuda_info *out);

#endif
