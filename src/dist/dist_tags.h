/* dist/dist_tags.h - the message tags of the ranks' protocols. */
#ifndef CS_DIST_TAGS_H
#define CS_DIST_TAGS_H

enum {
    /* indexing (dist_index.c: rank 0; dist_index_worker.c: the others) */
    TAG_READY = 1,  /* worker -> 0: model id, dim: the worker is up */
    TAG_FATAL,      /* any -> 0: the rank cannot go on (message) */
    TAG_HASH,       /* 0 -> worker: a chunk of paths to read and hash */
    TAG_HASHED,     /* worker -> 0: their hashes, or why each failed */
    TAG_EMBED,      /* 0 -> worker: the files to embed (paths, maybe bytes) */
    TAG_VECS,       /* worker -> 0: their vectors, sizes and precision, or why each failed */
    TAG_STOP,       /* 0 -> worker: no more work */
    TAG_SHARD_DONE, /* shard -> 0: its counts and failures */
    /* search over shards (dist_search.c) */
    TAG_Q_CHECK = 20, /* 0 -> shard: model id, dim; reply: status + message */
    TAG_Q_SEARCH,     /* 0 -> shard: query; reply: hits */
    TAG_Q_FIND,       /* 0 -> shard: path; reply: found + vector */
    TAG_Q_GET,        /* 0 -> shard: local id; reply: the row */
    TAG_Q_VECTOR,     /* 0 -> shard: local id; reply: its vector */
    TAG_Q_COUNT,      /* 0 -> shard; reply: rows */
    TAG_Q_STOP,       /* 0 -> shard: return */
    TAG_Q_REPLY       /* shard -> 0 */
};

#endif
