/* A program of a library user: it links libclipsearch.a beside the real
 * libcurl and OpenBLAS and calls all three. Built and run by
 * test_static_link.sh. Prints "ok" when every function it called is the one
 * it meant: libcurl's from libcurl, BLAS's from OpenBLAS, and clipsearch's
 * FAISS training (which needs BLAS) and hub download (which needs libcurl)
 * working beside them. */
#define _GNU_SOURCE
#include <cblas.h>
#include <clipsearch.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file that defines the function at addr. */
static const char *home(void *addr) {
    Dl_info info;
    return dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "?";
}

int main(int argc, char **argv) {
    int bad = 0;
    /* libcurl: the real one */
    void *f = (void *)curl_easy_init;
    if (!strstr(home(f), "libcurl")) {
        printf("curl_easy_init comes from %s\n", home(f));
        bad = 1;
    }
    CURL *c = curl_easy_init();
    if (!c || curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/") != CURLE_OK) bad = 1;
    curl_easy_cleanup(c);
    /* BLAS: OpenBLAS's */
    f = (void *)cblas_sgemm;
    if (!strstr(home(f), "openblas")) {
        printf("cblas_sgemm comes from %s\n", home(f));
        bad = 1;
    }
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, out[4] = {0};
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, out, 2);
    if (out[0] != 19 || out[3] != 50) bad = 1;

    /* clipsearch: FAISS training (k-means calls sgemm_) ... */
    enum { N = 512, D = 16 };
    float *v = malloc(sizeof(float) * N * D);
    unsigned s = 1;
    for (int i = 0; i < N * D; i++) {
        s = s * 1103515245u + 12345u;
        v[i] = (float)(s >> 8) / (float)(1u << 24) - 0.5f;
    }
    cs_error err;
    if (cs_faiss_export(argv[1], v, N, D, "IVF4,Flat", &err) != CS_OK) {
        printf("cs_faiss_export: %s\n", err.message);
        bad = 1;
    }
    free(v);
    /* ... and a download through libcurl (nothing listens there: a network error) */
    char dir[4096];
    cs_hub_opts o = {0};
    o.endpoint = "http://127.0.0.1:1";
    o.cache_dir = argv[2];
    o.retries = -1;
    cs_status st = cs_hub_download("openai/clip-vit-base-patch32", &o, dir, sizeof dir, &err);
    if (st != CS_ENETWORK) {
        printf("cs_hub_download: status %d: %s\n", (int)st, err.message);
        bad = 1;
    }
    printf("%s\n", bad ? "FAILED" : "ok");
    return bad;
}
