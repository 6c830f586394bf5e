/*
 * orgset.c — parsing and validation of an org's logging settings (see orgset.h).
 */
#include "capture/orgset.h"
#include "core/err.h"
#include "core/json.h"
#include "limit/limiter.h"
#include "net/outbound.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const DETECTORS[] = {"email", "ssn", "card", "phone"};
static const unsigned DETECTOR_BITS[] = {IG_PII_EMAIL, IG_PII_SSN, IG_PII_CARD, IG_PII_PHONE};

void ig_orgset_clear(ig_orgset_t *s)
{
    for (size_t i = 0; i < s->ncustom; i++)
        free(s->custom[i]);
    free(s->custom);
    free(s->allowlist);
    memset(s, 0, sizeof *s);
    s->retention_days = -1;
    s->detectors = IG_PII_DEFAULTS;
    s->guard = IG_GUARDSET_DEFAULT;
}

static int parse_redaction(const cJSON *r, ig_orgset_t *out, const char **why, char *err, size_t errlen)
{
    static const char *const keys[] = {"enabled", "mode", "detectors", "custom", NULL};
    const char *bad = NULL, *s = NULL;
    size_t len = 0;
    if (!cJSON_IsObject(r) || ig_json_only_keys(r, keys, &bad) != IG_OK) {
        *why = "settings.redaction must be an object with enabled, mode, detectors, custom";
        return IG_EINVAL;
    }
    bool en = false;
    int rc = ig_json_get_bool(r, "enabled", &en);
    if (rc == IG_EINVAL) {
        *why = "settings.redaction.enabled must be true or false";
        return IG_EINVAL;
    }
    out->redact = rc == IG_OK && en;
    rc = ig_json_get_str(r, "mode", &s, &len);
    if (rc == IG_OK) {
        if (strcmp(s, "pattern") == 0)
            out->redact_mode = IG_REDACT_PATTERN;
        else if (strcmp(s, "hash") == 0)
            out->redact_mode = IG_REDACT_HASH;
        else if (strcmp(s, "drop") == 0)
            out->redact_mode = IG_REDACT_DROP;
        else
            rc = IG_EINVAL;
    }
    if (rc == IG_EINVAL) {
        *why = "settings.redaction.mode must be pattern, hash or drop";
        return IG_EINVAL;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "detectors");
    if (d) {
        if (!cJSON_IsArray(d)) goto bad_detectors;
        out->detectors = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, d)
        {
            unsigned bit = 0;
            for (size_t i = 0; i < IG_ARRAY_LEN(DETECTORS); i++)
                if (cJSON_IsString(it) && strcmp(it->valuestring, DETECTORS[i]) == 0) bit = DETECTOR_BITS[i];
            if (!bit) goto bad_detectors;
            out->detectors |= bit;
        }
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "custom");
    if (c) {
        int n = cJSON_IsArray(c) ? cJSON_GetArraySize(c) : -1;
        if (n < 0 || n > IG_REDACT_MAX_CUSTOM) {
            *why = "settings.redaction.custom must be an array of at most 32 patterns";
            return IG_EINVAL;
        }
        out->custom = calloc((size_t)n + 1, sizeof *out->custom);
        if (!out->custom) return IG_ENOMEM;
        const cJSON *it;
        cJSON_ArrayForEach(it, c)
        {
            if (!cJSON_IsString(it) || !it->valuestring[0] ||
                strlen(it->valuestring) > IG_REDACT_MAX_PATTERN_BYTES) {
                *why = "settings.redaction.custom patterns must be non-empty strings of at most 1024 bytes";
                return IG_EINVAL;
            }
            if (!(out->custom[out->ncustom] = strdup(it->valuestring))) return IG_ENOMEM;
            out->ncustom++;
        }
        /* compiled now so a bad pattern is refused when saved, not found by the writer later */
        ig_redactor_t *rd = NULL;
        rc =
            ig_redactor_new(out->detectors, (const char *const *)out->custom, out->ncustom, &rd, err, errlen);
        ig_redactor_free(rd);
        if (rc) {
            *why = "settings.redaction.custom has a pattern that does not compile";
            return rc == IG_ENOMEM ? IG_ENOMEM : IG_EINVAL;
        }
    }
    return IG_OK;
