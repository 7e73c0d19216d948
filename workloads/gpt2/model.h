/* model.h — GPT-2 (learned position embeddings, pre-LN blocks, GELU tanh, tied output
 * embedding) for the CPU: configurations, fp32 parameters (random or from a Hugging Face
 * safetensors file), and a runnable model in fp32 or bf16 with a KV cache.
 * Matmul weights are held (out, in) row-major, llm.c's (OC, C). */
#ifndef GPT2_MODEL_H
#define GPT2_MODEL_H

#include "accelbench.h"
#include "safetensors.h"

#define GPT2_VOCAB   50257
#define GPT2_MAX_POS 1024

struct gpt2_config {
    int n_layer, n_embd, n_head, vocab, max_pos;
};

/* The published sizes: "124M", "355M", "774M", "1558M", and "tiny" (2 x 128, 4 heads, the
 * real vocabulary and context: random weights only). false when unknown. */
bool gpt2_config_named(const char *model, struct gpt2_config *out);
/* Read n_layer, n_embd, n_head, vocab_size, n_positions from a Hugging Face config.json text. */
ab_status gpt2_config_parse_json(const char *json, struct gpt2_config *out, struct ab_error *err);
/* Parameters (embeddings included, counted once since the output embedding is tied). */
size_t gpt2_param_count(const struct gpt2_config *cfg); /* SIZE_MAX: does not fit */
/* Could a safetensors file of len bytes hold cfg's parameters (2 bytes each at least)? */
ab_status gpt2_config_fits_file(const struct gpt2_config *cfg, size_t len, struct ab_error *err);
/* Parameters of shape cfg from the bytes of a safetensors file (checked against its size
 * first); p owns what it gets, freed by gpt2_params_free. */
struct gpt2_params;
ab_status gpt2_params_from_memory(struct gpt2_params *p, const struct gpt2_config *cfg, const void *file,
                                  size_t len, struct ab_error *err);

/* One block's parameters; weights (out, in), everything fp32. */
struct gpt2_layer {
    float *ln1_g, *ln1_b;
    float *qkv_w, *qkv_b;   /* (3C, C), (3C): q, k, v one after the other */
    float *proj_w, *proj_b; /* (C, C), (C) */
    float *ln2_g, *ln2_b;
    float *fc_w, *fc_b;   /* (4C, C), (4C) */
    float *fcp_w, *fcp_b; /* (C, 4C), (C) */
};

struct gpt2_params {
    struct gpt2_config cfg;
    float *wte; /* (V, C), also the output projection */
    float *wpe; /* (max_pos, C) */
    struct gpt2_layer *layers;
    float *lnf_g, *lnf_b;
    float *mem; /* the one block all of the above point into */
};

ab_status gpt2_params_alloc(struct gpt2_params *p, const struct gpt2_config *cfg, struct ab_error *err);
void gpt2_params_free(struct gpt2_params *p);
/* Deterministic random weights of GPT-2's initialization scales (normal, std 0.02, residual
 * projections scaled by 1/sqrt(2 L); norms near 1 and biases small but never zero). */
void gpt2_params_random(struct gpt2_params *p, uint64_t seed);
/* Fill allocated parameters from a parsed safetensors file with Hugging Face names
 * ("h.0.attn.c_attn.weight", optionally prefixed "transformer."), checking every shape. */
ab_status gpt2_params_from_safetensors(struct gpt2_params *p, const struct gpt2_st_file *f,
                                       struct ab_error *err);
/* The shape of a checkpoint: weights names a model.safetensors or the folder holding it; path
 * (path_len bytes) gets the file's path, out the config.json beside it. */
ab_status gpt2_config_load(const char *weights, char *path, size_t path_len, struct gpt2_config *out,
                           struct ab_error *err);
/* Load weights (a model.safetensors with config.json beside it, or their folder): allocates p. */
ab_status gpt2_params_load(struct gpt2_params *p, const char *weights, struct ab_error *err);

