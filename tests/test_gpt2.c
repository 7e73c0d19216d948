/* test_gpt2.c — the gpt2 workload on a tiny GPT-2 (2 layers, 64 wide, 4 heads, vocabulary
 * 97): random weights written as a Hugging Face safetensors file (with the BOOL and I64
 * attention masks some exports add), loaded through the real loader, prefill logits checked against an FP64
 * forward pass written here from the file's own (input-major Conv1D) layout, and KV-cached decode checked
 * against recomputation. Also the greedy argmax rule shared with the CUDA kernel, the verify plan, and the
 * workload's check-suite cases end to end (bf16 where this CPU's oneDNN can, else their skip). */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "accelbench.h"
#include "gpt2/argmax.h"
#include "gpt2/gpt2.h"
#include "gpt2/model.h"
#include "ops/ops.h"
#include "st_writer.h"
#include "test_util.h"

enum { L_ = 2, C_ = 64, NH_ = 4, V_ = 97, NPOS_ = 32 };

/* The tiny model's tensors, in Hugging Face layout. */
struct hf_layer {
    float ln1_g[C_], ln1_b[C_], attn_w[C_ * 3 * C_], attn_b[3 * C_], proj_w[C_ * C_], proj_b[C_];
    float ln2_g[C_], ln2_b[C_], fc_w[C_ * 4 * C_], fc_b[4 * C_], fcp_w[4 * C_ * C_], fcp_b[C_];
};
struct hf_model {
    float wte[V_ * C_], wpe[NPOS_ * C_], lnf_g[C_], lnf_b[C_];
    struct hf_layer h[L_];
};

static struct hf_model *hf;
static char *dir, path[4200];

static void rnd(float *x, size_t n, uint64_t seed, float mean, float scale)
{
    ab_fill_normal_f32(x, n, seed, scale);
    for (size_t i = 0; i < n; i++)
        x[i] += mean;
}

/* Causal masks as some exports write them (h.N.attn.bias BOOL (1,1,NPOS,NPOS), a scalar I64
 * h.N.attn.masked_bias): the loader must pass over them. */
static uint8_t causal_mask[NPOS_ * NPOS_];
static const int64_t masked_bias = -10000;

static void add_tensors(struct st_writer *w, const char *prefix)
{
    char n[96];
    for (int i = 0; i < NPOS_; i++)
        for (int j = 0; j < NPOS_; j++)
            causal_mask[i * NPOS_ + j] = j <= i;
#define ADD(name, arr, d0, d1) (snprintf(n, sizeof n, "%s%s", prefix, name), st_add(w, n, arr, d0, d1))
    ADD("wte.weight", hf->wte, V_, C_);
    ADD("wpe.weight", hf->wpe, NPOS_, C_);
    ADD("ln_f.weight", hf->lnf_g, C_, 0);
    ADD("ln_f.bias", hf->lnf_b, C_, 0);
    for (int l = 0; l < L_; l++) {
        struct hf_layer *h = &hf->h[l];
        char s[64];
#define ADDL(name, arr, d0, d1) (snprintf(s, sizeof s, "h.%d.%s", l, name), ADD(s, arr, d0, d1))
        ADDL("ln_1.weight", h->ln1_g, C_, 0);
        ADDL("ln_1.bias", h->ln1_b, C_, 0);
        ADDL("attn.c_attn.weight", h->attn_w, C_, 3 * C_);
        ADDL("attn.c_attn.bias", h->attn_b, 3 * C_, 0);
        ADDL("attn.c_proj.weight", h->proj_w, C_, C_);
        ADDL("attn.c_proj.bias", h->proj_b, C_, 0);
        ADDL("ln_2.weight", h->ln2_g, C_, 0);
        ADDL("ln_2.bias", h->ln2_b, C_, 0);
        ADDL("mlp.c_fc.weight", h->fc_w, C_, 4 * C_);
        ADDL("mlp.c_fc.bias", h->fc_b, 4 * C_, 0);
        ADDL("mlp.c_proj.weight", h->fcp_w, 4 * C_, C_);
        ADDL("mlp.c_proj.bias", h->fcp_b, C_, 0);
        snprintf(s, sizeof s, "%sh.%d.attn.bias", prefix, l);
        st_add_raw(w, s, "BOOL", 1, causal_mask, 4, (const int64_t[]){ 1, 1, NPOS_, NPOS_ });
        snprintf(s, sizeof s, "%sh.%d.attn.masked_bias", prefix, l);
        st_add_raw(w, s, "I64", 8, &masked_bias, 0, NULL);
    }
#undef ADDL
#undef ADD
}

static int setup(void **state)
{
    hf = calloc(1, sizeof *hf);
    dir = test_tmpdir();
    if (!hf || !dir)
        return -1;
    uint64_t s = 7;
    /* scales larger than GPT-2's init so that every part of the block moves the logits */
    rnd(hf->wte, V_ * C_, s++, 0, 0.5f);
    rnd(hf->wpe, NPOS_ * C_, s++, 0, 0.3f);
    rnd(hf->lnf_g, C_, s++, 1, 0.1f);
    rnd(hf->lnf_b, C_, s++, 0, 0.1f);
    for (int l = 0; l < L_; l++) {
        struct hf_layer *h = &hf->h[l];
        rnd(h->ln1_g, C_, s++, 1, 0.1f), rnd(h->ln1_b, C_, s++, 0, 0.1f);
        rnd(h->attn_w, C_ * 3 * C_, s++, 0, 0.2f), rnd(h->attn_b, 3 * C_, s++, 0, 0.1f);
        rnd(h->proj_w, C_ * C_, s++, 0, 0.1f), rnd(h->proj_b, C_, s++, 0, 0.1f);
        rnd(h->ln2_g, C_, s++, 1, 0.1f), rnd(h->ln2_b, C_, s++, 0, 0.1f);
        rnd(h->fc_w, C_ * 4 * C_, s++, 0, 0.15f), rnd(h->fc_b, 4 * C_, s++, 0, 0.1f);
        rnd(h->fcp_w, 4 * C_ * C_, s++, 0, 0.08f), rnd(h->fcp_b, C_, s++, 0, 0.1f);
    }
    struct st_writer w = { 0 };
    add_tensors(&w, "");
    size_t len;
    uint8_t *buf = st_serialize(&w, &len);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = st_write_file(path, buf, len);
    free(buf);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    rc |= test_write_file(cfg, "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4,"
                               " \"vocab_size\": 97, \"n_positions\": 32, \"n_ctx\": 32}");
    return rc;
}

static int teardown(void **state)
{
    test_rmrf(dir);
    free(dir);
    free(hf);
    return 0;
}

/* ------------------------------------------------------------------ FP64 reference */

static void ref_ln(double *out, const double *x, const float *g, const float *b)
{
    double mu = 0, var = 0;
    for (int j = 0; j < C_; j++)
        mu += x[j];
    mu /= C_;
    for (int j = 0; j < C_; j++)
        var += (x[j] - mu) * (x[j] - mu);
    for (int j = 0; j < C_; j++)
        out[j] = (x[j] - mu) / sqrt(var / C_ + 1e-5) * g[j] + b[j];
}

/* Conv1D: out (N) = x (K) . w (K,N) + b, weights input-major as stored in the file */
static void ref_conv1d(double *out, const double *x, const float *w, const float *b, int K, int N)
{
    for (int n = 0; n < N; n++) {
        double s = b[n];
        for (int k = 0; k < K; k++)
            s += x[k] * w[(size_t)k * N + n];
        out[n] = s;
    }
}

/* logits (T,V) of one sequence */
static void reference(const int *tok, int T, double *logits)
{
    static double x[NPOS_][C_], ln[C_], qkv[NPOS_][3 * C_], att[C_], tmp[4 * C_], hid[4 * C_];
    int HS = C_ / NH_;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C_; j++)
            x[t][j] = (double)hf->wte[tok[t] * C_ + j] + hf->wpe[t * C_ + j];
    for (int l = 0; l < L_; l++) {
        const struct hf_layer *h = &hf->h[l];
        for (int t = 0; t < T; t++) {
            ref_ln(ln, x[t], h->ln1_g, h->ln1_b);
            ref_conv1d(qkv[t], ln, h->attn_w, h->attn_b, C_, 3 * C_);
        }
        for (int t = T - 1; t >= 0; t--) { /* later rows first: x[t] changes only after use */
            for (int hh = 0; hh < NH_; hh++) {
                double sc[NPOS_], mx = -INFINITY, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int e = 0; e < HS; e++)
                        d += qkv[t][hh * HS + e] * qkv[j][C_ + hh * HS + e];
                    sc[j] = d / sqrt(HS);
                    if (sc[j] > mx)
                        mx = sc[j];
                }
                for (int j = 0; j <= t; j++)
                    sum += sc[j] = exp(sc[j] - mx);
                for (int e = 0; e < HS; e++) {
                    double o = 0;
                    for (int j = 0; j <= t; j++)
                        o += sc[j] / sum * qkv[j][2 * C_ + hh * HS + e];
                    att[hh * HS + e] = o;
                }
            }
            ref_conv1d(tmp, att, h->proj_w, h->proj_b, C_, C_);
            for (int j = 0; j < C_; j++)
                x[t][j] += tmp[j];
        }
        for (int t = 0; t < T; t++) {
            ref_ln(ln, x[t], h->ln2_g, h->ln2_b);
            ref_conv1d(hid, ln, h->fc_w, h->fc_b, C_, 4 * C_);
            for (int j = 0; j < 4 * C_; j++) {
                double v = hid[j];
                hid[j] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
            }
            ref_conv1d(tmp, hid, h->fcp_w, h->fcp_b, 4 * C_, C_);
            for (int j = 0; j < C_; j++)
                x[t][j] += tmp[j];
        }
    }
    for (int t = 0; t < T; t++) {
        ref_ln(ln, x[t], hf->lnf_g, hf->lnf_b);
        for (int v = 0; v < V_; v++) {
            double s = 0;
            for (int j = 0; j < C_; j++)
                s += ln[j] * hf->wte[v * C_ + j];
            logits[(size_t)t * V_ + v] = s;
        }
    }
}

static void random_tokens(int *tok, int n, uint64_t seed)
{
    struct ab_rng g;
    ab_rng_seed(&g, seed);
    for (int i = 0; i < n; i++)
        tok[i] = (int)(ab_rng_next(&g) % V_);
}

/* ------------------------------------------------------------------ tests */

