/* gpt2.h — the gpt2 workload's pieces shared between its files: the work model (FLOPs and
 * bytes of each phase, the formulas of results/schema.md) and the per-backend impls. */
#ifndef GPT2_H
#define GPT2_H

#include "accelbench.h"
#include "model.h"

extern const struct ab_impl gpt2_cpu_impl;
extern const struct ab_impl gpt2_cuda_impl;

/* The case's model shape: the `model` axis's published size for random weights, else the
 * config.json of `weights` (any GPT-2 shape), held to what the file can hold before anything
 * is allocated. Records the metrics n_layer, n_embd, n_head, vocab_size, n_positions.
 * AB_EUNSUPPORTED when the P (+ T when decoding) positions exceed the model's. */
ab_status gpt2_case_config(struct ab_case *c, int P, int T, bool decode, struct gpt2_config *out,
                           struct ab_error *err);

/* What a case's setup reads on every backend: phase, batch, prompt and gen, max_T the
 * positions its KV cache holds (P, + T when decoding), and cfg as gpt2_case_config gives it. */
struct gpt2_case {
    bool decode;
    int B, P, T, max_T;
    struct gpt2_config cfg;
};
ab_status gpt2_case_read(struct ab_case *c, struct gpt2_case *out, struct ab_error *err);
/* The case's fp32 parameters of shape cfg: seeded random (c->seed) or the `weights` file (its own
 * config.json's shape), recorded as the weights metric ("random", "file"); p owns them. */
ab_status gpt2_case_weights(struct ab_case *c, const struct gpt2_config *cfg, struct gpt2_params *p,
                            struct ab_error *err);
/* Step or repetition times across repetitions; reserve gives room for k more at *at. */
struct gpt2_times {
    double *v;
    int64_t n, cap;
};
ab_status gpt2_times_reserve(struct gpt2_times *t, int64_t k, double **at, struct ab_error *err);
ab_status gpt2_times_push(struct gpt2_times *t, double v, struct ab_error *err);
/* The tpot_median_s and tpot_p95_s metrics of a decode row's step times. */
void gpt2_record_tpot(struct ab_case *c, const struct gpt2_times *steps);

/* The (B, P) prompt: seeded random ids in [0, V), or the `prompt_ids` file's (AB_EINVAL naming
 * the file and line for an id out of [0, V) or a line shorter than P). */
ab_status gpt2_case_prompt(struct ab_case *c, int V, int B, int P, int *prompt, struct ab_error *err);
/* What the case computed, for checking against another implementation: samples.jsonl's detail
 * gets the prompt ids (B, P), the greedy ids generated (B, n_gen) and, per sequence, the sum and
 * top-5 of the logits (B, V) at position pos; the metrics the ids' FNV-1a hashes. */
void gpt2_record_outputs(struct ab_case *c, const int *prompt, int B, int P, const int *gen, int n_gen,
                         const float *logits, int V, int pos);

/* Prefill of P tokens for B sequences, logits of the last position only:
 *   B·P·2·12·L·C²  (the block matmuls: 2 FLOPs per weight per token)
 * + 4·L·C·B·P(P+1)/2  (causal attention: q·k and p·v, 2·C each per query-key pair)
 * + B·2·C·V  (the output projection, last position). */
double gpt2_prefill_flops(const struct gpt2_config *cfg, int B, int P);
/* One decode step of B sequences whose new token sits at position pos (pos+1 keys). */
double gpt2_decode_step_flops(const struct gpt2_config *cfg, int B, int pos);
/* Bytes one decode step must read: every weight once (matmul weights and the tied output
 * embedding in the run dtype, norms and biases fp32) plus the fp32 KV cache of pos+1
 * positions of each sequence; _kv: a cache of kv_elem bytes per element (4 or 2). */
double gpt2_decode_step_bytes(const struct gpt2_config *cfg, size_t weight_bytes, int B, int pos);
double gpt2_decode_step_bytes_kv(const struct gpt2_config *cfg, size_t weight_bytes, size_t kv_elem, int B,
                                 int pos);
/* Bytes of weights read per step in the run dtype (element size 4 or 2). */
size_t gpt2_weight_bytes(const struct gpt2_config *cfg, size_t elem);

/* State c->work for a phase: prefill (tokens B·P, held against "<dtype>_gemm" FLOPs) or
 * decode (tokens B·T, held against mem_bw bytes, summed over the T steps, the KV cache in the
 * case's kv_dtype); elem is the matmul weight element size; gemm_ceiling names the prefill
 * ceiling. Also records the weight_bytes and step_bytes metrics of decode rows. */
