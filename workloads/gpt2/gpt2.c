/* gpt2.c — the `gpt2` workload: GPT-2 inference as a user meets it, prefill of a prompt then
 * greedy decode with a KV cache, on the published model sizes. One row per phase: prefill
 * rows are held against the GEMM ceiling (compute-bound), decode rows against memory
 * bandwidth, since each decode step must read every weight and the whole KV cache. */
#include "gpt2.h"

#include "argmax.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct ab_axis gpt2_axes[] = {
    { .name = "model",
      .type = AB_AXIS_STR,
      .help = "GPT-2 size of random weights (layers x width: 12x768, 24x1024, 36x1280, 48x1600; "
              "tiny: 2x128, the check suite's); with weights, the shape is config.json's",
      .choices = "124M,355M,774M,1558M,tiny",
      .sweep = { "124M", "124M,355M", "124M,355M,774M,1558M", "tiny" } },
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "weight and matmul input type (fp16 on CUDA only)",
      .choices = "fp32,bf16,fp16",
      .sweep = { "bf16", "fp32,bf16", "fp32,bf16,fp16", "fp32,bf16,fp16" } },
    { .name = "phase",
      .type = AB_AXIS_STR,
      .help = "prefill: one prompt per repetition; decode: gen tokens per repetition",
      .choices = "prefill,decode",
      .sweep = { "prefill,decode", "prefill,decode", "prefill,decode", "prefill,decode" } },
    { .name = "batch",
      .type = AB_AXIS_INT,
      .help = "sequences processed together",
      .min = 1,
      .max = 1024,
      .sweep = { "1", "1,8", "1,8,32", "1,3" } },
    { .name = "prompt",
      .type = AB_AXIS_INT,
      .help = "prompt tokens P",
      .min = 1,
      .max = 1024,
      .sweep = { "32", "128", "128,512,1024", "7,70" } },
    { .name = "gen",
      .type = AB_AXIS_INT,
      .help = "tokens T generated greedily after the prompt",
      .min = 1,
      .max = 1023,
      .sweep = { "8", "32", "128", "5" } },
    { .name = "weights",
      .type = AB_AXIS_STR,
      .help = "\"random\" (seeded) or a Hugging Face checkpoint of any GPT-2 shape: its folder or its "
              "model.safetensors, config.json beside it",
      .sweep = { "random", "random", "random", "random" } },
    { .name = "prompt_ids",
      .type = AB_AXIS_STR,
      .help = "\"random\" (seeded) or a text file of token ids, one sequence per line (whitespace or "
              "commas between ids; '#' lines skipped): sequence b takes line b mod lines, its first "
              "`prompt` ids",
      .implicit = "random",
      .sweep = { "random", "random", "random", "random" } },
    { .name = "kv_dtype",
      .type = AB_AXIS_STR,
      .help = "KV cache element type: fp32 (what rows without this axis mean) or bf16 (CPU: K and V "
              "rounded as stored, half the cache bytes a decode step reads)",
      .choices = "fp32,bf16",
      .implicit = "fp32",
      .sweep = { "fp32", "fp32", "fp32", "fp32,bf16" } },
};

/* The check suite runs every dtype of each backend (fp16 is CUDA's alone); its sweeps give
 * one and several sequences, prompts of 7 and 70 tokens (GEMV and GEMM row counts, neither a
 * power of two) and 5 decode steps, all on the tiny model so the FP64 reference covers them. */
static bool gpt2_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    /* a bf16 KV cache is the CPU's alone (CUDA keeps its cache fp32) */
    if (backend != AB_BACKEND_CPU && ab_param_is(ps, "kv_dtype", "bf16"))
        return false;
    /* the check suite's bf16 cache: decode of several sequences (its prefill, the fused step
     * and the cache's rounding), not every point twice */
    if (suite == AB_SUITE_CHECK && ab_param_is(ps, "kv_dtype", "bf16") &&
        !(ab_param_is(ps, "phase", "decode") && ab_param_int(ps, "batch", 1) > 1))
        return false;
    return !(suite == AB_SUITE_CHECK && backend == AB_BACKEND_CPU && ab_param_is(ps, "dtype", "fp16"));
}

