/*
 * err.h — the one error table (code, name, HTTP status, client-facing message).
 *
 * Functions return 0 or a negative IG_E*. The message is what a client may see: it never contains a secret
 * or an internal detail. Parsers return progress (>0), IG_EAGAIN (need more) or an error.
 */
#ifndef IG_CORE_ERR_H
#define IG_CORE_ERR_H

/*    name               code  status  error_code (JSON)        message */
#define IG_ERR_MAP(X)                                                                                        \
    X(EAGAIN, -1, 0, "again", "try again")                                                                   \
    X(ENOMEM, -2, 503, "out_of_memory", "the gateway is out of memory")                                      \
    X(EINVAL, -3, 400, "invalid_request", "invalid request")                                                 \
    X(EBADJSON, -4, 400, "invalid_json", "the request body is not valid JSON")                               \
    X(ETOOBIG, -5, 413, "payload_too_large", "the request body is too large")                                \
    X(EHDRTOOBIG, -6, 431, "headers_too_large", "the request headers are too large")                         \
    X(ENOAUTH, -7, 401, "missing_api_key",                                                                   \
      "missing credentials: send an API key in X-Ingate-Key (the management API also takes a session token " \
      "as Authorization: Bearer)")                                                                           \
    X(EBADKEY, -8, 401, "invalid_api_key", "invalid API key")                                                \
    X(EKEYINQUERY, -9, 401, "api_key_in_query",                                                              \
      "API keys are not accepted in the query string; send it in the X-Ingate-Key header")                   \
    X(EFORBIDDEN, -10, 403, "forbidden", "your role does not allow this")                                    \
    X(ENOTFOUND, -11, 404, "not_found", "not found")                                                         \
    X(EMETHOD, -12, 405, "method_not_allowed", "method not allowed")                                         \
    X(ENOPROVIDER, -13, 400, "provider_required",                                                            \
      "cannot tell which provider to use: set the X-Ingate-Provider header")                                 \
    X(EBADPROVIDER, -14, 400, "unknown_provider", "unknown provider")                                        \
    X(ENOPROVIDERKEY, -15, 400, "provider_key_missing", "no provider key is configured for this provider")   \
    X(EUPSTREAM, -16, 502, "upstream_error", "the upstream provider could not be reached")                   \
    X(ETIMEOUT, -17, 504, "upstream_timeout", "the upstream provider timed out")                             \
    X(EUNAVAILABLE, -18, 503, "unavailable", "the service is unavailable")                                   \
    X(EINTERNAL, -19, 500, "internal_error", "internal error")                                               \
    X(ETOOMANY, -20, 429, "rate_limited", "rate limit exceeded")                                             \
    X(ECONFLICT, -21, 409, "conflict", "already exists")                                                     \
    X(EIO, -22, 500, "io_error", "input/output error")                                                       \
    X(ECRYPTO, -23, 500, "crypto_error", "cryptographic operation failed")                                   \
    X(ESTORE, -24, 503, "store_unavailable", "the store is unavailable")                                     \
    X(EBADVERSION, -25, 505, "http_version", "HTTP version not supported")                                   \
    X(EHDRTIMEOUT, -26, 408, "request_timeout", "request timeout")                                           \
    X(EURITOOLONG, -27, 414, "uri_too_long", "the request URL is too long")                                  \
    X(EBADPATH, -28, 400, "invalid_path", "the request path may not contain . or .. segments")               \
    X(EBADSESSION, -29, 401, "invalid_session", "invalid or expired session token")                          \
    X(EBADLOGIN, -30, 401, "invalid_credentials", "invalid email or password")                               \
    X(EPII, -31, 400, "pii_detected", "the request contains personal data (guardrails)")                     \
    X(EINJECTION, -32, 400, "injection_detected", "the request looks like a prompt-injection attempt")       \
    X(EENCODING, -33, 415, "unsupported_content_encoding",                                                   \
      "the org's guardrails screen request bodies: send them uncompressed (no Content-Encoding)")            \
    X(ECSRF, -34, 403, "csrf_failed",                                                                        \
      "a dashboard session call that changes state needs its X-CSRF-Token from the same origin")

typedef enum {
    IG_OK = 0,
#define IG_ERR_ENUM(name, code, status, ecode, msg) IG_##name = code,
    IG_ERR_MAP(IG_ERR_ENUM)
#undef IG_ERR_ENUM
} ig_err_t;

/* Short symbolic name, e.g. "EBADKEY". Never NULL. */
const char *ig_err_name(int err);
/* Client-facing message. Never NULL, never contains secrets. */
const char *ig_err_message(int err);
/* JSON error_code string, e.g. "invalid_api_key". */
const char *ig_err_code(int err);
/* HTTP status for this error (500 for unknown codes). */
int ig_err_status(int err);

#endif
