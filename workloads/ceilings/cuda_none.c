/* cuda_none.c — ceilings in a build without CUDA: no CUDA implementation. */
#include "ceilings.h"

const struct ab_impl ceilings_cuda_impl = { 0 };
