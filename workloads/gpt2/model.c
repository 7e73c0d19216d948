/* model.c — GPT-2 forward passes on the CPU over the shared ops of workloads/ops: matmul plans
 * with bias, GELU and the residual add (accumulation) fused, LayerNorm, bf16 conversion. Each
 * weight is packed once at model creation into a one-row plan (decode of one sequence, the
 * GEMV); plans for other row counts share that packed weight. The residual stream, norms and
 * attention stay fp32 whatever the weight dtype, so bf16 changes only what the matmuls read:
 * weights and their (rounded) inputs; the KV cache is fp32 or bf16 (kv_dt) apart from that.
 * Attention of new tokens over the cache stays here (ops_attn plans a fixed key count and
 * packs K and V on every run), over ops_cache_attend. A decode step of few sequences whose
 * plans all have GEMV blocks is ops_decode_step's one parallel region (decode.c).
 * The output projection runs over the vocabulary padded to a multiple of 64 rows (zeros). */
#include "model.h"

#include "argmax.h"
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

enum { MM_QKV, MM_PROJ, MM_FC, MM_FCP, MM_KINDS };
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
    void *mmin;               /* matmul input in the run dtype, (B*Tq, 4C) */
    float *scores;            /* attention scratch, (threads, max_T) */
    int n_threads;

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

/* The matmul input: src (n) fp32 as the run dtype. For fp32, returns src itself. */
static const void *as_run_dtype(struct gpt2_model *m, const float *src, size_t n)
{
    if (m->dt == AB_DTYPE_FP32)
        return src;
    ops_convert(m->mmin, AB_DTYPE_BF16, src, AB_DTYPE_FP32, n);
    return m->mmin;
}

/* Causal attention of Tq new queries per sequence over the cache.
 * qkv is (B,Tq,3C) (q at columns 0..C); kc, vc are (B,max_T,C) in the cache's dtype holding
 * positions 0..pos0+Tq-1; out is (B,Tq,C). Query i sits at position pos0+i. */
