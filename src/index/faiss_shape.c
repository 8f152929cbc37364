/* index/faiss_shape.c - walks a FAISS 1.7.3 file's layout before FAISS reads
 * it (see faiss_shape.h). The layout is that of faiss/impl/index_read.cpp:
 * little-endian scalars, and vectors as a u64 element count followed by the
 * elements. Each function reads one structure and leaves the cursor after
 * it, or records why it cannot and returns 0. */
#include "index/faiss_shape.h"

#include <string.h>

#include "core/checked.h"

#define FOURCC(s)                                                                                  \
    ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | (uint32_t)(s)[3] << 24)

/* FAISS's own cap on a vector's element count (READVECTOR) */
#define MAX_COUNT ((uint64_t)1 << 40)
/* HNSW search allocates heaps of efSearch and upper_beam entries per query */
#define MAX_BEAM (1 << 20)

typedef struct walk {
    const uint8_t *p;
    size_t size, pos;
    const char *why; /* the first failure */
} walk;

typedef struct hdr { /* what the parent of an index checks against */
    int64_t d, ntotal;
} hdr;

/* the kinds of index a place in the file may hold */
enum { K_FLAT = 1, K_PQ = 2, K_SQ = 4, K_IDMAP = 8, K_IVF = 16, K_HNSW = 32 };

static int fail(walk *w, const char *why) {
    if (!w->why) w->why = why;
    return 0;
}

static int take(walk *w, void *out, size_t n) {
    if (w->size - w->pos < n) return fail(w, "cut short");
    memcpy(out, w->p + w->pos, n);
    w->pos += n;
    return 1;
}

static int u64(walk *w, uint64_t *v) {
    return take(w, v, 8);
}

static int i32(walk *w, int32_t *v) {
    return take(w, v, 4);
}

static int flag(walk *w, const char *what) { /* a C++ bool: one byte, 0 or 1 */
    uint8_t b;
    if (!take(w, &b, 1)) return 0;
    return b <= 1 || fail(w, what);
}

/* count elements of elem bytes each, skipped: they must all be in the file */
static int skip(walk *w, uint64_t count, uint64_t elem) {
    uint64_t bytes;
    if (!cs_mul_u64(count, elem, &bytes) || bytes > w->size - w->pos)
        return fail(w, "an array runs past the end of the file");
    w->pos += (size_t)bytes;
    return 1;
}

/* READVECTOR: a count, then the elements; *count is what the file says */
static int vec(walk *w, uint64_t elem, uint64_t *count) {
    if (!u64(w, count)) return 0;
    if (*count >= MAX_COUNT) return fail(w, "an array count out of range");
    return skip(w, *count, elem);
}

/* a vector whose count must be `want` */
static int vec_of(walk *w, uint64_t elem, uint64_t want, const char *what) {
    uint64_t n;
    if (!vec(w, elem, &n)) return 0;
    return n == want || fail(w, what);
}

/* read_index_header: d, ntotal, two unused counts, is_trained, metric */
static int header(walk *w, hdr *h) {
    int32_t d, metric;
    uint64_t ntotal, dummy;
    if (!i32(w, &d) || !u64(w, &ntotal) || !u64(w, &dummy) || !u64(w, &dummy)) return 0;
    if (!flag(w, "is_trained is not a boolean") || !i32(w, &metric)) return 0;
    if (d < 1 || d > 65536) return fail(w, "a dimension outside 1..65536");
    if (ntotal > MAX_COUNT) return fail(w, "a vector count out of range");
    /* any other metric has no scanner in FAISS's IVF search */
    if (metric != 0 && metric != 1) return fail(w, "a metric other than inner product or L2");
    h->d = d;
    h->ntotal = (int64_t)ntotal;
    return 1;
}

/* ntotal codes of code_size bytes */
static int codes(walk *w, const hdr *h, uint64_t code_size) {
    return vec_of(w, 1, (uint64_t)h->ntotal * code_size,
                  "its code array does not hold ntotal codes");
}

/* ProductQuantizer: d, M, nbits, then d * 2^nbits centroids. FAISS divides
 * d by M and sizes the centroids from nbits before reading them. */
static int pq(walk *w, int64_t d, uint64_t *code_size) {
    uint64_t pd, m, nbits;
    if (!u64(w, &pd) || !u64(w, &m) || !u64(w, &nbits)) return 0;
    if (pd != (uint64_t)d || m == 0 || pd % m != 0 || nbits == 0 || nbits > 16)
        return fail(w, "a product quantizer whose sizes disagree");
    if (!vec_of(w, 4, pd << nbits, "a product quantizer whose centroids are not d x 2^nbits"))
        return 0;
    *code_size = (nbits * m + 7) / 8;
    return 1;
}

/* ScalarQuantizer: qtype, rangestat, its argument, d, code_size (derived
 * again from qtype and d by FAISS), then what training found. */
