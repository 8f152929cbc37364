// index/faiss_bridge.cpp - the extern "C" bridge to Debian's static FAISS
// (see faiss_bridge.h). The only C++ in the project: kept to calls into FAISS
// and the conversion of its exceptions into cs_status + message.
#include "index/faiss_bridge.h"
#include "index/faiss_shape.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <omp.h>
#include <unistd.h>

#include <faiss/IVFlib.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

extern "C" {
#include "core/error.h"
#include "core/file.h"
#include "core/lazylib.h"
#include "hub/sha256.h"
}

struct cs_fb_index {
    std::unique_ptr<faiss::Index> index;
};

namespace {

// Runs fn, turning any exception into a status. `what` names the file or
// operation for the message.
template <class Fn> cs_status guarded(const char *what, cs_error *err, Fn fn) {
    try {
        return fn();
    } catch (const std::bad_alloc &) {
        return cs_fail(err, CS_ENOMEM, "%s: out of memory in FAISS", what);
    } catch (const faiss::FaissException &e) {
        return cs_fail(err, CS_EFORMAT, "%s: FAISS: %s", what, e.what());
    } catch (const std::exception &e) {
        return cs_fail(err, CS_EINTERNAL, "%s: FAISS: %s", what, e.what());
    } catch (...) {
        return cs_fail(err, CS_EINTERNAL, "%s: FAISS: unknown exception", what);
    }
}

std::vector<faiss::Index::idx_t> iota_ids(int64_t n) {
    std::vector<faiss::Index::idx_t> ids((size_t)n);
    for (int64_t i = 0; i < n; i++) ids[(size_t)i] = i;
    return ids;
}

// FAISS's serialiser writing to a descriptor through a buffer, hashing what
// it writes; a failed write() (a full disk) keeps its errno and makes FAISS
// throw, which the caller turns into our message.
struct HashingWriter : faiss::IOWriter {
    int fd;
    int error = 0;
    cs_sha256 sha;
    std::vector<char> buf;
    explicit HashingWriter(int f) : fd(f) {
        cs_sha256_init(&sha);
        buf.reserve(1 << 20);
    }
    bool flush() {
        size_t done = 0;
        while (done < buf.size() && !error) {
            ssize_t w = ::write(fd, buf.data() + done, buf.size() - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                error = w < 0 ? errno : EIO;
            else
                done += (size_t)w;
        }
        buf.clear();
        return !error;
    }
    size_t operator()(const void *ptr, size_t size, size_t nitems) override {
        size_t bytes = size * nitems;
        if (error || (size && bytes / size != nitems)) return 0;
        cs_sha256_update(&sha, ptr, bytes);
        const char *p = static_cast<const char *>(ptr);
        while (bytes) {
            size_t room = buf.capacity() - buf.size(), take = bytes < room ? bytes : room;
            buf.insert(buf.end(), p, p + take);
            p += take;
            bytes -= take;
            if (buf.size() == buf.capacity() && !flush()) return 0;
        }
        return nitems;
    }
};

// FAISS's deserialiser reading from bytes in place (a file's mapping): a
// read past the end is a short count, which FAISS turns into an exception.
struct MemReader : faiss::IOReader {
    const uint8_t *data;
    size_t size, pos = 0;
    MemReader(const uint8_t *d, size_t n) : data(d), size(n) {
        name = "memory";
    }
    size_t operator()(void *ptr, size_t item, size_t nitems) override {
        if (item == 0 || nitems == 0) return 0;
        size_t fit = (size - pos) / item, n = nitems < fit ? nitems : fit;
        if (n) memcpy(ptr, data + pos, n * item);
        pos += n * item;
        return n;
    }
};

// FAISS's messages carry the C++ function and source line ("Error in ...
// at faiss/Clustering.cpp:280: Error: 'nx >= k' failed: Number of training
// points (10) should be..."): the sentence at the end is what a user reads.
std::string plain(const char *what) {
    std::string s(what);
    size_t at = s.rfind("failed: ");
    if (at != std::string::npos) return s.substr(at + 8);
    for (const char *ext : {".cpp:", ".h:"}) {
        size_t p = s.rfind(ext);
        if (p == std::string::npos) continue;
        p += strlen(ext);
        while (p < s.size() && isdigit((unsigned char)s[p])) p++;
        while (p < s.size() && (s[p] == ':' || s[p] == ' ')) p++;
        return s.substr(p);
    }
    return s;
}

// What training needs, said before FAISS is asked: k-means wants at least
// as many points as centroids (IVF lists, 2^nbits PQ codes).
cs_status check_training(faiss::Index *index, const char *factory, int64_t n, cs_error *err) {
    if (index->is_trained) return CS_OK;
    if (n == 0)
        return cs_fail(err, CS_EINVAL, "%s needs vectors to train; the catalogue is empty",
                       factory);
    if (auto *ivf = faiss::ivflib::try_extract_index_ivf(index)) {
        if ((int64_t)ivf->nlist > n)
            return cs_fail(err, CS_EINVAL,
                           "%s: IVF%zu needs at least %zu vectors to train; the catalogue has %lld",
                           factory, ivf->nlist, ivf->nlist, (long long)n);
        if (auto *ivfpq = dynamic_cast<faiss::IndexIVFPQ *>(ivf))
            if ((int64_t)ivfpq->pq.ksub > n)
                return cs_fail(err, CS_EINVAL,
                               "%s: a product quantizer of %zu bits needs at least %zu vectors "
                               "to train; the catalogue has %lld",
                               factory, ivfpq->pq.nbits, ivfpq->pq.ksub, (long long)n);
    }
    if (auto *pq = dynamic_cast<faiss::IndexPQ *>(index))
        if ((int64_t)pq->pq.ksub > n)
            return cs_fail(err, CS_EINVAL,
                           "%s: a product quantizer of %zu bits needs at least %zu vectors to "
                           "train; the catalogue has %lld",
                           factory, pq->pq.nbits, pq->pq.ksub, (long long)n);
    return CS_OK;
}

// FAISS's k-means prints "WARNING clustering N points to K centroids" on
// stderr when there are fewer than 39 training points per centroid; a library
// must not print, and the result is still a working index, so lower the bar
// for the clusterings we can reach (IVF lists, PQ codebooks).
void quiet_training(faiss::Index *index) {
    if (auto *ivf = faiss::ivflib::try_extract_index_ivf(index)) {
        ivf->cp.min_points_per_centroid = 1;
        if (auto *ivfpq = dynamic_cast<faiss::IndexIVFPQ *>(ivf))
            ivfpq->pq.cp.min_points_per_centroid = 1;
    }
    if (auto *pq = dynamic_cast<faiss::IndexPQ *>(index)) pq->pq.cp.min_points_per_centroid = 1;
}

// FAISS reaches BLAS/LAPACK (opened on first use: core/lazylib.h) when it
// trains and when it searches in batches: refused here if they cannot load.
cs_status need_blas(cs_error *err) {
    if (cs_blas_available()) return CS_OK;
    return cs_fail(err, CS_EUNSUPPORTED,
                   "FAISS needs BLAS and LAPACK: libblas.so.3 or liblapack.so.3 cannot be loaded");
}

// ---- what read_index hands back, checked before anything uses it --------
//
// faiss::read_index takes each count and size from the file and checks few
// of them against one another: a file whose ntotal, code arrays, inverted
// lists or graph disagree loads, and the first search then reads past an
// array. Each type we read is checked for the invariants its search relies
// on, with overflow-safe sizes; any other type is refused.

bool mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

const char *check_index(const faiss::Index *ix, int depth);

const char *check_codes(const faiss::IndexFlatCodes *f) {
    uint64_t want;
    if (f->code_size == 0 || !mul_ok((uint64_t)f->ntotal, f->code_size, &want) ||
        f->codes.size() != want)
        return "its code array does not hold ntotal codes";
    if (auto *flat = dynamic_cast<const faiss::IndexFlat *>(f))
        if (flat->code_size != (size_t)flat->d * sizeof(float))
            return "a flat index whose code size is not d floats";
    if (auto *pq = dynamic_cast<const faiss::IndexPQ *>(f)) {
        uint64_t c;
        if (pq->pq.d != (size_t)pq->d || pq->pq.code_size != pq->code_size || pq->pq.nbits == 0 ||
            pq->pq.nbits > 16 || pq->pq.ksub != (size_t)1 << pq->pq.nbits ||
            !mul_ok(pq->pq.d, pq->pq.ksub, &c) || pq->pq.centroids.size() != c)
            return "a product quantizer whose sizes disagree";
    }
    if (auto *sq = dynamic_cast<const faiss::IndexScalarQuantizer *>(f))
        if (sq->sq.d != (size_t)sq->d || sq->sq.code_size != sq->code_size)
            return "a scalar quantizer whose sizes disagree";
    return nullptr;
}

const char *check_ivf(const faiss::IndexIVF *ivf, int depth) {
    if (!ivf->quantizer || ivf->quantizer->d != ivf->d ||
        ivf->quantizer->ntotal != (int64_t)ivf->nlist)
        return "its coarse quantizer does not hold nlist centroids of dimension d";
    if (const char *why = check_index(ivf->quantizer, depth + 1)) return why;
    auto *lists = dynamic_cast<const faiss::ArrayInvertedLists *>(ivf->invlists);
    if (!lists || lists->nlist != ivf->nlist || lists->code_size != ivf->code_size ||
        lists->codes.size() != ivf->nlist || lists->ids.size() != ivf->nlist)
        return "its inverted lists do not match its nlist and code size";
    uint64_t total = 0, want;
    for (size_t i = 0; i < ivf->nlist; i++) {
        if (!mul_ok(lists->ids[i].size(), ivf->code_size, &want) || lists->codes[i].size() != want)
            return "an inverted list whose codes and ids disagree";
        for (auto id : lists->ids[i])
            if (id < 0) return "a negative id (FAISS's -1 means no result)";
        total += lists->ids[i].size();
    }
    if (total != (uint64_t)ivf->ntotal) return "its inverted lists do not hold ntotal vectors";
    if (auto *pq = dynamic_cast<const faiss::IndexIVFPQ *>(ivf)) {
        uint64_t c;
        if (pq->pq.d != (size_t)pq->d || pq->pq.code_size != pq->code_size || pq->pq.nbits == 0 ||
            pq->pq.nbits > 16 || pq->pq.ksub != (size_t)1 << pq->pq.nbits ||
            !mul_ok(pq->pq.d, pq->pq.ksub, &c) || pq->pq.centroids.size() != c)
            return "a product quantizer whose sizes disagree";
    } else if (auto *sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ivf)) {
        if (sq->sq.d != (size_t)sq->d || sq->sq.code_size != sq->code_size)
            return "a scalar quantizer whose sizes disagree";
    } else if (!dynamic_cast<const faiss::IndexIVFFlat *>(ivf)) {
        return "an IVF type clipsearch does not read";
    } else if (ivf->code_size != (size_t)ivf->d * sizeof(float)) {
        return "an IVF-Flat index whose code size is not d floats";
    }
    return nullptr;
}

const char *check_hnsw(const faiss::IndexHNSW *h, int depth) {
    const faiss::HNSW &g = h->hnsw;
    uint64_t n = (uint64_t)h->ntotal;
    if (!h->storage || h->storage->ntotal != h->ntotal || h->storage->d != h->d)
        return "its vector storage does not hold ntotal vectors of dimension d";
    if (const char *why = check_index(h->storage, depth + 1)) return why;
    if (g.levels.size() != n || g.offsets.size() != n + 1 || g.offsets[0] != 0 ||
        g.offsets.back() != g.neighbors.size() || g.cum_nneighbor_per_level.empty())
        return "its graph does not hold ntotal nodes";
    int levels = (int)g.cum_nneighbor_per_level.size() - 1;
    for (uint64_t i = 0; i < n; i++) {
        if (g.levels[i] < 1 || g.levels[i] > levels || g.offsets[i + 1] < g.offsets[i] ||
            g.offsets[i + 1] - g.offsets[i] != (size_t)g.cum_nneighbor_per_level[g.levels[i]])
            return "a graph node whose links disagree with its level";
    }
    for (auto v : g.neighbors)
        if (v < -1 || (int64_t)v >= h->ntotal) return "a graph link to a node that is not there";
    if (g.entry_point < -1 || (int64_t)g.entry_point >= h->ntotal ||
        (n > 0 && (g.entry_point < 0 || g.max_level != g.levels[g.entry_point] - 1)) ||
        g.max_level >= levels)
        return "a graph whose entry point is not one of its nodes";
    for (size_t l = 1; l < g.cum_nneighbor_per_level.size(); l++)
        if (g.cum_nneighbor_per_level[l] < g.cum_nneighbor_per_level[l - 1])
            return "a graph whose links per level disagree";
    return nullptr;
}

const char *check_index(const faiss::Index *ix, int depth) {
    if (!ix || depth > 4) return "indexes nested too deep";
    if (ix->d <= 0 || ix->d > 65536) return "a dimension outside 1..65536";
    if (ix->ntotal < 0 || ix->ntotal > ((int64_t)1 << 40)) return "a vector count out of range";
    /* read as a raw int: any other value makes FAISS's scanners null */
    int metric; /* copied as bytes: loading an enum holding no enumerator is undefined */
    static_assert(sizeof metric == sizeof ix->metric_type, "MetricType is an int");
    memcpy(&metric, &ix->metric_type, sizeof metric);
    if (metric != faiss::METRIC_INNER_PRODUCT && metric != faiss::METRIC_L2)
        return "a metric other than inner product or L2";
    if (auto *m = dynamic_cast<const faiss::IndexIDMap *>(ix)) {
        if (!m->index || m->index->d != m->d || m->index->ntotal != m->ntotal ||
            m->id_map.size() != (size_t)m->ntotal)
            return "its id map does not hold ntotal ids for its index";
        for (auto id : m->id_map)
            if (id < 0) return "a negative id (FAISS's -1 means no result)";
        return check_index(m->index, depth + 1);
    }
    if (auto *f = dynamic_cast<const faiss::IndexFlatCodes *>(ix)) return check_codes(f);
    if (auto *ivf = dynamic_cast<const faiss::IndexIVF *>(ix)) return check_ivf(ivf, depth);
    if (auto *h = dynamic_cast<const faiss::IndexHNSW *>(ix)) return check_hnsw(h, depth);
    return "an index type clipsearch does not read (flat, IDMap, IVF-Flat/PQ/SQ, PQ, SQ, HNSW)";
}

// Whether the ids in an IVF index's lists are each of 0..ntotal-1 once.
bool ids_are_rows(const faiss::IndexIVF *ivf) {
    std::vector<bool> seen((size_t)ivf->ntotal);
    for (size_t l = 0; l < ivf->nlist; l++) {
        faiss::InvertedLists::ScopedIds ids(ivf->invlists, l);
        for (size_t i = 0, n = ivf->invlists->list_size(l); i < n; i++) {
            int64_t id = ids[i];
            if (id < 0 || id >= ivf->ntotal || seen[(size_t)id]) return false;
            seen[(size_t)id] = true;
        }
    }
    return true;
}

cs_status checked(const char *path, cs_fb_index *h, cs_error *err) {
    if (const char *why = check_index(h->index.get(), 0))
        return cs_fail(err, CS_EFORMAT, "%s: not a FAISS index clipsearch can use: %s", path, why);
    return CS_OK;
}

} // namespace