static void loader_reads_config_and_every_tensor(void **state)
{
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    ab_status st = gpt2_params_load(&p, path, &err);
    assert_int_equal(st, AB_OK);
    assert_int_equal(p.cfg.n_layer, L_);
    assert_int_equal(p.cfg.n_embd, C_);
    assert_int_equal(p.cfg.n_head, NH_);
    assert_int_equal(p.cfg.vocab, V_);
    assert_int_equal(p.cfg.max_pos, NPOS_);
    /* Conv1D (in, out) lands as (out, in) */
    assert_true(p.layers[1].fc_w[5 * C_ + 3] == hf->h[1].fc_w[3 * 4 * C_ + 5]);
    assert_true(p.layers[0].qkv_b[7] == hf->h[0].attn_b[7]);
    assert_true(p.wte[11] == hf->wte[11]);
    gpt2_params_free(&p);
}

static void check_prefill(enum ab_dtype dt, double atol, double rtol_of_max)
{
    enum { B = 2, P = 12 };
    struct gpt2_params p;
    struct gpt2_model *m;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&m, &p, dt, B, NPOS_, P, &err), AB_OK);
    int tok[B * P];
    random_tokens(tok, B * P, 3);
    static float logits[B * P * V_];
    static double ref[P * V_];
    ab_status st = gpt2_model_forward(m, tok, P, 0, true, logits, &err);
    if (st)
        fail_msg("%s", err.msg);
    double max_err = 0;
    for (int b = 0; b < B; b++) {
        reference(tok + b * P, P, ref);
        double mx = 0;
        for (int i = 0; i < P * V_; i++)
            mx = fmax(mx, fabs(ref[i]));
        assert_true(mx > 1); /* the logits are not trivially small */
        for (int i = 0; i < P * V_; i++) {
            double e = fabs(logits[b * P * V_ + i] - ref[i]);
            if (!(e <= atol + rtol_of_max * mx))
                fail_msg("sequence %d logit %d: %.8g vs reference %.8g", b, i, logits[b * P * V_ + i],
                         ref[i]);
            max_err = fmax(max_err, e);
        }
    }
    print_message("max abs error %s: %.3g\n", dt == AB_DTYPE_BF16 ? "bf16" : "fp32", max_err);
    /* last-position logits are the same numbers */
    static float last[B * V_];
    assert_int_equal(gpt2_model_forward(m, tok, P, 0, false, last, &err), AB_OK);
    for (int b = 0; b < B; b++)
        for (int v = 0; v < V_; v++)
            assert_double_equal(last[b * V_ + v], logits[(b * P + P - 1) * V_ + v], 1e-6);
    gpt2_model_destroy(m);
    gpt2_params_free(&p);
}

static void prefill_logits_match_fp64_reference_in_fp32(void **state)
{
    check_prefill(AB_DTYPE_FP32, 1e-4, 0);
}

/* Probed here with ops directly, not through the workload's own probe. */
static bool cpu_has_bf16_matmul(void)
{
    struct ops_matmul *mm = NULL;
    struct ab_error err = { { 0 } };
    ab_status st = ops_matmul_create(&mm, 1, 64, 64, AB_DTYPE_BF16, OPS_MM_OUT_F32, &err);
    ops_matmul_destroy(mm);
    return st == AB_OK;
}

static void prefill_logits_match_fp64_reference_in_bf16_loosely(void **state)
{
    if (cpu_has_bf16_matmul()) {
        check_prefill(AB_DTYPE_BF16, 0, 0.03);
        return;
    }
    /* no bf16 matmul here: the model says so in one line instead of a oneDNN status */
    struct gpt2_params p;
    struct gpt2_model *m = (struct gpt2_model *)&p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&m, &p, AB_DTYPE_BF16, 2, NPOS_, 12, &err), AB_EUNSUPPORTED);
    assert_null(m);
    assert_string_equal(err.msg, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
    gpt2_params_free(&p);
}

static void kv_cached_decode_matches_full_recompute(void **state)
{
    enum { B = 2, P = 5, T = 9 };
    struct gpt2_params p;
    struct gpt2_model *dec, *full;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&dec, &p, AB_DTYPE_FP32, B, P + T, P, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&full, &p, AB_DTYPE_FP32, B, P + T, P + T, &err), AB_OK);
    int seq[B][P + T], tok[B * (P + T)], next[B];
    random_tokens(tok, B * P, 11);
    for (int b = 0; b < B; b++)
        memcpy(seq[b], tok + b * P, P * sizeof(int));
    static float lg[B * V_], all[B * (P + T) * V_];
    assert_int_equal(gpt2_model_forward(dec, tok, P, 0, false, lg, &err), AB_OK);
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++)
            next[b] = seq[b][P + t] = gpt2_argmax(lg + b * V_, V_);
        if (t == T - 1)
            break;
        assert_int_equal(gpt2_model_forward(dec, next, 1, P + t, false, lg, &err), AB_OK);
        /* recompute the whole sequence so far from scratch (other kernels, other summation
         * orders: the GEMV and decode attention against the GEMM and the flash kernel, 2e-5 apart, as the
         * fused step and the per-op forward below; the FP64 reference tests hold each path to 1e-4) */
        int n = P + t + 1;
        for (int b = 0; b < B; b++)
            memcpy(tok + b * n, seq[b], n * sizeof(int));
        assert_int_equal(gpt2_model_forward(full, tok, n, 0, true, all, &err), AB_OK);
        for (int b = 0; b < B; b++)
            for (int v = 0; v < V_; v++)
                assert_double_equal(lg[b * V_ + v], all[((size_t)b * n + n - 1) * V_ + v], 2e-5);
    }
    /* the sequences generated are those of the FP64 reference's greedy choices too */
    static double ref[(P + T) * V_];
    for (int b = 0; b < B; b++) {
        reference(seq[b], P + T - 1, ref);
        for (int t = P; t < P + T - 1; t++) {
            int best = 0;
            for (int v = 1; v < V_; v++)
                if (ref[(size_t)(t - 1) * V_ + v] > ref[(size_t)(t - 1) * V_ + best])
                    best = v;
            assert_int_equal(best, seq[b][t]);
        }
    }
    gpt2_model_destroy(dec);
    gpt2_model_destroy(full);
    gpt2_params_free(&p);
}

/* Prefill through the flash kernel past its tiles: the tiny configuration (HS 32) with P = 300
 * crosses a query block (at most 256) and key blocks (tens to hundreds). The same prompt in one
 * forward, in two chunks (the second continues the cache at pos0 = 200: queries behind more
 * keys than themselves, a new plan) and as P - 3 tokens then three decode steps (one query a
 * step, the decode path's attention) gives the same last logits, and each holds the FP64
 * reference's tolerance, over an fp32 cache and a bf16 one (its own, wider tolerance). */
static void prefill_in_one_or_more_chunks_over_either_cache_matches_the_reference(void **state)
{
    enum { B = 2, P = 300, P1 = 200, STEPS = 3 };
    struct gpt2_config cfg;
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_true(gpt2_config_named("tiny", &cfg));
    assert_int_equal(gpt2_params_alloc(&p, &cfg, &err), AB_OK);
    gpt2_params_random(&p, 7);
    int V = cfg.vocab, tok[B * P], part[B * P];
    struct ab_rng g;
    ab_rng_seed(&g, 17);
    for (int i = 0; i < B * P; i++)
        tok[i] = (int)(ab_rng_next(&g) % (uint64_t)V);
    float *one = malloc((size_t)B * V * 4), *got = malloc((size_t)B * V * 4);
    double *ref = malloc((size_t)B * V * 8);
    assert_true(one && got && ref);
    for (int b = 0; b < B; b++)
        if (gpt2_reference_logits(&p, tok + b * P, P, P - 1, false, ref + (size_t)b * V, &err))
            fail_msg("%s", err.msg);
    for (int k = 0; k < 2; k++) {
        enum ab_dtype kv = k ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        double atol, rtol, same = k ? 1e-3 : 1e-4; /* two summation orders; bf16: a rounding apart */
        gpt2_logit_tolerance_kv(false, k == 1, &atol, &rtol);
        struct gpt2_model *m;
        assert_int_equal(gpt2_model_create_kv(&m, &p, AB_DTYPE_FP32, kv, B, P, P, &err), AB_OK);
        if (gpt2_model_forward(m, tok, P, 0, false, one, &err))
            fail_msg("%s", err.msg);
        for (int b = 0; b < B; b++)
            for (int v = 0; v < V; v++) {
                double r = ref[(size_t)b * V + v], e = fabs(one[(size_t)b * V + v] - r);
                if (!(e <= atol + rtol * fabs(r)))
                    fail_msg("kv %s, sequence %d, logit %d: %.6g vs reference %.6g", ab_dtype_name(kv), b, v,
                             one[(size_t)b * V + v], r);
            }
        for (int way = 0; way < 2; way++) {
            int n0 = way ? P - STEPS : P1; /* the first chunk; then the rest at once or a token a step */
            for (int b = 0; b < B; b++)
                memcpy(part + b * n0, tok + b * P, (size_t)n0 * sizeof(int));
            assert_int_equal(gpt2_model_forward(m, part, n0, 0, false, got, &err), AB_OK);
            for (int at = n0; at < P;) {
                int n = way ? 1 : P - n0;
                for (int b = 0; b < B; b++)
                    memcpy(part + b * n, tok + b * P + at, (size_t)n * sizeof(int));
                if (gpt2_model_forward(m, part, n, at, false, got, &err))
                    fail_msg("%s", err.msg);
                at += n;
            }
            for (int i = 0; i < B * V; i++)
                if (!(fabs(got[i] - one[i]) <= same + same * fabs(one[i])))
                    fail_msg("kv %s, %s: logit %d of sequence %d: %.8g, one prefill %.8g", ab_dtype_name(kv),
                             way ? "then decode steps" : "in two chunks", i % V, i / V, got[i], one[i]);
        }
        gpt2_model_destroy(m);
    }
    free(one), free(got), free(ref);
    gpt2_params_free(&p);
}

/* B sequences of P prompt tokens then T greedy steps; lg gets each step's logits (T, B, V) */
static void decode_run(struct gpt2_model *m, int B, int P, int T, int *seq /* (B, P + T) */, float *lg)
{
    struct ab_error err = { { 0 } };
    int tok[8 * 32], next[8];
    for (int b = 0; b < B; b++)
        memcpy(tok + b * P, seq + b * (P + T), P * sizeof(int));
    assert_int_equal(gpt2_model_forward(m, tok, P, 0, false, lg, &err), AB_OK);
    for (int t = 1; t < T; t++) {
        for (int b = 0; b < B; b++)
            next[b] = seq[b * (P + T) + P + t - 1] = gpt2_argmax(lg + (size_t)((t - 1) * B + b) * V_, V_);
        if (gpt2_model_forward(m, next, 1, P + t - 1, false, lg + (size_t)t * B * V_, &err))
            fail_msg("%s", err.msg);
    }
}

/* Where the AVX2 GEMV has blocks (fp32, no AVX-512), a decode step of up to eight sequences
 * is the fused one; more sequences, or portable ops, are not. */
