/* model.c — GPT-2's forward pass, written once over a backend's op table (gpt2_forward), and
 * the CPU's table over the shared ops of workloads/ops: matmul plans with bias, GELU and the
 * residual add (accumulation) fused, LayerNorm, bf16 conversion. Each weight is packed once at
 * model creation into a one-row plan (decode of one sequence, the GEMV); plans for other row
 * counts share that packed weight. The residual stream, norms and attention stay fp32 whatever
 * the weight dtype, so bf16 changes only what the matmuls read: weights and their (rounded)
 * inputs; the KV cache is fp32 or bf16 (kv_dt) apart from that. Attention of new tokens over
 * the cache is the flash kernel's for several tokens, ops_cache_attend's for one. On the CPU a decode step of
 * few sequences whose plans all have GEMV blocks is ops_decode_step's one parallel region (decode.c) instead
 * of the op table's sequence. The output projection runs over the vocabulary padded to a multiple of 64 rows
 * (zeros). CUDA's table is in cuda.c. */
#include "model.h"

#include "argmax.h"
#include "gpt2.h"
#include "ops.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ matmul plans */

enum { MM_KINDS = GPT2_MM_HEAD }; /* the matmuls of a block */
#define SLOT_PLANS 4

/* The plans of one weight: the owner (one row, packed at creation) and a few of other row
 * counts sharing its weight, replaced round-robin (a run uses two or three row counts). */
struct mm_slot {
    struct ops_matmul *own;
    struct ops_matmul *plan[SLOT_PLANS];
    int rows[SLOT_PLANS];
    int N, K, evict;
    unsigned flags;
};

struct gpt2_model {
    struct gpt2_fwd fwd; /* over cpu_ops, with the buffers below */
    struct gpt2_config cfg;
    const struct gpt2_params *p;
    enum ab_dtype dt;
    int B, max_T, max_Tq;
    struct mm_slot *slots;    /* (L, MM_KINDS) */
    struct mm_slot head;      /* the tied embedding over Vp rows, zero rows past V */
    int Vp;                   /* vocabulary padded to a multiple of 64 */
    float *lpad;              /* (B, Vp) logits of the padded projection */
    void *kcache, *vcache;    /* (L, B, max_T, C) each, in kv_dt */
    float *x, *qkv, *att, *h; /* residual (B*Tq, C), (B*Tq, 3C), (B*Tq, C), (B*Tq, 4C) */
    float *lnout;             /* (B*Tq, C) fp32 norm output */
    float *rows;              /* (B, C) the rows a norm of every Tq-th row reads, gathered */
    void *mmin;               /* matmul input in the run dtype, (B*Tq, 4C) */
    int n_threads;

    struct ops_attn *attn; /* the flash plan of the last several-query attention, for attn_Tq */
    int attn_Tq, attn_Tk;  /* queries of it over keys 0..attn_Tk-1 */

    enum ab_dtype kv_dt;              /* the KV cache's: fp32 or bf16 */
    struct ops_decode_layer *dlayers; /* (L): the fused decode step's view, NULL without it */
    float *dscratch;                  /* its scratch */
};

/* weight (N,K) in the run dtype packed into the slot's one-row owner plan */
static ab_status slot_init(struct mm_slot *sl, enum ab_dtype dt, const void *weight, int N, int K,
                           unsigned flags, struct ab_error *err)
{
    *sl = (struct mm_slot){ .N = N, .K = K, .flags = flags | OPS_MM_OUT_F32 };
    ab_status st = ops_matmul_create(&sl->own, 1, N, K, dt, sl->flags, err);
    return st ? st : ops_matmul_set_weight(sl->own, weight, err);
}

static void slot_free(struct mm_slot *sl)
{
    ops_matmul_destroy(sl->own);
    for (int i = 0; i < SLOT_PLANS; i++)
        ops_matmul_destroy(sl->plan[i]);
    memset(sl, 0, sizeof *sl);
}

/* out (M,N) fp32 [+]= inp (M,K) . weight (N,K)^T + bias [then GELU]; inp in the run dtype */
static ab_status matmul(struct gpt2_model *m, struct mm_slot *sl, float *out, const void *inp,
                        const float *bias, int M, struct ab_error *err)
{
    struct ops_matmul *mm = M == 1 ? sl->own : NULL;
    for (int i = 0; i < SLOT_PLANS && !mm; i++)
        if (sl->plan[i] && sl->rows[i] == M)
            mm = sl->plan[i];
    if (!mm) {
        int i = sl->evict++ % SLOT_PLANS;
        ops_matmul_destroy(sl->plan[i]);
        sl->plan[i] = NULL;
        ab_status st = ops_matmul_create(&sl->plan[i], M, sl->N, sl->K, m->dt, sl->flags, err);
        if (!st && (st = ops_matmul_share_weight(sl->plan[i], sl->own, err))) {
            ops_matmul_destroy(sl->plan[i]);
            sl->plan[i] = NULL;
        }
        if (st)
            return st;
        mm = sl->plan[i], sl->rows[i] = M;
    }
    return ops_matmul_run(mm, out, inp, bias, NULL, err);
}

