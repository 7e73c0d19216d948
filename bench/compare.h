/* compare.h — regression verdicts between two sets of results: cases matched by identity,
 * ratio of medians with a bootstrap confidence interval, Mann-Whitney U test, Holm-Bonferroni
 * over all compared cases (the harness's ab_stats_*), and a threshold on the size of the change.
 * A case is a regression only when it is both significant and larger than the threshold.
 * Results are read with ab_results_load; the latest row of each case is compared. */
#ifndef AB_COMPARE_H
#define AB_COMPARE_H

#include "accelbench.h"

enum cmp_metric { CMP_TIME, CMP_THROUGHPUT, CMP_ENERGY };
enum cmp_verdict {
    CMP_SAME,
    CMP_FASTER, /* better: less time or energy, more throughput */
    CMP_SLOWER, /* worse, significant and beyond the threshold: a regression */
    CMP_NOISY,  /* too few samples or too wide an interval to say */
    CMP_FAILED, /* ok in BASE, not ok in NEW: a regression */
    CMP_FIXED,  /* not ok in BASE, ok in NEW */
    CMP_NOT_OK, /* not ok on both sides: nothing to compare */
};
enum cmp_fail_on { CMP_FAIL_REGRESS, CMP_FAIL_ANY, CMP_FAIL_NONE };

struct cmp_opts {
    double threshold; /* relative change that matters, default 0.05 */
    double alpha;     /* family-wise significance, default 0.05 */
    enum cmp_metric metric;
    int bootstrap; /* resamples, default 1000 */
    double noise;  /* run-to-run noise (relative, 1 sigma) to allow for at least; <0: estimate
                      it from the spread of the cases' ratios (capped at 2 x threshold) */
    uint64_t seed; /* bootstrap seed (fixed by default: reports are reproducible) */
};
void cmp_opts_defaults(struct cmp_opts *o);

struct cmp_case {
    const struct ab_result *base, *new_;
    double ratio;        /* NEW / BASE of the metric (time, throughput or energy) */
    double ci_lo, ci_hi; /* 95% interval of the ratio */
    double p, p_adj;     /* Mann-Whitney two-sided p, and after Holm; NaN when not tested */
    bool from_samples;   /* CI and p from raw samples (else from the CSV's intervals) */
    enum cmp_verdict verdict;
    double energy_ratio; /* NEW / BASE energy per repetition, when both measured alike; NaN else */
    enum cmp_verdict energy_verdict;
};

struct cmp_report {
    struct cmp_case *cases;
    int n;
    const struct ab_result **added, **removed; /* in NEW only / in BASE only */
    int n_added, n_removed;
    int n_faster, n_slower, n_same, n_noisy, n_failed, n_fixed, n_not_ok;
    double geomean;       /* of the ratios of cases with a verdict of same/faster/slower */
    double noise;         /* run-to-run noise allowed for (relative, 1 sigma) */
    bool noise_estimated; /* from the spread of the cases' ratios (else given, or none) */
    enum cmp_metric metric;
    double threshold, alpha;
};
void cmp_report_free(struct cmp_report *r);

/* Compare; the report points into base and new, which must outlive it. */
ab_status cmp_compare(const struct ab_result_set *base, const struct ab_result_set *new_,
                      const struct cmp_opts *o, struct cmp_report *out, struct ab_error *err);
/* Exit status for a report: 1 when --fail-on finds something, else 0. */
int cmp_exit_status(const struct cmp_report *r, enum cmp_fail_on f);

const char *cmp_verdict_word(enum cmp_verdict v);

/* The tests and intervals are the harness's (ab_stats_*); the noise model is compare's own. */
/* Run-to-run noise (1 sigma, in log units) from the log-ratios of cases: their 25th
 * percentile of |log ratio| over that of a standard normal's |Z| (0.3186), so that up to three
 * quarters of the cases may truly change without inflating it. NaN with fewer than 5 cases. */
double cmp_noise_estimate(const double *log_ratios, int n);

/* Output. color: ANSI colours for a terminal. */
void cmp_print(const struct cmp_report *r, const char *format, bool color, FILE *f);

#endif
