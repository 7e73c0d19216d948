/* ops_cuda_plan.c — host-side planning of the CUDA ops (see ops_cuda.h): how a row-major matmul
 * descriptor maps onto column-major cuBLASLt and what cuBLASLt refuses of it (FP8's architecture,
 * layout and alignment, outer-vector scales), which attention kernel runs with which launch
 * shape (fused: grid; decode: the keys' splits for the device's SMs, the partial results'
 * bytes; over gpt2's KV cache: the strides of its layout, the span of queries among the keys,
 * fused or decode) and what each refuses, when a forward is worth a CUDA graph, which dtype a
 * matmul's bias takes, the strides of a fused QKV buffer. Plain C, built everywhere, so it is
 * tested without a GPU. */
#include "ops_cuda.h"

static bool is_fp8(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP8_E4M3 || dt == AB_DTYPE_FP8_E5M2;
}

void ops_cuda_mm_plan(int M, int N, int K, struct ops_cuda_mm_layout *o)
{
    struct ops_mm_desc d = { .m = M,
                             .n = N,
                             .k = K,
                             .a_dt = AB_DTYPE_FP32,
                             .b_dt = AB_DTYPE_FP32,
                             .d_dt = AB_DTYPE_FP32,
                             .trans_b = true };
    *o = (struct ops_cuda_mm_layout){ 0 };
    ops_cuda_mm_layout_make(&d, 9, 0, 0, o, NULL);
}

ab_status ops_cuda_mm_scale_choose(enum ops_mm_scale_method req, int cc_major, int cc_minor,
                                   int cublas_version, enum ops_mm_scale_method *out, struct ab_error *err)
{
    bool outer_vec = cc_major == 9 && cublas_version >= 120900;
    if (req == OPS_MM_SCALE_KERNEL || (req == OPS_MM_SCALE_AUTO && !outer_vec)) {
        *out = OPS_MM_SCALE_KERNEL;
        return AB_OK;
    }
    *out = OPS_MM_SCALE_LIBRARY;
    if (!outer_vec)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "row_scale=cublaslt: cuBLASLt outer-vector scales need SM90 (cc 9.x) and cuBLASLt "
                       "12.9+, not cc %d.%d with cuBLASLt %d",
                       cc_major, cc_minor, cublas_version);
    return AB_OK;
}

bool ops_cuda_mm_scale_falls_back(enum ops_mm_scale_method req, enum ops_mm_scale_method planned,
                                  ab_status st)
{
    return req == OPS_MM_SCALE_AUTO && planned == OPS_MM_SCALE_LIBRARY && st == AB_EUNSUPPORTED;
}

