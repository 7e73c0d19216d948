/* test_gpt2.c — the gpt2 workload on a tiny GPT-2 (2 layers, 64 wide, 4 heads, vocabulary
 * 97): random weights written as a Hugging Face safetensors file, loaded through the real
 * loader, prefill logits checked against an FP64 forward pass written here from the file's
 * own (input-major Conv1D) layout, and KV-cached decode checked against recomputation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <unistd.h>

#include "accelbench.h"
#include "gpt2/gpt2.h"
#include "gpt2/model.h"
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

static void add_tensors(struct st_writer *w, const char *prefix)
{
    char n[96];
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

static void check_prefill(enum gpt2_dtype dt, double atol, double rtol_of_max)
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
    print_message("max abs error %s: %.3g\n", dt == GPT2_BF16 ? "bf16" : "fp32", max_err);
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
    check_prefill(GPT2_F32, 1e-4, 0);
}

static void prefill_logits_match_fp64_reference_in_bf16_loosely(void **state)
{
    check_prefill(GPT2_BF16, 0, 0.03);
}

static void kv_cached_decode_matches_full_recompute(void **state)
{
    enum { B = 2, P = 5, T = 9 };
    struct gpt2_params p;
    struct gpt2_model *dec, *full;
    struct ab_error err = { { 0 } };
    assert_int_equal(gpt2_params_load(&p, path, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&dec, &p, GPT2_F32, B, P + T, P, &err), AB_OK);
    assert_int_equal(gpt2_model_create(&full, &p, GPT2_F32, B, P + T, P + T, &err), AB_OK);
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
        /* recompute the whole sequence so far from scratch */
        int n = P + t + 1;
        for (int b = 0; b < B; b++)
            memcpy(tok + b * n, seq[b], n * sizeof(int));
        assert_int_equal(gpt2_model_forward(full, tok, n, 0, true, all, &err), AB_OK);
        for (int b = 0; b < B; b++)
            for (int v = 0; v < V_; v++)
                assert_double_equal(lg[b * V_ + v], all[((size_t)b * n + n - 1) * V_ + v], 1e-5);
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

static void missing_weights_file_is_a_clear_error(void **state)
{
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    struct ab_case c = { .device = &dev, .seed = 1 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_params_parse("model=124M;dtype=fp32;phase=decode;batch=1;prompt=8;gen=4;"
                                     "weights=/nonexistent/model.safetensors",
                                     &c.params, &err),
                     AB_OK);
    ab_status st = gpt2_cpu_impl.setup(&c, &err);
    gpt2_cpu_impl.teardown(&c);
    assert_int_not_equal(st, AB_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/model.safetensors"));
    assert_non_null(strstr(err.msg, "config.json"));
}

static void weights_of_another_size_are_refused(void **state)
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
    gpt2_cpu_impl.teardown(&c);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(st, AB_EINVAL);
    assert_non_null(strstr(err.msg, "not GPT-2 124M"));
}

static void unsupported_points_are_skipped_with_a_reason(void **state)
{
    struct ab_device dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };
    static const char *const cases[][2] = {
        { "model=124M;dtype=fp16;phase=prefill;batch=1;prompt=8;gen=4;weights=random", "fp32 and bf16" },
        { "model=124M;dtype=bf16;phase=decode;batch=1;prompt=1024;gen=128;weights=random",
          "1152 positions: GPT-2 has 1024" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ab_case c = { .device = &dev, .seed = 1 };
        struct ab_error err = { { 0 } };
        assert_int_equal(ab_params_parse(cases[i][0], &c.params, &err), AB_OK);
        ab_status st = gpt2_cpu_impl.setup(&c, &err);
        gpt2_cpu_impl.teardown(&c);
        assert_int_equal(st, AB_EUNSUPPORTED);
        if (!strstr(err.msg, cases[i][1]))
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i][0], err.msg, cases[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loader_reads_config_and_every_tensor),
        cmocka_unit_test(prefill_logits_match_fp64_reference_in_fp32),
        cmocka_unit_test(prefill_logits_match_fp64_reference_in_bf16_loosely),
        cmocka_unit_test(kv_cached_decode_matches_full_recompute),
        cmocka_unit_test(named_configs_have_published_parameter_counts),
        cmocka_unit_test(work_model_counts_matmuls_attention_and_logits),
        cmocka_unit_test(missing_weights_file_is_a_clear_error),
        cmocka_unit_test(weights_of_another_size_are_refused),
        cmocka_unit_test(unsupported_points_are_skipped_with_a_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
