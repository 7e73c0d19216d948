/* ceilings.h — shared between the ceilings workload's descriptor and its backends. */
#ifndef AB_CEILINGS_H
#define AB_CEILINGS_H

#include "accelbench.h"

extern const struct ab_impl ceilings_cpu_impl;
extern const struct ab_impl ceilings_cuda_impl;

/* The ceiling a (kind, dtype) case measures: "<dtype>_<kind>", or "mem_bw" for kind=stream. */
void ceilings_name(const struct ab_params *ps, char *buf, size_t len);

#endif