extern "C" cs_status cs_fb_read_mem(const void *data, size_t size, const char *name,
                                    cs_fb_index **out, cs_error *err) {
    *out = nullptr;
    if (const char *why = cs_faiss_shape_check((const uint8_t *)data, size))
        return cs_fail(err, CS_EFORMAT, "%s: not a FAISS index clipsearch can use: %s", name, why);
    auto h = std::make_unique<cs_fb_index>();
    cs_status st = guarded(name, err, [&] {
        MemReader r((const uint8_t *)data, size);
        // IVF-PQ's precomputed table is left out: its size is nlist x M x
        // 2^nbits floats, a product of counts (up to FAISS's 2 GiB cap) that
        // no file length bounds; searches compute the distances per list.
        h->index.reset(faiss::read_index(&r, faiss::IO_FLAG_SKIP_PRECOMPUTE_TABLE));
        return CS_OK;
    });
    if (!st) st = checked(name, h.get(), err);
    if (!st) *out = h.release();
    return st;
}

extern "C" cs_status cs_fb_build(const float *x, int64_t n, int dim, const char *factory,
                                 cs_fb_index **out, cs_error *err) {
    *out = nullptr;
    if (cs_status st = need_blas(err)) return st;
    auto h = std::make_unique<cs_fb_index>();
    if (!factory) {
        // The layout the Python tutorial writes and reads back:
        // faiss.IndexIDMap(faiss.IndexFlatIP(d)).
        cs_status st = guarded("FAISS", err, [&] {
            auto map = std::make_unique<faiss::IndexIDMap>(new faiss::IndexFlatIP(dim));
            map->own_fields = true;
            h->index = std::move(map);
            return CS_OK;
        });
        if (st) return st;
    } else {
        try {
            h->index.reset(faiss::index_factory(dim, factory, faiss::METRIC_INNER_PRODUCT));
        } catch (const std::bad_alloc &) {
            return cs_fail(err, CS_ENOMEM, "%s: out of memory in FAISS", factory);
        } catch (const std::exception &e) {
            return cs_fail(err, CS_EINVAL,
                           "'%s' is not an index type FAISS can build (faiss.index_factory "
                           "syntax, e.g. \"IVF256,Flat\" or \"HNSW32\"): %s",
                           factory, plain(e.what()).c_str());
        }
    }
    if (cs_status st = check_training(h->index.get(), factory ? factory : "Flat", n, err))
        return st;
    if (!h->index->is_trained) {
        quiet_training(h->index.get());
        try {
            h->index->train(n, x);
        } catch (const std::bad_alloc &) {
            return cs_fail(err, CS_ENOMEM, "%s: out of memory training it", factory);
        } catch (const std::exception &e) {
            return cs_fail(err, CS_EINVAL, "%s: FAISS could not train it on %lld vectors: %s",
                           factory, (long long)n, plain(e.what()).c_str());
        }
    }
    cs_status st = guarded(factory ? factory : "FAISS", err, [&] {
        if (auto *map = dynamic_cast<faiss::IndexIDMap *>(h->index.get())) {
            std::vector<faiss::Index::idx_t> ids = iota_ids(n);
            map->add_with_ids(n, x, ids.data());
        } else {
            h->index->add(n, x);
        }
        return CS_OK;
    });
    if (st) return st;
    *out = h.release();
    return CS_OK;
}

