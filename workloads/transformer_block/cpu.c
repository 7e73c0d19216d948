/* cpu.c — transformer_block on the host: the layer as eight ops of workloads/ops, planned in
 * setup (weights reordered into oneDNN's blocked layouts, every activation buffer allocated
 * once) so the timed loop neither allocates nor copies. Fused: bias into every matmul, GELU
 * into the MLP's first matmul, both residual adds into the matmuls that precede them. Each op
 * is timed as it runs; the averages per forward go into the row's metrics. */
#include "transformer_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_ref.h"

enum { OP_LN1, OP_QKV, OP_ATTN, OP_PROJ_RES, OP_LN2, OP_FC_GELU, OP_FCPROJ_RES, N_OPS };
static const char *const op_names[N_OPS] = { "ln1", "qkv",     "attn",       "attn_proj_res",
                                             "ln2", "fc_gelu", "fc_proj_res" };

struct tb_layer {
    struct tb_dims d;
    struct tb_weights w;
    struct ops_matmul *mm_qkv, *mm_o, *mm_fc, *mm_proj;
    struct ops_attn *attn;
    void *ln1, *qkv, *att, *h, *ln2, *fc, *y; /* activations in dt */
    double op_s[N_OPS];                       /* seconds per op, summed over forwards */
    int64_t forwards;
};

static void layer_destroy(struct tb_layer *L)
{
    if (!L)
        return;
    ops_matmul_destroy(L->mm_qkv);
    ops_matmul_destroy(L->mm_o);
    ops_matmul_destroy(L->mm_fc);
    ops_matmul_destroy(L->mm_proj);
    ops_attn_destroy(L->attn);
    void *bufs[] = { L->ln1, L->qkv, L->att, L->h, L->ln2, L->fc, L->y };
    for (int i = 0; i < 7; i++)
        ab_free(bufs[i]);
    tb_weights_free(&L->w);
    free(L);
}

static ab_status layer_create(struct tb_layer **out, const struct tb_dims *d, uint64_t seed,
                              struct ab_error *err)
{
    struct tb_layer *L = calloc(1, sizeof *L);
    *out = L;
    if (!L)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    L->d = *d;
    int M = d->B * d->T, C = d->C;
    size_t es = ab_dtype_size(d->dt), act = (size_t)M * C * es;
    ab_status st = tb_weights_make(&L->w, d, seed, err);
    if (st)
        return st;
    void **bufs[] = { &L->ln1, &L->qkv, &L->att, &L->h, &L->ln2, &L->fc, &L->y };
    size_t mult[] = { 1, 3, 1, 1, 1, 4, 1 };
    for (int i = 0; i < 7; i++) {
        *bufs[i] = ab_alloc(mult[i] * act);
        if (!*bufs[i])
            return ab_fail(err, AB_ENOMEM, "cannot allocate %zu bytes of activations", mult[i] * act);
        memset(*bufs[i], 0, mult[i] * act); /* touch the pages now, not in the timed loop */
    }
    if ((st = ops_matmul_create(&L->mm_qkv, M, 3 * C, C, d->dt, OPS_MM_BIAS, err)) ||
        (st = ops_matmul_create(&L->mm_o, M, C, C, d->dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, err)) ||
        (st = ops_matmul_create(&L->mm_fc, M, 4 * C, C, d->dt, OPS_MM_BIAS | OPS_MM_GELU, err)) ||
        (st = ops_matmul_create(&L->mm_proj, M, C, 4 * C, d->dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, err)) ||
        (st = ops_attn_create(&L->attn, d->B, d->NH, d->T, d->T, C / d->NH, true, d->dt, err)))
        return st;
    if ((st = ops_matmul_set_weight(L->mm_qkv, L->w.wqkv, err)) ||
        (st = ops_matmul_set_weight(L->mm_o, L->w.wo, err)) ||
        (st = ops_matmul_set_weight(L->mm_fc, L->w.wfc, err)) ||
        (st = ops_matmul_set_weight(L->mm_proj, L->w.wproj, err)))
        return st;
    return AB_OK;
}

/* The host copies of the matrices are needed only by the reference: drop them after verify. */
static void layer_drop_host_matrices(struct tb_layer *L)
{
    void **ps[] = { &L->w.wqkv, &L->w.wo, &L->w.wfc, &L->w.wproj };
    for (int i = 0; i < 4; i++) {
        ab_free(*ps[i]);
        *ps[i] = NULL;
    }
}

