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
