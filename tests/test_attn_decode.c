/* test_attn_decode.c — ops' decode-attention op (workloads/ops/attn_decode_cpu.c) against an
 * FP64 reference on fresh N(0,1) inputs at awkward sizes: contexts of 1 and 7 keys and lengths
 * that are multiples of no tile, groups of 1, 2, 3, 8 and beyond one block of 8 heads, head
 * sizes 64, 80, 128 and odd ones, fp32 and bf16 caches, padded strides, and (sequence, KV head)
 * pairs fewer and more than the threads, so that the split-and-merge path runs. Every kernel:
 * the AVX2 ones where the CPU has them and the generic one (ops_set_generic). The reference
 * sees the inputs after rounding to their dtype, so only the op's fp32 arithmetic counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <time.h>

#include "accelbench.h"
#include "ops.h"
#include "ops_ref.h"
#include "test_util.h"

static uint64_t seed_base;

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    return p;
}

/* One decode problem with padded strides: every row of q, K, V and out is followed by `pad`
 * unused elements, and every head's and sequence's block by more. */
struct prob {
    int B, Hkv, G, n, HS;
    enum ab_dtype q_dt, kv_dt;
    struct ops_attn_decode_io io;
    double *qw, *kw, *vw; /* the inputs as doubles, in the same layouts */
    size_t nq, nkv, no;
};

static void prob_make(struct prob *p, int B, int Hkv, int G, int n, int HS, enum ab_dtype q_dt,
                      enum ab_dtype kv_dt, int pad, uint64_t seed)
{
    *p = (struct prob){ .B = B, .Hkv = Hkv, .G = G, .n = n, .HS = HS, .q_dt = q_dt, .kv_dt = kv_dt };
    int64_t row = HS + pad, hq = (int64_t)Hkv * G;
    struct ops_attn_decode_io *io = &p->io;
    io->q_h = row, io->q_b = hq * row + 5;
    io->kv_t = row, io->kv_h = (int64_t)n * row + 3, io->kv_b = Hkv * io->kv_h + 7;
    io->o_h = row + 1, io->o_b = hq * io->o_h + 2;
    p->nq = (size_t)(B * io->q_b), p->nkv = (size_t)(B * io->kv_b), p->no = (size_t)(B * io->o_b);
    void *q = xalloc(p->nq * ab_dtype_size(q_dt)), *k = xalloc(p->nkv * ab_dtype_size(kv_dt)),
         *v = xalloc(p->nkv * ab_dtype_size(kv_dt));
    p->qw = xalloc(p->nq * 8), p->kw = xalloc(p->nkv * 8), p->vw = xalloc(p->nkv * 8);
    ops_fill_random(q, q_dt, p->qw, p->nq, seed, 1.5f);
    ops_fill_random(k, kv_dt, p->kw, p->nkv, seed + 1, 1.0f);
    ops_fill_random(v, kv_dt, p->vw, p->nkv, seed + 2, 1.0f);
    float *out = xalloc(p->no * 4);
    for (size_t i = 0; i < p->no; i++)
        out[i] = NAN; /* a row left unwritten cannot pass */
    io->q = q, io->k = k, io->v = v, io->out = out;
}

static void prob_free(struct prob *p)
{
    free((void *)p->io.q), free((void *)p->io.k), free((void *)p->io.v), free(p->io.out);
    free(p->qw), free(p->kw), free(p->vw);
}

