/* core/pool.c - the one thread pool (see pool.h). */
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* A nested cs_pool_for, posted where the pool's idle threads can take its
 * tasks (see "Helping" below). One slot per thread; the owner alone opens
 * and closes it. state = id << 32 | next task to hand out, the low half
 * SLOT_CLOSED while closed; fn, ctx and n_tasks are written only while
 * closed and read by helpers under the seqlock rule (state read before and
 * compared-and-swapped after, with an acquire fence between). */
typedef struct slot {
    _Alignas(64) atomic_uint_least64_t state;
    _Atomic(cs_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_uint n_tasks;
    atomic_uint done; /* tasks finished */
} slot;

#define SLOT_CLOSED 0xffffffffu

struct cs_pool {
    int n_threads; /* including the calling thread */
    pthread_t *workers;
    pthread_mutex_t submit; /* one job at a time */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    /* the current job, guarded by lock; `generation` changes per job */
    cs_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_ulong generation; /* written under lock; read by spinners too */
    atomic_int busy_workers;
    int stop;
    int spin; /* iterations to spin before sleeping (0: threads > cores) */
    atomic_int next_task;
    atomic_int tasks_done; /* of the current job */
    int help;              /* idle threads take nested tasks (spin > 0) */
    slot *slots;           /* n_threads */
};

/* Why spin: a forward pass of ViT-B/32 is ~110 jobs (9 per layer), each
 * short. A thread that sleeps on the condition variable between them has to
 * be woken by the kernel for every job (in a VM, an interrupt to an idle
 * virtual CPU), and the caller the same way when the last worker finishes.
 * Spinning for a short while first (2000 pauses) catches the next job, or
 * the end of this one, without the kernel: more images/s at small batches
 * on the image encoder (bench runs of the two builds alternating), at no
 * extra CPU time. Not when the pool has more threads than the machine
 * has cores: a spinner would then take the core of the thread it waits for. */
enum { SPIN_ITERATIONS = 2000 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Helping. A task may call cs_pool_for again (a batch split between the
 * threads runs a whole tower per task, each product a nested job). Run
 * inline, such a job leaves a thread idle from the moment it has finished
 * its own task until the slowest has, and on a shared machine the halves
 * of a batch finish far apart. So a nested job is posted in its thread's
 * slot, and a thread out of tasks of its own takes tasks from the other
 * slots until the whole job is done. Tasks may then run on any thread; the
 * worker index stays unique among the threads running at once. It gains
 * when the cores run at different speeds, as on a shared machine. Not when threads outnumber cores
 * (no spinning there): then nested jobs run inline. */
enum { HELP_IDLE_SCANS = 20000 }; /* fruitless scans (about 1 ms) before giving up */

/* The task this thread is running: its pool and worker index (-1: none),
 * and whether its slot is open (a job nested twice runs inline). */
static _Thread_local int current_worker = -1;
static _Thread_local cs_pool *current_pool;
static _Thread_local int slot_open;

/* The process's affinity, not the machine's CPUs: fewer under taskset, a
 * container's cpuset, or a launcher that binds (mpirun binds each rank to
 * a core, or to a socket past two ranks, unless told --bind-to none).
 * More threads than that would only take turns on the same cores. */
int cs_cpu_count(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Takes one task from slot s, if it has one left, and runs it. Returns 0
 * when the slot had nothing to take. */
static int help_slot(slot *s, int worker) {
    uint_least64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
    unsigned next = (unsigned)(v & 0xffffffffu);
    if (next == SLOT_CLOSED) return 0;
    unsigned n = atomic_load_explicit(&s->n_tasks, memory_order_relaxed);
    cs_task_fn fn = atomic_load_explicit(&s->fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&s->ctx, memory_order_relaxed);
    if (next >= n) return 0;
    atomic_thread_fence(memory_order_acquire);
    /* the claim fails if the slot moved on since v: fn, ctx, n may be stale */
    if (!atomic_compare_exchange_strong_explicit(&s->state, &v, v + 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return 1;
    fn(ctx, (int)next, worker);
    atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    return 1;
}

/* Until every task of the current job has finished: tasks from the other
 * threads' slots. */
static void help_others(cs_pool *p, int n_tasks, int worker) {
    int idle = 0;
    while (atomic_load_explicit(&p->tasks_done, memory_order_acquire) < n_tasks &&
           idle < HELP_IDLE_SCANS) {
        int helped = 0;
        for (int i = 0; i < p->n_threads; i++)
            if (i != worker) helped |= help_slot(&p->slots[i], worker);
        if (helped) {
            idle = 0;
        } else {
            idle++;
            cpu_relax();
        }
    }
}

static void run_tasks(cs_pool *p, cs_task_fn fn, void *ctx, int n_tasks, int worker) {
    current_worker = worker;
    current_pool = p;
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= n_tasks) break;
        fn(ctx, t, worker);
        atomic_fetch_add_explicit(&p->tasks_done, 1, memory_order_release);
    }
    if (p->help) help_others(p, n_tasks, worker);
    current_worker = -1;
    current_pool = NULL;
}

/* A nested job in this thread's slot: its tasks run here and on any idle
 * thread; returns when all have finished. */
static void run_posted(cs_pool *p, int n_tasks, cs_task_fn fn, void *ctx) {
    int worker = current_worker;
    slot *s = &p->slots[worker];
    uint_least64_t id = (atomic_load_explicit(&s->state, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&s->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&s->n_tasks, (unsigned)n_tasks, memory_order_relaxed);
    atomic_store_explicit(&s->done, 0, memory_order_relaxed);
    atomic_store_explicit(&s->state, id << 32, memory_order_release); /* open */
    slot_open = 1;
    unsigned mine = 0;
    for (;;) {
        uint_least64_t v = atomic_fetch_add_explicit(&s->state, 1, memory_order_relaxed);
        unsigned t = (unsigned)(v & 0xffffffffu);
        if (t >= (unsigned)n_tasks) break;
        fn(ctx, (int)t, worker);
        mine++;
    }
    /* the helpers' tasks: done counts theirs, and its acquire makes their
     * writes visible here */
    while (atomic_load_explicit(&s->done, memory_order_acquire) + mine < (unsigned)n_tasks)
        cpu_relax();
    atomic_store_explicit(&s->state, id << 32 | SLOT_CLOSED, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* closed before the next fields */
    slot_open = 0;
}

typedef struct worker_arg {
    cs_pool *pool;
    int index;
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    cs_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (!p->stop && atomic_load(&p->generation) == seen) {
            pthread_mutex_unlock(&p->lock);
            for (int i = 0; i < p->spin && atomic_load(&p->generation) == seen; i++) cpu_relax();
            pthread_mutex_lock(&p->lock);
        }
        while (!p->stop && atomic_load(&p->generation) == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) break;
        seen = atomic_load(&p->generation);
        cs_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_tasks;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, fn, ctx, n, index);
        pthread_mutex_lock(&p->lock);
        if (atomic_fetch_sub(&p->busy_workers, 1) == 1) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

cs_pool *cs_pool_create(int n_threads) {
    if (n_threads <= 0) n_threads = cs_cpu_count();
    cs_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->submit, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next_task, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->busy_workers, 0);
    atomic_init(&p->tasks_done, 0);
    p->spin = n_threads <= cs_cpu_count() ? SPIN_ITERATIONS : 0;
    p->help = p->spin > 0 && n_threads > 1;
    p->slots = aligned_alloc(64, (size_t)n_threads * sizeof *p->slots);
    if (!p->slots) goto fail;
    for (int i = 0; i < n_threads; i++) {
        atomic_init(&p->slots[i].state, SLOT_CLOSED);
        atomic_init(&p->slots[i].fn, NULL);
        atomic_init(&p->slots[i].ctx, NULL);
        atomic_init(&p->slots[i].n_tasks, 0);
        atomic_init(&p->slots[i].done, 0);
    }
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) goto fail;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) goto fail_threads;
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->workers[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            goto fail_threads;
        }
        continue;
    fail_threads:
        p->n_threads = i; /* only i-1 workers exist */
        cs_pool_free(p);
        return NULL;
    }
    return p;
fail:
    free(p->slots);
    free(p);
    return NULL;
}

void cs_pool_free(cs_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    free(p->slots);
    pthread_mutex_destroy(&p->submit);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

cs_pool *cs_pool_current(void) {
    return current_worker >= 0 ? current_pool : NULL;
}

int cs_pool_threads(const cs_pool *p) {
    return p ? p->n_threads : 1;
}

void cs_pool_for(cs_pool *p, int n_tasks, cs_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    /* No pool: inline as worker 0 even inside another pool's task, since a
     * caller without a pool sizes its per-worker scratch for one thread. */
    if (!p) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    if (current_worker >= 0) { /* nested */
        if (p && p == current_pool && p->help && n_tasks > 1 && !slot_open)
            run_posted(p, n_tasks, fn, ctx);
        else
            for (int t = 0; t < n_tasks; t++) fn(ctx, t, current_worker);
        return;
    }
    pthread_mutex_lock(&p->submit); /* callers on other threads wait their turn */
    if (p->n_threads == 1 || n_tasks == 1) {
        current_worker = 0;
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        current_worker = -1;
        pthread_mutex_unlock(&p->submit);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->tasks_done, 0);
    atomic_store(&p->busy_workers, p->n_threads - 1);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    run_tasks(p, fn, ctx, n_tasks, 0);

    for (int i = 0; i < p->spin && atomic_load(&p->busy_workers) > 0; i++) cpu_relax();
    pthread_mutex_lock(&p->lock);
    while (atomic_load(&p->busy_workers) > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->submit);
}