/* Causal attention of Tq new queries per sequence over the cache.
 * qkv is (B,Tq,3C) (q at columns 0..C); kc, vc are (B,max_T,C) in the cache's dtype holding
 * positions 0..pos0+Tq-1; out is (B,Tq,C). Query i sits at position pos0+i. Several queries
 * (a prefill, a continuation) go through the flash kernel, whose tiles are GEMMs over blocks
 * of queries and keys (fp32 queries read a bf16 cache as it lies); one query per sequence (a
 * decode step) is a dot product per key, ops_cache_attend's, parallel over (sequence, head). */
static ab_status attention(struct gpt2_model *m, float *out, const float *qkv, const void *kc, const void *vc,
                           int Tq, int pos0, struct ab_error *err)
{
    int B = m->B, C = m->cfg.n_embd, NH = m->cfg.n_head, HS = C / NH, maxT = m->max_T;
    if (Tq > 1) {
        if (!m->attn || m->attn_Tq != Tq || m->attn_Tk != pos0 + Tq) {
            ops_attn_destroy(m->attn);
            m->attn = NULL;
            struct ops_attn_desc d = { .B = B,
                                       .NH = NH,
                                       .group = 1,
                                       .Tq = Tq,
                                       .Tk = pos0 + Tq,
                                       .HS = HS,
                                       .causal = true,
                                       .in_dt = m->kv_dt,
                                       .out_dt = AB_DTYPE_FP32,
                                       .q_fp32 = true };
            ab_status st = ops_attn_plan(&m->attn, &d, err);
            if (st)
                return st;
            m->attn_Tq = Tq, m->attn_Tk = pos0 + Tq;
        }
        struct ops_attn_io io = { .q = qkv,
                                  .k = kc,
                                  .v = vc,
                                  .out = out,
                                  .q_b = (int64_t)Tq * 3 * C,
                                  .q_h = HS,
                                  .q_t = 3 * C,
                                  .kv_b = (int64_t)maxT * C,
                                  .kv_h = HS,
                                  .kv_t = C,
                                  .o_b = (int64_t)Tq * C,
                                  .o_h = HS,
                                  .o_t = C,
                                  .q_pos0 = pos0 };
        ops_attn_exec(m->attn, &io, NULL);
        return AB_OK;
    }
    float scale = 1.0f / sqrtf((float)HS);
    /* a decode step's attention is a few hundred kFLOP: a parallel region would cost more */
    bool par = (double)B * NH * (pos0 + 1) * HS > 4e6;
    size_t es = ab_dtype_size(m->kv_dt);
#pragma omp parallel for collapse(2) schedule(dynamic, 8) if (par)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t at = ((size_t)b * maxT * C + (size_t)h * HS) * es;
            ops_cache_attend(out + (size_t)b * C + h * HS, qkv + (size_t)b * 3 * C + h * HS,
                             (const char *)kc + at, (const char *)vc + at, m->kv_dt, (size_t)C, pos0 + 1, HS,
                             scale);
        }
    return AB_OK;
}

/* ------------------------------------------------------------------ the CPU's ops */

