/* dist/comm.c - see comm.h. */
#include "dist/comm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

int cs_comm_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    /* a batch script runs with SLURM_* set too; only a step started by srun
     * with several tasks is a job of ranks */
    const char *step = getenv("SLURM_STEP_ID"), *ntasks = getenv("SLURM_STEP_NUM_TASKS");
    return step && ntasks && atoi(ntasks) > 1;
}

int cs_comm_launched_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

void cs_comm_idle(int *n) {
    /* 50 us, doubling to 2 ms: replies within a chunk come back fast, and
     * a rank that waits for long costs a wake-up (and a probe, which runs
     * Open MPI's progress engine: tens of us) every 2 ms */
    long us = 50L << (*n < 6 ? *n : 6);
    if (us > 2000) us = 2000;
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
    (*n)++;
}

#ifdef CS_HAVE_MPI_H

#include <dlfcn.h>
#include <mpi.h>

/* The soname of Debian's Open MPI (the ABI of Open MPI 3.x to 5.x). */
#define LIBMPI "libmpi.so.40"

struct cs_comm {
    void *lib;
    int rank, size;
    char host[256];
    MPI_Comm world;
    MPI_Datatype byte;
    int (*init_thread)(int *, char ***, int, int *);
    int (*finalize)(void);
    int (*abort_)(MPI_Comm, int);
    int (*comm_rank)(MPI_Comm, int *);
    int (*comm_size)(MPI_Comm, int *);
    int (*set_errhandler)(MPI_Comm, MPI_Errhandler);
    int (*isend)(const void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *);
    int (*test)(MPI_Request *, int *, MPI_Status *);
    int (*iprobe)(int, int, MPI_Comm, int *, MPI_Status *);
    int (*recv)(void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Status *);
    int (*get_count)(const MPI_Status *, MPI_Datatype, int *);
    int (*error_string)(int, char *, int *);
};

static void *sym(cs_comm *c, const char *name, int *missing) {
    void *p = dlsym(c->lib, name);
    if (!p) *missing = 1;
    return p;
}

/* Function pointers from dlsym: copied through memcpy, as ISO C wants. */
#define LOAD(field, name)                                                                          \
    do {                                                                                           \
        void *p_ = sym(c, name, &missing);                                                         \
        memcpy(&c->field, &p_, sizeof p_);                                                         \
    } while (0)

static cs_status mpi_fail(cs_comm *c, cs_error *err, int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (c->error_string) c->error_string(rc, msg, &len);
    return cs_fail(err, CS_EIO, "MPI (rank %d on %s): %s: %s", c->rank, c->host, what,
                   len ? msg : "failed");
}

/* Every rank on this host (the launcher tells each rank both counts, so
 * all of them decide alike): shared memory carries every message, and the
 * UCX transport Open MPI prefers would only spend ~0.2 s of each rank's
 * start probing for network adapters (docs/catalog.md). A pml chosen by the
 * user or an MCA file stands. */
static void single_host_transport(void) {
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const char *world = getenv("OMPI_COMM_WORLD_SIZE");
    if (local && world && *local && strcmp(local, world) == 0 && !getenv("OMPI_MCA_pml"))
        setenv("OMPI_MCA_pml", "ob1", 0);
}

cs_status cs_comm_open(cs_comm **out, cs_error *err) {
    *out = NULL;
    single_host_transport();
    cs_comm *c = calloc(1, sizeof *c);
    if (!c) return cs_fail(err, CS_ENOMEM, "out of memory");
    /* RTLD_GLOBAL: Open MPI's own plugins, which it opens with dlopen, may
     * resolve symbols of libmpi and its runtime through the global scope */
    c->lib = dlopen(LIBMPI, RTLD_NOW | RTLD_GLOBAL);
    if (!c->lib) {
        cs_status st = cs_fail(err, CS_ENOTFOUND,
                               "launched as an MPI job, but %s cannot be loaded (%s): install "
                               "Open MPI (Debian: openmpi-bin) on every host",
                               LIBMPI, dlerror());
        free(c);
        return st;
    }
    int missing = 0;
    LOAD(init_thread, "MPI_Init_thread");
    LOAD(finalize, "MPI_Finalize");
    LOAD(abort_, "MPI_Abort");
    LOAD(comm_rank, "MPI_Comm_rank");
    LOAD(comm_size, "MPI_Comm_size");
    LOAD(set_errhandler, "MPI_Comm_set_errhandler");
    LOAD(isend, "MPI_Isend");
    LOAD(test, "MPI_Test");
    LOAD(iprobe, "MPI_Iprobe");
    LOAD(recv, "MPI_Recv");
    LOAD(get_count, "MPI_Get_count");
    LOAD(error_string, "MPI_Error_string");
    c->world = (MPI_Comm)sym(c, "ompi_mpi_comm_world", &missing);
    c->byte = (MPI_Datatype)sym(c, "ompi_mpi_byte", &missing);
    MPI_Errhandler ret = (MPI_Errhandler)sym(c, "ompi_mpi_errors_return", &missing);
    gethostname(c->host, sizeof c->host - 1);
    if (missing) {
        dlclose(c->lib);
        free(c);
        return cs_fail(err, CS_EFORMAT, "%s is not the Open MPI this program was built for",
                       LIBMPI);
    }
    /* serialised: only one thread at a time talks MPI (the server's
     * connection threads take a lock) */
    int provided = 0;
    int rc = c->init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        cs_status st = mpi_fail(c, err, rc, "MPI_Init_thread");
        free(c);
        return st;
    }
    /* errors come back as codes we report, rather than aborting in MPI */
    c->set_errhandler(c->world, ret);
    c->comm_rank(c->world, &c->rank);
    c->comm_size(c->world, &c->size);
    *out = c;
    return CS_OK;
}

