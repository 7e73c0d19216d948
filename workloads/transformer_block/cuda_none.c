/* cuda_none.c — transformer_block in a build without CUDA: no CUDA implementation. */
#include "transformer_block.h"

const struct ab_impl transformer_block_cuda_impl = { 0 };
