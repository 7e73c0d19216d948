/* transformer_block.c — the `transformer_block` workload: one pre-LN GPT decoder layer forward
 *   y = h + W_proj GELU(W_fc LN2(h)),  h = x + W_o Attn(W_qkv LN1(x))   (causal, biases everywhere)
 * swept over hidden size, heads, sequence, batch and dtype, in TFLOP/s against the dtype's GEMM
 * ceiling: the micro-benchmark of Emani et al.'s study of LLMs on AI accelerators. This file
 * holds the axes, the work model and the FP64 reference; cpu.c and cuda.c run the layer. */
#include "transformer_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_cuda.h"
#include "ops_ref.h"

/* The check suite's 4th sweeps: three awkward shapes (see tb_check_shapes) in every dtype, on
 * CUDA with and without the graph. */
static const struct ab_axis tb_axes[] = {
    { .name = "hidden",
      .type = AB_AXIS_INT,
      .help = "model width C",
      .min = 64,
      .max = 65536,
      .sweep = { "768", "768,2048,4096", "768,1024,2048,4096,8192", "192,240,320" } },
    { .name = "heads",
      .type = AB_AXIS_INT,
      .help = "attention heads (0 = hidden/64)",
      .min = 0,
      .max = 1024,
      .sweep = { "0", "0", "0", "0" } },
    { .name = "seq",
      .type = AB_AXIS_INT,
      .help = "tokens per sequence T",
      .min = 1,
      .max = 1 << 20,
      .sweep = { "128", "512,1024,2048", "128,512,1024,2048,4096", "70,150" } },
    { .name = "batch",
      .type = AB_AXIS_INT,
      .help = "sequences B",
      .min = 1,
      .max = 4096,
      .sweep = { "1", "1,4", "1,4,16", "1,2" } },
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "activations and weights (fp16 on CUDA only)",
      .choices = "fp32,bf16,fp16",
      .sweep = { "fp32,bf16", "fp32,bf16,fp16", "fp32,bf16,fp16", "fp32,bf16,fp16" } },
    { .name = "cuda_graph",
      .type = AB_AXIS_STR,
      .help = "CUDA: replay the forward as a CUDA graph (auto: below 2e11 FLOPs); the CPU has none",
      .choices = "auto,on,off",
      .sweep = { "auto", "auto", "auto", "auto,on,off" },
      .implicit = "auto" },
};

/* The check suite's shapes, each with more than one tile of every matmul and widths no tile
 * divides: 192 x 70 x 2 (3 heads of 64; partial query and key blocks, two sequences),
 * 320 x 150 x 1 (5 heads of 64; three 64-key tiles on CUDA, five 32-key tiles on the CPU),
 * 240 x 150 x 2 (3 heads of 80: CUDA's warp attention in 16-bit types, several key tiles). */
static const struct {
    int hidden, seq, batch;
} tb_check_shapes[] = { { 192, 70, 2 }, { 320, 150, 1 }, { 240, 150, 2 } };
enum { N_CHECK_SHAPES = sizeof tb_check_shapes / sizeof tb_check_shapes[0] };

/* In the check suite, a point whose hidden, seq and batch each come from the check shapes is
 * kept only if it is one of them (so the sweep is three shapes, not their product); a value
 * given on the command line outside them keeps its points. */
static bool tb_check_shape_kept(const struct ab_params *ps)
{
    int64_t h = ab_param_int(ps, "hidden", 0), t = ab_param_int(ps, "seq", 0),
            b = ab_param_int(ps, "batch", 0);
    bool hin = false, tin = false, bin = false;
    for (int i = 0; i < N_CHECK_SHAPES; i++) {
        if (tb_check_shapes[i].hidden == h && tb_check_shapes[i].seq == t && tb_check_shapes[i].batch == b)
            return true;
        hin |= tb_check_shapes[i].hidden == h;
        tin |= tb_check_shapes[i].seq == t;
        bin |= tb_check_shapes[i].batch == b;
    }
    return !(hin && tin && bin);
}