ab_status ops_cuda_mm_layout_make(const struct ops_mm_desc *d, int cc_major, int cc_minor, int cublas_version,
                                  struct ops_cuda_mm_layout *o, struct ab_error *err)
{
    ab_status st = ops_mm_desc_check(d, err);
    if (st)
        return st;
    if (d->packed_b)
        return ab_fail(err, AB_EINVAL, "matmul: packed_b is the CPU's (cuBLASLt reads B in place)");
    int64_t lda = ops_mm_lda(d), ldb = ops_mm_ldb(d), ldd = ops_mm_ldd(d);
    *o = (struct ops_cuda_mm_layout){ .m = d->n,
                                      .n = d->m,
                                      .k = d->k,
                                      .trans_a = d->trans_b,
                                      .trans_b = d->trans_a,
                                      .lda = ldb,
                                      .ldb = lda,
                                      .ldc = ldd,
                                      .a_rows = d->trans_b ? d->k : d->n,
                                      .a_cols = d->trans_b ? d->n : d->k,
                                      .b_rows = d->trans_a ? d->m : d->k,
                                      .b_cols = d->trans_a ? d->k : d->m,
                                      .a_dt = d->b_dt,
                                      .b_dt = d->a_dt,
                                      .d_dt = d->d_dt,
                                      .tf32 = d->tf32,
                                      .fast_accum = d->fast_accum,
                                      .workspace_bytes =
                                          d->workspace_bytes ? d->workspace_bytes : (size_t)32 << 20 };
    int cc = cc_major * 10 + cc_minor;
    if (is_fp8(d->a_dt)) {
        if (cc < 89)
            return ab_fail(err, AB_EUNSUPPORTED,
                           "FP8 matmul needs compute capability 8.9 or newer, not %d.%d", cc_major, cc_minor);
        if (d->trans_a || !d->trans_b)
            return ab_fail(err, AB_EUNSUPPORTED, "cuBLASLt FP8 needs the TN layout (B stored (n,k))");
        /* FP8 operands: 1-byte elements whose leading dimensions must be multiples of 16. */
        if (d->k % 16 != 0 || d->n % 16 != 0 || lda % 16 != 0 || ldb % 16 != 0)
            return ab_fail(
                err, AB_EUNSUPPORTED,
                "cuBLASLt FP8 needs k and n multiples of 16 (16-byte aligned rows), not k=%lld n=%lld",
                (long long)d->k, (long long)d->n);
    } else if (d->a_dt == AB_DTYPE_BF16 && cc < 80) {
        return ab_fail(err, AB_EUNSUPPORTED, "BF16 matmul needs compute capability 8.0 or newer");
    } else if (d->tf32 && cc < 80) {
        return ab_fail(err, AB_EUNSUPPORTED, "TF32 needs compute capability 8.0 or newer");
    }
    if (d->scale == OPS_MM_SCALE_OUTER) {
        if ((st = ops_cuda_mm_scale_choose(d->scale_method, cc_major, cc_minor, cublas_version,
                                           &o->scale_method, err)))
            return st;
        o->d_fp32_then_scale = o->scale_method == OPS_MM_SCALE_KERNEL;
        if (o->d_fp32_then_scale && (d->d_dt != AB_DTYPE_BF16 || ldd != d->n))
            return ab_fail(err, AB_EUNSUPPORTED, "matmul: the scaling kernel writes a packed bf16 D");
    } else if (d->scale == OPS_MM_SCALE_TENSOR) {
        o->scale_method = OPS_MM_SCALE_LIBRARY;
    }
    return AB_OK;
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

ab_status ops_cuda_attn_plan_grouped(int B, int NH, int T, int HS, int group, enum ab_dtype dt,
                                     enum ab_dtype out_dt, struct ops_cuda_attn_plan *out,
                                     struct ab_error *err)
{
    ab_status st = ops_cuda_attn_plan(B, NH, T, HS, dt, out, err);
    if (st)
        return st;
    if (group < 1 || NH % group)
        return ab_fail(err, AB_EINVAL, "attention: %d query heads are not groups of %d", NH, group);
    if (out_dt != dt && out_dt != AB_DTYPE_FP32)
        return ab_fail(err, AB_EINVAL, "attention: %s output for %s inputs (the inputs' dtype or fp32)",
                       ab_dtype_name(out_dt), ab_dtype_name(dt));
    return AB_OK;
}

void ops_cuda_attn_qkv_strides(int T, int C, int HS, struct ops_cuda_attn_strides *in,
                               struct ops_cuda_attn_strides *out)
{
    *in = (struct ops_cuda_attn_strides){ .batch = (int64_t)T * 3 * C, .head = HS, .row = 3 * (int64_t)C };
    *out = (struct ops_cuda_attn_strides){ .batch = (int64_t)T * C, .head = HS, .row = C };
}

bool ops_cuda_use_graph(double flops_per_forward)
{
    return flops_per_forward < OPS_CUDA_GRAPH_MAX_FLOPS;
}

enum ab_dtype ops_cuda_bias_dtype(enum ab_dtype out_dt)
{
    return out_dt;
}

struct ops_cuda_attn_span ops_cuda_attn_self(int T)
{
    return (struct ops_cuda_attn_span){ .nq = T, .nk = T, .q_pos0 = 0, .d_pos = NULL };
}

ab_status ops_cuda_attn_span_check(struct ops_cuda_attn_span sp, struct ab_error *err)
{
    if (sp.nq < 1 || sp.nk < 1 || (!sp.d_pos && sp.q_pos0 < 0))
        return ab_fail(err, AB_EINVAL, "attention: bad span of %d queries at position %d over %d keys", sp.nq,
                       sp.q_pos0, sp.nk);
    return AB_OK;
}

void ops_cuda_decode_split(int64_t seqs, int64_t n, int sms, int *splits, int *span)
{
    /* ~4 blocks of 4 warps per SM keep enough cache reads in flight; below 32 keys a span (8
     * per warp) the block's fixed costs (the query, the warps' combine, its partial result)
     * outweigh its keys. */
    enum { BLOCKS_PER_SM = 4 };
    seqs = seqs < 1 ? 1 : seqs;
    n = n < 1 ? 1 : n;
    int64_t want = (BLOCKS_PER_SM * (int64_t)(sms > 0 ? sms : 1) + seqs - 1) / seqs;
    int64_t most = n / OPS_CUDA_DECODE_MIN_SPAN > 1 ? n / OPS_CUDA_DECODE_MIN_SPAN : 1;
    int64_t k = want < 1 ? 1 : want > most ? most : want;
    int64_t len = (n + k - 1) / k;
    *span = (int)len;
    *splits = (int)((n + len - 1) / len); /* spans of ceil(n / k) keys may cover n in fewer */
}

static bool known_dtype(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP32 || dt == AB_DTYPE_BF16 || dt == AB_DTYPE_FP16;
}

enum { CUDA_MAX_GRID_Y = 65535 };

ab_status ops_cuda_decode_plan(int B, int NH, int nk, int HS, int group, enum ab_dtype dt,
                               enum ab_dtype out_dt, struct ops_cuda_attn_strides qs,
                               struct ops_cuda_attn_strides kvs, int sms, struct ops_cuda_decode_plan *out,
                               struct ab_error *err)
{
    if (B <= 0 || NH <= 0 || nk <= 0 || HS <= 0)
        return ab_fail(err, AB_EINVAL, "decode attention: bad shape B=%d NH=%d keys=%d HS=%d", B, NH, nk, HS);
    if (!known_dtype(dt))
        return ab_fail(err, AB_EINVAL, "decode attention: unknown dtype %d", (int)dt);
    if (out_dt != dt && out_dt != AB_DTYPE_FP32)
        return ab_fail(err, AB_EINVAL,
                       "decode attention: %s output for %s inputs (the inputs' dtype or fp32)",
                       ab_dtype_name(out_dt), ab_dtype_name(dt));
    if (group < 1 || NH % group)
        return ab_fail(err, AB_EINVAL, "decode attention: %d query heads are not groups of %d", NH, group);
    if (HS != 32 && HS != 64 && HS != 128)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "decode attention: head size %d (the decode kernel takes 32, 64 or 128)", HS);
    if (group != 1 && group != 2 && group != 4 && group != 8)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "decode attention: groups of %d query heads (the decode kernel takes 1, 2, 4 or 8)",
                       group);
    int Hkv = NH / group, per = HS / 32;
    if ((int64_t)B * Hkv > CUDA_MAX_GRID_Y)
        return ab_fail(
            err, AB_EUNSUPPORTED,
            "decode attention: batch %d x heads %d (KV heads) is more than the decode kernel's grid "
            "takes (%d)",
            B, Hkv, CUDA_MAX_GRID_Y);
    if (qs.batch % per || qs.head % per || kvs.batch % per || kvs.head % per || kvs.row % per)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "decode attention: strides (q %lld, %lld; k, v %lld, %lld, %lld) not multiples of %d "
                       "elements (a lane's vector load)",
                       (long long)qs.batch, (long long)qs.head, (long long)kvs.batch, (long long)kvs.head,
                       (long long)kvs.row, per);
    int splits, span;
    ops_cuda_decode_split((int64_t)B * Hkv, nk, sms, &splits, &span);
    *out = (struct ops_cuda_decode_plan){
        .B = B,
        .NH = NH,
        .HS = HS,
        .group = group,
        .nk = nk,
        .dt = dt,
        .out_dt = out_dt,
        .per_lane = per,
        .splits = splits,
        .span = span,
        .grid_x = splits,
        .grid_y = B * Hkv,
        .block = 32 * OPS_CUDA_DECODE_WARPS,
        .merge_x = B * Hkv,
        .merge_y = group,
        /* per warp and query head: its max, its sum and HS accumulators */
        .smem_bytes = (size_t)OPS_CUDA_DECODE_WARPS * group * (HS + 2) * 4,
        .parts_bytes = (size_t)B * Hkv * splits * group * (HS + 2) * 4,
    };
    return AB_OK;
}