static void decode_steps_of_few_sequences_are_fused_where_the_gemv_has_blocks(void **state)
{
    struct gpt2_params p;
    struct gpt2_model *m;
    struct ab_error err = { { 0 } };
    bool avx2 = ab_cpu_has("avx2") && ab_cpu_has("fma") && !ab_cpu_has("avx512f");
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&m, &p, AB_DTYPE_FP32, OPS_GEMV_MAX_M, NPOS_, 4, &err), AB_OK);
    assert_int_equal(gpt2_model_fused(m), avx2);
    gpt2_model_destroy(m);
    assert_int_equal(gpt2_model_create(&m, &p, AB_DTYPE_FP32, OPS_GEMV_MAX_M + 1, NPOS_, 4, &err), AB_OK);
    assert_false(gpt2_model_fused(m));
    gpt2_model_destroy(m);
    ops_set_generic(true);
    assert_int_equal(gpt2_model_create(&m, &p, AB_DTYPE_FP32, 2, NPOS_, 4, &err), AB_OK);
    assert_false(gpt2_model_fused(m));
    gpt2_model_destroy(m);
    ops_set_generic(false);
    gpt2_params_free(&p);
}

/* The fused step and the per-op forward (portable ops) make the same tokens and logits to
 * accumulation order: 2e-5 with an fp32 cache; with a bf16 one, a K or V value that two
 * summation orders put on either side of a bf16 rounding boundary differs by 2^-8 relative,
 * so 1e-3. */
static void fused_decode_matches_the_per_op_forward(void **state)
{
    enum { B = 8, P = 6, T = 10 };
    struct gpt2_params p;
    struct gpt2_model *fused, *plain;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    static float lf[T * B * V_], lp[T * B * V_];
    for (int k = 0; k < 2; k++) {
        enum ab_dtype kv = k ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        assert_int_equal(gpt2_model_create_kv(&fused, &p, AB_DTYPE_FP32, kv, B, P + T, P, &err), AB_OK);
        ops_set_generic(true);
        assert_int_equal(gpt2_model_create_kv(&plain, &p, AB_DTYPE_FP32, kv, B, P + T, P, &err), AB_OK);
        ops_set_generic(false);
        int sf[B * (P + T)], sp[B * (P + T)];
        random_tokens(sf, B * (P + T), 21);
        memcpy(sp, sf, sizeof sf);
        decode_run(fused, B, P, T, sf, lf);
        ops_set_generic(true); /* the portable attention too */
        decode_run(plain, B, P, T, sp, lp);
        ops_set_generic(false);
        assert_memory_equal(sf, sp, sizeof sf);
        double tol = k ? 1e-3 : 2e-5;
        for (int i = 0; i < T * B * V_; i++)
            if (fabs(lf[i] - lp[i]) > tol + tol * fabs(lp[i]))
                fail_msg("kv %s: logit %d of step %d: fused %.8g, per-op %.8g", ab_dtype_name(kv),
                         i % (B * V_), i / (B * V_), lf[i], lp[i]);
        gpt2_model_destroy(fused);
        gpt2_model_destroy(plain);
    }
    gpt2_params_free(&p);
}

/* A bf16 KV cache: decode logits within the tolerance stated for it (gpt2_logit_tolerance_kv)
 * of the FP64 reference (which rounds nothing), and off it by more than fp32's error, so the
 * cache did hold rounded values. */
static void bf16_kv_cache_decode_is_within_its_own_tolerance(void **state)
{
    enum { B = 3, P = 9, T = 12 };
    struct gpt2_params p;
    struct gpt2_model *m;
    struct ab_error err = { { 0 } };
    double atol, rtol, atol32, rtol32;
    gpt2_logit_tolerance_kv(false, true, &atol, &rtol);
    gpt2_logit_tolerance(false, &atol32, &rtol32);
    assert_true(atol > atol32 && rtol > rtol32);
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    static float lg[T * B * V_];
    static double ref[(P + T) * V_];
    double max_err[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        enum ab_dtype kv = k ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        assert_int_equal(gpt2_model_create_kv(&m, &p, AB_DTYPE_FP32, kv, B, P + T, P, &err), AB_OK);
        int seq[B * (P + T)];
        random_tokens(seq, B * (P + T), 31);
        decode_run(m, B, P, T, seq, lg);
        for (int b = 0; b < B; b++) {
            reference(seq + b * (P + T), P + T - 1, ref);
            for (int t = 0; t < T; t++)
                for (int v = 0; v < V_; v++) {
                    double r = ref[(size_t)(P - 1 + t) * V_ + v], g = lg[(size_t)(t * B + b) * V_ + v];
                    double e = fabs(g - r);
                    if (!(e <= (k ? atol + rtol * fabs(r) : atol32 + rtol32 * fabs(r))))
                        fail_msg("kv %s, sequence %d, step %d, logit %d: %.6g vs reference %.6g",
                                 ab_dtype_name(kv), b, t, v, g, r);
                    max_err[k] = fmax(max_err[k], e);
                }
        }
        gpt2_model_destroy(m);
    }
    print_message("max abs error, fp32 cache %.3g, bf16 cache %.3g\n", max_err[0], max_err[1]);
    assert_true(max_err[1] > 4 * max_err[0]);
    gpt2_params_free(&p);
}

/* kv_dtype=bf16 is the CPU's alone: every suite's applies refuses it on CUDA, takes it on the
 * CPU (the check suite: for decode of several sequences only), and takes fp32 (the axis's
 * implicit value) on both. */
static void a_bf16_kv_cache_applies_to_the_cpu_only(void **state)
{
    static const char *const base =
        "model=tiny;dtype=fp32;phase=decode;batch=1;prompt=7;gen=5;weights=random";
    for (int suite = 0; suite < AB_SUITE_COUNT; suite++)
        for (int k = 0; k < 2; k++) {
            char text[256];
            snprintf(text, sizeof text, "%s;kv_dtype=%s", base, k ? "bf16" : "fp32");
            struct ab_params ps;
            struct ab_error err = { { 0 } };
            assert_int_equal(ab_params_parse(text, &ps, &err), AB_OK);
            /* batch=1 decode: the check suite takes a bf16 cache with several sequences only */
            assert_int_equal(ab_workload_find("gpt2")->applies(&ps, AB_BACKEND_CPU, (enum ab_suite)suite),
                             !k || suite != AB_SUITE_CHECK);
            assert_int_equal(ab_workload_find("gpt2")->applies(&ps, AB_BACKEND_CUDA, (enum ab_suite)suite),
                             !k);
        }
}

static void named_configs_have_published_parameter_counts(void **state)
{
    struct gpt2_config c;
    assert_true(gpt2_config_named("124M", &c));
    assert_int_equal(gpt2_param_count(&c), 124439808);
    assert_true(gpt2_config_named("355M", &c));
    assert_int_equal(gpt2_param_count(&c), 354823168);
    assert_true(gpt2_config_named("774M", &c));
    assert_int_equal(gpt2_param_count(&c), 774030080);
    assert_true(gpt2_config_named("1558M", &c));
    assert_int_equal(gpt2_param_count(&c), 1557611200);
    assert_false(gpt2_config_named("7B", &c));
    assert_true(gpt2_config_named("tiny", &c));
    assert_int_equal(c.n_layer, 2);
    assert_int_equal(c.n_embd, 128);
    assert_int_equal(c.n_head, 4);
    assert_int_equal(c.vocab, 50257); /* the padded output projection is exercised */
    assert_int_equal(c.max_pos, 1024);
}

static void work_model_counts_matmuls_attention_and_logits(void **state)
{
    struct gpt2_config c;
    gpt2_config_named("124M", &c);
    double mm = 2.0 * 12 * 12 * 768 * 768; /* per token */
    assert_double_equal(gpt2_prefill_flops(&c, 1, 1), mm + 4.0 * 12 * 768 + 2.0 * 768 * 50257, 1);
    assert_double_equal(gpt2_prefill_flops(&c, 2, 4), 2 * (4 * mm + 4.0 * 12 * 768 * 10 + 2.0 * 768 * 50257),
                        1);
    assert_double_equal(gpt2_decode_step_flops(&c, 1, 9), mm + 4.0 * 12 * 768 * 10 + 2.0 * 768 * 50257, 1);
    size_t wb = gpt2_weight_bytes(&c, 2);
    assert_int_equal(wb, 2 * (12 * 12 * 768 * 768 + 50257 * 768) + 4 * (12 * 13 * 768 + 2 * 768));
    assert_double_equal(gpt2_decode_step_bytes(&c, wb, 4, 99), wb + 2.0 * 12 * 4 * 100 * 768 * 4, 1);
}

/* Set c up and tear it down again (a case its setup refuses or skips): the setup's status. */
static ab_status setup_and_teardown(struct ab_case *c, struct ab_error *err)
{
    ab_status st = gpt2_cpu_impl.setup(c, err);
    gpt2_cpu_impl.teardown(c);
    ab_case_detail(c, NULL);
    return st;
}

static void missing_weights_file_is_a_clear_error(void **state)
{
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    struct ab_case c = { .device = &dev, .seed = 1 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_params_parse("model=124M;dtype=fp32;phase=decode;batch=1;prompt=8;gen=4;"
                                     "weights=/nonexistent/model.safetensors",
                                     &c.params, &err),
                     AB_OK);
    ab_status st = setup_and_teardown(&c, &err);
    assert_int_not_equal(st, AB_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/model.safetensors"));
    assert_non_null(strstr(err.msg, "config.json"));
}

static void unsupported_points_are_skipped_with_a_reason(void **state)
{
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    static const char *const cases[][2] = {
        { "model=124M;dtype=fp16;phase=prefill;batch=1;prompt=8;gen=4;weights=random", "fp32 and bf16" },
        { "model=124M;dtype=bf16;phase=decode;batch=1;prompt=1024;gen=128;weights=random",
          "1152 positions: the model has 1024" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ab_case c = { .device = &dev, .seed = 1 };
        struct ab_error err = { { 0 } };
        assert_int_equal(ab_params_parse(cases[i][0], &c.params, &err), AB_OK);
        ab_status st = setup_and_teardown(&c, &err);
        assert_int_equal(st, AB_EUNSUPPORTED);
        if (!strstr(err.msg, cases[i][1]))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i][0], err.msg, cases[i][1]);
    }
}

/* ------------------------------------------------------------------ greedy argmax */