static ab_status cpu_embed(void *ctx, float *x, const int *tokens, struct gpt2_span at, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    const struct gpt2_params *p = m->p;
    int C = m->cfg.n_embd, V = m->cfg.vocab, Tq = at.Tq, pos0 = at.pos0, M = m->B * Tq;
    if (at.dpos)
        return ab_fail(err, AB_EINVAL, "forward: the CPU reads positions from the host");
    for (int i = 0; i < M; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ab_fail(err, AB_EINVAL, "forward: token %d out of the vocabulary", tokens[i]);
#pragma omp parallel for schedule(static) if (M > 4)
    for (int r = 0; r < M; r++) {
        const float *e = p->wte + (size_t)tokens[r] * C, *pe = p->wpe + (size_t)(pos0 + r % Tq) * C;
        for (int j = 0; j < C; j++)
            x[(size_t)r * C + j] = e[j] + pe[j];
    }
    return AB_OK;
}

/* The norm in fp32 (into lnout when the run dtype is 16-bit, then rounded into out), over
 * gathered rows where they are not x's first: ops_layernorm reads contiguous rows. */
static ab_status cpu_layernorm(void *ctx, void *out, const float *x, const float *g, const float *b, int rows,
                               int rstep, int roff, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    int C = m->cfg.n_embd;
    if (rstep != 1 || roff != 0) {
        if (rows > m->B)
            return ab_fail(err, AB_EINVAL, "layernorm: %d gathered rows, room for %d", rows, m->B);
        for (int r = 0; r < rows; r++)
            memcpy(m->rows + (size_t)r * C, x + ((size_t)r * rstep + roff) * C, (size_t)C * 4);
        x = m->rows;
    }
    if (m->dt == AB_DTYPE_FP32) {
        ops_layernorm(out, x, g, b, rows, C, AB_DTYPE_FP32);
        return AB_OK;
    }
    ops_layernorm(m->lnout, x, g, b, rows, C, AB_DTYPE_FP32);
    ops_convert(out, m->dt, m->lnout, AB_DTYPE_FP32, (size_t)rows * C);
    return AB_OK;
}

static ab_status cpu_convert(void *ctx, void *dst, const float *src, size_t n, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    (void)err;
    ops_convert(dst, m->dt, src, AB_DTYPE_FP32, n);
    return AB_OK;
}

static ab_status cpu_matmul(void *ctx, int layer, enum gpt2_mm kind, float *out, const void *in,
                            const float *bias, int M, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    struct mm_slot *sl = kind == GPT2_MM_HEAD ? &m->head : &m->slots[(size_t)layer * MM_KINDS + kind];
    return matmul(m, sl, out, in, bias, M, err);
}

/* layer's cache: (B, max_T, C) each of K and V */
static void *cache_at(struct gpt2_model *m, void *cache, int layer)
{
    return (char *)cache + (size_t)layer * m->B * m->max_T * m->cfg.n_embd * ab_dtype_size(m->kv_dt);
}

static ab_status cpu_kv_append(void *ctx, int layer, const float *qkv, struct gpt2_span at,
                               struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    int C = m->cfg.n_embd;
    size_t bstride = (size_t)m->max_T * C;
    void *kc = cache_at(m, m->kcache, layer), *vc = cache_at(m, m->vcache, layer);
    (void)err;
    /* a prompt's rows are megabytes per layer; a decode step's few would not pay for the threads */
#pragma omp parallel for collapse(2) schedule(static) if (m->B * at.Tq > 64)
    for (int b = 0; b < m->B; b++)
        for (int i = 0; i < at.Tq; i++) {
            const float *row = qkv + ((size_t)b * at.Tq + i) * 3 * C;
            size_t to = (size_t)b * bstride + (size_t)(at.pos0 + i) * C;
            ops_cache_store(kc, m->kv_dt, to, row + C, C);
            ops_cache_store(vc, m->kv_dt, to, row + 2 * C, C);
        }
    return AB_OK;
}

static ab_status cpu_attention(void *ctx, int layer, float *out, const float *qkv, struct gpt2_span at,
                               struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    return attention(m, out, qkv, cache_at(m, m->kcache, layer), cache_at(m, m->vcache, layer), at.Tq,
                     at.pos0, err);
}

static ab_status cpu_logits_out(void *ctx, float *dst, int row0, int n, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    int V = m->cfg.vocab;
    (void)err;
    for (int r = 0; r < n; r++)
        memcpy(dst + (size_t)r * V, m->lpad + (size_t)(row0 + r) * m->Vp, (size_t)V * 4);
    return AB_OK;
}

static ab_status cpu_tokens_in(void *ctx, const int *host, int n, const int **out, struct ab_error *err)
{
    (void)ctx, (void)n, (void)err;
    *out = host;
    return AB_OK;
}

static ab_status cpu_pick(void *ctx, int pos, int *tok, const int **next, struct ab_error *err)
{
    struct gpt2_model *m = ctx;
    *next = tok;
    return gpt2_pick_tokens(m->lpad, (size_t)m->Vp, m->B, m->cfg.vocab, pos, tok, err);
}

static const struct gpt2_ops cpu_ops = {
    .embed = cpu_embed,
    .layernorm = cpu_layernorm,
    .convert = cpu_convert,
    .matmul = cpu_matmul,
    .kv_append = cpu_kv_append,
    .attention = cpu_attention,
    .logits_out = cpu_logits_out,
    .tokens_in = cpu_tokens_in,
    .pick = cpu_pick,
};

/* ------------------------------------------------------------------ the forward */

void gpt2_mm_shape(const struct gpt2_config *cfg, enum gpt2_mm kind, int *N, int *K, unsigned *flags)
{
    int C = cfg->n_embd;
    static const struct {
        int n4, k4; /* N and K in quarters of C */
        unsigned flags;
    } t[GPT2_MM_HEAD] = {
        [GPT2_MM_QKV] = { 12, 4, OPS_MM_BIAS },
        [GPT2_MM_PROJ] = { 4, 4, OPS_MM_BIAS | OPS_MM_ACCUM },
        [GPT2_MM_FC] = { 16, 4, OPS_MM_BIAS | OPS_MM_GELU },
        [GPT2_MM_FCP] = { 4, 16, OPS_MM_BIAS | OPS_MM_ACCUM },
    };
    if (kind == GPT2_MM_HEAD) {
        *N = gpt2_vocab_padded(cfg->vocab), *K = C, *flags = 0;
        return;
    }
    *N = t[kind].n4 * C / 4, *K = t[kind].k4 * C / 4, *flags = t[kind].flags;
}

const float *gpt2_mm_weight(const struct gpt2_params *p, int layer, enum gpt2_mm kind)
{
    const struct gpt2_layer *L = kind == GPT2_MM_HEAD ? NULL : &p->layers[layer];
    switch (kind) {
    case GPT2_MM_QKV: return L->qkv_w;
    case GPT2_MM_PROJ: return L->proj_w;
    case GPT2_MM_FC: return L->fc_w;
    case GPT2_MM_FCP: return L->fcp_w;
    default: return p->wte;
    }
}

/* One block over M = B*Tq rows: x += attn(ln1(x)), then x += mlp(ln2(x)). A 16-bit run dtype
 * reads the matmuls' inputs converted into mmin, fp32 reads att and h themselves. */
static ab_status block(const struct gpt2_fwd *f, int l, struct gpt2_span at, struct ab_error *err)
{
    const struct gpt2_ops *o = f->ops;
    const struct gpt2_layer *L = &f->p->layers[l];
    void *cx = f->ctx;
    int M = f->B * at.Tq, C = f->p->cfg.n_embd;
    bool cv = f->dt != AB_DTYPE_FP32;
    ab_status st;
    if ((st = o->layernorm(cx, f->mmin, f->x, L->ln1_g, L->ln1_b, M, 1, 0, err)) ||
        (st = o->matmul(cx, l, GPT2_MM_QKV, f->qkv, f->mmin, L->qkv_b, M, err)) ||
        (st = o->kv_append(cx, l, f->qkv, at, err)) || (st = o->attention(cx, l, f->att, f->qkv, at, err)) ||
        (cv && (st = o->convert(cx, f->mmin, f->att, (size_t)M * C, err))) ||
        (st = o->matmul(cx, l, GPT2_MM_PROJ, f->x, cv ? f->mmin : f->att, L->proj_b, M, err)) ||
        (st = o->layernorm(cx, f->mmin, f->x, L->ln2_g, L->ln2_b, M, 1, 0, err)) ||
        (st = o->matmul(cx, l, GPT2_MM_FC, f->h, f->mmin, L->fc_b, M, err)) ||
        (cv && (st = o->convert(cx, f->mmin, f->h, (size_t)M * 4 * C, err))))
        return st;
    return o->matmul(cx, l, GPT2_MM_FCP, f->x, cv ? f->mmin : f->h, L->fcp_b, M, err);
}

ab_status gpt2_forward(const struct gpt2_fwd *f, const int *tokens, struct gpt2_span at, bool all_logits,
                       float *logits, struct ab_error *err)
{
    const struct gpt2_params *p = f->p;
    int B = f->B, Tq = at.Tq, V = p->cfg.vocab, M = B * Tq;
    if (Tq < 1 || Tq > f->max_Tq || (!at.dpos && (at.pos0 < 0 || at.pos0 + Tq > f->max_T)))
        return ab_fail(err, AB_EINVAL,
                       "forward: %d tokens at position %d do not fit (%d per step, "
                       "%d positions)",
                       Tq, at.pos0, f->max_Tq, f->max_T);
    if (all_logits && (!logits || !f->all_logits))
        return ab_fail(err, AB_EINVAL,
                       "forward: every position's logits need a host buffer and a backend "
                       "that returns them");
    ab_status st = f->ops->embed(f->ctx, f->x, tokens, at, err);
    for (int l = 0; l < p->cfg.n_layer && !st; l++)
        st = block(f, l, at, err);
    /* logits of R rows, at most B at a time through the (B, Vp) padded buffer: every
     * position's, or the last of each sequence (every Tq-th row) */
    int R = all_logits ? M : B;
    for (int r0 = 0; r0 < R && !st; r0 += B) {
        int n = R - r0 < B ? R - r0 : B;
        if (!(st = f->ops->layernorm(f->ctx, f->mmin, f->x, p->lnf_g, p->lnf_b, n, all_logits ? 1 : Tq,
                                     all_logits ? r0 : Tq - 1, err)) &&
            !(st = f->ops->matmul(f->ctx, -1, GPT2_MM_HEAD, f->lpad, f->mmin, NULL, n, err)) && logits)
            st = f->ops->logits_out(f->ctx, logits + (size_t)r0 * V, 0, n, err);
    }
    return st;
}

/* ------------------------------------------------------------------ the model */

int gpt2_vocab_padded(int V)
{
    return (V + 63) / 64 * 64;
}

uint64_t gpt2_model_bytes(const struct gpt2_config *cfg, enum ab_dtype dt, int B, int max_T, int max_Tq)
{
    return gpt2_model_bytes_kv(cfg, dt, AB_DTYPE_FP32, B, max_T, max_Tq);
}

uint64_t gpt2_model_bytes_kv(const struct gpt2_config *cfg, enum ab_dtype dt, enum ab_dtype kv_dt, int B,
                             int max_T, int max_Tq)
{
    uint64_t C = (uint64_t)cfg->n_embd, L = (uint64_t)cfg->n_layer;
    uint64_t Vp = gpt2_vocab_padded(cfg->vocab), e = dt == AB_DTYPE_BF16 ? 2 : 4;
    /* packed weights (the plans' copies) and, during creation, one converted matrix */
    uint64_t w = e * (L * 12 * C * C + Vp * C) + e * Vp * C + (uint64_t)B * Vp * 4;
    uint64_t kv = 2 * L * (uint64_t)B * (uint64_t)max_T * C * ab_dtype_size(kv_dt);
    uint64_t fused =
        4 * ops_decode_scratch_floats(B, (int)C, omp_get_max_threads()) + L * sizeof(struct ops_decode_layer);
    uint64_t rows = (uint64_t)B * (uint64_t)max_Tq;
    uint64_t act = rows * C * 4 * (1 + 3 + 1 + 4 + 1) + rows * 4 * C * 4;
    return w + kv + act + fused + (uint64_t)B * C * 4; /* the last: the decode step's rows */
}

void gpt2_model_destroy(struct gpt2_model *m)
{
    if (!m)
        return;
    if (m->slots)
        for (int i = 0; i < m->cfg.n_layer * MM_KINDS; i++)
            slot_free(&m->slots[i]);
    slot_free(&m->head);
    free(m->slots);
    free(m->dlayers);
    ab_free(m->dscratch);
    ops_attn_destroy(m->attn);
    ab_free(m->lpad), ab_free(m->kcache), ab_free(m->vcache), ab_free(m->x), ab_free(m->qkv);
    ab_free(m->att), ab_free(m->h), ab_free(m->lnout), ab_free(m->mmin);
    ab_free(m->rows);
    free(m);
}

/* w (rows, C) fp32 as the run dtype into tmp (zero rows up to prows), or w itself */
static const void *weight_in(enum ab_dtype dt, void *tmp, const float *w, size_t rows, size_t prows, size_t C)
{
    if (dt == AB_DTYPE_FP32 && rows == prows)
        return w;
    enum ab_dtype t = dt;
    ops_convert(tmp, t, w, AB_DTYPE_FP32, rows * C);
    memset((char *)tmp + rows * C * ab_dtype_size(t), 0, (prows - rows) * C * ab_dtype_size(t));
    return tmp;
}

ab_status gpt2_model_create(struct gpt2_model **out, const struct gpt2_params *p, enum ab_dtype dt, int B,
                            int max_T, int max_Tq, struct ab_error *err)
{
    return gpt2_model_create_kv(out, p, dt, AB_DTYPE_FP32, B, max_T, max_Tq, err);
}

/* The fused decode step's view of the model (ops_decode_step), where every plan has blocks */
static ab_status fused_init(struct gpt2_model *m)
{
    int L = m->cfg.n_layer, C = m->cfg.n_embd;
    if (m->B > OPS_GEMV_MAX_M)
        return AB_OK;
    struct ops_decode_layer *ly = calloc((size_t)L, sizeof *ly);
    if (!ly)
        return AB_ENOMEM;
    size_t es = ab_dtype_size(m->kv_dt), lstride = (size_t)m->B * m->max_T * C * es;
    for (int l = 0; l < L; l++) {
        const struct gpt2_layer *Lw = &m->p->layers[l];
        struct mm_slot *sl = &m->slots[(size_t)l * MM_KINDS];
        ly[l] = (struct ops_decode_layer){ .qkv = sl[GPT2_MM_QKV].own,
                                           .proj = sl[GPT2_MM_PROJ].own,
                                           .fc = sl[GPT2_MM_FC].own,
                                           .fcp = sl[GPT2_MM_FCP].own,
                                           .ln1_g = Lw->ln1_g,
                                           .ln1_b = Lw->ln1_b,
                                           .qkv_b = Lw->qkv_b,
                                           .proj_b = Lw->proj_b,
                                           .ln2_g = Lw->ln2_g,
                                           .ln2_b = Lw->ln2_b,
                                           .fc_b = Lw->fc_b,
                                           .fcp_b = Lw->fcp_b,
                                           .kc = (char *)m->kcache + l * lstride,
                                           .vc = (char *)m->vcache + l * lstride };
    }
    if (!ops_decode_fusable(ly, L, m->head.own)) {
        free(ly);
        return AB_OK;
    }
    m->dscratch = ab_alloc(4 * ops_decode_scratch_floats(m->B, C, m->n_threads));
    if (!m->dscratch) {
        free(ly);
        return AB_ENOMEM;
    }
    m->dlayers = ly;
    return AB_OK;
}

bool gpt2_model_fused(const struct gpt2_model *m)
{
    return m->dlayers != NULL;
}

ab_status gpt2_model_create_kv(struct gpt2_model **out, const struct gpt2_params *p, enum ab_dtype dt,
                               enum ab_dtype kv_dt, int B, int max_T, int max_Tq, struct ab_error *err)
{
    *out = NULL;
    if (kv_dt != AB_DTYPE_FP32 && kv_dt != AB_DTYPE_BF16)
        return ab_fail(err, AB_EINVAL, "model: the KV cache is fp32 or bf16, not %s", ab_dtype_name(kv_dt));
    const struct gpt2_config *cfg = &p->cfg;
    ab_status st = gpt2_dtype_supported(dt, err);
    if (st)
        return st;
    if (max_T > cfg->max_pos || max_Tq > max_T || B < 1 || max_Tq < 1)
        return ab_fail(err, AB_EINVAL, "model: B=%d, %d positions, %d per step (at most %d positions)", B,
                       max_T, max_Tq, cfg->max_pos);
    struct gpt2_model *m = calloc(1, sizeof *m);
    if (!m)
        return ab_fail(err, AB_ENOMEM, "model: out of memory");
    m->cfg = *cfg, m->p = p, m->dt = dt, m->kv_dt = kv_dt, m->B = B, m->max_T = max_T, m->max_Tq = max_Tq;
    m->n_threads = omp_get_max_threads();
    size_t C = (size_t)cfg->n_embd, L = (size_t)cfg->n_layer, rows = (size_t)B * max_Tq;
    size_t kv = L * (size_t)B * max_T * C;
    m->Vp = gpt2_vocab_padded(cfg->vocab);
    m->slots = calloc(L * MM_KINDS, sizeof *m->slots);
    m->kcache = ab_alloc(kv * ab_dtype_size(kv_dt)), m->vcache = ab_alloc(kv * ab_dtype_size(kv_dt));
    m->x = ab_alloc(rows * C * 4), m->qkv = ab_alloc(rows * 3 * C * 4);
    m->att = ab_alloc(rows * C * 4), m->h = ab_alloc(rows * 4 * C * 4);
    m->lnout = ab_alloc(rows * C * 4), m->mmin = ab_alloc(rows * 4 * C * 4);
    m->rows = ab_alloc((size_t)B * C * 4);
    m->lpad = ab_alloc((size_t)B * m->Vp * 4);
    size_t tmp_n = (size_t)m->Vp * C > 4 * C * C ? (size_t)m->Vp * C : 4 * C * C;
    void *tmp = ab_alloc(tmp_n * ab_dtype_size(dt));
    if (!m->slots || !m->kcache || !m->vcache || !m->x || !m->qkv || !m->att || !m->h || !m->lnout ||
        !m->mmin || !m->rows || !m->lpad || !tmp) {
        ab_free(tmp);
        gpt2_model_destroy(m);
        return ab_fail(err, AB_ENOMEM, "model: cannot allocate %.2f GB",
                       gpt2_model_bytes_kv(cfg, dt, kv_dt, B, max_T, max_Tq) * 1e-9);
    }
    for (size_t l = 0; l < L && !st; l++)
        for (int k = 0; k < MM_KINDS && !st; k++) {
            int N, K;
            unsigned flags;
            gpt2_mm_shape(cfg, (enum gpt2_mm)k, &N, &K, &flags);
            const float *w = gpt2_mm_weight(p, (int)l, (enum gpt2_mm)k);
            st = slot_init(&m->slots[l * MM_KINDS + k], dt, weight_in(dt, tmp, w, N, N, K), N, K, flags, err);
        }
    if (!st)
        st = slot_init(&m->head, dt, weight_in(dt, tmp, p->wte, (size_t)cfg->vocab, (size_t)m->Vp, C), m->Vp,
                       (int)C, 0, err);
    ab_free(tmp);
    if (!st && fused_init(m))
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    if (st) {
        gpt2_model_destroy(m);
        return ab_fail_prefix(err, st, "model");
    }
    m->fwd = (struct gpt2_fwd){ .ops = &cpu_ops,
                                .ctx = m,
                                .p = p,
                                .dt = dt,
                                .B = B,
                                .max_T = max_T,
                                .max_Tq = max_Tq,
                                .x = m->x,
                                .qkv = m->qkv,
                                .att = m->att,
                                .h = m->h,
                                .mmin = m->mmin,
                                .lpad = m->lpad,
                                .all_logits = true };
    *out = m;
    return AB_OK;
}

const struct gpt2_fwd *gpt2_model_fwd(const struct gpt2_model *m)
{
    return &m->fwd;
}

ab_status gpt2_model_forward(struct gpt2_model *m, const int *tokens, int Tq, int pos0, bool all_logits,
                             float *logits, struct ab_error *err)
{
    if (Tq != 1 || !m->dlayers)
        return gpt2_forward(&m->fwd, tokens, (struct gpt2_span){ .Tq = Tq, .pos0 = pos0 }, all_logits, logits,
                            err);
    /* a decode step of few sequences: the embedded tokens, then the fused step of ops */
    const struct gpt2_params *p = m->p;
    int B = m->B, C = m->cfg.n_embd, V = m->cfg.vocab;
    if (pos0 < 0 || pos0 + 1 > m->max_T)
        return ab_fail(err, AB_EINVAL, "forward: 1 token at position %d does not fit (%d positions)", pos0,
                       m->max_T);
    for (int i = 0; i < B; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ab_fail(err, AB_EINVAL, "forward: token %d out of the vocabulary", tokens[i]);
    for (int r = 0; r < B; r++) {
        const float *e = p->wte + (size_t)tokens[r] * C, *pe = p->wpe + (size_t)pos0 * C;
        for (int j = 0; j < C; j++)
            m->x[(size_t)r * C + j] = e[j] + pe[j];
    }
    ops_decode_step(m->dlayers, m->cfg.n_layer, m->head.own, p->lnf_g, p->lnf_b, m->lpad, m->x, B, C,
                    m->cfg.n_head, m->max_T, pos0, m->kv_dt, m->dscratch, m->n_threads);
    for (int r = 0; r < B; r++)
        memcpy(logits + (size_t)r * V, m->lpad + (size_t)r * m->Vp, (size_t)V * 4);
    return AB_OK;
}

int gpt2_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (gpt2_argmax_better(x[i], i, x[best], best))
            best = i;
    return best;
}

ab_status gpt2_dtype_supported(enum ab_dtype dt, struct ab_error *err)
{
    /* ops probes oneDNN once per process for the CPU it runs on */
    if (dt == AB_DTYPE_BF16 && !ops_matmul_bf16_supported())
        return ab_fail(err, AB_EUNSUPPORTED, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
    return AB_OK;
}

/* ------------------------------------------------------------------ FP64 reference */

static double wref(const float *w, size_t i, bool round_bf16)
{
    return round_bf16 ? (double)ab_bf16_to_f32(ab_bf16_from_f32(w[i])) : (double)w[i];
}

/* out (T,N) = inp (T,K) . w (N,K)^T + b. Each weight row is widened once and reused for every
 * t; eight partial sums break the dependence chain of one accumulator (the order of an FP64
 * sum is immaterial at the tolerances it is held to), which made the check suite's reference
 * several times faster. */
static void mm_ref(double *out, const double *inp, const float *w, const float *b, int T, int N, int K,
                   bool rb, double *scratch /* (threads, K) */)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        double *wr = scratch + (size_t)omp_get_thread_num() * K;
        for (int k = 0; k < K; k++)
            wr[k] = wref(w, (size_t)n * K + k, rb);
        for (int t = 0; t < T; t++) {
            const double *x = inp + (size_t)t * K;
            double acc[8] = { 0 };
            int k = 0;
            for (; k + 8 <= K; k += 8)
                for (int j = 0; j < 8; j++)
                    acc[j] += x[k + j] * wr[k + j];
            for (; k < K; k++)
                acc[0] += x[k] * wr[k];
            out[(size_t)t * N + n] = (b ? b[n] : 0) + ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
                                     ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        }
    }
}

