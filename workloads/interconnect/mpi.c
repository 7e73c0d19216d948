/* mpi.c — the interconnect workload's MPI side: ping-pong and collectives between the ranks a
 * launcher started. The runner of each rank plans the same cases in the same order but times
 * them on its own, so ranks would fall out of step if each drove its own repetitions: rank 0
 * leads every case (HELLO with the case and its seed, VERIFY, RUN n, DONE as control messages)
 * and the others serve it inside their verify. Every wait for another rank has a deadline, so
 * a rank that is missing or out of step is a failed or timed-out row, never a hang. */
#include "interconnect.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TAG_CTRL = 7701, TAG_REPLY = 7702, TAG_DATA = 7703 };
enum { CMD_HELLO = 1, CMD_VERIFY, CMD_RUN, CMD_DONE };
enum { ACK_OK = 1, ACK_OUT_OF_STEP = 2, ACK_NOMEM = 3 };
/* Ranks reach a case at different times (each timed the cases before on its own): a rank may
 * wait this long for rank 0 to start it. Within a case, steps follow each other closely. */
#define HELLO_WAIT_S 300.0
#define STEP_WAIT_S  120.0
#define MSG_WORDS    6

struct icx_mpi {
    enum icx_op op;
    int64_t bytes;
    uint64_t seed; /* rank 0's: every rank's inputs follow from it */
    int rank, size;
    size_t n_send, n_recv, chunk;
    double counted;
    float *send, *recv;
    bool *serving; /* rank 0: which ranks agreed to the case and wait for its DONE */
    char bad_msg[200];
    const struct icx_transport *t; /* NULL: MPI moves the data */
    void *tctx;
};

/* MPI is joined once per process and left at exit: MPI_Init may be called only once, and the
 * launcher expects every rank that joined to call MPI_Finalize. */
static int g_thread_level = -1;

static void finalize_at_exit(void)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}

static ab_status mpi_failed(struct ab_error *err, int rc, const char *call, int line)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return ab_fail(err, AB_EFAIL, "%s failed (%s:%d): %s", call, __FILE__, line, text);
}
#define MPI_TRY(call)                                                                                        \
    do {                                                                                                     \
        int rc_ = (call);                                                                                    \
        if (rc_ != MPI_SUCCESS)                                                                              \
            return mpi_failed(err, rc_, #call, __LINE__);                                                    \
    } while (0)

bool icx_mpi_built(void)
{
    return true;
}

static ab_status join(struct ab_error *err)
{
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int prov = 0;
        MPI_TRY(MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &prov));
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        g_thread_level = prov;
        atexit(finalize_at_exit);
    } else if (g_thread_level < 0) {
        MPI_Query_thread(&g_thread_level);
    }
    /* Cases run on the runner's worker thread, which is replaced after a timeout. */
    if (g_thread_level < MPI_THREAD_SERIALIZED)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "the MPI library grants thread level %d; cases run on a worker thread and need "
                       "MPI_THREAD_SERIALIZED",
                       g_thread_level);
    return AB_OK;
}

/* Wait for a request, polling, at most limit_s; a request not done by then is cancelled. */
static ab_status wait_for(MPI_Request *rq, double limit_s, const char *what, struct ab_error *err)
{
    double t0 = ab_now_s();
    for (;;) {
        int done = 0;
        MPI_TRY(MPI_Test(rq, &done, MPI_STATUS_IGNORE));
        if (done)
            return AB_OK;
        if (ab_now_s() - t0 > limit_s) {
            MPI_Cancel(rq);
            MPI_Request_free(rq);
            return ab_fail(err, AB_ETIMEOUT,
                           "%s: nothing came in %.0f s (that rank is missing or out of step)", what, limit_s);
        }
        usleep(100);
    }
}

static ab_status msg_recv(int from, int tag, int64_t m[MSG_WORDS], double limit_s, const char *what,
                          struct ab_error *err)
{
    MPI_Request rq;
    MPI_TRY(MPI_Irecv(m, MSG_WORDS, MPI_INT64_T, from, tag, MPI_COMM_WORLD, &rq));
    return wait_for(&rq, limit_s, what, err);
}

static ab_status msg_send(int to, int tag, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
                          struct ab_error *err)
{
    int64_t m[MSG_WORDS] = { a, b, c, d, e, 0 };
    MPI_TRY(MPI_Send(m, MSG_WORDS, MPI_INT64_T, to, tag, MPI_COMM_WORLD));
    return AB_OK;
}

/* Does rank q move data in this case? (ping-pong: ranks 0 and 1 only) */
static bool takes_part(const struct icx_mpi *m, int q)
{
    return m->op != ICX_PINGPONG || q < 2;
}

