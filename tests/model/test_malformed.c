/* tests/model/test_malformed.c - broken checkpoints and configs get a clear
 * error (status and a message naming the file and the reason), never a
 * crash or an out-of-bounds read (this runs under ASan + UBSan).
 *
 * Each case is made here from the oracle's tiny model: a folder with its
 * config.json and a rewritten model.safetensors / pytorch_model.bin. */
#include <jansson.h>
#include <unistd.h>
#include <zlib.h>

#include "model/pickle.h"
#include "model/tensors.h"
#include "test.h"

static char *st_buf; /* the original tiny model.safetensors */
static size_t st_size, st_hlen;
static char *config_text;
static const char *tmp;

static void write_file(const char *name, const void *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void clear_dir(void) {
    static const char *const names[] = {"config.json", "model.safetensors", "pytorch_model.bin",
                                        "model.safetensors.index.json", "a.safetensors"};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
        unlink(path);
    }
}

/* Writes a safetensors file: the given header, then the original data. */
static void write_st(const char *name, json_t *hdr, size_t data_len) {
    char *js = json_dumps(hdr, JSON_COMPACT);
    size_t jl = strlen(js);
    size_t n = 8 + jl + data_len;
    char *buf = malloc(n);
    for (int i = 0; i < 8; i++) buf[i] = (char)((uint64_t)jl >> (8 * i));
    memcpy(buf + 8, js, jl);
    memcpy(buf + 8 + jl, st_buf + 8 + st_hlen, data_len);
    write_file(name, buf, n);
    free(buf);
    free(js);
}

static json_t *orig_header(void) {
    return json_loadb(st_buf + 8, st_hlen, 0, NULL);
}

/* Opens the folder and expects failure with `status` and `what` in the message. */
static void expect_open(const char *label, cs_status status, const char *what) {
    cs_model *m = NULL;
    cs_error err = {0};
    cs_status st = cs_model_open(tmp, NULL, &m, &err);
    CHECK_MSG(st == status, "%s: status %d (%s), expected %d", label, st, err.message, status);
    CHECK_MSG(m == NULL, "%s: a model came back", label);
    CHECK_MSG(strstr(err.message, what) != NULL, "%s: message '%s' lacks '%s'", label, err.message,
              what);
    cs_model_close(m);
    printf("%-28s -> %s\n", label, err.message);
}

static void with_config(const char *json) {
    clear_dir();
    write_file("config.json", json, strlen(json));
}