/* ------------------------------------------------------------------ one forward, two backends */
/* gpt2_forward is the model's forward pass written once over a backend's op table: the CPU's
 * (model.c, on ops/) and CUDA's (cuda.c, on ops_cuda and kernels.cu). The forward decides
 * the order and the buffers; an op only computes, on the backend's memory. Parameters are
 * named by their host pointers into a gpt2_params; a backend holding them elsewhere maps them.
 * GELU and the residual adds are matmul epilogues (OPS_MM_GELU, OPS_MM_ACCUM) on both. */

/* The matmuls: out (M, N) fp32 = in (M, K) . w (N, K)^T [+ bias] [then GELU] [+= into out]. */
enum gpt2_mm { GPT2_MM_QKV, GPT2_MM_PROJ, GPT2_MM_FC, GPT2_MM_FCP, GPT2_MM_HEAD, GPT2_MM_KINDS };
/* N, K and the OPS_MM_* epilogue of a kind; the head's N is the padded vocabulary. */
void gpt2_mm_shape(const struct gpt2_config *cfg, enum gpt2_mm kind, int *N, int *K, unsigned *flags);
/* A kind's fp32 weight in p, (N, K) (the head: wte, its V real rows); layer ignored for the head. */
const float *gpt2_mm_weight(const struct gpt2_params *p, int layer, enum gpt2_mm kind);

/* Where a forward's new tokens sit: Tq per sequence from position pos0, or from the position
 * the backend reads at dpos when that is not NULL (a CUDA decode step captured once). */
struct gpt2_span {
    int Tq, pos0;
    const int *dpos;
};

/* A backend's ops; ctx is the backend's state. Every op may only enqueue (a backend may run
 * them in order on a stream); what reaches the host (logits_out, pick) waits for it. */
struct gpt2_ops {
    /* x (B*Tq, C) = wte[tokens] + wpe[position]; tokens (B, Tq) as tokens_in or pick gave them */
    ab_status (*embed)(void *ctx, float *x, const int *tokens, struct gpt2_span at, struct ab_error *err);
    /* out row r (rows, C) in the run dtype = layernorm(x row r*rstep + roff) * g + b */
    ab_status (*layernorm)(void *ctx, void *out, const float *x, const float *g, const float *b, int rows,
                           int rstep, int roff, struct ab_error *err);
    /* dst (n) in the run dtype = src (n) fp32 (only for a 16-bit run dtype) */
    ab_status (*convert)(void *ctx, void *dst, const float *src, size_t n, struct ab_error *err);
    /* out (M, N) of layer's weight `kind` (the head: layer -1) over in (M, K), gpt2_mm_shape's
     * epilogue with bias (NULL for the head) */
    ab_status (*matmul)(void *ctx, int layer, enum gpt2_mm kind, float *out, const void *in,
                        const float *bias, int M, struct ab_error *err);
    /* layer's KV cache at the span's positions = the k, v columns of qkv (B*Tq, 3C) */
    ab_status (*kv_append)(void *ctx, int layer, const float *qkv, struct gpt2_span at, struct ab_error *err);
    /* out (B*Tq, C): causal attention of qkv's q columns (B*Tq, 3C) over layer's KV cache */
    ab_status (*attention)(void *ctx, int layer, float *out, const float *qkv, struct gpt2_span at,
                           struct ab_error *err);
    /* host dst (n, V) = rows row0 .. row0+n-1 of the padded logits (B, Vp) */
    ab_status (*logits_out)(void *ctx, float *dst, int row0, int n, struct ab_error *err);
    /* n host tokens where embed reads them; *out is valid until the next tokens_in */
    ab_status (*tokens_in)(void *ctx, const int *host, int n, const int **out, struct ab_error *err);
    /* greedy tokens of the padded logits' B rows (gpt2_argmax) into host tok, and *next where
     * embed reads them; pos names the position in a NaN's message (a backend may report a NaN
     * later instead) */
    ab_status (*pick)(void *ctx, int pos, int *tok, const int **next, struct ab_error *err);
};

/* One model on one backend: ops and ctx, the parameters by host pointer, the sizes, and the
 * activations in the backend's memory. */
