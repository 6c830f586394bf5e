/*
 * logwriter.h — what the capture writer thread does with a batch of records: derive model, tokens and cost;
 * apply the org's capture mode and PII redaction; seal customer content and identity fields under the org's
 * data key; insert into each org's log database; raise the keys' last use; and, when a log database cannot
 * take a batch, append it to the spool (already redacted and encrypted) for a later replay.
 *
 * Order of guarantees: nothing reaches disk unredacted (redaction happens before encryption, and both before
 * the store or the spool see a byte); a record whose org was deleted meanwhile is discarded; any other record
 * ends in the store or in the spool, unless the disk refuses the spool too (counted as dropped).
 *
 * Budgets: every record's reservation is settled with the call's cost (or, for a stream that reports no
 * usage, an estimate from its bytes capped at the reservation), the batch's spend is added to the store in
 * one transaction that also claims the alerts it crossed, and only the alerts this writer claimed first are
 * queued as webhook events (budget.warning / budget.exceeded), each under an id derived from (budget, period,
 * type). An alert that could not be queued stays pending in the store and is queued again later (by this
 * writer, or by the next process), so each is delivered once per period.
 *
 * Single-threaded: one instance per writer thread.
 */
#ifndef IG_CAPTURE_LOGWRITER_H
#define IG_CAPTURE_LOGWRITER_H

#include "capture/capture.h"

typedef struct ig_logwriter ig_logwriter_t;

ig_logwriter_t *ig_logwriter_new(const ig_capture_conf_t *conf);
void ig_logwriter_free(ig_logwriter_t *w);
/* Writes recs[0..n) (they stay the caller's). Never blocks longer than the store's busy timeout per org. */
void ig_logwriter_write(ig_logwriter_t *w, ig_capture_rec_t **recs, size_t n);
/* Replays spooled records if any and queues budget alerts left pending (cheap when there are none). Call
 * when idle. */
void ig_logwriter_replay(ig_logwriter_t *w);
/* Seals the current spool file so a replay can take it (on shutdown the next process replays it). */
void ig_logwriter_flush(ig_logwriter_t *w);

#endif
