/* cpu.c — gpt2 on the CPU. Setup builds the parameters (seeded random or a safetensors
 * file), the run-dtype model and its KV cache. A prefill repetition processes the whole
 * prompt of every sequence and picks the first token; a decode repetition generates `gen`
 * tokens greedily from the cache the setup's prefill filled (each repetition overwrites the
 * same positions, so all repetitions do the same work). Per-step times give the time per
 * output token's median and p95. */
#include "gpt2.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cpu_state {
    struct gpt2_params params;
    struct gpt2_model *model;
    bool decode;
    int B, P, T;
    int *prompt;                 /* (B, P) */
    int *next;                   /* (B) tokens fed to the next step */
    int *first;                  /* (B) the token prefill chose */
    int *gen;                    /* (B, 1 + T) the greedy ids: first, then each decode step's */
    int n_gen;                   /* columns of gen filled by the last prefill or decode */
    float *logits;               /* (B, V) */
    struct gpt2_times steps_s;   /* per decode step times, across repetitions */
    struct gpt2_times prefill_s; /* per prefill repetition */
    double ttft_s;
};

/* column i of the greedy ids (B, 1 + T) */
static void keep_tokens(struct cpu_state *s, int i, const int *tok)
{
    for (int b = 0; b < s->B; b++)
        s->gen[(size_t)b * (1 + s->T) + i] = tok[b];
    s->n_gen = i + 1;
}

/* T greedy decode steps from the prefilled cache and its first tokens; step_s (may be NULL)
 * gets each step's time */
static ab_status decode(struct cpu_state *s, double *step_s, struct ab_error *err)
{
    int V = s->params.cfg.vocab;
    memcpy(s->next, s->first, (size_t)s->B * sizeof(int));
    keep_tokens(s, 0, s->first);
    for (int i = 0; i < s->T; i++) {
        double ts = ab_now_s();
        ab_status st = gpt2_model_forward(s->model, s->next, 1, s->P + i, false, s->logits, err);
        if (!st)
            st = gpt2_pick_tokens(s->logits, (size_t)V, s->B, V, s->P + i, s->next, err);
        if (st)
            return st;
        if (step_s)
            step_s[i] = ab_now_s() - ts;
        keep_tokens(s, i + 1, s->next);
    }
    return AB_OK;
}

static ab_status prefill(struct cpu_state *s, double *time_s, struct ab_error *err)
{
    double t0 = ab_now_s();
    ab_status st = gpt2_model_forward(s->model, s->prompt, s->P, 0, false, s->logits, err);
    if (st)
        return st;
    int V = s->params.cfg.vocab;
    st = gpt2_pick_tokens(s->logits, (size_t)V, s->B, V, s->P - 1, s->first, err);
    *time_s = ab_now_s() - t0;
    keep_tokens(s, 0, s->first);
    return st;
}

static ab_status gpt2_cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    const struct ab_params *ps = &c->params;
    enum ab_dtype dt = ab_param_is(ps, "dtype", "bf16") ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
    enum ab_dtype kv_dt = ab_param_is(ps, "kv_dtype", "bf16") ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
    if (!ab_param_is(ps, "dtype", "bf16") && !ab_param_is(ps, "dtype", "fp32"))
        return ab_fail(err, AB_EUNSUPPORTED, "dtype %s: the CPU runs fp32 and bf16",
                       ab_param_str(ps, "dtype", "?"));
    struct gpt2_case gc;
    ab_status st = gpt2_case_read(c, &gc, err);
    if (st)
        return st;
    s->decode = gc.decode, s->B = gc.B, s->P = gc.P, s->T = gc.T;
    struct gpt2_config cfg = gc.cfg;
    int max_T = gc.max_T;
    st = gpt2_dtype_supported(dt, err); /* before making any weights */
    if (st)
        return st;
    if (dt == AB_DTYPE_BF16 && !ab_cpu_has("avx512_bf16") && !ab_cpu_has("amx_bf16"))
        ab_case_metric_text(c, "bf16_note", "no native bf16 dot product: emulated by oneDNN");
    uint64_t need = gpt2_param_count(&cfg) * 4 + gpt2_model_bytes_kv(&cfg, dt, kv_dt, s->B, max_T, s->P) +
                    (uint64_t)s->B * cfg.vocab * 4;
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM, "needs %.2f GB, more than fits in memory", need * 1e-9);
    ab_case_metric(c, "peak_mem_bytes", (double)need);
    if ((st = gpt2_case_weights(c, &cfg, &s->params, err)))
        return st;
    cfg = s->params.cfg;
    if ((st = gpt2_model_create_kv(&s->model, &s->params, dt, kv_dt, s->B, max_T, s->P, err)))
        return st;
    s->prompt = malloc((size_t)s->B * s->P * sizeof(int));
    s->next = malloc((size_t)s->B * sizeof(int));
    s->first = malloc((size_t)s->B * sizeof(int));
    s->gen = malloc((size_t)s->B * (1 + (size_t)s->T) * sizeof(int));
    s->logits = ab_alloc((size_t)s->B * cfg.vocab * 4);
    if (!s->prompt || !s->next || !s->first || !s->gen || !s->logits)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    if ((st = gpt2_case_prompt(c, cfg.vocab, s->B, s->P, s->prompt, err)))
        return st;

    gpt2_set_work(c, &cfg, dt == AB_DTYPE_BF16 ? 2 : 4, dt == AB_DTYPE_BF16 ? "bf16_gemm" : "fp32_gemm", s->B,
                  s->P, s->T, s->decode);
    return AB_OK;
}

