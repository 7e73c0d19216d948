/* flash_cpu_tmpl.h — the flash kernel's vector micro-kernels, written once and included by
 * flash_cpu.c per instruction set (AVX2 + FMA, AVX-512F) under that set's target pragma, as
 * dav1d's bitdepth templates. The including file defines:
 *   V, VW: the vector type and its fp32 lanes; NV = 16 / VW vectors per 16 keys or columns;
 *   MR: rows of a register tile (MR x NV accumulators, NV loads and 1 broadcast in flight);
 *   VLOAD VSTORE VSET1 VBCAST VFMA VMUL VSUB VADD VMAX VZERO, VEXP2 (2^x of one vector),
 *   VHMAX VHSUM (horizontal max and sum), FN(name) (the set's suffix).
 * Shapes: Q (nq, HS) row stride ldq; Kp packed by flash_pack_k: (ceil(nk/16), HS, 16);
 * S (nq, nk) row stride ldS; V (nk, HS) row stride ldv; O (nq, HS) row stride ldo. */

/* S (MR rows) = Q (MR rows) . Kp^T over 16 keys: MR x NV accumulators along HS. */
static inline __attribute__((always_inline)) void FN(qk_tile)(float *S, int ldS, const float *Q, int ldq,
                                                              const float *Kg, int HS, int cols, const int R)
{
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) /* all MR: R is not a constant in the default case */
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            acc[r][v] = VZERO();
    for (int c = 0; c < HS; c++) {
        V kv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            kv[v] = VLOAD(Kg + (size_t)c * 16 + (size_t)v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            V qv = VBCAST(Q + (size_t)r * ldq + c);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[r][v] = VFMA(qv, kv[v], acc[r][v]);
        }
    }
    if (cols == 16) {
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                VSTORE(S + (size_t)r * ldS + (size_t)v * VW, acc[r][v]);
        return;
    }
    float tmp[16];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) { /* the last, partial group of keys: only its columns */
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            VSTORE(tmp + v * VW, acc[r][v]);
        memcpy(S + (size_t)r * ldS, tmp, (size_t)cols * 4);
    }
}

static void FN(qk)(float *S, int ldS, const float *Q, int ldq, const float *Kp, int nq, int nk, int HS)
{
    /* a group of 16 packed keys (16 HS floats) stays in L1 while every row strip takes it */
    for (int j0 = 0; j0 < nk; j0 += 16) {
        int cols = nk - j0 < 16 ? nk - j0 : 16;
        for (int r0 = 0; r0 < nq; r0 += MR) {
            int R = nq - r0 < MR ? nq - r0 : MR;
            float *s = S + (size_t)r0 * ldS + j0;
            const float *q = Q + (size_t)r0 * ldq, *kg = Kp + (size_t)j0 * HS;
            if (R == MR)
                FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, MR);
            else
                switch (R) { /* a constant row count, so that the accumulators stay registers */
                case 1: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, 1); break;
                case 2: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, 2); break;
                case 3: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, 3); break;
                case 4: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, 4); break;
                case 5: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, 5); break;
                default: FN(qk_tile)(s, ldS, q, ldq, kg, HS, cols, R); break;
                }
        }
    }
}

/* O (MR rows, 16 columns from c0) = corr . O + P . V over nk keys. */
static inline __attribute__((always_inline)) void FN(pv_tile)(float *O, int ldo, const float *corr,
                                                              const float *P, int ldp, const float *Vc,
                                                              int64_t ldv, int nk, const int R)
{
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            acc[r][v] =
                corr && r < R ? VMUL(VLOAD(O + (size_t)r * ldo + (size_t)v * VW), VSET1(corr[r])) : VZERO();
    for (int j = 0; j < nk; j++) {
        V vv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            vv[v] = VLOAD(Vc + (size_t)j * (size_t)ldv + (size_t)v * VW);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            V pv = VBCAST(P + (size_t)r * ldp + j);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[r][v] = VFMA(pv, vv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            VSTORE(O + (size_t)r * ldo + (size_t)v * VW, acc[r][v]);
}

/* vbs: floats from one 16-column block of V to the next: 16 for V row-major, nk * 16 for V
 * packed by blocks (flash_task's (HS/16, nk, 16), ldv 16), whose block then stays in L1 while
 * every row strip takes it. */
static void FN(pv)(float *O, int ldo, const float *corr, const float *P, int ldp, const float *Vm,
                   int64_t ldv, int64_t vbs, int nq, int nk, int HS)
{
    for (int c0 = 0; c0 < HS; c0 += 16) {
        const float *vc = Vm + (size_t)(c0 / 16) * (size_t)vbs;
        for (int r0 = 0; r0 < nq; r0 += MR) {
            int R = nq - r0 < MR ? nq - r0 : MR;
            const float *cr = corr ? corr + r0 : NULL, *p = P + (size_t)r0 * ldp;
            float *o = O + (size_t)r0 * ldo + c0;
            if (HS - c0 < 16)
                pv_cols(o, ldo, cr, p, ldp, vc, ldv, R, nk, HS - c0);
            else if (R == MR)
                FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, MR);
            else
                switch (R) {
                case 1: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, 1); break;
                case 2: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, 2); break;
                case 3: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, 3); break;
                case 4: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, 4); break;
                case 5: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, 5); break;
                default: FN(pv_tile)(o, ldo, cr, p, ldp, vc, ldv, nk, R); break;
                }
        }
    }
}

