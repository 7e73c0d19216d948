/* cpu_v4_check.c — may this CPU run the x86-64-v4 (AVX-512) or x86-64-v3 (AVX2 + FMA) build of
 * cpu.c? Built for any x86-64, as is everything that runs before the answer is known. */
#include "attention_memory.h"

bool attention_memory_cpu_v4_ok(void)
{
    return __builtin_cpu_supports("x86-64-v4");
}

bool attention_memory_cpu_v3_ok(void)
{
    return __builtin_cpu_supports("x86-64-v3");
}
