/* model/pickle.c - see pickle.h. A small stack machine over a closed set of
 * value kinds; every value lives in one arena freed at the end. */
#include "model/pickle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MAX_STACK 100000
#define MAX_MEMO  (1 << 20)
#define MAX_ARENA ((size_t)256 << 20)

typedef enum vkind {
    V_MARK,
    V_NONE,
    V_BOOL,
    V_INT,
    V_STR,
    V_TUPLE,
    V_LIST,
    V_DICT,
    V_GLOBAL,
    V_STORAGE,
    V_TENSOR
} vkind;

enum { G_ODICT = 1, G_REBUILD, G_PARAM, G_STORAGE };

typedef struct val val;
struct val {
    vkind k;
    int64_t i;     /* V_INT, V_BOOL; V_GLOBAL: G_*; */
    cs_dtype dt;   /* V_GLOBAL storage class, V_STORAGE */
    const char *s; /* V_STR (NUL-terminated copy); V_STORAGE: key */
    val **items;   /* V_TUPLE, V_LIST, V_DICT (key, value pairs) */
    int n, cap;
    cs_pkl_tensor *t; /* V_TENSOR */
};

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

typedef struct vm {
    const uint8_t *start, *p, *end;
    const char *name;
    cs_error *err;
    block *arena;
    size_t arena_total;
    val **stack;
    int sp, stack_cap;
    val **memo;
    int memo_cap;
    int memo_next; /* MEMOIZE's implicit index */
} vm;

static void *alloc(vm *v, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!v->arena || v->arena->used + n > v->arena->cap) {
        size_t cap = n > 65536 ? n : 65536;
        if (v->arena_total + cap > MAX_ARENA) return NULL;
        block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = v->arena;
        b->used = 0;
        b->cap = cap;
        v->arena = b;
        v->arena_total += cap;
    }
    void *r = v->arena->data + v->arena->used;
    v->arena->used += n;
    memset(r, 0, n);
    return r;
}

/* Fills err with CS_EFORMAT and returns -1, the steps' failure value. */
static int fail_fmt(cs_error *err, const char *fmt, ...) CS_PRINTF(2, 3);
static int fail_fmt(cs_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = CS_EFORMAT;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}
#define FAIL(...) fail_fmt(v->err, __VA_ARGS__)

static val *mk(vm *v, vkind k) {
    val *x = alloc(v, sizeof *x);
    if (x) x->k = k;
    return x;
}

static int push(vm *v, val *x) {
    if (!x) return cs_fail(v->err, CS_ENOMEM, "%s: pickle too large", v->name), -1;
    if (v->sp == v->stack_cap) {
        if (v->stack_cap >= MAX_STACK) return FAIL("%s: pickle stack too deep", v->name);
        int cap = v->stack_cap ? v->stack_cap * 2 : 256;
        val **s = realloc(v->stack, (size_t)cap * sizeof *s);
        if (!s) return cs_fail(v->err, CS_ENOMEM, "%s: out of memory", v->name), -1;
        v->stack = s;
        v->stack_cap = cap;
    }
    v->stack[v->sp++] = x;
    return 0;
}

static val *pop(vm *v) {
    if (v->sp == 0 || v->stack[v->sp - 1]->k == V_MARK) {
        FAIL("%s: pickle stack underflow", v->name);
        return NULL;
    }
    return v->stack[--v->sp];
}

/* The index of the topmost mark, or -1. */
static int find_mark(vm *v) {
    for (int i = v->sp - 1; i >= 0; i--)
        if (v->stack[i]->k == V_MARK) return i;
    FAIL("%s: pickle has no MARK where one is needed", v->name);
    return -1;
}

static int append_item(vm *v, val *seq, val *x) {
    if (seq->n == seq->cap) {
        int cap = seq->cap ? seq->cap * 2 : 8;
        val **it = alloc(v, (size_t)cap * sizeof *it);
        if (!it) return cs_fail(v->err, CS_ENOMEM, "%s: pickle too large", v->name), -1;
        if (seq->n) memcpy(it, seq->items, (size_t)seq->n * sizeof *it);
        seq->items = it;
        seq->cap = cap;
    }
    seq->items[seq->n++] = x;
    return 0;
}

