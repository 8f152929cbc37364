/* tests/text/test_bpe_ref.c - our BPE (one merge at a time from a heap)
 * against the original CLIP algorithm (OpenAI's simple_tokenizer.bpe: merge
 * every occurrence of the lowest-ranked pair, repeat), run by Python on the
 * real vocab.json/merges.txt, over random words: letters, punctuation, UTF-8
 * of other scripts, and repetitive words where the order of equal-rank
 * merges matters. Needs the oracle and /usr/bin/python3 (else skipped). */
#include <stdio.h>
#include <unistd.h>

#include "test.h"
#include "text/text.h"

static const char *SCRIPT =
    "import sys, json\n"
    "d = sys.argv[1]\n"
    "bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))\n"
    "cs = bs[:]\n"
    "n = 0\n"
    "for b in range(256):\n"
    "    if b not in bs:\n"
    "        bs.append(b); cs.append(256 + n); n += 1\n"
    "b2u = dict(zip(bs, map(chr, cs)))\n"
    "enc = json.load(open(d + '/vocab.json'))\n"
    "lines = open(d + '/merges.txt', encoding='utf-8').read().split('\\n')[1:49152 - 256 - 2 + 1]\n"
    "ranks = {tuple(l.split()): i for i, l in enumerate(lines)}\n"
    "def pairs(w):\n"
    "    return set(zip(w, w[1:]))\n"
    "def bpe(token):\n"
    "    word = tuple(token[:-1]) + (token[-1] + '</w>',)\n"
    "    ps = pairs(word)\n"
    "    if not ps: return [token + '</w>']\n"
    "    while True:\n"
    "        big = min(ps, key=lambda p: ranks.get(p, float('inf')))\n"
    "        if big not in ranks: break\n"
    "        a, b = big\n"
    "        new, i = [], 0\n"
    "        while i < len(word):\n"
    "            try:\n"
    "                j = word.index(a, i)\n"
    "            except ValueError:\n"
    "                new.extend(word[i:]); break\n"
    "            new.extend(word[i:j]); i = j\n"
    "            if word[i] == a and i < len(word) - 1 and word[i + 1] == b:\n"
    "                new.append(a + b); i += 2\n"
    "            else:\n"
    "                new.append(word[i]); i += 1\n"
    "        word = tuple(new)\n"
    "        if len(word) == 1: break\n"
    "        ps = pairs(word)\n"
    "    return list(word)\n"
    "for line in open(sys.argv[2]):\n"
    "    raw = bytes.fromhex(line.strip())\n"
    "    print(' '.join(str(enc[t]) for t in bpe(''.join(b2u[b] for b in raw))))\n";

static uint64_t rng = 7;
static uint32_t next(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* One random word into w; returns its length in bytes. */
static size_t make_word(char *w) {
    static const char *const pieces[] = {
        "a", "b", "ab",       "aa",       "ing",          "th",
        "e", "s", "\xc3\xa9", "\xce\xb1", "\xe6\x9d\xb1", "\xf0\x9f\x90\xb6",
        "!", "."};
    size_t n = 0;
    switch (next() % 4) {
    case 0: /* lowercase letters */
        for (size_t len = 1 + next() % 20; n < len; n++) w[n] = (char)('a' + next() % 26);
        break;
    case 1: /* printable ASCII */
        for (size_t len = 1 + next() % 12; n < len; n++) w[n] = (char)(0x21 + next() % 94);
        break;
    case 2: /* any bytes */
        for (size_t len = 1 + next() % 10; n < len; n++) w[n] = (char)(next() % 256);
        break;
    default: /* repetitive, multi-byte */
        for (size_t k = 0, len = 1 + next() % 16; k < len; k++) {
            const char *p = pieces[next() % (sizeof pieces / sizeof pieces[0])];
            memcpy(w + n, p, strlen(p));
            n += strlen(p);
        }
    }
    return n;
}

int main(void) {
    cs_test_oracle();
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP: /usr/bin/python3 not found\n");
        return 77;
    }
    cs_error err;
    cs_tokenizer *tok = NULL;
    const char *dir = cs_test_oracle_path("tokenizer");
    char dir_copy[4096];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    CHECK_OK(cs_tokenizer_load(dir_copy, 0, &tok, &err), &err);
    if (!tok) return cs_test_done("test_bpe_ref");

    enum { N = 4000 };
    static char words[N][128];
    static size_t lens[N];
    char in_path[] = "/tmp/cs-test-bpe-XXXXXX", py_path[] = "/tmp/cs-test-bpe-py-XXXXXX";
    int fd = mkstemp(in_path);
    FILE *in = fd >= 0 ? fdopen(fd, "w") : NULL;
    fd = mkstemp(py_path);
    FILE *py = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!in || !py || fputs(SCRIPT, py) < 0 || fclose(py) != 0) {
        perror("temporary files");
        return 1;
    }
    for (int i = 0; i < N; i++) {
        lens[i] = make_word(words[i]);
        for (size_t k = 0; k < lens[i]; k++) fprintf(in, "%02x", (unsigned char)words[i][k]);
        fputc('\n', in);
    }
    fclose(in);

    char cmd[8400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s '%s' %s", py_path, dir_copy, in_path);
    FILE *ref = popen(cmd, "r");
    CHECK(ref != NULL);
    static char line[1 << 16];
    cs_bpe_work work = {0};
    int seen = 0, bad = 0;
    while (ref && seen < N && fgets(line, sizeof line, ref)) {
        int32_t want[256], got[256];
        size_t n_want = 0, n_got = 0;
        char *p = line, *end;
        for (long v; n_want < 256 && (v = strtol(p, &end, 10), end != p); p = end)
            want[n_want++] = (int32_t)v;
        CHECK(cs_bpe_word(&tok->bpe, &work, words[seen], lens[seen], got, &n_got, 256));
        if (n_got != n_want || memcmp(got, want, n_want * sizeof *want)) {
            if (++bad <= 5) {
                fprintf(stderr, "word %d differs: want %s  got", seen, line);
                for (size_t k = 0; k < n_got; k++) fprintf(stderr, " %d", (int)got[k]);
                fputc('\n', stderr);
            }
        }
        seen++;
    }
    if (ref) CHECK_EQ_INT(pclose(ref), 0);
    CHECK_EQ_INT(seen, N);
    CHECK_EQ_INT(bad, 0);
    cs_bpe_work_free(&work);
    cs_tokenizer_free(tok);
    unlink(in_path);
    unlink(py_path);
    return cs_test_done("test_bpe_ref");
}
