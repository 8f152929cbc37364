/* model/torchzip.c - PyTorch's zip checkpoint (torch.save since 1.6).
 *
 * The archive holds <prefix>/data.pkl (the state dict's pickle), one entry
 * <prefix>/data/<key> per storage, and small records (version, byteorder).
 * torch.save stores every entry uncompressed, so tensors can point straight
 * into the memory-mapped file; compressed or encrypted entries are refused.
 * Offsets come from the central directory (the local headers of torch.save
 * defer sizes to data descriptors); zip64 records are understood. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "model/pickle.h"
#include "model/tensors.h"

typedef struct zentry {
    const char *name; /* into the map, not NUL-terminated */
    size_t name_len;
    uint64_t offset, size; /* of the data in the file */
    uint32_t crc;
} zentry;

static uint64_t rd(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

/* Finds the central directory: offset, size and count of entries. */
static cs_status find_cd(const uint8_t *b, size_t size, const char *file, uint64_t *cd_off,
                         uint64_t *cd_size, uint64_t *count, cs_error *err) {
    if (size < 22) return cs_fail(err, CS_EFORMAT, "%s: not a zip archive (too short)", file);
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, e = size - 22 + 1;
    int found = 0;
    while (!found && e > lo) {
        e--;
        found = rd(b + e, 4) == 0x06054b50 && e + 22 + rd(b + e + 20, 2) == size;
    }
    if (!found)
        return cs_fail(err, CS_EFORMAT,
                       "%s: not a zip archive (no end of central directory): truncated, or a "
                       "legacy PyTorch checkpoint (save it again with torch >= 1.6)",
                       file);
    *count = rd(b + e + 10, 2);
    *cd_size = rd(b + e + 12, 4);
    *cd_off = rd(b + e + 16, 4);
    if (*count == 0xffff || *cd_size == 0xffffffff || *cd_off == 0xffffffff) {
        /* zip64: locator just before, pointing at the zip64 record */
        if (e < 20 || rd(b + e - 20, 4) != 0x07064b50)
            return cs_fail(err, CS_EFORMAT, "%s: zip64 locator missing", file);
        uint64_t z = rd(b + e - 20 + 8, 8);
        if (z > size - 56 || rd(b + z, 4) != 0x06064b50)
            return cs_fail(err, CS_EFORMAT, "%s: bad zip64 end of central directory", file);
        *count = rd(b + z + 32, 8);
        *cd_size = rd(b + z + 40, 8);
        *cd_off = rd(b + z + 48, 8);
    }
    if (*cd_off > size || *cd_size > size - *cd_off)
        return cs_fail(err, CS_EFORMAT, "%s: central directory outside the file (truncated?)",
                       file);
    if (*count > *cd_size / 46)
        return cs_fail(err, CS_EFORMAT, "%s: central directory claims %llu entries", file,
                       (unsigned long long)*count);
    return CS_OK;
}

/* Reads one central directory record at *pos; resolves its data range. */
static cs_status read_entry(const uint8_t *b, size_t size, uint64_t cd_end, uint64_t *pos,
                            const char *file, zentry *z, cs_error *err) {
    uint64_t p = *pos;
    if (cd_end - p < 46 || rd(b + p, 4) != 0x02014b50)
        return cs_fail(err, CS_EFORMAT, "%s: bad central directory record", file);
    uint64_t flags = rd(b + p + 8, 2), method = rd(b + p + 10, 2);
    uint64_t csize = rd(b + p + 20, 4), usize = rd(b + p + 24, 4);
    uint64_t nl = rd(b + p + 28, 2), xl = rd(b + p + 30, 2), cl = rd(b + p + 32, 2);
    uint64_t local = rd(b + p + 42, 4);
    if (cd_end - p - 46 < nl + xl + cl)
        return cs_fail(err, CS_EFORMAT, "%s: central directory record overruns", file);
    z->name = (const char *)b + p + 46;
    z->name_len = nl;
    z->crc = (uint32_t)rd(b + p + 16, 4);
    /* zip64 extra field: the 0xffffffff fields, in order usize, csize, offset */
    const uint8_t *x = b + p + 46 + nl, *xe = x + xl;
    while (xe - x >= 4) {
        uint64_t id = rd(x, 2), len = rd(x + 2, 2);
        if ((uint64_t)(xe - x - 4) < len) break;
        if (id == 1) {
            const uint8_t *f = x + 4, *fe = f + len;
            if (usize == 0xffffffff && fe - f >= 8) usize = rd(f, 8), f += 8;
            if (csize == 0xffffffff && fe - f >= 8) csize = rd(f, 8), f += 8;
            if (local == 0xffffffff && fe - f >= 8) local = rd(f, 8), f += 8;
        }
        x += 4 + len;
    }
    if (method != 0 || (flags & 1) || csize != usize)
        return cs_fail(err, CS_EUNSUPPORTED,
                       "%s: entry '%.*s' is compressed or encrypted (torch.save stores entries "
                       "uncompressed)",
                       file, (int)(nl > 200 ? 200 : nl), z->name);
    if (local > size || size - local < 30 || rd(b + local, 4) != 0x04034b50)
        return cs_fail(err, CS_EFORMAT, "%s: bad local header for '%.*s'", file,
                       (int)(nl > 200 ? 200 : nl), z->name);
    uint64_t data = local + 30 + rd(b + local + 26, 2) + rd(b + local + 28, 2);
    if (data > size || size - data < usize)
        return cs_fail(err, CS_EFORMAT,
                       "%s: entry '%.*s' runs past the end of the file "
                       "(truncated?)",
                       file, (int)(nl > 200 ? 200 : nl), z->name);
    z->offset = data;
    z->size = usize;
    *pos = p + 46 + nl + xl + cl;
    return CS_OK;
}

static const zentry *find_entry(const zentry *z, uint64_t n, const char *prefix, size_t pl,
                                const char *suffix) {
    size_t sl = strlen(suffix);
    for (uint64_t i = 0; i < n; i++)
        if (z[i].name_len == pl + sl && !memcmp(z[i].name, prefix, pl) &&
            !memcmp(z[i].name + pl, suffix, sl))
            return &z[i];
    return NULL;
}

/* A view with other strides (e.g. a transposed weight saved as is): its
 * elements are gathered into a new, row-major buffer the table owns. */
static cs_status add_strided(const uint8_t *base, uint64_t entry_size, const cs_pkl_tensor *t,
                             size_t el, size_t nbytes, const char *file, cs_tensor_table *tab,
                             cs_error *err) {
    /* the farthest element must lie in the entry; strides may not be negative */
    uint64_t last = (uint64_t)t->offset;
    size_t count = nbytes / el;
    for (int d = 0; d < t->ndim && count; d++) {
        uint64_t step;
        if (t->stride[d] < 0 ||
            __builtin_mul_overflow((uint64_t)(t->shape[d] - 1), (uint64_t)t->stride[d], &step) ||
            __builtin_add_overflow(last, step, &last))
            return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' has bad strides", file, t->name);
    }
    if (count && (last >= entry_size / el))
        return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' runs past its storage (truncated?)", file,
                       t->name);
    uint8_t *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return cs_fail(err, CS_ENOMEM, "%s: out of memory for '%s'", file, t->name);
    int64_t idx[CS_MAX_DIMS] = {0};
    for (size_t i = 0; i < count; i++) {
        uint64_t src = (uint64_t)t->offset;
        for (int d = 0; d < t->ndim; d++) src += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        memcpy(buf + i * el, base + src * el, el);
        for (int d = t->ndim - 1; d >= 0; d--) { /* row-major odometer */
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    cs_status st =
        cs_tensors_add(tab, t->name, t->dtype, t->ndim, t->shape, buf, nbytes, file, err);
    if (st) {
        free(buf);
        return st;
    }
    tab->t[tab->n - 1].owned = buf;
    return CS_OK;
}

/* Checks one pickled tensor against its storage entry and adds it. */
static cs_status add_tensor(const uint8_t *b, const cs_pkl_tensor *t, const zentry *z, uint64_t n,
                            const char *prefix, size_t pl, const char *file, cs_tensor_table *tab,
                            cs_error *err) {
    char key[300];
    if (strlen(t->storage) > 200 || strchr(t->storage, '/'))
        return cs_fail(err, CS_EFORMAT, "%s: bad storage key for '%s'", file, t->name);
    snprintf(key, sizeof key, "data/%s", t->storage);
    const zentry *e = find_entry(z, n, prefix, pl, key);
    if (!e)
        return cs_fail(err, CS_EFORMAT, "%s: storage %s of tensor '%s' is missing", file,
                       t->storage, t->name);
    size_t el = cs_dtype_size(t->dtype), nbytes, span;
    if (cs_tensor_nbytes(t->shape, t->ndim, t->dtype, &nbytes) != 0)
        return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' has an absurd shape", file, t->name);
    size_t storage_bytes;
    if (t->storage_numel < 0 ||
        __builtin_mul_overflow((uint64_t)t->storage_numel, (uint64_t)el, &storage_bytes) ||
        storage_bytes > e->size)
        return cs_fail(err, CS_EFORMAT,
                       "%s: storage of tensor '%s' runs past its entry (truncated?)", file,
                       t->name);
    int64_t want = 1;
    int contiguous = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != want) contiguous = 0;
        want *= t->shape[d];
    }
    const uint8_t *base = b + e->offset;
    if (contiguous) {
        if (__builtin_mul_overflow((size_t)t->offset, el, &span) ||
            __builtin_add_overflow(span, nbytes, &span) || span > e->size)
            return cs_fail(err, CS_EFORMAT, "%s: tensor '%s' runs past its storage (truncated?)",
                           file, t->name);
        return cs_tensors_add(tab, t->name, t->dtype, t->ndim, t->shape,
                              base + (size_t)t->offset * el, nbytes, file, err);
    }
    return add_strided(base, e->size, t, el, nbytes, file, tab, err);
}

