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
    "\n"
    "Decodes IMAGE (format from its bytes), applies its EXIF orientation, and\n"
    "resizes and centre-crops it as the model's preprocessor_config.json says,\n"
    "exactly as Pillow + transformers' CLIPImageProcessor do. Writes the 8-bit\n"
    "RGB crop, before normalisation, to OUT.png.\n"
    "\n"
    "options:\n"
    "  --model DIR|NAME     model folder or hub name (default: $CLIPSEARCH_MODEL,\n"
    "                       else the default model)\n"
    "  -o, --output FILE    the PNG to write (required)\n"
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
    if (optind != argc - 1 || !output) return cli_usage(&cs_cmd_pixels);
    const char *image = argv[optind];
    cs_error err = {0};
    cs_preprocess pp;
    if (!full) {
        model = cli_resolve_model(model); /* prints why when it fails */
        if (!model) return CLI_FAIL;
        if (cs_preprocess_load(model, &pp, &err)) return cli_fail(&err);
    }
    cs_image img, crop;
    if (cs_image_decode_file(image, &opts, &img, &err)) return cli_fail(&err);
    if (!full) {
        cs_status st = cs_image_preprocess(&img, &pp, &crop, &err);
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