void gpt2_set_work(struct ab_case *c, const struct gpt2_config *cfg, size_t elem, const char *gemm_ceiling,
                   int B, int P, int T, bool decode);

/* Tolerance of the workload's logit check against the FP64 reference (atol + rtol·|ref|):
 * fp32, or a 16-bit matmul input type (bf16, fp16) when half. */
void gpt2_logit_tolerance(bool half, double *atol, double *rtol);
/* The same with the KV cache in bf16 (kv_bf16): for fp32 weights (0.05, 0.02), see gpt2.c. */
void gpt2_logit_tolerance_kv(bool half, bool kv_bf16, double *atol, double *rtol);

/* What verify checks, the same on both backends: the first P prompt tokens of the n_seq
 * sequences seq[] (every one of up to GPT2_VERIFY_SEQS, else the first and the last), their
 * logits at position P-1, then T greedy decode steps (decode rows) and the logits of each; and
 * for seq[0], the logits at every one of the last `all` prompt positions (all P of them where
 * the reference's output projection of them costs at most GPT2_VERIFY_POSITIONS_BUDGET
 * multiply-adds), so the prompt's parallel attention is checked at each position, not only the
 * last. That is the whole timed prompt and GPT2_VERIFY_STEPS steps (or gen, if fewer) wherever
 * the FP64 reference of it costs at most GPT2_VERIFY_BUDGET multiply-adds; larger models verify
 * a shorter prompt (never under 2 tokens) so that verification stays a matter of seconds. */
#define GPT2_VERIFY_STEPS            5
#define GPT2_VERIFY_SEQS             4
#define GPT2_VERIFY_BUDGET           4e9
#define GPT2_VERIFY_POSITIONS_BUDGET 2e9
struct gpt2_vplan {
    int P, T, n_seq, all;
    int seq[GPT2_VERIFY_SEQS];
};
void gpt2_verify_plan(const struct gpt2_config *cfg, int B, int P, int T, bool decode,
                      struct gpt2_vplan *out);
/* Check a plan's logits against the FP64 forward: seq is (B, P + T), each sequence's prompt then
 * the tokens the model chose; early is (all - 1, V), seq[0]'s logits at positions P-all .. P-2;
 * got is (n_seq, T + 1, V), each checked sequence's logits at P-1 and after each decode step.
 * As gpt2_verify_logits, which it calls once per checked sequence. */
ab_status gpt2_verify_plan_logits(const struct gpt2_params *p, const struct gpt2_vplan *vp, const int *seq,
                                  const float *early, const float *got, bool round_bf16, double atol,
                                  double rtol, double *max_abs_err, struct ab_error *err);
/* A backend's verify, the same on both: the plan's prompt of every sequence (prompt is (B, P),
 * its first vp->P columns) through f, then its decode steps greedily, each step's logits of the
 * checked sequences kept and compared at the end with the FP64 forward of the tokens the model
 * chose (so a near-tie in the greedy choice cannot fail the check), within gpt2_logit_tolerance
 * of f's dtype. seq[0]'s earlier prompt positions come from the prompt's forward where f returns
 * every position's logits, else each from the forward of its prefix. Records the verified_*
 * metrics and max_abs_err; leaves the cache and f's logits as the last step left them. */
ab_status gpt2_check_forward(struct ab_case *c, const struct gpt2_fwd *f, const struct gpt2_vplan *vp,
                             const int *prompt, int P, struct ab_error *err);
/* Multiply-adds of gpt2_reference_logits over n tokens with logits of the last k positions. */
double gpt2_reference_cost(const struct gpt2_config *cfg, int n, int k);

/* Greedy tokens of B logit rows (row b at logits + b·ld, V columns): tok[b] = gpt2_argmax.
 * A row holding a NaN is AB_EMISMATCH "logits of sequence b at position pos were NaN"
 * (tok is still filled, every token in [0, V)). */
ab_status gpt2_pick_tokens(const float *logits, size_t ld, int B, int V, int pos, int *tok,
                           struct ab_error *err);

/* Compare got (k = n - first rows of V logits, row i at got + i·V: positions first .. n-1 of
 * sequence `seq` whose n tokens are `tokens`) with the FP64 reference forward (weights rounded
 * to bf16 with round_bf16), within atol + rtol·|ref|; raises *max_abs_err to the largest error
 * seen (infinity for a NaN); AB_EMISMATCH naming the sequence, the position and the first few
 * logits off, or saying the logits were NaN. */
ab_status gpt2_verify_logits(const struct gpt2_params *p, const int *tokens, int n, int first, int seq,
                             bool round_bf16, const float *got, double atol, double rtol, double *max_abs_err,
                             struct ab_error *err);

#endif /* GPT2_H */
