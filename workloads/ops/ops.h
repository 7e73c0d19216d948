/* ops.h — shared tensor operations on the CPU (oneDNN for matmul, vectorized loops for the
 * rest) used by transformer_block, gpt2 and attention_memory. CUDA launchers live in
 * ops_cuda.h. Layouts are row-major; each function names its shapes in its comment, llm.c
 * style: `inp is (B,T,C)`. Activations are fp32 or bf16 (uint16_t bit patterns); norms'
 * parameters and biases are always fp32; accumulation is always fp32 or wider. */
#ifndef AB_OPS_H
#define AB_OPS_H

#include "accelbench.h"

enum ops_dtype { OPS_F32 = 0, OPS_BF16 = 1, OPS_F16 = 2 /* CUDA only */ };
size_t ops_dtype_size(enum ops_dtype dt);
const char *ops_dtype_name(enum ops_dtype dt);
/* "fp32", "bf16", "fp16" -> dtype; false when unknown. */
bool ops_dtype_parse(const char *name, enum ops_dtype *out);

/* bf16 <-> fp32 (round to nearest even; NaN stays NaN). */
uint16_t ops_f32_to_bf16(float f);
float ops_bf16_to_f32(uint16_t h);
void ops_convert(void *dst, enum ops_dtype dst_dt, const void *src, enum ops_dtype src_dt, size_t n);

/* matmul: out (M,N) = inp (M,K) . weight (N,K)^T [+ bias (N)] [then GELU].
 * weight is (N,K) row-major (output-major, as llm.c's (OC,C)); out, inp, weight share the
 * dtype; bias is fp32. A plan is made once per shape (oneDNN primitive) and run many times. */
enum { OPS_MM_BIAS = 1u, OPS_MM_GELU = 2u };
struct ops_matmul;
ab_status ops_matmul_create(struct ops_matmul **out, int M, int N, int K, enum ops_dtype dt,
                            unsigned flags, struct ab_error *err);
ab_status ops_matmul_run(struct ops_matmul *mm, void *out, const void *inp, const void *weight,
                         const float *bias, struct ab_error *err);
void ops_matmul_destroy(struct ops_matmul *mm);

/* layernorm: out (N,C) = (inp - mean) / sqrt(var + 1e-5) * gamma + beta, per row;
 * inp, out (N,C) in dt; gamma, beta (C) fp32. */
void ops_layernorm(void *out, const void *inp, const float *gamma, const float *beta, int N,
                   int C, enum ops_dtype dt);

/* gelu (tanh form, as GPT-2): out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void ops_gelu(void *out, const void *inp, size_t n, enum ops_dtype dt);

/* softmax over the last axis: out, inp (rows, cols) fp32; in place allowed. */
void ops_softmax(float *out, const float *inp, int rows, int cols);

/* residual: out (n) = a + b; in place allowed. */
void ops_residual(void *out, const void *a, const void *b, size_t n, enum ops_dtype dt);

/* attention, multi-head, per batch b and head h:
 *   out[b, i, h*HS:(h+1)*HS] = softmax_j( q_i . k_j / sqrt(HS) ) v_j
 * q is (B,Tq,*) with row stride ldq elements (head h at column h*HS);
 * k and v are (B,Tk,*) with row stride ldkv elements and batch stride bs_kv elements;
 * out is (B,Tq,NH*HS). Query i sits at absolute position q_pos0 + i, key j at position j;
 * with causal, keys j > q_pos0 + i are masked. Fused online softmax: no (Tq,Tk) matrix is
 * stored. Scratch is allocated inside; AB_ENOMEM if that fails. */
ab_status ops_attention(void *out, const void *q, int ldq, const void *k, const void *v, int ldkv,
                        size_t bs_kv, int B, int NH, int Tq, int Tk, int HS, int q_pos0,
                        bool causal, enum ops_dtype dt, struct ab_error *err);

#endif /* AB_OPS_H */