extern "C" cs_status cs_fb_write_tmp(const cs_fb_index *index, const char *path, char *tmp,
                                     size_t tmp_cap, uint8_t sha256[32], cs_error *err) {
    if (snprintf(tmp, tmp_cap, "%s.XXXXXX", path) >= (int)tmp_cap)
        return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cs_fail(err, CS_EIO, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(errno));
    fchmod(fd, 0644); // mkstemp makes 0600; an exported index is meant to be shared
    HashingWriter w(fd);
    cs_status st = CS_OK;
    try {
        faiss::write_index(index->index.get(), &w);
        if (!w.flush()) throw std::runtime_error("write");
    } catch (const std::bad_alloc &) {
        st = cs_fail(err, CS_ENOMEM, "%s: out of memory writing it", path);
    } catch (const std::exception &e) {
        st = w.error ? cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(w.error))
                     : cs_fail(err, CS_EIO, "%s: FAISS: %s", tmp, plain(e.what()).c_str());
    }
    if (!st && fsync(fd) != 0)
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !st)
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (st)
        unlink(tmp);
    else
        cs_sha256_final(&w.sha, sha256);
    return st;
}

extern "C" cs_status cs_fb_flat_ip(const float *x, int64_t n, int dim, cs_fb_index **out,
                                   cs_error *err) {
    *out = nullptr;
    return guarded("IndexFlatIP", err, [&] {
        auto h = std::make_unique<cs_fb_index>();
        h->index = std::make_unique<faiss::IndexFlatIP>(dim);
        h->index->add(n, x);
        *out = h.release();
        return CS_OK;
    });
}

