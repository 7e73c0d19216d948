/* plan.c — the CUDA path's layout, alignment and scale decisions (see plan.h); no CUDA here. */
#include "plan.h"

#include <string.h>

const char *fp8g_row_method_name(enum fp8g_row_method r)
{
    return r == FP8G_ROW_OUTER_VEC ? "outer_vec" : r == FP8G_ROW_EPILOGUE ? "epilogue" : "none";
}

ab_status fp8g_row_method_choose(enum fp8g_row_request req, int cc_major, int cc_minor, int cublas_version,
                                 enum fp8g_row_method *out, struct ab_error *err)
{
    bool outer_vec = cc_major == 9 && cublas_version >= 120900;
    if (req == FP8G_ROW_KERNEL || (req == FP8G_ROW_AUTO && !outer_vec)) {
        *out = FP8G_ROW_EPILOGUE;
        return AB_OK;
    }
    *out = FP8G_ROW_OUTER_VEC;
    if (!outer_vec)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "row_scale=cublaslt: cuBLASLt outer-vector scales need SM90 (cc 9.x) and cuBLASLt "
                       "12.9+, not cc %d.%d with cuBLASLt %d",
                       cc_major, cc_minor, cublas_version);
    return AB_OK;
}

bool fp8g_row_falls_back(enum fp8g_row_request req, enum fp8g_row_method planned, ab_status st)
{
    return req == FP8G_ROW_AUTO && planned == FP8G_ROW_OUTER_VEC && st == AB_EUNSUPPORTED;
}

int64_t fp8g_rotation_sets(uint64_t set_bytes, uint64_t l2_bytes, uint64_t budget_bytes)
{
    uint64_t l2 = l2_bytes ? l2_bytes : FP8G_L2_FALLBACK_BYTES;
    uint64_t want_bytes = 2 * l2 + l2 / 4;
    if (set_bytes == 0)
        return 1;
    uint64_t sets = (want_bytes + set_bytes - 1) / set_bytes;
    if (sets < 2)
        sets = 2;
    uint64_t fit = budget_bytes / set_bytes;
    if (sets > fit)
        sets = fit;
    return sets < 1 ? 1 : (int64_t)sets;
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
        out->a_store = fp8g_format_b(g->dtype) == AB_DTYPE_FP8_E5M2 ? FP8G_STORE_E5M2 : FP8G_STORE_E4M3;
        out->b_store = FP8G_STORE_E4M3;
        out->d_bytes = 2;
        if (g->scaling == FP8G_SCALE_ROW) {
            ab_status st =
                fp8g_row_method_choose(g->row_request, cc_major, cc_minor, cublas_version, &out->row, err);
            if (st)
                return st;
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
