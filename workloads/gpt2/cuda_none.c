/* cuda_none.c — gpt2 has no CUDA implementation in this build: its CUDA rows are skipped. */
#include "gpt2.h"

const struct ab_impl gpt2_cuda_impl = { 0 };
