/* cuda.c — gpt2 on an NVIDIA GPU: the CUDA op table of model.c's one forward pass (ops'
 * cuBLASLt matmul and KV-cache attention, the launchers of kernels.cu), and the case's setup,
 * verify (the shared gpt2_check_forward, then the captured step) and timing. Matmuls through
 * ops_cuda_matmul (TN, fp32 compute and output, bias / GELU+bias epilogues, beta = 1 for the
 * residual add), activations and KV cache fp32; attention through ops_cuda_cache_attention (the
 * fused kernel for a prompt, the decode kernel for one token). A decode step (embed .. logits
 * .. argmax, position advanced on the device) is captured once as a CUDA graph and replayed T
 * times per repetition without a host round trip; events between replays give the per-token
 * times. The logits GEMM runs over the vocabulary padded to a multiple of 64 (zero rows), like
 * the CPU's. */
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
    struct gpt2_fwd fwd; /* over cuda_ops, on the device buffers below */
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
    struct ops_cuda_cache_plan attn; /* ops' attention over the cache: fused, or decode for one query */
    float *parts;                    /* the decode kernel's partial results */
    void *mmin;
    int *tok, *first, *next, *dpos, *flags;
    int *din; /* (B, P) tokens copied in by the verify (allocated there, not in dev_bytes) */
    cudaGraphExec_t exec;
    struct cu_plan plans[MAX_PLANS];
    int n_plans;
    void *bufs[MAX_BUFS];
    int n_bufs;
    uint64_t dev_bytes;
    struct gpt2_times steps_s;
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
    uint64_t parts = ops_cuda_decode_parts_bound(B, cfg->n_head, max_T, cfg->n_embd / cfg->n_head);
    return params + run_w + head + 2 * kv * 4 + act + small + parts + WORKSPACE_BYTES;
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

/* ------------------------------------------------------------------ the CUDA ops */

static ab_status cu_embed(void *ctx, float *x, const int *tokens, struct gpt2_span at, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    const struct gpt2_params *p = &s->params;
    AB_CUDA_TRY(gpt2_cu_embed(x, tokens, dev(s, p->wte), dev(s, p->wpe), at.dpos, at.pos0, s->B, at.Tq,
                              s->cfg.n_embd, s->cfg.vocab, s->flags, s->stream),
                err);
    return AB_OK;
}

static ab_status cu_layernorm(void *ctx, void *out, const float *x, const float *g, const float *b, int rows,
                              int rstep, int roff, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    AB_CUDA_TRY(
        gpt2_cu_layernorm(out, s->dt, x, dev(s, g), dev(s, b), rows, rstep, roff, s->cfg.n_embd, s->stream),
        err);
    return AB_OK;
}

static ab_status cu_convert(void *ctx, void *dst, const float *src, size_t n, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    AB_CUDA_TRY(gpt2_cu_convert(dst, s->dt, src, n, s->stream), err);
    return AB_OK;
}

/* out (M,N) fp32 [+]= inp (M,K) . w (N,K)^T [+ bias] [then GELU], w in the run dtype */
static ab_status cu_matmul(void *ctx, int layer, enum gpt2_mm kind, float *out, const void *in,
                           const float *bias, int M, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    void **w[GPT2_MM_HEAD] = { s->qkv_w, s->proj_w, s->fc_w, s->fcp_w };
    int N, K;
    unsigned epi;
    gpt2_mm_shape(&s->cfg, kind, &N, &K, &epi);
    struct cu_plan *q = NULL;
    ab_status st = plan_get(s, M, N, K, epi, &q, err);
    if (st)
        return st;
    return ops_cuda_matmul_exec(q->mm, out, in, kind == GPT2_MM_HEAD ? s->wte : w[kind][layer], NULL, NULL,
                                bias ? dev(s, bias) : NULL, NULL, s->stream, err);
}

static float *cache_at(struct cuda_state *s, float *cache, int layer)
{
    return cache + (size_t)layer * s->B * s->max_T * s->cfg.n_embd;
}