/* The FP64 reference of output row (b, h) into ref (HS). */
static void decode_ref(const struct prob *p, int b, int h, double *ref)
{
    const struct ops_attn_decode_io *io = &p->io;
    int hk = h / p->G, HS = p->HS;
    const double *q = p->qw + b * io->q_b + h * io->q_h;
    double *s = xalloc((size_t)p->n * 8), mx = -INFINITY, sum = 0;
    for (int j = 0; j < p->n; j++) {
        const double *k = p->kw + b * io->kv_b + hk * io->kv_h + j * io->kv_t;
        double d = 0;
        for (int c = 0; c < HS; c++)
            d += q[c] * k[c];
        s[j] = d / sqrt((double)HS);
        mx = fmax(mx, s[j]);
    }
    for (int j = 0; j < p->n; j++)
        sum += (s[j] = exp(s[j] - mx));
    for (int c = 0; c < HS; c++)
        ref[c] = 0;
    for (int j = 0; j < p->n; j++) {
        const double *v = p->vw + b * io->kv_b + hk * io->kv_h + j * io->kv_t;
        for (int c = 0; c < HS; c++)
            ref[c] += s[j] / sum * v[c];
    }
    free(s);
}

/* Run the op with `threads` threads and compare every output row with the reference: fp32
 * accumulation over n keys, atol 2e-5 + rtol 1e-4 (the cache's rounding is in both). */
static void run_and_check(struct prob *p, int threads)
{
    struct ops_attn_decode_desc d = { .B = p->B,
                                      .Hkv = p->Hkv,
                                      .G = p->G,
                                      .n = p->n,
                                      .HS = p->HS,
                                      .q_dt = p->q_dt,
                                      .kv_dt = p->kv_dt,
                                      .threads = threads };
    struct ab_error err = { { 0 } };
    if (ops_attn_decode_check(&d, &err))
        fail_msg("check: %s", err.msg);
    void *scratch = ab_alloc(ops_attn_decode_scratch_bytes(&d));
    assert_non_null(scratch);
    ops_attn_decode(&d, &p->io, scratch);
    ab_free(scratch);
    double *ref = xalloc((size_t)p->HS * 8);
    for (int b = 0; b < p->B; b++)
        for (int h = 0; h < p->Hkv * p->G; h++) {
            decode_ref(p, b, h, ref);
            const float *o = p->io.out + b * p->io.o_b + h * p->io.o_h;
            char m[256];
            double e;
            if (ops_check(o, AB_DTYPE_FP32, ref, (size_t)p->HS, 2e-5, 1e-4, &e, m, sizeof m))
                fail_msg("%s B=%d Hkv=%d G=%d n=%d HS=%d q %s kv %s threads %d (b %d, head %d): %s",
                         ops_attn_decode_impl(p->G), p->B, p->Hkv, p->G, p->n, p->HS, ab_dtype_name(p->q_dt),
                         ab_dtype_name(p->kv_dt), threads, b, h, m);
        }
    free(ref);
}

static void sweep(void)
{
    static const int ns[] = { 1, 7, 45, 1031 }, Gs[] = { 1, 2, 3, 8 }, HSs[] = { 64, 80, 128 };
    static const enum ab_dtype dts[] = { AB_DTYPE_FP32, AB_DTYPE_BF16 };
    uint64_t seed = seed_base;
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        for (size_t g = 0; g < sizeof Gs / sizeof *Gs; g++)
            for (size_t h = 0; h < sizeof HSs / sizeof *HSs; h++)
                for (size_t t = 0; t < 2; t++) {
                    struct prob p;
                    /* one pair (split over 3 threads where n allows), or 2 x 3 pairs */
                    bool one = (i + g + h + t) % 2 == 0;
                    prob_make(&p, one ? 1 : 2, one ? 1 : 3, Gs[g], ns[i], HSs[h], dts[t], dts[t],
                              (int)(h % 2) * 5, seed += 3);
                    run_and_check(&p, 3);
                    prob_free(&p);
                }
}

static void decode_matches_reference_at_awkward_sizes(void **state)
{
    sweep();
}

static void generic_kernel_matches_reference_at_awkward_sizes(void **state)
{
    ops_set_generic(true);
    assert_string_equal(ops_attn_decode_impl(8), "generic");
    sweep();
    ops_set_generic(false);
}

/* Groups beyond one block of 8 heads and ones that pad a block, odd head sizes (a vector's
 * remainder), a bf16 query over an fp32 cache and the reverse. */
