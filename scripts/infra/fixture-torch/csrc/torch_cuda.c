/* libtorch_cuda.so of the tests' own torch: links the CUDA libraries of NVIDIA's wheels
 * (found through the RPATH the build gives it, as real torch's) and calls one function of
 * each, none of which needs a GPU or a driver. */
#include <stdio.h>
#include <string.h>

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <cufft.h>
#include <cupti_version.h>
#include <curand.h>
#include <cusolver_common.h>
#define DISABLE_CUSPARSE_DEPRECATED /* cusparse.h: no warnings for its own old types */
#include <cusparse.h>
#include <nccl.h>
#include <nvJitLink.h>
#include <nvrtc.h>

#include "torch_cuda.h"

static int property3(int (*get)(libraryPropertyType, int *), int out[3])
{
	return get(MAJOR_VERSION, &out[0]) || get(MINOR_VERSION, &out[1]) || get(PATCH_LEVEL, &out[2]);
}

static int cublas_prop(libraryPropertyType t, int *v) { return cublasGetProperty(t, v) != CUBLAS_STATUS_SUCCESS; }
static int cusolver_prop(libraryPropertyType t, int *v) { return cusolverGetProperty(t, v) != CUSOLVER_STATUS_SUCCESS; }
static int cusparse_prop(libraryPropertyType t, int *v) { return cusparseGetProperty(t, v) != CUSPARSE_STATUS_SUCCESS; }

int torch_cuda_query(struct torch_cuda_info *out)
{
	int bad = 0;
	cudaError_t e;

	memset(out, 0, sizeof(*out));
	bad |= cudaRuntimeGetVersion(&out->cudart) != cudaSuccess;
	e = cudaGetDeviceCount(&out->device_count);
	if (e != cudaSuccess)
		out->device_count = 0;
	snprintf(out->device_error, sizeof(out->device_error), "%s", cudaGetErrorName(e));
	bad |= property3(cublas_prop, out->cublas);
	out->cudnn = cudnnGetVersion();
	bad |= ncclGetVersion(&out->nccl) != ncclSuccess;
	bad |= nvrtcVersion(&out->nvrtc[0], &out->nvrtc[1]) != NVRTC_SUCCESS;
	bad |= nvJitLinkVersion(&out->nvjitlink[0], &out->nvjitlink[1]) != NVJITLINK_SUCCESS;
	bad |= cufftGetVersion(&out->cufft) != CUFFT_SUCCESS;
	bad |= curandGetVersion(&out->curand) != CURAND_STATUS_SUCCESS;
	bad |= property3(cusolver_prop, out->cusolver);
	bad |= property3(cusparse_prop, out->cusparse);
	bad |= cuptiGetVersion(&out->cupti) != CUPTI_SUCCESS;
	return bad ? -1 : 0;
}
