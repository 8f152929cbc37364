/* tests/core/test_lazylib.c - cs_lazy_sym: a library opened on first use
 * gives working functions; a missing library or symbol gives NULL (the
 * stubs' cue to fail), every time, without retrying the open. And the stubs
 * reach the real libraries: libcurl's version string comes through. */
#include "core/lazy_curl.h" /* the stubs, under our names */
#include <math.h>
#include <string.h>

#include "core/lazylib.h"
#include "test.h"

static cs_lazy_lib libm_lib = CS_LAZY_LIB("libm.so.6");
static cs_lazy_lib missing = CS_LAZY_LIB("libclipsearch-no-such-library.so.7");

int main(void) {
    void *p = cs_lazy_sym(&libm_lib, "cos");
    CHECK(p != NULL);
    if (p) {
        double (*f)(double);
        memcpy(&f, &p, sizeof f);
        CHECK(f(0.5) == cos(0.5));
    }
    CHECK(cs_lazy_sym(&libm_lib, "no_such_function_here") == NULL);
    CHECK(cs_lazy_sym(&missing, "anything") == NULL);
    CHECK(missing.tried && !missing.handle);
    CHECK(cs_lazy_sym(&missing, "anything") == NULL);

    /* through a stub (core/lazy_stubs.c) to the real libcurl */
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    CURL *c = curl_easy_init();
    CHECK(c != NULL);
    CHECK(curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK);
    CHECK(curl_easy_setopt(c, CURLOPT_TIMEOUT, 1L) == CURLE_OK);
    CHECK(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 40) == CURLE_OK);
    /* a wrong option number is refused by libcurl itself, not the stub */
    CHECK(curl_easy_setopt(c, (CURLoption)9999, 1L) != CURLE_OK);
    CHECK(strcmp(curl_easy_strerror(CURLE_OK), "No error") == 0);
    curl_easy_cleanup(c);
    return cs_test_done("lazylib");
}
