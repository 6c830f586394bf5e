/*
 * capture.h — the capture queue: loop threads hand over one record per proxied call without waiting; a writer
 * thread persists them in batched transactions through its own store handle.
 *
 * ig_capture_submit() never blocks on the store: the queue is bounded, and a record that does not fit is
 * counted as dropped (the on-disk spool that makes this lossless comes with the log pipeline). Records own
 * their strings and body copies; the writer frees them.
 */
#ifndef IG_CAPTURE_CAPTURE_H
#define IG_CAPTURE_CAPTURE_H

#include "core/buf.h"
#include "store/store.h"

#include <stdatomic.h>

typedef struct ig_capture_rec {
    struct ig_capture_rec *next;
    ig_callrec_t meta; /* meta.path / meta.error / meta.model point into the strings below */
    char *path;
    char *error;
    char *model;       /* filled by the writer from the request body */
    ig_buf_t req_body; /* the request body; the writer trims it to req_capture_max after reading the model */
    size_t req_capture_max;
    ig_buf_t resp_body; /* bounded copy */
} ig_capture_rec_t;

typedef struct ig_capture_stats {
    atomic_ullong submitted, written, dropped, failed_batches;
} ig_capture_stats_t;

extern ig_capture_stats_t ig_capture_stats;

/* Starts the writer thread with its own handle on store_url. */
int ig_capture_start(const char *store_url, size_t queue_len);
/* Hands a record over (ownership moves, even on failure). false when the queue is full (counted). */
bool ig_capture_submit(ig_capture_rec_t *rec);
/* Writes everything queued, then stops the writer. */
void ig_capture_stop(void);
void ig_capture_rec_free(ig_capture_rec_t *rec);
/* Extracts the top-level "model" string of a JSON body (NULL if none); malloc'd. Exposed for tests. */
char *ig_capture_model_of(ig_iov_t body);

#endif