static void ln_ref(double *out, const double *x, const float *g, const float *b, int T, int C)
{
    for (int t = 0; t < T; t++) {
        double mu = 0, var = 0;
        for (int j = 0; j < C; j++)
            mu += x[(size_t)t * C + j];
        mu /= C;
        for (int j = 0; j < C; j++)
            var += (x[(size_t)t * C + j] - mu) * (x[(size_t)t * C + j] - mu);
        double rs = 1 / sqrt(var / C + 1e-5);
        for (int j = 0; j < C; j++)
            out[(size_t)t * C + j] = (x[(size_t)t * C + j] - mu) * rs * g[j] + b[j];
    }
}

ab_status gpt2_reference_logits(const struct gpt2_params *p, const int *tokens, int T, int first,
                                bool round_bf16, double *logits, struct ab_error *err)
{
    int C = p->cfg.n_embd, NH = p->cfg.n_head, HS = C / NH, V = p->cfg.vocab;
    if (T < 1 || T > p->cfg.max_pos || first < 0 || first >= T)
        return ab_fail(err, AB_EINVAL, "reference: positions %d..%d of %d (at most %d)", first, T - 1, T,
                       p->cfg.max_pos);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= V)
            return ab_fail(err, AB_EINVAL, "reference: token %d at position %d out of the vocabulary",
                           tokens[t], t);
    size_t tc = (size_t)T * C;
    double *x = malloc(tc * 8), *ln = malloc(tc * 8), *qkv = malloc(3 * tc * 8);
    double *att = malloc(tc * 8), *h = malloc(4 * tc * 8), *tmp = malloc(tc * 8);
    double *sc = malloc((size_t)T * 8), *wr = malloc((size_t)omp_get_max_threads() * 4 * C * 8);
    ab_status st = AB_OK;
    if (!x || !ln || !qkv || !att || !h || !tmp || !sc || !wr) {
        st = ab_fail(err, AB_ENOMEM, "reference: out of memory");
        goto done;
    }
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++)
            x[(size_t)t * C + j] = (double)p->wte[(size_t)tokens[t] * C + j] + p->wpe[(size_t)t * C + j];
    for (int l = 0; l < p->cfg.n_layer; l++) {
        const struct gpt2_layer *L = &p->layers[l];
        ln_ref(ln, x, L->ln1_g, L->ln1_b, T, C);
        mm_ref(qkv, ln, L->qkv_w, L->qkv_b, T, 3 * C, C, round_bf16, wr);
        for (int hh = 0; hh < NH; hh++)
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double d = 0;
                    for (int e = 0; e < HS; e++)
                        d += qkv[(size_t)i * 3 * C + hh * HS + e] * qkv[(size_t)j * 3 * C + C + hh * HS + e];
                    sc[j] = d / sqrt((double)HS);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= i; j++)
                    sum += (sc[j] = exp(sc[j] - mx));
                for (int e = 0; e < HS; e++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++)
                        o += sc[j] / sum * qkv[(size_t)j * 3 * C + 2 * C + hh * HS + e];
                    att[(size_t)i * C + hh * HS + e] = o;
                }
            }
        mm_ref(tmp, att, L->proj_w, L->proj_b, T, C, C, round_bf16, wr);
        for (size_t i = 0; i < tc; i++)
            x[i] += tmp[i];
        ln_ref(ln, x, L->ln2_g, L->ln2_b, T, C);
        mm_ref(h, ln, L->fc_w, L->fc_b, T, 4 * C, C, round_bf16, wr);
        for (size_t i = 0; i < 4 * tc; i++) {
            double v = h[i];
            h[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        }
        mm_ref(tmp, h, L->fcp_w, L->fcp_b, T, C, 4 * C, round_bf16, wr);
        for (size_t i = 0; i < tc; i++)
            x[i] += tmp[i];
    }
    /* the output projection dominates a small model's cost: only the positions asked for */
    ln_ref(ln, x + (size_t)first * C, p->lnf_g, p->lnf_b, T - first, C);
    mm_ref(logits, ln, p->wte, NULL, T - first, V, C, round_bf16, wr);
done:
    free(x), free(ln), free(qkv), free(att), free(h), free(tmp), free(sc), free(wr);
    return st;
}
