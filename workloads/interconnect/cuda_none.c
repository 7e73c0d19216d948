/* cuda_none.c — interconnect in a build without CUDA: no CUDA implementation. */
#include "interconnect.h"

const struct ab_impl interconnect_cuda_impl = { 0 };
