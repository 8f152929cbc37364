/* core/lazylib.h - optional shared libraries opened on first use.
 *
 * libheif, libcurl and libmicrohttpd pull in ~35 more libraries (x265, aom,
 * dav1d, de265, OpenSSL, GnuTLS, Kerberos, LDAP, ...). Linked normally, the
 * dynamic loader maps and relocates all of them, and runs their
 * constructors, at the start of every clipsearch process - 9-13 ms of an
 * 80 ms cold search, though a search calls none of them. BLAS/LAPACK (for
 * FAISS) too: OpenBLAS's pthread build also starts a thread per core at
 * load, which spins ~0.1 s on sched_yield, taking a core from the search. So they are not
 * linked: core/lazy_stubs.c defines each function we call, with the same
 * prototype under our own name (core/lazy_curl.h, lazy_heif.h, lazy_mhd.h
 * rename them, so that they never stand in for the real library in a
 * program that links both), as a call through a pointer that dlopen/dlsym
 * fill on the first call. core/lazy_blas.c does the same for the BLAS and
 * LAPACK functions FAISS calls. A function of these libraries that is used
 * for the first time needs a stub (else the link fails with an undefined
 * reference, so it cannot be forgotten). */
#ifndef CS_CORE_LAZYLIB_H
#define CS_CORE_LAZYLIB_H

#include <pthread.h>
#include <string.h>

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

/* BLAS and LAPACK under the names Debian's alternatives give whichever is
 * installed; their stubs are in core/lazy_blas.c. */
extern cs_lazy_lib cs_lazy_blas, cs_lazy_lapack;

/* Whether BLAS and LAPACK can be loaded (FAISS needs them to train and to
 * search in batches); loads them. */
int cs_blas_available(void);

#ifndef __cplusplus /* the FAISS bridge needs only cs_blas_available */
#include <stdatomic.h>

/* cs_lazy_sym, looked up once and kept in *cache (a benign race: every
 * thread stores the same pointer). */
void *cs_lazy_cached(cs_lazy_lib *lib, const char *name, void *_Atomic *cache);

/* ret name(params): calls the real function named like `name` as written
 * (the stubs are declared under our names: core/lazy_curl.h, ...), or returns
 * fail when it cannot be loaded. */
#define STUB(lib, ret, name, params, args, fail)                                                   \
    ret name params {                                                                              \
        static void *_Atomic cache;                                                                \
        void *sym_ = cs_lazy_cached(&lib, #name, &cache);                                          \
        if (!sym_) return fail;                                                                    \
        ret(*real) params;                                                                         \
        memcpy(&real, &sym_, sizeof real);                                                         \
        return real args;                                                                          \
    }

#define VSTUB(lib, name, params, args)                                                             \
    void name params {                                                                             \
        static void *_Atomic cache;                                                                \
        void *sym_ = cs_lazy_cached(&lib, #name, &cache);                                          \
        if (!sym_) return;                                                                         \
        void(*real) params;                                                                        \
        memcpy(&real, &sym_, sizeof real);                                                         \
        real args;                                                                                 \
    }
#endif

#endif