static ab_status layer_forward(struct tb_layer *L, struct ab_error *err)
{
    const struct tb_dims *d = &L->d;
    int M = d->B * d->T, C = d->C;
    const struct tb_weights *w = &L->w;
    double t[N_OPS + 1];
    ab_status st;
    t[0] = ab_now_s();
    ops_layernorm(L->ln1, w->x, w->g1, w->be1, M, C, d->dt);
    t[1] = ab_now_s();
    if ((st = ops_matmul_run(L->mm_qkv, L->qkv, L->ln1, w->bqkv, NULL, err)))
        return st;
    t[2] = ab_now_s();
    size_t es = ab_dtype_size(d->dt);
    const char *qkv = L->qkv;
    ops_attn_run(L->attn, L->att, qkv, 3 * C, qkv + (size_t)C * es, qkv + 2 * (size_t)C * es, 3 * C, 0);
    t[3] = ab_now_s();
    if ((st = ops_matmul_run(L->mm_o, L->h, L->att, w->bo, w->x, err)))
        return st;
    t[4] = ab_now_s();
    ops_layernorm(L->ln2, L->h, w->g2, w->be2, M, C, d->dt);
    t[5] = ab_now_s();
    if ((st = ops_matmul_run(L->mm_fc, L->fc, L->ln2, w->bfc, NULL, err)))
        return st;
    t[6] = ab_now_s();
    if ((st = ops_matmul_run(L->mm_proj, L->y, L->fc, w->bproj, L->h, err)))
        return st;
    t[7] = ab_now_s();
    for (int i = 0; i < N_OPS; i++)
        L->op_s[i] += t[i + 1] - t[i];
    L->forwards++;
    return AB_OK;
}

struct tb_cpu {
    struct tb_layer *L;
};

static ab_status cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct tb_cpu *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    struct tb_dims d;
    ab_status st = tb_dims_from_params(&c->params, &d, err);
    if (st)
        return st;
    if (d.dt == AB_DTYPE_FP16)
        return ab_fail(err, AB_EUNSUPPORTED, "fp16 runs on CUDA only");
    if (d.dt == AB_DTYPE_BF16 && !ops_matmul_bf16_supported())
        return ab_fail(err, AB_EUNSUPPORTED, "%s", OPS_NO_BF16_MATMUL);
    double need = tb_host_bytes(&d);
    if (!ab_device_fits(c->device, (uint64_t)need))
        return ab_fail(err, AB_ENOMEM, "the layer needs %.2f GiB of host memory", need / (1 << 30));
    c->work.flops = tb_flops(&d);
    c->work.bytes = tb_weight_bytes(&d) + 2.0 * d.B * d.T * d.C * (double)ab_dtype_size(d.dt);
    c->work.tokens = (double)d.B * d.T;
    c->work.ceiling = d.dt == AB_DTYPE_BF16 ? "bf16_gemm" : "fp32_gemm";
    c->work.rate = "flops";
    ab_case_metric(c, "flops_full_attention", tb_flops_full_attention(&d));
    ab_case_metric(c, "head_size", d.C / d.NH);
    if ((st = layer_create(&s->L, &d, c->seed, err)))
        return st;
    ab_case_metric_text(c, "matmul_impl", "%s", ops_matmul_impl(s->L->mm_fc));
    ab_case_metric_text(c, "attn_impl", "%s", ops_attn_impl(s->L->attn));
    return AB_OK;
}

/* A small layer in full, then the case's own layer: in the check suite over every token of
 * every sequence, otherwise on the first tokens of its first sequence (causal: they depend on
 * nothing later, so an FP64 reference of them is cheap at any size). */
static ab_status cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct tb_cpu *s = c->state;
    struct tb_dims sd;
    tb_small_dims(&s->L->d, &sd);
    struct tb_layer *small;
    ab_status st = layer_create(&small, &sd, c->seed ^ 0x5a5a, err);
    if (st == AB_OK)
        st = layer_forward(small, err);
    if (st == AB_OK) {
        double *ref = malloc(sizeof(double) * (size_t)sd.B * sd.T * sd.C);
        if (!ref)
            st = ab_fail(err, AB_ENOMEM, "out of memory");
        else {
            tb_ref_layer(ref, &small->w, &sd, sd.B, sd.T);
            st = tb_check(small->y, sd.dt, ref, &sd, sd.B, sd.T, c, "small", err);
            free(ref);
        }
    }
    layer_destroy(small);
    if (st)
        return st;
    struct tb_layer *L = s->L;
    if ((st = layer_forward(L, err)))
        return st;
    int nb, nt;
    const char *what = tb_verify_extent(&L->d, c->suite, &nb, &nt);
    double *ref = malloc(sizeof(double) * (size_t)nb * nt * L->d.C);
    if (!ref)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    tb_ref_layer(ref, &L->w, &L->d, nb, nt);
    st = tb_check(L->y, L->d.dt, ref, &L->d, nb, nt, c, what, err);
    free(ref);
    layer_drop_host_matrices(L);
    memset(L->op_s, 0, sizeof L->op_s); /* the breakdown covers timed forwards only */
    L->forwards = 0;
    return st;
}

static ab_status cpu_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct tb_cpu *s = c->state;
    return layer_forward(s->L, err);
}

static void cpu_teardown(struct ab_case *c)
{
    struct tb_cpu *s = c->state;
    if (!s)
        return;
    /* Per-op breakdown, seconds per forward over the timed forwards, recorded once here rather
     * than in every launch (the runner copies the metrics to the row after teardown). */
    for (int i = 0; s->L && s->L->forwards > 0 && i < N_OPS; i++) {
        char name[40];
        snprintf(name, sizeof name, "%s_s", op_names[i]);
        ab_case_metric(c, name, s->L->op_s[i] / (double)s->L->forwards);
    }
    layer_destroy(s->L);
    free(s);
    c->state = NULL;
}

const struct ab_impl transformer_block_cpu_impl = {
    .setup = cpu_setup,
    .verify = cpu_verify,
    .launch = cpu_launch,
    .teardown = cpu_teardown,
};
