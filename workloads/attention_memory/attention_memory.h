/* attention_memory.h — shared parts of the attention_memory workload: the case's shape read
 * from its parameters, the work model, the FP64 reference, tolerances, and the memory tracker
 * that measures each algorithm's peak extra bytes. Used by cpu.c and cuda.c alike. */
#ifndef ATTENTION_MEMORY_H
#define ATTENTION_MEMORY_H

#include "accelbench.h"

enum am_mode { AM_PREFILL = 0, AM_DECODE = 1 };
enum am_algo { AM_NAIVE = 0, AM_CHUNKED = 1, AM_FUSED = 2 };

/* One case's shape. Prefill: q, k, v are (H,n,d), out (H,n,d) fp32.
 * Decode: q is (B,Hq,d), the KV cache k, v is (B,Hkv,n,d), out (B,Hq,d) fp32, Hq = G*Hkv. */
struct am_shape {
    enum am_mode mode;
    enum am_algo algo;
    enum ab_dtype dtype;
    int64_t n; /* prefill: sequence length; decode: context length */
    int heads; /* prefill: heads; decode: KV heads (Hkv) */
    int d;
    bool causal;
    int q_chunk, k_chunk; /* chunked: query and key chunk sizes (clamped to n) */
    int batch;            /* decode: sequences */
    int group;            /* decode: query heads per KV head (G) */
};

ab_status attention_memory_shape(const struct ab_params *ps, struct am_shape *s, struct ab_error *err);
/* Fill c->work from the shape (flops, bytes, tokens, ceiling and rate). */
void attention_memory_work(const struct am_shape *s, enum ab_backend_kind backend, struct ab_work *w);
/* Input and output bytes of the case (what `peak_extra_bytes` leaves out). */
uint64_t attention_memory_io_bytes(const struct am_shape *s);
/* The algorithm's analytic minimum of extra memory (bytes) with `workers` parallel workers:
 * naive n*n fp32 scores; chunked one chunk's scores plus its per-key-chunk partial results;
 * fused one score tile and accumulator per worker. */
uint64_t attention_memory_analytic_extra(const struct am_shape *s, int workers);

/* Tolerances on the fp32 output, |x - ref| <= atol + rtol*|ref|, per input dtype and backend
 * (the CPU computes in fp32 throughout; CUDA's tensor-core path rounds P to the input dtype). */
void attention_memory_tolerance(enum ab_dtype dt, enum ab_backend_kind backend, double *atol, double *rtol);

/* Fill n elements of dtype dt with N(0,1) values from seed (rounded to the dtype). */
void attention_memory_fill(void *x, size_t n, enum ab_dtype dt, uint64_t seed);

/* FP64 reference of one output row: prefill query row i of head h (out_row has d values);
 * decode sequence b, query head hq. Inputs in the layouts above. */
void attention_memory_ref_prefill_row(const struct am_shape *s, const void *q, const void *k, const void *v,
                                      int h, int64_t i, double *out_row);
void attention_memory_ref_decode_row(const struct am_shape *s, const void *q, const void *k, const void *v,
                                     int b, int hq, double *out_row);

/* Compare the fp32 output with the FP64 reference on a sample of rows (all rows when small):
 * records max_abs_err, max_rel_err (relative to atol + |ref|), checked_rows; AB_EMISMATCH with
 * the first mismatches when a value is out of tolerance. q, k, v and out are host memory. */
ab_status attention_memory_check(struct ab_case *c, const struct am_shape *s, const void *q, const void *k,
                                 const void *v, const float *out, double atol, double rtol,
                                 struct ab_error *err);

/* The tracking allocator: current and high-water bytes of the buffers an algorithm makes.
 * Not thread-safe: algorithms allocate outside their parallel regions. */
struct am_tracker {
    uint64_t cur_bytes, peak_bytes;
};
void am_tracker_reset(struct am_tracker *t);
void *am_alloc(struct am_tracker *t, size_t bytes);
void am_free(struct am_tracker *t, void *p, size_t bytes);
/* Count bytes that another allocator made (CUDA pool, say) in the tracker. */
void am_tracker_add(struct am_tracker *t, int64_t bytes);

/* Peak RSS growth of the process, a cross-check of the tracker on the CPU: begin resets the
 * kernel's high-water mark (clear_refs 5) and notes VmRSS; end returns VmHWM minus that, or
 * -1 where the kernel does not allow the reset. */