static void safetensors_cases(void) {
    size_t data_len = st_size - 8 - st_hlen;
    json_t *h;

    with_config(config_text);
    write_file("model.safetensors", st_buf, st_size / 2);
    expect_open("truncated", CS_EFORMAT, "truncated");

    write_file("model.safetensors", st_buf, 5);
    expect_open("5 bytes", CS_EFORMAT, "truncated");

    char hdr[8 + 16] = {(char)0xff, (char)0xff, (char)0xff, (char)0xff, 0, 0, 0, 0};
    write_file("model.safetensors", hdr, sizeof hdr);
    expect_open("header past the end", CS_EFORMAT, "past the end");

    char bad[] = "\x10\0\0\0\0\0\0\0{\"a\": [1, 2,,]} ";
    write_file("model.safetensors", bad, sizeof bad - 1);
    expect_open("bad JSON", CS_EFORMAT, "bad JSON");

    char dup[] =
        "\x6b\0\0\0\0\0\0\0{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}    ";
    write_file("model.safetensors", dup, sizeof dup - 1);
    expect_open("duplicate tensor name", CS_EFORMAT, "duplicate");

    char arr[] = "\x02\0\0\0\0\0\0\0[]";
    write_file("model.safetensors", arr, sizeof arr - 1);
    expect_open("header not an object", CS_EFORMAT, "not a JSON object");

    h = orig_header();
    json_array_set_new(
        json_object_get(json_object_get(h, "text_projection.weight"), "data_offsets"), 1,
        json_integer((json_int_t)data_len + 4));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("offset past the end", CS_EFORMAT, "outside the data buffer");

    /* move one tensor onto another of the same size: overlap */
    h = orig_header();
    json_t *a = json_object_get(h, "text_model.encoder.layers.0.self_attn.k_proj.weight");
    json_t *b = json_object_get(h, "text_model.encoder.layers.0.self_attn.q_proj.weight");
    json_object_set(b, "data_offsets", json_object_get(a, "data_offsets"));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("overlapping tensors", CS_EFORMAT, "overlap");

    h = orig_header();
    json_object_set_new(json_object_get(h, "visual_projection.weight"), "dtype",
                        json_string("F16"));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("size/dtype mismatch", CS_EFORMAT, "do not match");

    h = orig_header();
    json_object_set_new(json_object_get(h, "visual_projection.weight"), "dtype",
                        json_string("F128"));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("unknown dtype", CS_EUNSUPPORTED, "unknown dtype");

    h = orig_header();
    json_t *shape = json_object_get(json_object_get(h, "logit_scale"), "shape");
    json_array_append_new(shape, json_integer(1ll << 62));
    json_array_append_new(shape, json_integer(1ll << 62));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("absurd shape", CS_EFORMAT, "do not match");

    h = orig_header();
    json_object_del(h, "vision_model.encoder.layers.1.mlp.fc2.bias");
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("missing tensor", CS_EFORMAT,
                "'vision_model.encoder.layers.1.mlp.fc2.bias' is missing");

    h = orig_header();
    json_t *s = json_object_get(json_object_get(h, "text_projection.weight"), "shape");
    json_array_set_new(s, 0, json_integer(64));
    json_array_set_new(s, 1, json_integer(48));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("wrong shape", CS_EFORMAT, "has shape [64, 48] but config.json implies [48, 64]");

    h = orig_header();
    json_object_set_new(json_object_get(h, "text_projection.weight"), "dtype", json_string("I32"));
    write_st("model.safetensors", h, data_len);
    json_decref(h);
    expect_open("integer weights", CS_EUNSUPPORTED, "dtype I32");

    /* sharded: an index naming a shard outside the folder */
    clear_dir();
    write_file("config.json", config_text, strlen(config_text));
    const char *idx = "{\"weight_map\": {\"logit_scale\": \"../etc/passwd\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    expect_open("shard outside the folder", CS_EFORMAT, "bad shard name");
    idx = "{\"weight_map\": {\"text_projection.weight\": \"a.safetensors\"}}";
    write_file("model.safetensors.index.json", idx, strlen(idx));
    h = orig_header();
    json_object_del(h, "text_projection.weight");
    write_st("a.safetensors", h, data_len);
    json_decref(h);
    expect_open("shard lacks its tensor", CS_EFORMAT, "not in its shard");

    clear_dir();
    write_file("config.json", config_text, strlen(config_text));
    expect_open("no weights", CS_ENOTFOUND, "no weights");
}

/* config.json variants: each is the tiny config with one field replaced. */
static void config_case(const char *label, const char *section, const char *key, json_t *value,
                        cs_status status, const char *what) {
    json_t *c = json_loads(config_text, 0, NULL);
    json_object_set_new(section ? json_object_get(c, section) : c, key, value);
    char *js = json_dumps(c, 0);
    with_config(js);
    write_file("model.safetensors", st_buf, st_size);
    expect_open(label, status, what);
    free(js);
    json_decref(c);
}

static void config_cases(void) {
    with_config("{\"projection_dim\": 48,");
    write_file("model.safetensors", st_buf, st_size);
    expect_open("config bad JSON", CS_EFORMAT, "config.json: bad JSON");
    config_case("heads do not divide", "vision_config", "num_attention_heads", json_integer(3),
                CS_EFORMAT, "not a multiple of 3 heads");
    config_case("unknown activation", "text_config", "hidden_act", json_string("relu"),
                CS_EUNSUPPORTED, "hidden_act 'relu'");
    config_case("image/patch", "vision_config", "patch_size", json_integer(30), CS_EFORMAT,
                "not a multiple of patch_size");
    config_case("negative width", "text_config", "hidden_size", json_integer(-64), CS_EFORMAT,
                "hidden_size");
    config_case("huge width", "text_config", "hidden_size", json_integer(1 << 30), CS_EFORMAT,
                "hidden_size");
    config_case("width not in weights", "vision_config", "hidden_size", json_integer(256),
                CS_EFORMAT, "but config.json implies");
    config_case("fewer layers", "text_config", "num_hidden_layers", json_integer(1), CS_EFORMAT,
                "beyond the 1");
    config_case("more layers", "vision_config", "num_hidden_layers", json_integer(3), CS_EFORMAT,
                "layers.2.");
    config_case("not CLIP", NULL, "model_type", json_string("siglip"), CS_EUNSUPPORTED,
                "not a CLIP model");
    config_case("projection mismatch", "text_config", "projection_dim", json_integer(32),
                CS_EFORMAT, "projection_dim");
}

