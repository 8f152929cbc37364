/* core/pool.h - the one thread pool: a blocking parallel-for.
 *
 * A pool of N threads is the caller plus N-1 workers. cs_pool_for() hands out
 * task indices 0..n_tasks-1 dynamically (an atomic counter) and returns when
 * all have run. Jobs from different caller threads are serialised. A call
 * made from inside a task (nested) runs on that thread and on any thread of
 * the pool that has run out of tasks of its own (pool.c, "Helping"); one
 * nested inside that runs inline. */
#ifndef CS_CORE_POOL_H
#define CS_CORE_POOL_H

#include "clipsearch/common.h" /* cs_pool, cs_pool_create/free/threads */

/* fn(ctx, task, worker): worker is in [0, cs_pool_threads(pool)), unique among
 * the threads running tasks at the same time, so it can index per-thread
 * scratch (a nested job's tasks may run under another worker than its
 * caller's). */
typedef void (*cs_task_fn)(void *ctx, int task, int worker);

/* cs_pool_create (common.h) returns NULL when out of memory or threads could
 * not be created. cs_pool_for with pool == NULL runs the tasks inline. */
void cs_pool_for(cs_pool *pool, int n_tasks, cs_task_fn fn, void *ctx);

/* The pool whose task the calling thread is running, or NULL (also in a
 * job its caller runs alone: one task, or a pool of one thread, where a
 * nested call runs inline as worker 0). */
cs_pool *cs_pool_current(void);

/* The number of CPUs this process may run on (at least 1): the threads a
 * pool gets by default. */
int cs_cpu_count(void);

#endif