static int sq(walk *w, int64_t d, uint64_t *code_size) {
    int32_t qtype, rangestat;
    float arg;
    uint64_t sd, stored;
    if (!i32(w, &qtype) || !i32(w, &rangestat) || !take(w, &arg, 4) || !u64(w, &sd) ||
        !u64(w, &stored))
        return 0;
    if (qtype < 0 || qtype > 6 || rangestat < 0 || rangestat > 3)
        return fail(w, "a scalar quantizer of a type FAISS does not have");
    if (sd != (uint64_t)d) return fail(w, "a scalar quantizer whose sizes disagree");
    uint64_t u = (uint64_t)d;
    /* QT_8bit, QT_4bit, QT_8bit_uniform, QT_4bit_uniform, QT_fp16,
     * QT_8bit_direct, QT_6bit: bytes per vector, and trained floats */
    static const int trained_per_d[7] = {2, 2, 0, 0, 0, 0, 2};
    static const int trained_fixed[7] = {0, 0, 2, 2, 0, 0, 0};
    const uint64_t sizes[7] = {u, (u + 1) / 2, u, (u + 1) / 2, 2 * u, u, (6 * u + 7) / 8};
    *code_size = sizes[qtype];
    return vec_of(w, 4, trained_per_d[qtype] * u + trained_fixed[qtype],
                  "a scalar quantizer whose trained ranges do not match its type");
}

static int index_at(walk *w, int depth, unsigned kinds, hdr *h);

/* the inverted lists: "ilar", nlist, code_size, the list sizes ("full":
 * one per list; "sprs": list number and size of the lists that are not
 * empty), then each list's codes and ids */
static int invlists(walk *w, const hdr *h, uint64_t nlist, uint64_t code_size) {
    uint32_t tag, type;
    uint64_t n, cs, count;
    if (!take(w, &tag, 4)) return 0;
    if (tag != FOURCC("ilar"))
        return fail(w, "inverted lists not stored in the file (on disk or elsewhere)");
    if (!u64(w, &n) || !u64(w, &cs) || !take(w, &type, 4)) return 0;
    if (n != nlist || cs != code_size)
        return fail(w, "its inverted lists do not match its nlist and code size");
    int sparse = type == FOURCC("sprs");
    if (!sparse && type != FOURCC("full")) return fail(w, "inverted lists of an unknown layout");
    size_t at = w->pos + 8; /* the sizes, read in place */
    if (!vec(w, 8, &count)) return 0;
    if (sparse ? count % 2 != 0 : count != nlist)
        return fail(w, "its inverted lists do not match its nlist and code size");
    uint64_t total = 0, bytes = 0, entry = code_size + 8, last = 0;
    for (uint64_t i = 0; i < count; i += 1 + (uint64_t)sparse) {
        uint64_t size;
        if (sparse) { /* ascending, as FAISS writes them: no list twice */
            uint64_t list;
            memcpy(&list, w->p + at + 8 * i, 8);
            if (list >= nlist || (i > 0 && list <= last))
                return fail(w, "an inverted list number out of order or range");
            last = list;
        }
        memcpy(&size, w->p + at + 8 * (i + (uint64_t)sparse), 8);
        uint64_t b;
        if (!cs_add_u64(total, size, &total) || !cs_mul_u64(size, entry, &b) ||
            !cs_add_u64(bytes, b, &bytes))
            return fail(w, "an inverted list size out of range");
    }
    if (total != (uint64_t)h->ntotal)
        return fail(w, "its inverted lists do not hold ntotal vectors");
    return skip(w, bytes, 1);
}

/* IndexIVF: the header, nlist and nprobe, the coarse quantizer (flat or
 * HNSW, nlist centroids of dimension d), the direct map, then per type
 * what sets the code size, then the inverted lists. */
static int ivf(walk *w, int depth, uint32_t tag, hdr *h) {
    uint64_t nlist, nprobe, code_size = 0;
    uint8_t map_type;
    hdr q;
    if (!header(w, h) || !u64(w, &nlist) || !u64(w, &nprobe)) return 0;
    if (!index_at(w, depth + 1, K_FLAT | K_HNSW, &q)) return 0;
    if (q.d != h->d || (uint64_t)q.ntotal != nlist)
        return fail(w, "its coarse quantizer does not hold nlist centroids of dimension d");
    /* DirectMap: NoMap, Array (one entry per vector) or Hashtable (pairs) */
    if (!take(w, &map_type, 1)) return 0;
    if (map_type > 2) return fail(w, "a direct map of an unknown type");
    if (!vec_of(w, 8, map_type == 1 ? (uint64_t)h->ntotal : 0, "a direct map of the wrong size"))
        return 0;
    if (map_type == 2 && !vec_of(w, 16, (uint64_t)h->ntotal, "a direct map of the wrong size"))
        return 0;
    if (tag == FOURCC("IwFl")) {
        code_size = (uint64_t)h->d * 4;
    } else if (tag == FOURCC("IwPQ")) {
        uint64_t derived;
        if (!flag(w, "by_residual is not a boolean") || !u64(w, &code_size) ||
            !pq(w, h->d, &derived))
            return 0;
        if (derived != code_size) return fail(w, "a product quantizer whose sizes disagree");
    } else { /* IwSQ, IwSq */
        uint64_t derived;
        if (!sq(w, h->d, &derived) || !u64(w, &code_size)) return 0;
        if (derived != code_size) return fail(w, "a scalar quantizer whose sizes disagree");
        if (tag == FOURCC("IwSq") && !flag(w, "by_residual is not a boolean")) return 0;
    }
    return invlists(w, h, nlist, code_size);
}

