/* cli/cmd_bench.c - `clipsearch bench`: how fast the engine runs here, as
 * one JSON object (for people, and for bench/ scripts that compare peers).
 *
 * The image encoder is timed on batches of synthetic preprocessed pixels,
 * the text encoder on batches of token ids of typical query lengths; each
 * is run once to warm up (page in the weights) and then for at least
 * --seconds. GFLOP/s counts the multiply-adds of the transformer as 2 FLOPs
 * (patch embedding, projections, MLP, attention, final projection). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kernels/gemm.h"
#include "kernels/gemm_lp.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) {
    return clock_s(CLOCK_MONOTONIC);
}

static cs_status cs_bench_oom(cs_error *err) {
    err->status = CS_ENOMEM;
    snprintf(err->message, sizeof err->message, "bench: out of memory");
    return CS_ENOMEM;
}
/* CPU time of the whole process (all threads): on a shared machine, work
 * per CPU-second is steadier than work per wall-second. */
static double cpu_now(void) {
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* FLOPs of one sequence of `seq` positions through a tower, as computed:
 * the last layer computes the pooled position alone (model/ops.h), so its
 * keys and values over every position, the rest over one. */
static double tower_flops(int seq, int width, int layers, int mlp) {
    double w = width, proj = 2.0 * w * w, mlp_row = 2.0 * 2.0 * w * mlp;
    double per_layer = seq * (4.0 * proj + mlp_row) /* q, k, v, o, MLP */
                       + 2.0 * 2.0 * seq * seq * w; /* q.k, p.v */
    double last = seq * 2.0 * proj + 2.0 * proj + mlp_row + 2.0 * 2.0 * seq * w;
    return per_layer * (layers - 1) + last;
}

/* intermediate_size of vision_config / text_config (4 x width when absent). */
static int mlp_size(const char *dir, const char *tower, int width) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *root = json_load_file(path, 0, NULL);
    json_t *v = json_object_get(json_object_get(root, tower), "intermediate_size");
    int mlp = json_is_integer(v) ? (int)json_integer_value(v) : 4 * width;
    json_decref(root);
    return mlp;
}

typedef struct run_result {
    double per_second, seconds, cpu_seconds;
    int calls;
} run_result;