bad_detectors:
    *why = "settings.redaction.detectors must be an array of email, ssn, card, phone";
    return IG_EINVAL;
}

/* "outbound_allowlist": an array of entries, joined with commas for the validator (which reads that form) */
static int parse_allowlist(const cJSON *a, ig_orgset_t *out, const char **why)
{
    static const char bad[] =
        "settings.outbound_allowlist must be an array of at most 256 host, host:port, ip or "
        "cidr entries (see docs/webhooks.md)";
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n < 0 || n > IG_OUTBOUND_MAX_ENTRIES) {
        *why = bad;
        return IG_EINVAL;
    }
    size_t len = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strchr(it->valuestring, ',') ||
            strlen(it->valuestring) > IG_OUTBOUND_HOST_MAX + 8) {
            *why = bad;
            return IG_EINVAL;
        }
        len += strlen(it->valuestring) + 1;
    }
    if (n == 0) return IG_OK;
    if (len > IG_OUTBOUND_ALLOWLIST_MAX || !(out->allowlist = calloc(1, len))) {
        *why = bad;
        return len > IG_OUTBOUND_ALLOWLIST_MAX ? IG_EINVAL : IG_ENOMEM;
    }
    size_t at = 0;
    cJSON_ArrayForEach(it, a)
    {
        size_t k = strlen(it->valuestring);
        if (at) out->allowlist[at++] = ',';
        memcpy(out->allowlist + at, it->valuestring, k);
        at += k;
    }
    if (ig_outbound_allowlist_validate(out->allowlist, NULL) != IG_OK) {
        *why = bad;
        return IG_EINVAL;
    }
    return IG_OK;
}

int ig_orgset_rate_limits(const cJSON *r, int64_t *rpm, int64_t *tpm, const char **why)
{
    static const char *const keys[] = {"requests_per_minute", "tokens_per_minute", NULL};
    static const char *const bad[] = {
        "rate_limits.requests_per_minute must be a positive integer up to 60000000000, or null",
        "rate_limits.tokens_per_minute must be a positive integer up to 60000000000, or null"};
    _Static_assert(IG_LIMITER_MAX_PER_MINUTE == 60000000000LL, "the messages name the largest limit");
    int64_t v[2] = {0, 0};
    if (!cJSON_IsObject(r)) {
        *why = "rate_limits must be an object with requests_per_minute and tokens_per_minute, or null";
        return IG_EINVAL;
    }
    if (ig_json_only_keys(r, keys, NULL) != IG_OK) {
        *why = "rate_limits has an unknown member (known: requests_per_minute, tokens_per_minute)";
        return IG_EINVAL;
    }
    for (int i = 0; i < 2; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(r, keys[i]);
        if (!x || cJSON_IsNull(x)) continue;
        if (ig_json_get_int(r, keys[i], &v[i]) != IG_OK || v[i] < 1 || v[i] > IG_LIMITER_MAX_PER_MINUTE) {
            *why = bad[i];
            return IG_EINVAL;
        }
    }
    *rpm = v[0];
    *tpm = v[1];
    return IG_OK;
}

/* "guardrails" (guard/guard.h): absent = the defaults */
static int parse_guardrails(const cJSON *set, ig_orgset_t *out, const char **why)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(set, "guardrails");
    if (!g) return IG_OK;
    int rc = ig_guardset_parse(g, &out->guard, why);
    out->guard_on = rc == IG_OK && (out->guard.pii != IG_GUARD_OFF || out->guard.injection != IG_GUARD_OFF);
    return rc;
}

