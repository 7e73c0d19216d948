/* cuda.c — gpt2 on an NVIDIA GPU: host logic in C over ops' cuBLASLt matmul and the launchers
 * of kernels.cu. Same model and phases as cpu.c: matmuls through ops_cuda_matmul (TN, fp32 compute
 * and output, bias / GELU+bias epilogues, beta = 1 for the residual add), activations and
 * KV cache fp32. A decode step (embed .. logits .. argmax, position advanced on the device)
 * is captured once as a CUDA graph and replayed T times per repetition without a host
 * round trip; events between replays give the per-token times. The logits GEMM runs over the
 * vocabulary padded to a multiple of 64 (zero rows), like the CPU's. */
#include "ab_cuda.h"
#include "gpt2.h"
#include "gpt2_cuda.h"
#include "ops_cuda.h"

#include <cublasLt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLANS       32
#define MAX_BUFS        32
#define WORKSPACE_BYTES (32u << 20)

struct cu_plan {
    int M, N, K;
    unsigned epi; /* OPS_MM_* */
    struct ops_cuda_matmul *mm;
};

struct cuda_state {
    struct gpt2_params params;
    struct gpt2_config cfg;
    enum ab_dtype dt;
    bool decode;
    int B, P, T, max_T, Vp;
    int *prompt; /* (B, P) on the host */
    cudaStream_t stream;
    cudaEvent_t *ev; /* T + 1 */
    cublasLtHandle_t lt;
    void *ws;
    float *dparams; /* the fp32 parameter block, as on the host */
    void **qkv_w, **proj_w, **fc_w, **fcp_w, *wte;
    float *kc, *vc, *x, *qkv, *att, *h, *logits;
    void *mmin;
    int *tok, *first, *next, *dpos, *flags;
    cudaGraphExec_t exec;
    struct cu_plan plans[MAX_PLANS];
    int n_plans;
    void *bufs[MAX_BUFS];
    int n_bufs;
    uint64_t dev_bytes;
    double *steps_s;
    int64_t n_steps, cap_steps;
};

static ab_status dalloc(struct cuda_state *s, void **out, size_t bytes, struct ab_error *err)
{
    if (s->n_bufs == MAX_BUFS)
        return ab_fail(err, AB_EFAIL, "too many device buffers");
    AB_CUDA_TRY(cudaMalloc(out, bytes), err);
    s->bufs[s->n_bufs++] = *out;
    s->dev_bytes += bytes;
    return AB_OK;
}

/* The device copy of a host parameter pointer. */
static float *dev(struct cuda_state *s, const float *host)
{
    return s->dparams + (host - s->params.mem);
}

static size_t elem_size(int dt)
{
    return dt == AB_DTYPE_FP32 ? 4 : 2;
}

int gpt2_cuda_logits_ld(int V)
{
    return gpt2_vocab_padded(V);
}

uint64_t gpt2_cuda_device_bytes(const struct gpt2_config *cfg, int dt, int B, int P, int max_T)
{
    uint64_t C = (uint64_t)cfg->n_embd, L = (uint64_t)cfg->n_layer,
             Vp = (uint64_t)gpt2_cuda_logits_ld(cfg->vocab);
    uint64_t rows = (uint64_t)B * (uint64_t)P, kv = L * (uint64_t)B * (uint64_t)max_T * C;
    uint64_t params = (uint64_t)gpt2_param_count(cfg) * 4;
    uint64_t run_w = (dt == AB_DTYPE_FP32 ? 0 : L * 12 * C * C + Vp * C) * elem_size(dt);
    uint64_t head = dt == AB_DTYPE_FP32 ? Vp * C * 4 : 0; /* fp32: only the padded embedding is copied */
    /* activations: x, att, the matmul input (4C wide, fp32-sized), qkv (3C), h (4C) */
    uint64_t act = rows * C * 4 * (1 + 1 + 4 + 3 + 4);
    uint64_t small =
        (uint64_t)B * Vp * 4 + rows * sizeof(int) + 2 * (uint64_t)B * sizeof(int) + 2 * sizeof(int);
    return params + run_w + head + 2 * kv * 4 + act + small + WORKSPACE_BYTES;
}