/* Largest of s[0..n), n >= 1. */
static float FN(row_max)(const float *s, int n)
{
    int j = 0;
    float m = -INFINITY;
    if (n >= VW) {
        V mv = VLOAD(s);
        for (j = VW; j + VW <= n; j += VW)
            mv = VMAX(mv, VLOAD(s + j));
        m = VHMAX(mv);
    }
    for (; j < n; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

/* s[j] = 2^((s[j] - m) scale) for j < n (in place); returns the sum. */
static float FN(exp2_sum)(float *s, int n, float m, float scale)
{
    V acc = VZERO(), mv = VSET1(m), sc = VSET1(scale);
    int j = 0;
    for (; j + VW <= n; j += VW) {
        V e = VEXP2(VMUL(VSUB(VLOAD(s + j), mv), sc));
        VSTORE(s + j, e);
        acc = VADD(acc, e);
    }
    float sum = VHSUM(acc);
    for (; j < n; j++) {
        s[j] = flash_exp2((s[j] - m) * scale);
        sum += s[j];
    }
    return sum;
}

/* Online softmax over one tile of scores in log2 units: row r keeps keys j <= lim0 + r
 * (every key when !causal); P = 2^(S - m_new) overwrites S, zero on masked keys up to nk; the
 * running maxima m and sums l are updated and corr gets 2^(m_old - m_new) per row. */
static void FN(softmax)(float *S, int ldS, int nq, int nk, bool causal, int lim0, float *m, float *l,
                        float *corr)
{
    for (int r = 0; r < nq; r++) {
        float *s = S + (size_t)r * ldS;
        int kv = causal ? (lim0 + r + 1 < nk ? lim0 + r + 1 : nk) : nk; /* keys kept */
        if (kv <= 0) {
            memset(s, 0, (size_t)nk * 4);
            corr[r] = 1.0f;
            continue;
        }
        float mn = fmaxf(m[r], FN(row_max)(s, kv));
        corr[r] = flash_exp2(m[r] - mn); /* 0 on the first tile, where m = -inf */
        l[r] = l[r] * corr[r] + FN(exp2_sum)(s, kv, mn, 1.0f);
        m[r] = mn;
        if (kv < nk)
            memset(s + kv, 0, (size_t)(nk - kv) * 4);
    }
}

static void FN(exp2v)(float *out, const float *x, size_t n)
{
    size_t j = 0;
    for (; j + VW <= n; j += VW)
        VSTORE(out + j, VEXP2(VLOAD(x + j)));
    for (; j < n; j++)
        out[j] = flash_exp2(x[j]);
}

/* Vp (ceil(HS/16), nk, 16) = v (nk, HS) rows of stride ldv, in dt, for FN(pv)'s vbs = nk * 16;
 * HS a multiple of 16. Plain loops: the target's vectorizer does the widening. */
static void FN(pack_v)(float *restrict Vp, const void *restrict v, int64_t ldv, int nk, int HS,
                       enum ab_dtype dt)
{
    for (int j = 0; j < nk; j++)
        for (int c0 = 0; c0 < HS; c0 += 16) {
            float *dst = Vp + ((size_t)(c0 / 16) * (size_t)nk + (size_t)j) * 16;
            size_t at = (size_t)j * (size_t)ldv + (size_t)c0;
            if (dt == AB_DTYPE_FP32) {
                const float *src = (const float *)v + at;
                for (int c = 0; c < 16; c++)
                    dst[c] = src[c];
            } else {
                const uint16_t *src = (const uint16_t *)v + at;
                for (int c = 0; c < 16; c++)
                    dst[c] = ab_bf16_to_f32(src[c]);
            }
        }
}

/* The parameters are this inclusion's only: the next one defines its own. */
#undef V
#undef VW
#undef NV
#undef MR
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VBCAST
#undef VFMA
#undef VMUL
#undef VSUB
#undef VADD
#undef VMAX
#undef VZERO
#undef VEXP2
#undef VHMAX
#undef VHSUM
#undef FN
