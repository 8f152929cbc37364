/* core/lazy_blas.c - the BLAS and LAPACK functions that FAISS calls, each
 * forwarding to the real one, opened on first use (core/lazylib.h).
 *
 * FAISS (Debian's static libfaiss.a) calls them by their Fortran names, so
 * these stubs must carry those names, and a program that links them gets
 * them in place of its own BLAS. That is why this file is not part of
 * libclipsearch.a: the clipsearch program, libclipsearch.so (where they are
 * hidden) and the tests link it; a program that links libclipsearch.a links
 * a BLAS and LAPACK of its own (clipsearch.pc says so). */
#include "core/lazylib.h"

/* Fortran calling convention: every argument by address, as the reference
 * BLAS/LAPACK declare them (the counts below); FAISS declares them returning
 * int and ignores the value. The FAISS bridge checks cs_blas_available()
 * before any call that may reach them. */
STUB(cs_lazy_blas, int, sgemm_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10, void *a11, void *a12, void *a13),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13), 0)
STUB(cs_lazy_blas, int, dgemm_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10, void *a11, void *a12, void *a13),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13), 0)
STUB(cs_lazy_blas, int, ssyrk_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10), 0)
STUB(cs_lazy_lapack, int, sgeqrf_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8),
     (a1, a2, a3, a4, a5, a6, a7, a8), 0)
STUB(cs_lazy_lapack, int, sorgqr_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9), 0)
STUB(cs_lazy_lapack, int, sgesvd_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10, void *a11, void *a12, void *a13, void *a14),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14), 0)
STUB(cs_lazy_lapack, int, dgesvd_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10, void *a11, void *a12, void *a13, void *a14),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14), 0)
STUB(cs_lazy_lapack, int, sgetrf_, (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6),
     (a1, a2, a3, a4, a5, a6), 0)
STUB(cs_lazy_lapack, int, sgetri_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7),
     (a1, a2, a3, a4, a5, a6, a7), 0)
STUB(cs_lazy_lapack, int, dgetrf_, (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6),
     (a1, a2, a3, a4, a5, a6), 0)
STUB(cs_lazy_lapack, int, dgetri_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7),
     (a1, a2, a3, a4, a5, a6, a7), 0)
STUB(cs_lazy_lapack, int, dsyev_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9), 0)
STUB(cs_lazy_lapack, int, sgelsd_,
     (void *a1, void *a2, void *a3, void *a4, void *a5, void *a6, void *a7, void *a8, void *a9,
      void *a10, void *a11, void *a12, void *a13, void *a14),
     (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14), 0)