ab_status gpt2_case_config(struct ab_case *c, int P, int T, bool decode, struct gpt2_config *out,
                           struct ab_error *err)
{
    const char *name = ab_param_str(&c->params, "model", "124M");
    const char *wpath = ab_param_str(&c->params, "weights", "random");
    ab_status st;
    if (strcmp(wpath, "random") == 0) {
        if (!gpt2_config_named(name, out))
            return ab_fail(err, AB_EINVAL, "model %s unknown (124M, 355M, 774M, 1558M, tiny)", name);
    } else {
        /* any GPT-2 shape: what the checkpoint's config.json says, held to what its file can
         * hold before a byte is allocated for it */
        char path[4096];
        struct stat sb;
        if ((st = gpt2_config_load(wpath, path, sizeof path, out, err)))
            return st;
        if (stat(path, &sb) != 0)
            return ab_fail(err, AB_EIO, "weights %s: %s", path, strerror(errno));
        if ((st = gpt2_config_fits_file(out, S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 0, err)))
            return ab_fail_prefix(err, st, "weights %s", path);
    }
    ab_case_metric(c, "n_layer", out->n_layer);
    ab_case_metric(c, "n_embd", out->n_embd);
    ab_case_metric(c, "n_head", out->n_head);
    ab_case_metric(c, "vocab_size", out->vocab);
    ab_case_metric(c, "n_positions", out->max_pos);
    int max_T = decode ? P + T : P;
    if (max_T > out->max_pos)
        return ab_fail(err, AB_EUNSUPPORTED, "prompt %d + gen %d = %d positions: the model has %d", P,
                       decode ? T : 0, max_T, out->max_pos);
    return AB_OK;
}

ab_status gpt2_case_prompt(struct ab_case *c, int V, int B, int P, int *prompt, struct ab_error *err)
{
    const char *path = ab_param_str(&c->params, "prompt_ids", "random");
    if (strcmp(path, "random") == 0) {
        struct ab_rng g;
        ab_rng_seed(&g, c->seed ^ 0x9e3779b97f4a7c15ull);
        for (size_t i = 0; i < (size_t)B * P; i++)
            prompt[i] = (int)(ab_rng_next(&g) % (uint64_t)V);
        return AB_OK;
    }
    char *text;
    size_t len;
    ab_status st = ab_read_file_max(path, (size_t)64 << 20, &text, &len, err);
    if (st)
        return ab_fail_prefix(err, st, "prompt_ids");
    int lines = 0, line = 0;
    for (char *ln = text, *next; !st && *ln && lines < B; ln = next) {
        next = ln + strcspn(ln, "\n");
        if (*next)
            *next++ = '\0';
        line++;
        ln += strspn(ln, " \t\r,");
        if (!*ln || *ln == '#')
            continue;
        int n = 0;
        for (char *q = ln; *q && !st;) {
            char *end;
            errno = 0;
            long v = strtol(q, &end, 10);
            if (end == q || errno || v < 0 || v >= V)
                st = ab_fail(err, AB_EINVAL, "prompt_ids %s:%d: \"%.*s\" is not a token id in [0, %d)", path,
                             line, (int)(strcspn(q, " \t\r,") < 20 ? strcspn(q, " \t\r,") : 20), q, V);
            else if (n < P)
                prompt[(size_t)lines * P + n] = (int)v;
            n++;
            q = end + strspn(end, " \t\r,");
        }
        if (!st && n < P)
            st = ab_fail(err, AB_EINVAL,
                         "prompt_ids %s:%d: %d ids, fewer than the prompt's %d (set -a prompt=%d)", path,
                         line, n, P, n);
        lines++;
    }
    free(text);
    if (!st && lines == 0)
        st = ab_fail(err, AB_EINVAL, "prompt_ids %s: no line of token ids", path);
    for (int b = lines; !st && b < B; b++) /* fewer lines than sequences: they repeat */
        memcpy(prompt + (size_t)b * P, prompt + (size_t)(b % lines) * P, (size_t)P * sizeof *prompt);
    return st;
}

/* FNV-1a 64 over the ids as little-endian int32 bytes, in order */
static uint64_t ids_hash(const int *ids, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            h ^= (uint8_t)((uint32_t)ids[i] >> (8 * k));
            h *= 0x100000001b3ull;
        }
    return h;
}

static cJSON *id_rows(const int *ids, int B, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int b = 0; a && b < B; b++) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; row && i < n; i++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(ids[(size_t)b * n + i]));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

