/* /api/duplicates over backends without a catalogue: a backend that cannot
 * find duplicates answers 501 (the page then says so), and the arguments
 * are checked before the backend is asked. The real groups are checked
 * against the CLI in test_serve_dups.sh. */
#include "core/error.h"
#include "harness.h"

static int asked; /* times the backend's duplicates ran */

static cs_status refuse(void *ctx, const cs_dups_opts *opts, cs_dups **out, cs_error *err) {
    (void)ctx;
    (void)opts;
    *out = NULL;
    asked++;
    return cs_fail(err, CS_EIO, "fake: the catalogue is unreadable");
}

static int status_of(int port, const char *path) {
    reply r;
    get(port, path, &r);
    int s = r.status;
    json_t *doc = body_json(&r);
    CHECK_MSG(json_is_string(json_object_get(doc, "error")), "%s: %s", path, r.body);
    json_decref(doc);
    free(r.body);
    return s;
}

int main(void) {
    cs_srv_backend be = fake_backend();
    for (int round = 0; round < 2; round++) {
        if (round) be.duplicates = refuse;
        cs_server_opts opts = {0};
        cs_server *srv = start_server(&be, &opts);
        if (!srv) break;
        int port = cs_server_port(srv);
        if (!round) {
            CHECK_EQ_INT(status_of(port, "/api/duplicates"), 501);
        } else {
            CHECK_EQ_INT(status_of(port, "/api/duplicates?threshold=1.5"), 400);
            CHECK_EQ_INT(status_of(port, "/api/duplicates?threshold=nan"), 400);
            CHECK_EQ_INT(status_of(port, "/api/duplicates?limit=0"), 400);
            CHECK_EQ_INT(asked, 0); /* bad arguments never reach the backend */
            CHECK_EQ_INT(status_of(port, "/api/duplicates?threshold=0.9"), 500);
            CHECK_EQ_INT(asked, 1);
        }
        cs_server_stop(srv);
    }
    fake_remove(&be);
    return cs_test_done("server.dups_api");
}