static ab_status plan_get(struct cuda_state *s, int M, int N, int K, unsigned epi, struct cu_plan **out,
                          struct ab_error *err)
{
    for (int i = 0; i < s->n_plans; i++) {
        struct cu_plan *q = &s->plans[i];
        if (q->M == M && q->N == N && q->K == K && q->epi == epi) {
            *out = q;
            return AB_OK;
        }
    }
    if (s->n_plans == MAX_PLANS)
        return ab_fail(err, AB_EFAIL, "more than %d matmul shapes", MAX_PLANS);
    struct cu_plan *q = &s->plans[s->n_plans];
    /* out (M,N) fp32 = inp (M,K) . w (N,K)^T in the run dtype; the case's handle and workspace,
     * so that a plan made while the decode step is captured allocates nothing */
    struct ops_mm_desc d = { .m = M,
                             .n = N,
                             .k = K,
                             .a_dt = s->dt,
                             .b_dt = s->dt,
                             .d_dt = AB_DTYPE_FP32,
                             .trans_b = true,
                             .epilogue = epi,
                             .workspace_bytes = WORKSPACE_BYTES,
                             .workspace = s->ws,
                             .handle = s->lt };
    *q = (struct cu_plan){ .M = M, .N = N, .K = K, .epi = epi };
    ab_status st = ops_cuda_matmul_plan(&q->mm, &d, err);
    if (st)
        return st;
    s->n_plans++;
    *out = q;
    return AB_OK;
}

/* out (M,N) fp32 [+]= inp (M,K) . w (N,K)^T [+ bias] [then GELU] */
static ab_status mm(struct cuda_state *s, float *out, const void *inp, const void *w, const float *bias,
                    int M, int N, int K, bool gelu, bool accum, struct ab_error *err)
{
    unsigned epi = (gelu ? OPS_MM_GELU | OPS_MM_BIAS : bias ? OPS_MM_BIAS : 0u) | (accum ? OPS_MM_ACCUM : 0u);
    struct cu_plan *q = NULL;
    ab_status st = plan_get(s, M, N, K, epi, &q, err);
    if (st)
        return st;
    return ops_cuda_matmul_exec(q->mm, out, inp, w, NULL, NULL, bias, NULL, s->stream, err);
}

/* Tq new tokens per sequence (tok on the device, (B, Tq)) at pos0 (or *dpos); logits
 * (B, V) of the last position. Stream-ordered only: capturable. */
static ab_status forward(struct cuda_state *s, const int *tok, int Tq, const int *dpos, int pos0,
                         struct ab_error *err)
{
    const struct gpt2_params *p = &s->params;
    int B = s->B, C = s->cfg.n_embd, V = s->cfg.vocab, M = B * Tq, NH = s->cfg.n_head;
    cudaStream_t st_ = s->stream;
    ab_status st;
    void *in = s->dt == AB_DTYPE_FP32 ? NULL : s->mmin; /* matmul input in the run dtype */
    AB_CUDA_TRY(
        gpt2_cu_embed(s->x, tok, dev(s, p->wte), dev(s, p->wpe), dpos, pos0, B, Tq, C, V, s->flags, st_),
        err);
    for (int l = 0; l < s->cfg.n_layer; l++) {
        const struct gpt2_layer *L = &p->layers[l];
        float *kc = s->kc + (size_t)l * B * s->max_T * C, *vc = s->vc + (size_t)l * B * s->max_T * C;
        AB_CUDA_TRY(
            gpt2_cu_layernorm(s->mmin, s->dt, s->x, dev(s, L->ln1_g), dev(s, L->ln1_b), M, 1, 0, C, st_),
            err);
        if ((st = mm(s, s->qkv, s->mmin, s->qkv_w[l], dev(s, L->qkv_b), M, 3 * C, C, false, false, err)))
            return st;
        AB_CUDA_TRY(gpt2_cu_kv_append(kc, vc, s->qkv, dpos, pos0, B, Tq, C, s->max_T, st_), err);
        AB_CUDA_TRY(gpt2_cu_attention(s->att, s->qkv, kc, vc, dpos, pos0, B, Tq, NH, C / NH, s->max_T, st_),
                    err);
        if (in)
            AB_CUDA_TRY(gpt2_cu_convert(in, s->dt, s->att, (size_t)M * C, st_), err);
        if ((st = mm(s, s->x, in ? in : s->att, s->proj_w[l], dev(s, L->proj_b), M, C, C, false, true, err)))
            return st;
        AB_CUDA_TRY(
            gpt2_cu_layernorm(s->mmin, s->dt, s->x, dev(s, L->ln2_g), dev(s, L->ln2_b), M, 1, 0, C, st_),
            err);
        if ((st = mm(s, s->h, s->mmin, s->fc_w[l], dev(s, L->fc_b), M, 4 * C, C, true, false, err)))
            return st;
        if (in)
            AB_CUDA_TRY(gpt2_cu_convert(in, s->dt, s->h, (size_t)M * 4 * C, st_), err);
        if ((st = mm(s, s->x, in ? in : s->h, s->fcp_w[l], dev(s, L->fcp_b), M, C, 4 * C, false, true, err)))
            return st;
    }
    AB_CUDA_TRY(
        gpt2_cu_layernorm(s->mmin, s->dt, s->x, dev(s, p->lnf_g), dev(s, p->lnf_b), B, Tq, Tq - 1, C, st_),
        err);
    return mm(s, s->logits, s->mmin, s->wte, NULL, B, s->Vp, C, false, false, err);
}