/* What argmax_kernel does: a strided scan per thread, then a tree over the threads. */
static int argmax_like_the_kernel(const float *x, int n, int threads)
{
    float bv[1024];
    int bi[1024];
    for (int t = 0; t < threads; t++) {
        bv[t] = -FLT_MAX, bi[t] = GPT2_ARGMAX_NONE;
        for (int j = t; j < n; j += threads)
            if (gpt2_argmax_better(x[j], j, bv[t], bi[t]))
                bv[t] = x[j], bi[t] = j;
    }
    for (int w = threads / 2; w; w >>= 1)
        for (int t = 0; t < w; t++)
            if (gpt2_argmax_better(bv[t + w], bi[t + w], bv[t], bi[t]))
                bv[t] = bv[t + w], bi[t] = bi[t + w];
    return bi[0];
}

static void argmax_of_a_nan_row_is_its_first_nan_and_in_range(void **state)
{
    float x[8] = { 1, 5, NAN, 2, NAN, 9, 0, 0 };
    assert_int_equal(gpt2_argmax(x, 8), 2);
    assert_int_equal(argmax_like_the_kernel(x, 8, 1024), 2);
    float all[300];
    for (int i = 0; i < 300; i++)
        all[i] = NAN;
    /* the kernel used to answer 0x7fffffff here, and embed that token next */
    assert_int_equal(gpt2_argmax(all, 300), 0);
    assert_int_equal(argmax_like_the_kernel(all, 300, 1024), 0);
    assert_int_equal(argmax_like_the_kernel(all, 300, 32), 0);
}

static void argmax_of_all_minus_infinity_is_zero_and_ties_take_the_lowest_index(void **state)
{
    float x[70];
    for (int i = 0; i < 70; i++)
        x[i] = -INFINITY;
    assert_int_equal(gpt2_argmax(x, 70), 0);
    assert_int_equal(argmax_like_the_kernel(x, 70, 1024), 0);
    for (int i = 0; i < 70; i++)
        x[i] = (i % 3) ? 1.5f : -2.0f;
    x[69] = 1.5f;
    assert_int_equal(gpt2_argmax(x, 70), 1);
    assert_int_equal(argmax_like_the_kernel(x, 70, 64), 1);
    assert_int_equal(gpt2_argmax(x, 1), 0);
    assert_int_equal(gpt2_argmax(x, 0), 0);
}

static void kernel_reduction_agrees_with_the_sequential_scan(void **state)
{
    static float x[GPT2_VOCAB];
    struct ab_rng g;
    ab_rng_seed(&g, 5);
    for (int trial = 0; trial < 40; trial++) {
        int n = trial < 20 ? GPT2_VOCAB : 1 + (int)(ab_rng_next(&g) % 2000);
        for (int i = 0; i < n; i++) { /* few distinct values: many ties, some -inf and NaN */
            uint64_t r = ab_rng_next(&g) % 1000;
            x[i] = r < 2 && trial % 4 == 1 ? NAN : r < 50 ? -INFINITY : (float)(r % 7);
        }
        int want = gpt2_argmax(x, n);
        assert_true(want >= 0 && want < n);
        for (int threads = 1; threads <= 1024; threads *= 4)
            assert_int_equal(argmax_like_the_kernel(x, n, threads), want);
    }
}

static void picking_tokens_from_nan_logits_is_a_mismatch_saying_so(void **state)
{
    float lg[3][10];
    for (int b = 0; b < 3; b++)
        for (int v = 0; v < 10; v++)
            lg[b][v] = (float)((v * 7 + b) % 10);
    int tok[3];
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_pick_tokens(&lg[0][0], 10, 3, 10, 4, tok, &err), AB_OK);
    assert_int_equal(tok[0], 7);
    lg[1][6] = NAN;
    assert_int_equal(gpt2_pick_tokens(&lg[0][0], 10, 3, 10, 4, tok, &err), AB_EMISMATCH);
    assert_string_equal(err.msg, "logits of sequence 1 at position 4 were NaN");
    assert_int_equal(tok[1], 6);
    /* only V columns of each ld-long row are read: padding never wins */
    float pad[2][16] = { { 0 } };
    pad[0][12] = pad[1][15] = 100;
    pad[0][3] = pad[1][9] = 1;
    assert_int_equal(gpt2_pick_tokens(&pad[0][0], 16, 2, 10, 0, tok, &err), AB_OK);
    assert_int_equal(tok[0], 3);
    assert_int_equal(tok[1], 9);
}

/* ------------------------------------------------------------------ verify plan */

static void verify_plan_covers_the_check_cases_whole(void **state)
{
    struct gpt2_config tiny;
    assert_true(gpt2_config_named("tiny", &tiny));
    struct gpt2_vplan vp;
    gpt2_verify_plan(&tiny, 3, 70, 5, true, &vp);
    assert_int_equal(vp.P, 70);
    assert_int_equal(vp.T, 5);
    assert_int_equal(vp.n_seq, 3);
    assert_int_equal(vp.seq[2], 2);
    assert_int_equal(vp.all, 70); /* every prompt position of sequence 0 */
    gpt2_verify_plan(&tiny, 1, 7, 5, false, &vp);
    assert_int_equal(vp.P, 7);
    assert_int_equal(vp.T, 0);
    assert_int_equal(vp.n_seq, 1);
    gpt2_verify_plan(&tiny, 3, 7, 2, true, &vp);
    assert_int_equal(vp.T, 2);
}

static void verify_plan_shortens_only_what_the_reference_cannot_afford(void **state)
{
    struct gpt2_config c;
    struct gpt2_vplan vp;
    assert_true(gpt2_config_named("124M", &c));
    gpt2_verify_plan(&c, 8, 128, 32, true, &vp);
    assert_int_equal(vp.n_seq, 2);
    assert_int_equal(vp.seq[0], 0);
    assert_int_equal(vp.seq[1], 7);
    assert_int_equal(vp.T, GPT2_VERIFY_STEPS);
    assert_true(vp.P >= 2 && vp.P < 128);
    assert_true(2 * gpt2_reference_cost(&c, vp.P + vp.T, vp.T + 1) <= GPT2_VERIFY_BUDGET);
    /* twice the prompt would have been over the budget */
    assert_true(2 * gpt2_reference_cost(&c, 2 * vp.P + vp.T, vp.T + 1) > GPT2_VERIFY_BUDGET);
    assert_true(gpt2_config_named("1558M", &c));
    gpt2_verify_plan(&c, 32, 1024, 128, true, &vp);
    assert_int_equal(vp.P, 2);
    /* a long prompt of a narrow model: the whole prompt is verified, and the logits of as many
     * positions as the budget affords (64 x 50257 multiply-adds each) */
    struct gpt2_config narrow = { .n_layer = 1, .n_embd = 64, .n_head = 1, .vocab = 50257, .max_pos = 1024 };
    gpt2_verify_plan(&narrow, 1, 1024, 8, false, &vp);
    assert_int_equal(vp.P, 1024);
    assert_int_equal(vp.all, 1 + (int)(GPT2_VERIFY_POSITIONS_BUDGET / (64.0 * 50257)));
    assert_true(vp.all > 1 && vp.all < vp.P);
    gpt2_verify_plan(&c, 1, 1, 1, true, &vp);
    assert_int_equal(vp.P, 1);
    assert_int_equal(vp.all, 1);
    assert_int_equal(vp.T, 1);
}

static void reference_of_the_last_positions_is_the_tail_of_the_full_one(void **state)
{
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    int tok[9];
    random_tokens(tok, 9, 21);
    static double all[9 * V_], tail[3 * V_];
    assert_int_equal(gpt2_reference_logits(&p, tok, 9, 0, false, all, &err), AB_OK);
    assert_int_equal(gpt2_reference_logits(&p, tok, 9, 6, false, tail, &err), AB_OK);
    for (int i = 0; i < 3 * V_; i++)
        assert_double_equal(tail[i], all[6 * V_ + i], 1e-12);
    /* and the test's own reference, from the file layout, agrees */
    reference(tok, 9, all);
    for (int i = 0; i < 3 * V_; i++)
        assert_double_equal(tail[i], all[6 * V_ + i], 1e-9);
    tok[4] = V_;
    assert_int_equal(gpt2_reference_logits(&p, tok, 9, 6, false, tail, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "out of the vocabulary"));
    gpt2_params_free(&p);
}

/* ------------------------------------------------------------------ the check suite's cases */

static ab_status run_check_case(const char *params, struct ab_case *c, struct ab_error *err,
                                void (*tamper)(struct ab_case *))
{
    static struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    *c = (struct ab_case){ .device = &dev, .seed = 12345, .suite = AB_SUITE_CHECK };
    assert_int_equal(ab_params_parse(params, &c->params, err), AB_OK);
    ab_status st = gpt2_cpu_impl.setup(c, err);
    if (!st && tamper)
        tamper(c);
    if (!st)
        st = gpt2_cpu_impl.verify(c, err);
    gpt2_cpu_impl.teardown(c);
    ab_case_detail(c, NULL);
    assert_null(c->state);
    return st;
}

static double metric(const struct ab_case *c, const char *name)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return c->metrics[i].value;
    return NAN;
}

static void weights_of_any_shape_run_with_the_shape_of_their_config(void **state)
{
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    struct ab_case c = { .device = &dev, .seed = 1 };
    struct ab_error err = { { 0 } };
    struct ab_params *ps = &c.params;
    ps->n = 7;
    const char *kv[7][2] = { { "model", "124M" },
                             { "dtype", "fp32" },
                             { "phase", "prefill" },
                             { "batch", "1" },
                             { "prompt", "8" },
                             { "gen", "4" },
                             { "weights", "model.safetensors" } };
    for (int i = 0; i < 7; i++) {
        snprintf(ps->p[i].name, sizeof ps->p[i].name, "%s", kv[i][0]);
        snprintf(ps->p[i].val.str, sizeof ps->p[i].val.str, "%s", kv[i][1]);
        ps->p[i].val.num = atof(kv[i][1]);
    }
    /* a relative path: temporary folders are longer than an axis value holds */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    ab_status st = gpt2_cpu_impl.setup(&c, &err);
    if (!st)
        st = gpt2_cpu_impl.verify(&c, &err);
    gpt2_cpu_impl.teardown(&c);
    ab_case_detail(&c, NULL);
    assert_int_equal(chdir(cwd), 0);
    if (st)
        fail_msg("%s", err.msg);
    /* model=124M names random weights' size only: the file's config.json gives the shape */
    assert_int_equal(metric(&c, "n_layer"), L_);
    assert_int_equal(metric(&c, "n_embd"), C_);
    assert_int_equal(metric(&c, "n_head"), NH_);
    assert_int_equal(metric(&c, "vocab_size"), V_);
    assert_int_equal(metric(&c, "n_positions"), NPOS_);
    assert_true(metric(&c, "max_abs_err") < 1e-3);
    assert_double_equal(c.work.tokens, 8, 0);
    /* the folder names its model.safetensors too; a prompt past the file's 32 positions is a skip */
    snprintf(ps->p[6].val.str, sizeof ps->p[6].val.str, ".");
    snprintf(ps->p[4].val.str, sizeof ps->p[4].val.str, "40");
    ps->p[4].val.num = 40;
    assert_int_equal(chdir(dir), 0);
    st = setup_and_teardown(&c, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "40 positions: the model has 32"));
}

