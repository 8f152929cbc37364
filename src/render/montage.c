/* render/montage.c - contact sheets (see sheet.h). */
#include "render/sheet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/file.h"
#include "render/font.h"

enum { MAX_SHEET_PIXELS = 100 * 1000 * 1000, FRAME = 3 };

static const uint8_t BACKGROUND[3] = {255, 255, 255};
static const uint8_t TEXT[3] = {20, 20, 20};
static const uint8_t PLACEHOLDER[3] = {200, 200, 200};
static const uint8_t HIGHLIGHT[3] = {31, 119, 180}; /* the query's frame */

cs_status cs_montage_plan(int n, int tile, int columns, cs_montage_layout *l, cs_error *err) {
    if (n < 1 || tile < 16 || tile > 4096 || columns < 1)
        return cs_fail(err, CS_EINVAL, "montage: bad layout (%d images, tile %d, %d columns)", n,
                       tile, columns);
    memset(l, 0, sizeof *l);
    l->tile = tile;
    l->scale = tile >= 160 ? 2 : 1;
    l->pad = tile / 16 > FRAME + 2 ? tile / 16 : FRAME + 2; /* room for the frame */
    l->line_h = CS_FONT_LINE_H * l->scale;
    l->columns = columns < n ? columns : n;
    l->rows = (n + l->columns - 1) / l->columns;
    l->cell_h = tile + l->pad / 2 + 2 * l->line_h;
    int64_t w = (int64_t)l->columns * tile + (int64_t)(l->columns + 1) * l->pad;
    int64_t h = (int64_t)l->rows * l->cell_h + (int64_t)(l->rows + 1) * l->pad;
    if (w * h > MAX_SHEET_PIXELS)
        return cs_fail(err, CS_ELIMIT, "montage: %lld x %lld pixels is too large", (long long)w,
                       (long long)h);
    l->width = (int)w;
    l->height = (int)h;
    return CS_OK;
}

void cs_montage_cell_origin(const cs_montage_layout *l, int i, int *x, int *y) {
    *x = l->pad + (i % l->columns) * (l->tile + l->pad);
    *y = l->pad + (i / l->columns) * (l->cell_h + l->pad);
}

static void fill_rect(cs_image *img, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
    for (int y = y0 < 0 ? 0 : y0; y < y0 + h && y < img->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x0 + w && x < img->width; x++)
            memcpy(img->rgb + 3 * ((size_t)y * img->width + x), rgb, 3);
}

/* src fitted into the box x0,y0 (box x box), centred. Output pixel (tx, ty)
 * is the mean of the source rows [ty*h/th, (ty+1)*h/th) and likewise
 * columns (at least one of each, so enlarging repeats pixels). */
static void draw_thumbnail(cs_image *dst, int x0, int y0, int box, const cs_image *src) {
    int64_t w = src->width, h = src->height;
    int64_t tw = w >= h ? box : (w * box + h / 2) / h;
    int64_t th = h >= w ? box : (h * box + w / 2) / w;
    if (tw < 1) tw = 1;
    if (th < 1) th = 1;
    int ox = x0 + (int)(box - tw) / 2, oy = y0 + (int)(box - th) / 2;
    for (int64_t ty = 0; ty < th; ty++) {
        int64_t sy0 = ty * h / th, sy1 = (ty + 1) * h / th;
        if (sy1 <= sy0) sy1 = sy0 + 1;
        for (int64_t tx = 0; tx < tw; tx++) {
            int64_t sx0 = tx * w / tw, sx1 = (tx + 1) * w / tw;
            if (sx1 <= sx0) sx1 = sx0 + 1;
            uint64_t sum[3] = {0, 0, 0};
            for (int64_t sy = sy0; sy < sy1; sy++) {
                const uint8_t *p = src->rgb + 3 * (sy * w + sx0);
                for (int64_t sx = sx0; sx < sx1; sx++, p += 3) {
                    sum[0] += p[0];
                    sum[1] += p[1];
                    sum[2] += p[2];
                }
            }
            uint64_t count = (uint64_t)((sy1 - sy0) * (sx1 - sx0));
            uint8_t *d = dst->rgb + 3 * ((size_t)(oy + ty) * dst->width + (size_t)(ox + tx));
            for (int c = 0; c < 3; c++) d[c] = (uint8_t)((sum[c] + count / 2) / count);
        }
    }
}

/* text as ASCII, shortened in the middle with ".." to fit max_w pixels. */
static void fit_caption(const char *text, int scale, int max_w, char *out, size_t cap) {
    cs_font_ascii(text ? text : "", out, cap);
    int max_chars = (max_w / scale + 1) / CS_FONT_ADVANCE;
    size_t len = strlen(out);
    if ((int)len <= max_chars) return;
    if (max_chars < 3) {
        out[max_chars > 0 ? max_chars : 0] = '\0';
        return;
    }
    size_t keep = (size_t)max_chars - 2, head = (keep + 1) / 2, tail = keep - head;
    memmove(out + head + 2, out + len - tail, tail + 1);
    out[head] = out[head + 1] = '.';
}

