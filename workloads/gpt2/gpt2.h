/* gpt2.h — the gpt2 workload's pieces shared between its files: the work model (FLOPs and
 * bytes of each phase, the formulas of results/schema.md) and the per-backend impls. */
#ifndef GPT2_H
#define GPT2_H

#include "accelbench.h"
#include "model.h"

extern const struct ab_impl gpt2_cpu_impl;
extern const struct ab_impl gpt2_cuda_impl;

/* Prefill of P tokens for B sequences, logits of the last position only:
 *   B·P·2·12·L·C²  (the block matmuls: 2 FLOPs per weight per token)
 * + 4·L·C·B·P(P+1)/2  (causal attention: q·k and p·v, 2·C each per query-key pair)
 * + B·2·C·V  (the output projection, last position). */
double gpt2_prefill_flops(const struct gpt2_config *cfg, int B, int P);
/* One decode step of B sequences whose new token sits at position pos (pos+1 keys). */
double gpt2_decode_step_flops(const struct gpt2_config *cfg, int B, int pos);
/* Bytes one decode step must read: every weight once (matmul weights and the tied output
 * embedding in the run dtype, norms and biases fp32) plus the fp32 KV cache of pos+1
 * positions of each sequence. */
double gpt2_decode_step_bytes(const struct gpt2_config *cfg, size_t weight_bytes, int B, int pos);
/* Bytes of weights read per step in the run dtype (element size 4 or 2). */
size_t gpt2_weight_bytes(const struct gpt2_config *cfg, size_t elem);

/* State c->work for a phase: prefill (tokens B·P, held against "<dtype>_gemm" FLOPs) or
 * decode (tokens B·T, held against mem_bw bytes, summed over the T steps); elem is the
 * matmul weight element size; gemm_ceiling names the prefill ceiling. Also records the
 * weight_bytes and step_bytes metrics of decode rows. */
void gpt2_set_work(struct ab_case *c, const struct gpt2_config *cfg, size_t elem, const char *gemm_ceiling,
                   int B, int P, int T, bool decode);

/* Tolerance of the workload's logit check against the FP64 reference (atol + rtol·|ref|):
 * fp32, or a 16-bit matmul input type (bf16, fp16) when half. */
void gpt2_logit_tolerance(bool half, double *atol, double *rtol);

/* Compare got (V logits of position T-1 of tokens) with the FP64 reference forward
 * (weights rounded to bf16 with round_bf16), within atol + rtol·|ref|; records max_abs_err;
 * AB_EMISMATCH naming the first few logits off. */
ab_status gpt2_verify_logits(struct ab_case *c, const struct gpt2_params *p, const int *tokens, int T,
                             bool round_bf16, const float *got, double atol, double rtol,
                             struct ab_error *err);

#endif /* GPT2_H */
