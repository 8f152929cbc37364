/* tests/hub/test_sha256.c - our SHA-256 against the test vectors of FIPS
 * 180-4's examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf"), fed in
 * one piece and in every split, and against coreutils' sha256sum on a
 * file. */
#include <fcntl.h>
#include <unistd.h>

#include "hub/sha256.h"
#include "test.h"

static void hex_of(const void *data, size_t size, char hex[65]) {
    cs_sha256 s;
    uint8_t d[32];
    cs_sha256_init(&s);
    cs_sha256_update(&s, data, size);
    cs_sha256_final(&s, d);
    cs_sha256_hex(d, hex);
}

static void check_vector(const char *msg, size_t size, const char *want) {
    char hex[65];
    hex_of(msg, size, hex);
    CHECK_MSG(!strcmp(hex, want), "%zu bytes: got %s want %s", size, hex, want);
    /* The same bytes in two pieces, split everywhere: block boundaries and
     * the buffered tail must not change the sum. */
    for (size_t cut = 0; cut <= size; cut++) {
        cs_sha256 s;
        uint8_t d[32];
        cs_sha256_init(&s);
        cs_sha256_update(&s, msg, cut);
        cs_sha256_update(&s, msg + cut, size - cut);
        cs_sha256_final(&s, d);
        cs_sha256_hex(d, hex);
        if (strcmp(hex, want) != 0) {
            CHECK_MSG(0, "%zu bytes split at %zu: got %s", size, cut, hex);
            break;
        }
    }
}

int main(void) {
    check_vector("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_vector("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_vector(two, strlen(two),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    check_vector(four, strlen(four),
                 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* 55, 56 and 64 bytes: the padding's edge cases (SHA2_Additional). */
    char zeros[1000] = {0};
    check_vector(zeros, 55, "02779466cdec163811d078815c633f21901413081449002f24aa3e80f0b88ef7");
    check_vector(zeros, 56, "d4817aa5497628e7c77e6b606107042bbba3130888c5f47a375e6179be789fbb");
    check_vector(zeros, 57, "65a16cb7861335d5ace3c60718b5052e44660726da4cd13bb745381b235a1785");
    check_vector(zeros, 64, "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
    check_vector(zeros, 1000, "541b3e9daa09b20bf85fa273e5cbd3e80185aa4ec298e765db87742b70138a53");

    /* One million 'a' (FIPS 180-4 example), in uneven chunks. */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    cs_sha256 s;
    uint8_t d[32];
    char hex[65];
    cs_sha256_init(&s);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 3 % 9973 + 1)
        cs_sha256_update(&s, a + off, off + step > sizeof a ? sizeof a - off : step);
    cs_sha256_final(&s, d);
    cs_sha256_hex(d, hex);
    CHECK_MSG(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
              "million a: %s", hex);

    /* A file of pseudo-random bytes against coreutils, through cs_sha256_fd. */
    char path[300];
    snprintf(path, sizeof path, "%s/data", cs_test_tmpdir());
    FILE *out = fopen(path, "wb");
    uint32_t x = 12345;
    for (int i = 0; out && i < 3000001; i++) {
        x = x * 1664525u + 1013904223u;
        fputc((int)(x >> 24), out);
    }
    CHECK(out && fclose(out) == 0);
    char cmd[400], want[80] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    if (p && fgets(want, sizeof want, p)) want[64] = 0;
    if (p) pclose(p);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && strlen(want) == 64);
    if (fd >= 0) {
        cs_error err;
        cs_sha256_init(&s);
        CHECK_OK(cs_sha256_fd(&s, fd, (uint64_t)lseek(fd, 0, SEEK_END), path, &err), &err);
        cs_sha256_final(&s, d);
        cs_sha256_hex(d, hex);
        CHECK_MSG(!strcmp(hex, want), "%s: got %s, sha256sum says %s", path, hex, want);
        close(fd);
    }
    unlink(path);
    return cs_test_done("test_sha256");
}
