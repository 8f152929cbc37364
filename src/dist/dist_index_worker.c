/* dist/dist_index_worker.c - indexing over the ranks of an MPI job: a rank
 * other than 0 says it is ready, then reads, hashes and embeds the chunks
 * rank 0 sends (dist_tags.h), answering each, until rank 0 says stop. */
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "dist/dist_index_worker.h"
#include "dist/dist_tags.h"
#include "dist/wire.h"
#include "index/indexer.h"

static cs_status send_fatal(cs_comm *comm, const cs_error *e) {
    cs_wbuf w = {0};
    cs_error se;
    char msg[700];
    snprintf(msg, sizeof msg, "%s (on %s)", e->message, cs_comm_host(comm));
    cs_w_str(&w, msg);
    cs_status st = w.oom ? CS_ENOMEM : cs_comm_send(comm, 0, TAG_FATAL, w.data, w.len, &se);
    cs_wbuf_free(&w);
    return st;
}

static void put_failure(cs_wbuf *w, const cs_error *e) {
    cs_w_u32(w, 0);
    cs_w_u32(w, (uint32_t)e->status);
    cs_w_str(w, e->message);
}

/* The items of a message: n paths (and, for EMBED, maybe their bytes). */
static cs_status read_items(cs_rbuf *r, int with_bytes, cs_index_item **items,
                            cs_index_file **files, int *n, cs_error *err) {
    *n = (int)cs_r_u32(r);
    if (r->bad || *n < 0 || (size_t)*n > r->left)
        return cs_fail(err, CS_EINTERNAL, "malformed message from rank 0");
    *items = calloc((size_t)*n + 1, sizeof **items);
    *files = calloc((size_t)*n + 1, sizeof **files);
    if (!*items || !*files) return cs_fail(err, CS_ENOMEM, "out of memory");
    for (int i = 0; i < *n; i++) {
        cs_index_item *it = &(*items)[i];
        (*files)[i].path = cs_r_str(r);
        it->f = &(*files)[i];
        it->old_id = -1;
        it->act = CS_ACT_EMBED;
        it->slot = i;
        if (with_bytes && cs_r_u32(r)) {
            it->data_size = (size_t)cs_r_i64(r);
            it->data = cs_r_view(r, it->data_size);
        }
    }
    if (r->bad) return cs_fail(err, CS_EINTERNAL, "malformed message from rank 0");
    return CS_OK;
}

static void free_items(cs_index_item *items, cs_index_file *files, int n) {
    for (int i = 0; files && i < n; i++) free(files[i].path);
    free(files);
    free(items);
}

static cs_status do_hash(cs_comm *comm, const cs_index_backend *be, cs_rbuf *r, cs_error *err) {
    cs_index_item *items = NULL;
    cs_index_file *files = NULL;
    int n = 0;
    cs_status st = read_items(r, 0, &items, &files, &n, err);
    if (!st) {
        cs_index_hash_items(be->pool, NULL, items, n);
        cs_wbuf w = {0};
        cs_w_str(&w, cs_comm_host(comm));
        for (int i = 0; i < n; i++) {
            if (items[i].act == CS_ACT_FAIL) {
                put_failure(&w, &items[i].error);
                continue;
            }
            cs_w_u32(&w, 1);
            cs_w_bytes(&w, items[i].hash, 16);
        }
        st = w.oom ? cs_fail(err, CS_ENOMEM, "out of memory")
                   : cs_comm_send(comm, 0, TAG_HASHED, w.data, w.len, err);
        cs_wbuf_free(&w);
    }
    free_items(items, files, n);
    return st;
}

static cs_status do_embed(cs_comm *comm, const cs_index_backend *be, int dim, cs_rbuf *r,
                          cs_error *err) {
    int more = (int)cs_r_u32(r);
    cs_index_item *items = NULL;
    cs_index_file *files = NULL;
    int n = 0;
    cs_status st = read_items(r, 1, &items, &files, &n, err);
    float *inputs = NULL, *out = NULL;
    if (!st) {
        inputs = malloc(((size_t)n + 1) * be->input_floats * sizeof *inputs);
        out = malloc(((size_t)n + 1) * (size_t)dim * sizeof *out);
        if (!inputs || !out) st = cs_fail(err, CS_ENOMEM, "out of memory for %d images", n);
    }
    if (!st)
        st = cs_index_embed_items(be, NULL, items, n, n, more, dim, inputs, out, NULL, 0, NULL,
                                  NULL, err);
    if (!st) {
        cs_wbuf w = {0};
        cs_w_str(&w, cs_comm_host(comm));
        for (int i = 0; i < n; i++) {
            const cs_index_item *it = &items[i];
            if (it->act == CS_ACT_FAIL) {
                put_failure(&w, &it->error);
                continue;
            }
            cs_w_u32(&w, 1);
            cs_w_u32(&w, (uint32_t)it->width);
            cs_w_u32(&w, (uint32_t)it->height);
            cs_w_str(&w, it->precision);
            cs_w_bytes(&w, it->vec, (size_t)dim * sizeof(float));
        }
        st = w.oom ? cs_fail(err, CS_ENOMEM, "out of memory")
                   : cs_comm_send(comm, 0, TAG_VECS, w.data, w.len, err);
        cs_wbuf_free(&w);
    }
    free(inputs);
    free(out);
    free_items(items, files, n);
    return st;
}

static cs_status work(cs_comm *comm, cs_model *model, const cs_index_opts *opts, cs_error *err) {
    cs_model_info mi;
    cs_model_get_info(model, &mi);
    cs_index_backend be;
    cs_status st = cs_index_model_backend(model, opts, &be, err);
    if (st) {
        send_fatal(comm, err);
        return st;
    }
    cs_wbuf w = {0};
    cs_w_str(&w, mi.id);
    cs_w_u32(&w, (uint32_t)mi.embed_dim);
    cs_w_str(&w, cs_comm_host(comm));
    st = w.oom ? cs_fail(err, CS_ENOMEM, "out of memory")
               : cs_comm_send(comm, 0, TAG_READY, w.data, w.len, err);
    cs_wbuf_free(&w);
    while (!st) {
        int from, tag;
        void *buf;
        size_t len;
        st = cs_comm_recv_any(comm, 0, &from, &tag, &buf, &len, err);
        if (st) break;
        cs_rbuf r = {buf, len, 0};
        if (tag == TAG_STOP) {
            free(buf);
            break;
        }
        if (tag == TAG_HASH)
            st = do_hash(comm, &be, &r, err);
        else if (tag == TAG_EMBED)
            st = do_embed(comm, &be, mi.embed_dim, &r, err);
        else
            st = cs_fail(err, CS_EINTERNAL, "unexpected message (tag %d) from rank 0", tag);
        free(buf);
        if (st) send_fatal(comm, err);
    }
    free(be.user);
    return st;
}

cs_status cs_dist_index_worker(cs_comm *comm, cs_model *model, const cs_index_opts *opts,
                               const cs_error *setup_error, cs_error *err) {
    if (model) return work(comm, model, opts, err);
    send_fatal(comm, setup_error);
    *err = *setup_error;
    /* rank 0 stops the job; wait for its word */
    int from, tag;
    void *buf;
    size_t len;
    while (cs_comm_recv_any(comm, 0, &from, &tag, &buf, &len, err) == CS_OK) {
        free(buf);
        if (tag == TAG_STOP) break;
    }
    return setup_error->status;
}