/* ---- PyTorch zip -------------------------------------------------------------- */

/* zlib's CRC-32, the checksum the zip format names */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
    return (uint32_t)crc32_z(0, p, (z_size_t)n);
}

static void put(uint8_t **p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}

/* A one-entry zip "archive/data.pkl" holding pkl, stored with `method`. */
static size_t make_zip(const uint8_t *pkl, size_t n, int method, uint8_t *out) {
    const char *name = "archive/data.pkl";
    size_t nl = strlen(name);
    uint32_t crc = crc32_of(pkl, n);
    uint8_t *p = out;
    put(&p, 0x04034b50, 4), put(&p, 20, 2), put(&p, 0, 2), put(&p, (uint64_t)method, 2);
    put(&p, 0, 4), put(&p, crc, 4), put(&p, n, 4), put(&p, n, 4), put(&p, nl, 2), put(&p, 0, 2);
    memcpy(p, name, nl), p += nl;
    memcpy(p, pkl, n), p += n;
    size_t cd = (size_t)(p - out);
    put(&p, 0x02014b50, 4), put(&p, 20, 2), put(&p, 20, 2), put(&p, 0, 2);
    put(&p, (uint64_t)method, 2), put(&p, 0, 4), put(&p, crc, 4), put(&p, n, 4), put(&p, n, 4);
    put(&p, nl, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 4);
    put(&p, 0, 4);
    memcpy(p, name, nl), p += nl;
    size_t cds = (size_t)(p - out) - cd;
    put(&p, 0x06054b50, 4), put(&p, 0, 2), put(&p, 0, 2), put(&p, 1, 2), put(&p, 1, 2);
    put(&p, cds, 4), put(&p, cd, 4), put(&p, 0, 2);
    return (size_t)(p - out);
}

static void zip_case(const char *label, const char *pkl, size_t n, int method, cs_status status,
                     const char *what) {
    uint8_t buf[4096];
    size_t len = make_zip((const uint8_t *)pkl, n, method, buf);
    with_config(config_text);
    write_file("pytorch_model.bin", buf, len);
    expect_open(label, status, what);
}

static void torch_cases(void) {
    size_t bin_size;
    char *bin = cs_test_read(cs_test_oracle_path("models/tiny-bin/pytorch_model.bin"), &bin_size);
    with_config(config_text);
    write_file("pytorch_model.bin", bin, bin_size - 100);
    expect_open("bin truncated at the end", CS_EFORMAT, "not a zip archive");
    write_file("pytorch_model.bin", bin, bin_size / 2);
    expect_open("bin cut in half", CS_EFORMAT, "not a zip archive");
    /* flip a byte inside data.pkl: the CRC catches it */
    bin[200] ^= 0x40;
    write_file("pytorch_model.bin", bin, bin_size);
    bin[200] ^= 0x40;
    expect_open("bin data.pkl corrupted", CS_EFORMAT, "CRC");

    static const char evil[] = "\x80\x02"
                               "cos\nsystem\n"
                               "X\x02\0\0\0id"
                               "\x85R.";
    zip_case("pickle calls os.system", evil, sizeof evil - 1, 0, CS_EUNSUPPORTED,
             "refusing pickle global 'os.system'");
    static const char builtins[] = "\x80\x02"
                                   "c__builtin__\neval\n.";
    zip_case("pickle eval", builtins, sizeof builtins - 1, 0, CS_EUNSUPPORTED,
             "'__builtin__.eval'");
    static const char inst[] = "\x80\x02(X\x01\0\0\0a"
                               "i__main__\nX\n.";
    zip_case("pickle INST opcode", inst, sizeof inst - 1, 0, CS_EUNSUPPORTED, "opcode 0x69");
    static const char notdict[] = "\x80\x02]q\0.";
    zip_case("pickle not a dict", notdict, sizeof notdict - 1, 0, CS_EFORMAT, "not a state dict");
    static const char trunc[] = "\x80\x02}q\0(X\xff\0\0\0ab";
    zip_case("pickle truncated", trunc, sizeof trunc - 1, 0, CS_EFORMAT, "truncated");
    static const char under[] = "\x80\x02R.";
    zip_case("pickle underflow", under, sizeof under - 1, 0, CS_EFORMAT, "underflow");
    static const char noval[] = "\x80\x02}X\x01\0\0\0aK\x05s.";
    zip_case("pickle non-tensor value", noval, sizeof noval - 1, 0, CS_EFORMAT,
             "not name -> tensor");
    /* a storage that the archive lacks */
    static const char nosto[] = "\x80\x02}X\x01\0\0\0a"
                                "ctorch._utils\n_rebuild_tensor_v2\n"
                                "((X\x07\0\0\0storage"
                                "ctorch\nFloatStorage\n"
                                "X\x01\0\0\x00"
                                "0X\x03\0\0\0cpuK\x04tQ"
                                "K\0K\x04\x85K\x01\x85\x89}tRs.";
    zip_case("pickle storage missing", nosto, sizeof nosto - 1, 0, CS_EFORMAT,
             "storage 0 of tensor 'a' is missing");
    static const char ok[] = "\x80\x02}.";
    zip_case("zip entry compressed", ok, sizeof ok - 1, 8, CS_EUNSUPPORTED, "compressed");
    zip_case("empty state dict", ok, sizeof ok - 1, 0, CS_EFORMAT, "is missing");
    free(bin);
}

