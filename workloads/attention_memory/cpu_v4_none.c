/* cpu_v4_none.c — a build without the x86-64-v4 and -v3 variants of cpu.c (another ISA, or a
 * compiler without -march=x86-64-v4): only the default build runs. */
#include "attention_memory.h"

const struct ab_impl attention_memory_cpu_impl_v4 = { 0 };

bool attention_memory_cpu_v4_ok(void)
{
    return false;
}

const struct ab_impl attention_memory_cpu_impl_v3 = { 0 };

bool attention_memory_cpu_v3_ok(void)
{
    return false;
}
