/* tests/text/test_normalize.c - the normalizer against an independent
 * implementation: Python's unicodedata (NFC), the White_Space set written
 * out, and Python's per-character str.lower() (full lowercase, which for one
 * character is what Rust's char::to_lowercase gives; no final sigma since
 * each character is lowercased alone). Random strings from scripts with
 * compositions, combining marks, case pairs and exotic spaces. Skipped
 * without /usr/bin/python3. Characters Python's Unicode database does not
 * know yet are replaced by 'a' on both sides (utf8proc may be newer). */
#include <stdio.h>
#include <unistd.h>

#include "test.h"
#include "text/text.h"

static const char *SCRIPT =
    "import sys, unicodedata\n"
    "WS = set(list(range(9, 14)) + [0x20, 0x85, 0xa0, 0x1680] + list(range(0x2000, 0x200b))\n"
    "         + [0x2028, 0x2029, 0x202f, 0x205f, 0x3000])\n"
    "for line in open(sys.argv[1]):\n"
    "    cps = [int(h, 16) for h in line.split()]\n"
    "    cps = [0x61 if unicodedata.category(chr(c)) == 'Cn' else c for c in cps]\n"
    "    s = unicodedata.normalize('NFC', ''.join(map(chr, cps)))\n"
    "    out, in_ws = [], False\n"
    "    for ch in s:\n"
    "        if ord(ch) in WS:\n"
    "            if not in_ws: out.append(' ')\n"
    "            in_ws = True\n"
    "            continue\n"
    "        in_ws = False\n"
    "        out.append(ch.lower())\n"
    "    ref = ''.join(out)\n"
    "    print(' '.join('%X' % c for c in cps) + '|' + ' '.join('%X' % ord(c) for c in ref))\n";

static uint64_t rng = 42;
static uint32_t next(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

static size_t parse_hex(const char *s, int32_t *cp, size_t cap) {
    size_t n = 0;
    char *end;
    for (;;) {
        long v = strtol(s, &end, 16);
        if (end == s || n == cap) break;
        cp[n++] = (int32_t)v;
        s = end;
    }
    return n;
}

int main(void) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP: /usr/bin/python3 not found\n");
        return 77;
    }
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E},       {0xA0, 0x24F},      {0x300, 0x36F},     {0x370, 0x3FF},
        {0x400, 0x52F},     {0x590, 0x5FF},     {0x900, 0x9FF},     {0xE00, 0xE7F},
        {0x1100, 0x11FF},   {0x1E00, 0x1FFF},   {0x2000, 0x214F},   {0x3000, 0x30FF},
        {0xAC00, 0xAD00},   {0xFB00, 0xFB4F},   {0xFF00, 0xFFEF},   {0x10400, 0x1044F},
        {0x110A0, 0x110CF}, {0x1D400, 0x1D7FF}, {0x1F300, 0x1F64F}, {0x130, 0x130},
    };
    const int n_cases = 5000;
    char in_path[] = "/tmp/cs-test-norm-XXXXXX";
    int fd = mkstemp(in_path);
    FILE *in = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!in) {
        perror(in_path);
        return 1;
    }
    for (int c = 0; c < n_cases; c++) {
        int len = 1 + (int)(next() % 12);
        for (int k = 0; k < len; k++) {
            const uint32_t *r = ranges[next() % (sizeof ranges / sizeof ranges[0])];
            fprintf(in, k ? " %X" : "%X", r[0] + next() % (r[1] - r[0] + 1));
        }
        fputc('\n', in);
    }
    fclose(in);

    char script_path[] = "/tmp/cs-test-norm-py-XXXXXX";
    fd = mkstemp(script_path);
    FILE *py = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!py || fputs(SCRIPT, py) < 0 || fclose(py) != 0) {
        perror(script_path);
        return 1;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script_path, in_path);
    FILE *ref = popen(cmd, "r");
    CHECK(ref != NULL);
    static char line[1 << 16];
    static int32_t cps[4096], want[4096];
    char utf8[4096 * 4];
    cs_cpbuf out = {0}, tmp = {0};
    int seen = 0, bad = 0;
    while (ref && fgets(line, sizeof line, ref)) {
        char *bar = strchr(line, '|');
        if (!bar) continue;
        *bar = 0;
        size_t n = parse_hex(line, cps, 4096), n_want = parse_hex(bar + 1, want, 4096), len = 0;
        for (size_t i = 0; i < n; i++) len += (size_t)cs_utf8_put(cps[i], utf8 + len);
        cs_error err;
        CHECK_OK(cs_normalize(utf8, len, &out, &tmp, &err), &err);
        seen++;
        if (out.n != n_want || memcmp(out.cp, want, n_want * sizeof *want)) {
            if (++bad <= 5) fprintf(stderr, "differs: input %s, want %s", line, bar + 1);
        }
    }
    if (ref) CHECK_EQ_INT(pclose(ref), 0);
    CHECK_EQ_INT(seen, n_cases);
    CHECK_EQ_INT(bad, 0);
    free(out.cp);
    free(tmp.cp);
    unlink(in_path);
    unlink(script_path);
    return cs_test_done("test_normalize");
}