/* The default suite is a study a 2-core CPU finishes in minutes: batch 1 up to 1024 tokens
 * there; CUDA devices take the whole default sweep. The CPU has neither fp16 nor graphs. */
static bool tb_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    if (suite == AB_SUITE_CHECK && !tb_check_shape_kept(ps))
        return false;
    if (backend == AB_BACKEND_CPU) {
        if (ab_param_is(ps, "dtype", "fp16") || ab_param_is(ps, "cuda_graph", "on") ||
            ab_param_is(ps, "cuda_graph", "off"))
            return false; /* no graphs on the CPU: one case, at the implicit value */
        if (suite == AB_SUITE_DEFAULT)
            return ab_param_int(ps, "batch", 1) == 1 && ab_param_int(ps, "seq", 0) <= 1024;
    }
    /* CUDA's check suite takes both paths by name; "auto" would repeat one of them. */
    return !(backend == AB_BACKEND_CUDA && suite == AB_SUITE_CHECK && ab_param_is(ps, "cuda_graph", "auto"));
}

bool tb_cuda_graph(const struct ab_params *ps, double flops)
{
    if (ab_param_is(ps, "cuda_graph", "on"))
        return true;
    if (ab_param_is(ps, "cuda_graph", "off"))
        return false;
    return ops_cuda_use_graph(flops);
}

const char *tb_verify_extent(const struct tb_dims *d, enum ab_suite suite, int *nb, int *nt)
{
    if (suite == AB_SUITE_CHECK) {
        *nb = d->B;
        *nt = d->T;
        return "case_all_tokens";
    }
    *nb = 1;
    *nt = d->T < 3 ? d->T : 3;
    return "case_first_tokens";
}

ab_status tb_dims_from_params(const struct ab_params *ps, struct tb_dims *d, struct ab_error *err)
{
    d->C = (int)ab_param_int(ps, "hidden", 768);
    d->NH = (int)ab_param_int(ps, "heads", 0);
    d->T = (int)ab_param_int(ps, "seq", 128);
    d->B = (int)ab_param_int(ps, "batch", 1);
    if (d->NH == 0)
        d->NH = d->C / 64;
    if (!ab_dtype_parse(ab_param_str(ps, "dtype", "fp32"), &d->dt))
        return ab_fail(err, AB_EINVAL, "dtype '%s': valid choices are fp32, bf16, fp16",
                       ab_param_str(ps, "dtype", ""));
    if (d->NH <= 0 || d->C % d->NH || (d->C / d->NH) % 16)
        return ab_fail(err, AB_EINVAL,
                       "heads=%d: hidden=%d must split into heads of a multiple of 16 (e.g. heads=%d)", d->NH,
                       d->C, d->C / 64 > 0 ? d->C / 64 : 1);
    return AB_OK;
}

double tb_flops(const struct tb_dims *d)
{
    double b = d->B, t = d->T, c = d->C;
    return 24 * b * t * c * c + 2 * b * t * t * c;
}

double tb_flops_full_attention(const struct tb_dims *d)
{
    double b = d->B, t = d->T, c = d->C;
    return 24 * b * t * c * c + 4 * b * t * t * c;
}

double tb_weight_bytes(const struct tb_dims *d)
{
    double c = d->C;
    return 12 * c * c * (double)ab_dtype_size(d->dt) + 13 * c * 4;
}

double tb_host_bytes(const struct tb_dims *d)
{
    double act = (double)d->B * d->T * d->C * (double)ab_dtype_size(d->dt);
    return 2 * tb_weight_bytes(d) + 13 * act;
}

void tb_small_dims(const struct tb_dims *d, struct tb_dims *small)
{
    /* two heads of the case's head size; 40 tokens: a partial block of queries and keys */
    int hs = d->C / d->NH;
    *small = (struct tb_dims){ .B = 2, .T = 40, .C = 2 * hs, .NH = 2, .dt = d->dt };
}

