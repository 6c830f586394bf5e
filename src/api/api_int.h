/*
 * api_int.h — what the management API's resource files share: the job that carries a request's validated
 * inputs to a worker thread, the error/response helpers, and small parsers.
 *
 * Flow of every handler: parse and validate on the loop thread (small, bounded JSON), copy what the store
 * work needs into an api_job_t, submit it; the work function runs on a worker with that worker's store handle
 * and writes j->out (a JSON document) or j->err; job_done answers on the loop thread. A job never touches
 * request memory: if the client goes away meanwhile, the work completes and its result is dropped.
 *
 * Tenant isolation: j->org_id is copied from the authentication context, never from the path or body, and
 * every store call is scoped by it.
 */
#ifndef IG_API_API_INT_H
#define IG_API_API_INT_H

#include "api/api.h"
#include "core/buf.h"
#include "core/json.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef struct api_job api_job_t;
typedef void (*api_work_fn)(api_job_t *j, ig_store_t *st);

struct api_job {
    ig_req_t *req;
    bool cancelled;
    api_work_fn work;
    const ig_gateway_t *gw;
    ig_worker_t *worker; /* set while the work runs: its store handle and org cache */
    /* the caller (copied from the auth context) */
    char org_id[33];
    int role;
    bool session;     /* authenticated by a session token (else by an API key, or not at all) */
    bool cookie;      /* the dashboard: sessions travel in its cookie, with a CSRF token in the answer */
    char *set_cookie; /* a session token issued for the cookie (wiped and freed) */
    char user_id[33]; /* session: the user; key: the key's creator ("" when none) */
    char key_id[33];  /* key: the key's id */
    char jti[33];     /* session: the token id */
    char actor[65];   /* "user:<id>" or "key:<id>" for the audit log */
    char request_id[37];
    char source_ip[46];
    /* inputs (copied; secrets are wiped by job_free) */
    char param[65];
    char name[129];
    char name2[129];
    char email[255];
    char ref[65]; /* a second id: app_id, team_id, user_id, org choice */
    int want_role;
    int plan;
    int64_t expires_at;
    int64_t rpm_limit, tpm_limit; /* a key's rate limits, 0 = the org's default */
    int64_t num;
    int auth_mode;
    int64_t cursor;
    int limit;
    bool have_name, have_provider, have_settings;
    int retention_days; /* settings asked: -1 = not given */
    bool redaction_on;  /* settings ask for redaction */
    bool guardrails_on; /* settings ask for a guardrail (PII or injection) other than off */
    char provider[33];
    char *text;   /* settings JSON (malloc'd) */
    char *secret; /* provider key or password (wiped and freed) */
    size_t secret_len;
    char *secret2; /* second password (wiped and freed) */
    size_t secret2_len;
    ig_audit_filter_t filter;
    char f_action[65], f_actor[65], f_target[129];
    /* outputs */
    int status;
    int err;
    const char *msg;   /* message for err (static) */
    const char *field; /* field named by a 400 */
    const char *code;  /* error_code override (static) */
    ig_buf_t out;
};

extern const char *const ig_api_role_names[4];

/* "viewer".."owner" → 0..3, -1 for anything else. */
int ig_api_parse_role(const char *s, size_t len);

/* A flat JSON error {"error","error_code","field"?,"request_id"}. msg and code are trusted text; field is
 * escaped (it may name a member the client sent). */
void ig_api_error(ig_req_t *req, int status, const char *code, const char *msg, const char *field);
void ig_api_bad_field(ig_req_t *req, const char *field, const char *msg);
/* 429 from an auth limiter: exactly {"error": "rate limit exceeded", "error_code": "rate_limited",
 * "retry_after_seconds": N} and a Retry-After header with the same N. */
void ig_api_rate_limited(ig_req_t *req, int64_t retry_after);

api_job_t *ig_api_job_new(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work);
void ig_api_job_free(api_job_t *j);
/* Submits j (ownership passes); on failure answers 503 and frees j. */
void ig_api_job_submit(ig_req_t *req, ig_reqstate_t *rs, api_job_t *j);
/* A job without inputs beyond the caller. */
void ig_api_run_simple(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work);
/* A job whose only input is the path parameter (an id: 1..32 chars, else 404 without a store query). */
void ig_api_run_param(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param, api_work_fn work);
/* Whether param (the :id of /…/:id) can be an id; if not, the 404 a missing one gets is sent. */
bool ig_api_param_ok(ig_req_t *req, ig_iov_t param);
/* A job for a call on one resource, j->param set: NULL when the answer was sent (404 as above, or 500). */
api_job_t *ig_api_param_job(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param, api_work_fn work);