static ab_status gpt2_cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    const struct ab_params *ps = &c->params;
    const char *wpath = ab_param_str(ps, "weights", "random");
    s->dt = ab_param_is(ps, "dtype", "bf16")   ? AB_DTYPE_BF16
            : ab_param_is(ps, "dtype", "fp16") ? AB_DTYPE_FP16
                                               : AB_DTYPE_FP32;
    s->decode = ab_param_is(ps, "phase", "decode");
    s->B = (int)ab_param_int(ps, "batch", 1);
    s->P = (int)ab_param_int(ps, "prompt", 128);
    s->T = (int)ab_param_int(ps, "gen", 128);
    ab_status st = gpt2_case_config(c, s->P, s->T, s->decode, &s->cfg, err);
    if (st)
        return st;
    s->max_T = s->decode ? s->P + s->T : s->P;
    size_t C = (size_t)s->cfg.n_embd, L = (size_t)s->cfg.n_layer, V = (size_t)s->cfg.vocab;
    size_t rows = (size_t)s->B * s->P, kv = L * (size_t)s->B * s->max_T * C, np = gpt2_param_count(&s->cfg);
    s->Vp = gpt2_cuda_logits_ld(s->cfg.vocab);
    size_t Vp = (size_t)s->Vp, wmm = L * 12 * C * C, es = elem_size(s->dt);
    uint64_t need = gpt2_cuda_device_bytes(&s->cfg, s->dt, s->B, s->P, s->max_T);
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM, "needs %.2f GB of device memory", need * 1e-9);
    /* the device first: a machine without a usable GPU fails here, before the weights are made */
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    AB_CUBLAS_TRY(cublasLtCreate(&s->lt), err);
    if (strcmp(wpath, "random") == 0) {
        if ((st = gpt2_params_alloc(&s->params, &s->cfg, err)))
            return st;
        gpt2_params_random(&s->params, c->seed);
        ab_case_metric_text(c, "weights", "random");
    } else {
        if ((st = gpt2_params_load(&s->params, wpath, err)))
            return st;
        ab_case_metric_text(c, "weights", "file");
    }
    s->ev = calloc((size_t)s->T + 1, sizeof *s->ev);
    s->qkv_w = calloc(L, sizeof(void *)), s->proj_w = calloc(L, sizeof(void *));
    s->fc_w = calloc(L, sizeof(void *)), s->fcp_w = calloc(L, sizeof(void *));
    if (!s->ev || !s->qkv_w || !s->proj_w || !s->fc_w || !s->fcp_w)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    for (int i = 0; i <= s->T; i++)
        AB_CUDA_TRY(cudaEventCreate(&s->ev[i]), err);
    if ((st = dalloc(s, &s->ws, WORKSPACE_BYTES, err)) || (st = dalloc(s, (void **)&s->dparams, np * 4, err)))
        return st;
    AB_CUDA_TRY(cudaMemcpy(s->dparams, s->params.mem, np * 4, cudaMemcpyHostToDevice), err);
    uint8_t *wcur = NULL;
    if (s->dt != AB_DTYPE_FP32 && (st = dalloc(s, (void **)&wcur, wmm * es, err)))
        return st;
    if ((st = dalloc(s, &s->wte, Vp * C * es, err)))
        return st;
    for (size_t l = 0; l < L; l++) {
        const struct gpt2_layer *Lw = &s->params.layers[l];
        const float *src[4] = { Lw->qkv_w, Lw->proj_w, Lw->fc_w, Lw->fcp_w };
        void **dst[4] = { &s->qkv_w[l], &s->proj_w[l], &s->fc_w[l], &s->fcp_w[l] };
        size_t n[4] = { 3 * C * C, C * C, 4 * C * C, 4 * C * C };
        for (int k = 0; k < 4; k++) {
            if (s->dt == AB_DTYPE_FP32) {
                *dst[k] = dev(s, src[k]);
                continue;
            }
            AB_CUDA_TRY(gpt2_cu_convert_weights(wcur, s->dt, dev(s, src[k]), n[k]), err);
            *dst[k] = wcur;
            wcur += n[k] * es;
        }
    }
    /* the output embedding (V, C) in the run dtype, then zero rows up to Vp */
    if (s->dt == AB_DTYPE_FP32)
        AB_CUDA_TRY(cudaMemcpy(s->wte, dev(s, s->params.wte), V * C * 4, cudaMemcpyDeviceToDevice), err);
    else
        AB_CUDA_TRY(gpt2_cu_convert_weights(s->wte, s->dt, dev(s, s->params.wte), V * C), err);
    AB_CUDA_TRY(cudaMemset((uint8_t *)s->wte + V * C * es, 0, (Vp - V) * C * es), err);
    if ((st = dalloc(s, (void **)&s->kc, kv * 4, err)) || (st = dalloc(s, (void **)&s->vc, kv * 4, err)) ||
        (st = dalloc(s, (void **)&s->x, rows * C * 4, err)) ||
        (st = dalloc(s, (void **)&s->qkv, rows * 3 * C * 4, err)) ||
        (st = dalloc(s, (void **)&s->att, rows * C * 4, err)) ||
        (st = dalloc(s, (void **)&s->h, rows * 4 * C * 4, err)) ||
        (st = dalloc(s, &s->mmin, rows * 4 * C * 4, err)) ||
        (st = dalloc(s, (void **)&s->logits, (size_t)s->B * Vp * 4, err)) ||
        (st = dalloc(s, (void **)&s->tok, rows * sizeof(int), err)) ||
        (st = dalloc(s, (void **)&s->first, (size_t)s->B * sizeof(int), err)) ||
        (st = dalloc(s, (void **)&s->next, (size_t)s->B * sizeof(int), err)) ||
        (st = dalloc(s, (void **)&s->dpos, sizeof(int), err)) ||
        (st = dalloc(s, (void **)&s->flags, sizeof(int), err)))
        return st;
    AB_CUDA_TRY(cudaMemset(s->flags, 0, sizeof(int)), err);
    if (!(s->prompt = malloc(rows * sizeof(int))))
        return ab_fail(err, AB_ENOMEM, "out of memory");
    if ((st = gpt2_case_prompt(c, (int)V, s->B, s->P, s->prompt, err)))
        return st;
    AB_CUDA_TRY(cudaMemcpy(s->tok, s->prompt, rows * sizeof(int), cudaMemcpyHostToDevice), err);
    ab_case_metric(c, "peak_mem_bytes", (double)s->dev_bytes);
    gpt2_set_work(c, &s->cfg, es,
                  s->dt == AB_DTYPE_BF16   ? "bf16_gemm"
                  : s->dt == AB_DTYPE_FP16 ? "fp16_gemm"
                                           : "fp32_gemm",
                  s->B, s->P, s->T, s->decode);
    return AB_OK;
}

