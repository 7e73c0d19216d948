/* fuzz_stubs.c — the one device function the readers call, without linking device discovery
 * (and with it OpenMP and CUDA) into the fuzz targets. Mirrors harness/device.c. */
#include "accelbench.h"

const char *ab_backend_name(enum ab_backend_kind kind)
{
    return kind == AB_BACKEND_CUDA ? "cuda" : "cpu";
}
