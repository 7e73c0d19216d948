/* attn_decode_cpu_tmpl.h — decode attention's head-lane micro-kernels, written once and included
 * by attn_decode_cpu.c per vector width (8 and 4 fp32 lanes, AVX2 + FMA) under its target
 * pragma. A vector holds one value for each of W query heads of a group, so that the scores of
 * a key for all W heads are one vector: the softmax needs no horizontal step, and each K and V
 * element, broadcast once, feeds W heads in one FMA. The including file defines:
 *   W (lanes), V (the vector type), VLOAD VSTORE VSET1 VBCAST VFMA VMUL VADD VSUB VMAX VZERO,
 *   VEXP2 (2^x, 0 below -126), FN(name) (the width's suffix).
 * Shapes: Qt (HS, W), the block's queries transposed; K, V rows of HS fp32 with row stride ld;
 * St (nk, W) scores, then probabilities; Ot (HS, W) the block's unnormalized output. */

/* St (J, W) = K (J rows) . Qt: J accumulators along HS, one broadcast of K per FMA. */
static inline __attribute__((always_inline)) void FN(hl_qk_tile)(float *St, const float *Qt, const float *K,
                                                                 int64_t ldk, int HS, const int J)
{
    V acc[HL_J];
#pragma GCC unroll 12
    for (int jj = 0; jj < J; jj++)
        acc[jj] = VZERO();
    for (int c = 0; c < HS; c++) {
        V q = VLOAD(Qt + (size_t)c * W);
#pragma GCC unroll 12
        for (int jj = 0; jj < J; jj++)
            acc[jj] = VFMA(q, VBCAST(K + (size_t)jj * (size_t)ldk + c), acc[jj]);
    }
#pragma GCC unroll 12
    for (int jj = 0; jj < J; jj++)
        VSTORE(St + (size_t)jj * W, acc[jj]);
}

static void FN(hl_qk)(float *St, const float *Qt, const float *K, int64_t ldk, int nk, int HS)
{
    int j = 0;
    for (; j + HL_J <= nk; j += HL_J)
        FN(hl_qk_tile)(St + (size_t)j * W, Qt, K + (size_t)j * (size_t)ldk, ldk, HS, HL_J);
    float *s = St + (size_t)j * W;
    const float *k = K + (size_t)j * (size_t)ldk;
    switch (nk - j) { /* a constant key count, so that the accumulators stay registers */
    case 0: break;
    case 1: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 1); break;
    case 2: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 2); break;
    case 3: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 3); break;
    case 4: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 4); break;
    case 5: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 5); break;
    case 6: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 6); break;
    case 7: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 7); break;
    case 8: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 8); break;
    case 9: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 9); break;
    case 10: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 10); break;
    default: FN(hl_qk_tile)(s, Qt, k, ldk, HS, 11); break;
    }
}

/* St (nk, W) = K (nk cache rows from kr, row stride rs bytes, dtype dt) . Qd^T, Qd (W, HS) the
 * block's queries as rows: a vector spans 8 of HS, each K vector is loaded (bf16 widened in
 * the register) once for all W heads, and the W heads' FMAs take their query vector from
 * memory; per key the W accumulators are summed across their lanes into one vector of W
 * scores. HS a multiple of 8. */
static void FN(hl_qk_dot)(float *St, const float *Qd, const char *kr, size_t rs, enum ab_dtype dt, int nk,
                          int HS)
{
    for (int j = 0; j < nk; j++, kr += rs) {
        __m256 a[W];
#pragma GCC unroll 8
        for (int w = 0; w < W; w++)
            a[w] = _mm256_setzero_ps();
        for (int c = 0; c < HS; c += 8) {
            __m256 k = ld8(kr, dt, (size_t)c);
#pragma GCC unroll 8
            for (int w = 0; w < W; w++)
                a[w] = _mm256_fmadd_ps(k, _mm256_loadu_ps(Qd + (size_t)w * (size_t)HS + c), a[w]);
        }
#if W == 8
        __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
        __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
        __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
        VSTORE(St + (size_t)j * W,
               _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
#else
        __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
        VSTORE(St + (size_t)j * W, _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
#endif
    }
}

/* Ot (C columns, W) = corr Ot + St (nk, W) . V (nk rows, C columns): C accumulators along the
 * keys, one broadcast of V per FMA. */
static inline __attribute__((always_inline)) void
FN(hl_pv_tile)(float *Ot, V corr, const float *St, const float *Vr, int64_t ldv, int nk, const int C)
{
    V acc[HL_C];
#pragma GCC unroll 12
    for (int cc = 0; cc < C; cc++)
        acc[cc] = VMUL(VLOAD(Ot + (size_t)cc * W), corr);
    for (int j = 0; j < nk; j++) {
        V p = VLOAD(St + (size_t)j * W);
#pragma GCC unroll 12
        for (int cc = 0; cc < C; cc++)
            acc[cc] = VFMA(p, VBCAST(Vr + (size_t)j * (size_t)ldv + cc), acc[cc]);
    }
#pragma GCC unroll 12
    for (int cc = 0; cc < C; cc++)
        VSTORE(Ot + (size_t)cc * W, acc[cc]);
}

static void FN(hl_pv)(float *Ot, V corr, const float *St, const float *Vr, int64_t ldv, int nk, int HS)
{
    int c = 0;
    for (; c + HL_C <= HS; c += HL_C)
        FN(hl_pv_tile)(Ot + (size_t)c * W, corr, St, Vr + c, ldv, nk, HL_C);
    float *o = Ot + (size_t)c * W;
    const float *v = Vr + c;
    switch (HS - c) {
    case 0: break;
    case 1: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 1); break;
    case 2: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 2); break;
    case 3: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 3); break;
    case 4: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 4); break;
    case 5: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 5); break;
    case 6: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 6); break;
    case 7: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 7); break;
    case 8: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 8); break;
    case 9: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 9); break;
    case 10: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 10); break;
    default: FN(hl_pv_tile)(o, corr, St, v, ldv, nk, 11); break;
    }
}

