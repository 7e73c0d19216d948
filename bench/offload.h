/* offload.h — the offloading question (Lamina's attention offloading) answered from a run's
 * measurements: the bytes a decode step moves per layer between an attention device and a dense
 * device, the link's measured latency and bandwidth (interconnect), and the measured attention
 * (attention_memory decode) and dense (transformer_block, gpt2) times of a layer, each scaled to
 * the model's shape by a stated rule. Nothing is assumed: what the results lack is named. */
#ifndef AB_OFFLOAD_H
#define AB_OFFLOAD_H

#include "accelbench.h"

/* A decoder-only model's shape, a batch and a context. */
struct offload_model {
    char name[32];       /* "gpt2-1558m", or "" for a shape given by axes */
    int hidden;          /* C */
    int heads, kv_heads; /* query heads NH, KV heads KVH (NH a multiple of KVH) */
    int head_dim;        /* hd (default C / NH) */
    int layers;          /* L */
    int ffn;             /* MLP width F (default 4 C) */
    bool swiglu;         /* MLP of three F x C matrices (gated), else two (GELU) */
    enum ab_dtype dtype; /* activations sent over the link, weights and KV cache */
    int batch;           /* sequences decoded together B */
    int context;         /* tokens in each sequence's KV cache N */
    char link[8];        /* "net", "pcie", "p2p", or "" (the first measured of net, p2p, pcie) */
    char dense[20];      /* "transformer_block", "gpt2", or "" (transformer_block, else gpt2) */
};

/* Fill *m from "NAME=VALUE" settings (each may hold several, comma separated: "hidden=8192,
 * heads=64"), given in order; a later one overrides. AB_EINVAL naming the setting for an unknown
 * name, model or value, or a shape that does not hold together. */
ab_status offload_model_parse(const char *const *settings, int n, struct offload_model *m,
                              struct ab_error *err);

/* One figure of the answer: a value (NaN: missing) with its unit and where it came from (or,
 * when missing, what measurement would give it). */
struct offload_item {
    const char *name; /* "bytes_out_per_layer", ... (a static string) */
    double value;
    const char *unit; /* "B", "s", "B/s", "" */
    char source[320];
};
#define OFFLOAD_MAX_ITEMS 24
struct offload_answer {
    struct offload_item items[OFFLOAD_MAX_ITEMS];
    int n;
    int n_missing; /* items whose value is NaN */
};

/* Bytes one decode step sends per layer: out (dense -> attention device: q and the new k and v
 * rows) and back (the attention output), in the model's dtype. */
void offload_layer_bytes(const struct offload_model *m, double *out_bytes, double *back_bytes);

/* Compute the answer from the latest rows of a result set. */
ab_status offload_compute(const struct offload_model *m, const struct ab_result *const *rows, int n,
                          struct offload_answer *a, struct ab_error *err);

#endif
