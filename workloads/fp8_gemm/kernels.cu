/* kernels.cu — fp8_gemm's one kernel: the row-scaling epilogue, used where cuBLASLt cannot
 * apply outer-vector scales itself. Versions: scale_outer_kernel1 (one thread per element,
 * grid-stride, BF16 round-to-nearest-even by __float2bfloat16_rn). */
#include "fp8_gemm_cuda.h"
#include "ab_cuda.h"

#include <cuda_bf16.h>

__global__ void scale_outer_kernel1(const float *d, const float *sa, const float *sb, __nv_bfloat16 *out,
                                    int64_t M, int64_t N)
{
    int64_t total = M * N;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e % M, j = e / M;
        out[e] = __float2bfloat16_rn(d[e] * sa[i] * sb[j]);
    }
}

extern "C" ab_status fp8g_cuda_scale_outer(const float *d, const float *sa, const float *sb, uint16_t *out,
                                           int64_t M, int64_t N, void *stream, struct ab_error *err)
{
    int64_t total = M * N;
    int64_t blocks = (total + 255) / 256;
    if (blocks > 65536)
        blocks = 65536;
    scale_outer_kernel1<<<(unsigned)blocks, 256, 0, (cudaStream_t)stream>>>(d, sa, sb, (__nv_bfloat16 *)out,
                                                                            M, N);
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}
