/* render/sheet.h - a contact sheet: images in a grid, each with two caption
 * lines under it, written as JPEG. cs_montage_write (clipsearch/montage.h)
 * decodes the files and calls these. */
#ifndef CS_RENDER_SHEET_H
#define CS_RENDER_SHEET_H

#include "clipsearch/image.h"

typedef struct cs_montage_cell {
    const cs_image *image; /* NULL: a grey box with box_text in it */
    const char *box_text;  /* e.g. a text query, word-wrapped; NULL: "unreadable" */
    const char *line1;     /* UTF-8, may be NULL; drawn in ASCII (font.h) */
    const char *line2;
    int highlight; /* 1: framed (the query) */
} cs_montage_cell;

/* The layout, in pixels, for n cells of tile x tile in `columns` columns. */
typedef struct cs_montage_layout {
    int tile, pad, scale, line_h; /* scale: font pixel size */
    int columns, rows;
    int cell_h; /* tile + caption */
    int width, height;
} cs_montage_layout;

cs_status cs_montage_plan(int n, int tile, int columns, cs_montage_layout *out, cs_error *err);

/* The top-left corner of cell i's tile x tile picture box. */
void cs_montage_cell_origin(const cs_montage_layout *l, int i, int *x, int *y);

/* Draws the sheet into out (out->rgb malloc'd; release with free()). Each
 * image is shrunk (or enlarged) to fit its box, keeping its aspect ratio, by
 * averaging the source pixels each output pixel covers. */
cs_status cs_montage_compose(const cs_montage_cell *cells, int n, int tile, int columns,
                             cs_image *out, cs_error *err);

/* Baseline JPEG (libjpeg), written atomically. quality 1..100. */
cs_status cs_jpeg_write_file(const char *path, const cs_image *img, int quality, cs_error *err);

#endif
