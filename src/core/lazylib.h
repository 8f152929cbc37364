/* core/lazylib.h - optional shared libraries opened on first use.
 *
 * libheif, libcurl and libmicrohttpd pull in ~35 more libraries (x265, aom,
 * dav1d, de265, OpenSSL, GnuTLS, Kerberos, LDAP, ...). Linked normally, the
 * dynamic loader maps and relocates all of them, and runs their
 * constructors, at the start of every clipsearch process - 9-13 ms of an
 * 80 ms cold search, though a search calls none of them. BLAS/LAPACK (for
 * FAISS) too: OpenBLAS's pthread build also starts a thread per core at
 * load, which spins ~0.1 s on sched_yield, taking a core from the search. So they are not
 * linked: core/lazy_stubs.c defines each function the library calls, with
 * the same prototype, as a call through a pointer that dlopen/dlsym fill on
 * the first call. Calling code is unchanged. A function of these libraries
 * that is used for the first time needs a stub there (else the link fails
 * with an undefined reference, so it cannot be forgotten). */
#ifndef CS_CORE_LAZYLIB_H
#define CS_CORE_LAZYLIB_H

#include <pthread.h>

typedef struct cs_lazy_lib {
    const char *soname; /* e.g. "libcurl.so.4" */
    pthread_mutex_t lock;
    int tried;
    void *handle; /* NULL when it could not be opened */
} cs_lazy_lib;

#define CS_LAZY_LIB(so)                                                                            \
    { so, PTHREAD_MUTEX_INITIALIZER, 0, NULL }

/* The address of `name` in lib, opening lib on first use; NULL when the
 * library or the symbol is missing (the stub then returns its failure). */
void *cs_lazy_sym(cs_lazy_lib *lib, const char *name);

/* Whether BLAS and LAPACK can be loaded (FAISS needs them to train and to
 * search in batches); loads them. */
int cs_blas_available(void);

#endif
