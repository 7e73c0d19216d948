/* plan.c — the CUDA path's layout, alignment and scale decisions (see plan.h); no CUDA here. */
#include "plan.h"

#include <string.h>

const char *fp8g_row_method_name(enum fp8g_row_method r)
{
    return r == FP8G_ROW_OUTER_VEC ? "outer_vec" : r == FP8G_ROW_EPILOGUE ? "epilogue" : "none";
}

ab_status fp8g_plan_make(const struct fp8g_config *g, int cc_major, int cc_minor, int cublas_version,
                         struct fp8g_plan *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    out->M = g->n;
    out->N = g->m;
    out->K = g->k;
    out->lda = out->ldb = g->k;
    out->ldd = g->n;
    int cc = cc_major * 10 + cc_minor;
    switch (g->dtype) {
    case FP8G_E4M3:
    case FP8G_E5M2:
        if (cc < 89)
            return ab_fail(err, AB_EUNSUPPORTED,
                           "FP8 matmul needs compute capability 8.9 or newer, not %d.%d", cc_major, cc_minor);
        /* FP8 operands: 1-byte elements whose leading dimensions must be multiples of 16. */
        if (g->k % 16 != 0 || g->n % 16 != 0)
            return ab_fail(
                err, AB_EUNSUPPORTED,
                "cuBLASLt FP8 needs k and n multiples of 16 (16-byte aligned rows), not k=%lld n=%lld",
                (long long)g->k, (long long)g->n);
        out->a_store = fp8g_format_b(g->dtype) == FP8_E5M2 ? FP8G_STORE_E5M2 : FP8G_STORE_E4M3;
        out->b_store = FP8G_STORE_E4M3;
        out->d_bytes = 2;
        if (g->scaling == FP8G_SCALE_ROW) {
            /* Outer-vector scales arrived in cuBLAS 12.9 for Hopper and newer. */
            out->row = cublas_version >= 120900 && cc >= 90 ? FP8G_ROW_OUTER_VEC : FP8G_ROW_EPILOGUE;
            out->a_scales = out->M;
            out->b_scales = out->N;
            out->d_fp32_then_scale = out->row == FP8G_ROW_EPILOGUE;
        } else {
            out->a_scales = out->b_scales = 1;
        }
        if (g->fast_accum && g->scaling == FP8G_SCALE_NONE)
            return ab_fail(err, AB_EINVAL, "accum=fast needs FP8");
        return AB_OK;
    case FP8G_BF16:
    case FP8G_FP16:
        if (g->dtype == FP8G_BF16 && cc < 80)
            return ab_fail(err, AB_EUNSUPPORTED, "BF16 matmul needs compute capability 8.0 or newer");
        out->a_store = out->b_store = g->dtype == FP8G_BF16 ? FP8G_STORE_BF16 : FP8G_STORE_F16;
        out->d_bytes = 2;
        break;
    default:
        if (g->dtype == FP8G_TF32 && cc < 80)
            return ab_fail(err, AB_EUNSUPPORTED, "TF32 needs compute capability 8.0 or newer");
        out->a_store = out->b_store = FP8G_STORE_F32;
        out->d_bytes = 4;
        break;
    }
    if (g->scaling != FP8G_SCALE_NONE || g->fast_accum)
        return ab_fail(err, AB_EINVAL, "scaling and fast accumulation are for FP8 only");
    return AB_OK;
}