static ab_status cu_kv_append(void *ctx, int layer, const float *qkv, struct gpt2_span at,
                              struct ab_error *err)
{
    struct cuda_state *s = ctx;
    AB_CUDA_TRY(gpt2_cu_kv_append(cache_at(s, s->kc, layer), cache_at(s, s->vc, layer), qkv, at.dpos, at.pos0,
                                  s->B, at.Tq, s->cfg.n_embd, s->max_T, s->stream),
                err);
    return AB_OK;
}

/* ops' attention over the layer's cache (B, max_T, C): the fused kernel for a prompt or a
 * continuation, the decode kernel for one token (at *dpos in the captured step) */
static ab_status cu_attention(void *ctx, int layer, float *out, const float *qkv, struct gpt2_span at,
                              struct ab_error *err)
{
    struct cuda_state *s = ctx;
    return ops_cuda_cache_attention(&s->attn, out, qkv, cache_at(s, s->kc, layer), cache_at(s, s->vc, layer),
                                    at.Tq, at.pos0, at.dpos, s->parts, s->stream, err);
}

/* host dst (n, V) = padded logit rows row0.., once the stream has made them */
static ab_status cu_logits_out(void *ctx, float *dst, int row0, int n, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    int V = s->cfg.vocab;
    AB_CUDA_TRY(cudaMemcpy2DAsync(dst, (size_t)V * 4, s->logits + (size_t)row0 * s->Vp, (size_t)s->Vp * 4,
                                  (size_t)V * 4, (size_t)n, cudaMemcpyDeviceToHost, s->stream),
                err);
    /* pageable copies return before they land: wait before the host reads them */
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    return AB_OK;
}

/* host tokens into din, once the forward that last read din is done */
static ab_status cu_tokens_in(void *ctx, const int *host, int n, const int **out, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    if (n > s->B * s->P)
        return ab_fail(err, AB_EINVAL, "%d tokens in, room for %d", n, s->B * s->P);
    if (!s->din)
        AB_CUDA_TRY(cudaMalloc((void **)&s->din, (size_t)s->B * s->P * sizeof(int)), err);
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    AB_CUDA_TRY(cudaMemcpy(s->din, host, (size_t)n * sizeof(int), cudaMemcpyHostToDevice), err);
    *out = s->din;
    return AB_OK;
}

/* the greedy tokens on the device (next) and in tok; a NaN row is flagged, seen by check_flags */
static ab_status cu_pick(void *ctx, int pos, int *tok, const int **next, struct ab_error *err)
{
    struct cuda_state *s = ctx;
    (void)pos;
    AB_CUDA_TRY(gpt2_cu_argmax(s->next, s->logits, s->B, s->cfg.vocab, s->Vp, NULL, s->flags, s->stream),
                err);
    AB_CUDA_TRY(cudaMemcpyAsync(tok, s->next, (size_t)s->B * sizeof(int), cudaMemcpyDeviceToHost, s->stream),
                err);
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    *next = s->next;
    return AB_OK;
}

static const struct gpt2_ops cuda_ops = {
    .embed = cu_embed,
    .layernorm = cu_layernorm,
    .convert = cu_convert,
    .matmul = cu_matmul,
    .kv_append = cu_kv_append,
    .attention = cu_attention,
    .logits_out = cu_logits_out,
    .tokens_in = cu_tokens_in,
    .pick = cu_pick,
};

/* Tq new tokens per sequence (tok on the device, (B, Tq)) at pos0 (or *dpos); logits
 * (B, V) of the last position in s->logits. Stream-ordered only: capturable. */
static ab_status forward(struct cuda_state *s, const int *tok, int Tq, const int *dpos, int pos0,
                         struct ab_error *err)
{
    return gpt2_forward(&s->fwd, tok, (struct gpt2_span){ .Tq = Tq, .pos0 = pos0, .dpos = dpos }, false, NULL,
                        err);
}

