/*
 * loop.c — event-loop threads and the worker pool.
 *
 * Completions travel from a worker to the submitting loop through a mutex-protected list and an event made
 * active with event_active() (thread-safe once evthread_use_pthreads() has run). The same mechanism carries
 * ig_loop_call() requests from other threads (drain on SIGTERM, cache invalidation).
 */
#include "net/loop.h"
#include "core/err.h"
#include "core/log.h"

#include <event2/thread.h>
#include <stdlib.h>
#include <time.h>

typedef struct ig_job {
    struct ig_job *next;
    ig_work_fn work;
    ig_done_fn done;
    void *arg;
    ig_loop_t *loop;
    /* for ig_work_run_sync */
    pthread_mutex_t *sync_mu;
    pthread_cond_t *sync_cv;
    bool *sync_flag;
} ig_job_t;

typedef struct ig_call {
    struct ig_call *next;
    void (*fn)(void *);
    void *arg;
} ig_call_t;

struct ig_workpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ig_job_t *head, *tail;
    bool stopping;
    int n;
    pthread_t *threads;
    void *(*init)(int);
    void (*fini)(void *);
    struct worker_arg *args;
};

struct worker_arg {
    ig_workpool_t *pool;
    int index;
};

uint64_t ig_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t ig_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ig_loop_global_init(void)
{
    static bool done;
    if (done) return IG_OK;
    if (evthread_use_pthreads() != 0) return IG_EINTERNAL;
    done = true;
    return IG_OK;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    ig_loop_t *loop = arg;
    pthread_mutex_lock(&loop->done_mu);
    ig_job_t *j = loop->done_head;
    ig_call_t *c = loop->call_head;
    loop->done_head = loop->done_tail = NULL;
    loop->call_head = loop->call_tail = NULL;
    pthread_mutex_unlock(&loop->done_mu);
    while (j) {
        ig_job_t *n = j->next;
        if (j->done) j->done(j->arg);
        free(j);
        j = n;
    }
    while (c) {
        ig_call_t *n = c->next;
        c->fn(c->arg);
        free(c);
        c = n;
    }
}

int ig_loop_init(ig_loop_t *loop, int index, ig_workpool_t *pool)
{
    memset(loop, 0, sizeof *loop);
    loop->index = index;
    loop->pool = pool;
    pthread_mutex_init(&loop->done_mu, NULL);
    struct event_config *cfg = event_config_new();
    if (!cfg) return IG_ENOMEM;
    loop->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!loop->base) return IG_EINTERNAL;
    loop->done_ev = event_new(loop->base, -1, EV_PERSIST, on_done, loop);
    if (!loop->done_ev) return IG_ENOMEM;
    event_add(loop->done_ev, NULL); /* a pending persistent event keeps the loop alive */
    return IG_OK;
}

void ig_loop_clear(ig_loop_t *loop)
{
    /* calls queued to a loop that had already exited are dropped, not leaked */
    for (ig_call_t *c = loop->call_head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    for (ig_job_t *j = loop->done_head, *n; j; j = n) {
        n = j->next;
        free(j);
    }
    loop->call_head = loop->call_tail = NULL;
    loop->done_head = loop->done_tail = NULL;
    if (loop->done_ev) event_free(loop->done_ev);
    if (loop->base) event_base_free(loop->base);
    pthread_mutex_destroy(&loop->done_mu);
    loop->done_ev = NULL;
    loop->base = NULL;
}

static _Thread_local bool t_loop_thread;

void ig_loop_thread_mark(void)
{
    t_loop_thread = true;
}

bool ig_on_loop_thread(void)
{
    return t_loop_thread;
}

static void *loop_main(void *arg)
{
    ig_loop_t *loop = arg;
    ig_loop_thread_mark();
    event_base_dispatch(loop->base);
    return NULL;
}

int ig_loop_start(ig_loop_t *loop)
{
    return pthread_create(&loop->thread, NULL, loop_main, loop) == 0 ? IG_OK : IG_EINTERNAL;
}

int ig_loop_call(ig_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    ig_call_t *c = calloc(1, sizeof *c);
    if (!c) return IG_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&loop->done_mu);
    if (loop->call_tail)
        loop->call_tail->next = c;
    else
        loop->call_head = c;
    loop->call_tail = c;
    pthread_mutex_unlock(&loop->done_mu);
    event_active(loop->done_ev, EV_READ, 0);
    return IG_OK;
}