size_t ops_cuda_decode_parts_bound(int B, int NH, int nk, int HS)
{
    /* ops_cuda_decode_split makes at most max(1, nk / MIN_SPAN) splits, whatever the SMs */
    size_t splits = nk / OPS_CUDA_DECODE_MIN_SPAN > 1 ? (size_t)(nk / OPS_CUDA_DECODE_MIN_SPAN) : 1;
    return (size_t)B * (size_t)NH * splits * ((size_t)HS + 2) * 4;
}

ab_status ops_cuda_cache_attn_plan(int B, int NH, int HS, int max_Tq, int max_T, enum ab_dtype dt, int sms,
                                   struct ops_cuda_cache_plan *out, struct ab_error *err)
{
    if (B <= 0 || NH <= 0 || HS <= 0 || max_Tq <= 0 || max_T < max_Tq)
        return ab_fail(err, AB_EINVAL, "cache attention: bad shape B=%d NH=%d HS=%d max_Tq=%d max_T=%d", B,
                       NH, HS, max_Tq, max_T);
    if (!known_dtype(dt))
        return ab_fail(err, AB_EINVAL, "cache attention: unknown dtype %d", (int)dt);
    struct ops_cuda_attn_plan fused;
    if (ops_cuda_attn_plan(B, NH, max_Tq, HS, dt, &fused, NULL))
        return ab_fail(err, AB_EUNSUPPORTED,
                       "attention: head size %d (the fused kernels take multiples of 16 up to 256)", HS);
    int64_t C = (int64_t)NH * HS;
    *out = (struct ops_cuda_cache_plan){ .B = B,
                                         .NH = NH,
                                         .HS = HS,
                                         .max_Tq = max_Tq,
                                         .max_T = max_T,
                                         .dt = dt,
                                         .kv = { .batch = (int64_t)max_T * C, .head = HS, .row = C } };
    struct ops_cuda_attn_strides qs, os;
    ops_cuda_cache_attn_strides(out, 1, &qs, &os);
    /* elsewhere (head sizes, grid) one query takes the fused kernels too */
    out->decode =
        ops_cuda_decode_plan(B, NH, max_T, HS, 1, dt, dt, qs, out->kv, sms, &out->dec, NULL) == AB_OK;
    return AB_OK;
}