/* ------------------------------------------------------------------ against transformers */

/* tests/data/gpt2_tiny: a checkpoint save_pretrained wrote, and transformers' own logits at
 * every position of a prompt and its greedy continuation (tests/data/make_gpt2_fixture.py). */
struct hf_fixture {
    char dir[4096];
    int prompt[32], greedy[32], P, T, V;
    float *logits; /* (P + T, V) */
};

static void hf_fixture_load(struct hf_fixture *fx)
{
    const char *data = getenv("ACCELBENCH_TEST_DATA");
    assert_non_null(data);
    snprintf(fx->dir, sizeof fx->dir, "%s/gpt2_tiny", data);
    char p[4200], *text = NULL;
    size_t len;
    struct ab_error err = { { 0 } };
    snprintf(p, sizeof p, "%s/expected.json", fx->dir);
    assert_int_equal(ab_read_file(p, &text, &len, &err), AB_OK);
    /* the few fields needed, by hand: "P": n, "T": n, "vocab_size": n, and the two id lists */
    const char *at;
    assert_non_null(at = strstr(text, "\"P\": "));
    fx->P = atoi(at + 5);
    assert_non_null(at = strstr(text, "\"T\": "));
    fx->T = atoi(at + 5);
    assert_non_null(at = strstr(text, "\"vocab_size\": "));
    fx->V = atoi(at + 14);
    assert_true(fx->P > 1 && fx->P + fx->T <= 32 && fx->V > 0);
    const char *lists[2] = { "\"prompt_ids\": [", "\"greedy_ids\": [" };
    int *dst[2] = { fx->prompt, fx->greedy }, want[2] = { fx->P, fx->T };
    for (int l = 0; l < 2; l++) {
        assert_non_null(at = strstr(text, lists[l]));
        at += strlen(lists[l]);
        for (int i = 0; i < want[l]; i++) {
            char *end;
            dst[l][i] = (int)strtol(at, &end, 10);
            assert_true(end > at);
            at = end + strspn(end, ", \n");
        }
        assert_int_equal(*at, ']');
    }
    free(text);
    snprintf(p, sizeof p, "%s/logits.bin", fx->dir);
    assert_int_equal(ab_read_file(p, &text, &len, &err), AB_OK);
    assert_int_equal(len, (size_t)(fx->P + fx->T) * fx->V * 4);
    fx->logits = (float *)(void *)text; /* little-endian fp32, as this host */
}

/* |got - want| <= tol over a row; fails naming the row */
static double row_max_err(const float *got, const float *want, int V)
{
    double m = 0;
    for (int v = 0; v < V; v++)
        m = fmax(m, fabs((double)got[v] - want[v]));
    return m;
}

