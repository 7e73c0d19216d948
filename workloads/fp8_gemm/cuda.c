/* cuda.c — fp8_gemm on NVIDIA GPUs through ops' cuBLASLt matmul: FP8 (E4M3 x E4M3, E4M3 x
 * E5M2) with per-tensor scale pointers or per-row scales (cuBLASLt's outer-vector mode where it
 * has one, else an FP32 product and ops' scaling kernel), BF16 output; BF16/FP16/TF32/FP32
 * likewise. The case's descriptor and rotation are in plan.c (tested without a GPU). The
 * heuristic's first algorithm is used and recorded; the workspace is what cuBLAS recommends
 * (32 MiB on Hopper, 4 MiB before). Repetitions rotate over enough copies of the operands to cover twice
 * the device's L2, so that no dtype's operands are still cached from an earlier repetition. */
#include "fp8_gemm.h"
#include "ops_cuda.h"
#include "plan.h"

#include "ab_cuda.h"

#include <cublasLt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SET_ALIGN ((size_t)256) /* each copy of an operand starts 256-byte aligned */

struct cuda_state {
    struct fp8g_config g;
    struct fp8g_plan p;
    int64_t nrot;
    /* cuBLAS A (weights n x k) and B (activations m x k): nrot copies each, w_stride and
     * x_stride bytes apart. */
    char *dW, *dX;
    size_t w_stride, x_stride;
    void *dD;         /* output, n x m column-major (C row-major) */
    float *dsa, *dsb; /* cuBLAS A (per channel) and B (per token) scales */
    cudaStream_t stream;
    struct ops_cuda_matmul *mm;
    /* Host copies for verification: FP32 originals, stored operands, scales. */
    float *X, *W, *sx, *sw;
    void *hX, *hW;
};

/* Round x (rows x cols FP32) into the stored type, with the scales where FP8. */
static void store(enum ab_dtype st, const float *x, size_t rows, size_t cols, float scale,
                  const float *row_scales, void *out)
{
    if (st == AB_DTYPE_FP8_E4M3 || st == AB_DTYPE_FP8_E5M2)
        fp8_quantize(st, x, rows, cols, cols, scale, row_scales, NULL, out);
    else
        ab_dtype_from_f32(st, out, x, rows * cols);
}

/* Scales of one operand (rows x k, row-major): per row, or one for the tensor. */
static float *scales_of(enum ab_dtype st, bool row, const float *x, size_t rows, size_t k)
{
    enum ab_dtype f = st == AB_DTYPE_FP8_E5M2 ? AB_DTYPE_FP8_E5M2 : AB_DTYPE_FP8_E4M3;
    float *s = malloc((row ? rows : 1) * sizeof *s);
    if (!s)
        return NULL;
    if (row)
        fp8_scale_rows(f, x, rows, k, k, s);
    else
        s[0] = fp8_scale_tensor(f, x, rows, k, k);
    return s;
}

/* The matmul of the plan (its descriptor) and the algorithm recorded. */
static ab_status build(struct ab_case *c, struct cuda_state *s, struct ab_error *err)
{
    ab_status st = ops_cuda_matmul_plan(&s->mm, &s->p.desc, err);
    if (st)
        return st;
    struct ops_cuda_algo a;
    ops_cuda_matmul_algo_info(s->mm, &a);
    ab_case_metric_text(c, "cublaslt_algo", "algo=%d tile=%u stages=%u ws=%zu", a.id, a.tile, a.stages,
                        a.workspace_bytes);
    return AB_OK;
}