static ab_status prefill(struct cuda_state *s, struct ab_error *err)
{
    ab_status st = forward(s, s->tok, s->P, NULL, 0, err);
    if (st)
        return st;
    AB_CUDA_TRY(gpt2_cu_argmax(s->first, s->logits, s->B, s->cfg.vocab, s->Vp, NULL, s->flags, s->stream),
                err);
    return AB_OK;
}

/* What the kernels flagged since the last look (waits for the stream), then clears it. */
static ab_status check_flags(struct cuda_state *s, struct ab_error *err)
{
    int f = 0, zero = 0;
    AB_CUDA_TRY(cudaMemcpyAsync(&f, s->flags, sizeof f, cudaMemcpyDeviceToHost, s->stream), err);
    AB_CUDA_TRY(cudaMemcpyAsync(s->flags, &zero, sizeof zero, cudaMemcpyHostToDevice, s->stream), err);
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    if (f & GPT2_CU_BAD_TOKEN)
        return ab_fail(err, AB_EFAIL, "a token outside the vocabulary [0, %d) reached the embedding",
                       s->cfg.vocab);
    if (f & GPT2_CU_NAN_LOGITS)
        return ab_fail(err, AB_EMISMATCH, "logits were NaN (seen by the greedy argmax)");
    return AB_OK;
}