void gpt2_record_outputs(struct ab_case *c, const int *prompt, int B, int P, const int *gen, int n_gen,
                         const float *logits, int V, int pos)
{
    ab_case_metric_text(c, "prompt_ids_hash", "%016llx", (unsigned long long)ids_hash(prompt, (size_t)B * P));
    ab_case_metric_text(c, "generated_ids_hash", "%016llx",
                        (unsigned long long)ids_hash(gen, (size_t)B * n_gen));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "prompt_ids", id_rows(prompt, B, P));
    cJSON_AddItemToObject(o, "generated_ids", id_rows(gen, B, n_gen));
    cJSON *last = cJSON_AddArrayToObject(o, "last_logits");
    for (int b = 0; b < B && last; b++) {
        const float *row = logits + (size_t)b * V;
        double sum = 0;
        int top[5], nt = V < 5 ? V : 5;
        for (int v = 0; v < V; v++)
            sum += row[v];
        /* the five largest by argmax.h's order (ties to the lowest id) */
        for (int k = 0; k < nt; k++) {
            int best = -1;
            for (int v = 0; v < V; v++) {
                bool taken = false;
                for (int j = 0; j < k && !taken; j++)
                    taken = top[j] == v;
                if (!taken && (best < 0 || gpt2_argmax_better(row[v], v, row[best], best)))
                    best = v;
            }
            top[k] = best;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "position", pos);
        cJSON_AddNumberToObject(e, "sum", sum);
        cJSON *t5 = cJSON_AddArrayToObject(e, "top5");
        for (int k = 0; k < nt && t5; k++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(top[k]));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber(row[top[k]]));
            cJSON_AddItemToArray(t5, pair);
        }
        cJSON_AddItemToArray(last, e);
    }
    ab_case_detail(c, cJSON_PrintUnformatted(o)); /* NULL when out of memory: no detail */
    cJSON_Delete(o);
}

static size_t layer_weights(const struct gpt2_config *cfg)
{
    return 12 * (size_t)cfg->n_embd * (size_t)cfg->n_embd;
}

double gpt2_prefill_flops(const struct gpt2_config *cfg, int B, int P)
{
    double L = cfg->n_layer, C = cfg->n_embd, V = cfg->vocab;
    return (double)B * P * 2 * L * (double)layer_weights(cfg) + 4 * L * C * B * ((double)P * (P + 1) / 2) +
           (double)B * 2 * C * V;
}

double gpt2_decode_step_flops(const struct gpt2_config *cfg, int B, int pos)
{
    double L = cfg->n_layer, C = cfg->n_embd, V = cfg->vocab;
    return (double)B * (2 * L * (double)layer_weights(cfg) + 4 * L * C * (pos + 1) + 2 * C * V);
}

size_t gpt2_weight_bytes(const struct gpt2_config *cfg, size_t elem)
{
    size_t C = (size_t)cfg->n_embd, L = (size_t)cfg->n_layer;
    return elem * (L * layer_weights(cfg) + (size_t)cfg->vocab * C) + 4 * (L * 13 * C + 2 * C);
}

double gpt2_decode_step_bytes(const struct gpt2_config *cfg, size_t weight_bytes, int B, int pos)
{
    return gpt2_decode_step_bytes_kv(cfg, weight_bytes, 4, B, pos);
}

double gpt2_decode_step_bytes_kv(const struct gpt2_config *cfg, size_t weight_bytes, size_t kv_elem, int B,
                                 int pos)
{
    return (double)weight_bytes + 2.0 * cfg->n_layer * B * (double)(pos + 1) * cfg->n_embd * (double)kv_elem;
}

void gpt2_set_work(struct ab_case *c, const struct gpt2_config *cfg, size_t elem, const char *gemm_ceiling,
                   int B, int P, int T, bool decode)
{
    size_t wb = gpt2_weight_bytes(cfg, elem);
    if (!decode) {
        c->work = (struct ab_work){ .flops = gpt2_prefill_flops(cfg, B, P),
                                    .bytes = (double)wb,
                                    .tokens = (double)B * P,
                                    .ceiling = gemm_ceiling,
                                    .rate = "flops" };
        return;
    }
    double flops = 0, bytes = 0;
    size_t kv_elem = ab_param_is(&c->params, "kv_dtype", "bf16") ? 2 : 4;
    for (int t = 0; t < T; t++) {
        flops += gpt2_decode_step_flops(cfg, B, P + t);
        bytes += gpt2_decode_step_bytes_kv(cfg, wb, kv_elem, B, P + t);
    }
    c->work = (struct ab_work){
        .flops = flops, .bytes = bytes, .tokens = (double)B * T, .ceiling = "mem_bw", .rate = "bytes"
    };
    ab_case_metric(c, "weight_bytes", (double)wb);
    ab_case_metric(c, "step_bytes", bytes / T);
}

