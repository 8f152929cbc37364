/*
 * clipsearch.h - the public C API of clipsearch.
 *
 * clipsearch embeds images and texts with a CLIP model into one vector space
 * and finds the images nearest to a text or an image. The API is split by
 * stage, in the order data flows:
 *
 *   clipsearch/common.h     status codes, cs_error, the log hook
 *   clipsearch/tokenizer.h  text -> token ids (identical to Hugging Face)
 *   clipsearch/image.h      file bytes -> RGB pixels -> model input (Pillow-exact)
 *   clipsearch/model.h      ids / pixels -> embeddings (the CLIP engine)
 *   clipsearch/search.h     exact top-k search, FAISS interchange
 *   clipsearch/montage.h    results drawn as a contact sheet (JPEG)
 *   clipsearch/index.h      folders -> catalogue (SQLite) -> queries
 *   clipsearch/hub.h        model download and cache
 *   clipsearch/server.h     the HTTP API and web page
 *
 * Link with -lclipsearch (pkg-config: clipsearch).
 */
#ifndef CLIPSEARCH_H
#define CLIPSEARCH_H

#include "clipsearch/common.h"

#include "clipsearch/tokenizer.h"
#include "clipsearch/image.h"
#include "clipsearch/model.h"
#include "clipsearch/search.h"
#include "clipsearch/montage.h"
#include "clipsearch/index.h"
#include "clipsearch/hub.h"
#include "clipsearch/server.h"

#endif /* CLIPSEARCH_H */