/* Pops everything above the topmost mark (and the mark) into a new tuple. */
static val *tuple_from_mark(vm *v) {
    int m = find_mark(v);
    if (m < 0) return NULL;
    val *t = mk(v, V_TUPLE);
    for (int i = m + 1; t && i < v->sp; i++)
        if (append_item(v, t, v->stack[i])) return NULL;
    v->sp = m;
    return t;
}

static int need(vm *v, size_t n) {
    if ((size_t)(v->end - v->p) < n) return FAIL("%s: pickle truncated", v->name);
    return 0;
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

static val *str_val(vm *v, const uint8_t *s, size_t n) {
    val *x = mk(v, V_STR);
    char *c = x ? alloc(v, n + 1) : NULL;
    if (!c) return NULL;
    memcpy(c, s, n);
    x->s = c;
    x->i = (int64_t)n;
    return x;
}

static const struct {
    const char *name;
    cs_dtype dt;
} storages[] = {
    {"FloatStorage", CS_DT_F32},  {"HalfStorage", CS_DT_F16}, {"BFloat16Storage", CS_DT_BF16},
    {"DoubleStorage", CS_DT_F64}, {"LongStorage", CS_DT_I64}, {"IntStorage", CS_DT_I32},
    {"ShortStorage", CS_DT_I16},  {"CharStorage", CS_DT_I8},  {"ByteStorage", CS_DT_U8},
    {"BoolStorage", CS_DT_BOOL},
};

static val *global(vm *v, const char *mod, size_t ml, const char *nm, size_t nl) {
    val *g = mk(v, V_GLOBAL);
    if (!g) return NULL;
#define IS(s, l, lit) ((l) == sizeof(lit) - 1 && !memcmp(s, lit, l))
    if (IS(mod, ml, "collections") && IS(nm, nl, "OrderedDict"))
        g->i = G_ODICT;
    else if (IS(mod, ml, "torch._utils") && IS(nm, nl, "_rebuild_tensor_v2"))
        g->i = G_REBUILD;
    else if (IS(mod, ml, "torch._utils") && IS(nm, nl, "_rebuild_parameter"))
        g->i = G_PARAM;
    else if (IS(mod, ml, "torch")) {
        for (size_t i = 0; i < sizeof storages / sizeof storages[0]; i++)
            if (strlen(storages[i].name) == nl && !memcmp(nm, storages[i].name, nl)) {
                g->i = G_STORAGE;
                g->dt = storages[i].dt;
            }
    }
#undef IS
    if (!g->i) {
        cs_fail(v->err, CS_EUNSUPPORTED,
                "%s: refusing pickle global '%.*s.%.*s' (only a state dict of tensors is read)",
                v->name, (int)(ml > 64 ? 64 : ml), mod, (int)(nl > 64 ? 64 : nl), nm);
        return NULL;
    }
    return g;
}

static int int_of(const val *x, int64_t *out) {
    if (!x || (x->k != V_INT && x->k != V_BOOL)) return -1;
    *out = x->i;
    return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static val *rebuild_tensor(vm *v, val *args) {
    if (args->n < 6 || args->n > 7 || args->items[0]->k != V_STORAGE ||
        args->items[2]->k != V_TUPLE || args->items[3]->k != V_TUPLE ||
        args->items[2]->n != args->items[3]->n || args->items[5]->k != V_DICT ||
        args->items[5]->n != 0 || args->items[2]->n > CS_MAX_DIMS) {
        FAIL("%s: unexpected arguments to _rebuild_tensor_v2", v->name);
        return NULL;
    }
    val *x = mk(v, V_TENSOR);
    cs_pkl_tensor *t = x ? alloc(v, sizeof *t) : NULL;
    if (!t) return NULL;
    x->t = t;
    val *sto = args->items[0];
    t->dtype = sto->dt;
    t->storage = (char *)sto->s;
    t->storage_numel = sto->i;
    t->ndim = args->items[2]->n;
    if (int_of(args->items[1], &t->offset) || t->offset < 0) {
        FAIL("%s: bad tensor storage offset", v->name);
        return NULL;
    }
    for (int d = 0; d < t->ndim; d++)
        if (int_of(args->items[2]->items[d], &t->shape[d]) ||
            int_of(args->items[3]->items[d], &t->stride[d]) || t->shape[d] < 0) {
            FAIL("%s: bad tensor shape or stride", v->name);
            return NULL;
        }
    return x;
}

static int op_reduce(vm *v) {
    val *args = pop(v), *fn = args ? pop(v) : NULL;
    if (!fn) return -1;
    if (fn->k != V_GLOBAL || args->k != V_TUPLE)
        return FAIL("%s: REDUCE on a non-callable", v->name);
    val *r = NULL;
    if (fn->i == G_ODICT) {
        if (args->n != 0) return FAIL("%s: OrderedDict with arguments", v->name);
        r = mk(v, V_DICT);
    } else if (fn->i == G_REBUILD) {
        if (!(r = rebuild_tensor(v, args))) return -1;
    } else if (fn->i == G_PARAM) { /* (tensor, requires_grad, hooks) */
        if (args->n != 3 || args->items[0]->k != V_TENSOR)
            return FAIL("%s: unexpected arguments to _rebuild_parameter", v->name);
        r = args->items[0];
    } else {
        return FAIL("%s: a storage class cannot be called", v->name);
    }
    return push(v, r);
}

/* BINPERSID: ('storage', StorageClass, key, location, numel) */
static int op_persid(vm *v) {
    val *pid = pop(v);
    if (!pid) return -1;
    if (pid->k != V_TUPLE || pid->n != 5 || pid->items[0]->k != V_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->k != V_GLOBAL ||
        pid->items[1]->i != G_STORAGE || pid->items[2]->k != V_STR || pid->items[3]->k != V_STR ||
        pid->items[4]->k != V_INT || pid->items[4]->i < 0)
        return FAIL("%s: unexpected persistent id (not a tensor storage)", v->name);
    val *s = mk(v, V_STORAGE);
    if (!s) return push(v, NULL);
    s->dt = pid->items[1]->dt;
    s->s = pid->items[2]->s;
    s->i = pid->items[4]->i;
    return push(v, s);
}

/* Duplicate keys are caught later, when the tensors enter the (hashed)
 * table: checking here would cost quadratic time on a hostile pickle. */
static int dict_set(vm *v, val *d, val *key, val *value) {
    if (!d || d->k != V_DICT) return FAIL("%s: SETITEM on a non-dict", v->name);
    if (append_item(v, d, key) || append_item(v, d, value)) return -1;
    return 0;
}

static int memo_put(vm *v, int64_t idx) {
    if (v->sp == 0) return FAIL("%s: memo store from an empty stack", v->name);
    if (idx < 0 || idx >= MAX_MEMO)
        return FAIL("%s: memo index %lld out of range", v->name, (long long)idx);
    if (idx >= v->memo_cap) {
        int cap = v->memo_cap ? v->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        val **m = realloc(v->memo, (size_t)cap * sizeof *m);
        if (!m) return cs_fail(v->err, CS_ENOMEM, "%s: out of memory", v->name), -1;
        memset(m + v->memo_cap, 0, (size_t)(cap - v->memo_cap) * sizeof *m);
        v->memo = m;
        v->memo_cap = cap;
    }
    v->memo[idx] = v->stack[v->sp - 1];
    return 0;
}

static int memo_get(vm *v, int64_t idx) {
    if (idx < 0 || idx >= v->memo_cap || !v->memo[idx])
        return FAIL("%s: memo index %lld not set", v->name, (long long)idx);
    return push(v, v->memo[idx]);
}

/* Runs one opcode; 1 at STOP, 0 to go on, -1 on error. */
static int step(vm *v, val **result) {
    if (need(v, 1)) return -1;
    uint8_t op = *v->p++;
    const uint8_t *a = v->p;
    val *x, *y, *z;
    int m;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(v, 1)) return -1;
        if (a[0] < 2 || a[0] > 5) return FAIL("%s: pickle protocol %d", v->name, a[0]);
        v->p += 1;
        return 0;
    case 0x95: /* FRAME: a hint only */
        if (need(v, 8)) return -1;
        v->p += 8;
        return 0;
    case '.': /* STOP */
        if (!(*result = pop(v))) return -1;
        return 1;
    case '(':
        return push(v, mk(v, V_MARK));
    case ')':
        return push(v, mk(v, V_TUPLE));
    case ']':
        return push(v, mk(v, V_LIST));
    case '}':
        return push(v, mk(v, V_DICT));
    case 'N':
        return push(v, mk(v, V_NONE));
    case 0x88:
    case 0x89: /* NEWTRUE, NEWFALSE */
        if ((x = mk(v, V_BOOL))) x->i = op == 0x88;
        return push(v, x);
    case 'K':
    case 'M':
    case 'J': { /* BININT1, BININT2, BININT */
        int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if (need(v, (size_t)n)) return -1;
        v->p += n;
        if ((x = mk(v, V_INT))) x->i = n == 4 ? (int64_t)(int32_t)le(a, 4) : (int64_t)le(a, n);
        return push(v, x);
    }
    case 0x8a: { /* LONG1 */
        if (need(v, 1) || need(v, 1u + a[0])) return -1;
        int n = a[0];
        if (n > 8) return FAIL("%s: integer of %d bytes", v->name, n);
        v->p += 1 + n;
        uint64_t u = n ? le(a + 1, n) : 0;
        if (n && n < 8 && (a[n] & 0x80)) u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        if ((x = mk(v, V_INT))) x->i = (int64_t)u;
        return push(v, x);
    }
    case 'X':
    case 0x8c: { /* BINUNICODE, SHORT_BINUNICODE */
        int n = op == 'X' ? 4 : 1;
        if (need(v, (size_t)n)) return -1;
        uint64_t len = le(a, n);
        v->p += n;
        if (need(v, len)) return -1;
        v->p += len;
        return push(v, str_val(v, a + n, len));
    }
    case 'c': { /* GLOBAL "module\nname\n" */
        const uint8_t *nl1 = memchr(a, '\n', (size_t)(v->end - a));
        const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(v->end - nl1 - 1)) : NULL;
        if (!nl2) return FAIL("%s: truncated GLOBAL", v->name);
        v->p = nl2 + 1;
        x = global(v, (const char *)a, (size_t)(nl1 - a), (const char *)nl1 + 1,
                   (size_t)(nl2 - nl1 - 1));
        return x ? push(v, x) : -1;
    }
    case 0x93: /* STACK_GLOBAL */
        if (!(y = pop(v)) || !(x = pop(v))) return -1;
        if (x->k != V_STR || y->k != V_STR) return FAIL("%s: STACK_GLOBAL on non-strings", v->name);
        z = global(v, x->s, (size_t)x->i, y->s, (size_t)y->i);
        return z ? push(v, z) : -1;
    case 't':
        return (x = tuple_from_mark(v)) ? push(v, x) : -1;
    case 0x85:
    case 0x86:
    case 0x87: { /* TUPLE1..3 */
        int n = op - 0x84;
        if (v->sp < n) return FAIL("%s: pickle stack underflow", v->name);
        if (!(x = mk(v, V_TUPLE))) return push(v, NULL);
        for (int i = v->sp - n; i < v->sp; i++) {
            if (v->stack[i]->k == V_MARK) return FAIL("%s: MARK inside TUPLE%d", v->name, n);
            if (append_item(v, x, v->stack[i])) return -1;
        }
        v->sp -= n;
        return push(v, x);
    }
    case 'a': /* APPEND */
        if (!(x = pop(v)) || !(y = pop(v))) return -1;
        if (y->k != V_LIST) return FAIL("%s: APPEND to a non-list", v->name);
        if (append_item(v, y, x)) return -1;
        return push(v, y);
    case 'e': /* APPENDS */
        if ((m = find_mark(v)) < 1) return -1;
        if (v->stack[m - 1]->k != V_LIST) return FAIL("%s: APPENDS to a non-list", v->name);
        for (int i = m + 1; i < v->sp; i++)
            if (append_item(v, v->stack[m - 1], v->stack[i])) return -1;
        v->sp = m;
        return 0;
    case 's': /* SETITEM */
        if (!(z = pop(v)) || !(y = pop(v)) || v->sp == 0)
            return v->sp ? -1 : FAIL("%s: SETITEM underflow", v->name);
        return dict_set(v, v->stack[v->sp - 1], y, z);
    case 'u': /* SETITEMS */
        if ((m = find_mark(v)) < 1) return -1;
        if ((v->sp - m - 1) % 2) return FAIL("%s: SETITEMS with an odd count", v->name);
        for (int i = m + 1; i < v->sp; i += 2)
            if (dict_set(v, v->stack[m - 1], v->stack[i], v->stack[i + 1])) return -1;
        v->sp = m;
        return 0;
    case 'b': /* BUILD: only a dict's __dict__ (e.g. state_dict._metadata), ignored */
        if (!(x = pop(v)) || v->sp == 0) return v->sp ? -1 : FAIL("%s: BUILD underflow", v->name);
        if (v->stack[v->sp - 1]->k != V_DICT || (x->k != V_DICT && x->k != V_NONE))
            return FAIL("%s: BUILD on something other than a dict", v->name);
        return 0;
    case 'R':
        return op_reduce(v);
    case 'Q':
        return op_persid(v);
    case 'q':
    case 'r': { /* BINPUT, LONG_BINPUT */
        int n = op == 'q' ? 1 : 4;
        if (need(v, (size_t)n)) return -1;
        v->p += n;
        return memo_put(v, (int64_t)le(a, n));
    }
    case 0x94: /* MEMOIZE */
        return memo_put(v, v->memo_next++);
    case 'h':
    case 'j': { /* BINGET, LONG_BINGET */
        int n = op == 'h' ? 1 : 4;
        if (need(v, (size_t)n)) return -1;
        v->p += n;
        return memo_get(v, (int64_t)le(a, n));
    }
    default:
        cs_fail(v->err, CS_EUNSUPPORTED, "%s: refusing pickle opcode 0x%02x at byte %ld", v->name,
                op, (long)(a - 1 - v->start));
        return -1;
    }
}