/* One repetition on copy r: the matmul and, for the epilogue method, the scaling kernel. */
static ab_status launch(struct cuda_state *s, int64_t r, struct ab_error *err)
{
    const void *w = s->dW + (size_t)r * s->w_stride, *x = s->dX + (size_t)r * s->x_stride;
    /* C (m,n) = sX sW X (m,k) . W (n,k)^T: the per-token scales are X's, the per-channel W's. */
    return ops_cuda_matmul_exec(s->mm, s->dD, x, w, s->dsb, s->dsa, NULL, NULL, s->stream, err);
}

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct fp8g_config g;
    ab_status st = fp8g_config_parse(&c->params, &g, err);
    if (st)
        return st;
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: out of memory");
    c->state = s;
    s->g = g;
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    if ((st = fp8g_plan_make(&g, c->device->cc_major, c->device->cc_minor, (int)cublasLtGetVersion(), &s->p,
                             err)))
        return st;
    const struct fp8g_plan *p = &s->p;
    size_t m = (size_t)g.m, n = (size_t)g.n, k = (size_t)g.k;
    bool fp8 = fp8g_is_fp8(g.dtype), row = g.scaling == FP8G_SCALE_ROW;
    size_t wb = n * k * ab_dtype_size(p->a_store), xb = m * k * ab_dtype_size(p->b_store);
    s->w_stride = (wb + SET_ALIGN - 1) / SET_ALIGN * SET_ALIGN;
    s->x_stride = (xb + SET_ALIGN - 1) / SET_ALIGN * SET_ALIGN;
    size_t ws_bytes = s->p.desc.workspace_bytes;
    size_t dbytes = m * n * (size_t)p->d_bytes,
           d32 = fp8 ? m * n * 4 : 0; /* the epilogue's, if outer vectors fail */
    /* Copies may take half the device's memory; the rest is for D, the workspace and others. */
    s->nrot = fp8g_rotation_sets(s->w_stride + s->x_stride, c->device->l2_bytes, c->device->mem_bytes / 2);
    ab_case_metric(c, "rotation_sets", (double)s->nrot);
    uint64_t need =
        (uint64_t)(s->w_stride + s->x_stride) * (uint64_t)s->nrot + dbytes + d32 + ws_bytes + (m + n) * 4;
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: %zu x %zu x %zu needs %.1f GiB on %s", m, n, k,
                       (double)need / (1u << 30), c->device->id);
    /* Host operands: activations X (m x k) and weights W (n x k, a row per output channel). */
    s->X = malloc(m * k * 4);
    s->W = malloc(n * k * 4);
    s->hX = malloc(xb);
    s->hW = malloc(wb);
    if (!s->X || !s->W || !s->hX || !s->hW)
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: cannot allocate host operands");
    ab_fill_normal_f32(s->X, m * k, c->seed, 1.0f);
    ab_fill_normal_f32(s->W, n * k, c->seed + 1, 1.0f);
    if (fp8) {
        s->sx = scales_of(p->b_store, row, s->X, m, k);
        s->sw = scales_of(p->a_store, row, s->W, n, k);
        if (!s->sx || !s->sw)
            return ab_fail(err, AB_ENOMEM, "fp8_gemm: cannot allocate scales");
    }
    double t0 = ab_now_s();
    store(p->b_store, s->X, m, k, fp8 ? s->sx[0] : 1.0f, row ? s->sx : NULL, s->hX);
    store(p->a_store, s->W, n, k, fp8 ? s->sw[0] : 1.0f, row ? s->sw : NULL, s->hW);
    if (fp8)
        ab_case_metric(c, "host_quant_time_s", ab_now_s() - t0);

    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    ab_case_set_stream(c, s->stream);
    AB_CUDA_TRY(cudaMalloc((void **)&s->dW, s->w_stride * (size_t)s->nrot), err);
    AB_CUDA_TRY(cudaMalloc((void **)&s->dX, s->x_stride * (size_t)s->nrot), err);
    /* Copies hold the same values (rotation is about caches, not data): the first from the
     * host, then doubling device-to-device copies. */
    AB_CUDA_TRY(cudaMemcpy(s->dW, s->hW, wb, cudaMemcpyHostToDevice), err);
    AB_CUDA_TRY(cudaMemcpy(s->dX, s->hX, xb, cudaMemcpyHostToDevice), err);
    for (int64_t have = 1; have < s->nrot;) {
        int64_t more = have < s->nrot - have ? have : s->nrot - have;
        AB_CUDA_TRY(cudaMemcpy(s->dW + (size_t)have * s->w_stride, s->dW, (size_t)more * s->w_stride,
                               cudaMemcpyDeviceToDevice),
                    err);
        AB_CUDA_TRY(cudaMemcpy(s->dX + (size_t)have * s->x_stride, s->dX, (size_t)more * s->x_stride,
                               cudaMemcpyDeviceToDevice),
                    err);
        have += more;
    }
    AB_CUDA_TRY(cudaMalloc(&s->dD, dbytes), err);
    AB_CUDA_TRY(cudaMemset(s->dD, 0xff, dbytes), err); /* NaN until written */
    if (fp8) {
        size_t na = (size_t)p->a_scales, nb = (size_t)p->b_scales;
        AB_CUDA_TRY(cudaMalloc((void **)&s->dsa, na * 4), err);
        AB_CUDA_TRY(cudaMalloc((void **)&s->dsb, nb * 4), err);
        AB_CUDA_TRY(cudaMemcpy(s->dsa, s->sw, na * 4, cudaMemcpyHostToDevice), err);
        AB_CUDA_TRY(cudaMemcpy(s->dsb, s->sx, nb * 4, cudaMemcpyHostToDevice), err);
    }
    st = build(c, s, err);
    const char *refused = st == AB_EUNSUPPORTED ? "the heuristic"
                          : s->mm               ? ops_cuda_matmul_fallback(s->mm)
                                                : NULL;
    if (st == AB_OK && refused) {
        /* ops' builder fell back to its kernel when the heuristic refused outer vectors */
        ab_case_metric_text(c, "row_scaling_fallback", "%s refused outer vectors", refused);
        s->p.row = FP8G_ROW_EPILOGUE;
        s->p.d_fp32_then_scale = true;
    } else if (st == AB_OK && p->row == FP8G_ROW_OUTER_VEC) {
        /* The heuristic may offer an algorithm that cublasLtMatmul then refuses for outer
         * vectors: try it once (D is reset to NaN before verification). */
        st = launch(s, 0, err);
        if (st == AB_OK)
            AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
        else if (st == AB_EUNSUPPORTED)
            refused = "cublasLtMatmul";
        AB_CUDA_TRY(cudaMemset(s->dD, 0xff, dbytes), err);
    }
    if (s->mm && fp8g_row_falls_back(g.row_request, p->row, st)) {
        /* This cuBLASLt or device has no outer-vector kernel for the case: our epilogue. */
        ab_case_metric_text(c, "row_scaling_fallback", "%s refused outer vectors", refused);
        s->p.row = FP8G_ROW_EPILOGUE;
        s->p.d_fp32_then_scale = true;
        st = ops_cuda_matmul_fall_back(s->mm, refused, err);
        if (st == AB_OK) {
            struct ops_cuda_algo a;
            ops_cuda_matmul_algo_info(s->mm, &a);
            ab_case_metric_text(c, "cublaslt_algo", "algo=%d tile=%u stages=%u ws=%zu", a.id, a.tile,
                                a.stages, a.workspace_bytes);
        }
    } else if (st == AB_EUNSUPPORTED && p->row == FP8G_ROW_OUTER_VEC)
        return ab_fail_prefix(err, st, "row_scale=cublaslt: %s refused outer-vector scales", refused);
    if (st)
        return st;
    if (fp8)
        ab_case_metric_text(c, "row_scaling", "%s", fp8g_row_method_name(s->p.row));
    fp8g_work(&g, ab_dtype_size(p->b_store), ab_dtype_size(p->a_store), (size_t)p->d_bytes, &c->work);
    c->work.ceiling = fp8g_cuda_ceiling(&g);
    return AB_OK;
}

