// index/faiss_bridge.cpp - the extern "C" bridge to Debian's static FAISS
// (see faiss_bridge.h). The only C++ in the project: kept to calls into FAISS
// and the conversion of its exceptions into cs_status + message.
#include "index/faiss_bridge.h"

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

} // namespace

extern "C" cs_status cs_fb_build(const float *x, int64_t n, int dim, const char *factory,
                                 cs_fb_index **out, cs_error *err) {
    *out = nullptr;
    if (cs_status st = need_blas(err)) return st;
    auto h = std::make_unique<cs_fb_index>();
    if (!factory) {
        // The seed's layout: faiss.IndexIDMap(faiss.IndexFlatIP(d)).
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
    return guarded(path, err, [&] {
        auto h = std::make_unique<cs_fb_index>();
        h->index.reset(faiss::read_index(path));
        *out = h.release();
        return CS_OK;
    });
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
            // IVF lists are stored out of order: reconstruct needs the direct map.
            if (auto *ivf = faiss::ivflib::try_extract_index_ivf(base)) ivf->make_direct_map(true);
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
