/*
 * orgset.h — an org's logging settings: the `settings` JSON object of the org (GET/PUT /api/v1/org), parsed
 * and validated in ONE place for the API (which refuses bad input) and the log writer (which applies it).
 *
 *   {"capture": "full" | "metadata" | "off",
 *    "retention_days": 7 | 30 | 60 | 90 | 0,          0 = unlimited
 *    "redaction": {"enabled": bool, "mode": "pattern" | "hash" | "drop",
 *                  "detectors": ["email", "ssn", "card", "phone"], "custom": ["<PCRE2 pattern>", ...]},
 *    "outbound_allowlist": ["hooks.example.com:8443", "203.0.113.0/24:9000", ...],
 *    "rate_limits": {"requests_per_minute": N | null, "tokens_per_minute": N | null},
 *    "guardrails": {"pii": "off" | "log_only" | "redact" | "block", "injection": "off" | "log_only" |
 * "block", "injection_threshold": 1..100}}
 *
 * Every member is optional. capture: full (default) keeps bodies; metadata keeps everything but the bodies;
 * off keeps only what usage and budgets need (time, key, provider, model, status, tokens, cost, latency):
 * no bodies, no attribution ids, no client address, no path or error. Retention by plan: free orgs keep 7
 * days whatever they ask; enterprise orgs choose 30, 60, 90 days or unlimited (default 30). Redaction is an
 * Enterprise feature (the operator can turn it on for every org: `redact_all_orgs`); detectors default to all
 * four; custom patterns are compiled when the settings are saved, so a bad one is refused then.
 * outbound_allowlist is the org's own allowlist for its webhook URLs (net/outbound.h: entries name,
 * name:port, ip[:port], cidr[:port]): it lets the org's https webhooks use the ports it names and nothing
 * more — it never allows plain http nor an internal address (only the operator's `outbound_allowlist` option
 * can). rate_limits are the default limits of every key of the org (a key may override them: store.h
 * ig_keyrec_t); null or absent = no limit; enforced on the proxy path (limit/limiter.h, docs/limits.md).
 * guardrails (Enterprise, guard/guard.h, docs/guardrails.md): outbound PII redaction (default off) with the
 * detectors and custom patterns of `redaction` (whether or not redaction of stored logs is enabled), and
 * prompt-injection screening (default log_only, threshold 50); free orgs get none.
 */
#ifndef IG_CAPTURE_ORGSET_H
#define IG_CAPTURE_ORGSET_H

#include "core/common.h"
#include "guard/guard.h"
#include "redact/redact.h"

#include <cjson/cJSON.h>

typedef enum { IG_CAPTURE_FULL = 0, IG_CAPTURE_METADATA, IG_CAPTURE_OFF } ig_capture_mode_t;

#define IG_RETENTION_FREE_DAYS          7
#define IG_RETENTION_ENTERPRISE_DEFAULT 30

typedef struct {
    ig_capture_mode_t capture;
    int retention_days; /* as asked (0 = unlimited); see ig_orgset_retention_days for the effective value */
    bool redact;        /* asked for */
    ig_redact_mode_t redact_mode;
    unsigned detectors; /* IG_PII_* */
    char **custom;      /* malloc'd patterns */
    size_t ncustom;
    char *allowlist;              /* malloc'd, the entries joined with ","; NULL = none */
    int64_t rpm_limit, tpm_limit; /* rate_limits: per key, requests / tokens per minute; 0 = none */
    ig_guardset_t guard;          /* guardrails as asked (IG_GUARDSET_DEFAULT when absent) */
    bool guard_on;                /* guardrails asks for something other than off */
} ig_orgset_t;

/* Parses a settings object (already strict-parsed JSON). IG_OK, or IG_EINVAL with *why (static text, naming
 * the member) — custom patterns are compiled to check them, and a compile error is copied into err. The
 * result owns its strings: ig_orgset_clear. */
int ig_orgset_parse(const cJSON *settings, ig_orgset_t *out, const char **why, char *err, size_t errlen);
/* A rate_limits object ({"requests_per_minute": N | null, "tokens_per_minute": N | null}, the org setting's
 * and the key API's form) into *rpm / *tpm (0 = none). IG_EINVAL with *why otherwise. */
int ig_orgset_rate_limits(const cJSON *r, int64_t *rpm, int64_t *tpm, const char **why);
/* Parses the stored text form (trusted: it was validated when saved; on error the defaults are returned). */
void ig_orgset_parse_text(const char *text, ig_orgset_t *out);
void ig_orgset_clear(ig_orgset_t *s);
/* The retention in days that applies (0 = unlimited) for the plan. */
int ig_orgset_retention_days(const ig_orgset_t *s, int plan);
/* Whether redaction applies: asked for on an enterprise org, or forced by the operator for every org. */
bool ig_orgset_redacts(const ig_orgset_t *s, int plan, bool redact_all_orgs);
/* The guardrails that apply: as asked on an enterprise org, all off on a free one. */
ig_guardset_t ig_orgset_guard(const ig_orgset_t *s, int plan);

#endif