int ig_orgset_parse(const cJSON *set, ig_orgset_t *out, const char **why, char *err, size_t errlen)
{
    static const char *const keys[] = {"capture",     "retention_days", "redaction", "outbound_allowlist",
                                       "rate_limits", "guardrails",     NULL};
    const char *bad = NULL, *s = NULL;
    size_t len = 0;
    int64_t days = 0;
    memset(out, 0, sizeof *out);
    ig_orgset_clear(out);
    if (err && errlen) err[0] = '\0';
    *why = NULL;
    if (!cJSON_IsObject(set)) {
        *why = "settings must be an object";
        return IG_EINVAL;
    }
    if (ig_json_only_keys(set, keys, &bad) != IG_OK) {
        *why = "unknown setting (known: capture, retention_days, redaction, outbound_allowlist, rate_limits, "
               "guardrails)";
        return IG_EINVAL;
    }
    int rc = ig_json_get_str(set, "capture", &s, &len);
    if (rc == IG_OK) {
        if (strcmp(s, "full") == 0)
            out->capture = IG_CAPTURE_FULL;
        else if (strcmp(s, "metadata") == 0)
            out->capture = IG_CAPTURE_METADATA;
        else if (strcmp(s, "off") == 0)
            out->capture = IG_CAPTURE_OFF;
        else
            rc = IG_EINVAL;
    }
    if (rc == IG_EINVAL) {
        *why = "settings.capture must be full, metadata or off";
        return IG_EINVAL;
    }
    rc = ig_json_get_int(set, "retention_days", &days);
    if (rc == IG_OK && days != 7 && days != 30 && days != 60 && days != 90 && days != 0) rc = IG_EINVAL;
    if (rc == IG_EINVAL) {
        *why = "settings.retention_days must be 7, 30, 60, 90 or 0 (unlimited)";
        return IG_EINVAL;
    }
    if (rc == IG_OK) out->retention_days = (int)days;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(set, "redaction");
    if (r && (rc = parse_redaction(r, out, why, err, errlen))) {
        ig_orgset_clear(out);
        return rc;
    }
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(set, "outbound_allowlist");
    if (a && (rc = parse_allowlist(a, out, why))) {
        ig_orgset_clear(out);
        return rc;
    }
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(set, "rate_limits");
    const char *detail = NULL;
    if (rl && !cJSON_IsNull(rl) && ig_orgset_rate_limits(rl, &out->rpm_limit, &out->tpm_limit, &detail)) {
        *why = "settings.rate_limits is invalid";
        if (err && errlen) snprintf(err, errlen, "%s", detail);
        ig_orgset_clear(out);
        return IG_EINVAL;
    }
    if ((rc = parse_guardrails(set, out, why))) {
        ig_orgset_clear(out);
        return rc;
    }
    return IG_OK;
}

void ig_orgset_parse_text(const char *text, ig_orgset_t *out)
{
    const char *why = NULL;
    cJSON *doc = text ? ig_json_parse_raw(text, strlen(text), NULL, false) : NULL;
    if (!doc || ig_orgset_parse(doc, out, &why, NULL, 0) != IG_OK) {
        memset(out, 0, sizeof *out);
        ig_orgset_clear(out);
    }
    cJSON_Delete(doc);
}

int ig_orgset_retention_days(const ig_orgset_t *s, int plan)
{
    if (plan != IG_STORE_PLAN_ENTERPRISE) return IG_RETENTION_FREE_DAYS;
    if (s->retention_days < 0 || s->retention_days == IG_RETENTION_FREE_DAYS)
        return IG_RETENTION_ENTERPRISE_DEFAULT;
    return s->retention_days;
}

bool ig_orgset_redacts(const ig_orgset_t *s, int plan, bool redact_all_orgs)
{
    return redact_all_orgs || (s->redact && plan == IG_STORE_PLAN_ENTERPRISE);
}

ig_guardset_t ig_orgset_guard(const ig_orgset_t *s, int plan)
{
    return plan == IG_STORE_PLAN_ENTERPRISE ? s->guard : IG_GUARDSET_OFF;
}