void cs_comm_close(cs_comm *c) {
    if (!c) return;
    c->finalize();
    /* libmpi stays loaded: its atexit handlers and threads may still need it */
    free(c);
}

void cs_comm_abort(cs_comm *c, int code) {
    c->abort_(c->world, code);
}

int cs_comm_rank(const cs_comm *c) {
    return c->rank;
}

int cs_comm_size(const cs_comm *c) {
    return c->size;
}

const char *cs_comm_host(const cs_comm *c) {
    return c->host;
}

#define MAX_MESSAGE ((size_t)1 << 30)

cs_status cs_comm_send(cs_comm *c, int dest, int tag, const void *buf, size_t len, cs_error *err) {
    if (len > MAX_MESSAGE)
        return cs_fail(err, CS_ELIMIT, "MPI: a message of %zu bytes (the most is 1 GiB)", len);
    MPI_Request req;
    int rc = c->isend(buf, (int)len, c->byte, dest, tag, c->world, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(c, err, rc, "send");
    int done = 0, idle = 0;
    MPI_Status s;
    while ((rc = c->test(&req, &done, &s)) == MPI_SUCCESS && !done) cs_comm_idle(&idle);
    return rc == MPI_SUCCESS ? CS_OK : mpi_fail(c, err, rc, "send");
}

int cs_comm_probe(cs_comm *c, int src, int *from, int *tag, size_t *len) {
    int flag = 0, n = 0;
    MPI_Status s;
    if (c->iprobe(src < 0 ? MPI_ANY_SOURCE : src, MPI_ANY_TAG, c->world, &flag, &s) !=
            MPI_SUCCESS ||
        !flag)
        return 0;
    c->get_count(&s, c->byte, &n);
    *from = s.MPI_SOURCE;
    *tag = s.MPI_TAG;
    *len = (size_t)n;
    return 1;
}

void cs_comm_wait(cs_comm *c, int src, int *from, int *tag, size_t *len) {
    int idle = 0;
    while (!cs_comm_probe(c, src, from, tag, len)) cs_comm_idle(&idle);
}

cs_status cs_comm_recv(cs_comm *c, int from, int tag, void *buf, size_t len, cs_error *err) {
    MPI_Status s;
    int rc = c->recv(buf, (int)len, c->byte, from, tag, c->world, &s);
    return rc == MPI_SUCCESS ? CS_OK : mpi_fail(c, err, rc, "receive");
}

#else /* built without Open MPI's header */

cs_status cs_comm_open(cs_comm **out, cs_error *err) {
    *out = NULL;
    return cs_fail(err, CS_EUNSUPPORTED,
                   "launched as an MPI job, but this clipsearch was built without MPI support "
                   "(build it with Debian's libopenmpi-dev installed)");
}

void cs_comm_close(cs_comm *c) {
    (void)c;
}

void cs_comm_abort(cs_comm *c, int code) {
    (void)c;
    exit(code);
}

int cs_comm_rank(const cs_comm *c) {
    (void)c;
    return 0;
}

int cs_comm_size(const cs_comm *c) {
    (void)c;
    return 1;
}

const char *cs_comm_host(const cs_comm *c) {
    (void)c;
    return "";
}

cs_status cs_comm_send(cs_comm *c, int dest, int tag, const void *buf, size_t len, cs_error *err) {
    (void)c, (void)dest, (void)tag, (void)buf, (void)len;
    return cs_fail(err, CS_EUNSUPPORTED, "no MPI support");
}

int cs_comm_probe(cs_comm *c, int src, int *from, int *tag, size_t *len) {
    (void)c, (void)src, (void)from, (void)tag, (void)len;
    return 0;
}

void cs_comm_wait(cs_comm *c, int src, int *from, int *tag, size_t *len) {
    (void)c, (void)src, (void)from, (void)tag, (void)len;
}

cs_status cs_comm_recv(cs_comm *c, int from, int tag, void *buf, size_t len, cs_error *err) {
    (void)c, (void)from, (void)tag, (void)buf, (void)len;
    return cs_fail(err, CS_EUNSUPPORTED, "no MPI support");
}

#endif

cs_status cs_comm_recv_any(cs_comm *c, int src, int *from, int *tag, void **buf, size_t *len,
                           cs_error *err) {
    cs_comm_wait(c, src, from, tag, len);
    *buf = malloc(*len ? *len : 1);
    if (!*buf)
        return cs_fail(err, CS_ENOMEM, "MPI: out of memory for a message of %zu bytes", *len);
    cs_status st = cs_comm_recv(c, *from, *tag, *buf, *len, err);
    if (st) {
        free(*buf);
        *buf = NULL;
    }
    return st;
}