/* ---- mutation fuzzing under the sanitizers ------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void fuzz(void) {
    /* safetensors: mutate bytes of the header (and its length) in place */
    int parsed = 0;
    for (int it = 0; it < 3000; it++) {
        size_t where[4];
        char old[4];
        int k = 1 + (int)(rnd() % 4);
        for (int j = 0; j < k; j++) {
            where[j] = rnd() % (8 + st_hlen);
            old[j] = st_buf[where[j]];
            st_buf[where[j]] = rnd() & 1 ? (char)rnd() : "{}[],:\"0123456789"[rnd() % 16];
        }
        cs_tensor_table tab = {0};
        cs_error err = {0};
        cs_status st = cs_safetensors_parse((const uint8_t *)st_buf, st_size, "fuzz", &tab, &err);
        if (st == CS_OK)
            parsed++;
        else
            CHECK(err.message[0] != '\0');
        cs_tensors_free(&tab);
        for (int j = k - 1; j >= 0; j--) st_buf[where[j]] = old[j];
    }
    printf("safetensors fuzz: 3000 mutants, %d still parsed\n", parsed);

    /* pickle: mutate data.pkl of the tiny-bin checkpoint */
    size_t bin_size;
    uint8_t *bin = (uint8_t *)cs_test_read(cs_test_oracle_path("models/tiny-bin/pytorch_model.bin"),
                                           &bin_size);
    size_t off = 30 + (bin[26] | bin[27] << 8) + (bin[28] | bin[29] << 8), end = off;
    while (end + 4 <= bin_size && memcmp(bin + end, "PK\x07\x08", 4)) end++;
    size_t n = end - off;
    uint8_t *pk = malloc(n);
    parsed = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(pk, bin + off, n);
        int k = 1 + (int)(rnd() % 4);
        for (int j = 0; j < k; j++) pk[rnd() % n] = (uint8_t)rnd();
        size_t len = it % 10 == 0 ? rnd() % n : n; /* sometimes truncated too */
        cs_pkl_tensor *t = NULL;
        int nt = 0;
        cs_error err = {0};
        if (cs_pickle_state_dict(pk, len, "fuzz", &t, &nt, &err) == CS_OK)
            parsed++;
        else
            CHECK(err.message[0] != '\0');
        cs_pickle_free(t, nt);
    }
    printf("pickle fuzz: 3000 mutants, %d still parsed\n", parsed);
    free(pk);
    free(bin);
}

int main(void) {
    cs_test_oracle();
    st_buf = cs_test_read(cs_test_oracle_path("models/tiny/model.safetensors"), &st_size);
    for (int i = 7; i >= 0; i--) st_hlen = (st_hlen << 8) | (uint8_t)st_buf[i];
    config_text = cs_test_read(cs_test_oracle_path("models/tiny/config.json"), NULL);
    tmp = cs_test_tmpdir();
    safetensors_cases();
    config_cases();
    torch_cases();
    fuzz();
    clear_dir();
    rmdir(tmp);
    free(st_buf);
    free(config_text);
    return cs_test_done("model.malformed");
}
