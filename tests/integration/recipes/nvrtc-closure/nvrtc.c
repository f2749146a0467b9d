/* Compiles a kernel to PTX with NVRTC, no GPU needed: libnvrtc dlopen()s
 * libnvrtc-builtins at the first compile, so a closure without it fails
 * here at run time, where ELF's DT_NEEDED shows nothing. */
#include <nvrtc.h>
#include <stdio.h>

int main(void)
{
	const char *src = "extern \"C\" __global__ void k(float *x) { x[threadIdx.x] *= 2.0f; }";
	nvrtcProgram prog;
	nvrtcResult r;
	size_t ptx = 0;

	if ((r = nvrtcCreateProgram(&prog, src, "k.cu", 0, NULL, NULL)) != NVRTC_SUCCESS ||
	    (r = nvrtcCompileProgram(prog, 0, NULL)) != NVRTC_SUCCESS ||
	    (r = nvrtcGetPTXSize(prog, &ptx)) != NVRTC_SUCCESS) {
		printf("nvrtc: %s\n", nvrtcGetErrorString(r));
		return 1;
	}
	printf("nvrtc: ok, %zu bytes of PTX\n", ptx);
	nvrtcDestroyProgram(&prog);
	return 0;
}
