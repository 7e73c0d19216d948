/* cuda_none.c — fp8_gemm where the build has no CUDA: no implementation (skipped rows). */
#include "accelbench.h"

const struct ab_impl fp8_gemm_cuda_impl = { 0 };