void gpt2_logit_tolerance_kv(bool half, bool kv_bf16, double *atol, double *rtol)
{
    gpt2_logit_tolerance(half, atol, rtol);
    /* A bf16 cache rounds every K and V once (2^-9 relative); scores and the attention sums
     * carry that into the residual stream of each later layer. Measured (random weights, largest
     * logit error): ~1e-3 on the check suite's tiny model, ~5e-3 on 124M (P=64, 5 steps), 0.054
     * on tests/test_gpt2.c's model of larger weights (logits of ~5). So fp32 weights with a bf16
     * cache are held to (0.05, 0.02), a bf16 run to its own wider one. */
    if (kv_bf16 && !half)
        *atol = 0.05, *rtol = 0.02;
}

void gpt2_logit_tolerance(bool half, double *atol, double *rtol)
{
    /* Logits of GPT-2 are a few units in size. fp32 keeps the error at accumulation level.
     * A 16-bit run rounds every matmul input (weights are rounded in the reference too, so
     * what is left is activation rounding through the layers): 2^-9 relative per rounding,
     * grown over 12..48 layers, stays well under 5% on random and on trained weights. */
    *atol = half ? 0.1 : 1e-3;
    *rtol = half ? 0.05 : 1e-3;
}

double gpt2_reference_cost(const struct gpt2_config *cfg, int n, int k)
{
    double L = cfg->n_layer, C = cfg->n_embd;
    /* the block matmuls per token, attention over n(n+1)/2 query-key pairs, the logits */
    return (double)n * L * (double)layer_weights(cfg) + 2 * L * C * (double)n * (n + 1) / 2 +
           (double)k * C * cfg->vocab;
}

void gpt2_verify_plan(const struct gpt2_config *cfg, int B, int P, int T, bool decode, struct gpt2_vplan *out)
{
    memset(out, 0, sizeof *out);
    if (B <= GPT2_VERIFY_SEQS) {
        out->n_seq = B;
        for (int b = 0; b < B; b++)
            out->seq[b] = b;
    } else {
        out->n_seq = 2;
        out->seq[0] = 0, out->seq[1] = B - 1;
    }
    out->T = decode ? (T < GPT2_VERIFY_STEPS ? T : GPT2_VERIFY_STEPS) : 0;
    int lo = P < 2 ? P : 2;
    out->P = P;
    while (out->P > lo &&
           out->n_seq * gpt2_reference_cost(cfg, out->P + out->T, out->T + 1) > GPT2_VERIFY_BUDGET)
        out->P = out->P / 2 > lo ? out->P / 2 : lo;
    double per_position = (double)cfg->n_embd * cfg->vocab; /* one more row of the output projection */
    double extra = floor(GPT2_VERIFY_POSITIONS_BUDGET / per_position);
    out->all = extra + 1 >= out->P ? out->P : 1 + (int)extra;
}

ab_status gpt2_verify_plan_logits(const struct gpt2_params *p, const struct gpt2_vplan *vp, const int *seq,
                                  const float *early, const float *got, bool round_bf16, double atol,
                                  double rtol, double *max_abs_err, struct ab_error *err)
{
    int V = p->cfg.vocab, n = vp->P + vp->T, rows = vp->T + 1;
    /* seq[0]'s rows in position order: the earlier prompt positions, then P-1 and the steps */
    float *first = malloc(((size_t)vp->all - 1 + rows) * V * sizeof *first);
    if (!first)
        return ab_fail(err, AB_ENOMEM, "verify: out of memory");
    memcpy(first, early, ((size_t)vp->all - 1) * V * sizeof *first);
    memcpy(first + ((size_t)vp->all - 1) * V, got, (size_t)rows * V * sizeof *first);
    ab_status st = AB_OK;
    for (int k = 0; k < vp->n_seq && !st; k++)
        st = gpt2_verify_logits(p, seq + (size_t)vp->seq[k] * n, n, k ? vp->P - 1 : vp->P - vp->all,
                                vp->seq[k], round_bf16, k ? got + (size_t)k * rows * V : first, atol, rtol,
                                max_abs_err, err);
    free(first);
    return st;
}

