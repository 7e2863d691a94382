/*
 * mpi.c - the program's side of data-parallel training over MPI.
 *
 * Built with `make MPI=1` (mpicc, -DBP_MPI). The library knows nothing of MPI:
 * it takes a rank, a rank count and an allreduce callback (bp_train_config),
 * and this file supplies them from MPI_COMM_WORLD. Without BP_MPI, or when the
 * program was not started by mpirun, every function here says "one process".
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backprop.h"

#include "args.h"
#include "data.h"
#include "mpi.h"

#ifdef BP_MPI
#include <mpi.h> /* the MPI library's own header (ours, "mpi.h", is included above) */
#include <pthread.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#include <time.h>

/* MPI itself is process-wide state; whether this process started it, and the
   watchdog's bookkeeping below, are ours. */
static int mpi_started = 0;

/* The watchdog. Every collective here is started non-blocking and waited on
   with a deadline, so a rank that hangs (or a network that stops) ends the job
   after `timeout` seconds instead of never. To name the rank that hangs, every
   rank tells rank 0, with a small message, each time it enters a collective
   ("arrival" number `calls`); rank 0 keeps the highest number it has seen from
   each rank. When its deadline passes it also pings every rank: a rank that is
   waiting answers from its wait loop, one that is stopped, hung or cut off does
   not. Rank 0 names the silent ranks (and those behind). The other ranks wait a
   little longer than rank 0, so its message comes first. */
enum { TAG_ARRIVAL = 7301, TAG_PING = 7302, TAG_PONG = 7303 };
static double timeout = 300.0;
static unsigned long calls = 0;          /* collectives entered by this rank */
static unsigned long *arrived = NULL;     /* rank 0: the last arrival seen from each rank */
static unsigned long *arrival_buf = NULL; /* rank 0: receive buffers, one per rank */
static MPI_Request *arrival_req = NULL;   /* rank 0: the receive posted for each rank */
static unsigned long arrival_out;         /* other ranks: the number being sent */
static MPI_Request arrival_send = MPI_REQUEST_NULL;

/* BP_MPI_PROFILE=1: the time each rank spends in the gradient sums (waiting for the
   slowest rank included), printed by every rank when MPI finishes. */
static int profile = 0;
static double profile_start, profile_sum_s, profile_wait_s;
static unsigned long profile_sums;

/* Sums overlapped with the backward pass (cli_mpi_sum_start/wait): a thread of its
   own runs each piece's allreduce, in the order the pieces were started, while the
   training thread goes on computing the layers below. The training thread makes no
   MPI call until cli_mpi_sum_wait has seen the queue empty, so MPI is entered by
   one thread at a time (MPI_THREAD_SERIALIZED). The thread polls without pause, so it
   only pays where it has a CPU of its own: cli_mpi_overlap decides. */
typedef struct {
    float *values;
    size_t n;
} sum_piece;
static int thread_level = MPI_THREAD_SINGLE; /* what MPI_Init_thread provided */
static struct {
    int on;                 /* the thread runs */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* a piece was queued, or quit was set */
    pthread_cond_t done;    /* a piece was summed */
    sum_piece queue[BP_MAX_LAYERS * BP_LAYER_PIECES]; /* a step's pieces, at most */
    size_t head, tail;      /* pieces [head, tail) are queued; head is being summed */
    int failed, quit;
} sums;

static void collect_arrivals(void);
static void stop_sum_thread(void);

