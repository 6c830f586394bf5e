/*
 * capture.c — bounded capture queue and its writer thread.
 *
 * The queue is a mutex-protected singly linked list with a count; the mutex is held only for pointer
 * updates, so a loop thread never waits on I/O. The writer takes up to BATCH records at a time, derives the
 * model from the request body (JSON parsing happens here, off the loop) and hands the batch to the log writer
 * (logwriter.c: tokens, cost, redaction, encryption, one transaction per org, the spool when an org's
 * database cannot take it). It wakes every IG_CAPTURE_FLUSH_MS (or as soon as a full batch is waiting), so
 * under load each transaction carries hundreds of records and no loop thread ever pays for waking it; when
 * idle it replays the spool. A record is lost only when the queue is full (counted) or the disk refuses the
 * spool.
 */
#include "capture/capture.h"
#include "capture/logwriter.h"
#include "capture/usage.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 256

ig_capture_stats_t ig_capture_stats;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static ig_capture_rec_t *g_head, *g_tail;
static size_t g_len, g_cap;
static bool g_stop, g_running;
static pthread_t g_thread;

void ig_capture_rec_free(ig_capture_rec_t *r)
{
    if (!r) return;
    if (r->budget.ledger && r->budget.hold.n) { /* never settled (dropped): charge the reservation */
        unsigned crossed[IG_BUDGET_MAX_PER_CALL];
        int64_t spent[IG_BUDGET_MAX_PER_CALL];
        ig_budget_hold_t h = r->budget.hold;
        ig_budget_settle(r->budget.ledger, &r->budget.hold, -1, crossed, spent);
        for (int i = 0; i < h.n; i++) /* nobody can report these crossings: the next settlement will */
            if (crossed[i]) ig_budget_unmark(r->budget.ledger, h.id[i], h.period_start[i], crossed[i]);
    }
    free(r->path);
    free(r->error);
    free(r->model);
    ig_buf_free(&r->req_body, true);
    ig_buf_free(&r->resp_body, true);
    free(r->user_id);
    free(r->session_id);
    free(r->req_ctype);
    free(r->resp_ctype);
    free(r);
}

char *ig_capture_model_of(ig_iov_t body)
{
    char m[IG_USAGE_MODEL_MAX + 1];
    return ig_usage_request_model(body, m) ? strdup(m) : NULL;
}

bool ig_capture_submit(ig_capture_rec_t *rec)
{
    atomic_fetch_add(&ig_capture_stats.submitted, 1);
    pthread_mutex_lock(&g_mu);
    if (!g_running || g_len >= g_cap) {
        pthread_mutex_unlock(&g_mu);
        atomic_fetch_add(&ig_capture_stats.dropped, 1);
        ig_capture_rec_free(rec);
        return false;
    }
    rec->next = NULL;
    if (g_tail)
        g_tail->next = rec;
    else
        g_head = rec;
    g_tail = rec;
    g_len++;
    /* the writer wakes on its flush interval; a full batch wakes it early. No wake-up per record: a futex
     * wake and a context switch per call would cost more than the insert itself. */
    if (g_len == BATCH) pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return true;
}

static void *writer_main(void *arg)
{
    ig_logwriter_t *w = arg;
    ig_capture_rec_t *batch[BATCH];
    for (;;) {
        size_t n = 0;
        pthread_mutex_lock(&g_mu);
        if (g_len < BATCH && !g_stop) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += IG_CAPTURE_FLUSH_MS * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_cv, &g_mu, &dl);
        }
        bool stop = g_stop;
        while (g_head && n < BATCH) {
            batch[n++] = g_head;
            g_head = g_head->next;
            g_len--;
        }
        if (!g_head) g_tail = NULL;
        atomic_store(&ig_capture_stats.queue_depth, g_len);
        pthread_mutex_unlock(&g_mu);
        if (n == 0) {
            if (stop) break;
            ig_logwriter_replay(w); /* idle: a good moment to catch up with the spool */
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            ig_capture_rec_t *r = batch[i];
            if (!r->model) r->model = ig_capture_model_of(ig_buf_iov(&r->req_body));
            if (r->req_capture_max && r->req_body.len > r->req_capture_max)
                r->req_body.len = r->req_capture_max;
        }
        ig_logwriter_write(w, batch, n);
        for (size_t i = 0; i < n; i++)
            ig_capture_rec_free(batch[i]);
    }
    ig_logwriter_replay(w);
    ig_logwriter_flush(w);
    ig_logwriter_free(w);
    return NULL;
}

int ig_capture_start(const ig_capture_conf_t *conf)
{
    ig_logwriter_t *w = ig_logwriter_new(conf);
    if (!w) return IG_ENOMEM;
    g_cap = conf->queue_len;
    g_stop = false;
    g_running = true;
    if (pthread_create(&g_thread, NULL, writer_main, w) != 0) {
        g_running = false;
        ig_logwriter_free(w);
        return IG_EINTERNAL;
    }
    return IG_OK;
}

void ig_capture_stop(void)
{
    pthread_mutex_lock(&g_mu);
    bool running = g_running;
    pthread_mutex_unlock(&g_mu);
    if (!running) return;
    pthread_mutex_lock(&g_mu);
    g_running = false; /* later submits are refused (and counted), never stranded in the queue */
    g_stop = true;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g_thread, NULL);
}
