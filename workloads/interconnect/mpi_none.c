/* mpi_none.c — the interconnect workload's MPI side in a build without MPI: its cases are
 * skipped rows saying so (setup checks icx_mpi_built() first). */
#include "interconnect.h"

bool icx_mpi_built(void)
{
    return false;
}

ab_status icx_mpi_setup(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank, int launch_size,
                        struct icx_mpi **out, struct ab_error *err)
{
    *out = NULL;
    return ab_fail(err, AB_EUNSUPPORTED, "this build has no MPI (meson -Dmpi=enabled)");
}

ab_status icx_mpi_verify(struct icx_mpi *m, struct ab_case *c, struct ab_error *err)
{
    return ab_fail(err, AB_EUNSUPPORTED, "this build has no MPI");
}

ab_status icx_mpi_run(struct icx_mpi *m, int64_t reps, double *time_s, struct ab_error *err)
{
    return ab_fail(err, AB_EUNSUPPORTED, "this build has no MPI");
}

void icx_mpi_teardown(struct icx_mpi *m) {}

double icx_mpi_counted_bytes(const struct icx_mpi *m)
{
    return 0;
}

int icx_mpi_size(const struct icx_mpi *m)
{
    return 1;
}

ab_status icx_mpi_setup_transport(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank,
                                  int launch_size, const struct icx_transport *t, void *ctx,
                                  struct icx_mpi **out, struct ab_error *err)
{
    return icx_mpi_setup(op, bytes, seed, launch_rank, launch_size, out, err);
}

ab_status icx_mpi_bcast(struct icx_mpi *m, void *buf, size_t len, struct ab_error *err)
{
    return ab_fail(err, AB_EUNSUPPORTED, "this build has no MPI");
}

int icx_mpi_rank(const struct icx_mpi *m)
{
    return 0;
}
