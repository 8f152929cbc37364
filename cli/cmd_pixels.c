/* cli/cmd_pixels.c - `clipsearch pixels`: what the model sees, as a PNG. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/parse.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_pixels = {
    "pixels", "write the RGB crop the model sees for an image, as a PNG",
    "usage: clipsearch pixels [--model DIR] IMAGE -o OUT.png [options]\n"
    "       clipsearch pixels [--model DIR] IMAGE IMAGE... -o OUTDIR [options]\n"
    "\n"
    "Decodes IMAGE (format from its bytes), applies its EXIF orientation, and\n"
    "resizes and centre-crops it as the model's preprocessor_config.json says,\n"
    "exactly as Pillow + transformers' CLIPImageProcessor do. Writes the 8-bit\n"
    "RGB crop, before normalisation, to OUT.png.\n"
    "With several IMAGEs, OUTDIR is an existing folder and each crop goes to\n"
    "OUTDIR/<file name of IMAGE>.png; a refused image is reported on stderr,\n"
    "the others are still written, and the exit status is then 3.\n"
    "\n"
    "options:\n"
    "  --model DIR|NAME     model folder or hub name (default: $CLIPSEARCH_MODEL,\n"
    "                       else the default model)\n"
    "  -o, --output PATH    the PNG (one IMAGE) or folder (several) to write\n"
    "  --full               write the whole decoded image, not the crop\n"
    "  --ignore-exif        do not apply the EXIF orientation (transformers' way)\n"
    "  --jpeg-min-side N    let JPEGs decode at a reduced DCT scale (fast, inexact)\n"
    "  --max-pixels N       refuse images with more pixels (default 178956970)\n",
    run};

/* A whole number in [lo, hi] (core/parse.h: "-5", "abc", "5x" refused). */
static int parse_count(const char *s, long long lo, long long hi, unsigned long long *out) {
    long long v;
    cs_error err;
    if (cs_parse_int(s, lo, hi, "pixels", &v, &err) != CS_OK) return 0;
    *out = (unsigned long long)v;
    return 1;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Several inputs with one file name would overwrite each other's output. */
static int distinct_names(char **images, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(base_name(images[i]), base_name(images[j]))) {
                cli_error("pixels: %s and %s would both write %s.png", images[j], images[i],
                          base_name(images[i]));
                return 0;
            }
    return 1;
}

/* Decodes one image, crops it when pp is given, writes the PNG. */
static int write_one(const char *image, const char *output, const cs_decode_opts *opts,
                     const cs_preprocess *pp) {
    cs_error err = {0};
    cs_image img, crop;
    if (cs_image_decode_file(image, opts, &img, &err)) return cli_fail(&err);
    if (pp) {
        cs_status st = cs_image_preprocess(&img, pp, &crop, &err);
        cs_image_free(&img);
        if (st) {
            cli_error("%s: %s", image, err.message);
            return CLI_FAIL;
        }
        img = crop;
    }
    cs_status st = cs_image_write_png(&img, output, &err);
    cs_image_free(&img);
    return st ? cli_fail(&err) : CLI_OK;
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"output", required_argument, NULL, 'o'},
                                          {"full", no_argument, NULL, 'f'},
                                          {"ignore-exif", no_argument, NULL, 'e'},
                                          {"jpeg-min-side", required_argument, NULL, 'j'},
                                          {"max-pixels", required_argument, NULL, 'x'},
                                          {NULL, 0, NULL, 0}};
    const char *model = NULL, *output = NULL;
    int full = 0;
    cs_decode_opts opts = {0};
    int c;
    while ((c = getopt_long(argc, argv, "o:", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'f':
            full = 1;
            break;
        case 'e':
            opts.ignore_exif = 1;
            break;
        case 'j':
        case 'x': {
            unsigned long long v;
            if (!parse_count(optarg, 1, c == 'j' ? 65535 : INT64_MAX, &v)) {
                cli_error("pixels: --%s needs a whole number above 0, not '%s'",
                          c == 'j' ? "jpeg-min-side" : "max-pixels", optarg);
                return CLI_USAGE;
            }
            if (c == 'j')
                opts.jpeg_min_side = (int)v;
            else
                opts.max_pixels = v;
            break;
        }
        default:
            return cli_usage(&cs_cmd_pixels);
        }
    }
    if (optind >= argc || !output) return cli_usage(&cs_cmd_pixels);
    const int many = argc - optind > 1;
    if (many && !distinct_names(argv + optind, argc - optind)) return CLI_USAGE;
    cs_preprocess pp;
    if (!full) {
        cs_error err = {0};
        model = cli_resolve_model(model); /* prints why when it fails */
        if (!model) return CLI_FAIL;
        if (cs_preprocess_load(model, &pp, &err)) return cli_fail(&err);
    }
    int refused = 0;
    for (int i = optind; i < argc; i++) {
        char path[4096];
        const char *out = output;
        if (many) {
            if (snprintf(path, sizeof path, "%s/%s.png", output, base_name(argv[i])) >=
                (int)sizeof path) {
                cli_error("pixels: output path too long for %s", argv[i]);
                return CLI_FAIL;
            }
            out = path;
        }
        refused += write_one(argv[i], out, &opts, full ? NULL : &pp) != CLI_OK;
    }
    if (!refused) return CLI_OK;
    return many ? CLI_PARTIAL : CLI_FAIL;
}
