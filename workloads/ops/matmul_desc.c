/* matmul_desc.c — the rules of ops_mm_desc that every backend's builder shares (see ops.h):
 * shapes, leading dimensions, which epilogues combine, which types take scales. Library rules
 * (cuBLASLt's FP8 alignment, its outer-vector scales) are in ops_cuda_plan.c. */
#include "ops.h"

static bool is_fp8(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP8_E4M3 || dt == AB_DTYPE_FP8_E5M2;
}

int64_t ops_mm_lda(const struct ops_mm_desc *d)
{
    return d->lda ? d->lda : d->trans_a ? d->m : d->k;
}

int64_t ops_mm_ldb(const struct ops_mm_desc *d)
{
    return d->ldb ? d->ldb : d->trans_b ? d->k : d->n;
}

int64_t ops_mm_ldd(const struct ops_mm_desc *d)
{
    return d->ldd ? d->ldd : d->n;
}

ab_status ops_mm_desc_check(const struct ops_mm_desc *d, struct ab_error *err)
{
    if (d->m <= 0 || d->n <= 0 || d->k <= 0)
        return ab_fail(err, AB_EINVAL, "matmul: bad shape M=%d N=%d K=%d", d->m, d->n, d->k);
    if (ops_mm_lda(d) < (d->trans_a ? d->m : d->k) || ops_mm_ldb(d) < (d->trans_b ? d->k : d->n) ||
        ops_mm_ldd(d) < d->n)
        return ab_fail(err, AB_EINVAL, "matmul: leading dimensions %lld, %lld, %lld below the rows' lengths",
                       (long long)ops_mm_lda(d), (long long)ops_mm_ldb(d), (long long)ops_mm_ldd(d));
    if (d->epilogue & OPS_MM_OUT_F32)
        return ab_fail(err, AB_EINVAL, "matmul: OPS_MM_OUT_F32 is d_dt fp32 in a descriptor");
    if ((d->epilogue & OPS_MM_ACCUM) && (d->epilogue & (OPS_MM_GELU | OPS_MM_RESIDUAL)))
        return ab_fail(err, AB_EINVAL, "matmul: accumulation takes neither GELU nor a residual");
    bool fa = is_fp8(d->a_dt), fb = is_fp8(d->b_dt);
    if (fa != fb)
        return ab_fail(err, AB_EINVAL, "matmul: FP8 needs both operands FP8, not %s x %s",
                       ab_dtype_name(d->a_dt), ab_dtype_name(d->b_dt));
    if (!fa && d->a_dt != d->b_dt)
        return ab_fail(err, AB_EINVAL, "matmul: operands %s x %s differ", ab_dtype_name(d->a_dt),
                       ab_dtype_name(d->b_dt));
    if (is_fp8(d->d_dt))
        return ab_fail(err, AB_EINVAL, "matmul: no FP8 output");
    if (!fa && d->fast_accum)
        return ab_fail(err, AB_EINVAL, "matmul: fast accumulation is for FP8 only");
    if (d->tf32 && d->a_dt != AB_DTYPE_FP32)
        return ab_fail(err, AB_EINVAL, "matmul: tf32 is for fp32 operands");
    if (d->scale != OPS_MM_SCALE_NONE && d->epilogue)
        return ab_fail(err, AB_EINVAL, "matmul: scales take no epilogue");
    return AB_OK;
}
