/* registry.c — the one table of workloads. `accelbench list` and the runner read it.
 * To add a workload: make workloads/<name>/ with <name>.c ending in
 *   const struct ab_workload <name>_workload = {.name = "<name>", ...};
 * add its folder to workloads/meson.build, declare it below and put it in the table.
 * Order matters: a workload with .provides_ceilings (ceilings) comes first, so that later
 * cases are read against its numbers when several are selected. */
#include "accelbench.h"

#include <string.h>

extern const struct ab_workload ceilings_workload;
extern const struct ab_workload fp8_gemm_workload;
extern const struct ab_workload attention_memory_workload;
extern const struct ab_workload transformer_block_workload;
extern const struct ab_workload gpt2_workload;
extern const struct ab_workload amx_timing_workload;
extern const struct ab_workload interconnect_workload;

/* One entry per line, as a list to add to (clang-format would pack it into a grid). */
/* clang-format off */
static const struct ab_workload *const workloads[] = {
    &ceilings_workload,
    &fp8_gemm_workload,
    &attention_memory_workload,
    &transformer_block_workload,
    &gpt2_workload,
    &amx_timing_workload,
    &interconnect_workload,
    NULL,
};
/* clang-format on */

const struct ab_workload *const *ab_workloads(void)
{
    return workloads;
}

const struct ab_workload *ab_workload_find(const char *name)
{
    for (int i = 0; workloads[i]; i++)
        if (strcmp(workloads[i]->name, name) == 0)
            return workloads[i];
    return NULL;
}
