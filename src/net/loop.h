/*
 * loop.h — event-loop threads and the worker pool.
 *
 * One libevent event_base per loop thread. Nothing slow (SQL, bcrypt, DNS, disk) runs on a loop thread:
 * it is submitted to the worker pool with ig_work_submit() and its completion comes back to the submitting
 * loop thread as an event. Worker threads each own a thread-local context (e.g. a store handle) created by
 * the pool's init hook.
 */
#ifndef IG_NET_LOOP_H
#define IG_NET_LOOP_H

#include "core/common.h"

#include <event2/event.h>
#include <pthread.h>

typedef struct ig_loop ig_loop_t;
typedef struct ig_workpool ig_workpool_t;

/* Runs on a worker thread. `wctx` is the worker's context from the pool's init hook. */
typedef void (*ig_work_fn)(void *wctx, void *arg);
/* Runs on the loop thread that submitted the work, after ig_work_fn returned. */
typedef void (*ig_done_fn)(void *arg);

struct ig_loop {
    int index;
    struct event_base *base;
    pthread_t thread;
    void *user; /* the owner's per-loop state (http server, proxy multi handle) */
    /* completion queue fed by workers */
    pthread_mutex_t done_mu;
    struct ig_job *done_head, *done_tail;
    struct event *done_ev;
    /* cross-thread calls into this loop */
    struct ig_call *call_head, *call_tail;
    struct event *call_ev;
    ig_workpool_t *pool;
};

/* Initialises libevent threading once (evthread_use_pthreads). Call before creating any loop. */
int ig_loop_global_init(void);
/* Creates a loop (its event_base and wake-up events). Not started. */
int ig_loop_init(ig_loop_t *loop, int index, ig_workpool_t *pool);
void ig_loop_clear(ig_loop_t *loop);
/* Runs event_base_dispatch on a new thread. */
int ig_loop_start(ig_loop_t *loop);
/* Runs fn(arg) on the loop's own thread, soon. Safe from any thread. */
int ig_loop_call(ig_loop_t *loop, void (*fn)(void *arg), void *arg);

/* Worker pool: `n` threads; init(index) creates each worker's context, fini destroys it. */
ig_workpool_t *ig_workpool_new(int n, void *(*init)(int index), void (*fini)(void *wctx));
/* Stops the workers after the queue is empty, joins them. */
void ig_workpool_free(ig_workpool_t *pool);
/* Queues work; `done` (may be NULL) runs on `loop` afterwards. `loop` NULL = no completion. */
/* Event-loop threads mark themselves (loop_main does): slow functions (bcrypt) refuse to run on them. */
void ig_loop_thread_mark(void);
bool ig_on_loop_thread(void);

int ig_work_submit(ig_workpool_t *pool, ig_loop_t *loop, ig_work_fn work, ig_done_fn done, void *arg);
/* Runs work synchronously on a worker and waits: only for startup and CLI paths, never on a loop thread. */
int ig_work_run_sync(ig_workpool_t *pool, ig_work_fn work, void *arg);

/* Monotonic clock. */
uint64_t ig_now_ns(void);
static inline uint64_t ig_now_ms_mono(void)
{
    return ig_now_ns() / 1000000u;
}
/* Wall clock, unix milliseconds. */
int64_t ig_wall_ms(void);

#endif
