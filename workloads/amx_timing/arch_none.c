/* arch_none.c — detection and bursts where the build is not for x86-64: nothing is present,
 * so every case is a `skipped` row and the bursts are never called. */
#include "amx_timing.h"

#include <string.h>

void amx_cpuid_read(struct amx_cpuid *out)
{
    memset(out, 0, sizeof *out);
}
void amx_features_decode(const struct amx_cpuid *id, struct amx_features *out)
{
    memset(out, 0, sizeof *out);
}
ab_status amx_request_permission(struct ab_error *err)
{
    return ab_fail(err, AB_EUNSUPPORTED, "no AMX: not an x86-64 build");
}
uint64_t amx_tsc_now(void)
{
    return (uint64_t)(ab_now_s() * 1e9);
}
uint64_t amx_tsc_empty(void)
{
    return 0;
}
uint64_t amx_burst_avx512(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    return 0;
}
uint64_t amx_burst_amx(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    return 0;
}
uint64_t amx_burst_avxvnni(const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    return 0;
}
uint64_t amx_burst_avx2(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    return 0;
}
void amx_tiles_config(void) {}
void amx_tiles_release(void) {}
