/*
 * logjson.h — one log record as the JSON object the API shows (GET /api/v1/logs, /logs/:id, the JSONL export)
 * and the logs.expiring webhook delivers: its metadata, and its sealed fields (end-user and session ids,
 * client address and, with bodies, the request and response bodies) opened under the org's data key. Bodies
 * are what the log store holds: redacted when the org's redaction applied at capture time.
 *
 * Callers run on worker or background threads: opening sealed fields is AES-GCM over up to two captured
 * bodies (10 MB each).
 */
#ifndef IG_CAPTURE_LOGJSON_H
#define IG_CAPTURE_LOGJSON_H

#include "capture/orgctx.h"
#include "core/buf.h"
#include "store/logstore.h"

/* Appends r as one JSON object to b (o: the record's org, for its data key). A sealed field that is absent,
 * or does not open (a tampered database), is null. false when b's ceiling or memory ran out: b then ends in
 * a partial object, which the caller cuts off. */
bool ig_logjson_record(ig_buf_t *b, const ig_orgctx_t *o, const ig_logrec_t *r, bool bodies);
/* Appends one JSONL line: the record with its bodies and "\n" or, when it does not fit in b,
 * {"id":"<id>","error":"record_too_large"} and "\n" (a line is whole or replaced, never cut). IG_OK;
 * IG_ENOMEM when not even that fits (b is then unchanged). */
int ig_logjson_line(ig_buf_t *b, const ig_orgctx_t *o, const ig_logrec_t *r);

#endif