/* Parses the body strictly as a JSON object; on failure the response is sent and NULL returned. */
cJSON *ig_api_body_object(ig_req_t *req);
/* Wipes every string of a parsed body (it held a secret), then frees it. */
void ig_api_body_wipe_free(cJSON *doc);

/* Copies an optional string member into dst (cap bytes with NUL). IG_OK (copied), IG_ENOTFOUND (absent), or
 * IG_EINVAL after answering 400 naming the field: not a string, longer than maxlen, shorter than minlen or
 * containing control characters. */
int ig_api_take_str(ig_req_t *req, cJSON *doc, const char *field, size_t minlen, size_t maxlen, char *dst,
                    size_t cap);
/* As ig_api_take_str for a required member: absent answers 400 "<field> is required" and gives IG_EINVAL. */
int ig_api_need_str(ig_req_t *req, cJSON *doc, const char *field, size_t minlen, size_t maxlen, char *dst,
                    size_t cap);
/* A plausible email address: 3..254 printable ASCII bytes, one '@' with text on both sides, a dot in the
 * domain. (Deliverability is the mail system's business; this only keeps junk out of the store.) */
bool ig_api_valid_email(const char *s, size_t len);
/* Lower-cases ASCII in place (emails are compared case-insensitively). */
void ig_api_lower(char *s);
/* The required member "email" of doc into dst (cap ≥ 255): a plausible address (ig_api_valid_email),
 * lower-cased. Otherwise answers 400 naming the field and gives IG_EINVAL. */
int ig_api_need_email(ig_req_t *req, cJSON *doc, char *dst, size_t cap);

/* Invitation tokens: "ig_inv_" + 43 base64url chars (32 random bytes); only the SHA-256 is stored. */
#define IG_API_INVITE_PREFIX    "ig_inv_"
#define IG_API_INVITE_TOKEN_MAX 64
int ig_api_invite_token(char out[IG_API_INVITE_TOKEN_MAX], uint8_t hash[32]);

/* An optional role member: IG_OK with *role, IG_ENOTFOUND, or IG_EINVAL after answering 400. */
int ig_api_take_role(ig_req_t *req, cJSON *doc, const char *field, int *role);
/* Rejects members other than allowed (answers 400 naming the first unknown one). */
bool ig_api_only_keys(ig_req_t *req, cJSON *doc, const char *const *allowed);

/* Query parameters: IG_OK, IG_ENOTFOUND (absent) or IG_EINVAL (not a plain decimal / too long). */
int ig_api_query_int(ig_iov_t q, const char *name, int64_t *val);
/* A query parameter's raw value (no percent-decoding: values are ids and action names). */
int ig_api_query_str(ig_iov_t q, const char *name, ig_iov_t *val);

/* Records an action in the org's audit log (ids and action names only, never a secret). A failed append is
 * logged but does not undo the change already made. */
void ig_api_audit(api_job_t *j, ig_store_t *st, const char *action, const char *target);
void ig_api_audit_org(api_job_t *j, ig_store_t *st, const char *org_id, const char *action,
                      const char *target);

/* A user's public JSON ({"id","email","display_name"}). */
void ig_api_user_json(ig_buf_t *b, const ig_user_t *u);

/* Resource handlers (one file each). */
typedef void (*api_handler_fn)(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param);

void ig_api_keys_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_keys_create(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_keys_revoke(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_keys_rotate(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_keys_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_providers_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_providers_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_providers_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_audit_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_audit_verify(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_audit_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_signup(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_login(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_invite_accept(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_token_refresh(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_logout(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_me(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_me_password(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_org_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_org_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_org_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_org_transfer(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_billing_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_billing_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_members_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_members_add(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_members_patch(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_members_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_invites_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_invites_revoke(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_teams_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_teams_create(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_teams_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_apps_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_apps_create(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_apps_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_logs_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_logs_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_usage_summary(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_usage_timeseries(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_webhooks_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_create(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_deliveries(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_webhooks_test(ig_req_t *, ig_reqstate_t *, ig_iov_t);

void ig_api_budgets_list(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_budgets_create(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_budgets_get(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_budgets_put(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_budgets_delete(ig_req_t *, ig_reqstate_t *, ig_iov_t);
void ig_api_budgets_status(ig_req_t *, ig_reqstate_t *, ig_iov_t);

#endif
