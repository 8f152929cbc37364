/* cli/blas_threads.h - stopping OpenBLAS's idle threads (see blas_threads.c). */
#ifndef CS_CLI_BLAS_THREADS_H
#define CS_CLI_BLAS_THREADS_H

/* Ends the worker threads the pthread build of OpenBLAS starts when the
 * program loads; nothing with other BLAS builds. */
void cli_stop_blas_threads(void);

#endif
