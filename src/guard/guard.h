/*
 * guard.h — request guardrails on the proxy path (docs/guardrails.md): outbound PII redaction and
 * prompt-injection screening of a request body before it goes upstream.
 *
 * What is scanned. A body that is JSON is walked without building a tree: every string VALUE (not the
 * member names, not numbers) is decoded (escapes resolved, so "a\u0040b.com" is an email) and handed, one
 * by one, to the PII detectors (redact/redact.h, typed tokens) and to the injection rules (guard/injection.h,
 * whose score combines the values). Only the values that change are rewritten (re-escaped); every other
 * byte of the body is copied as it was. A value is matched on its own: PII split across two values is not
 * joined. A body that is not JSON (another content type, or JSON that does not parse: trailing bytes, a
 * syntax error, nesting deeper than IG_GUARD_MAX_DEPTH) is scanned as ONE text and never rewritten: in
 * redact mode such a body with PII is refused as in block mode (fail closed: it cannot be redacted
 * safely). An empty body has nothing to find.
 *
 * Modes. PII: off, log_only (findings recorded, body unchanged), redact (matches replaced by typed tokens;
 * the body's length changes, so does the upstream Content-Length), block (refused: pii_detected).
 * Injection: off, log_only, block (refused when the score reaches the threshold: injection_detected). PII is
 * decided first: a body both would refuse is refused as pii_detected.
 *
 * Threads: everything here runs on the calling thread (an event-loop thread on the proxy path) and is
 * thread-safe; the redactor is shared read-only.
 */
#ifndef IG_GUARD_GUARD_H
#define IG_GUARD_GUARD_H

#include "core/buf.h"
#include "core/common.h"
#include "guard/injection.h"
#include "redact/redact.h"

#include <cjson/cJSON.h>

/* JSON nesting followed; a deeper body is scanned as text. The request parsers upstream (cJSON) stop at
 * 1000. */
#define IG_GUARD_MAX_DEPTH 1024

typedef enum { IG_GUARD_OFF = 0, IG_GUARD_LOG_ONLY, IG_GUARD_REDACT, IG_GUARD_BLOCK } ig_guard_mode_t;

/* An org's guardrail settings (settings.guardrails, capture/orgset.h). */
typedef struct {
    ig_guard_mode_t pii;       /* off, log_only, redact, block */
    ig_guard_mode_t injection; /* off, log_only, block (never redact) */
    int threshold;             /* 1..100, default IG_INJECTION_THRESHOLD */
} ig_guardset_t;

/* What an org gets when it asked for nothing: PII off, injection log_only (Enterprise; free orgs: off). */
#define IG_GUARDSET_DEFAULT ((ig_guardset_t){IG_GUARD_OFF, IG_GUARD_LOG_ONLY, IG_INJECTION_THRESHOLD})
#define IG_GUARDSET_OFF     ((ig_guardset_t){IG_GUARD_OFF, IG_GUARD_OFF, IG_INJECTION_THRESHOLD})

/* What the guardrails did with a request. */
typedef enum {
    IG_GUARD_ACT_NONE = 0, /* did not run (both off) */
    IG_GUARD_ACT_ALLOWED,  /* ran, nothing found (an injection score under the threshold included) */
    IG_GUARD_ACT_LOGGED,   /* found something, log_only: forwarded unchanged */
    IG_GUARD_ACT_REDACTED, /* PII replaced by typed tokens: the rewritten body was forwarded */
    IG_GUARD_ACT_BLOCKED,  /* refused with 400 (blocked_by says which) */
} ig_guard_action_t;

typedef struct {
    ig_guard_action_t action;
    int blocked_by; /* IG_EPII or IG_EINJECTION when blocked, else 0 */
    bool pii_ran, injection_ran;
    bool json;      /* the body was read as JSON (else as one text) */
    bool rewritten; /* the redacted body was written to `out` (redact or block mode, something found) */
    ig_pii_counts_t pii;
    ig_injection_result_t injection;
    int threshold;
} ig_guard_result_t;

/*
 * Runs the guardrails `set` over `body`. r: the org's redactor (default detectors and custom patterns),
 * needed when set->pii is not off (else IG_EINVAL). In redact and block modes, when PII was found in a JSON
 * body, the whole redacted body is appended to `out` and res->rewritten is set (block mode: a copy for the
 * log, so the refused PII is not stored); otherwise nothing is appended. IG_OK with *res filled (res->action
 * says what to do); IG_EINVAL; IG_ETOOBIG (the redacted body does not fit under out's ceiling); IG_ENOMEM;
 * IG_EINTERNAL (the injection rules do not compile). On error nothing is appended and *res is zeroed.
 */
int ig_guard_run(const ig_guardset_t *set, const ig_redactor_t *r, ig_iov_t body, ig_buf_t *out,
                 ig_guard_result_t *res);

/*
 * The 400 body of a blocked request (res->action == IG_GUARD_ACT_BLOCKED), appended to b:
 *   {"error": "...", "error_code": "pii_detected", "pii": {"email": 1, ...}, "request_id": "..."}
 *   {"error": "...", "error_code": "injection_detected", "injection_score": 60, "threshold": 50,
 *    "request_id": "..."}
 * Counts and the score only: never a matched text. IG_OK or a buffer error.
 */
int ig_guard_error_json(const ig_guard_result_t *res, const char *request_id, ig_buf_t *b);

/* Findings as the log store keeps them (store/logstore.h guard_* fields). */
#define IG_GUARD_TEXT_MAX 512
typedef struct {
    const char *action;            /* "allowed" | "logged" | "redacted" | "blocked"; NULL: did not run */
    char pii[IG_GUARD_TEXT_MAX];   /* "" when PII was not screened, else {"email":2,...} ({} = none) */
    char rules[IG_GUARD_TEXT_MAX]; /* matched injection rules, joined with "," ("" = none) */
    int injection_score;           /* -1 when injection was not screened */
} ig_guard_text_t;
void ig_guard_text(const ig_guard_result_t *res, ig_guard_text_t *out);

/* "off", "log_only", "redact", "block" <-> ig_guard_mode_t; -1 for an unknown name. */
const char *ig_guard_mode_name(ig_guard_mode_t m);
int ig_guard_mode_parse(const char *name);

/*
 * settings.guardrails: {"pii": "off"|"log_only"|"redact"|"block", "injection": "off"|"log_only"|"block",
 * "injection_threshold": 1..100}, every member optional (defaults: IG_GUARDSET_DEFAULT). IG_OK with *out,
 * or IG_EINVAL with *why (static text naming the member).
 */
int ig_guardset_parse(const cJSON *g, ig_guardset_t *out, const char **why);

#endif
