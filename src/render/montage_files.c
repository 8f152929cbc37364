/* render/montage_files.c - cs_montage_write (clipsearch/montage.h): decodes
 * the query and the result files and lays them out with cs_montage_compose. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch/image.h"
#include "clipsearch/montage.h"
#include "core/error.h"
#include "render/sheet.h"

enum { DEFAULT_TILE = 224, MAX_COLUMNS = 6, JPEG_QUALITY = 90 };

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* Decodes path into *img, shrunk by the JPEG decoder where it can be (the
 * tile needs no more). A file that cannot be read leaves img empty: its cell
 * shows "unreadable" instead of failing the whole sheet, and the log hook
 * is told why. */
static void load(const char *path, const cs_montage_opts *o, cs_image *img) {
    cs_decode_opts opts = {.jpeg_min_side = o->tile};
    cs_error err;
    if (cs_image_decode_file(path, &opts, img, &err) == CS_OK) return;
    memset(img, 0, sizeof *img);
    if (o->log) {
        char line[sizeof err.message + 64];
        snprintf(line, sizeof line, "%s (drawn as an unreadable tile)", err.message);
        o->log(o->log_user, CS_LOG_WARN, line);
    }
}

cs_status cs_montage_write(const char *out_path, const char *query_label, const char *query_image,
                           const char *const *paths, const float *scores, int n,
                           const cs_montage_opts *opts, cs_error *err) {
    if (!out_path || n < 0 || (n > 0 && (!paths || !scores)))
        return cs_fail(err, CS_EINVAL, "montage: bad arguments");
    if (n == 0) return cs_fail(err, CS_EINVAL, "%s: no results to draw", out_path);
    cs_montage_opts o = opts ? *opts : (cs_montage_opts){0};
    if (o.tile <= 0) o.tile = DEFAULT_TILE;
    int tile = o.tile;
    int cells_n = n + 1;
    cs_montage_cell *cells = calloc((size_t)cells_n, sizeof *cells);
    cs_image *images = calloc((size_t)cells_n, sizeof *images);
    char(*captions)[32] = calloc((size_t)cells_n, sizeof *captions);
    if (!cells || !images || !captions) {
        free(cells);
        free(images);
        free(captions);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory", out_path);
    }
    /* cell 0: the query, framed; an image query shows the image, a text
     * query its words */
    if (query_image) load(query_image, &o, &images[0]);
    cells[0] = (cs_montage_cell){.image = &images[0],
                                 .box_text = query_image ? NULL : (query_label ? query_label : ""),
                                 .line1 = "Query",
                                 .line2 = query_label   ? query_label
                                          : query_image ? base_name(query_image)
                                                        : "",
                                 .highlight = 1};
    for (int i = 0; i < n; i++) {
        load(paths[i], &o, &images[i + 1]);
        snprintf(captions[i + 1], sizeof captions[0], "Score: %.4f", (double)scores[i]);
        cells[i + 1] = (cs_montage_cell){
            .image = &images[i + 1], .line1 = captions[i + 1], .line2 = base_name(paths[i])};
    }
    cs_image sheet;
    int columns = cells_n < MAX_COLUMNS ? cells_n : MAX_COLUMNS;
    cs_status st = cs_montage_compose(cells, cells_n, tile, columns, &sheet, err);
    if (st == CS_OK) {
        st = cs_jpeg_write_file(out_path, &sheet, JPEG_QUALITY, err);
        free(sheet.rgb);
    }
    for (int i = 0; i < cells_n; i++) cs_image_free(&images[i]);
    free(captions);
    free(images);
    free(cells);
    return st;
}