/* got row i of each checked sequence k (rows per sequence) = its V logits now */
static ab_status grab_rows(struct cuda_state *s, const struct gpt2_vplan *vp, float *got, int rows, int i,
                           struct ab_error *err)
{
    int V = s->cfg.vocab;
    for (int k = 0; k < vp->n_seq; k++)
        AB_CUDA_TRY(cudaMemcpyAsync(got + ((size_t)k * rows + i) * V, s->logits + (size_t)vp->seq[k] * s->Vp,
                                    (size_t)V * 4, cudaMemcpyDeviceToHost, s->stream),
                    err);
    return AB_OK;
}

/* Capture one decode step at *dpos (ending with the next tokens and *dpos + 1), then check
 * that replaying it gives, step after step, the logits and tokens of the plain forward from
 * the same prefill (both write the same cache positions P.., so either may go first). */
static ab_status verify_step_graph(struct cuda_state *s, struct ab_case *c, const struct gpt2_vplan *vp,
                                   struct ab_error *err)
{
    cudaGraph_t graph;
    AB_CUDA_TRY(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal), err);
    ab_status st = forward(s, s->next, 1, s->dpos, 0, err);
    if (!st && gpt2_cu_argmax(s->next, s->logits, s->B, s->cfg.vocab, s->Vp, s->dpos, s->flags, s->stream) !=
                   cudaSuccess)
        st = ab_fail(err, AB_EFAIL, "argmax launch failed during capture");
    cudaError_t ce = cudaStreamEndCapture(s->stream, &graph);
    if (st)
        return ab_fail_prefix(err, st, "capturing the decode step");
    AB_CUDA_TRY(ce, err);
    ce = cudaGraphInstantiate(&s->exec, graph, 0);
    cudaGraphDestroy(graph);
    AB_CUDA_TRY(ce, err);
    int V = s->cfg.vocab, B = s->B, P = s->P, steps = s->T < GPT2_VERIFY_STEPS ? s->T : GPT2_VERIFY_STEPS;
    size_t half = (size_t)vp->n_seq * steps * V;
    float *lg = malloc(2 * half * sizeof(float)); /* plain, then graph: (n_seq, steps, V) each */
    int *tk = malloc(2 * (size_t)steps * B * sizeof(int));
    if (!lg || !tk) {
        free(lg), free(tk);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    for (int g = 0; g < 2 && !st && !ce; g++) {
        if ((ce = cudaMemcpyAsync(s->dpos, &P, sizeof P, cudaMemcpyHostToDevice, s->stream)) ||
            (ce = cudaMemcpyAsync(s->next, s->first, (size_t)B * sizeof(int), cudaMemcpyDeviceToDevice,
                                  s->stream)))
            break;
        for (int i = 0; i < steps && !st && !ce; i++) {
            if (g == 0) {
                if (!(st = forward(s, s->next, 1, NULL, P + i, err)))
                    ce = gpt2_cu_argmax(s->next, s->logits, B, V, s->Vp, NULL, s->flags, s->stream);
            } else
                ce = cudaGraphLaunch(s->exec, s->stream);
            if (!st && !ce && !(st = grab_rows(s, vp, lg + g * half, steps, i, err)))
                ce = cudaMemcpyAsync(tk + ((size_t)g * steps + i) * B, s->next, (size_t)B * sizeof(int),
                                     cudaMemcpyDeviceToHost, s->stream);
        }
        /* pageable copies return before they land: wait before the host reads them */
        if (!st && !ce)
            ce = cudaStreamSynchronize(s->stream);
    }
    double worst = 0;
    int tok_diff = 0;
    for (size_t i = 0; !st && !ce && i < half; i++)
        worst = fmax(worst, fabs((double)lg[i] - lg[half + i]) / (1 + fabs((double)lg[i])));
    for (size_t i = 0; !st && !ce && i < (size_t)steps * B; i++)
        tok_diff += tk[i] != tk[(size_t)steps * B + i];
    free(lg), free(tk);
    AB_CUDA_TRY(ce, err);
    if (st)
        return st;
    ab_case_metric(c, "graph_step_max_rel_diff", worst);
    if (!(worst <= 1e-4) || tok_diff)
        return ab_fail(err, AB_EMISMATCH,
                       "the captured decode step differs from the plain forward over %d steps: logits by "
                       "%g relative, %d of %d tokens",
                       steps, worst, tok_diff, steps * B);
    return check_flags(s, err);
}