/* Tolerance against the FP64 product of the operands as cuBLASLt reads them, relative to
 * sum|a||b|: the output rounding (BF16 2^-8, FP16 2^-11), TF32's 10-bit inputs, and the
 * coarser partial sums of FP8 fast accumulation, each with FP32-accumulation slack. */
static double cuda_rtol(const struct cuda_state *s)
{
    switch (s->g.dtype) {
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2: return s->g.fast_accum ? ldexp(1, -6) : ldexp(1, -8) + ldexp(1, -12);
    case AB_DTYPE_BF16: return ldexp(1, -8) + ldexp(1, -12);
    case AB_DTYPE_FP16: return ldexp(1, -11) + ldexp(1, -13);
    case AB_DTYPE_TF32: return ldexp(1, -10) + ldexp(1, -14);
    default: return 1e-5;
    }
}

static ab_status cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    ab_status st = launch(s, 0, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    const struct fp8g_config *g = &s->g;
    size_t mn = (size_t)g->m * (size_t)g->n, db = (size_t)s->p.d_bytes;
    void *hd = malloc(mn * db);
    float *C = malloc(mn * sizeof *C);
    if (!hd || !C) {
        free(hd);
        free(C);
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: cannot allocate the output copy");
    }
    cudaError_t ce = cudaMemcpy(hd, s->dD, mn * db, cudaMemcpyDeviceToHost);
    if (ce != cudaSuccess) {
        free(hd);
        free(C);
        return ab_fail(err, AB_EFAIL, "cudaMemcpy of the output: %s", cudaGetErrorString(ce));
    }
    /* D is n x m column-major: exactly C (m x n) row-major. */
    for (size_t i = 0; i < mn; i++) {
        if (db == 4)
            C[i] = ((const float *)hd)[i];
        else if (g->dtype == AB_DTYPE_FP16)
            C[i] = ab_fp16_to_f32(((const uint16_t *)hd)[i]);
        else
            C[i] = ab_bf16_to_f32(((const uint16_t *)hd)[i]);
    }
    free(hd);
    bool fp8 = fp8g_is_fp8(g->dtype), row = g->scaling == FP8G_SCALE_ROW;
    struct fp8g_operand a = { .orig = s->X,
                              .stored = s->hX,
                              .store = s->p.b_store,
                              .scales = fp8 ? s->sx : NULL,
                              .n_scales = row ? g->m : 1,
                              .stride_o = g->k,
                              .stride_k = 1 };
    struct fp8g_operand b = { .orig = s->W,
                              .stored = s->hW,
                              .store = s->p.a_store,
                              .scales = fp8 ? s->sw : NULL,
                              .n_scales = row ? g->n : 1,
                              .stride_o = g->k,
                              .stride_k = 1 };
    struct fp8g_accuracy acc;
    double rtol = cuda_rtol(s);
    fp8g_check(g, &a, &b, C, g->n, 1e-30, rtol, c->seed, &acc);
    free(C);
    return fp8g_report(c, &acc, rtol, err);
}

static ab_status cuda_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    return launch(s, rep % s->nrot, err);
}

static void cuda_teardown(struct ab_case *c)
{
    struct cuda_state *s = c->state;
    if (!s)
        return;
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    ops_cuda_matmul_destroy(s->mm);
    cudaFree(s->dW);
    cudaFree(s->dX);
    cudaFree(s->dD);
    cudaFree(s->dsa);
    cudaFree(s->dsb);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    free(s->X);
    free(s->W);
    free(s->hX);
    free(s->hW);
    free(s->sx);
    free(s->sw);
    free(s);
    c->state = NULL;
}

const struct ab_impl fp8_gemm_cuda_impl = {
    .setup = cuda_setup,
    .verify = cuda_verify,
    .launch = cuda_launch,
    .teardown = cuda_teardown,
};
