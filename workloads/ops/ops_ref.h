/* ops_ref.h — FP64 references of the ops in ops.h, written for clarity not speed, and the one
 * comparison helper that tests and workloads' verify hooks share (atol + rtol |ref|). Inputs
 * are doubles holding the values the op under test saw (already rounded to its dtype). */
#ifndef AB_OPS_REF_H
#define AB_OPS_REF_H

#include "ops.h"

/* out (M,N) = inp (M,K) . w (N,K)^T [+ bias (N)] [then GELU] [+ res (M,N)]; bias, res may be NULL. */
void ops_ref_matmul(double *out, const double *inp, const double *w, const double *bias, const double *res,
                    int M, int N, int K, bool gelu);
/* out, inp (N,C); gamma, beta (C); eps OPS_LN_EPS. */
void ops_ref_layernorm(double *out, const double *inp, const double *gamma, const double *beta, int N, int C);
double ops_ref_gelu(double x);
void ops_ref_softmax(double *out, const double *inp, int rows, int cols);
/* As ops_attn_run, on doubles: q (B,Tq,ldq), k and v (B,Tk,ldkv), out (B,Tq,NH*HS). */
void ops_ref_attention(double *out, const double *q, int ldq, const double *k, const double *v, int ldkv,
                       int B, int NH, int Tq, int Tk, int HS, int q_pos0, bool causal);

/* Compare n values of got (in dt) with ref: a mismatch is |got - ref| > atol + rtol |ref| (or
 * NaN). Returns the number of mismatches; *max_err gets the largest |got - ref| / (atol +
 * rtol |ref|) (1 is the limit); the first 3 mismatches are described in msg. */
size_t ops_check(const void *got, enum ab_dtype dt, const double *ref, size_t n, double atol, double rtol,
                 double *max_err, char *msg, size_t len);

/* Fill n values of dt with N(0, scale) from seed, and return them as doubles in *wide
 * (the values after rounding to dt); wide may be NULL. */
void ops_fill_random(void *x, enum ab_dtype dt, double *wide, size_t n, uint64_t seed, float scale);

#endif /* AB_OPS_REF_H */
