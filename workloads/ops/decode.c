/* decode.c — a whole decode step of a pre-LN GPT-2 stack for a few sequences in one OpenMP
 * parallel region, and the attention of one query over a KV cache (fp32 or bf16 rows) that
 * both the fused step and a prefill use. Not a general transformer: GELU MLP, learned
 * positions, one new token per sequence. The one idea: a step is a chain of small matmuls
 * bound by reading their weights, run as phases (a matmul's column blocks, the (sequence,
 * head) attention items) whose items the threads take from a counter; a phase waits for the
 * items of the one before to be done, never for threads to arrive, so a thread preempted on
 * a shared machine stalls no one unless it holds an item. Each thread computes LayerNorm
 * into its own buffer, straight into the GEMV's input. */
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ attention over a cache */

/* The decode-attention op's G = 1 kernel (attn_decode_cpu.c): keys in tiles with an online
 * softmax. */
void ops_cache_attend(float *out, const float *q, const void *K, const void *V, enum ab_dtype kv_dt,
                      size_t ld, int n, int HS, float scale)
{
    ops_attn_decode_one(out, q, K, V, kv_dt, (int64_t)ld, n, HS, scale);
}

void ops_cache_store(void *cache, enum ab_dtype kv_dt, size_t at, const float *src, int n)
{
    if (kv_dt == AB_DTYPE_FP32)
        memcpy((float *)cache + at, src, (size_t)n * 4);
    else
        for (int i = 0; i < n; i++)
            ((uint16_t *)cache)[at + (size_t)i] = ab_bf16_from_f32(src[i]);
}

/* ------------------------------------------------------------------ the fused step */

/* one LayerNorm row in fp32, as ops_layernorm's portable row: mean, then variance about it */
static void ln_row(float *out, const float *x, const float *g, const float *b, int C)
{
    float mu = 0, var = 0;
    for (int j = 0; j < C; j++)
        mu += x[j];
    mu /= (float)C;
    for (int j = 0; j < C; j++)
        var += (x[j] - mu) * (x[j] - mu);
    float rs = 1.0f / sqrtf(var / (float)C + OPS_LN_EPS);
    for (int j = 0; j < C; j++)
        out[j] = (x[j] - mu) * rs * g[j] + b[j];
}

static void ln_rows(float *out, const float *x, const float *g, const float *b, int B, int C)
{
    for (int r = 0; r < B; r++)
        ln_row(out + (size_t)r * C, x + (size_t)r * C, g, b, C);
}

/* One phase of the step (a matmul's blocks, the attention items): items are taken by an
 * atomic counter and counted done; the next phase starts when every item is done. */
struct phase {
    _Alignas(64) atomic_int next;
    atomic_int done;
};
enum { SUB_QKV, SUB_ATTN, SUB_PROJ, SUB_FC, SUB_FCP, SUBS };

size_t ops_decode_scratch_floats(int B, int C, int threads)
{
    size_t phases = (sizeof(struct phase) * (OPS_DECODE_MAX_LAYERS * SUBS + 1) + 3) / 4;
    return (size_t)B * 8 * C + (size_t)threads * (size_t)B * C + phases + 16;
}

bool ops_decode_fusable(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head)
{
    if (L < 1 || L > OPS_DECODE_MAX_LAYERS)
        return false;
    for (int l = 0; l < L; l++)
        if (!ops_matmul_blocks(ly[l].qkv) || !ops_matmul_blocks(ly[l].proj) || !ops_matmul_blocks(ly[l].fc) ||
            !ops_matmul_blocks(ly[l].fcp))
            return false;
    return ops_matmul_blocks(head) > 0;
}

/* Wait until n items of a phase are done: spin briefly, then yield (on a loaded machine the
 * thread holding the last item may be waiting for this very core). */
static void wait_done(atomic_int *done, int n)
{
    for (int spins = 0; atomic_load_explicit(done, memory_order_acquire) < n; spins++) {
        if (spins < 64)
            _mm_pause();
        else
            sched_yield();
    }
}

/* The step's state, shared by its threads */
struct step {
    const struct ops_decode_layer *ly;
    const struct ops_matmul *head;
    const float *lnf_g, *lnf_b;
    float *logits, *x, *qkv, *att, *h, *priv;
    struct phase *ph;
    int L, B, C, NH, HS, max_T, pos;
    float scale;
    enum ab_dtype kv_dt;
};

static int phase_items(const struct step *s, int g)
{
    if (g == s->L * SUBS)
        return ops_matmul_blocks(s->head);
    const struct ops_decode_layer *w = &s->ly[g / SUBS];
    switch (g % SUBS) {
    case SUB_QKV: return ops_matmul_blocks(w->qkv);
    case SUB_ATTN: return s->B * s->NH;
    case SUB_PROJ: return ops_matmul_blocks(w->proj);
    case SUB_FC: return ops_matmul_blocks(w->fc);
    default: return ops_matmul_blocks(w->fcp);
    }
}