static cs_status collect(vm *v, val *root, cs_pkl_tensor **out, int *n_out) {
    if (root->k != V_DICT)
        return cs_fail(v->err, CS_EFORMAT, "%s: the pickle is not a state dict", v->name);
    int n = root->n / 2;
    cs_pkl_tensor *t = calloc((size_t)(n ? n : 1), sizeof *t);
    if (!t) return cs_fail(v->err, CS_ENOMEM, "%s: out of memory", v->name);
    for (int i = 0; i < n; i++) {
        val *k = root->items[2 * i], *x = root->items[2 * i + 1];
        if (k->k != V_STR || x->k != V_TENSOR) {
            cs_pickle_free(t, i);
            return cs_fail(v->err, CS_EFORMAT, "%s: state dict entry %d is not name -> tensor",
                           v->name, i);
        }
        t[i] = *x->t;
        t[i].name = strdup(k->s);
        t[i].storage = strdup(x->t->storage);
        if (!t[i].name || !t[i].storage) {
            cs_pickle_free(t, i + 1);
            return cs_fail(v->err, CS_ENOMEM, "%s: out of memory", v->name);
        }
    }
    *out = t;
    *n_out = n;
    return CS_OK;
}

cs_status cs_pickle_state_dict(const uint8_t *buf, size_t size, const char *name,
                               cs_pkl_tensor **out, int *n_out, cs_error *err) {
    *out = NULL;
    *n_out = 0;
    vm v = {.start = buf, .p = buf, .end = buf + size, .name = name, .err = err};
    val *root = NULL;
    int r = 0;
    while (r == 0) r = step(&v, &root);
    cs_status st = r < 0 ? (err ? err->status : CS_EFORMAT) : collect(&v, root, out, n_out);
    if (r > 0 && !st && v.p != v.end) { /* trailing bytes after STOP */
        cs_pickle_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
        st = cs_fail(err, CS_EFORMAT, "%s: %ld bytes after the end of the pickle", name,
                     (long)(v.end - v.p));
    }
    while (v.arena) {
        block *b = v.arena->next;
        free(v.arena);
        v.arena = b;
    }
    free(v.stack);
    free(v.memo);
    return st;
}

void cs_pickle_free(cs_pkl_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].storage);
    }
    free(t);
}