static void decode_takes_any_group_head_size_and_dtype_mix(void **state)
{
    static const struct {
        int B, Hkv, G, n, HS;
        enum ab_dtype q, kv;
    } cs[] = {
        { 1, 1, 16, 700, 128, AB_DTYPE_BF16, AB_DTYPE_BF16 },
        { 2, 1, 64, 33, 64, AB_DTYPE_FP32, AB_DTYPE_BF16 },
        { 1, 2, 5, 300, 12, AB_DTYPE_FP32, AB_DTYPE_FP32 },
        { 3, 2, 13, 17, 100, AB_DTYPE_BF16, AB_DTYPE_FP32 },
        { 1, 1, 4, 1500, 20, AB_DTYPE_FP32, AB_DTYPE_BF16 },
        { 2, 3, 2, 600, 9, AB_DTYPE_BF16, AB_DTYPE_BF16 },
        { 1, 1, 1, 2049, 3, AB_DTYPE_FP32, AB_DTYPE_FP32 },
        { 1, 1, 12, 1, 256, AB_DTYPE_BF16, AB_DTYPE_BF16 },
        { 2, 2, 6, 77, 13, AB_DTYPE_BF16, AB_DTYPE_BF16 },
        { 1, 1, 3, 50, 23, AB_DTYPE_FP32, AB_DTYPE_BF16 },
    };
    for (int gen = 0; gen < 2; gen++) {
        ops_set_generic(gen);
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
            struct prob p;
            prob_make(&p, cs[i].B, cs[i].Hkv, cs[i].G, cs[i].n, cs[i].HS, cs[i].q, cs[i].kv, 1,
                      seed_base + 100 + i);
            run_and_check(&p, i % 2 ? 1 : 4);
            prob_free(&p);
        }
    }
    ops_set_generic(false);
}

/* Splits feed the threads when the pairs are few, never go below 512 keys, never run empty,
 * and one thread (or enough pairs) gets one split. */
static void split_feeds_threads_without_empty_spans(void **state)
{
    int splits, span;
    ops_attn_decode_split(1, 32768, 2, &splits, &span);
    assert_int_equal(splits, 8);
    assert_int_equal(span, 4096);
    ops_attn_decode_split(1, 32768, 1, &splits, &span);
    assert_int_equal(splits, 1);
    ops_attn_decode_split(64, 32768, 2, &splits, &span);
    assert_int_equal(splits, 1);
    ops_attn_decode_split(1, 700, 16, &splits, &span);
    assert_int_equal(splits, 2);
    ops_attn_decode_split(1, 1, 16, &splits, &span);
    assert_int_equal(splits, 1);
    assert_int_equal(span, 1);
    for (int n = 1; n < 5000; n += 97)
        for (int seqs = 1; seqs < 9; seqs++) {
            ops_attn_decode_split(seqs, n, 3, &splits, &span);
            assert_true(splits >= 1 && span >= 1);
            assert_true((int64_t)(splits - 1) * span < n && (int64_t)splits * span >= n);
            assert_true(splits == 1 || span >= 256);
        }
}

/* The scratch holds no n-sized buffer: per thread it is the same at 1K and 1M keys, and
 * only the splits' partial results grow, with the pairs, not with n. */
static void scratch_does_not_grow_with_the_context(void **state)
{
    struct ops_attn_decode_desc d = { .B = 8,
                                      .Hkv = 8,
                                      .G = 8,
                                      .n = 1024,
                                      .HS = 128,
                                      .q_dt = AB_DTYPE_BF16,
                                      .kv_dt = AB_DTYPE_BF16,
                                      .threads = 2 };
    size_t small = ops_attn_decode_scratch_bytes(&d);
    d.n = 1 << 20;
    assert_int_equal(ops_attn_decode_scratch_bytes(&d), small);
    assert_true(small < 2 * 64 * 1024); /* two threads' tiles: L1- and L2-sized */
}