void tb_weights_free(struct tb_weights *w)
{
    void *ps[] = { w->x,   w->wqkv,  w->wo, w->wfc, w->wproj, w->bqkv, w->bo,
                   w->bfc, w->bproj, w->g1, w->be1, w->g2,    w->be2 };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        ab_free(ps[i]);
    memset(w, 0, sizeof *w);
}

ab_status tb_weights_make(struct tb_weights *w, const struct tb_dims *d, uint64_t seed, struct ab_error *err)
{
    memset(w, 0, sizeof *w);
    size_t C = (size_t)d->C, es = ab_dtype_size(d->dt), M = (size_t)d->B * d->T;
    struct {
        void **p;
        size_t n;
        bool vec;
        float scale;
    } t[] = {
        { &w->x, M * C, false, 1.0f },
        { &w->wqkv, 3 * C * C, false, 1.0f / sqrtf((float)C) }, /* std 1/sqrt(fan in): O(1) outputs */
        { &w->wo, C * C, false, 1.0f / sqrtf((float)C) },
        { &w->wfc, 4 * C * C, false, 1.0f / sqrtf((float)C) },
        { &w->wproj, 4 * C * C, false, 1.0f / sqrtf(4.0f * (float)C) },
        { (void **)&w->bqkv, 3 * C, true, 0.1f },
        { (void **)&w->bo, C, true, 0.1f },
        { (void **)&w->bfc, 4 * C, true, 0.1f },
        { (void **)&w->bproj, C, true, 0.1f },
        { (void **)&w->g1, C, true, 0.1f },
        { (void **)&w->be1, C, true, 0.1f },
        { (void **)&w->g2, C, true, 0.1f },
        { (void **)&w->be2, C, true, 0.1f },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        *t[i].p = ab_alloc(t[i].n * (t[i].vec ? 4 : es));
        if (!*t[i].p) {
            tb_weights_free(w);
            return ab_fail(err, AB_ENOMEM, "cannot allocate the layer's weights (%zu values)", t[i].n);
        }
        ops_fill_random(*t[i].p, t[i].vec ? AB_DTYPE_FP32 : d->dt, NULL, t[i].n, seed + i, t[i].scale);
    }
    for (size_t i = 0; i < C; i++) { /* LayerNorm scales near 1 */
        w->g1[i] += 1.0f;
        w->g2[i] += 1.0f;
    }
    return AB_OK;
}

/* out (n, N) = inp (n, K) . W (N, K)^T + b, W in dt. Each thread widens one row of W at a time
 * into doubles (K of them), so W is read once whatever n is. */
static void ref_linear(double *out, const double *inp, const void *W, enum ab_dtype dt, const float *b, int n,
                       int N, int K)
{
#pragma omp parallel
    {
        double *wr = malloc((size_t)K * sizeof *wr);
#pragma omp for schedule(static)
        for (int o = 0; o < N; o++) {
            if (!wr) { /* reads as a mismatch, never as a pass */
                for (int r = 0; r < n; r++)
                    out[(size_t)r * N + o] = NAN;
                continue;
            }
            for (int k = 0; k < K; k++)
                wr[k] = ab_dtype_get(dt, W, (size_t)o * K + k);
            for (int r = 0; r < n; r++) {
                const double *x = inp + (size_t)r * K;
                double s = b[o];
                for (int k = 0; k < K; k++)
                    s += x[k] * wr[k];
                out[(size_t)r * N + o] = s;
            }
        }
        free(wr);
    }
}

