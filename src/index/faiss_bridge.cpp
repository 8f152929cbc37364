// index/faiss_bridge.cpp - the extern "C" bridge to Debian's static FAISS
// (see faiss_bridge.h). The only C++ in the project: kept to calls into FAISS
// and the conversion of its exceptions into cs_status + message.
#include "index/faiss_bridge.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
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
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

extern "C" {
#include "core/error.h"
#include "core/lazylib.h"
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

// write_index to "path.XXXXXX" in the same folder, fsync, rename: a crash
// leaves the old file or the new one.
cs_status write_atomic(const faiss::Index &index, const char *path, cs_error *err) {
    std::string tmp = std::string(path) + ".XXXXXX";
    int fd = mkstemp(&tmp[0]);
    if (fd < 0)
        return cs_fail(err, CS_EIO, "%s: cannot create a temporary file: %s", path,
                       strerror(errno));
    fchmod(fd, 0644); // mkstemp makes 0600; an exported index is meant to be shared
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp.c_str());
        return cs_fail(err, CS_EIO, "%s: %s", tmp.c_str(), strerror(errno));
    }
    cs_status st = guarded(path, err, [&] {
        faiss::write_index(&index, f);
        return CS_OK;
    });
    if (st == CS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp.c_str(), strerror(errno));
    if (fclose(f) != 0 && st == CS_OK)
        st = cs_fail(err, CS_EIO, "%s: cannot write: %s", tmp.c_str(), strerror(errno));
    if (st == CS_OK && rename(tmp.c_str(), path) != 0)
        st = cs_fail(err, CS_EIO, "%s: cannot rename %s into place: %s", path, tmp.c_str(),
                     strerror(errno));
    if (st != CS_OK) unlink(tmp.c_str());
    return st;
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

extern "C" cs_status cs_fb_build_write(const char *path, const float *x, int64_t n, int dim,
                                       const char *factory, cs_error *err) {
    if (cs_status st = need_blas(err)) return st;
    return guarded(path, err, [&] {
        std::unique_ptr<faiss::Index> index;
        if (!factory) {
            // The seed's layout: faiss.IndexIDMap(faiss.IndexFlatIP(d)).
            auto map = std::make_unique<faiss::IndexIDMap>(new faiss::IndexFlatIP(dim));
            map->own_fields = true;
            index = std::move(map);
        } else {
            index.reset(faiss::index_factory(dim, factory, faiss::METRIC_INNER_PRODUCT));
        }
        if (!index->is_trained) {
            quiet_training(index.get());
            index->train(n, x);
        }
        if (auto *map = dynamic_cast<faiss::IndexIDMap *>(index.get())) {
            std::vector<faiss::Index::idx_t> ids = iota_ids(n);
            map->add_with_ids(n, x, ids.data());
        } else {
            index->add(n, x);
        }
        return write_atomic(*index, path, err);
    });
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