static int launched_by_mpirun(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_mpi_init(int *argc, char ***argv)
{
    if (!launched_by_mpirun()) return;
    /* Open MPI's non-blocking allreduce picks a reduce-then-broadcast tree for
       large arrays by default, which measured twice as slow as the blocking
       call (10.4 vs 5.2 ms for W3's 1.9 million doubles on 2 ranks); its ring
       matches the blocking call (bench/allreduce.c). A user's own choice wins. */
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &thread_level) != MPI_SUCCESS) return;
    mpi_started = 1;
    profile = getenv("BP_MPI_PROFILE") && atoi(getenv("BP_MPI_PROFILE")) > 0;
    profile_start = now();
    int rank = cli_mpi_rank(), size = cli_mpi_size();
    if (rank == 0 && size > 1) {
        arrived = calloc((size_t)size, sizeof *arrived);
        arrival_buf = calloc((size_t)size, sizeof *arrival_buf);
        arrival_req = calloc((size_t)size, sizeof *arrival_req);
        if (!arrived || !arrival_buf || !arrival_req) {
            fprintf(stderr, "backprop: out of memory starting MPI\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        arrival_req[0] = MPI_REQUEST_NULL;
        for (int r = 1; r < size; r++)
            MPI_Irecv(&arrival_buf[r], 1, MPI_UNSIGNED_LONG, r, TAG_ARRIVAL, MPI_COMM_WORLD, &arrival_req[r]);
    }
}

void cli_mpi_set_timeout(double seconds) { timeout = seconds; }

void cli_mpi_finish(void)
{
    if (!mpi_started) return;
    stop_sum_thread();
    if (profile) {
        double total = now() - profile_start;
        char overlapped[96] = "";
        if (profile_wait_s > 0)
            snprintf(overlapped, sizeof overlapped, ", overlapped with the backward pass; training waited %.3f s for them",
                     profile_wait_s);
        /* One write per rank, so that the ranks' lines do not interleave. */
        fprintf(stderr, "backprop: rank %d of %d: %lu gradient sums took %.3f s of %.3f s since MPI began (%.0f%%)%s\n",
                cli_mpi_rank(), cli_mpi_size(), profile_sums, profile_sum_s, total,
                total > 0 ? 100.0 * profile_sum_s / total : 0.0, overlapped);
    }
    if (arrival_send != MPI_REQUEST_NULL) MPI_Wait(&arrival_send, MPI_STATUS_IGNORE);
    if (arrival_req) {
        collect_arrivals();
        for (int r = 1; r < cli_mpi_size(); r++) {
            MPI_Cancel(&arrival_req[r]);
            MPI_Wait(&arrival_req[r], MPI_STATUS_IGNORE);
        }
    }
    free(arrived), free(arrival_buf), free(arrival_req);
    arrived = arrival_buf = NULL;
    arrival_req = NULL;
    MPI_Finalize();
}

int cli_mpi_rank(void)
{
    int r = 0;
    if (mpi_started) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int cli_mpi_size(void)
{
    int n = 1;
    if (mpi_started) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* Rank 0: take in every arrival note that has come, re-posting the receives. */
static void collect_arrivals(void)
{
    int size = cli_mpi_size();
    for (int r = 1; r < size; r++) {
        int done = 0;
        while (MPI_Test(&arrival_req[r], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) {
            if (arrival_buf[r] > arrived[r]) arrived[r] = arrival_buf[r];
            MPI_Irecv(&arrival_buf[r], 1, MPI_UNSIGNED_LONG, r, TAG_ARRIVAL, MPI_COMM_WORLD, &arrival_req[r]);
            done = 0;
        }
    }
}

/* Say that this rank has reached collective number `calls`. */
static void announce_arrival(void)
{
    calls++;
    if (cli_mpi_size() < 2) return;
    if (cli_mpi_rank() == 0) {
        collect_arrivals();
        return;
    }
    /* The previous note has long been delivered (rank 0 took part in the
       collective after it); wait for it so its buffer can be reused. */
    if (arrival_send != MPI_REQUEST_NULL) MPI_Wait(&arrival_send, MPI_STATUS_IGNORE);
    arrival_out = calls;
    MPI_Isend(&arrival_out, 1, MPI_UNSIGNED_LONG, 0, TAG_ARRIVAL, MPI_COMM_WORLD, &arrival_send);
}

/* Another rank: answer rank 0's ping, if one has come. */
static void answer_ping(void)
{
    int flag = 0;
    MPI_Iprobe(0, TAG_PING, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
    if (!flag) return;
    int v = 0;
    MPI_Recv(&v, 1, MPI_INT, 0, TAG_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Send(&v, 1, MPI_INT, 0, TAG_PONG, MPI_COMM_WORLD);
}

/* Rank 0, past its deadline: which ranks are silent (no answer to a ping within
   3 s) or behind (not arrived at the current collective)? Writes "1, 3" lists. */
static void find_missing(char *silent, char *behind, size_t cap)
{
    int size = cli_mpi_size();
    int *ping = calloc((size_t)size, sizeof *ping), *pong = calloc((size_t)size, sizeof *pong);
    int *answered = calloc((size_t)size, sizeof *answered);
    MPI_Request *req = calloc((size_t)size * 2, sizeof *req);
    silent[0] = behind[0] = '\0';
    if (!ping || !pong || !answered || !req) goto done;
    for (int r = 1; r < size; r++) {
        MPI_Isend(&ping[r], 1, MPI_INT, r, TAG_PING, MPI_COMM_WORLD, &req[2 * r]);
        MPI_Irecv(&pong[r], 1, MPI_INT, r, TAG_PONG, MPI_COMM_WORLD, &req[2 * r + 1]);
    }
    double start = now();
    int waiting = size - 1;
    while (waiting > 0 && now() - start < 3.0) {
        for (int r = 1; r < size; r++) {
            int done = 0;
            if (!answered[r] && MPI_Test(&req[2 * r + 1], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) {
                answered[r] = 1;
                waiting--;
            }
        }
    }
    collect_arrivals();
    size_t ls = 0, lb = 0;
    for (int r = 1; r < size; r++) {
        if (!answered[r] && ls + 16 < cap) ls += (size_t)snprintf(silent + ls, cap - ls, "%s%d", ls ? ", " : "", r);
        if (arrived[r] < calls && lb + 16 < cap) lb += (size_t)snprintf(behind + lb, cap - lb, "%s%d", lb ? ", " : "", r);
    }
done:
    free(ping), free(pong), free(answered), free(req);
}

/* Wait for a collective; past the deadline, say who is missing and end the job. */
static int wait_or_abort(MPI_Request *req, const char *what)
{
    int rank = cli_mpi_rank(), size = cli_mpi_size();
    double limit = timeout > 0 ? timeout + (rank == 0 ? 0.0 : 5.0) : 0.0, start = now();
    for (unsigned long polls = 0;; polls++) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        if (done) return 0;
        if (size > 1 && polls % 64 == 0) {
            if (rank == 0) collect_arrivals();
            else answer_ping();
        }
        if (polls % 1024 == 1023 && limit > 0 && now() - start > limit) break;
    }
    if (rank == 0 && size > 1) {
        char silent[512], behind[512];
        find_missing(silent, behind, sizeof silent);
        const char *who = silent[0] ? silent : behind;
        if (who[0])
            fprintf(stderr, "backprop train: rank%s %s %s %s (synchronization %lu) within %g s: hung, "
                    "stopped or cut off; ending the job. The last checkpoint is intact.\n",
                    strchr(who, ',') ? "s" : "", who,
                    silent[0] ? "stopped answering in" : "did not reach", what, calls, timeout);
        else
            fprintf(stderr, "backprop train: %s (synchronization %lu) did not finish within %g s although "
                    "every rank answers; ending the job.\n", what, calls, timeout);
    } else {
        fprintf(stderr, "backprop train: rank %d: no answer in %s (synchronization %lu) within %g s; "
                "ending the job.\n", rank, what, calls, limit);
    }
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return -1;
}

static int allreduce(void *values, int count, MPI_Datatype type, MPI_Op op, const char *what)
{
    announce_arrival();
    MPI_Request req;
    if (MPI_Iallreduce(MPI_IN_PLACE, values, count, type, op, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        return -1;
    return wait_or_abort(&req, what);
}

int cli_mpi_allreduce(void *context, float *values, size_t n)
{
    (void)context;
    const double t0 = profile ? now() : 0.0;
    /* Large gradients go in pieces that fit an int count. */
    while (n > 0) {
        int count = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        if (allreduce(values, count, MPI_FLOAT, MPI_SUM, "the gradient sum") != 0) return -1;
        values += count;
        n -= (size_t)count;
    }
    if (profile) {
        profile_sum_s += now() - t0;
        profile_sums++;
    }
    return 0;
}

static void *sum_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sums.lock);
    for (;;) {
        while (sums.head == sums.tail && !sums.quit) pthread_cond_wait(&sums.wake, &sums.lock);
        if (sums.head == sums.tail) break;
        sum_piece p = sums.queue[sums.head];
        pthread_mutex_unlock(&sums.lock);
        int bad = cli_mpi_allreduce(NULL, p.values, p.n) != 0;
        pthread_mutex_lock(&sums.lock);
        sums.failed |= bad;
        sums.head++;
        pthread_cond_signal(&sums.done);
    }
    pthread_mutex_unlock(&sums.lock);
    return NULL;
}

static void start_sum_thread(void)
{
    if (pthread_mutex_init(&sums.lock, NULL) != 0) return;
    if (pthread_cond_init(&sums.wake, NULL) != 0 || pthread_cond_init(&sums.done, NULL) != 0 ||
        pthread_create(&sums.thread, NULL, sum_thread, NULL) != 0)
        return; /* then the sums run one after the backward pass, as without the thread */
    sums.on = 1;
}

static void stop_sum_thread(void)
{
    if (!sums.on) return;
    pthread_mutex_lock(&sums.lock);
    sums.quit = 1;
    pthread_cond_signal(&sums.wake);
    pthread_mutex_unlock(&sums.lock);
    pthread_join(sums.thread, NULL);
    sums.on = 0;
}

/* Whether a sum thread would have a CPU to itself: the ranks on this machine
   (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, else all of them) times their compute
   threads leave one free, and mpirun did not bind this rank to just those. */
static int spare_cpu(size_t threads)
{
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long ranks_here = local && atol(local) > 0 ? atol(local) : cli_mpi_size();
    long online = sysconf(_SC_NPROCESSORS_ONLN), bound = online;
#if defined(__linux__)
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) == 0) bound = CPU_COUNT(&mine);
#endif
    return (double)ranks_here * (double)threads < (double)online && (size_t)bound > threads;
}

int cli_mpi_overlap(size_t threads)
{
    if (!mpi_started || cli_mpi_size() < 2) return 0;
    const char *force = getenv("BP_MPI_OVERLAP"); /* 1: always, 0: never, else: spare_cpu */
    int want = force && (strcmp(force, "0") == 0 || strcmp(force, "1") == 0) ? force[0] == '1' : spare_cpu(threads);
    if (want && thread_level >= MPI_THREAD_SERIALIZED && !sums.on) start_sum_thread();
    /* Every rank must sum in the same pieces, but each decides from its own machine
       and binding: overlap only if all of them can. */
    if (cli_mpi_any(!sums.on)) stop_sum_thread();
    return sums.on;
}

int cli_mpi_sum_start(void *context, float *values, size_t n)
{
    (void)context;
    pthread_mutex_lock(&sums.lock);
    if (sums.head == sums.tail) sums.head = sums.tail = 0; /* a new step */
    int full = sums.tail == sizeof sums.queue / sizeof sums.queue[0];
    if (!full) {
        sums.queue[sums.tail++] = (sum_piece){values, n};
        pthread_cond_signal(&sums.wake);
    }
    pthread_mutex_unlock(&sums.lock);
    return full ? -1 : 0;
}

int cli_mpi_sum_wait(void *context)
{
    (void)context;
    const double t0 = profile ? now() : 0.0;
    pthread_mutex_lock(&sums.lock);
    while (sums.head != sums.tail) pthread_cond_wait(&sums.done, &sums.lock);
    int failed = sums.failed;
    sums.failed = 0;
    pthread_mutex_unlock(&sums.lock);
    if (profile) profile_wait_s += now() - t0;
    return failed ? -1 : 0;
}

int cli_mpi_any(int flag)
{
    if (!mpi_started) return flag != 0;
    int v = flag != 0;
    allreduce(&v, 1, MPI_INT, MPI_MAX, "a stop check");
    return v;
}

int cli_mpi_same_everywhere(uint32_t checksum)
{
    if (!mpi_started) return 1;
    unsigned long v[2] = {checksum, ~(unsigned long)checksum}; /* max of both: min and max */
    allreduce(v, 2, MPI_UNSIGNED_LONG, MPI_MAX, "the parameter checksum");
    return v[0] == (unsigned long)checksum && v[1] == ~(unsigned long)checksum;
}

int cli_mpi_bcast(void *data, size_t bytes)
{
    if (!mpi_started || cli_mpi_size() < 2) return 0;
    unsigned char *p = data;
    while (bytes > 0) {
        int count = bytes > (size_t)1 << 30 ? 1 << 30 : (int)bytes;
        announce_arrival();
        MPI_Request req;
        if (MPI_Ibcast(p, count, MPI_BYTE, 0, MPI_COMM_WORLD, &req) != MPI_SUCCESS ||
            wait_or_abort(&req, "sharing the data") != 0)
            return -1;
        p += count;
        bytes -= (size_t)count;
    }
    return 0;
}

void cli_mpi_abort(int code)
{
    if (mpi_started) MPI_Abort(MPI_COMM_WORLD, code);
}

#else

void cli_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}
void cli_mpi_finish(void) {}
int cli_mpi_rank(void) { return 0; }
int cli_mpi_size(void) { return 1; }
int cli_mpi_allreduce(void *context, float *values, size_t n)
{
    (void)context;
    (void)values;
    (void)n;
    return 0;
}
int cli_mpi_same_everywhere(uint32_t checksum)
{
    (void)checksum;
    return 1;
}
int cli_mpi_any(int flag) { return flag != 0; }
int cli_mpi_overlap(size_t threads)
{
    (void)threads;
    return 0;
}
int cli_mpi_sum_start(void *context, float *values, size_t n)
{
    (void)context;
    (void)values;
    (void)n;
    return 0;
}
int cli_mpi_sum_wait(void *context)
{
    (void)context;
    return 0;
}
int cli_mpi_bcast(void *data, size_t bytes)
{
    (void)data;
    (void)bytes;
    return 0;
}
void cli_mpi_set_timeout(double seconds) { (void)seconds; }
void cli_mpi_abort(int code) { (void)code; }

#endif

/* What rank 0 tells the others before the data itself: the reader's exit code,
   the shape, and the size of the class names packed one after the other, each
   followed by a NUL. */
enum { HEAD_CODE, HEAD_COUNT, HEAD_INPUTS, HEAD_OUTPUTS, HEAD_NAME_BYTES, HEAD_FIELDS };

/* Rank 0: read the data set, describe it in head, and pack its class names into *names. */
static void read_and_describe(const cli_args *a, const cli_data_request *req, bp_dataset **d, uint64_t *head,
                              char **names)
{
    head[HEAD_CODE] = (uint64_t)cli_read_data(a, req, d);
    if (head[HEAD_CODE] != 0) return;
    head[HEAD_COUNT] = bp_dataset_count(*d);
    head[HEAD_INPUTS] = bp_dataset_inputs(*d);
    head[HEAD_OUTPUTS] = bp_dataset_outputs(*d);
    for (size_t k = 0; bp_dataset_class_name(*d, 0) && k < head[HEAD_OUTPUTS]; k++)
        head[HEAD_NAME_BYTES] += strlen(bp_dataset_class_name(*d, k)) + 1;
    if (!head[HEAD_NAME_BYTES]) return;
    if (!(*names = malloc(head[HEAD_NAME_BYTES]))) {
        head[HEAD_CODE] = (uint64_t)cli_fail(a, EXIT_FAILED, "out of memory");
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < head[HEAD_OUTPUTS]; k++) {
        size_t len = strlen(bp_dataset_class_name(*d, k)) + 1;
        memcpy(*names + at, bp_dataset_class_name(*d, k), len);
        at += len;
    }
}

/* The other ranks: the n packed class names into d. */
static int unpack_names(const cli_args *a, bp_dataset *d, const char *names, size_t n)
{
    const char **list = malloc(n * sizeof *list);
    size_t at = 0;
    for (size_t k = 0; list && k < n; k++) {
        list[k] = names + at;
        at += strlen(names + at) + 1;
    }
    int ok = list && bp_dataset_set_class_names(d, list, n) == BP_OK;
    free(list);
    return ok ? 0 : cli_fail(a, EXIT_FAILED, "rank %d: out of memory for the class names", cli_mpi_rank());
}

/* Shared by both builds: without MPI, cli_mpi_bcast does nothing and one rank reads. */
int cli_mpi_read_data(const cli_args *a, const cli_data_request *req, bp_dataset **out)
{
    if (cli_mpi_size() < 2) return cli_read_data(a, req, out);
    int leader = cli_mpi_rank() == 0;
    bp_dataset *d = NULL;
    uint64_t head[HEAD_FIELDS] = {0};
    char *names = NULL;
    if (leader) read_and_describe(a, req, &d, head, &names);
    if (cli_mpi_bcast(head, sizeof head) != 0) head[HEAD_CODE] = EXIT_FAILED;
    if (head[HEAD_CODE] != 0) {
        /* Rank 0 has said what went wrong. */
        bp_dataset_free(d);
        free(names);
        return (int)head[HEAD_CODE];
    }
    size_t n = (size_t)head[HEAD_COUNT], n_in = (size_t)head[HEAD_INPUTS], n_out = (size_t)head[HEAD_OUTPUTS];
    size_t name_bytes = (size_t)head[HEAD_NAME_BYTES];
    int code = 0;
    if (!leader && (bp_dataset_create(n, n_in, n_out, &d) != BP_OK || (name_bytes && !(names = malloc(name_bytes)))))
        code = cli_fail(a, EXIT_FAILED, "rank %d: out of memory for the data set", cli_mpi_rank());
    /* A rank that could not allocate skips the broadcasts and ends the whole job
       below (cli_mpi_abort), so the others are not left waiting. */
    if (code == 0 && (cli_mpi_bcast(bp_dataset_x(d), n * n_in * sizeof(float)) != 0 ||
                      cli_mpi_bcast(bp_dataset_y(d), n * n_out * sizeof(float)) != 0 ||
                      (name_bytes && cli_mpi_bcast(names, name_bytes) != 0)))
        code = cli_fail(a, EXIT_FAILED, "rank %d: receiving the data set failed", cli_mpi_rank());
    if (code == 0 && !leader && name_bytes) code = unpack_names(a, d, names, n_out);
    free(names);
    if (code != 0) {
        bp_dataset_free(d);
        cli_mpi_abort(code);
        return code;
    }
    *out = d;
    return 0;
}
