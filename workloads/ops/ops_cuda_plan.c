/* ops_cuda_plan.c — host-side planning of the CUDA ops (see ops_cuda.h): how row-major shapes
 * map onto column-major cuBLASLt, which attention kernel runs with which launch shape, when a
 * forward is worth a CUDA graph, which dtype a matmul's bias takes. Plain C, built everywhere,
 * so it is tested without a GPU. */
#include "ops_cuda.h"

void ops_cuda_mm_plan(int M, int N, int K, struct ops_cuda_mm_layout *o)
{
    *o = (struct ops_cuda_mm_layout){ .m = N,
                                      .n = M,
                                      .k = K,
                                      .trans_a = true,
                                      .trans_b = false,
                                      .lda = K,
                                      .ldb = K,
                                      .ldc = N,
                                      .a_rows = K,
                                      .a_cols = N,
                                      .b_rows = K,
                                      .b_cols = M };
}

enum { TC_ROWS = 64, WARP_QUERIES = 4 }; /* queries per block: tensor-core kernel, warp kernel */

ab_status ops_cuda_attn_plan(int B, int NH, int T, int HS, enum ab_dtype dt, struct ops_cuda_attn_plan *out,
                             struct ab_error *err)
{
    if (B <= 0 || NH <= 0 || T <= 0 || HS <= 0 || HS % 16 || HS > 256)
        return ab_fail(err, AB_EINVAL,
                       "attention: bad shape B=%d NH=%d T=%d HS=%d (HS a multiple of 16, at most 256)", B, NH,
                       T, HS);
    if (dt != AB_DTYPE_FP32 && dt != AB_DTYPE_BF16 && dt != AB_DTYPE_FP16)
        return ab_fail(err, AB_EINVAL, "attention: unknown dtype %d", (int)dt);
    bool tc = dt != AB_DTYPE_FP32 && (HS == 64 || HS == 128);
    if (tc) {
        /* K and V tiles of 64 keys with 8 elements of padding per row, 16-bit */
        *out = (struct ops_cuda_attn_plan){ .kind = OPS_CUDA_ATTN_TC,
                                            .grid_x = (T + TC_ROWS - 1) / TC_ROWS,
                                            .grid_y = NH,
                                            .grid_z = B,
                                            .block = 128,
                                            .smem_bytes = 2 * (size_t)64 * (HS + 8) * 2 };
    } else {
        *out = (struct ops_cuda_attn_plan){ .kind = OPS_CUDA_ATTN_WARP,
                                            .grid_x = (T + WARP_QUERIES - 1) / WARP_QUERIES,
                                            .grid_y = NH,
                                            .grid_z = B,
                                            .block = 32 * WARP_QUERIES,
                                            .smem_bytes = 0 };
    }
    return AB_OK;
}

bool ops_cuda_use_graph(double flops_per_forward)
{
    return flops_per_forward < OPS_CUDA_GRAPH_MAX_FLOPS;
}

enum ab_dtype ops_cuda_bias_dtype(enum ab_dtype out_dt)
{
    return out_dt;
}