ab_status gpt2_pick_tokens(const float *logits, size_t ld, int B, int V, int pos, int *tok,
                           struct ab_error *err)
{
    int nan_seq = -1;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * ld;
        tok[b] = gpt2_argmax(row, V);
        if (isnan(row[tok[b]]) && nan_seq < 0) /* NaN wins the argmax: a NaN row shows here */
            nan_seq = b;
    }
    if (nan_seq >= 0)
        return ab_fail(err, AB_EMISMATCH, "logits of sequence %d at position %d were NaN", nan_seq, pos);
    return AB_OK;
}

ab_status gpt2_verify_logits(const struct gpt2_params *p, const int *tokens, int n, int first, int seq,
                             bool round_bf16, const float *got, double atol, double rtol, double *max_abs_err,
                             struct ab_error *err)
{
    int V = p->cfg.vocab, k = n - first;
    double *ref = malloc((size_t)k * V * sizeof *ref);
    if (!ref)
        return ab_fail(err, AB_ENOMEM, "verify: out of memory");
    ab_status st = gpt2_reference_logits(p, tokens, n, first, round_bf16, ref, err);
    for (int i = 0; !st && i < k; i++) {
        const double *r = ref + (size_t)i * V;
        const float *g = got + (size_t)i * V;
        int bad = 0, nan = 0;
        char first_off[200] = "";
        for (int v = 0; v < V; v++) {
            double e = fabs(g[v] - r[v]);
            nan += isnan(g[v]);
            if (!(e <= atol + rtol * fabs(r[v])) && bad++ < 3) {
                size_t l = strlen(first_off);
                snprintf(first_off + l, sizeof first_off - l, " logit[%d]=%.6g ref %.6g;", v, g[v], r[v]);
            }
            if (!(e <= *max_abs_err))
                *max_abs_err = isnan(e) ? INFINITY : e;
        }
        if (nan)
            st = ab_fail(err, AB_EMISMATCH, "sequence %d, position %d: %d of %d logits were NaN", seq,
                         first + i, nan, V);
        else if (bad)
            st = ab_fail(err, AB_EMISMATCH,
                         "sequence %d, position %d: %d of %d logits off the FP64 reference by more "
                         "than %g + %g|ref|:%s",
                         seq, first + i, bad, V, atol, rtol, first_off);
    }
    free(ref);
    return st;
}

/* ------------------------------------------------------------------ shared by cpu.c and cuda.c */

ab_status gpt2_case_read(struct ab_case *c, struct gpt2_case *out, struct ab_error *err)
{
    const struct ab_params *ps = &c->params;
    memset(out, 0, sizeof *out);
    out->decode = ab_param_is(ps, "phase", "decode");
    out->B = (int)ab_param_int(ps, "batch", 1);
    out->P = (int)ab_param_int(ps, "prompt", 128);
    out->T = (int)ab_param_int(ps, "gen", 128);
    out->max_T = out->decode ? out->P + out->T : out->P;
    return gpt2_case_config(c, out->P, out->T, out->decode, &out->cfg, err);
}

ab_status gpt2_case_weights(struct ab_case *c, const struct gpt2_config *cfg, struct gpt2_params *p,
                            struct ab_error *err)
{
    const char *wpath = ab_param_str(&c->params, "weights", "random");
    ab_status st;
    if (strcmp(wpath, "random") == 0) {
        if ((st = gpt2_params_alloc(p, cfg, err)))
            return st;
        gpt2_params_random(p, c->seed);
        ab_case_metric_text(c, "weights", "random");
        return AB_OK;
    }
    if ((st = gpt2_params_load(p, wpath, err)))
        return st;
    ab_case_metric_text(c, "weights", "file");
    return AB_OK;
}

ab_status gpt2_times_reserve(struct gpt2_times *t, int64_t k, double **at, struct ab_error *err)
{
    if (t->n + k > t->cap) {
        int64_t nc = t->cap ? 2 * t->cap : 1024;
        while (nc < t->n + k)
            nc *= 2;
        double *q = realloc(t->v, (size_t)nc * sizeof *q);
        if (!q)
            return ab_fail(err, AB_ENOMEM, "cannot record step times");
        t->v = q, t->cap = nc;
    }
    *at = t->v + t->n;
    t->n += k;
    return AB_OK;
}