/* The verify plan's prompt and decode steps through the plain forward, each step's logits of
 * the checked sequences compared at the end with the FP64 forward of the tokens chosen. */
static ab_status check_against_reference(struct ab_case *c, struct cuda_state *s, const struct gpt2_vplan *vp,
                                         struct ab_error *err)
{
    int B = s->B, V = s->cfg.vocab, n = vp->P + vp->T, rows = vp->T + 1, extra = vp->all - 1;
    ab_case_metric(c, "verified_prompt_tokens", vp->P);
    ab_case_metric(c, "verified_decode_steps", vp->T);
    ab_case_metric(c, "verified_sequences", vp->n_seq);
    ab_case_metric(c, "verified_positions", vp->all);
    int *seq = malloc((size_t)B * n * sizeof(int)), *in = malloc((size_t)B * vp->P * sizeof(int));
    int *hnext = malloc((size_t)B * sizeof(int)), *din = NULL;
    float *got = malloc((size_t)vp->n_seq * rows * V * sizeof(float));
    float *early = malloc(((size_t)extra + 1) * V * sizeof(float)); /* (extra, V) of seq[0] */
    ab_status st = AB_OK;
    cudaError_t ce = cudaSuccess;
    if (!seq || !in || !hnext || !got || !early) {
        st = ab_fail(err, AB_ENOMEM, "verify: out of memory");
        goto done;
    }
    if ((ce = cudaMalloc((void **)&din, (size_t)B * vp->P * sizeof(int))))
        goto done;
    /* seq[0]'s earlier prompt positions: the forward computes the last position's logits only,
     * so each is the last of a prefix, run through the same parallel (Tq > 1) path as the prompt */
    for (int q = vp->P - extra; q < vp->P; q++) {
        for (int b = 0; b < B; b++)
            memcpy(in + (size_t)b * q, s->prompt + (size_t)b * s->P, (size_t)q * sizeof(int));
        if ((ce = cudaMemcpy(din, in, (size_t)B * q * sizeof(int), cudaMemcpyHostToDevice)))
            goto done;
        if ((st = forward(s, din, q, NULL, 0, err)))
            goto done;
        if ((ce = cudaMemcpyAsync(early + (size_t)(q - (vp->P - extra)) * V,
                                  s->logits + (size_t)vp->seq[0] * s->Vp, (size_t)V * 4,
                                  cudaMemcpyDeviceToHost, s->stream)) ||
            (ce = cudaStreamSynchronize(s->stream)))
            goto done;
    }
    for (int b = 0; b < B; b++) {
        memcpy(seq + (size_t)b * n, s->prompt + (size_t)b * s->P, (size_t)vp->P * sizeof(int));
        memcpy(in + (size_t)b * vp->P, s->prompt + (size_t)b * s->P, (size_t)vp->P * sizeof(int));
    }
    if ((ce = cudaMemcpy(din, in, (size_t)B * vp->P * sizeof(int), cudaMemcpyHostToDevice)))
        goto done;
    if ((st = forward(s, din, vp->P, NULL, 0, err)))
        goto done;
    for (int i = 0; i < rows; i++) {
        if ((st = grab_rows(s, vp, got, rows, i, err)))
            goto done;
        if (i == vp->T)
            break;
        int pos = vp->P + i;
        if ((ce = gpt2_cu_argmax(s->next, s->logits, B, V, s->Vp, NULL, s->flags, s->stream)) ||
            (ce = cudaMemcpyAsync(hnext, s->next, (size_t)B * sizeof(int), cudaMemcpyDeviceToHost,
                                  s->stream)) ||
            (ce = cudaStreamSynchronize(s->stream)))
            goto done;
        for (int b = 0; b < B; b++)
            seq[(size_t)b * n + pos] = hnext[b];
        if ((st = forward(s, s->next, 1, NULL, pos, err)))
            goto done;
    }
    if ((ce = cudaStreamSynchronize(s->stream)))
        goto done;
    double atol, rtol, max_abs = 0;
    gpt2_logit_tolerance(s->dt != AB_DTYPE_FP32, &atol, &rtol);
    st = gpt2_verify_plan_logits(&s->params, vp, seq, early, got, s->dt == AB_DTYPE_BF16, atol, rtol,
                                 &max_abs, err);
    ab_case_metric(c, "max_abs_err", max_abs);
    if (!st)
        st = check_flags(s, err); /* the sequences not compared */
done:
    cudaFree(din);
    free(seq), free(in), free(hnext), free(got), free(early);
    AB_CUDA_TRY(ce, err);
    return st;
}