void ops_cuda_cache_attn_strides(const struct ops_cuda_cache_plan *p, int Tq, struct ops_cuda_attn_strides *q,
                                 struct ops_cuda_attn_strides *out)
{
    ops_cuda_attn_qkv_strides(Tq, p->NH * p->HS, p->HS, q, out);
}

ab_status ops_cuda_cache_attn_span(const struct ops_cuda_cache_plan *p, int Tq, int pos0, const int *d_pos,
                                   struct ops_cuda_attn_span *out, struct ab_error *err)
{
    if (Tq < 1 || Tq > p->max_Tq)
        return ab_fail(err, AB_EINVAL, "cache attention: %d queries (the plan takes 1 to %d)", Tq, p->max_Tq);
    if (!d_pos && (pos0 < 0 || pos0 + Tq > p->max_T))
        return ab_fail(err, AB_EINVAL, "cache attention: positions %d to %d outside the cache's %d", pos0,
                       pos0 + Tq - 1, p->max_T);
    *out = (struct ops_cuda_attn_span){
        .nq = Tq, .nk = d_pos ? p->max_T : pos0 + Tq, .q_pos0 = d_pos ? 0 : pos0, .d_pos = d_pos
    };
    return AB_OK;
}

ab_status ops_cuda_decode_check(const struct ops_cuda_decode_plan *p, struct ops_cuda_attn_span sp,
                                struct ab_error *err)
{
    if (sp.nq != 1)
        return ab_fail(err, AB_EINVAL, "decode attention: %d queries per head (the decode kernel takes one)",
                       sp.nq);
    if (sp.nk < 1 || sp.nk > p->nk)
        return ab_fail(err, AB_EINVAL, "decode attention: %d keys (the plan takes 1 to %d)", sp.nk, p->nk);
    return AB_OK;
}
