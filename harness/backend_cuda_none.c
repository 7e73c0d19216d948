/* backend_cuda_none.c — the CUDA backend of a build without CUDA: it finds no devices, so it
 * has no timer either (ab_timer_open refuses a CUDA device here, naming the backend). */
#include "backend_internal.h"

static ab_status cuda_discover(struct ab_device *out, int max, int *n, struct ab_error *err)
{
    *n = 0;
    ab_fail(err, AB_OK, "built without CUDA");
    return AB_OK;
}

const struct ab_backend ab_backend_cuda = {
    .name = "cuda",
    .title = "CUDA",
    .kind = AB_BACKEND_CUDA,
    .indexed = true,
    .stub = true,
    .accelerator = true,
    .discover = cuda_discover,
    .meter_open = ab_cuda_meter_open,
    .describe = ab_cuda_describe,
    .facts = ab_cuda_facts,
};