ab_status gpt2_times_push(struct gpt2_times *t, double v, struct ab_error *err)
{
    double *at;
    ab_status st = gpt2_times_reserve(t, 1, &at, err);
    if (!st)
        *at = v;
    return st;
}

void gpt2_record_tpot(struct ab_case *c, const struct gpt2_times *steps)
{
    struct ab_stats sts;
    ab_stats_compute(steps->v, steps->n, &sts);
    ab_case_metric(c, "tpot_median_s", sts.median);
    ab_case_metric(c, "tpot_p95_s", sts.p95);
}

ab_status gpt2_check_forward(struct ab_case *c, const struct gpt2_fwd *f, const struct gpt2_vplan *vp,
                             const int *prompt, int P, struct ab_error *err)
{
    const struct gpt2_ops *o = f->ops;
    int B = f->B, V = f->p->cfg.vocab, n = vp->P + vp->T, rows = vp->T + 1, extra = vp->all - 1;
    bool all = extra && f->all_logits; /* seq[0]'s earlier positions from the prompt's forward */
    ab_case_metric(c, "verified_prompt_tokens", vp->P);
    ab_case_metric(c, "verified_decode_steps", vp->T);
    ab_case_metric(c, "verified_sequences", vp->n_seq);
    ab_case_metric(c, "verified_positions", vp->all);
    int *seq = malloc((size_t)B * n * sizeof(int)); /* (B, n): prompt, then chosen tokens */
    int *in = malloc((size_t)B * vp->P * sizeof(int)), *next = malloc((size_t)B * sizeof(int));
    float *got = malloc((size_t)vp->n_seq * rows * V * sizeof(float)); /* (n_seq, rows, V) */
    float *early = malloc(((size_t)extra + 1) * V * sizeof(float));    /* (extra, V) of seq[0] */
    /* the prompt's logits at every position, (B, P, V), where the backend returns them */
    float *allp = all ? malloc((size_t)B * vp->P * V * sizeof(float)) : NULL;
    const int *tok = NULL;
    const float *lg = NULL; /* the last prompt position's logits: row b at lg + b ld, in allp */
    size_t ld = (size_t)vp->P * V;
    double atol, rtol, max_abs = 0;
    ab_status st = AB_OK;
    if (!seq || !in || !next || !got || !early || (all && !allp)) {
        st = ab_fail(err, AB_ENOMEM, "verify: out of memory");
        goto done;
    }
    /* else each earlier position is the last of a prefix, through the same parallel (Tq > 1)
     * path as the prompt */
    for (int q = vp->P - extra; q < vp->P && !all; q++) {
        for (int b = 0; b < B; b++)
            memcpy(in + (size_t)b * q, prompt + (size_t)b * P, (size_t)q * sizeof(int));
        if ((st = o->tokens_in(f->ctx, in, B * q, &tok, err)) ||
            (st = gpt2_forward(f, tok, (struct gpt2_span){ .Tq = q }, false, NULL, err)) ||
            (st = o->logits_out(f->ctx, early + (size_t)(q - (vp->P - extra)) * V, vp->seq[0], 1, err)))
            goto done;
    }
    for (int b = 0; b < B; b++) {
        memcpy(seq + (size_t)b * n, prompt + (size_t)b * P, (size_t)vp->P * sizeof(int));
        memcpy(in + (size_t)b * vp->P, prompt + (size_t)b * P, (size_t)vp->P * sizeof(int));
    }
    if ((st = o->tokens_in(f->ctx, in, B * vp->P, &tok, err)) ||
        (st = gpt2_forward(f, tok, (struct gpt2_span){ .Tq = vp->P }, all, allp, err)))
        goto done;
    if (all) {
        memcpy(early, allp + (size_t)vp->seq[0] * ld + (size_t)(vp->P - vp->all) * V,
               (size_t)extra * V * sizeof(float));
        lg = allp + (size_t)(vp->P - 1) * V;
    }
    for (int i = 0; i < rows; i++) {
        for (int k = 0; k < vp->n_seq && !st; k++) {
            float *dst = got + ((size_t)k * rows + i) * V;
            if (lg)
                memcpy(dst, lg + (size_t)vp->seq[k] * ld, (size_t)V * 4);
            else
                st = o->logits_out(f->ctx, dst, vp->seq[k], 1, err);
        }
        if (st || i == vp->T)
            break;
        int pos = vp->P + i;
        if (lg && !(st = gpt2_pick_tokens(lg, ld, B, V, pos - 1, next, err)))
            st = o->tokens_in(f->ctx, next, B, &tok, err);
        else if (!lg)
            st = o->pick(f->ctx, pos - 1, next, &tok, err);
        lg = NULL;
        if (st)
            break;
        for (int b = 0; b < B; b++)
            seq[(size_t)b * n + pos] = next[b];
        st = gpt2_forward(f, tok, (struct gpt2_span){ .Tq = 1, .pos0 = pos }, false, NULL, err);
    }
    if (st)
        goto done;
    gpt2_logit_tolerance_kv(f->dt != AB_DTYPE_FP32, ab_param_is(&c->params, "kv_dtype", "bf16"), &atol,
                            &rtol);
    st =
        gpt2_verify_plan_logits(f->p, vp, seq, early, got, f->dt == AB_DTYPE_BF16, atol, rtol, &max_abs, err);
    ab_case_metric(c, "max_abs_err", max_abs);
done:
    free(seq), free(in), free(next), free(got), free(early), free(allp);
    return st;
}