static void draw_caption(cs_image *img, const cs_montage_layout *l, int x0, int y, const char *s) {
    char line[512];
    fit_caption(s, l->scale, l->tile, line, sizeof line);
    int w = cs_font_width(line, l->scale);
    cs_font_draw(img, x0 + (l->tile - w) / 2, y, l->scale, TEXT, line);
}

/* text word-wrapped to the box's width, the lines centred in the box; what
 * does not fit ends with "..". */
static void draw_box_text(cs_image *img, const cs_montage_layout *l, int x0, int y0,
                          const char *text) {
    char ascii[1024], lines[16][256];
    cs_font_ascii(text, ascii, sizeof ascii);
    int max_chars = ((l->tile - 2 * l->pad) / l->scale + 1) / CS_FONT_ADVANCE;
    int max_lines = (l->tile - 2 * l->pad) / l->line_h;
    if (max_chars < 1) max_chars = 1;
    if (max_chars > 255) max_chars = 255;
    if (max_lines > 16) max_lines = 16;
    int n = 0;
    const char *p = ascii;
    while (*p == ' ') p++;
    while (*p && n < max_lines) {
        int len = (int)strlen(p);
        int take = len <= max_chars ? len : max_chars;
        if (take < len) { /* break at the last space that fits, if any */
            int sp = take;
            while (sp > 0 && p[sp] != ' ') sp--;
            if (sp > 0) take = sp;
        }
        memcpy(lines[n], p, (size_t)take);
        lines[n][take] = '\0';
        p += take;
        while (*p == ' ') p++;
        n++;
    }
    if (*p && n > 0) { /* more text than room: mark the cut */
        size_t len = strlen(lines[n - 1]);
        if ((int)len + 2 > max_chars) len = max_chars >= 2 ? (size_t)max_chars - 2 : 0;
        strcpy(lines[n - 1] + len, "..");
    }
    int y = y0 + (l->tile - n * l->line_h) / 2;
    for (int i = 0; i < n; i++, y += l->line_h) draw_caption(img, l, x0, y, lines[i]);
}

static void draw_cell(cs_image *img, const cs_montage_layout *l, int i,
                      const cs_montage_cell *cell) {
    int x0, y0;
    cs_montage_cell_origin(l, i, &x0, &y0);
    if (cell->highlight) {
        fill_rect(img, x0 - FRAME, y0 - FRAME, l->tile + 2 * FRAME, l->tile + 2 * FRAME, HIGHLIGHT);
        fill_rect(img, x0, y0, l->tile, l->tile, BACKGROUND);
    }
    if (cell->image && cell->image->rgb && cell->image->width > 0 && cell->image->height > 0) {
        draw_thumbnail(img, x0, y0, l->tile, cell->image);
    } else {
        fill_rect(img, x0, y0, l->tile, l->tile, PLACEHOLDER);
        draw_box_text(img, l, x0, y0, cell->box_text ? cell->box_text : "unreadable");
    }
    int ty = y0 + l->tile + l->pad / 2 + (l->line_h - CS_FONT_GLYPH_H * l->scale) / 2;
    draw_caption(img, l, x0, ty, cell->line1);
    draw_caption(img, l, x0, ty + l->line_h, cell->line2);
}

cs_status cs_montage_compose(const cs_montage_cell *cells, int n, int tile, int columns,
                             cs_image *out, cs_error *err) {
    memset(out, 0, sizeof *out);
    cs_montage_layout l;
    cs_status st = cs_montage_plan(n, tile, columns, &l, err);
    if (st != CS_OK) return st;
    cs_image img = {l.width, l.height, malloc((size_t)l.width * l.height * 3)};
    if (!img.rgb)
        return cs_fail(err, CS_ENOMEM, "montage: out of memory for %d x %d pixels", l.width,
                       l.height);
    fill_rect(&img, 0, 0, l.width, l.height, BACKGROUND);
    for (int i = 0; i < n; i++) draw_cell(&img, &l, i, &cells[i]);
    *out = img;
    return CS_OK;
}

/* ---- JPEG output -------------------------------------------------------------- */

cs_status cs_jpeg_write_file(const char *path, const cs_image *img, int quality, cs_error *err) {
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return cs_fail(err, CS_EINVAL, "%s: no image to write", path);
    unsigned char *buf = NULL;
    size_t size = 0;
    cs_status st = cs_image_encode_jpeg(img, quality, &buf, &size, err);
    if (st != CS_OK) {
        return cs_fail_prefix(err, st, path);
    }
    st = cs_write_file_atomic(path, buf, size, err);
    free(buf);
    return st;
}