static ab_status gpt2_cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    struct gpt2_vplan vp;
    gpt2_verify_plan(&s->cfg, s->B, s->P, s->T, s->decode, &vp);
    ab_status st = check_against_reference(c, s, &vp, err);
    if (st)
        return st;
    /* prefill for real (twice: the second, warm, is the time to first token) */
    for (int k = 0; k < 2; k++) {
        AB_CUDA_TRY(cudaEventRecord(s->ev[0], s->stream), err);
        if ((st = prefill(s, err)))
            return st;
        AB_CUDA_TRY(cudaEventRecord(s->ev[1], s->stream), err); /* T >= 1: ev has two */
        AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    }
    float ms = 0;
    AB_CUDA_TRY(cudaEventElapsedTime(&ms, s->ev[0], s->ev[1]), err);
    ab_case_metric(c, "ttft_s", ms * 1e-3);
    if ((st = check_flags(s, err)))
        return st;
    /* what the prefill chose, recorded (the decode's tokens stay on the device while timed) */
    int V = s->cfg.vocab;
    int *first = malloc((size_t)s->B * sizeof(int));
    float *lg = malloc((size_t)s->B * V * sizeof(float));
    cudaError_t ce = !first || !lg
                         ? cudaErrorMemoryAllocation
                         : cudaMemcpy(first, s->first, (size_t)s->B * sizeof(int), cudaMemcpyDeviceToHost);
    if (!ce)
        ce = cudaMemcpy2D(lg, (size_t)V * 4, s->logits, (size_t)s->Vp * 4, (size_t)V * 4, (size_t)s->B,
                          cudaMemcpyDeviceToHost);
    if (!ce)
        gpt2_record_outputs(c, s->prompt, s->B, s->P, first, 1, lg, V, s->P - 1);
    free(first), free(lg);
    AB_CUDA_TRY(ce, err);
    if (s->decode && (st = verify_step_graph(s, c, &vp, err)))
        return st;
    return AB_OK;
}