/* The online softmax of one block's tile (base 2: the scores carry log2 e): St becomes
 * 2^(St - m_new), l = l corr + the row sums, m = m_new; returns corr = 2^(m_old - m_new),
 * which is 0 on the first tile (m_old = -inf). */
static V FN(hl_softmax)(float *St, int nk, float *m, float *l)
{
    V mx = VLOAD(St);
    for (int j = 1; j < nk; j++)
        mx = VMAX(mx, VLOAD(St + (size_t)j * W));
    V mo = VLOAD(m), mn = VMAX(mo, mx), sum = VZERO();
    V corr = VEXP2(VSUB(mo, mn));
    for (int j = 0; j < nk; j++) {
        V p = VEXP2(VSUB(VLOAD(St + (size_t)j * W), mn));
        VSTORE(St + (size_t)j * W, p);
        sum = VADD(sum, p);
    }
    VSTORE(l, VADD(VMUL(VLOAD(l), corr), sum));
    VSTORE(m, mn);
    return corr;
}

/* Keys [j0, j1) of (sequence b, KV head hk) for all G heads, in blocks of W heads (the last
 * padded with zero queries, whose outputs are dropped): per tile of HL_TILE keys, every
 * block's scores (hl_qk_dot from the cache's rows; where HS is not a multiple of 8, hl_qk over
 * K as fp32: the cache's rows, or converted into the thread's tile buffer) and softmax, then V
 * as fp32 likewise and every block's P.V. */
static void FN(hl_range)(const struct dec *x, int b, int hk, int j0, int j1, float *scr, float *o,
                         int64_t ldo, bool partial)
{
    int G = x->G, HS = x->HS, nb = (G + W - 1) / W;
    size_t gp = (size_t)nb * W;
    float *Qt = scr, *Ot = Qt + gp * (size_t)HS, *m = Ot + gp * (size_t)HS, *l = m + gp;
    float *St = l + gp, *T = St + (size_t)HL_TILE * gp;
    bool dot = HS % 8 == 0; /* Q.K^T by hl_qk_dot: Qt then holds the queries as rows */
    for (int blk = 0; blk < nb; blk++)
        for (int w = 0; w < W; w++) {
            int g = blk * W + w;
            float *qt = dot ? Qt + (size_t)g * (size_t)HS : Qt + (size_t)blk * (size_t)HS * W + w;
            int stride = dot ? 1 : W;
            if (g < G)
                q_row_f32(x, b, hk, g, qt, stride);
            else
                for (int c = 0; c < HS; c++)
                    qt[(size_t)c * (size_t)stride] = 0;
        }
    size_t krs = (size_t)x->io->kv_t * ab_dtype_size(x->kv_dt);
    memset(Ot, 0, gp * (size_t)HS * 4);
    for (size_t g = 0; g < gp; g++)
        m[g] = -INFINITY, l[g] = 0;
    V corr[64 / W];
    const char *kb = kv_row(x, x->io->k, b, hk, 0), *vb = kv_row(x, x->io->v, b, hk, 0);
    for (int k0 = j0; k0 < j1; k0 += HL_TILE) {
        int kn = j1 - k0 < HL_TILE ? j1 - k0 : HL_TILE;
        int64_t ld = 0;
        const float *K = dot ? NULL : rows_f32(x, kb, k0, kn, T, &ld);
        prefetch_rows(x, vb, k0, kn);
        for (int blk = 0; blk < nb; blk++) {
            float *st = St + (size_t)blk * HL_TILE * W;
            const float *qb = Qt + (size_t)blk * (size_t)HS * W;
            if (dot)
                FN(hl_qk_dot)(st, qb, kb + (size_t)k0 * krs, krs, x->kv_dt, kn, HS);
            else
                FN(hl_qk)(st, qb, K, ld, kn, HS);
            corr[blk] = FN(hl_softmax)(st, kn, m + (size_t)blk * W, l + (size_t)blk * W);
        }
        const float *Vr = rows_f32(x, vb, k0, kn, T, &ld);
        if (k0 + kn < j1)
            prefetch_rows(x, kb, k0 + kn, j1 - k0 - kn < HL_TILE ? j1 - k0 - kn : HL_TILE);
        for (int blk = 0; blk < nb; blk++) {
            float *ot = Ot + (size_t)blk * (size_t)HS * W;
            const float *st = St + (size_t)blk * HL_TILE * W;
            FN(hl_pv)(ot, corr[blk], st, Vr, ld, kn, HS);
        }
    }
    for (int g = 0; g < G; g++) {
        const float *ot = Ot + (size_t)(g / W) * (size_t)HS * W + (size_t)(g % W);
        float *og = o + (size_t)g * (size_t)ldo, inv = partial ? 1.0f : 1.0f / l[g];
        for (int c = 0; c < HS; c++)
            og[c] = ot[(size_t)c * W] * inv;
        if (partial)
            og[-2] = m[g], og[-1] = l[g];
    }
}

#undef W
#undef V
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VBCAST
#undef VFMA
#undef VMUL
#undef VADD
#undef VSUB
#undef VMAX
#undef VZERO
#undef VEXP2
#undef FN
