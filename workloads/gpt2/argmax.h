/* argmax.h — the one greedy-decoding rule, shared by the host (model.c) and the CUDA kernel
 * (kernels.cu) so that both pick the same token from the same logits: the largest value, the
 * lowest index among equals, and NaN above every number (numpy's argmax rule). With it the
 * argmax of n >= 1 values is always in [0, n), and the row holds a NaN exactly when the value
 * chosen is NaN, so a caller detects NaN logits from the winner alone. */
#ifndef GPT2_ARGMAX_H
#define GPT2_ARGMAX_H

#include <stdbool.h>

#ifdef __CUDACC__
#define GPT2_HD __host__ __device__
#else
#define GPT2_HD
#endif

/* An empty partial result (a thread that saw no element): loses to every real one. */
#define GPT2_ARGMAX_NONE 0x7fffffff

/* Does candidate (v, i) beat the best so far (bv, bi)? A total order on (value, index)
 * pairs: combining partial results in any grouping gives the sequential answer. */
GPT2_HD static inline bool gpt2_argmax_better(float v, int i, float bv, int bi)
{
    bool vn = v != v, bn = bv != bv; /* isnan, the same on host and device */
    if (i == GPT2_ARGMAX_NONE || bi == GPT2_ARGMAX_NONE)
        return i != GPT2_ARGMAX_NONE;
    if (vn != bn)
        return vn;
    if (vn || v == bv)
        return i < bi;
    return v > bv;
}

#endif /* GPT2_ARGMAX_H */
