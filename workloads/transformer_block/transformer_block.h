/* transformer_block.h — shared between the transformer_block descriptor, its CPU and CUDA
 * sides and the tests: the layer's shapes, its random weights on the host, the FLOP formula,
 * and the FP64 reference layer that verify compares against. */
#ifndef AB_TRANSFORMER_BLOCK_H
#define AB_TRANSFORMER_BLOCK_H

#include "accelbench.h"
#include "ops.h"

extern const struct ab_impl transformer_block_cpu_impl;
extern const struct ab_impl transformer_block_cuda_impl;

/* One pre-LN GPT decoder layer: B sequences of T tokens of width C, NH heads of C/NH. */
struct tb_dims {
    int B, T, C, NH;
    enum ab_dtype dt;
};

/* Weights in llm.c's (OC, C) layout, matrices in dt, vectors fp32; x (B,T,C) in dt. */
struct tb_weights {
    void *x;
    void *wqkv, *wo, *wfc, *wproj;  /* (3C,C), (C,C), (4C,C), (C,4C) */
    float *bqkv, *bo, *bfc, *bproj; /* (3C), (C), (4C), (C) */
    float *g1, *be1, *g2, *be2;     /* LayerNorm scales and shifts (C) */
};

/* Read dims from a case's params (heads=0 means C/64); AB_EINVAL names a bad combination. */
ab_status tb_dims_from_params(const struct ab_params *ps, struct tb_dims *d, struct ab_error *err);
/* FLOPs of one forward: matmuls 24 B T C^2 plus causal attention 2 B T^2 C (half of the
 * 4 B T^2 C of a full score matrix: only unmasked scores are counted). */
double tb_flops(const struct tb_dims *d);
/* The same with attention unhalved (24 B T C^2 + 4 B T^2 C), as Megatron-LM counts. */
double tb_flops_full_attention(const struct tb_dims *d);
/* Bytes of the weights (and biases) the layer must read once per forward. */
double tb_weight_bytes(const struct tb_dims *d);
/* Host bytes a CPU case needs (weights twice while packing, activations, scratch). */
double tb_host_bytes(const struct tb_dims *d);

/* Random weights and input from seed, scaled so activations stay O(1). Frees on failure. */
ab_status tb_weights_make(struct tb_weights *w, const struct tb_dims *d, uint64_t seed, struct ab_error *err);
void tb_weights_free(struct tb_weights *w);

/* FP64 reference: out (nb, nt, C) = the layer on tokens 0..nt-1 of sequences 0..nb-1 (causal,
 * so the first tokens need no later ones). */
void tb_ref_layer(double *out, const struct tb_weights *w, const struct tb_dims *d, int nb, int nt);
/* Compare y (B,T,C in ydt, fp32 or bf16; its first nt tokens of the first nb sequences) with ref; records
 * metric `<what>_max_err` (1 = at the tolerance) and returns AB_EMISMATCH naming the first
 * mismatches. Tolerance per dtype: fp32 1e-3 + 1e-3|ref|, bf16/fp16 6e-2 + 3e-2|ref|. */
ab_status tb_check(const void *y, enum ab_dtype ydt, const double *ref, const struct tb_dims *d, int nb,
                   int nt, struct ab_case *c, const char *what, struct ab_error *err);
/* What verify compares of the case's own layer: every token of every sequence in the check
 * suite (nb = B, nt = T; metric "case_all_tokens"), else the first 3 tokens of the first
 * sequence ("case_first_tokens"), which an FP64 reference reaches at any size. */
const char *tb_verify_extent(const struct tb_dims *d, enum ab_suite suite, int *nb, int *nt);
/* CUDA: replay the forward as a graph? Axis cuda_graph on/off, else (auto) below
 * OPS_CUDA_GRAPH_MAX_FLOPS per forward. */
bool tb_cuda_graph(const struct ab_params *ps, double flops);
/* The small layer every case verifies in full before timing (same dtype as the case). */
void tb_small_dims(const struct tb_dims *d, struct tb_dims *small);

#endif