static ab_status one_op(struct icx_mpi *m, struct ab_error *err)
{
    if (m->t)
        return m->t->op(m->tctx, err);
    int n = (int)m->n_send, ch = (int)m->chunk;
    switch (m->op) {
    case ICX_ALLREDUCE:
        MPI_TRY(MPI_Allreduce(m->send, m->recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        break;
    case ICX_ALLGATHER:
        MPI_TRY(MPI_Allgather(m->send, ch, MPI_FLOAT, m->recv, ch, MPI_FLOAT, MPI_COMM_WORLD));
        break;
    case ICX_REDUCE_SCATTER:
        MPI_TRY(MPI_Reduce_scatter_block(m->send, m->recv, ch, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
        break;
    case ICX_ALLTOALL:
        MPI_TRY(MPI_Alltoall(m->send, ch, MPI_FLOAT, m->recv, ch, MPI_FLOAT, MPI_COMM_WORLD));
        break;
    case ICX_PINGPONG:
        if (m->rank == 0) {
            MPI_TRY(MPI_Send(m->send, n, MPI_FLOAT, 1, TAG_DATA, MPI_COMM_WORLD));
            MPI_TRY(MPI_Recv(m->recv, n, MPI_FLOAT, 1, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        } else if (m->rank == 1) {
            MPI_TRY(MPI_Recv(m->recv, n, MPI_FLOAT, 0, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
            MPI_TRY(MPI_Send(m->send, n, MPI_FLOAT, 0, TAG_DATA, MPI_COMM_WORLD));
        }
        break;
    default: return ab_fail(err, AB_EINVAL, "not an MPI operation");
    }
    return AB_OK;
}

/* A common start for the timed loop: without it rank 0's clock would include the others'
 * wake-up from waiting for the command. */
static ab_status sync_start(struct icx_mpi *m, struct ab_error *err)
{
    if (m->op != ICX_PINGPONG) {
        MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
        return AB_OK;
    }
    char b = 0;
    if (m->rank == 0)
        MPI_TRY(MPI_Sendrecv(&b, 0, MPI_CHAR, 1, TAG_DATA, &b, 0, MPI_CHAR, 1, TAG_DATA, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
    else if (m->rank == 1)
        MPI_TRY(MPI_Sendrecv(&b, 0, MPI_CHAR, 0, TAG_DATA, &b, 0, MPI_CHAR, 0, TAG_DATA, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
    return AB_OK;
}

static bool alloc_buffers(struct icx_mpi *m)
{
    if (!takes_part(m, m->rank))
        return true;
    if (m->t) {
        struct ab_error e;
        bool ok = m->t->alloc(m->tctx, m->rank, m->n_send, m->n_recv, m->chunk, m->seed, &e) == AB_OK;
        if (!ok)
            snprintf(m->bad_msg, sizeof m->bad_msg, "%s", e.msg);
        return ok;
    }
    m->send = ab_alloc(m->n_send * sizeof(float));
    m->recv = ab_alloc(m->n_recv * sizeof(float));
    if (!m->send || !m->recv)
        return false;
    icx_fill(m->op, m->seed, m->rank, m->send, m->n_send);
    return true;
}

ab_status icx_mpi_setup(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank, int launch_size,
                        struct icx_mpi **out, struct ab_error *err)
{
    return icx_mpi_setup_transport(op, bytes, seed, launch_rank, launch_size, NULL, NULL, out, err);
}

ab_status icx_mpi_setup_transport(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank,
                                  int launch_size, const struct icx_transport *t, void *ctx,
                                  struct icx_mpi **out, struct ab_error *err)
{
    *out = NULL;
    ab_status st = join(err);
    if (st)
        return st;
    struct icx_mpi *m = calloc(1, sizeof *m);
    if (!m)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *out = m;
    m->t = t;
    m->tctx = ctx;
    m->op = op;
    m->bytes = bytes;
    m->seed = seed;
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &m->rank));
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &m->size));
    /* An MPI library that could not join the launcher's job (srun without a PMI plugin it
     * speaks) starts each rank as a job of its own: every one would lead. */
    if (m->size != launch_size || m->rank != launch_rank)
        return ab_fail(
            err, AB_EUNSUPPORTED,
            "MPI sees rank %d of %d but the launcher started rank %d of %d: the MPI library did not "
            "join the launcher's job (under srun, try --mpi=pmix)",
            m->rank, m->size, launch_rank, launch_size);
    /* Every rank decides this alike, so none waits for a case the others skip. */
    if (!icx_sizes(op, bytes, m->size, &m->n_send, &m->n_recv, &m->chunk, &m->counted))
        return ab_fail(err, AB_EUNSUPPORTED, "%s of %lld bytes is less than one float per rank on %d ranks",
                       icx_op_name(op), (long long)bytes, m->size);
    if (m->rank == 0) {
        bool ok = alloc_buffers(m);
        m->serving = calloc((size_t)m->size, sizeof *m->serving);
        ok = ok && m->serving;
        for (int q = 1; q < m->size; q++)
            if ((st = msg_send(q, TAG_CTRL, CMD_HELLO, op, bytes, (int64_t)seed, ok, err)))
                return st;
        if (!ok)
            return ab_fail(err, AB_ENOMEM, "rank 0: cannot allocate the %s buffers of %lld bytes%s%s",
                           icx_op_name(op), (long long)bytes, m->bad_msg[0] ? ": " : "", m->bad_msg);
        ab_status first = AB_OK;
        for (int q = 1; q < m->size; q++) {
            int64_t a[MSG_WORDS];
            char what[64];
            snprintf(what, sizeof what, "rank 0 waiting for rank %d to join the case", q);
            if ((st = msg_recv(q, TAG_REPLY, a, HELLO_WAIT_S, what, err)))
                return st;
            m->serving[q] = a[0] == ACK_OK;
            if (a[0] == ACK_OUT_OF_STEP && !first)
                first = ab_fail(err, AB_EFAIL,
                                "ranks out of step: rank %d is at op=%s bytes=%lld, rank 0 at op=%s "
                                "bytes=%lld",
                                q, icx_op_name((enum icx_op)a[1]), (long long)a[2], icx_op_name(op),
                                (long long)bytes);
            else if (a[0] == ACK_NOMEM && !first)
                first = ab_fail(err, AB_ENOMEM, "rank %d cannot allocate its %s buffers", q, icx_op_name(op));
        }
        return first;
    }
    int64_t h[MSG_WORDS];
    if ((st = msg_recv(0, TAG_CTRL, h, HELLO_WAIT_S, "waiting for rank 0 to start the case", err)))
        return st;
    if (h[0] != CMD_HELLO || h[1] != op || h[2] != bytes) {
        msg_send(0, TAG_REPLY, ACK_OUT_OF_STEP, op, bytes, 0, 0, err);
        return ab_fail(err, AB_EFAIL,
                       "ranks out of step: rank 0 sent %s op=%s bytes=%lld, rank %d is at op=%s "
                       "bytes=%lld",
                       h[0] == CMD_HELLO ? "the start of" : "a step of", icx_op_name((enum icx_op)h[1]),
                       (long long)h[2], m->rank, icx_op_name(op), (long long)bytes);
    }
    if (!h[4])
        return ab_fail(err, AB_ENOMEM, "rank 0 could not allocate its buffers for this case");
    m->seed = (uint64_t)h[3];
    bool ok = alloc_buffers(m);
    if ((st = msg_send(0, TAG_REPLY, ok ? ACK_OK : ACK_NOMEM, op, bytes, 0, 0, err)))
        return st;
    return ok ? AB_OK
              : ab_fail(err, AB_ENOMEM, "rank %d: cannot allocate the %s buffers of %lld bytes", m->rank,
                        icx_op_name(op), (long long)bytes);
}

static const char *level_word(int l)
{
    return l == MPI_THREAD_MULTIPLE ? "multiple" : l == MPI_THREAD_SERIALIZED ? "serialized" : "lower";
}

static void library_metric(struct ab_case *c)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = '\0';
    ab_case_metric_text(c, "mpi_library", "%.60s", v);
    ab_case_metric_text(c, "mpi_thread_level", "%s", level_word(g_thread_level));
}

/* One verified operation: this rank's received data against what every rank sent. */
static ab_status verify_once(struct icx_mpi *m, int64_t *bad, struct ab_error *err)
{
    *bad = 0;
    if (!takes_part(m, m->rank))
        return AB_OK;
    if (m->t)
        return m->t->check(m->tctx, bad, m->bad_msg, sizeof m->bad_msg, err);
    memset(m->recv, 0, m->n_recv * sizeof(float)); /* a buffer left alone cannot pass */
    ab_status st = one_op(m, err);
    if (st)
        return st;
    *bad = icx_check(m->op, m->seed, m->rank, m->size, m->chunk, m->recv, m->n_recv, m->bad_msg,
                     sizeof m->bad_msg);
    return AB_OK;
}

static size_t checked(const struct icx_mpi *m)
{
    size_t n = m->n_recv, step = n <= ((size_t)1 << 22) ? 1 : n / ((size_t)1 << 20);
    return step == 1 ? n : (n + step - 1) / step + 1;
}

ab_status icx_mpi_verify(struct icx_mpi *m, struct ab_case *c, struct ab_error *err)
{
    ab_status st;
    int64_t bad = 0;
    library_metric(c);
    ab_case_metric(c, "checked_elements", (double)checked(m));
    if (m->rank == 0) {
        for (int q = 1; q < m->size; q++)
            if (m->serving[q] && takes_part(m, q) &&
                (st = msg_send(q, TAG_CTRL, CMD_VERIFY, 0, 0, 0, 0, err)))
                return st;
        if ((st = verify_once(m, &bad, err)))
            return st;
        if (bad)
            return ab_fail(err, AB_EMISMATCH, "rank 0 received %lld wrong elements of %zu: %s",
                           (long long)bad, m->n_recv, m->bad_msg);
        for (int q = 1; q < m->size; q++) {
            if (!takes_part(m, q))
                continue;
            int64_t a[MSG_WORDS];
            if ((st = msg_recv(q, TAG_REPLY, a, STEP_WAIT_S, "rank 0 waiting for a rank's check", err)))
                return st;
            if (a[0])
                return ab_fail(err, AB_EMISMATCH, "rank %d received %lld wrong elements (its row names them)",
                               q, (long long)a[0]);
        }
        return AB_OK;
    }
    /* Serve rank 0 until it ends the case. */
    int64_t served = 0;
    for (;;) {
        int64_t cmd[MSG_WORDS];
        if ((st = msg_recv(0, TAG_CTRL, cmd, STEP_WAIT_S, "waiting for rank 0's next step", err)))
            return st;
        if (cmd[0] == CMD_DONE)
            break;
        if (cmd[0] == CMD_VERIFY) {
            if ((st = verify_once(m, &bad, err)) || (st = msg_send(0, TAG_REPLY, bad, 0, 0, 0, 0, err)))
                return st;
        } else if (cmd[0] == CMD_RUN) {
            if ((st = sync_start(m, err)))
                return st;
            for (int64_t r = 0; r < cmd[1]; r++)
                if ((st = one_op(m, err)))
                    return st;
            if (m->t && (st = m->t->sync(m->tctx, err)))
                return st;
            served += cmd[1];
        } else {
            return ab_fail(err, AB_EFAIL, "ranks out of step: rank 0 sent command %lld inside a case",
                           (long long)cmd[0]);
        }
    }
    if (bad)
        return ab_fail(err, AB_EMISMATCH, "rank %d received %lld wrong elements of %zu: %s", m->rank,
                       (long long)bad, m->n_recv, m->bad_msg);
    return ab_fail(
        err, AB_EUNSUPPORTED,
        "rank %d of %d served rank 0's measurement (%lld repetitions%s): rank 0's row holds the times",
        m->rank, m->size, (long long)served,
        takes_part(m, m->rank) ? "; the data this rank received were verified" : "; no data here");
}

ab_status icx_mpi_run(struct icx_mpi *m, int64_t reps, double *time_s, struct ab_error *err)
{
    ab_status st;
    if (m->rank != 0)
        return ab_fail(err, AB_EFAIL, "only rank 0 times an MPI case");
    for (int q = 1; q < m->size; q++)
        if (m->serving[q] && takes_part(m, q) && (st = msg_send(q, TAG_CTRL, CMD_RUN, reps, 0, 0, 0, err)))
            return st;
    if ((st = sync_start(m, err)))
        return st;
    double t0 = ab_now_s();
    for (int64_t r = 0; r < reps; r++)
        if ((st = one_op(m, err)))
            return st;
    if (m->t && (st = m->t->sync(m->tctx, err))) /* a GPU's operations end on its stream */
        return st;
    *time_s = ab_now_s() - t0;
    return AB_OK;
}

void icx_mpi_teardown(struct icx_mpi *m)
{
    if (!m)
        return;
    struct ab_error e;
    for (int q = 1; m->rank == 0 && m->serving && q < m->size; q++)
        if (m->serving[q])
            msg_send(q, TAG_CTRL, CMD_DONE, 0, 0, 0, 0, &e);
    ab_free(m->send);
    ab_free(m->recv);
    free(m->serving);
    free(m);
}

double icx_mpi_counted_bytes(const struct icx_mpi *m)
{
    return m ? m->counted : 0;
}

int icx_mpi_size(const struct icx_mpi *m)
{
    return m ? m->size : 1;
}

ab_status icx_mpi_bcast(struct icx_mpi *m, void *buf, size_t len, struct ab_error *err)
{
    MPI_Request rq;
    MPI_TRY(MPI_Ibcast(buf, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD, &rq));
    return wait_for(&rq, STEP_WAIT_S, "the broadcast of rank 0's NCCL id", err);
}

int icx_mpi_rank(const struct icx_mpi *m)
{
    return m ? m->rank : 0;
}
