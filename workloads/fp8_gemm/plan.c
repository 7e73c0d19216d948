/* plan.c — the CUDA path's layout, alignment and scale decisions (see plan.h); no CUDA here. */
#include "plan.h"

#include "ops_cuda.h"

#include <string.h>

const char *fp8g_row_method_name(enum fp8g_row_method r)
{
    return r == FP8G_ROW_OUTER_VEC ? "outer_vec" : r == FP8G_ROW_EPILOGUE ? "epilogue" : "none";
}

static enum ops_mm_scale_method scale_request(enum fp8g_row_request req)
{
    return req == FP8G_ROW_KERNEL     ? OPS_MM_SCALE_KERNEL
           : req == FP8G_ROW_CUBLASLT ? OPS_MM_SCALE_LIBRARY
                                      : OPS_MM_SCALE_AUTO;
}

static enum ops_mm_scale_method scale_method(enum fp8g_row_method r)
{
    return r == FP8G_ROW_OUTER_VEC  ? OPS_MM_SCALE_LIBRARY
           : r == FP8G_ROW_EPILOGUE ? OPS_MM_SCALE_KERNEL
                                    : OPS_MM_SCALE_AUTO;
}

ab_status fp8g_row_method_choose(enum fp8g_row_request req, int cc_major, int cc_minor, int cublas_version,
                                 enum fp8g_row_method *out, struct ab_error *err)
{
    enum ops_mm_scale_method m;
    ab_status st = ops_cuda_mm_scale_choose(scale_request(req), cc_major, cc_minor, cublas_version, &m, err);
    *out = m == OPS_MM_SCALE_LIBRARY ? FP8G_ROW_OUTER_VEC : FP8G_ROW_EPILOGUE;
    return st;
}

bool fp8g_row_falls_back(enum fp8g_row_request req, enum fp8g_row_method planned, ab_status st)
{
    return ops_cuda_mm_scale_falls_back(scale_request(req), scale_method(planned), st);
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
    bool fp8 = fp8g_is_fp8(g->dtype), row = fp8 && g->scaling == FP8G_SCALE_ROW;
    if (!fp8 && (g->scaling != FP8G_SCALE_NONE || g->fast_accum))
        return ab_fail(err, AB_EINVAL, "scaling and fast accumulation are for FP8 only");
    if (fp8) {
        out->a_store = fp8g_format_b(g->dtype);
        out->b_store = AB_DTYPE_FP8_E4M3;
    } else {
        out->a_store = out->b_store = g->dtype == AB_DTYPE_BF16   ? AB_DTYPE_BF16
                                      : g->dtype == AB_DTYPE_FP16 ? AB_DTYPE_FP16
                                                                  : AB_DTYPE_FP32;
    }
    /* C (m,n) = X (m,k) . W (n,k)^T: our A the tokens X, our B the weights W (cuBLAS's A). */
    out->desc = (struct ops_mm_desc){
        .m = (int)g->m,
        .n = (int)g->n,
        .k = (int)g->k,
        .a_dt = out->b_store,
        .b_dt = out->a_store,
        .d_dt = fp8 || g->dtype == AB_DTYPE_BF16 ? AB_DTYPE_BF16
                : g->dtype == AB_DTYPE_FP16      ? AB_DTYPE_FP16
                                                 : AB_DTYPE_FP32,
        .trans_b = true,
        .scale = !fp8  ? OPS_MM_SCALE_NONE
                 : row ? OPS_MM_SCALE_OUTER
                       : OPS_MM_SCALE_TENSOR,
        .scale_method = scale_request(g->row_request),
        .tf32 = g->dtype == AB_DTYPE_TF32,
        .fast_accum = g->fast_accum,
        .workspace_bytes = cc_major >= 9 ? (size_t)32 << 20 : (size_t)4 << 20,
    };
    struct ops_cuda_mm_layout L;
    ab_status st = ops_cuda_mm_layout_make(&out->desc, cc_major, cc_minor, cublas_version, &L, err);
    if (st)
        return st;
    out->M = L.m;
    out->N = L.n;
    out->K = L.k;
    out->lda = L.lda;
    out->ldb = L.ldb;
    out->ldd = L.ldc;
    out->d_bytes = (int)ab_dtype_size(L.d_dt);
    if (fp8) {
        out->a_scales = row ? out->M : 1;
        out->b_scales = row ? out->N : 1;
        out->row = !row                                     ? FP8G_ROW_NONE
                   : L.scale_method == OPS_MM_SCALE_LIBRARY ? FP8G_ROW_OUTER_VEC
                                                            : FP8G_ROW_EPILOGUE;
        out->d_fp32_then_scale = L.d_fp32_then_scale;
    }
    return AB_OK;
}
