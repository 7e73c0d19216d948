/* cuda.c — transformer_block on an NVIDIA GPU: the same layer over the CUDA ops (cuBLASLt
 * matmuls with bias and GELU+bias epilogues and the residual as C with beta = 1; LayerNorm and
 * the fused tensor-core attention of ops_cuda.cu). Small cases, where launch gaps would
 * dominate, replay the forward as a CUDA graph (axis cuda_graph forces either path). The engine
 * times the launches (one forward each); the per-op breakdown comes from one forward in verify
 * with events between the ops, so launch() does only timed work. */
#include "ab_cuda.h"
#include "ops_cuda.h"
#include "transformer_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OP_LN1, OP_QKV, OP_ATTN, OP_PROJ_RES, OP_LN2, OP_FC_GELU, OP_FCPROJ_RES, N_OPS };
static const char *const op_names[N_OPS] = { "ln1", "qkv",     "attn",       "attn_proj_res",
                                             "ln2", "fc_gelu", "fc_proj_res" };

struct cu_layer {
    struct tb_dims d;    /* device dtype */
    struct tb_dims hd;   /* host weights' dtype (fp32 for an fp16 case) */
    struct tb_weights w; /* host copies, for the reference */
    void *x, *wqkv, *wo, *wfc, *wproj;
    void *bqkv, *bo, *bfc, *bproj; /* in ops_cuda_bias_dtype(d.dt) */
    float *g1, *be1, *g2, *be2;
    void *ln1, *qkv, *att, *h, *ln2, *fc, *y;
    float *y32;
    struct ops_cuda_matmul *mm_qkv, *mm_o, *mm_fc, *mm_proj;
    cudaStream_t stream;
    cudaGraphExec_t graph;
    cudaEvent_t ev[N_OPS + 1];
};

static void cu_layer_destroy(struct cu_layer *L)
{
    if (!L)
        return;
    void *ps[] = { L->x,  L->wqkv, L->wo,  L->wfc, L->wproj, L->bqkv, L->bo,  L->bfc, L->bproj, L->g1, L->be1,
                   L->g2, L->be2,  L->ln1, L->qkv, L->att,   L->h,    L->ln2, L->fc,  L->y,     L->y32 };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        cudaFree(ps[i]);
    ops_cuda_matmul_destroy(L->mm_qkv);
    ops_cuda_matmul_destroy(L->mm_o);
    ops_cuda_matmul_destroy(L->mm_fc);
    ops_cuda_matmul_destroy(L->mm_proj);
    if (L->graph)
        cudaGraphExecDestroy(L->graph);
    for (int i = 0; i <= N_OPS; i++)
        if (L->ev[i])
            cudaEventDestroy(L->ev[i]);
    if (L->stream)
        cudaStreamDestroy(L->stream);
    tb_weights_free(&L->w);
    (void)cudaGetLastError();
    free(L);
}