static void attention(struct gpt2_model *m, float *out, const float *qkv, const void *kc, const void *vc,
                      int Tq, int pos0)
{
    int B = m->B, C = m->cfg.n_embd, NH = m->cfg.n_head, HS = C / NH, maxT = m->max_T;
    float scale = 1.0f / sqrtf((float)HS);
    /* a decode step's attention is a few hundred kFLOP: a parallel region would cost more */
    bool par = (double)B * NH * Tq * (pos0 + Tq) * HS > 4e6;
    size_t es = ab_dtype_size(m->kv_dt);
#pragma omp parallel for collapse(3) schedule(dynamic, 8) if (par)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < Tq; i++) {
                size_t at = ((size_t)b * maxT * C + (size_t)h * HS) * es;
                ops_cache_attend(out + ((size_t)b * Tq + i) * C + h * HS,
                                 qkv + ((size_t)b * Tq + i) * 3 * C + h * HS, (const char *)kc + at,
                                 (const char *)vc + at, m->kv_dt, (size_t)C, pos0 + i + 1, HS, scale,
                                 m->scores + (size_t)omp_get_thread_num() * maxT);
            }
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
    uint64_t fused = 4 * ops_decode_scratch_floats(B, (int)C, max_T, omp_get_max_threads()) +
                     L * sizeof(struct ops_decode_layer);
    uint64_t rows = (uint64_t)B * (uint64_t)max_Tq;
    uint64_t act = rows * C * 4 * (1 + 3 + 1 + 4 + 1) + rows * 4 * C * 4;
    return w + kv + act + fused + 64u * (uint64_t)max_T * 4;
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
    ab_free(m->lpad), ab_free(m->kcache), ab_free(m->vcache), ab_free(m->x), ab_free(m->qkv);
    ab_free(m->att), ab_free(m->h), ab_free(m->lnout), ab_free(m->mmin), ab_free(m->scores);
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
        ly[l] = (struct ops_decode_layer){ .qkv = sl[MM_QKV].own,
                                           .proj = sl[MM_PROJ].own,
                                           .fc = sl[MM_FC].own,
                                           .fcp = sl[MM_FCP].own,
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
    m->dscratch = ab_alloc(4 * ops_decode_scratch_floats(m->B, C, m->max_T, m->n_threads));
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
    m->scores = ab_alloc((size_t)m->n_threads * max_T * 4);
    m->lpad = ab_alloc((size_t)B * m->Vp * 4);
    size_t tmp_n = (size_t)m->Vp * C > 4 * C * C ? (size_t)m->Vp * C : 4 * C * C;
    void *tmp = ab_alloc(tmp_n * ab_dtype_size(dt));
    if (!m->slots || !m->kcache || !m->vcache || !m->x || !m->qkv || !m->att || !m->h || !m->lnout ||
        !m->mmin || !m->scores || !m->lpad || !tmp) {
        ab_free(tmp);
        gpt2_model_destroy(m);
        return ab_fail(err, AB_ENOMEM, "model: cannot allocate %.2f GB",
                       gpt2_model_bytes_kv(cfg, dt, kv_dt, B, max_T, max_Tq) * 1e-9);
    }
    for (size_t l = 0; l < L && !st; l++) {
        const struct gpt2_layer *Lw = &p->layers[l];
        struct mm_slot *sl = &m->slots[l * MM_KINDS];
        int c = (int)C;
        if (!(st = slot_init(&sl[MM_QKV], dt, weight_in(dt, tmp, Lw->qkv_w, 3 * C, 3 * C, C), 3 * c, c,
                             OPS_MM_BIAS, err)) &&
            !(st = slot_init(&sl[MM_PROJ], dt, weight_in(dt, tmp, Lw->proj_w, C, C, C), c, c,
                             OPS_MM_BIAS | OPS_MM_ACCUM, err)) &&
            !(st = slot_init(&sl[MM_FC], dt, weight_in(dt, tmp, Lw->fc_w, 4 * C, 4 * C, C), 4 * c, c,
                             OPS_MM_BIAS | OPS_MM_GELU, err)))
            st = slot_init(&sl[MM_FCP], dt, weight_in(dt, tmp, Lw->fcp_w, C, C, 4 * C), c, 4 * c,
                           OPS_MM_BIAS | OPS_MM_ACCUM, err);
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
    *out = m;
    return AB_OK;
}

ab_status gpt2_model_forward(struct gpt2_model *m, const int *tokens, int Tq, int pos0, bool all_logits,
                             float *logits, struct ab_error *err)
{
    const struct gpt2_params *p = m->p;
    int B = m->B, C = m->cfg.n_embd, V = m->cfg.vocab, M = B * Tq;
    if (Tq < 1 || Tq > m->max_Tq || pos0 < 0 || pos0 + Tq > m->max_T)
        return ab_fail(err, AB_EINVAL,
                       "forward: %d tokens at position %d do not fit (%d per step, "
                       "%d positions)",
                       Tq, pos0, m->max_Tq, m->max_T);
    for (int i = 0; i < M; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return ab_fail(err, AB_EINVAL, "forward: token %d out of the vocabulary", tokens[i]);
            /* the embedded tokens, then (a decode step of few sequences) the fused step of ops */
#pragma omp parallel for schedule(static) if (M > 4)
    for (int r = 0; r < M; r++) {
        const float *e = p->wte + (size_t)tokens[r] * C, *pe = p->wpe + (size_t)(pos0 + r % Tq) * C;
        for (int j = 0; j < C; j++)
            m->x[(size_t)r * C + j] = e[j] + pe[j];
    }
    if (Tq == 1 && m->dlayers) {
        ops_decode_step(m->dlayers, m->cfg.n_layer, m->head.own, p->lnf_g, p->lnf_b, m->lpad, m->x, B, C,
                        m->cfg.n_head, m->max_T, pos0, m->kv_dt, m->dscratch, m->n_threads);
        for (int r = 0; r < B; r++)
            memcpy(logits + (size_t)r * V, m->lpad + (size_t)r * m->Vp, (size_t)V * 4);
        return AB_OK;
    }
    ab_status st;
    size_t bstride = (size_t)m->max_T * C, es = ab_dtype_size(m->kv_dt);
    for (int l = 0; l < m->cfg.n_layer; l++) {
        const struct gpt2_layer *L = &p->layers[l];
        struct mm_slot *sl = &m->slots[(size_t)l * MM_KINDS];
        char *kc = (char *)m->kcache + (size_t)l * B * bstride * es;
        char *vc = (char *)m->vcache + (size_t)l * B * bstride * es;
        ops_layernorm(m->lnout, m->x, L->ln1_g, L->ln1_b, M, C, AB_DTYPE_FP32);
        if ((st = matmul(m, &sl[MM_QKV], m->qkv, as_run_dtype(m, m->lnout, (size_t)M * C), L->qkv_b, M, err)))
            return st;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < Tq; i++) {
                const float *row = m->qkv + ((size_t)b * Tq + i) * 3 * C;
                size_t at = (size_t)b * bstride + (size_t)(pos0 + i) * C;
                ops_cache_store(kc, m->kv_dt, at, row + C, C);
                ops_cache_store(vc, m->kv_dt, at, row + 2 * C, C);
            }
        attention(m, m->att, m->qkv, kc, vc, Tq, pos0);
        if ((st = matmul(m, &sl[MM_PROJ], m->x, as_run_dtype(m, m->att, (size_t)M * C), L->proj_b, M, err)))
            return st;
        ops_layernorm(m->lnout, m->x, L->ln2_g, L->ln2_b, M, C, AB_DTYPE_FP32);
        if ((st = matmul(m, &sl[MM_FC], m->h, as_run_dtype(m, m->lnout, (size_t)M * C), L->fc_b, M, err)))
            return st;
        if ((st = matmul(m, &sl[MM_FCP], m->x, as_run_dtype(m, m->h, (size_t)M * 4 * C), L->fcp_b, M, err)))
            return st;
    }
    /* logits of R rows, at most B at a time through the (B, Vp) padded buffer */
    int R = all_logits ? M : B;
    for (int r0 = 0; r0 < R; r0 += B) {
        int n = R - r0 < B ? R - r0 : B;
        for (int r = 0; r < n; r++) {
            int src = all_logits ? r0 + r : r * Tq + Tq - 1;
            memcpy(m->h + (size_t)r * C, m->x + (size_t)src * C, (size_t)C * 4);
        }
        ops_layernorm(m->lnout, m->h, p->lnf_g, p->lnf_b, n, C, AB_DTYPE_FP32);
        if ((st = matmul(m, &m->head, m->lpad, as_run_dtype(m, m->lnout, (size_t)n * C), NULL, n, err)))
            return st;
        for (int r = 0; r < n; r++)
            memcpy(logits + (size_t)(r0 + r) * V, m->lpad + (size_t)r * m->Vp, (size_t)V * 4);
    }
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