struct gpt2_fwd {
    const struct gpt2_ops *ops;
    void *ctx;
    const struct gpt2_params *p;
    enum ab_dtype dt; /* the matmul input type: AB_DTYPE_FP32, _BF16, _FP16 */
    int B, max_T, max_Tq;
    float *x, *qkv, *att, *h; /* (B*max_Tq, C), (.., 3C), (.., C), (.., 4C) */
    void *mmin;               /* (B*max_Tq, 4C) matmul input in dt, 4 bytes an element */
    float *lpad;              /* (B, Vp) the output projection's padded logits */
    bool all_logits;          /* may forward with all_logits (logits_out of every chunk) */
};
/* Forward Tq new tokens per sequence at the span's positions, reading and extending the KV
 * cache. tokens (B, Tq) where the backend's embed reads them. The last position's logits stay
 * in f->lpad; with logits (host), they are copied there, (B, V); with all_logits, every
 * position's, (B, Tq, V), B rows at a time. */
ab_status gpt2_forward(const struct gpt2_fwd *f, const int *tokens, struct gpt2_span at, bool all_logits,
                       float *logits, struct ab_error *err);

/* A runnable model: weights in the run dtype, a KV cache for B sequences of up to max_T
 * positions, activations for up to max_Tq new tokens per sequence per forward. */
/* The run dtype is AB_DTYPE_FP32 or AB_DTYPE_BF16. */
struct gpt2_model;
/* The vocabulary rounded up to a multiple of 64: rows of the CPU's output projection. */
int gpt2_vocab_padded(int V);
/* Bytes the model will allocate beyond the fp32 parameters. */
uint64_t gpt2_model_bytes(const struct gpt2_config *cfg, enum ab_dtype dt, int B, int max_T, int max_Tq);
ab_status gpt2_model_create(struct gpt2_model **out, const struct gpt2_params *p, enum ab_dtype dt, int B,
                            int max_T, int max_Tq, struct ab_error *err);
/* The same with the KV cache in kv_dt: AB_DTYPE_FP32 (gpt2_model_create's) or AB_DTYPE_BF16
 * (K and V rounded to bf16 as stored; attention reads the stored values, new tokens' too). */
ab_status gpt2_model_create_kv(struct gpt2_model **out, const struct gpt2_params *p, enum ab_dtype dt,
                               enum ab_dtype kv_dt, int B, int max_T, int max_Tq, struct ab_error *err);
/* Does a decode step of this model (one token per sequence) run as ops_decode_step's one
 * fused parallel region? (fp32 with the AVX2 GEMV, B <= OPS_GEMV_MAX_M) */
bool gpt2_model_fused(const struct gpt2_model *m);
uint64_t gpt2_model_bytes_kv(const struct gpt2_config *cfg, enum ab_dtype dt, enum ab_dtype kv_dt, int B,
                             int max_T, int max_Tq);
void gpt2_model_destroy(struct gpt2_model *m);
/* The model's forward over the CPU's ops (owned by m). */
const struct gpt2_fwd *gpt2_model_fwd(const struct gpt2_model *m);
/* Forward Tq new tokens per sequence at positions pos0 .. pos0+Tq-1, reading and extending
 * the KV cache. tokens is (B, Tq). logits is (B, Tq, V) with all_logits, else (B, V) for
 * the last position only. */
ab_status gpt2_model_forward(struct gpt2_model *m, const int *tokens, int Tq, int pos0, bool all_logits,
                             float *logits, struct ab_error *err);
/* Greedy decoding: the index of the largest of n >= 1 values by argmax.h's rule (ties to the
 * lowest index, NaN above every number), always in [0, n); 0 when n < 1. */
int gpt2_argmax(const float *x, int n);
/* Can this CPU run the model in dt? AB_EUNSUPPORTED with a one-line reason when oneDNN
 * cannot make a matmul of that type here (bf16 without AVX-512), probed, not guessed. */
ab_status gpt2_dtype_supported(enum ab_dtype dt, struct ab_error *err);

/* FP64 reference forward of one sequence of T tokens from position 0: logits (T - first, V)
 * of positions first .. T-1. With round_bf16, matmul weights are first rounded to bf16 as
 * the bf16 model sees them. Tokens out of the vocabulary are AB_EINVAL. */
ab_status gpt2_reference_logits(const struct gpt2_params *p, const int *tokens, int T, int first,
                                bool round_bf16, double *logits, struct ab_error *err);

#endif /* GPT2_MODEL_H */