static void check_rejects_bad_shapes(void **state)
{
    struct ops_attn_decode_desc ok = { .B = 1,
                                       .Hkv = 1,
                                       .G = 8,
                                       .n = 10,
                                       .HS = 64,
                                       .q_dt = AB_DTYPE_FP32,
                                       .kv_dt = AB_DTYPE_BF16,
                                       .threads = 1 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_attn_decode_check(&ok, &err), AB_OK);
    struct ops_attn_decode_desc d = ok;
    d.G = 65;
    assert_int_equal(ops_attn_decode_check(&d, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "group 65"));
    d = ok, d.G = 0;
    assert_int_equal(ops_attn_decode_check(&d, &err), AB_EINVAL);
    d = ok, d.n = 0;
    assert_int_equal(ops_attn_decode_check(&d, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "n=0"));
    d = ok, d.kv_dt = AB_DTYPE_FP16;
    assert_int_equal(ops_attn_decode_check(&d, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "fp16"));
}

/* gpt2's path: one head of a (T, C) cache, rows of stride C, through ops_cache_attend. */
static void cache_attend_reads_strided_rows(void **state)
{
    static const int ns[] = { 1, 7, 100, 333 };
    int C = 768, HS = 64, h = 5;
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
            enum ab_dtype dt = t ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
            int n = ns[i];
            size_t nkv = (size_t)n * C, es = ab_dtype_size(dt);
            void *k = xalloc(nkv * es), *v = xalloc(nkv * es);
            float q[64], out[64];
            double *kw = xalloc(nkv * 8), *vw = xalloc(nkv * 8), qw[64], ref[64];
            ops_fill_random(k, dt, kw, nkv, seed_base + 200 + i, 1.0f);
            ops_fill_random(v, dt, vw, nkv, seed_base + 300 + i, 1.0f);
            ops_fill_random(q, AB_DTYPE_FP32, qw, 64, seed_base + 400 + i, 2.0f);
            ops_cache_attend(out, q, (const char *)k + (size_t)h * HS * es,
                             (const char *)v + (size_t)h * HS * es, dt, (size_t)C, n, HS, 1.0f / 8);
            ops_ref_attention(ref, qw, HS, kw + h * HS, vw + h * HS, C, 1, 1, 1, n, HS, 0, false);
            char m[256];
            double e;
            if (ops_check(out, AB_DTYPE_FP32, ref, 64, 2e-5, 1e-4, &e, m, sizeof m))
                fail_msg("ops_cache_attend %s n=%d: %s", ab_dtype_name(dt), n, m);
            free(k), free(v), free(kw), free(vw);
        }
}

static void impl_names_follow_the_group_and_cpu(void **state)
{
    bool avx2 = ab_cpu_has("avx2") && ab_cpu_has("fma");
    assert_string_equal(ops_attn_decode_impl(1), avx2 ? "avx2_fma_dot" : "generic");
    assert_string_equal(ops_attn_decode_impl(2), avx2 ? "avx2_fma_dot" : "generic");
    assert_string_equal(ops_attn_decode_impl(3), avx2 ? "avx2_fma_headlane4" : "generic");
    assert_string_equal(ops_attn_decode_impl(8), avx2 ? "avx2_fma_headlane8" : "generic");
    assert_string_equal(ops_attn_decode_impl(64), avx2 ? "avx2_fma_headlane8" : "generic");
}

int main(void)
{
    seed_base = (uint64_t)time(NULL);
    printf("# seed %llu\n", (unsigned long long)seed_base);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_matches_reference_at_awkward_sizes),
        cmocka_unit_test(generic_kernel_matches_reference_at_awkward_sizes),
        cmocka_unit_test(decode_takes_any_group_head_size_and_dtype_mix),
        cmocka_unit_test(split_feeds_threads_without_empty_spans),
        cmocka_unit_test(scratch_does_not_grow_with_the_context),
        cmocka_unit_test(check_rejects_bad_shapes),
        cmocka_unit_test(cache_attend_reads_strided_rows),
        cmocka_unit_test(impl_names_follow_the_group_and_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
