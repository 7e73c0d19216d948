/* cuda_none.c — attention_memory in a build without CUDA: no CUDA implementation. */
#include "attention_memory.h"

const struct ab_impl attention_memory_cuda_impl = { 0 };