void tb_ref_layer(double *out, const struct tb_weights *w, const struct tb_dims *d, int nb, int nt)
{
    int C = d->C;
    size_t n = (size_t)nt * C;
    double *x = malloc(n * 8), *ln = malloc(n * 8), *qkv = malloc(3 * n * 8), *att = malloc(n * 8);
    double *h = malloc(n * 8), *fc = malloc(4 * n * 8), *g = malloc(4 * (size_t)C * 8);
    if (!x || !ln || !qkv || !att || !h || !fc || !g) {
        for (size_t i = 0; i < (size_t)nb * n; i++)
            out[i] = NAN; /* reads as a mismatch, never as a pass */
        goto done;
    }
    for (int b = 0; b < nb; b++) {
        for (size_t i = 0; i < n; i++)
            x[i] = ab_dtype_get(d->dt, w->x, (size_t)b * d->T * C + i);
        double *gm = g, *bt = g + C;
        for (int c = 0; c < C; c++)
            gm[c] = w->g1[c], bt[c] = w->be1[c];
        ops_ref_layernorm(ln, x, gm, bt, nt, C);
        ref_linear(qkv, ln, w->wqkv, d->dt, w->bqkv, nt, 3 * C, C);
        ops_ref_attention(att, qkv, 3 * C, qkv + C, qkv + 2 * C, 3 * C, 1, d->NH, nt, nt, C / d->NH, 0, true);
        ref_linear(h, att, w->wo, d->dt, w->bo, nt, C, C);
        for (size_t i = 0; i < n; i++)
            h[i] += x[i];
        for (int c = 0; c < C; c++)
            gm[c] = w->g2[c], bt[c] = w->be2[c];
        ops_ref_layernorm(ln, h, gm, bt, nt, C);
        ref_linear(fc, ln, w->wfc, d->dt, w->bfc, nt, 4 * C, C);
        for (size_t i = 0; i < 4 * n; i++)
            fc[i] = ops_ref_gelu(fc[i]);
        double *o = out + (size_t)b * n;
        ref_linear(o, fc, w->wproj, d->dt, w->bproj, nt, C, 4 * C);
        for (size_t i = 0; i < n; i++)
            o[i] += h[i];
    }
done:
    free(x), free(ln), free(qkv), free(att), free(h), free(fc), free(g);
}

ab_status tb_check(const void *y, enum ab_dtype ydt, const double *ref, const struct tb_dims *d, int nb,
                   int nt, struct ab_case *c, const char *what, struct ab_error *err)
{
    /* fp32: accumulation over C..4C terms and the fp32 softmax; 16-bit types: every stored
     * activation (LN outputs, QKV, attention, h, GELU output, y) is rounded to 8 or 11 bits. */
    double atol = d->dt == AB_DTYPE_FP32 ? 1e-3 : 6e-2, rtol = d->dt == AB_DTYPE_FP32 ? 1e-3 : 3e-2;
    size_t es = ab_dtype_size(ydt), bad = 0;
    double worst = 0;
    char msg[200] = "";
    for (int b = 0; b < nb; b++) {
        double e = 0;
        char m[200];
        const char *yb = (const char *)y + (size_t)b * d->T * d->C * es;
        size_t k =
            ops_check(yb, ydt, ref + (size_t)b * nt * d->C, (size_t)nt * d->C, atol, rtol, &e, m, sizeof m);
        if (k && !bad)
            snprintf(msg, sizeof msg, "sequence %d: %s", b, m);
        bad += k;
        worst = e > worst ? e : worst;
    }
    char name[40];
    snprintf(name, sizeof name, "%s_max_err", what);
    ab_case_metric(c, name, worst);
    if (bad)
        return ab_fail(err, AB_EMISMATCH,
                       "%s layer (B=%d T=%d C=%d %s): %zu of %zu outputs off the FP64 reference by "
                       "more than %g + %g|ref|: %s",
                       what, d->B, d->T, d->C, ab_dtype_name(d->dt), bad, (size_t)nb * nt * d->C, atol, rtol,
                       msg);
    return AB_OK;
}

