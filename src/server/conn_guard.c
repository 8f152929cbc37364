/* server/conn_guard.c - deadlines and the reserve for connections (see conn_guard.h).
 *
 * Every connection has an entry from libmicrohttpd's "started" notice to its
 * "closed" notice; the entry is its socket context. One thread wakes a few
 * times per deadline and shuts down the connections past theirs. The socket
 * is shut down, never closed, and only under the lock while the entry is
 * listed: libmicrohttpd sends "closed" before it closes the descriptor, so
 * a number reused by another file can never be hit. */
#include "server/conn_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef struct conn_entry {
    struct conn_entry *prev, *next;
    int fd;
    int waiting;     /* for a request's headers */
    int shut;        /* already shut down */
    double since;    /* when it started waiting */
    double deadline; /* 0: none */
    cs_srv_guard *guard;
} conn_entry;

struct cs_srv_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    conn_entry *head, *tail;
    int n_waiting, max_waiting;
    double header_s, body_s;
    unsigned long closed_late, closed_for_room;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Under the lock. */
static void shut(conn_entry *e) {
    if (e->shut) return;
    e->shut = 1;
    e->deadline = 0;
    if (e->fd >= 0) shutdown(e->fd, SHUT_RDWR);
}

static void set_waiting(conn_entry *e, int waiting) {
    if (e->waiting == waiting) return;
    e->waiting = waiting;
    e->guard->n_waiting += waiting ? 1 : -1;
}

/* Closes the connection that has waited longest for its headers. */
static void make_room(cs_srv_guard *g) {
    conn_entry *oldest = NULL;
    for (conn_entry *e = g->head; e; e = e->next)
        if (e->waiting && !e->shut && (!oldest || e->since < oldest->since)) oldest = e;
    if (!oldest) return;
    shut(oldest);
    set_waiting(oldest, 0);
    g->closed_for_room++;
}

static void *watch(void *arg) {
    cs_srv_guard *g = arg;
    double shortest = g->header_s < g->body_s ? g->header_s : g->body_s;
    double tick = shortest / 4 < 0.01 ? 0.01 : shortest / 4 > 0.25 ? 0.25 : shortest / 4;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        double t = now_s();
        for (conn_entry *e = g->head; e; e = e->next)
            if (e->deadline > 0 && t > e->deadline) {
                shut(e);
                set_waiting(e, 0);
                g->closed_late++;
            }
        t += tick;
        struct timespec until = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

cs_srv_guard *cs_srv_guard_new(double header_s, double body_s, int max_waiting) {
    cs_srv_guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->header_s = header_s;
    g->body_s = body_s;
    g->max_waiting = max_waiting;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->lock, NULL);
    if (pthread_create(&g->thread, NULL, watch, g) != 0) {
        cs_srv_guard_free(g);
        return NULL;
    }
    g->running = 1;
    return g;
}

/* After the daemon has stopped: every connection's entry is gone by then. */
void cs_srv_guard_free(cs_srv_guard *g) {
    if (!g) return;
    if (g->running) {
        pthread_mutex_lock(&g->lock);
        g->stop = 1;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
    }
    for (conn_entry *e = g->head, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

void cs_srv_guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code) {
    cs_srv_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_entry *e = calloc(1, sizeof *e);
        *socket_context = e;
        if (!e) return; /* not guarded: the idle timeout still applies */
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        e->fd = info ? info->connect_fd : -1;
        e->guard = g;
        pthread_mutex_lock(&g->lock);
        e->prev = g->tail;
        if (g->tail)
            g->tail->next = e;
        else
            g->head = e;
        g->tail = e;
        e->since = now_s();
        e->deadline = e->since + g->header_s;
        set_waiting(e, 1);
        if (g->n_waiting > g->max_waiting) make_room(g);
        pthread_mutex_unlock(&g->lock);
        return;
    }
    conn_entry *e = *socket_context;
    if (!e) return;
    pthread_mutex_lock(&g->lock);
    set_waiting(e, 0);
    if (e->prev)
        e->prev->next = e->next;
    else
        g->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        g->tail = e->prev;
    pthread_mutex_unlock(&g->lock);
    free(e);
    *socket_context = NULL;
}

static conn_entry *entry_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* Sets the deadline (0: none) and whether it waits for headers. */
static void update(struct MHD_Connection *conn, int waiting, int which) {
    conn_entry *e = entry_of(conn);
    if (!e) return;
    cs_srv_guard *g = e->guard;
    pthread_mutex_lock(&g->lock);
    if (!e->shut) {
        double t = now_s();
        set_waiting(e, waiting);
        e->since = t;
        e->deadline = which == 1 ? t + g->header_s : which == 2 ? t + g->body_s : 0;
    }
    pthread_mutex_unlock(&g->lock);
}

void cs_srv_guard_headers_done(struct MHD_Connection *conn) {
    update(conn, 0, 2);
}

void cs_srv_guard_body_done(struct MHD_Connection *conn) {
    update(conn, 0, 0);
}

void cs_srv_guard_request_done(struct MHD_Connection *conn) {
    update(conn, 1, 1);
}

void cs_srv_guard_stats(cs_srv_guard *g, unsigned long *closed_late,
                        unsigned long *closed_for_room) {
    pthread_mutex_lock(&g->lock);
    *closed_late = g->closed_late;
    *closed_for_room = g->closed_for_room;
    pthread_mutex_unlock(&g->lock);
}
