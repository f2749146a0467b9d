/* libtorch_global_deps.so of the tests' own torch. As in real torch, it has no code of its
 * own: torch/__init__.py loads it with RTLD_GLOBAL so that the libraries it NEEDs (the CUDA
 * libraries, in the +cu130 build) are loaded, through its RPATH, before torch._C. */
int torch_global_deps_marker;
