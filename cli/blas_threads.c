/* cli/blas_threads.c - OpenBLAS, which FAISS needs, is linked into the
 * program. Its pthread build (Debian's default) starts one thread per core
 * while the program loads, and each waits for work spinning on sched_yield
 * for 2^28 cycles (~0.1 s) before it sleeps: for the whole of a cold search,
 * one of two cores went to the spinning (perf: the thread was busy from load
 * to exit; system time 53 -> 30 ms without it). Our own work runs on
 * cs_pool, so those threads are stopped at once. OpenBLAS starts them again
 * by itself on the first threaded BLAS call (exec_blas re-initialises its
 * server), so FAISS keeps working. The symbol is weak: other BLAS builds
 * (reference BLAS, OpenBLAS serial or OpenMP) lack it, and nothing is done. */
#include "blas_threads.h"

extern int blas_thread_shutdown_(void) __attribute__((weak));

void cli_stop_blas_threads(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}