static ab_status gpt2_cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    struct gpt2_vplan vp;
    gpt2_verify_plan(&s->params.cfg, s->B, s->P, s->T, s->decode, &vp);
    ab_status st = gpt2_check_forward(c, gpt2_model_fwd(s->model), &vp, s->prompt, s->P, err);
    if (st)
        return st;
    /* the prompt's prefill fills the cache decode repetitions start from; timed twice, the
     * second (warm) time is the time to first token */
    double t;
    if ((st = prefill(s, &t, err)) || (st = prefill(s, &s->ttft_s, err)))
        return st;
    ab_case_metric(c, "ttft_s", s->ttft_s);
    /* the check suite times nothing: its decode rows still record what greedy decode makes */
    if (c->suite == AB_SUITE_CHECK && s->decode)
        return decode(s, NULL, err);
    return AB_OK;
}

static ab_status gpt2_cpu_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    ab_status st;
    double t0 = ab_now_s();
    for (int64_t r = 0; r < reps; r++) {
        if (!s->decode) {
            double t;
            if ((st = prefill(s, &t, err)) || (st = gpt2_times_push(&s->prefill_s, t, err)))
                return st;
            continue;
        }
        double *step_s = NULL;
        if ((st = gpt2_times_reserve(&s->steps_s, s->T, &step_s, err)) || (st = decode(s, step_s, err)))
            return st;
    }
    *time_s = ab_now_s() - t0;
    if (s->decode) {
        gpt2_record_tpot(c, &s->steps_s);
    } else {
        struct ab_stats sts;
        ab_stats_compute(s->prefill_s.v, s->prefill_s.n, &sts);
        ab_case_metric(c, "ttft_s", sts.median);
    }
    return AB_OK;
}

static void gpt2_cpu_teardown(struct ab_case *c)
{
    struct cpu_state *s = c->state;
    if (!s)
        return;
    if (s->n_gen) {                    /* the last prefill's or decode's tokens and its last logits */
        for (int b = 1; b < s->B; b++) /* (B, 1 + T) to (B, n_gen), in place */
            memmove(s->gen + (size_t)b * s->n_gen, s->gen + (size_t)b * (1 + s->T),
                    (size_t)s->n_gen * sizeof(int));
        gpt2_record_outputs(c, s->prompt, s->B, s->P, s->gen, s->n_gen, s->logits, s->params.cfg.vocab,
                            s->P + s->n_gen - 2);
    }
    gpt2_model_destroy(s->model);
    gpt2_params_free(&s->params);
    free(s->prompt), free(s->next), free(s->first), free(s->gen), free(s->steps_s.v), free(s->prefill_s.v);
    ab_free(s->logits);
    free(s);
    c->state = NULL;
}

const struct ab_impl gpt2_cpu_impl = {
    .setup = gpt2_cpu_setup,
    .verify = gpt2_cpu_verify,
    .run = gpt2_cpu_run,
    .teardown = gpt2_cpu_teardown,
};