/* Every metric a gpt2 row may carry (gpt2.c, cpu.c, cuda.c); see results/schema.md. */
static const struct ab_metric_decl metrics[] = {
    { "weights", "", true, AB_BETTER_NONE, "random or file" },
    { "prompt_ids_hash", "", true, AB_BETTER_NONE, "FNV-1a 64 of the prompt ids (samples.jsonl holds them)" },
    { "generated_ids_hash", "", true, AB_BETTER_NONE, "FNV-1a 64 of the greedy ids generated" },
    { "n_layer", "", false, AB_BETTER_NONE, "layers of the model run (the model axis's, or config.json's)" },
    { "n_embd", "", false, AB_BETTER_NONE, "width of the model run" },
    { "n_head", "", false, AB_BETTER_NONE, "attention heads of the model run" },
    { "vocab_size", "", false, AB_BETTER_NONE, "vocabulary of the model run" },
    { "n_positions", "", false, AB_BETTER_NONE, "positions (context) of the model run" },
    { "bf16_note", "", true, AB_BETTER_NONE,
      "CPU bf16: present when the CPU has no native bf16 dot product" },
    { "peak_mem_bytes", "B", false, AB_BETTER_LOWER,
      "memory the case allocates: parameters, weights, KV cache, activations, logits" },
    { "verified_prompt_tokens", "", false, AB_BETTER_NONE, "prompt tokens of the verified forward" },
    { "verified_decode_steps", "", false, AB_BETTER_NONE, "decode steps of the verified forward" },
    { "verified_sequences", "", false, AB_BETTER_NONE, "sequences of the verified forward" },
    { "verified_positions", "", false, AB_BETTER_NONE,
      "prompt positions of the first verified sequence whose logits were checked" },
    { "max_abs_err", "", false, AB_BETTER_LOWER,
      "largest logit error against an FP64 forward of the same weights" },
    { "ttft_s", "s", false, AB_BETTER_LOWER,
      "time to first token: one prompt's prefill with the greedy pick" },
    { "tpot_median_s", "s", false, AB_BETTER_LOWER, "decode: median time per output token" },
    { "tpot_p95_s", "s", false, AB_BETTER_LOWER, "decode: 95th percentile time per output token" },
    { "weight_bytes", "B", false, AB_BETTER_NONE, "decode: weights read per step" },
    { "step_bytes", "B", false, AB_BETTER_NONE, "decode: mean bytes read per step (weights + KV cache)" },
    { "graph_step_max_rel_diff", "", false, AB_BETTER_LOWER,
      "CUDA decode: the step replayed as a CUDA graph against the plain forward" },
};

/* Tokens per second and per joule against the batch, prefill and decode apart. */
static const struct ab_chart_decl chart = {
    .x = "batch",
    .xlabel = "Batch",
    .xunit = "sequences",
    .facet = "phase",
    .metrics = { "tokens", "efficiency" },
};

const struct ab_workload gpt2_workload = {
    .name = "gpt2",
    .summary =
        "GPT-2 124M..1558M inference: prefill and KV-cached greedy decode, tokens/s, ms/token, tokens/J",
    .axes = gpt2_axes,
    .n_axes = sizeof gpt2_axes / sizeof gpt2_axes[0],
    .applies = gpt2_applies,
    .impl = { [AB_BACKEND_CPU] = &gpt2_cpu_impl, [AB_BACKEND_CUDA] = &gpt2_cuda_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
};