cs_status cs_torchzip_parse(const uint8_t *b, size_t size, const char *file, cs_tensor_table *tab,
                            cs_error *err) {
    uint64_t cd_off = 0, cd_size = 0, n = 0;
    cs_status st = find_cd(b, size, file, &cd_off, &cd_size, &n, err);
    if (st) return st;
    zentry *z = calloc(n ? n : 1, sizeof *z);
    if (!z) return cs_fail(err, CS_ENOMEM, "%s: out of memory", file);
    uint64_t pos = cd_off;
    for (uint64_t i = 0; i < n && !st; i++)
        st = read_entry(b, size, cd_off + cd_size, &pos, file, &z[i], err);
    /* data.pkl names the prefix: "<prefix>/data.pkl", one level deep */
    const zentry *pk = NULL;
    size_t pl = 0;
    for (uint64_t i = 0; i < n && !st; i++) {
        const char *slash = memchr(z[i].name, '/', z[i].name_len);
        if (slash && z[i].name_len - (size_t)(slash - z[i].name) == 9 &&
            !memcmp(slash, "/data.pkl", 9)) {
            if (pk) st = cs_fail(err, CS_EFORMAT, "%s: two data.pkl entries", file);
            pk = &z[i];
            pl = (size_t)(slash - z[i].name) + 1;
        }
    }
    if (!st && !pk)
        st = cs_fail(err, CS_EFORMAT, "%s: zip archive without data.pkl: not a PyTorch checkpoint",
                     file);
    if (!st && (uint32_t)crc32_z(0, b + pk->offset, (z_size_t)pk->size) != pk->crc)
        st = cs_fail(err, CS_EFORMAT, "%s: data.pkl fails its CRC check (corrupt file)", file);
    const zentry *bo = st ? NULL : find_entry(z, n, pk->name, pl, "byteorder");
    if (bo && !(bo->size == 6 && !memcmp(b + bo->offset, "little", 6)))
        st = cs_fail(err, CS_EUNSUPPORTED, "%s: big-endian checkpoint", file);
    cs_pkl_tensor *t = NULL;
    int nt = 0;
    if (!st) st = cs_pickle_state_dict(b + pk->offset, pk->size, file, &t, &nt, err);
    for (int i = 0; i < nt && !st; i++)
        st = add_tensor(b, &t[i], z, n, pk->name, pl, file, tab, err);
    cs_pickle_free(t, nt);
    free(z);
    return st;
}

cs_status cs_torchzip_load(const char *path, cs_tensor_table *tab, cs_error *err) {
    return cs_tensors_load_mapped(path, cs_torchzip_parse, tab, err);
}