static ab_status gpt2_cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    const struct ab_params *ps = &c->params;
    s->dt = ab_param_is(ps, "dtype", "bf16")   ? AB_DTYPE_BF16
            : ab_param_is(ps, "dtype", "fp16") ? AB_DTYPE_FP16
                                               : AB_DTYPE_FP32;
    struct gpt2_case gc;
    ab_status st = gpt2_case_read(c, &gc, err);
    if (st)
        return st;
    s->decode = gc.decode, s->B = gc.B, s->P = gc.P, s->T = gc.T, s->max_T = gc.max_T, s->cfg = gc.cfg;
    size_t C = (size_t)s->cfg.n_embd, L = (size_t)s->cfg.n_layer, V = (size_t)s->cfg.vocab;
    size_t rows = (size_t)s->B * s->P, kv = L * (size_t)s->B * s->max_T * C, np = gpt2_param_count(&s->cfg);
    s->Vp = gpt2_cuda_logits_ld(s->cfg.vocab);
    size_t Vp = (size_t)s->Vp, wmm = L * 12 * C * C, es = elem_size(s->dt);
    uint64_t need = gpt2_cuda_device_bytes(&s->cfg, s->dt, s->B, s->P, s->max_T);
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM, "needs %.2f GB of device memory", need * 1e-9);
    /* a head size no attention kernel takes is refused before any CUDA call; activations and
     * cache are fp32 */
    int NH = s->cfg.n_head, HS = s->cfg.n_embd / NH, sms = c->device->compute_units;
    if ((st = ops_cuda_cache_attn_plan(s->B, NH, HS, s->P, s->max_T, AB_DTYPE_FP32, sms > 0 ? sms : 1,
                                       &s->attn, err)))
        return st;
    /* the device first: a machine without a usable GPU fails here, before the weights are made */
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    if (sms < 1) {
        AB_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, c->device->index), err);
        if ((st = ops_cuda_cache_attn_plan(s->B, NH, HS, s->P, s->max_T, AB_DTYPE_FP32, sms, &s->attn, err)))
            return st;
    }
    size_t parts = ops_cuda_decode_parts_bound(s->B, NH, s->max_T, HS);
    if (s->attn.decode && s->attn.dec.parts_bytes > parts)
        return ab_fail(err, AB_EFAIL,
                       "decode attention: %zu bytes of partial results, more than the %zu counted",
                       s->attn.dec.parts_bytes, parts);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    AB_CUBLAS_TRY(cublasLtCreate(&s->lt), err);
    if ((st = gpt2_case_weights(c, &s->cfg, &s->params, err)))
        return st;
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
        (st = dalloc(s, (void **)&s->flags, sizeof(int), err)) ||
        (st = dalloc(s, (void **)&s->parts, parts, err)))
        return st;
    AB_CUDA_TRY(cudaMemset(s->flags, 0, sizeof(int)), err);
    if (!(s->prompt = malloc(rows * sizeof(int))))
        return ab_fail(err, AB_ENOMEM, "out of memory");
    if ((st = gpt2_case_prompt(c, (int)V, s->B, s->P, s->prompt, err)))
        return st;
    AB_CUDA_TRY(cudaMemcpy(s->tok, s->prompt, rows * sizeof(int), cudaMemcpyHostToDevice), err);
    s->fwd = (struct gpt2_fwd){ .ops = &cuda_ops,
                                .ctx = s,
                                .p = &s->params,
                                .dt = s->dt,
                                .B = s->B,
                                .max_T = s->max_T,
                                .max_Tq = s->P,
                                .x = s->x,
                                .qkv = s->qkv,
                                .att = s->att,
                                .h = s->h,
                                .mmin = s->mmin,
                                .lpad = s->logits };
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

static ab_status gpt2_cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    struct gpt2_vplan vp;
    gpt2_verify_plan(&s->cfg, s->B, s->P, s->T, s->decode, &vp);
    ab_status st = gpt2_check_forward(c, &s->fwd, &vp, s->prompt, s->P, err);
    if (!st)
        st = check_flags(s, err); /* a NaN the greedy picks saw, and the sequences not compared */
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
            if ((st = gpt2_times_push(&s->steps_s, ms * 1e-3, err)))
                return st;
        }
        if ((st = check_flags(s, err)))
            return st;
    }
    *time_s = total;
    gpt2_record_tpot(c, &s->steps_s);
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
    cudaFree(s->din);
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
        free(s->steps_s.v);
    free(s);
    c->state = NULL;
}

const struct ab_impl gpt2_cuda_impl = {
    .setup = gpt2_cuda_setup,
    .verify = gpt2_cuda_verify,
    .run = gpt2_cuda_run,
    .teardown = gpt2_cuda_teardown,
};
