/* ops_ref.c — FP64 references of the ops (see ops_ref.h). Plain loops, no parallelism beyond
 * OpenMP over rows where a test would otherwise wait. */
#include "ops_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ops_ref_matmul(double *out, const double *inp, const double *w, const double *bias, const double *res,
                    int M, int N, int K, bool gelu)
{
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0;
            for (int k = 0; k < K; k++)
                s += inp[(size_t)m * K + k] * w[(size_t)n * K + k];
            if (gelu)
                s = ops_ref_gelu(s);
            if (res)
                s += res[(size_t)m * N + n];
            out[(size_t)m * N + n] = s;
        }
}

void ops_ref_layernorm(double *out, const double *inp, const double *gamma, const double *beta, int N, int C)
{
    for (int r = 0; r < N; r++) {
        const double *x = inp + (size_t)r * C;
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++)
            mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++)
            var += (x[c] - mean) * (x[c] - mean);
        var /= C;
        double rstd = 1 / sqrt(var + (double)OPS_LN_EPS);
        for (int c = 0; c < C; c++)
            out[(size_t)r * C + c] = (x[c] - mean) * rstd * gamma[c] + beta[c];
    }
}

double ops_ref_gelu(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

void ops_ref_softmax(double *out, const double *inp, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const double *x = inp + (size_t)r * cols;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < cols; j++)
            mx = fmax(mx, x[j]);
        for (int j = 0; j < cols; j++)
            s += mx == -INFINITY ? 0 : exp(x[j] - mx);
        for (int j = 0; j < cols; j++)
            out[(size_t)r * cols + j] = mx == -INFINITY ? 0 : exp(x[j] - mx) / s;
    }
}

void ops_ref_attention(double *out, const double *q, int ldq, const double *k, const double *v, int ldkv,
                       int B, int NH, int Tq, int Tk, int HS, int q_pos0, bool causal)
{
    double scale = 1 / sqrt((double)HS);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            double *s = malloc(sizeof(double) * (size_t)Tk);
            for (int i = 0; i < Tq; i++) {
                const double *qi = q + ((size_t)b * Tq + i) * ldq + (size_t)h * HS;
                int lim = causal ? q_pos0 + i : Tk - 1;
                if (lim > Tk - 1)
                    lim = Tk - 1;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j <= lim; j++) {
                    const double *kj = k + ((size_t)b * Tk + j) * ldkv + (size_t)h * HS;
                    double d = 0;
                    for (int c = 0; c < HS; c++)
                        d += qi[c] * kj[c];
                    s[j] = d * scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= lim; j++)
                    sum += (s[j] = exp(s[j] - mx));
                double *o = out + ((size_t)b * Tq + i) * NH * HS + (size_t)h * HS;
                for (int c = 0; c < HS; c++) {
                    double acc = 0;
                    for (int j = 0; j <= lim; j++)
                        acc += s[j] * v[((size_t)b * Tk + j) * ldkv + (size_t)h * HS + c];
                    o[c] = lim < 0 ? 0 : acc / sum;
                }
            }
            free(s);
        }
}

size_t ops_check(const void *got, enum ab_dtype dt, const double *ref, size_t n, double atol, double rtol,
                 double *max_err, char *msg, size_t len)
{
    size_t bad = 0;
    double worst = 0;
    if (len)
        msg[0] = 0;
    for (size_t i = 0; i < n; i++) {
        double g = ab_dtype_get(dt, got, i), lim = atol + rtol * fabs(ref[i]), e = fabs(g - ref[i]) / lim;
        if (!(e <= 1)) {
            if (bad++ < 3 && len) {
                size_t l = strlen(msg);
                snprintf(msg + l, len - l, "%s[%zu]=%.6g ref %.6g", bad > 1 ? "; " : "", i, g, ref[i]);
            }
        }
        if (isnan(e))
            e = INFINITY;
        if (e > worst)
            worst = e;
    }
    if (max_err)
        *max_err = worst;
    return bad;
}

void ops_fill_random(void *x, enum ab_dtype dt, double *wide, size_t n, uint64_t seed, float scale)
{
    /* chunks with their own streams: parallel, and the same values whatever the thread count */
    enum { CHUNK = 1 << 16 };
    size_t chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (size_t ch = 0; ch < chunks; ch++) {
        struct ab_rng g;
        ab_rng_seed(&g, seed * 0x9e3779b97f4a7c15ull + ch);
        size_t end = (ch + 1) * CHUNK < n ? (ch + 1) * CHUNK : n;
        for (size_t i = ch * CHUNK; i < end; i++) {
            float f = (float)ab_rng_normal(&g) * scale;
            if (dt == AB_DTYPE_FP32)
                ((float *)x)[i] = f;
            else
                ((uint16_t *)x)[i] = ab_bf16_from_f32(f);
            if (wide)
                wide[i] = ab_dtype_get(dt, x, i);
        }
    }
}