static void transformers_fixture_gives_the_same_greedy_ids_and_logits(void **state)
{
    struct hf_fixture fx;
    hf_fixture_load(&fx);
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    /* through the real loader, from the folder save_pretrained wrote */
    if (gpt2_params_load(&p, fx.dir, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(p.cfg.vocab, fx.V);
    assert_int_equal(p.cfg.n_layer, 2);
    int V = fx.V, P = fx.P, T = fx.T;
    struct gpt2_model *m;
    if (gpt2_model_create(&m, &p, AB_DTYPE_FP32, 1, P + T, P, &err))
        fail_msg("%s", err.msg);
    float *lg = malloc((size_t)P * V * 4);
    assert_non_null(lg);
    /* the prompt in one forward (the parallel attention path): every position's logits */
    assert_int_equal(gpt2_model_forward(m, fx.prompt, P, 0, true, lg, &err), AB_OK);
    double worst = 0;
    for (int i = 0; i < P; i++) {
        double e = row_max_err(lg + (size_t)i * V, fx.logits + (size_t)i * V, V);
        if (!(e <= 1e-4))
            fail_msg("prompt position %d: logits off transformers' by %g", i, e);
        worst = fmax(worst, e);
    }
    /* then greedy decode through the KV cache: the same tokens, the same logits at each step */
    int tok = gpt2_argmax(lg + (size_t)(P - 1) * V, V), seq[64];
    memcpy(seq, fx.prompt, (size_t)P * sizeof(int));
    for (int t = 0; t < T; t++) {
        if (tok != fx.greedy[t])
            fail_msg("greedy token %d: %d, transformers chose %d", t, tok, fx.greedy[t]);
        seq[P + t] = tok;
        if (t == T - 1)
            break;
        assert_int_equal(gpt2_model_forward(m, &tok, 1, P + t, false, lg, &err), AB_OK);
        double e = row_max_err(lg, fx.logits + (size_t)(P + t) * V, V);
        if (!(e <= 1e-4))
            fail_msg("decode step %d (position %d): logits off transformers' by %g", t, P + t, e);
        worst = fmax(worst, e);
        tok = gpt2_argmax(lg, V);
    }
    /* and the FP64 reference the workload verifies against agrees with transformers too */
    double *ref = malloc((size_t)(P + T) * V * sizeof *ref);
    assert_non_null(ref);
    assert_int_equal(gpt2_reference_logits(&p, seq, P + T, 0, false, ref, &err), AB_OK);
    for (int i = 0; i < P + T; i++)
        for (int v = 0; v < V; v++)
            if (!(fabs(ref[(size_t)i * V + v] - fx.logits[(size_t)i * V + v]) <= 1e-4))
                fail_msg("FP64 reference at position %d, token %d: %g, transformers %g", i, v,
                         ref[(size_t)i * V + v], fx.logits[(size_t)i * V + v]);
    print_message("fp32 logits within %.2g of transformers over %d prompt positions and %d steps\n", worst, P,
                  T - 1);
    free(ref), free(lg), free(fx.logits);
    gpt2_model_destroy(m);
    gpt2_params_free(&p);
}

/* The CPU model's own logits on the tiny fixture, saved from the model once its forward was
 * written over an op table, with the AVX2 GEMV and the fused decode step (they sum in another
 * order than oneDNN did: up to 1e-5 apart), resaved when several-token forwards moved to the
 * flash kernel and the AVX2 GEMM (up to 1.3e-5 from the last), when the GEMV's GELU became a vector exp
 * (up to 6e-6), when decode attention moved to ops_attn_decode (up to 7.6e-6)
 * and when the AVX2 GEMM took the GEMV's GELU (up to 9.5e-6)
 * (tests/data/gpt2_tiny/model_logits.bin; rewrite it with GPT2_WRITE_MODEL_LOGITS=FILE): two sequences, the
 * prompt's logits at every position, six greedy decode steps, then three tokens at once continuing the cache.
 * Bit for bit where this CPU takes the code paths of the one that saved them (no AVX-512, OMP_NUM_THREADS=2
 * as the tests run), else within 1e-5. */
enum { ML_B = 2, ML_STEPS = 6, ML_CONT = 3 };

static size_t model_logits_run(const struct hf_fixture *fx, float *out)
{
    struct gpt2_params p;
    struct gpt2_model *m;
    struct ab_error err = { { 0 } };
    if (gpt2_params_load(&p, fx->dir, &err))
        fail_msg("%s", err.msg);
    int P = fx->P, V = fx->V, tok[ML_B * 32], next[ML_B];
    if (gpt2_model_create(&m, &p, AB_DTYPE_FP32, ML_B, P + ML_STEPS + ML_CONT, P, &err))
        fail_msg("%s", err.msg);
    for (int i = 0; i < P; i++) /* the prompt, and the prompt backwards */
        tok[i] = fx->prompt[i], tok[P + i] = fx->prompt[P - 1 - i];
    size_t n = 0;
    assert_int_equal(gpt2_model_forward(m, tok, P, 0, true, out, &err), AB_OK);
    n += (size_t)ML_B * P * V;
    for (int b = 0; b < ML_B; b++)
        next[b] = gpt2_argmax(out + ((size_t)b * P + P - 1) * V, V);
    for (int t = 0; t < ML_STEPS; t++) {
        assert_int_equal(gpt2_model_forward(m, next, 1, P + t, false, out + n, &err), AB_OK);
        for (int b = 0; b < ML_B; b++)
            next[b] = gpt2_argmax(out + n + (size_t)b * V, V);
        n += (size_t)ML_B * V;
    }
    for (int i = 0; i < ML_B * ML_CONT; i++)
        tok[i] = fx->greedy[i];
    assert_int_equal(gpt2_model_forward(m, tok, ML_CONT, P + ML_STEPS, false, out + n, &err), AB_OK);
    n += (size_t)ML_B * V;
    gpt2_model_destroy(m);
    gpt2_params_free(&p);
    return n;
}

static void cpu_model_gives_the_logits_saved_before_the_op_table(void **state)
{
    struct hf_fixture fx;
    hf_fixture_load(&fx);
    size_t cap = (size_t)ML_B * (fx.P + ML_STEPS + 1) * fx.V;
    float *got = malloc(cap * sizeof *got);
    assert_non_null(got);
    size_t n = model_logits_run(&fx, got);
    assert_true(n <= cap);
    const char *save = getenv("GPT2_WRITE_MODEL_LOGITS");
    struct ab_error err = { { 0 } };
    if (save) {
        FILE *f = fopen(save, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(got, sizeof *got, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
    char p[4200], *text = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/model_logits.bin", fx.dir);
    if (ab_read_file(p, &text, &len, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(len, n * sizeof *got);
    const float *want = (const float *)(void *)text;
    /* oneDNN's kernels and its split of the work vary with the ISA and the thread count */
    const char *thr = getenv("OMP_NUM_THREADS");
    bool exact = !ab_cpu_has("avx512f") && thr && strcmp(thr, "2") == 0;
    size_t differ = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        differ += memcmp(&got[i], &want[i], sizeof *got) != 0;
        worst = fmax(worst, fabs((double)got[i] - want[i]));
    }
    if (exact && differ)
        fail_msg("%zu of %zu logits differ from the saved ones (by up to %g)", differ, n, worst);
    if (!(worst <= 1e-5))
        fail_msg("logits off the saved ones by %g", worst);
    print_message("%zu logits, %zu not bit for bit (%s)\n", n, differ,
                  exact ? "held exact" : "not the saving machine's paths");
    free(text), free(got), free(fx.logits);
}

/* The first samples.jsonl object of a results folder, and its run.json */
static cJSON *read_json(const char *file, bool first_line)
{
    char *text = NULL;
    size_t len;
    struct ab_error err = { { 0 } };
    if (ab_read_file(file, &text, &len, &err))
        fail_msg("%s", err.msg);
    if (first_line && strchr(text, '\n'))
        *strchr(text, '\n') = '\0';
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static int json_int_at(const cJSON *a, int i)
{
    const cJSON *v = cJSON_GetArrayItem(a, i);
    assert_true(cJSON_IsNumber(v));
    return (int)v->valuedouble;
}

/* FNV-1a 64 over little-endian int32 ids, as results/schema.md defines prompt_ids_hash */
static void fnv_hex(const int *ids, int n, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            h = (h ^ ((uint32_t)ids[i] >> (8 * k) & 0xff)) * 0x100000001b3ull;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* accelbench itself, from the fixture's folder and its prompt file: samples.jsonl holds
 * transformers' greedy ids and the top-5 of its logits at the last position; run.json the
 * seed, with which a random prompt comes out the same again. */
static void the_binary_reproduces_transformers_ids_and_records_them_with_the_seed(void **state)
{
    struct hf_fixture fx;
    hf_fixture_load(&fx);
    const char *exe = getenv("ACCELBENCH_EXE"), *data = getenv("ACCELBENCH_TEST_DATA");
    assert_non_null(exe);
    char cmd[9000], p[4400];
    /* relative paths: an axis value's length is limited, the folders' may not be */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' run -w gpt2 -d cpu --check -a weights=gpt2_tiny -a "
             "prompt_ids=gpt2_tiny/prompt_ids.txt "
             "-a dtype=fp32 -a batch=2 -a phase=decode -a prompt=%d -a gen=%d -o '%s/hf' >'%s/hf.log' 2>&1",
             data, exe, fx.P, fx.T - 1, dir, dir);
    if (system(cmd) != 0) {
        snprintf(p, sizeof p, "cat '%s/hf.log' >&2", dir);
        assert_int_equal(system(p), 0);
        fail_msg("%s failed", cmd);
    }
    snprintf(p, sizeof p, "%s/hf/samples.jsonl", dir);
    cJSON *o = read_json(p, true);
    const cJSON *d = cJSON_GetObjectItem(o, "detail");
    assert_true(cJSON_IsObject(d));
    const cJSON *pr = cJSON_GetObjectItem(d, "prompt_ids"), *gen = cJSON_GetObjectItem(d, "generated_ids");
    const cJSON *last = cJSON_GetObjectItem(d, "last_logits");
    assert_int_equal(cJSON_GetArraySize(pr), 2);
    assert_int_equal(cJSON_GetArraySize(gen), 2);
    int V = fx.V, row = fx.P + fx.T - 2; /* the logits that chose the last greedy token */
    const float *ref = fx.logits + (size_t)row * V;
    for (int b = 0; b < 2; b++) {
        const cJSON *pb = cJSON_GetArrayItem(pr, b), *gb = cJSON_GetArrayItem(gen, b);
        assert_int_equal(cJSON_GetArraySize(pb), fx.P);
        assert_int_equal(cJSON_GetArraySize(gb), fx.T);
        for (int i = 0; i < fx.P; i++)
            assert_int_equal(json_int_at(pb, i), fx.prompt[i]);
        for (int i = 0; i < fx.T; i++)
            if (json_int_at(gb, i) != fx.greedy[i])
                fail_msg("sequence %d, greedy token %d: %d, transformers chose %d", b, i, json_int_at(gb, i),
                         fx.greedy[i]);
        const cJSON *lb = cJSON_GetArrayItem(last, b), *top = cJSON_GetObjectItem(lb, "top5");
        assert_int_equal(cJSON_GetObjectItem(lb, "position")->valuedouble, row);
        double sum = 0;
        for (int v = 0; v < V; v++)
            sum += ref[v];
        assert_double_equal(cJSON_GetObjectItem(lb, "sum")->valuedouble, sum, 1e-2);
        assert_int_equal(cJSON_GetArraySize(top), 5);
        for (int k = 0; k < 5; k++) {
            const cJSON *pair = cJSON_GetArrayItem(top, k);
            int id = json_int_at(pair, 0);
            assert_double_equal(cJSON_GetArrayItem(pair, 1)->valuedouble, ref[id], 1e-4);
            int above = 0; /* transformers' logits rank this id k-th too */
            for (int v = 0; v < V; v++)
                above += ref[v] > ref[id];
            assert_int_equal(above, k);
        }
    }
    const cJSON *m = cJSON_GetObjectItem(o, "metrics");
    int both[64];
    memcpy(both, fx.prompt, (size_t)fx.P * sizeof(int));
    memcpy(both + fx.P, fx.prompt, (size_t)fx.P * sizeof(int));
    char hex[17];
    fnv_hex(both, 2 * fx.P, hex);
    assert_string_equal(cJSON_GetObjectItem(m, "prompt_ids_hash")->valuestring, hex);
    cJSON_Delete(o);
    snprintf(p, sizeof p, "%s/hf/run.json", dir);
    o = read_json(p, false);
    assert_string_equal(cJSON_GetObjectItem(o, "seed_source")->valuestring, "fresh");
    assert_true(cJSON_GetObjectItem(o, "seed")->valuedouble >= 1);
    cJSON_Delete(o);

    /* random prompts: a fresh seed, then that seed again, give the same prompt */
    char hash[2][17];
    double seed = 0;
    for (int r = 0; r < 2; r++) {
        char seed_opt[64] = "";
        if (r)
            snprintf(seed_opt, sizeof seed_opt, "--seed %.0f", seed);
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && '%s' run -w gpt2 -d cpu --check -a weights=gpt2_tiny -a dtype=fp32 -a batch=1 "
                 "-a phase=prefill -a prompt=5 %s -o '%s/r%d' >/dev/null 2>&1",
                 data, exe, seed_opt, dir, r);
        assert_int_equal(system(cmd), 0);
        snprintf(p, sizeof p, "%s/r%d/run.json", dir, r);
        o = read_json(p, false);
        assert_string_equal(cJSON_GetObjectItem(o, "seed_source")->valuestring, r ? "given" : "fresh");
        if (r)
            assert_double_equal(cJSON_GetObjectItem(o, "seed")->valuedouble, seed, 0);
        seed = cJSON_GetObjectItem(o, "seed")->valuedouble;
        cJSON_Delete(o);
        snprintf(p, sizeof p, "%s/r%d/samples.jsonl", dir, r);
        o = read_json(p, true);
        snprintf(hash[r], sizeof hash[r], "%s",
                 cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metrics"), "prompt_ids_hash")->valuestring);
        cJSON_Delete(o);
    }
    assert_string_equal(hash[0], hash[1]);
    free(fx.logits);
}

static void a_bad_prompt_file_is_a_clear_error(void **state)
{
    static const char *const files[][2] = {
        { "# a comment\n1, 2, 3, 4\n5 6 7\n",
          "prompt_ids.txt:3: 3 ids, fewer than the prompt's 4 (set -a prompt=3)" },
        { "1 2 97 4\n", "prompt_ids.txt:1: \"97\" is not a token id in [0, 97)" },
        { "1 2 x 4\n", "prompt_ids.txt:1: \"x\" is not a token id" },
        { "\n# nothing\n", "no line of token ids" },
    };
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        assert_int_equal(test_write_file("prompt_ids.txt", files[i][0]), 0);
        struct ab_case c = { .device = &dev, .seed = 1 };
        struct ab_error err = { { 0 } };
        assert_int_equal(ab_params_parse("model=tiny;dtype=fp32;phase=prefill;batch=3;prompt=4;gen=1;"
                                         "weights=model.safetensors;prompt_ids=prompt_ids.txt",
                                         &c.params, &err),
                         AB_OK);
        ab_status st = setup_and_teardown(&c, &err);
        if (st != AB_EINVAL || !strstr(err.msg, files[i][1]))
            fail_msg("file %zu: status %d, \"%s\"", i, st, err.msg);
    }
    /* two lines for three sequences: the lines repeat, so sequences 0 and 2 get the same prompt */
    assert_int_equal(test_write_file("prompt_ids.txt", "1 2 3 4 5\n6,7,8,9\n"), 0);
    struct ab_case c = { .device = &dev, .seed = 1 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_params_parse("model=tiny;dtype=fp32;phase=prefill;batch=3;prompt=4;gen=1;"
                                     "weights=model.safetensors;prompt_ids=prompt_ids.txt",
                                     &c.params, &err),
                     AB_OK);
    int want[12] = { 1, 2, 3, 4, 6, 7, 8, 9, 1, 2, 3, 4 }, got[12];
    assert_int_equal(gpt2_case_prompt(&c, V_, 3, 4, got, &err), AB_OK);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(chdir(cwd), 0);
}

/* A checkpoint of distilgpt2's shape (6 layers, 768 wide, 12 heads; a vocabulary of 1000 and
 * 16 positions keep the file near 85 MB of bf16) written here, run by the real binary from its
 * folder: the rows verify, and their metrics give the file's shape, whatever `model` says. */
static void a_distilgpt2_shaped_checkpoint_runs_through_the_binary(void **state)
{
    enum { L = 6, C = 768, V = 1000, NP = 16 };
    const char *exe = getenv("ACCELBENCH_EXE");
    assert_non_null(exe);
    char d[4300];
    snprintf(d, sizeof d, "%s/distil", dir);
    assert_int_equal(mkdir(d, 0777), 0);
    size_t per_layer = 12 * (size_t)C * C + 13 * (size_t)C,
           total = (size_t)(V + NP) * C + L * per_layer + 2 * C;
    uint16_t *w = malloc(total * 2);
    float *f = malloc(total * 4);
    assert_non_null(w);
    assert_non_null(f);
    ab_fill_normal_f32(f, total, 99, 0.02f);
    struct st_writer wr = { 0 };
    size_t at = 0;
    char n[96];
    /* norms near 1, everything else as drawn (GPT-2's std 0.02) */
#define PUT(name, d0, d1, gain)                                                                              \
    do {                                                                                                     \
        size_t cnt = (size_t)(d0) * ((d1) ? (size_t)(d1) : 1);                                               \
        for (size_t i = 0; i < cnt; i++)                                                                     \
            w[at + i] = ab_bf16_from_f32(f[at + i] + (gain));                                                \
        st_add_raw(&wr, name, "BF16", 2, w + at, (d1) ? 2 : 1, (const int64_t[]){ d0, d1 });                 \
        at += cnt;                                                                                           \
    } while (0)
    PUT("transformer.wte.weight", V, C, 0);
    PUT("transformer.wpe.weight", NP, C, 0);
    PUT("transformer.ln_f.weight", C, 0, 1);
    PUT("transformer.ln_f.bias", C, 0, 0);
    for (int l = 0; l < L; l++) {
#define PUTL(suffix, d0, d1, gain)                                                                           \
    do {                                                                                                     \
        snprintf(n, sizeof n, "transformer.h.%d.%s", l, suffix);                                             \
        PUT(n, d0, d1, gain);                                                                                \
    } while (0)
        PUTL("ln_1.weight", C, 0, 1);
        PUTL("ln_1.bias", C, 0, 0);
        PUTL("attn.c_attn.weight", C, 3 * C, 0);
        PUTL("attn.c_attn.bias", 3 * C, 0, 0);
        PUTL("attn.c_proj.weight", C, C, 0);
        PUTL("attn.c_proj.bias", C, 0, 0);
        PUTL("ln_2.weight", C, 0, 1);
        PUTL("ln_2.bias", C, 0, 0);
        PUTL("mlp.c_fc.weight", C, 4 * C, 0);
        PUTL("mlp.c_fc.bias", 4 * C, 0, 0);
        PUTL("mlp.c_proj.weight", 4 * C, C, 0);
        PUTL("mlp.c_proj.bias", C, 0, 0);
#undef PUTL
    }
#undef PUT
    assert_int_equal(at, total);
    size_t len;
    uint8_t *buf = st_serialize(&wr, &len);
    char p[4400];
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    assert_int_equal(st_write_file(p, buf, len), 0);
    free(buf), free(w), free(f);
    snprintf(p, sizeof p, "%s/config.json", d);
    assert_int_equal(test_write_file(p, "{\"model_type\": \"gpt2\", \"n_layer\": 6, \"n_embd\": 768, "
                                        "\"n_head\": 12, \"vocab_size\": 1000, \"n_positions\": 16}"),
                     0);
    /* from the folder, with a relative path: temporary folders are longer than an axis value holds */
    char cmd[9000];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' run -w gpt2 -d cpu --check -a weights=distil -a dtype=fp32 -a kv_dtype=fp32 -a "
             "batch=1 "
             "-a phase=decode -a prompt=7 -a gen=5 -o out >out.log 2>&1",
             dir, exe);
    int rc = system(cmd);
    snprintf(p, sizeof p, "%s/out/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_csv_read(p, &set, NULL, 0, &err), AB_OK);
    assert_int_equal(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
    if (set.n != 1) /* decode: its verify covers the prompt and the decode steps */
        fail_msg("%d rows, the last %s %s: %s", (int)set.n, set.rows[set.n - 1].workload,
                 set.rows[set.n - 1].params, set.rows[set.n - 1].message);
    for (int64_t i = 0; i < set.n; i++) {
        const struct ab_result *r = &set.rows[i];
        if (r->status != AB_OK)
            fail_msg("%s: %s", r->params, r->message);
        assert_string_equal(ab_result_metric_text(r, "weights"), "file");
        assert_null(strstr(r->params, "kv_dtype")); /* fp32, the implicit value: as rows before it */
        assert_int_equal(ab_result_metric(r, "n_layer"), L);
        assert_int_equal(ab_result_metric(r, "n_embd"), C);
        assert_int_equal(ab_result_metric(r, "n_head"), 12);
        assert_int_equal(ab_result_metric(r, "vocab_size"), V);
        assert_int_equal(ab_result_metric(r, "n_positions"), NP);
        assert_int_equal(ab_result_metric(r, "verified_prompt_tokens"), 7);
        assert_true(ab_result_metric(r, "max_abs_err") < 1e-3);
    }
    assert_int_equal(ab_result_metric(&set.rows[0], "verified_decode_steps"), 5);
    ab_result_set_free(&set);
}

static void check_cases_verify_every_position_and_decode_step(void **state)
{
    static const char *const dts[] = { "fp32", "bf16" };
    for (int d = 0; d < 2; d++) {
        char params[256];
        snprintf(params, sizeof params,
                 "model=tiny;dtype=%s;phase=decode;batch=3;prompt=7;gen=5;weights=random", dts[d]);
        struct ab_case c;
        struct ab_error err = { { 0 } };
        ab_status st = run_check_case(params, &c, &err, NULL);
        if (d == 1 && !cpu_has_bf16_matmul()) {
            assert_int_equal(st, AB_EUNSUPPORTED);
            assert_string_equal(err.msg, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
            continue;
        }
        if (st)
            fail_msg("%s: %s", params, err.msg);
        assert_int_equal(metric(&c, "verified_prompt_tokens"), 7);
        assert_int_equal(metric(&c, "verified_decode_steps"), 5);
        assert_int_equal(metric(&c, "verified_sequences"), 3);
        assert_int_equal(metric(&c, "verified_positions"), 7);
        double atol, rtol;
        gpt2_logit_tolerance(d == 1, &atol, &rtol);
        assert_true(metric(&c, "max_abs_err") > 0 && metric(&c, "max_abs_err") < atol);
    }
}

/* cpu.c's state begins with its fp32 parameters, which only the reference reads for the
 * matmul weights (the model packed its own copy): changing one makes the check fail */
static void corrupt_reference_weights(struct ab_case *c)
{
    struct gpt2_params *p = c->state;
    for (size_t i = 0; i < 4 * (size_t)p->cfg.n_embd * p->cfg.n_embd; i++)
        p->layers[1].fc_w[i] += 0.5f;
}

static void check_case_fails_when_model_and_reference_disagree(void **state)
{
    struct ab_case c;
    struct ab_error err = { { 0 } };
    ab_status st =
        run_check_case("model=tiny;dtype=fp32;phase=prefill;batch=3;prompt=70;gen=5;weights=random", &c, &err,
                       corrupt_reference_weights);
    assert_int_equal(st, AB_EMISMATCH);
    /* every prompt position of sequence 0 is checked: the first already fails */
    assert_non_null(strstr(err.msg, "sequence 0, position 0:"));
    assert_non_null(strstr(err.msg, "off the FP64 reference"));
}

/* ------------------------------------------------------------------ the op table */

/* An op table that only writes down what it is asked, naming the forward's buffers: the
 * order of the one forward is what each backend runs (CUDA's is what its own forward ran). */
struct rec {
    struct gpt2_fwd f;
    char log[8192];
    int tokens_in, picks;
    const struct gpt2_ops *inner; /* where counting ops pass the call on; NULL to record */
    void *inner_ctx;
};
static char bufs[6][64]; /* stand-ins for x, qkv, att, h, mmin, lpad: never read */

static const char *buf_name(const void *ptr)
{
    static const char *const names[] = { "x", "qkv", "att", "h", "mmin", "lpad" };
    for (int i = 0; i < 6; i++)
        if (ptr == bufs[i])
            return names[i];
    return "?";
}

static void say(struct rec *r, const char *fmt, ...)
{
    size_t l = strlen(r->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->log + l, sizeof r->log - l, fmt, ap);
    va_end(ap);
}

static ab_status rec_embed(void *ctx, float *x, const int *tokens, struct gpt2_span at, struct ab_error *err)
{
    say(ctx, "embed %s Tq%d@%d;", buf_name(x), at.Tq, at.pos0);
    return AB_OK;
}
static ab_status rec_layernorm(void *ctx, void *out, const float *x, const float *g, const float *b, int rows,
                               int rstep, int roff, struct ab_error *err)
{
    say(ctx, "ln %s<-%s %d/%d+%d;", buf_name(out), buf_name(x), rows, rstep, roff);
    return AB_OK;
}
static ab_status rec_convert(void *ctx, void *dst, const float *src, size_t n, struct ab_error *err)
{
    say(ctx, "cv %s<-%s %zu;", buf_name(dst), buf_name(src), n);
    return AB_OK;
}
static ab_status rec_matmul(void *ctx, int layer, enum gpt2_mm kind, float *out, const void *in,
                            const float *bias, int M, struct ab_error *err)
{
    static const char *const k[] = { "qkv", "proj", "fc", "fcp", "head" };
    say(ctx, "mm%d %s %s<-%s M%d%s;", layer, k[kind], buf_name(out), buf_name(in), M, bias ? " b" : "");
    return AB_OK;
}
static ab_status rec_kv(void *ctx, int layer, const float *qkv, struct gpt2_span at, struct ab_error *err)
{
    say(ctx, "kv%d <-%s;", layer, buf_name(qkv));
    return AB_OK;
}
static ab_status rec_attn(void *ctx, int layer, float *out, const float *qkv, struct gpt2_span at,
                          struct ab_error *err)
{
    say(ctx, "attn%d %s<-%s;", layer, buf_name(out), buf_name(qkv));
    return AB_OK;
}
static ab_status rec_out(void *ctx, float *dst, int row0, int n, struct ab_error *err)
{
    say(ctx, "out %d+%d;", row0, n);
    return AB_OK;
}

static const struct gpt2_ops rec_ops = { .embed = rec_embed,
                                         .layernorm = rec_layernorm,
                                         .convert = rec_convert,
                                         .matmul = rec_matmul,
                                         .kv_append = rec_kv,
                                         .attention = rec_attn,
                                         .logits_out = rec_out };

/* one block as CUDA's forward ran it: 16-bit runs convert att and h into the matmul input */
static void expect_block(char *e, size_t cap, int l, int M, int C, bool half)
{
    size_t n = strlen(e);
    char cv_att[64] = "", cv_h[64] = "";
    if (half) {
        snprintf(cv_att, sizeof cv_att, "cv mmin<-att %d;", M * C);
        snprintf(cv_h, sizeof cv_h, "cv mmin<-h %d;", M * 4 * C);
    }
    snprintf(e + n, cap - n,
             "ln mmin<-x %d/1+0;mm%d qkv qkv<-mmin M%d b;kv%d <-qkv;attn%d att<-qkv;%s"
             "mm%d proj x<-%s M%d b;ln mmin<-x %d/1+0;mm%d fc h<-mmin M%d b;%smm%d fcp x<-%s M%d b;",
             M, l, M, l, l, cv_att, l, half ? "mmin" : "att", M, M, l, M, cv_h, l, half ? "mmin" : "h", M);
}

static void forward_runs_the_ops_in_the_order_of_cudas_own_forward(void **state)
{
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    enum { B = 2, Tq = 3 };
    static const enum ab_dtype dts[] = { AB_DTYPE_FP32, AB_DTYPE_FP16 };
    for (int d = 0; d < 2; d++) {
        struct rec r = { .f = { .ops = &rec_ops,
                                .p = &p,
                                .dt = dts[d],
                                .B = B,
                                .max_T = 16,
                                .max_Tq = 8,
                                .x = (float *)bufs[0],
                                .qkv = (float *)bufs[1],
                                .att = (float *)bufs[2],
                                .h = (float *)bufs[3],
                                .mmin = bufs[4],
                                .lpad = (float *)bufs[5] } };
        r.f.ctx = &r;
        assert_int_equal(
            gpt2_forward(&r.f, NULL, (struct gpt2_span){ .Tq = Tq, .pos0 = 4 }, false, NULL, &err), AB_OK);
        char want[8192] = "embed x Tq3@4;";
        for (int l = 0; l < L_; l++)
            expect_block(want, sizeof want, l, B * Tq, C_, d == 1);
        /* the final norm of each sequence's last position (row b*Tq + Tq-1), then the head */
        size_t n = strlen(want);
        snprintf(want + n, sizeof want - n, "ln mmin<-x 2/3+2;mm-1 head lpad<-mmin M2;");
        assert_string_equal(r.log, want);
        /* every position's logits, B rows at a time, each chunk copied out */
        r.log[0] = '\0';
        r.f.all_logits = true;
        static float lg[B * Tq * V_];
        assert_int_equal(gpt2_forward(&r.f, NULL, (struct gpt2_span){ .Tq = Tq }, true, lg, &err), AB_OK);
        assert_non_null(strstr(r.log, "ln mmin<-x 2/1+0;mm-1 head lpad<-mmin M2;out 0+2;"
                                      "ln mmin<-x 2/1+2;mm-1 head lpad<-mmin M2;out 0+2;"
                                      "ln mmin<-x 2/1+4;mm-1 head lpad<-mmin M2;out 0+2;"));
    }
    gpt2_params_free(&p);
}

static void matmul_table_gives_the_shapes_and_epilogues_of_a_block(void **state)
{
    struct gpt2_config cfg = { .n_layer = 2, .n_embd = 64, .n_head = 4, .vocab = 97, .max_pos = 32 };
    int N, K;
    unsigned f;
    struct {
        enum gpt2_mm kind;
        int N, K;
        unsigned flags;
    } want[] = {
        { GPT2_MM_QKV, 192, 64, OPS_MM_BIAS },
        { GPT2_MM_PROJ, 64, 64, OPS_MM_BIAS | OPS_MM_ACCUM },
        { GPT2_MM_FC, 256, 64, OPS_MM_BIAS | OPS_MM_GELU },
        { GPT2_MM_FCP, 64, 256, OPS_MM_BIAS | OPS_MM_ACCUM },
        { GPT2_MM_HEAD, 128, 64, 0 },
    };
    for (int i = 0; i < 5; i++) {
        gpt2_mm_shape(&cfg, want[i].kind, &N, &K, &f);
        assert_int_equal(N, want[i].N);
        assert_int_equal(K, want[i].K);
        assert_int_equal(f, want[i].flags);
    }
    struct gpt2_params p;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_ptr_equal(gpt2_mm_weight(&p, 1, GPT2_MM_FC), p.layers[1].fc_w);
    assert_ptr_equal(gpt2_mm_weight(&p, 0, GPT2_MM_QKV), p.layers[0].qkv_w);
    assert_ptr_equal(gpt2_mm_weight(&p, -1, GPT2_MM_HEAD), p.wte);
    gpt2_params_free(&p);
}

/* The CPU's ops, counted, for the shared verify */
static ab_status cnt_tokens_in(void *ctx, const int *host, int n, const int **out, struct ab_error *err)
{
    struct rec *r = ctx;
    r->tokens_in++;
    return r->inner->tokens_in(r->inner_ctx, host, n, out, err);
}
static ab_status cnt_pick(void *ctx, int pos, int *tok, const int **next, struct ab_error *err)
{
    struct rec *r = ctx;
    r->picks++;
    return r->inner->pick(r->inner_ctx, pos, tok, next, err);
}
#define PASS(name, args, call)                                                                               \
    static ab_status cnt_##name args                                                                         \
    {                                                                                                        \
        struct rec *r = ctx;                                                                                 \
        return r->inner->name call;                                                                          \
    }
PASS(embed, (void *ctx, float *x, const int *t, struct gpt2_span at, struct ab_error *err),
     (r->inner_ctx, x, t, at, err))
PASS(layernorm,
     (void *ctx, void *out, const float *x, const float *g, const float *b, int rows, int rs, int ro,
      struct ab_error *err),
     (r->inner_ctx, out, x, g, b, rows, rs, ro, err))
PASS(convert, (void *ctx, void *dst, const float *src, size_t n, struct ab_error *err),
     (r->inner_ctx, dst, src, n, err))
PASS(matmul,
     (void *ctx, int l, enum gpt2_mm k, float *out, const void *in, const float *bias, int M,
      struct ab_error *err),
     (r->inner_ctx, l, k, out, in, bias, M, err))
PASS(kv_append, (void *ctx, int l, const float *qkv, struct gpt2_span at, struct ab_error *err),
     (r->inner_ctx, l, qkv, at, err))
PASS(attention, (void *ctx, int l, float *out, const float *qkv, struct gpt2_span at, struct ab_error *err),
     (r->inner_ctx, l, out, qkv, at, err))
PASS(logits_out, (void *ctx, float *dst, int row0, int n, struct ab_error *err),
     (r->inner_ctx, dst, row0, n, err))
#undef PASS

static const struct gpt2_ops cnt_ops = { .embed = cnt_embed,
                                         .layernorm = cnt_layernorm,
                                         .convert = cnt_convert,
                                         .matmul = cnt_matmul,
                                         .kv_append = cnt_kv_append,
                                         .attention = cnt_attention,
                                         .logits_out = cnt_logits_out,
                                         .tokens_in = cnt_tokens_in,
                                         .pick = cnt_pick };

/* gpt2_check_forward on a backend that returns only the last position's logits (as CUDA):
 * each earlier prompt position through the forward of its prefix, the greedy tokens by the
 * backend's pick; on one that returns every position's (the CPU), one prompt forward and the
 * first pick on the host. Both pass on a sound model, record the same plan, and fail on a broken one. */
static void shared_verify_takes_prefixes_where_the_backend_gives_only_last_logits(void **state)
{
    enum { B = 2, P = 5, T = 3 };
    struct gpt2_params p;
    struct gpt2_model *m;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&m, &p, AB_DTYPE_FP32, B, P + T, P, &err), AB_OK);
    int prompt[B * P];
    random_tokens(prompt, B * P, 5);
    struct gpt2_vplan vp;
    gpt2_verify_plan(&p.cfg, B, P, T, true, &vp);
    assert_int_equal(vp.all, P);
    double err_of[2];
    for (int last_only = 0; last_only < 2; last_only++) {
        struct rec r = { .f = *gpt2_model_fwd(m), .inner = gpt2_model_fwd(m)->ops, .inner_ctx = m };
        r.f.ops = &cnt_ops, r.f.ctx = &r, r.f.all_logits = !last_only;
        struct ab_case c = { 0 };
        if (gpt2_check_forward(&c, &r.f, &vp, prompt, P, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(metric(&c, "verified_positions"), P);
        assert_int_equal(metric(&c, "verified_decode_steps"), T);
        err_of[last_only] = metric(&c, "max_abs_err");
        assert_true(err_of[last_only] > 0 && err_of[last_only] < 1e-4);
        /* prefixes of 1 .. P-1 tokens and the prompt, every step picked by the backend; or the
         * prompt and the first step's tokens picked on the host from every position's logits */
        assert_int_equal(r.tokens_in, last_only ? P : 2);
        assert_int_equal(r.picks, last_only ? T : T - 1);
        if (last_only) /* such a backend cannot be asked for every position */
            assert_int_equal(gpt2_forward(&r.f, prompt, (struct gpt2_span){ .Tq = P }, true, NULL, &err),
                             AB_EINVAL);
    }
    print_message("max_abs_err %.3g with every position's logits, %.3g through prefixes\n", err_of[0],
                  err_of[1]);
    /* a reference that disagrees fails the check of the first position, either way */
    for (size_t i = 0; i < 4 * (size_t)C_ * C_; i++)
        p.layers[0].fc_w[i] += 0.5f;
    struct ab_case c = { 0 };
    struct gpt2_fwd f = *gpt2_model_fwd(m);
    f.all_logits = false;
    assert_int_equal(gpt2_check_forward(&c, &f, &vp, prompt, P, &err), AB_EMISMATCH);
    assert_non_null(strstr(err.msg, "sequence 0, position 0:"));
    gpt2_model_destroy(m);
    gpt2_params_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loader_reads_config_and_every_tensor),
        cmocka_unit_test(prefill_logits_match_fp64_reference_in_fp32),
        cmocka_unit_test(prefill_logits_match_fp64_reference_in_bf16_loosely),
        cmocka_unit_test(kv_cached_decode_matches_full_recompute),
        cmocka_unit_test(prefill_in_one_or_more_chunks_over_either_cache_matches_the_reference),
        cmocka_unit_test(decode_steps_of_few_sequences_are_fused_where_the_gemv_has_blocks),
        cmocka_unit_test(fused_decode_matches_the_per_op_forward),
        cmocka_unit_test(bf16_kv_cache_decode_is_within_its_own_tolerance),
        cmocka_unit_test(a_bf16_kv_cache_applies_to_the_cpu_only),
        cmocka_unit_test(named_configs_have_published_parameter_counts),
        cmocka_unit_test(work_model_counts_matmuls_attention_and_logits),
        cmocka_unit_test(missing_weights_file_is_a_clear_error),
        cmocka_unit_test(weights_of_any_shape_run_with_the_shape_of_their_config),
        cmocka_unit_test(unsupported_points_are_skipped_with_a_reason),
        cmocka_unit_test(argmax_of_a_nan_row_is_its_first_nan_and_in_range),
        cmocka_unit_test(argmax_of_all_minus_infinity_is_zero_and_ties_take_the_lowest_index),
        cmocka_unit_test(kernel_reduction_agrees_with_the_sequential_scan),
        cmocka_unit_test(picking_tokens_from_nan_logits_is_a_mismatch_saying_so),
        cmocka_unit_test(verify_plan_covers_the_check_cases_whole),
        cmocka_unit_test(verify_plan_shortens_only_what_the_reference_cannot_afford),
        cmocka_unit_test(reference_of_the_last_positions_is_the_tail_of_the_full_one),
        cmocka_unit_test(transformers_fixture_gives_the_same_greedy_ids_and_logits),
        cmocka_unit_test(cpu_model_gives_the_logits_saved_before_the_op_table),
        cmocka_unit_test(the_binary_reproduces_transformers_ids_and_records_them_with_the_seed),
        cmocka_unit_test(a_bad_prompt_file_is_a_clear_error),
        cmocka_unit_test(a_distilgpt2_shaped_checkpoint_runs_through_the_binary),
        cmocka_unit_test(check_cases_verify_every_position_and_decode_step),
        cmocka_unit_test(check_case_fails_when_model_and_reference_disagree),
        cmocka_unit_test(forward_runs_the_ops_in_the_order_of_cudas_own_forward),
        cmocka_unit_test(matmul_table_gives_the_shapes_and_epilogues_of_a_block),
        cmocka_unit_test(shared_verify_takes_prefixes_where_the_backend_gives_only_last_logits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