/* Upload n host values in hdt to a new device buffer in ddt (equal, or one of them fp32). */
static ab_status upload(struct cu_layer *L, void **dst, const void *src, enum ab_dtype hdt, enum ab_dtype ddt,
                        size_t n, struct ab_error *err)
{
    AB_CUDA_TRY(cudaMalloc(dst, n * ab_dtype_size(ddt)), err);
    if (hdt == ddt) {
        AB_CUDA_TRY(cudaMemcpy(*dst, src, n * ab_dtype_size(ddt), cudaMemcpyHostToDevice), err);
        return AB_OK;
    }
    void *tmp;
    AB_CUDA_TRY(cudaMalloc(&tmp, n * 4), err);
    ab_status st = AB_OK;
    cudaError_t e = cudaMemcpy(tmp, src, n * 4, cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        st = ab_fail(err, AB_EFAIL, "cudaMemcpy: %s", cudaGetErrorString(e));
    if (st == AB_OK)
        st = ops_cuda_convert(*dst, ddt, tmp, AB_DTYPE_FP32, n, L->stream, err);
    if (st == AB_OK && (e = cudaStreamSynchronize(L->stream)) != cudaSuccess)
        st = ab_fail(err, AB_EFAIL, "cudaStreamSynchronize: %s", cudaGetErrorString(e));
    cudaFree(tmp);
    return st;
}

/* Upload a matmul bias (n fp32 host values) in the dtype cuBLASLt's epilogue reads it in (the
 * output's), and give the host copy that rounding too, so the reference sees the same bias. */
static ab_status upload_bias(struct cu_layer *L, void **dst, float *host, size_t n, struct ab_error *err)
{
    enum ab_dtype bdt = ops_cuda_bias_dtype(L->d.dt);
    ab_status st = upload(L, dst, host, AB_DTYPE_FP32, bdt, n, err);
    if (st || bdt == AB_DTYPE_FP32)
        return st;
    float *tmp;
    AB_CUDA_TRY(cudaMalloc((void **)&tmp, n * 4), err);
    st = ops_cuda_convert(tmp, AB_DTYPE_FP32, *dst, bdt, n, L->stream, err);
    cudaError_t e = cudaSuccess;
    if (st == AB_OK && (e = cudaStreamSynchronize(L->stream)) == cudaSuccess)
        e = cudaMemcpy(host, tmp, n * 4, cudaMemcpyDeviceToHost);
    if (st == AB_OK && e != cudaSuccess)
        st = ab_fail(err, AB_EFAIL, "bias read-back: %s", cudaGetErrorString(e));
    cudaFree(tmp);
    return st;
}

static ab_status cu_forward(struct cu_layer *L, bool events, struct ab_error *err)
{
    const struct tb_dims *d = &L->d;
    int M = d->B * d->T, C = d->C;
    cudaStream_t s = L->stream;
    ab_status st;
#define STEP(i, call)                                                                                        \
    do {                                                                                                     \
        if (events)                                                                                          \
            AB_CUDA_TRY(cudaEventRecord(L->ev[i], s), err);                                                  \
        if ((st = (call)))                                                                                   \
            return st;                                                                                       \
    } while (0)
    STEP(OP_LN1, ops_cuda_layernorm(L->ln1, L->x, L->g1, L->be1, M, C, d->dt, s, err));
    STEP(OP_QKV, ops_cuda_matmul_run(L->mm_qkv, L->qkv, L->ln1, L->wqkv, L->bqkv, NULL, s, err));
    STEP(OP_ATTN, ops_cuda_attention(L->att, L->qkv, d->B, d->NH, d->T, C / d->NH, d->dt, s, err));
    STEP(OP_PROJ_RES, ops_cuda_matmul_run(L->mm_o, L->h, L->att, L->wo, L->bo, L->x, s, err));
    STEP(OP_LN2, ops_cuda_layernorm(L->ln2, L->h, L->g2, L->be2, M, C, d->dt, s, err));
    STEP(OP_FC_GELU, ops_cuda_matmul_run(L->mm_fc, L->fc, L->ln2, L->wfc, L->bfc, NULL, s, err));
    STEP(OP_FCPROJ_RES, ops_cuda_matmul_run(L->mm_proj, L->y, L->fc, L->wproj, L->bproj, L->h, s, err));
#undef STEP
    if (events)
        AB_CUDA_TRY(cudaEventRecord(L->ev[N_OPS], s), err);
    return AB_OK;
}

static ab_status cu_layer_create(struct cu_layer **out, const struct tb_dims *d, uint64_t seed, bool graph,
                                 struct ab_error *err)
{
    struct cu_layer *L = calloc(1, sizeof *L);
    *out = L;
    if (!L)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    L->d = *d;
    L->hd = *d;
    if (d->dt == AB_DTYPE_FP16)
        L->hd.dt = AB_DTYPE_FP32; /* host weights in fp32, rounded to fp16 on the device */
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&L->stream, cudaStreamNonBlocking), err);
    for (int i = 0; i <= N_OPS; i++)
        AB_CUDA_TRY(cudaEventCreate(&L->ev[i]), err);
    ab_status st = tb_weights_make(&L->w, &L->hd, seed, err);
    if (st)
        return st;
    size_t C = (size_t)d->C, M = (size_t)d->B * d->T, es = ab_dtype_size(d->dt);
    enum ab_dtype hdt = L->hd.dt, ddt = d->dt;
    if ((st = upload(L, &L->x, L->w.x, hdt, ddt, M * C, err)) ||
        (st = upload(L, &L->wqkv, L->w.wqkv, hdt, ddt, 3 * C * C, err)) ||
        (st = upload(L, &L->wo, L->w.wo, hdt, ddt, C * C, err)) ||
        (st = upload(L, &L->wfc, L->w.wfc, hdt, ddt, 4 * C * C, err)) ||
        (st = upload(L, &L->wproj, L->w.wproj, hdt, ddt, 4 * C * C, err)) ||
        (st = upload_bias(L, &L->bqkv, L->w.bqkv, 3 * C, err)) ||
        (st = upload_bias(L, &L->bo, L->w.bo, C, err)) ||
        (st = upload_bias(L, &L->bfc, L->w.bfc, 4 * C, err)) ||
        (st = upload_bias(L, &L->bproj, L->w.bproj, C, err)) ||
        (st = upload(L, (void **)&L->g1, L->w.g1, AB_DTYPE_FP32, AB_DTYPE_FP32, C, err)) ||
        (st = upload(L, (void **)&L->be1, L->w.be1, AB_DTYPE_FP32, AB_DTYPE_FP32, C, err)) ||
        (st = upload(L, (void **)&L->g2, L->w.g2, AB_DTYPE_FP32, AB_DTYPE_FP32, C, err)) ||
        (st = upload(L, (void **)&L->be2, L->w.be2, AB_DTYPE_FP32, AB_DTYPE_FP32, C, err)))
        return st;
    void **bufs[] = { &L->ln1, &L->qkv, &L->att, &L->h, &L->ln2, &L->fc, &L->y };
    size_t mult[] = { 1, 3, 1, 1, 1, 4, 1 };
    for (int i = 0; i < 7; i++)
        AB_CUDA_TRY(cudaMalloc(bufs[i], mult[i] * M * C * es), err);
    AB_CUDA_TRY(cudaMalloc((void **)&L->y32, M * C * 4), err);
    int m = (int)M, c = (int)C;
    if ((st = ops_cuda_matmul_create(&L->mm_qkv, m, 3 * c, c, d->dt, OPS_MM_BIAS, err)) ||
        (st = ops_cuda_matmul_create(&L->mm_o, m, c, c, d->dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, err)) ||
        (st = ops_cuda_matmul_create(&L->mm_fc, m, 4 * c, c, d->dt, OPS_MM_BIAS | OPS_MM_GELU, err)) ||
        (st = ops_cuda_matmul_create(&L->mm_proj, m, c, 4 * c, d->dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, err)))
        return st;
    if (graph) {
        cudaGraph_t g;
        AB_CUDA_TRY(cudaStreamBeginCapture(L->stream, cudaStreamCaptureModeThreadLocal), err);
        st = cu_forward(L, false, err);
        cudaError_t e = cudaStreamEndCapture(L->stream, &g);
        if (st)
            return st;
        if (e != cudaSuccess)
            return ab_fail(err, AB_EFAIL, "cudaStreamEndCapture: %s", cudaGetErrorString(e));
        e = cudaGraphInstantiate(&L->graph, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess)
            return ab_fail(err, AB_EFAIL, "cudaGraphInstantiate: %s", cudaGetErrorString(e));
    }
    return AB_OK;
}