static ab_status push(struct cuda_state *s, double v, struct ab_error *err)
{
    if (s->n_steps == s->cap_steps) {
        int64_t nc = s->cap_steps ? 2 * s->cap_steps : 1024;
        double *q = realloc(s->steps_s, (size_t)nc * sizeof *q);
        if (!q)
            return ab_fail(err, AB_ENOMEM, "cannot record step times");
        s->steps_s = q, s->cap_steps = nc;
    }
    s->steps_s[s->n_steps++] = v;
    return AB_OK;
}

static ab_status gpt2_cuda_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    ab_status st;
    double total = 0;
    if (!s->decode) {
        AB_CUDA_TRY(cudaEventRecord(s->ev[0], s->stream), err);
        for (int64_t r = 0; r < reps; r++)
            if ((st = prefill(s, err)))
                return st;
        AB_CUDA_TRY(cudaEventRecord(s->ev[1], s->stream), err);
        AB_CUDA_TRY(cudaEventSynchronize(s->ev[1]), err);
        float ms;
        AB_CUDA_TRY(cudaEventElapsedTime(&ms, s->ev[0], s->ev[1]), err);
        *time_s = ms * 1e-3;
        ab_case_metric(c, "ttft_s", *time_s / (double)reps);
        return check_flags(s, err);
    }
    for (int64_t r = 0; r < reps; r++) {
        AB_CUDA_TRY(cudaMemcpyAsync(s->dpos, &s->P, sizeof s->P, cudaMemcpyHostToDevice, s->stream), err);
        AB_CUDA_TRY(cudaMemcpyAsync(s->next, s->first, (size_t)s->B * sizeof(int), cudaMemcpyDeviceToDevice,
                                    s->stream),
                    err);
        for (int i = 0; i < s->T; i++) {
            AB_CUDA_TRY(cudaEventRecord(s->ev[i], s->stream), err);
            AB_CUDA_TRY(cudaGraphLaunch(s->exec, s->stream), err);
        }
        AB_CUDA_TRY(cudaEventRecord(s->ev[s->T], s->stream), err);
        AB_CUDA_TRY(cudaEventSynchronize(s->ev[s->T]), err);
        for (int i = 0; i < s->T; i++) {
            float ms;
            AB_CUDA_TRY(cudaEventElapsedTime(&ms, s->ev[i], s->ev[i + 1]), err);
            total += ms * 1e-3;
            if ((st = push(s, ms * 1e-3, err)))
                return st;
        }
        if ((st = check_flags(s, err)))
            return st;
    }
    *time_s = total;
    struct ab_stats sts;
    ab_stats_compute(s->steps_s, s->n_steps, &sts);
    ab_case_metric(c, "tpot_median_s", sts.median);
    ab_case_metric(c, "tpot_p95_s", sts.p95);
    return AB_OK;
}

static void gpt2_cuda_teardown(struct ab_case *c)
{
    struct cuda_state *s = c->state;
    if (!s)
        return;
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    if (s->exec)
        cudaGraphExecDestroy(s->exec);
    for (int i = 0; i < s->n_plans; i++)
        ops_cuda_matmul_destroy(s->plans[i].mm);
    for (int i = 0; i < s->n_bufs; i++)
        cudaFree(s->bufs[i]);
    if (s->ev)
        for (int i = 0; i <= s->T; i++)
            if (s->ev[i])
                cudaEventDestroy(s->ev[i]);
    if (s->lt)
        cublasLtDestroy(s->lt);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    gpt2_params_free(&s->params);
    free(s->ev), free(s->qkv_w), free(s->proj_w), free(s->fc_w), free(s->fcp_w), free(s->prompt),
        free(s->steps_s);
    free(s);
    c->state = NULL;
}

const struct ab_impl gpt2_cuda_impl = {
    .setup = gpt2_cuda_setup,
    .verify = gpt2_cuda_verify,
    .run = gpt2_cuda_run,
    .teardown = gpt2_cuda_teardown,
};