void am_rss_begin(int64_t *rss0_bytes);
int64_t am_rss_peak_growth(int64_t rss0_bytes);

/* Floats of padding after each row of the CPU kernels' transposed K tiles (cpu.c's kt_ld). */
#define AM_KT_PAD 16
/* The extra bytes naive attention allocates at this prefill shape on this backend, the same
 * buffers its tracker counts (CPU: the n x n scores and fp32 copies of K^T and V; CUDA: the
 * scores and one chunk's partial results), so that a case's ratio to naive needs no naive case
 * to have run before it. */
uint64_t attention_memory_naive_peak_bytes(const struct am_shape *s, enum ab_backend_kind backend);
/* Record peak_extra_bytes, analytic_min_extra_bytes, flop_per_byte (from c->work) and, in
 * prefill, mem_ratio_vs_naive (naive's peak at this shape over this case's). */
void attention_memory_record_memory(struct ab_case *c, const struct am_shape *s, uint64_t peak, int workers);

/* CUDA decode: the keys of each of `seqs` (sequence, KV head) pairs are split in *splits spans
 * of *span keys (the last may be shorter, none is empty) so that the grid holds several blocks
 * per SM of a device with `sms` SMs: ops' decode kernel's split (ops_cuda_decode_split). */
void attention_memory_cuda_decode_split(int64_t seqs, int64_t n, int sms, int *splits, int *span);

/* One repetition's work as kernels.cu does it (not the ideal of attention_memory_work): the
 * naive and chunked pieces re-read V for every query row and compute masked chunks too. */
struct am_cuda_cost {
    double core_flops; /* fp32 FMA work on CUDA cores */
    double tc_flops;   /* tensor-core work (the fused kernel) */
    double bytes;      /* global loads and stores as issued, no reuse between blocks counted */
    double launches;   /* kernel launches */
};
void attention_memory_cuda_cost(const struct am_shape *s, int sms, struct am_cuda_cost *out);
/* Estimated seconds of one repetition on dev: per kernel the slowest of its bytes at mem_bw and
 * its FLOPs at fp32_fma (CUDA cores) or the dtype's *_gemm (tensor cores), plus launches. Rates
 * from the device's ceilings, else its profile, else an H100 SXM's datasheet. desc (may be
 * NULL) gets the totals and rates, e.g. "2.82 TB at 3.35 TB/s, 4.4 TFLOP at 66.9 TFLOP/s". */
double attention_memory_cuda_estimate_s(const struct am_shape *s, const struct ab_device *dev, char *desc,
                                        size_t len);
/* The time a case's repetitions may take in a suite, and how many the runner makes: verify,
 * its first timed run, one warm-up batch and the default stop rule's min samples (check: verify
 * only). 10 s in quick and default (the stop rule's default max_time: the 160 s watchdog then
 * leaves room for a kernel ten times slower than its estimate), 30 s in full, 2 s in check. */
double attention_memory_time_limit_s(enum ab_suite suite);
int64_t attention_memory_case_reps(enum ab_suite suite);
/* AB_OK when the CUDA case's estimated time fits its suite's limit, else AB_EUNSUPPORTED with
 * the estimate in err. */
ab_status attention_memory_cuda_time_check(const struct am_shape *s, const struct ab_device *dev,
                                           enum ab_suite suite, struct ab_error *err);

/* The CPU implementation (cpu_dispatch.c) forwards to one of three builds of cpu.c: for any
 * x86-64, for x86-64-v3 and for x86-64-v4 (AVX-512; {0} where the build has none, see cpu_v4_none.c),
 * which runs where attention_memory_cpu_v4_ok() says the CPU has what it needs. */
extern const struct ab_impl attention_memory_cpu_impl;
extern const struct ab_impl attention_memory_cpu_impl_base;
extern const struct ab_impl attention_memory_cpu_impl_v4;
bool attention_memory_cpu_v4_ok(void);
/* The x86-64-v3 (AVX2 + FMA) build, for the many CPUs with AVX2 and no AVX-512. */
extern const struct ab_impl attention_memory_cpu_impl_v3;
bool attention_memory_cpu_v3_ok(void);
extern const struct ab_impl attention_memory_cuda_impl;

#endif /* ATTENTION_MEMORY_H */