static ab_status cu_run_once(struct cu_layer *L, struct ab_error *err)
{
    if (L->graph) {
        AB_CUDA_TRY(cudaGraphLaunch(L->graph, L->stream), err);
        return AB_OK;
    }
    return cu_forward(L, false, err);
}

/* Forward once, then compare the first nt tokens of the first nb sequences with FP64. */
static ab_status cu_check(struct cu_layer *L, int nb, int nt, struct ab_case *c, const char *what,
                          struct ab_error *err)
{
    const struct tb_dims *d = &L->d;
    size_t n = (size_t)d->B * d->T * d->C;
    ab_status st = cu_run_once(L, err);
    if (st == AB_OK)
        st = ops_cuda_convert(L->y32, AB_DTYPE_FP32, L->y, d->dt, n, L->stream, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(L->stream), err);
    size_t rows = (size_t)nb * d->T * d->C;
    float *y = malloc(rows * 4);
    double *ref = malloc(sizeof(double) * (size_t)nb * nt * d->C);
    if (!y || !ref) {
        free(y), free(ref);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    cudaError_t e = cudaMemcpy(y, L->y32, rows * 4, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess)
        st = ab_fail(err, AB_EFAIL, "cudaMemcpy: %s", cudaGetErrorString(e));
    if (st == AB_OK) {
        tb_ref_layer(ref, &L->w, &L->hd, nb, nt);
        st = tb_check(y, AB_DTYPE_FP32, ref, d, nb, nt, c, what, err);
    }
    free(y), free(ref);
    return st;
}

struct cu_state {
    struct cu_layer *L;
};

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cu_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    struct tb_dims d;
    ab_status st = tb_dims_from_params(&c->params, &d, err);
    if (st)
        return st;
    double act = (double)d.B * d.T * d.C * (double)ab_dtype_size(d.dt);
    if (!ab_device_fits(c->device, (uint64_t)(tb_weight_bytes(&d) + 13 * act + 4 * act + (128 << 20))))
        return ab_fail(err, AB_ENOMEM, "the layer does not fit in device memory");
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    c->work.flops = tb_flops(&d);
    c->work.bytes = tb_weight_bytes(&d) + 2 * act;
    c->work.tokens = (double)d.B * d.T;
    c->work.ceiling = d.dt == AB_DTYPE_BF16 ? "bf16_gemm" : d.dt == AB_DTYPE_FP16 ? "fp16_gemm" : "fp32_gemm";
    c->work.rate = "flops";
    bool graph = tb_cuda_graph(&c->params, c->work.flops);
    ab_case_metric(c, "flops_full_attention", tb_flops_full_attention(&d));
    ab_case_metric(c, "cuda_graph", graph);
    if ((st = cu_layer_create(&s->L, &d, c->seed, graph, err)))
        return st;
    ab_case_set_stream(c, s->L->stream);
    struct ops_cuda_attn_plan p;
    if (ops_cuda_attn_plan(d.B, d.NH, d.T, d.C / d.NH, d.dt, &p, err) == AB_OK)
        ab_case_metric_text(c, "attn_impl", "%s", p.kind == OPS_CUDA_ATTN_TC ? "tensor_core" : "cuda_core");
    ab_case_metric_text(c, "cublaslt_fc", "%s", ops_cuda_matmul_algo(s->L->mm_fc));
    return AB_OK;
}

