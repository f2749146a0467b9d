/* torch._C of the tests' own torch: a real CPython extension module. Its CPU part sums and
 * multiplies float64 buffers; the +cu130 build (TORCH_WITH_CUDA) also links
 * torch/lib/libtorch_cuda.so, which links NVIDIA's CUDA libraries. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifdef TORCH_WITH_CUDA
#include "torch_cuda.h"
#endif

/* A contiguous buffer of doubles from a bytes-like object (array('d'), bytes). */
static int get_doubles(PyObject *obj, Py_buffer *view, Py_ssize_t *n)
{
	if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0)
		return -1;
	if (view->len % (Py_ssize_t)sizeof(double)) {
		PyBuffer_Release(view);
		PyErr_SetString(PyExc_ValueError, "buffer length is not a multiple of 8 (float64)");
		return -1;
	}
	*n = view->len / (Py_ssize_t)sizeof(double);
	return 0;
}

static PyObject *c_sum(PyObject *self, PyObject *arg)
{
	Py_buffer v;
	Py_ssize_t n, i;
	double s = 0;
	(void)self;
	if (get_doubles(arg, &v, &n) < 0)
		return NULL;
	for (i = 0; i < n; i++)
		s += ((const double *)v.buf)[i];
	PyBuffer_Release(&v);
	return PyFloat_FromDouble(s);
}

/* _mm(a, b, n, k, m): the (n x m) product of a (n x k) and b (k x m), row-major, as bytes. */
static PyObject *c_mm(PyObject *self, PyObject *args)
{
	PyObject *ao, *bo, *res = NULL;
	Py_buffer a, b;
	Py_ssize_t n, k, m, na, nb, i, j, l;
	double *c;
	(void)self;
	if (!PyArg_ParseTuple(args, "OOnnn", &ao, &bo, &n, &k, &m))
		return NULL;
	if (n < 0 || k < 0 || m < 0) {
		PyErr_SetString(PyExc_ValueError, "negative dimension");
		return NULL;
	}
	if (get_doubles(ao, &a, &na) < 0)
		return NULL;
	if (get_doubles(bo, &b, &nb) < 0) {
		PyBuffer_Release(&a);
		return NULL;
	}
	if (na != n * k || nb != k * m) {
		PyErr_Format(PyExc_ValueError, "shapes (%zd x %zd) and (%zd x %zd) do not match buffers of %zd and %zd",
			     n, k, k, m, na, nb);
		goto done;
	}
	res = PyBytes_FromStringAndSize(NULL, n * m * (Py_ssize_t)sizeof(double));
	if (!res)
		goto done;
	c = (double *)PyBytes_AS_STRING(res);
	for (i = 0; i < n; i++)
		for (j = 0; j < m; j++) {
			double s = 0;
			for (l = 0; l < k; l++)
				s += ((const double *)a.buf)[i * k + l] * ((const double *)b.buf)[l * m + j];
			c[i * m + j] = s;
		}
done:
	PyBuffer_Release(&a);
	PyBuffer_Release(&b);
	return res;
}

#ifdef TORCH_WITH_CUDA
static PyObject *triple(const int v[3])
{
	return PyUnicode_FromFormat("%d.%d.%d", v[0], v[1], v[2]);
}

/* _cuda_info(): what each linked CUDA library reports, as a dict. */
static PyObject *c_cuda_info(PyObject *self, PyObject *unused)
{
	struct torch_cuda_info in;
	int rc;
	(void)self;
	(void)unused;
	rc = torch_cuda_query(&in);
	return Py_BuildValue(
		"{s:i,s:i,s:s,s:N,s:n,s:i,s:N,s:N,s:i,s:i,s:N,s:N,s:I,s:O}", "cudart", in.cudart, "device_count",
		in.device_count, "device_error", in.device_error, "cublas", triple(in.cublas), "cudnn",
		(Py_ssize_t)in.cudnn, "nccl", in.nccl, "nvrtc", PyUnicode_FromFormat("%d.%d", in.nvrtc[0], in.nvrtc[1]),
		"nvjitlink", PyUnicode_FromFormat("%u.%u", in.nvjitlink[0], in.nvjitlink[1]), "cufft", in.cufft,
		"curand", in.curand, "cusolver", triple(in.cusolver), "cusparse", triple(in.cusparse), "cupti",
		in.cupti, "ok", rc == 0 ? Py_True : Py_False);
}
#endif

static PyMethodDef methods[] = {
	{"_sum", c_sum, METH_O, "Sum of a float64 buffer."},
	{"_mm", c_mm, METH_VARARGS, "_mm(a, b, n, k, m): row-major (n x k) @ (k x m) of float64 buffers, as bytes."},
#ifdef TORCH_WITH_CUDA
	{"_cuda_info", c_cuda_info, METH_NOARGS, "Versions reported by the linked CUDA libraries."},
#endif
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "torch._C", "The compiled part of the tests' own torch.", -1, methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__C(void)
{
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
#ifdef TORCH_WITH_CUDA
	if (PyModule_AddIntConstant(m, "_has_cuda", 1) < 0)
		goto fail;
#else
	if (PyModule_AddIntConstant(m, "_has_cuda", 0) < 0)
		goto fail;
#endif
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