static void *worker_main(void *p)
{
    struct worker_arg *wa = p;
    ig_workpool_t *pool = wa->pool;
    void *wctx = pool->init ? pool->init(wa->index) : NULL;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (!pool->head && !pool->stopping)
            pthread_cond_wait(&pool->cv, &pool->mu);
        ig_job_t *j = pool->head;
        if (!j) {
            pthread_mutex_unlock(&pool->mu);
            break;
        }
        pool->head = j->next;
        if (!pool->head) pool->tail = NULL;
        pthread_mutex_unlock(&pool->mu);

        j->work(wctx, j->arg);
        if (j->sync_flag) {
            pthread_mutex_lock(j->sync_mu);
            *j->sync_flag = true;
            pthread_cond_signal(j->sync_cv);
            pthread_mutex_unlock(j->sync_mu);
            free(j);
        } else if (j->loop) {
            ig_loop_t *loop = j->loop;
            j->next = NULL;
            pthread_mutex_lock(&loop->done_mu);
            if (loop->done_tail)
                loop->done_tail->next = j;
            else
                loop->done_head = j;
            loop->done_tail = j;
            pthread_mutex_unlock(&loop->done_mu);
            event_active(loop->done_ev, EV_READ, 0);
        } else {
            free(j);
        }
    }
    if (pool->fini) pool->fini(wctx);
    return NULL;
}

ig_workpool_t *ig_workpool_new(int n, void *(*init)(int index), void (*fini)(void *wctx))
{
    ig_workpool_t *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pool->init = init;
    pool->fini = fini;
    pool->threads = calloc((size_t)n, sizeof(pthread_t));
    pool->args = calloc((size_t)n, sizeof(struct worker_arg));
    if (!pool->threads || !pool->args) goto fail;
    for (int i = 0; i < n; i++) {
        pool->args[i].pool = pool;
        pool->args[i].index = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) goto fail;
        pool->n++;
    }
    return pool;
fail:
    ig_workpool_free(pool);
    return NULL;
}

void ig_workpool_free(ig_workpool_t *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->n; i++)
        pthread_join(pool->threads[i], NULL);
    free(pool->threads);
    free(pool->args);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool);
}

static int enqueue(ig_workpool_t *pool, ig_job_t *j)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->stopping) {
        pthread_mutex_unlock(&pool->mu);
        return IG_EUNAVAILABLE;
    }
    if (pool->tail)
        pool->tail->next = j;
    else
        pool->head = j;
    pool->tail = j;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    return IG_OK;
}

int ig_work_submit(ig_workpool_t *pool, ig_loop_t *loop, ig_work_fn work, ig_done_fn done, void *arg)
{
    ig_job_t *j = calloc(1, sizeof *j);
    if (!j) return IG_ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    j->loop = loop;
    int rc = enqueue(pool, j);
    if (rc) free(j);
    return rc;
}

int ig_work_run_sync(ig_workpool_t *pool, ig_work_fn work, void *arg)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    bool flag = false;
    ig_job_t *j = calloc(1, sizeof *j);
    if (!j) return IG_ENOMEM;
    j->work = work;
    j->arg = arg;
    j->sync_mu = &mu;
    j->sync_cv = &cv;
    j->sync_flag = &flag;
    int rc = enqueue(pool, j);
    if (rc) {
        free(j);
        return rc;
    }
    pthread_mutex_lock(&mu);
    while (!flag)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return IG_OK;
}