extern "C" cs_status cs_fb_read(const char *path, cs_fb_index **out, cs_error *err) {
    *out = nullptr;
    cs_map map;
    if (cs_status st = cs_map_file(path, &map, err)) return st;
    cs_status st = cs_fb_read_mem(map.data, map.size, path, out, err);
    cs_unmap(&map);
    return st;
}

extern "C" void cs_fb_free(cs_fb_index *index) {
    delete index;
}

extern "C" int64_t cs_fb_ntotal(const cs_fb_index *index) {
    return index->index->ntotal;
}

extern "C" int cs_fb_dim(const cs_fb_index *index) {
    return (int)index->index->d;
}

extern "C" int cs_fb_is_inner_product(const cs_fb_index *index) {
    return index->index->metric_type == faiss::METRIC_INNER_PRODUCT;
}

extern "C" cs_status cs_fb_search(const cs_fb_index *index, int64_t nq, const float *q, int k,
                                  float *distances, int64_t *labels, cs_error *err) {
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS ids are 64-bit");
    if (cs_status st = need_blas(err)) return st;
    return guarded("FAISS search", err, [&] {
        index->index->search(nq, q, k, distances, reinterpret_cast<faiss::Index::idx_t *>(labels));
        return CS_OK;
    });
}

extern "C" cs_status cs_fb_reconstruct_all(cs_fb_index *index, float *vectors, int64_t *ids,
                                           cs_error *err) {
    return guarded("FAISS reconstruct", err, [&] {
        faiss::Index *base = index->index.get();
        const faiss::Index::idx_t *id_map = nullptr;
        if (auto *map = dynamic_cast<faiss::IndexIDMap *>(base)) {
            base = map->index;
            id_map = map->id_map.data();
        }
        int64_t n = base->ntotal;
        if (vectors && n > 0) {
            // FAISS writes each IVF list entry to the row its id names and
            // leaves rows no id names as they were: the ids must be 0..n-1.
            if (auto *ivf = faiss::ivflib::try_extract_index_ivf(base))
                if (!ids_are_rows(ivf))
                    throw faiss::FaissException(
                        "an IVF index whose ids are not 0..ntotal-1 cannot be read as rows");
            base->reconstruct_n(0, n, vectors);
        }
        if (ids)
            for (int64_t i = 0; i < n; i++) ids[i] = id_map ? id_map[i] : i;
        return CS_OK;
    });
}

extern "C" void cs_fb_set_threads(int n_threads) {
    if (n_threads > 0) omp_set_num_threads(n_threads);
}