/* Per-op breakdown: one forward with events between the ops. It runs here, in verify, and not
 * in launch(): the runner's energy window spans the timed batches, so any forward beyond the
 * timed ones is energy charged to no repetition (up to 2x the energy per token at one
 * repetition per sample). */
static ab_status cu_breakdown(struct ab_case *c, struct cu_layer *L, struct ab_error *err)
{
    ab_status st = cu_forward(L, true, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaEventSynchronize(L->ev[N_OPS]), err);
    for (int i = 0; i < N_OPS; i++) {
        float t = 0;
        AB_CUDA_TRY(cudaEventElapsedTime(&t, L->ev[i], L->ev[i + 1]), err);
        char name[40];
        snprintf(name, sizeof name, "%s_s", op_names[i]);
        ab_case_metric(c, name, t * 1e-3);
    }
    return AB_OK;
}

/* A small layer in full, then the case's own layer: in the check suite over every token of
 * every sequence, otherwise on the first tokens of its first sequence (causal: they depend on
 * nothing later, so their FP64 reference is cheap at any size). The first forward (and a
 * graph's first launch) happens here, before any timing. */
static ab_status cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cu_state *s = c->state;
    struct tb_dims sd;
    tb_small_dims(&s->L->d, &sd);
    struct cu_layer *small;
    ab_status st = cu_layer_create(&small, &sd, c->seed ^ 0x5a5a, false, err);
    if (st == AB_OK)
        st = cu_check(small, sd.B, sd.T, c, "small", err);
    cu_layer_destroy(small);
    if (st)
        return st;
    int nb, nt;
    const char *what = tb_verify_extent(&s->L->d, c->suite, &nb, &nt);
    if ((st = cu_check(s->L, nb, nt, c, what, err)))
        return st;
    return cu_breakdown(c, s->L, err);
}

/* Exactly one forward, nothing else (see cu_breakdown): the engine's timer spans the batch. */
static ab_status cuda_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct cu_state *s = c->state;
    return cu_run_once(s->L, err);
}

static void cuda_teardown(struct ab_case *c)
{
    struct cu_state *s = c->state;
    if (!s)
        return;
    cu_layer_destroy(s->L);
    free(s);
    c->state = NULL;
}

const struct ab_impl transformer_block_cuda_impl = {
    .setup = cuda_setup,
    .verify = cuda_verify,
    .launch = cuda_launch,
    .teardown = cuda_teardown,
};
