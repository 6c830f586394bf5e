/*
 * logjson.c — a log record as JSON (contract in logjson.h). The one place that decides the shape, so the
 * API's listing, single record and export and the logs.expiring webhook's lines cannot drift apart.
 */
#include "capture/logjson.h"
#include "core/err.h"
#include "core/json.h"
#include "crypto/orgkey.h"

#include <stdio.h>

static bool opt_i64(ig_buf_t *b, const char *name, int64_t v)
{
    if (v >= 0) return ig_buf_appendf(b, ",\"%s\":%lld", name, (long long)v) == IG_OK;
    return ig_buf_appendf(b, ",\"%s\":null", name) == IG_OK;
}

/* A sealed field, opened and written as a JSON string (null when absent or when it does not open). */
static bool sealed_str(ig_buf_t *b, const ig_orgctx_t *o, const char *rec_id, const char *field,
                       const uint8_t *ct, size_t len)
{
    if (ig_buf_appendf(b, ",\"%s\":", field) != IG_OK) return false;
    if (!ct || !len) return ig_buf_lit(b, "null") == IG_OK;
    ig_buf_t pt;
    ig_buf_init(&pt, IG_LOGSTORE_MAX_BLOB);
    bool ok;
    if (ig_field_open(o->dk, o->org_id, rec_id, field, ig_iov((const char *)ct, len), &pt) == IG_OK)
        ok = ig_json_append_str(b, ig_buf_iov(&pt)) == IG_OK;
    else
        ok = ig_buf_lit(b, "null") == IG_OK; /* never happens unless the database was tampered with */
    ig_buf_free(&pt, true);
    return ok;
}

/* "guardrails": null, or {"action", "pii" (counts per type, or null: not screened), "injection_score" (or
 * null: not screened), "injection_rules": [names]}. The stored texts are ours, but read back from a file:
 * the PII counts are re-parsed and re-written, never copied raw. */
static bool guard_json(ig_buf_t *b, const ig_logrec_t *r)
{
    bool ok = true;
#define W(call) ok &= (call) == IG_OK
    if (!r->guard_action) return ig_buf_lit(b, ",\"guardrails\":null") == IG_OK;
    W(ig_buf_lit(b, ",\"guardrails\":{\"action\":"));
    W(ig_json_append_str(b, ig_iov_str(r->guard_action)));
    W(ig_buf_lit(b, ",\"pii\":"));
    cJSON *pii = NULL;
    if (r->guard_pii) (void)ig_json_parse(ig_iov_str(r->guard_pii), NULL, &pii, NULL);
    if (cJSON_IsObject(pii)) {
        const cJSON *it;
        bool first = true;
        W(ig_buf_lit(b, "{"));
        cJSON_ArrayForEach(it, pii)
        {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 4294967295.0) continue;
            if (!first) W(ig_buf_lit(b, ","));
            W(ig_json_append_str(b, ig_iov_str(it->string)));
            W(ig_buf_appendf(b, ":%lld", (long long)it->valuedouble));
            first = false;
        }
        W(ig_buf_lit(b, "}"));
    } else {
        W(ig_buf_lit(b, "null"));
    }
    cJSON_Delete(pii);
    if (r->guard_injection_score >= 0)
        W(ig_buf_appendf(b, ",\"injection_score\":%d,\"injection_rules\":[", r->guard_injection_score));
    else
        W(ig_buf_lit(b, ",\"injection_score\":null,\"injection_rules\":["));
    for (const char *p = r->guard_injection_rules; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (p != r->guard_injection_rules) W(ig_buf_lit(b, ","));
        W(ig_json_append_str(b, ig_iov(p, n)));
        p = c ? c + 1 : p + n;
    }
    W(ig_buf_lit(b, "]}"));
#undef W
    return ok;
}

bool ig_logjson_record(ig_buf_t *b, const ig_orgctx_t *o, const ig_logrec_t *r, bool bodies)
{
    bool ok = true;
#define W(call) ok &= (call) == IG_OK
    W(ig_buf_appendf(b, "{\"id\":\"%s\",\"created_at\":%lld,\"key_id\":", r->id, (long long)r->created_at));
    W(ig_json_append_str(b, ig_iov_str(r->key_id)));
    W(ig_buf_lit(b, ",\"key_prefix\":"));
    W(ig_json_append_str(b, ig_iov_str(r->key_prefix)));
    W(ig_buf_lit(b, ",\"provider\":"));
    W(ig_json_append_str(b, ig_iov_str(r->provider)));
    W(ig_buf_lit(b, ",\"model\":"));
    W(r->model ? ig_json_append_str(b, ig_iov_str(r->model)) : ig_buf_lit(b, "null"));
    W(ig_buf_lit(b, ",\"method\":"));
    W(ig_json_append_str(b, ig_iov_str(r->method)));
    W(ig_buf_lit(b, ",\"path\":"));
    W(ig_json_append_str(b, ig_iov_str(r->path)));
    W(ig_buf_appendf(b, ",\"status\":%d,\"stream\":%s,\"latency_ms\":%.3f,\"ttfb_ms\":%.3f", r->status,
                     r->stream ? "true" : "false", r->latency_ms, r->ttfb_ms));
    ok &= opt_i64(b, "input_tokens", r->input_tokens);
    ok &= opt_i64(b, "output_tokens", r->output_tokens);
    ok &= opt_i64(b, "cached_tokens", r->cached_tokens);
    if (r->cost_micros >= 0)
        W(ig_buf_appendf(b, ",\"cost_usd\":%lld.%06lld", (long long)(r->cost_micros / 1000000),
                         (long long)(r->cost_micros % 1000000)));
    else
        W(ig_buf_lit(b, ",\"cost_usd\":null"));
    W(ig_buf_appendf(b,
                     ",\"req_bytes\":%lld,\"resp_bytes\":%lld,\"req_truncated\":%s,\"resp_truncated\":%s,"
                     "\"cache_hit\":%s,\"error\":",
                     (long long)r->req_bytes, (long long)r->resp_bytes, r->req_truncated ? "true" : "false",
                     r->resp_truncated ? "true" : "false", r->cache_hit ? "true" : "false"));
    W(r->error ? ig_json_append_str(b, ig_iov_str(r->error)) : ig_buf_lit(b, "null"));
    ok &= sealed_str(b, o, r->id, "user_id", r->user_id, r->user_id_len);
    ok &= sealed_str(b, o, r->id, "session_id", r->session_id, r->session_id_len);
    ok &= sealed_str(b, o, r->id, "client_ip", r->client_ip, r->client_ip_len);
    ok &= guard_json(b, r);
    if (bodies) {
        /* named as sealed: req_body / resp_body are the AAD field names too */
        ok &= sealed_str(b, o, r->id, "req_body", r->req_body, r->req_body_len);
        ok &= sealed_str(b, o, r->id, "resp_body", r->resp_body, r->resp_body_len);
    }
    W(ig_buf_lit(b, "}"));
#undef W
    return ok;
}

int ig_logjson_line(ig_buf_t *b, const ig_orgctx_t *o, const ig_logrec_t *r)
{
    size_t mark = b->len;
    if (!ig_logjson_record(b, o, r, true)) {
        b->len = mark;
        if (ig_buf_appendf(b, "{\"id\":\"%s\",\"error\":\"record_too_large\"}", r->id) != IG_OK) {
            b->len = mark;
            return IG_ENOMEM;
        }
    }
    if (ig_buf_lit(b, "\n") != IG_OK) {
        b->len = mark;
        return IG_ENOMEM;
    }
    return IG_OK;
}
