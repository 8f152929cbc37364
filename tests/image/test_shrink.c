/* tests/image/test_shrink.c - a file cut short while it is being decoded
 * (a copy still in progress, a photo re-saved while the indexer or the
 * server reads it) is an error or a good image, never a crash.
 *
 * Reading a file through a memory map would die of SIGBUS here: pages past
 * the new end of the file cannot be read. Another thread truncates a large
 * uncompressed BMP as soon as the decode starts; the decode of 27 MB of
 * pixels takes far longer than that. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "test.h"

#define W 3000
#define H 3000

static atomic_int started;
static char path[4096];

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A 24-bit bottom-up BMP of W x H. */
static int write_bmp(void) {
    size_t stride = ((size_t)W * 3 + 3) & ~(size_t)3, size = 54 + stride * H;
    uint8_t *b = calloc(1, size);
    if (!b) return 0;
    b[0] = 'B', b[1] = 'M';
    put32(b + 2, (uint32_t)size);
    put32(b + 10, 54);
    put32(b + 14, 40);
    put32(b + 18, W);
    put32(b + 22, H);
    b[26] = 1, b[28] = 24;
    for (size_t i = 54; i < size; i++) b[i] = (uint8_t)(i * 7);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b, 1, size, f) == size;
    if (f) ok = fclose(f) == 0 && ok;
    free(b);
    return ok;
}

static void *shrink(void *arg) {
    (void)arg;
    while (!atomic_load(&started)) {
    }
    if (truncate(path, 100) != 0) perror("truncate");
    return NULL;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/cs_shrink_%ld.bmp", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    for (int round = 0; round < 3; round++) {
        CHECK(write_bmp());
        atomic_store(&started, 0);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, shrink, NULL) == 0);
        atomic_store(&started, 1);
        cs_image img = {0};
        cs_error err = {0};
        cs_status st = cs_image_decode_file(path, NULL, &img, &err);
        pthread_join(t, NULL);
        /* Either the whole file was read before the cut, or the cut is an error. */
        if (st == CS_OK) {
            CHECK(img.width == W && img.height == H && img.rgb);
        } else {
            CHECK(img.rgb == NULL);
            CHECK_MSG(strstr(err.message, path) != NULL, "the error names the file: %s",
                      err.message);
        }
        cs_image_free(&img);
    }
    unlink(path);
    return cs_test_done("test_shrink");
}
