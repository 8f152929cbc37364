/* server/assets.h - the files of the web page (src/server/web/), embedded in
 * the library at build time by cmake/EmbedAssets.cmake. */
#ifndef CS_SERVER_ASSETS_H
#define CS_SERVER_ASSETS_H

#include <stddef.h>

typedef struct cs_srv_asset {
    const char *name; /* "index.html": a bare file name, never a path */
    const char *mime;
    const unsigned char *data;
    size_t size;
    const char *etag; /* "\"<16 hex digits of its SHA-256>\"" */
} cs_srv_asset;

/* Ends with an entry whose name is NULL. */
extern const cs_srv_asset cs_srv_assets[];

#endif
