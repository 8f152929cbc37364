/* core/lazylib.c - dlopen on first use (see lazylib.h). */
#include "core/lazylib.h"

#include <dlfcn.h>

void *cs_lazy_sym(cs_lazy_lib *lib, const char *name) {
    pthread_mutex_lock(&lib->lock);
    if (!lib->tried) {
        /* RTLD_LOCAL: its symbols stay out of the global scope, as when it
         * was only reached through our stubs */
        lib->handle = dlopen(lib->soname, RTLD_LAZY | RTLD_LOCAL);
        lib->tried = 1;
    }
    void *h = lib->handle;
    pthread_mutex_unlock(&lib->lock);
    return h ? dlsym(h, name) : NULL;
}

void *cs_lazy_cached(cs_lazy_lib *lib, const char *name, void *_Atomic *cache) {
    void *p = atomic_load_explicit(cache, memory_order_acquire);
    if (!p && (p = cs_lazy_sym(lib, name))) atomic_store_explicit(cache, p, memory_order_release);
    return p;
}

/* the names Debian's alternatives give whichever BLAS is installed */
cs_lazy_lib cs_lazy_blas = CS_LAZY_LIB("libblas.so.3");
cs_lazy_lib cs_lazy_lapack = CS_LAZY_LIB("liblapack.so.3");

int cs_blas_available(void) {
    return cs_lazy_sym(&cs_lazy_blas, "sgemm_") != NULL &&
           cs_lazy_sym(&cs_lazy_lapack, "sgeqrf_") != NULL;
}