/* IndexHNSW: the graph's arrays and scalars, then its storage (flat for
 * IHNf, a scalar quantizer for IHNs) holding the same vectors. */
static int hnsw(walk *w, int depth, uint32_t tag, hdr *h) {
    uint64_t n;
    int32_t entry, max_level, ef_construction, ef_search, upper_beam;
    hdr s;
    if (!header(w, h) || !vec(w, 8, &n) || !vec(w, 4, &n)) return 0;
    if (n == 0) return fail(w, "a graph without levels");
    if (!vec_of(w, 4, (uint64_t)h->ntotal, "its graph does not hold ntotal nodes") ||
        !vec_of(w, 8, (uint64_t)h->ntotal + 1, "its graph does not hold ntotal nodes") ||
        !vec(w, 4, &n))
        return 0;
    if (!i32(w, &entry) || !i32(w, &max_level) || !i32(w, &ef_construction) ||
        !i32(w, &ef_search) || !i32(w, &upper_beam))
        return 0;
    if (ef_search < 1 || ef_search > MAX_BEAM || upper_beam < 1 || upper_beam > MAX_BEAM)
        return fail(w, "a graph search width out of range");
    if (!index_at(w, depth + 1, tag == FOURCC("IHNf") ? K_FLAT : K_SQ, &s)) return 0;
    if (s.d != h->d || s.ntotal != h->ntotal)
        return fail(w, "its vector storage does not hold ntotal vectors of dimension d");
    return 1;
}

/* IndexIDMap / IndexIDMap2: the header, the index, then one id per vector */
static int idmap(walk *w, int depth, hdr *h) {
    hdr sub;
    if (!header(w, h)) return 0;
    if (!index_at(w, depth + 1, (unsigned)~K_IDMAP, &sub)) return 0;
    if (sub.d != h->d || sub.ntotal != h->ntotal)
        return fail(w, "its id map does not hold ntotal ids for its index");
    return vec_of(w, 8, (uint64_t)h->ntotal, "its id map does not hold ntotal ids for its index");
}

static unsigned kind_of(uint32_t tag) {
    static const struct {
        const char *tag;
        unsigned kind;
    } known[] = {{"IxFI", K_FLAT},  {"IxF2", K_FLAT}, {"IxFl", K_FLAT}, {"IxPQ", K_PQ},
                 {"IxPo", K_PQ},    {"IxPq", K_PQ},   {"IxSQ", K_SQ},   {"IxMp", K_IDMAP},
                 {"IxM2", K_IDMAP}, {"IwFl", K_IVF},  {"IwPQ", K_IVF},  {"IwSQ", K_IVF},
                 {"IwSq", K_IVF},   {"IHNf", K_HNSW}, {"IHNs", K_HNSW}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (tag == FOURCC(known[i].tag)) return known[i].kind;
    return 0;
}

static int index_at(walk *w, int depth, unsigned kinds, hdr *h) {
    uint32_t tag;
    if (depth > 4) return fail(w, "indexes nested too deep");
    if (!take(w, &tag, 4)) return 0;
    unsigned kind = kind_of(tag);
    if (!kind)
        return fail(w, "an index type clipsearch does not read (flat, IDMap, IVF-Flat/PQ/SQ, PQ, "
                       "SQ, HNSW over flat or SQ)");
    if (!(kind & kinds)) return fail(w, "an index type clipsearch does not read in that place");
    uint64_t code_size;
    switch (kind) {
    case K_FLAT: /* codes counted in floats */
        return header(w, h) && vec_of(w, 4, (uint64_t)h->ntotal * (uint64_t)h->d,
                                      "its code array does not hold ntotal codes");
    case K_PQ: {
        int32_t search_type, ht;
        if (!header(w, h) || !pq(w, h->d, &code_size) || !codes(w, h, code_size)) return 0;
        if (tag == FOURCC("IxPQ")) return 1;
        if (!i32(w, &search_type) || !flag(w, "encode_signs is not a boolean") || !i32(w, &ht))
            return 0;
        /* the other search types need tables the file does not carry */
        return search_type == 0 || fail(w, "a PQ search type other than plain PQ");
    }
    case K_SQ:
        return header(w, h) && sq(w, h->d, &code_size) && codes(w, h, code_size);
    case K_IDMAP:
        return idmap(w, depth, h);
    case K_IVF:
        return ivf(w, depth, tag, h);
    default:
        return hnsw(w, depth, tag, h);
    }
}

const char *cs_faiss_shape_check(const uint8_t *data, size_t size) {
    walk w = {data, size, 0, NULL};
    hdr h;
    if (!index_at(&w, 0, ~0u, &h)) return w.why ? w.why : "not a FAISS index";
    if (w.pos != size) return "bytes after the end of the index";
    return NULL;
}
