/*
 * fuzz_guard.c — libFuzzer target for the request guardrails' body walker and typed-token redaction
 * (src/guard/guard.c, ig_redact_typed in src/redact/redact.c) over arbitrary bytes.
 *
 * Input: a request body (copied to an exact-size heap block, not NUL-terminated, so ASan sees any read past
 * it), run with PII redact + injection log_only and the default detectors.
 * Properties (abort on violation):
 *   1. the run succeeds; nothing is appended unless res.rewritten, which needs a JSON body with PII.
 *   2. the redacted body is read as JSON again and finds no PII (redacting settles in one run: idempotent),
 *      and cJSON reads it whenever cJSON read the input.
 *   3. block mode finds the same counts; log_only finds them too and appends nothing; the action follows the
 *      documented decision (blocked only for PII in a body that is not JSON, in redact mode).
 */
#include "core/err.h"
#include "core/json.h"
#include "guard/guard.h"

#include <stdlib.h>
#include <string.h>

static ig_redactor_t *g_r;

static bool found(const ig_guard_result_t *r)
{
    for (int k = 0; k < IG_PII_NTYPES; k++)
        if (r->pii.n[k]) return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_r && ig_redactor_new(IG_PII_DEFAULTS, NULL, 0, &g_r, NULL, 0) != IG_OK) abort();
    char *t = malloc(size ? size : 1);
    if (!t) return 0;
    memcpy(t, data, size);
    ig_iov_t in = ig_iov(t, size);
    ig_guardset_t redact = {IG_GUARD_REDACT, IG_GUARD_LOG_ONLY, IG_INJECTION_THRESHOLD};
    ig_guardset_t block = {IG_GUARD_BLOCK, IG_GUARD_OFF, IG_INJECTION_THRESHOLD};
    ig_guardset_t logonly = {IG_GUARD_LOG_ONLY, IG_GUARD_OFF, IG_INJECTION_THRESHOLD};
    ig_guard_result_t a, b, c, d;
    ig_buf_t out, o2;
    ig_buf_init(&out, 64 * size + 4096);
    ig_buf_init(&o2, 64 * size + 4096);
    if (ig_guard_run(&redact, g_r, in, &out, &a) != IG_OK) abort();
    if (!a.rewritten && out.len) abort();
    if (a.rewritten && (!a.json || !found(&a) || a.action != IG_GUARD_ACT_REDACTED)) abort();
    if (a.action == IG_GUARD_ACT_BLOCKED && (a.json || !found(&a) || a.blocked_by != IG_EPII)) abort();
    if (found(&a) && !a.rewritten && a.json) abort();
    if (a.injection.score < 0 || a.injection.score > IG_INJECTION_MAX_SCORE) abort();
    if (a.rewritten) {
        if (ig_guard_run(&redact, g_r, ig_buf_iov(&out), &o2, &d) != IG_OK) abort();
        if (!d.json || found(&d) || d.rewritten || o2.len) abort();
        cJSON *x = ig_json_parse_raw(t, size, NULL, false);
        if (x) {
            cJSON *y = ig_json_parse_raw(out.data, out.len, NULL, false);
            if (!y) abort();
            cJSON_Delete(y);
        }
        cJSON_Delete(x);
    }
    ig_buf_reset(&o2);
    if (ig_guard_run(&block, g_r, in, &o2, &b) != IG_OK) abort();
    if (memcmp(&a.pii, &b.pii, sizeof a.pii) != 0 || b.json != a.json) abort();
    if ((b.action == IG_GUARD_ACT_BLOCKED) != found(&b)) abort();
    if (b.rewritten != a.rewritten ||
        (b.rewritten && (o2.len != out.len || memcmp(o2.data, out.data, out.len))))
        abort();
    ig_buf_reset(&o2);
    if (ig_guard_run(&logonly, g_r, in, &o2, &c) != IG_OK || o2.len || c.rewritten) abort();
    if (memcmp(&a.pii, &c.pii, sizeof a.pii) != 0) abort();
    ig_buf_free(&out, true);
    ig_buf_free(&o2, true);
    free(t);
    return 0;
}