/* Every metric a transformer_block row may carry (transformer_block.c, cpu.c, cuda.c). */
static const struct ab_metric_decl metrics[] = {
    { "flops_full_attention", "FLOP", false, AB_BETTER_NONE,
      "flops with the full (unhalved) causal attention, as Megatron-LM counts" },
    { "head_size", "", false, AB_BETTER_NONE, "CPU: hidden / heads" },
    { "matmul_impl", "", true, AB_BETTER_NONE, "CPU: oneDNN's matmul implementation" },
    { "attn_impl", "", true, AB_BETTER_NONE, "the attention kernel's name" },
    { "cublaslt_fc", "", true, AB_BETTER_NONE, "CUDA: cuBLASLt's algorithm for the MLP up projection" },
    { "cuda_graph", "", false, AB_BETTER_NONE, "CUDA: 1 when the forward is replayed as a CUDA graph" },
    { "ln1_s", "s", false, AB_BETTER_LOWER, "seconds per forward in the first LayerNorm" },
    { "qkv_s", "s", false, AB_BETTER_LOWER, "seconds per forward in the QKV projection" },
    { "attn_s", "s", false, AB_BETTER_LOWER, "seconds per forward in the causal attention" },
    { "attn_proj_res_s", "s", false, AB_BETTER_LOWER,
      "seconds per forward in the output projection with its residual add" },
    { "ln2_s", "s", false, AB_BETTER_LOWER, "seconds per forward in the second LayerNorm" },
    { "fc_gelu_s", "s", false, AB_BETTER_LOWER, "seconds per forward in the MLP up projection with GELU" },
    { "fc_proj_res_s", "s", false, AB_BETTER_LOWER,
      "seconds per forward in the MLP down projection with its residual add" },
    { "small_max_err", "", false, AB_BETTER_LOWER,
      "worst error against the FP64 reference as a fraction of the tolerance: a small layer (2 sequences of "
      "40 tokens) in full" },
    { "case_first_tokens_max_err", "", false, AB_BETTER_LOWER,
      "worst error against the FP64 reference as a fraction of the tolerance: the case's layer on its first "
      "tokens" },
    { "case_all_tokens_max_err", "", false, AB_BETTER_LOWER,
      "worst error against the FP64 reference as a fraction of the tolerance: the case's layer on every "
      "token (check suite)" },
};

/* The work without setup (run --dry-run): the model setup states on either backend. */
static ab_status tb_work(const struct ab_params *ps, enum ab_backend_kind backend, struct ab_work *w,
                         struct ab_error *err)
{
    struct tb_dims d;
    ab_status st = tb_dims_from_params(ps, &d, err);
    if (st)
        return st;
    w->flops = tb_flops(&d);
    w->bytes = tb_weight_bytes(&d) + 2.0 * d.B * d.T * d.C * (double)ab_dtype_size(d.dt);
    w->tokens = (double)d.B * d.T;
    w->ceiling = d.dt == AB_DTYPE_BF16                                 ? "bf16_gemm"
                 : d.dt == AB_DTYPE_FP16 && backend == AB_BACKEND_CUDA ? "fp16_gemm"
                                                                       : "fp32_gemm";
    w->rate = "flops";
    return AB_OK;
}

/* Throughput and its energy efficiency against the sequence length. */
static const struct ab_chart_decl chart = {
    .x = "seq",
    .xlabel = "Sequence length",
    .xunit = "tokens",
    .metrics = { "throughput", "efficiency" },
};

const struct ab_workload transformer_block_workload = {
    .name = "transformer_block",
    .summary = "one pre-LN GPT decoder layer forward (LN, QKV, causal attention, projection, MLP with GELU)",
    .axes = tb_axes,
    .n_axes = sizeof tb_axes / sizeof tb_axes[0],
    .applies = tb_applies,
    .impl = { [AB_BACKEND_CPU] = &transformer_block_cpu_impl,
              [AB_BACKEND_CUDA] = &transformer_block_cuda_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
    .work = tb_work,
};
