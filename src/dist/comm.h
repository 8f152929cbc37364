/* dist/comm.h - MPI, when clipsearch is launched as an MPI job.
 *
 * The program is not linked with MPI: libmpi (Open MPI's libmpi.so.40) is
 * opened with dlopen only when the environment says that mpirun or srun
 * started us, so the plain binary runs where no MPI is installed, and a
 * plain run pays nothing for it (no MPI runtime, no extra libraries mapped).
 * The header is Open MPI's, for its types; its predefined handles
 * (MPI_COMM_WORLD, MPI_BYTE) are looked up in the library by name.
 *
 * Waiting never spins: Open MPI's blocking calls poll the network at 100%
 * of a core, which on a host whose cores all embed would take one from the
 * model. Every wait here probes and sleeps (50 us growing to 2 ms), which
 * costs well under 1% of a core and adds at most 2 ms per message to chunks
 * that take seconds.
 *
 * Calls are serialised by the caller: one thread talks MPI at a time. */
#ifndef CS_DIST_COMM_H
#define CS_DIST_COMM_H

#include <stddef.h>

#include "clipsearch/common.h"

typedef struct cs_comm cs_comm;

/* 1 when this process was started as a rank of an MPI job: Open MPI's
 * mpirun (OMPI_COMM_WORLD_SIZE), a PMIx or PMI launcher (PMIX_RANK,
 * PMI_RANK), or a Slurm job step of more than one task (srun). */
int cs_comm_launched(void);

/* The number of ranks the launcher says it started (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE, SLURM_STEP_NUM_TASKS); 0 when it does not say. */
int cs_comm_launched_size(void);

/* Loads libmpi and joins the job (MPI_Init_thread). CS_EUNSUPPORTED when
 * this build has no MPI support, CS_ENOTFOUND when libmpi cannot be loaded. */
cs_status cs_comm_open(cs_comm **out, cs_error *err);
/* MPI_Finalize; NULL is ignored. */
void cs_comm_close(cs_comm *c);
/* Ends every rank of the job at once (MPI_Abort). */
void cs_comm_abort(cs_comm *c, int code);

int cs_comm_rank(const cs_comm *c);
int cs_comm_size(const cs_comm *c);
/* This host's name (for messages: which host could not read a file). */
const char *cs_comm_host(const cs_comm *c);

/* Sends len bytes (at most 1 GiB) to rank dest with a tag (>= 0). */
cs_status cs_comm_send(cs_comm *c, int dest, int tag, const void *buf, size_t len, cs_error *err);

/* Whether a message is waiting (from src, or any rank when src < 0): its
 * sender, tag and length. Returns 0 when none; never blocks. */
int cs_comm_probe(cs_comm *c, int src, int *from, int *tag, size_t *len);
/* Waits for a message as cs_comm_probe describes. */
void cs_comm_wait(cs_comm *c, int src, int *from, int *tag, size_t *len);
/* Receives the message cs_comm_probe/wait announced (len bytes). */
cs_status cs_comm_recv(cs_comm *c, int from, int tag, void *buf, size_t len, cs_error *err);
/* Waits for and receives the next message from src (any: < 0) into a
 * malloc'd buffer. */
cs_status cs_comm_recv_any(cs_comm *c, int src, int *from, int *tag, void **buf, size_t *len,
                           cs_error *err);

/* Sleeps a little between two probes; *n counts the idle rounds so far
 * (the pause grows with it). */
void cs_comm_idle(int *n);

#endif