/* A batch of synthetic preprocessed images (malloc'd; NULL when out of memory). */
static float *synthetic_pixels(const cs_model_info *info, int batch) {
    size_t n = 3 * (size_t)info->image_size * info->image_size * batch;
    float *px = malloc(n * sizeof(float));
    uint32_t s = 1;
    for (size_t i = 0; px && i < n; i++) {
        s = s * 1664525u + 1013904223u;
        px[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f; /* the range of normalised pixels */
    }
    return px;
}

static cs_status time_images(cs_model *model, const cs_model_info *info, int batch, double budget,
                             run_result *r, cs_error *err) {
    float *px = synthetic_pixels(info, batch),
          *out = malloc((size_t)batch * info->embed_dim * sizeof(float));
    cs_status st = px && out ? CS_OK : CS_ENOMEM;
    /* warm-up: pages the weights in, and (bulk work) packs them once */
    if (!st) st = cs_embed_pixels(model, px, batch, CS_EMBED_BULK, out, err);
    double t0 = now(), c0 = cpu_now(), t = 0;
    r->calls = 0;
    while (!st && (t < budget || r->calls < 2)) {
        st = cs_embed_pixels(model, px, batch, 0, out, err);
        r->calls++;
        t = now() - t0;
    }
    r->seconds = t;
    r->cpu_seconds = cpu_now() - c0;
    r->per_second = st ? 0 : (double)r->calls * batch / t;
    free(px);
    free(out);
    return st;
}

static cs_status time_texts(cs_model *model, int batch, int ctx, double budget, run_result *r,
                            cs_error *err, double *mean_len) {
    /* Queries of 4..15 tokens (start and end included): "a photo of ..." */
    int32_t *ids = malloc((size_t)batch * 16 * sizeof(int32_t));
    const int32_t **rows = malloc((size_t)batch * sizeof(*rows));
    int *n = malloc((size_t)batch * sizeof(int));
    float *out = malloc((size_t)batch * 1024 * sizeof(float));
    if (!ids || !rows || !n || !out) {
        free(ids), free(rows), free(n), free(out);
        return CS_ENOMEM;
    }
    *mean_len = 0;
    for (int b = 0; b < batch; b++) {
        int len = 4 + (b * 7) % 12;
        if (len > ctx) len = ctx;
        int32_t *row = ids + (size_t)b * 16;
        row[0] = 49406;
        for (int i = 1; i < len - 1; i++) row[i] = 320 + (b * 131 + i * 977) % 40000;
        row[len - 1] = 49407;
        rows[b] = row;
        n[b] = len;
        *mean_len += len / (double)batch;
    }
    cs_status st = cs_embed_tokens(model, rows, n, batch, 0, out, err);
    double t0 = now(), c0 = cpu_now(), t = 0;
    r->calls = 0;
    while (!st && (t < budget || r->calls < 2)) {
        st = cs_embed_tokens(model, rows, n, batch, 0, out, err);
        r->calls++;
        t = now() - t0;
    }
    r->seconds = t;
    r->cpu_seconds = cpu_now() - c0;
    r->per_second = st ? 0 : (double)r->calls * batch / t;
    free(ids), free(rows), free(n), free(out);
    return st;
}

/* The smallest cosine between rows of a and b (n rows of d, unit length). */
static double min_cosine(const float *a, const float *b, int n, int d) {
    double lo = 1.0;
    for (int i = 0; i < n; i++) {
        double dot = 0;
        for (int j = 0; j < d; j++) dot += (double)a[(size_t)i * d + j] * b[(size_t)i * d + j];
        if (dot < lo) lo = dot;
    }
    return lo;
}

/* At a precision other than fp32: how close its embeddings are to fp32's on
 * the same inputs (a second handle on the model, at fp32): the synthetic
 * image batch, a few real queries, and --image if given. */
static cs_status fp32_cosines(cs_model *q, const char *dir, cs_pool *pool,
                              const cs_model_info *info, int batch, const char *image, json_t *o,
                              cs_error *err) {
    static const char *const texts[] = {"a ball",
                                        "a dog on a beach",
                                        "a photo of a cat",
                                        "a red car parked on a street",
                                        "mountains at sunset",
                                        "a bowl of fruit",
                                        "people playing football",
                                        "a city at night"};
    enum { N_TEXTS = sizeof texts / sizeof *texts };
    cs_model_opts mo = {.pool = pool, .log = cli_log_stderr, .no_prepack = 1};
    cs_model *f = NULL;
    cs_status st = cs_model_open(dir, &mo, &f, err);
    if (st) return st;
    int d = info->embed_dim, rows = batch > N_TEXTS ? batch : N_TEXTS;
    float *px = synthetic_pixels(info, batch), *a = malloc((size_t)rows * d * sizeof(float)),
          *b = malloc((size_t)rows * d * sizeof(float));
    if (!px || !a || !b) st = cs_bench_oom(err);
    if (!st) st = cs_embed_pixels(q, px, batch, 0, a, err);
    if (!st) st = cs_embed_pixels(f, px, batch, 0, b, err);
    if (!st)
        json_object_set_new(o, "min_cosine_to_fp32_images", json_real(min_cosine(a, b, batch, d)));
    if (!st) st = cs_embed_texts(q, texts, N_TEXTS, 0, a, err);
    if (!st) st = cs_embed_texts(f, texts, N_TEXTS, 0, b, err);
    if (!st)
        json_object_set_new(o, "min_cosine_to_fp32_texts", json_real(min_cosine(a, b, N_TEXTS, d)));
    if (!st && image) st = cs_embed_image_file(q, image, 0, a, err);
    if (!st && image) st = cs_embed_image_file(f, image, 0, b, err);
    if (!st && image)
        json_object_set_new(o, "cosine_to_fp32_image", json_real(min_cosine(a, b, 1, d)));
    free(px), free(a), free(b);
    cs_model_close(f);
    return st;
}

/* One image through decode -> preprocess (resize, crop, normalise) ->
 * encode, each stage timed on its own (best of a few runs, after one
 * warm-up). jpeg_min_side > 0: the fast JPEG path (DCT-domain scaling). */
static cs_status time_stages(cs_model *model, const cs_model_info *info, const char *path,
                             int jpeg_min_side, json_t *o, cs_error *err) {
    cs_preprocess pp_storage, *pp = &pp_storage;
    cs_status st = cs_preprocess_load(info->dir, pp, err);
    if (st) return st;
    cs_decode_opts dopts = {.jpeg_min_side = jpeg_min_side};
    size_t per = 3 * (size_t)info->image_size * info->image_size;
    float *chw = malloc(per * sizeof(float)),
          *emb = malloc((size_t)info->embed_dim * sizeof(float));
    double best[3] = {1e30, 1e30, 1e30};
    st = chw && emb ? CS_OK : cs_bench_oom(err);
    cs_image img = {0}, crop = {0};
    for (int r = 0; r < 4 && !st; r++) {
        double t0 = now();
        st = cs_image_decode_file(path, &dopts, &img, err);
        double t1 = now();
        if (!st) st = cs_image_preprocess(&img, pp, &crop, err);
        if (!st) cs_image_normalize(&crop, pp, chw);
        double t2 = now();
        if (!st) st = cs_embed_pixels(model, chw, 1, 0, emb, err);
        double t3 = now();
        if (!st && r > 0) { /* run 0 warms the caches and the weights */
            best[0] = t1 - t0 < best[0] ? t1 - t0 : best[0];
            best[1] = t2 - t1 < best[1] ? t2 - t1 : best[1];
            best[2] = t3 - t2 < best[2] ? t3 - t2 : best[2];
        }
        if (!st && r == 0) {
            json_object_set_new(o, "width", json_integer(img.width));
            json_object_set_new(o, "height", json_integer(img.height));
        }
        cs_image_free(&img);
        cs_image_free(&crop);
    }
    if (!st) {
        json_object_set_new(o, "decode_ms", json_real(best[0] * 1e3));
        json_object_set_new(o, "preprocess_ms", json_real(best[1] * 1e3));
        json_object_set_new(o, "encode_ms", json_real(best[2] * 1e3));
        json_object_set_new(o, "total_ms", json_real((best[0] + best[1] + best[2]) * 1e3));
    }
    free(chw);
    free(emb);
    return st;
}

static int run(int argc, char **argv);
const cs_cli_command cs_cmd_bench = {
    "bench", "measure the encoders' speed on this machine (JSON)",
    "usage: clipsearch bench --model DIR [--batch N] [--threads N] [--image FILE]\n"
    "                        [--seconds S] [--no-text] [--precision P] [--int8]\n\n"
    "Times the image encoder (images/s on batches of N, default 8) and the text\n"
    "encoder (texts/s on batches of N queries of 4-15 tokens) with N threads\n"
    "(default: one per core), each for about S seconds (default 3) after a\n"
    "warm-up call (bulk work: F32 image weights are packed once, \"prepacked\";\n"
    "CLIPSEARCH_NO_PREPACK=1 reads them from the file), and prints one JSON\n"
    "object. With --image, also the time of each stage for that file: decode,\n"
    "preprocess, encode (one image), with the exact decoder (\"stages\") and\n"
    "the fast JPEG path (\"stages_fast_jpeg\").\n"
    "With --precision bf16|int8 (or CLIPSEARCH_PRECISION; --int8 is int8), the\n"
    "encoders compute at that precision (\"precision\": what ran, after any\n"
    "fallback), and the JSON also says how close the embeddings are to fp32's\n"
    "(smallest cosine over the image batch, a few queries and the --image).\n",
    run};

static int run(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"threads", required_argument, 0, 't'},
                                         {"image", required_argument, 0, 'i'},
                                         {"seconds", required_argument, 0, 's'},
                                         {"no-text", no_argument, 0, 'T'},
                                         {"int8", no_argument, 0, '8'},
                                         {"precision", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    const char *model_opt = NULL, *image = NULL;
    int batch = 8, threads = 0, no_text = 0, c;
    double budget = 3.0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_opt = optarg;
            break;
        case 'b':
            if (cli_int_arg("--batch", optarg, 1, 4096, &batch)) return CLI_USAGE;
            break;
        case 't':
            if (cli_int_arg("--threads", optarg, 0, 4096, &threads)) return CLI_USAGE;
            break;
        case 'i':
            image = optarg;
            break;
        case 's':
            if (cli_double_arg("--seconds", optarg, 0.001, 86400, &budget)) return CLI_USAGE;
            break;
        case 'T':
            no_text = 1;
            break;
        case '8':
            cli_precision_opt("int8");
            break;
        case 'p':
            if (cli_precision_opt(optarg) != CLI_OK) return CLI_USAGE;
            break;
        default:
            return cli_usage(&cs_cmd_bench);
        }
    }
    if (batch < 1 || batch > 4096 || threads < 0 || !(budget > 0)) return cli_usage(&cs_cmd_bench);
    const char *dir = cli_resolve_model(model_opt); /* prints why when it fails */
    if (!dir) return CLI_FAIL;

    cs_error err = {0};
    cs_pool *pool = cs_pool_create(threads);
    if (!pool) {
        cli_error("cannot start %d threads", threads);
        return CLI_FAIL;
    }
    cs_model_opts mo = {.pool = pool, .log = cli_log_stderr};
    cli_model_env(&mo);
    cs_model *model = NULL;
    double t_open = now();
    if (cs_model_open(dir, &mo, &model, &err)) {
        cs_pool_free(pool);
        return cli_fail(&err);
    }
    t_open = now() - t_open;
    cs_model_info info;
    cs_model_get_info(model, &info);

    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(info.dir));
    json_object_set_new(o, "dtype", json_string(info.dtype));
    json_object_set_new(o, "int8", json_boolean(info.int8));
    json_object_set_new(o, "threads", json_integer(cs_pool_threads(pool)));
    json_object_set_new(o, "batch", json_integer(batch));
    json_object_set_new(o, "precision", json_string(info.precision));
    json_object_set_new(o, "kernel",
                        json_string(!strcmp(info.precision, "bf16") ? cs_lp_kernel_name(CS_LP_BF16)
                                    : !strcmp(info.precision, "int8") ? cs_lp_kernel_name(CS_LP_I8)
                                                                      : cs_gemm_kernel_name()));
    json_object_set_new(o, "model_open_ms", json_real(t_open * 1e3));

    run_result r;
    int grid = info.image_size / info.patch_size, seq = grid * grid + 1;
    double img_flops =
        tower_flops(seq, info.vision_width, info.vision_layers,
                    mlp_size(dir, "vision_config", info.vision_width)) +
        2.0 * grid * grid * 3.0 * info.patch_size * info.patch_size * info.vision_width +
        2.0 * info.vision_width * info.embed_dim;
    cs_status st = time_images(model, &info, batch, budget, &r, &err);
    cs_model_get_info(model, &info);
    json_object_set_new(o, "prepacked", json_boolean(info.prepacked));
    if (!st) {
        json_object_set_new(o, "image_encoder_images_per_second", json_real(r.per_second));
        json_object_set_new(o, "image_encoder_ms_per_batch", json_real(r.seconds / r.calls * 1e3));
        json_object_set_new(o, "image_gflop_per_image", json_real(img_flops * 1e-9));
        json_object_set_new(o, "image_encoder_gflops", json_real(img_flops * r.per_second * 1e-9));
        json_object_set_new(o, "image_encoder_cpu_ms_per_image",
                            json_real(r.cpu_seconds / ((double)r.calls * batch) * 1e3));
        json_object_set_new(o, "image_encoder_gflops_per_cpu_second",
                            json_real(img_flops * r.calls * batch / r.cpu_seconds * 1e-9));
    }
    if (!st && !no_text) {
        double mean_len;
        st = time_texts(model, batch, info.context_length, budget, &r, &err, &mean_len);
        double txt_flops = tower_flops((int)(mean_len + 0.5), info.text_width, info.text_layers,
                                       mlp_size(dir, "text_config", info.text_width));
        if (!st) {
            json_object_set_new(o, "text_encoder_texts_per_second", json_real(r.per_second));
            json_object_set_new(o, "text_mean_tokens", json_real(mean_len));
            json_object_set_new(o, "text_encoder_gflops",
                                json_real(txt_flops * r.per_second * 1e-9));
            json_object_set_new(o, "text_encoder_cpu_ms_per_text",
                                json_real(r.cpu_seconds / ((double)r.calls * batch) * 1e3));
        }
        /* One short query alone (what a search waits for), weights warm. */
        if (!st) st = time_texts(model, 1, info.context_length, budget / 4, &r, &err, &mean_len);
        if (!st) json_object_set_new(o, "text_query_ms", json_real(r.seconds / r.calls * 1e3));
    }
    if (!st && image) {
        json_t *stages = json_object();
        json_object_set_new(o, "stages", stages);
        st = time_stages(model, &info, image, 0, stages, &err);
        if (!st) {
            json_t *fast = json_object();
            json_object_set_new(o, "stages_fast_jpeg", fast);
            st = time_stages(model, &info, image, cs_fast_jpeg_min_side(cs_model_preprocess(model)),
                             fast, &err);
        }
    }
    if (!st && strcmp(info.precision, "fp32") != 0)
        st = fp32_cosines(model, dir, pool, &info, batch, image, o, &err);
    if (!st) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (s) puts(s);
        free(s);
    }
    json_decref(o);
    cs_model_close(model);
    cs_pool_free(pool);
    return st ? cli_fail(&err) : CLI_OK;
}