/* item i of phase g; ln is the thread's LayerNorm of x for the phases that read it, made on
 * its first item of the phase (x cannot change while an item of the phase is outstanding) */
static void phase_item(const struct step *s, int g, int i, float *ln, bool *have_ln)
{
    int B = s->B, C = s->C;
    if (g == s->L * SUBS) {
        if (!*have_ln)
            ln_rows(ln, s->x, s->lnf_g, s->lnf_b, B, C), *have_ln = true;
        ops_matmul_run_block(s->head, i, s->logits, ln, B, NULL);
        return;
    }
    const struct ops_decode_layer *w = &s->ly[g / SUBS];
    switch (g % SUBS) {
    case SUB_QKV:
        if (!*have_ln)
            ln_rows(ln, s->x, w->ln1_g, w->ln1_b, B, C), *have_ln = true;
        ops_matmul_run_block(w->qkv, i, s->qkv, ln, B, w->qkv_b);
        break;
    case SUB_ATTN: {
        int b = i / s->NH, hh = i % s->NH, HS = s->HS;
        const float *row = s->qkv + (size_t)b * 3 * C;
        size_t es = ab_dtype_size(s->kv_dt), base = (size_t)b * s->max_T * C + (size_t)hh * HS;
        ops_cache_store(w->kc, s->kv_dt, base + (size_t)s->pos * C, row + C + hh * HS, HS);
        ops_cache_store(w->vc, s->kv_dt, base + (size_t)s->pos * C, row + 2 * C + hh * HS, HS);
        ops_cache_attend(s->att + (size_t)b * C + hh * HS, row + hh * HS, (const char *)w->kc + base * es,
                         (const char *)w->vc + base * es, s->kv_dt, (size_t)C, s->pos + 1, HS, s->scale);
        break;
    }
    case SUB_PROJ: ops_matmul_run_block(w->proj, i, s->x, s->att, B, w->proj_b); break;
    case SUB_FC:
        if (!*have_ln)
            ln_rows(ln, s->x, w->ln2_g, w->ln2_b, B, C), *have_ln = true;
        ops_matmul_run_block(w->fc, i, s->h, ln, B, w->fc_b);
        break;
    default: ops_matmul_run_block(w->fcp, i, s->x, s->h, B, w->fcp_b); break;
    }
}

/* A thread's part of the step: every phase in order, as many of its items as it can take.
 * A thread that starts late (or is preempted) finds phases done and holds up no one, unlike
 * a barrier, which waits for every thread to arrive. */
static void step_thread(const struct step *s, int t)
{
    float *ln = s->priv + (size_t)t * (size_t)s->B * s->C;
    int G = s->L * SUBS + 1;
    for (int g = 0; g < G; g++) {
        int n = phase_items(s, g);
        if (g)
            wait_done(&s->ph[g - 1].done, phase_items(s, g - 1));
        bool have_ln = false;
        for (int i; (i = atomic_fetch_add_explicit(&s->ph[g].next, 1, memory_order_relaxed)) < n;) {
            phase_item(s, g, i, ln, &have_ln);
            atomic_fetch_add_explicit(&s->ph[g].done, 1, memory_order_release);
        }
    }
}

void ops_decode_step(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head,
                     const float *lnf_g, const float *lnf_b, float *logits, float *x, int B, int C, int NH,
                     int max_T, int pos, enum ab_dtype kv_dt, float *scratch, int threads)
{
    float *qkv = scratch, *att = qkv + (size_t)B * 3 * C, *h = att + (size_t)B * C;
    float *priv = h + (size_t)B * 4 * C;
    uintptr_t pa = (uintptr_t)(priv + (size_t)threads * (size_t)B * C);
    struct phase *ph = (struct phase *)((pa + 63) / 64 * 64);
    int G = L * SUBS + 1;
    for (int g = 0; g < G; g++) {
        atomic_init(&ph[g].next, 0);
        atomic_init(&ph[g].done, 0);
    }
    struct step s = { .ly = ly,
                      .head = head,
                      .lnf_g = lnf_g,
                      .lnf_b = lnf_b,
                      .logits = logits,
                      .x = x,
                      .qkv = qkv,
                      .att = att,
                      .h = h,
                      .priv = priv,
                      .ph = ph,
                      .L = L,
                      .B = B,
                      .C = C,
                      .NH = NH,
                      .HS = C / NH,
                      .max_T = max_T,
                      .pos = pos,
                      .scale = 1.0f / sqrtf((float)(C / NH)),
                      .kv_dt = kv_dt };
#pragma omp parallel num_threads(threads)
    step_thread(&s, omp_get_thread_num());
}
