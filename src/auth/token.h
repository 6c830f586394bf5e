/*
 * token.h — session tokens: JWT (RFC 7519) signed with HMAC-SHA256 (JWS "HS256", RFC 7515), issued after a
 * login and presented by the dashboard on every management call.
 *
 *     base64url(header) "." base64url(payload) "." base64url(HMAC-SHA256(key, first two parts))
 *
 * base64url is RFC 4648 section 5 without '=' padding. The header is exactly {"alg":"HS256","typ":"JWT"};
 * the payload is {"sub":...,"org":...,"jti":...,"iat":...,"exp":...}:
 *   sub  user id, 32 lowercase hex chars (store ids are 16 random bytes in hex)
 *   org  the org chosen at login, 32 lowercase hex chars
 *   jti  token id, 16 random bytes as 32 lowercase hex chars (ig_token_new_jti): the handle for revocation
 *   iat  issue time, exp  expiry time: integer unix SECONDS (JWT NumericDate), 0 <= iat < exp <= 2^53 - 1
 *
 * The key is 32 bytes that the caller derives from the master key with
 * ig_derive_key(master, "session-tokens", key) and wipes when done; this module keeps no key and no state.
 *
 * Verification accepts only what ig_token_issue could have produced, give or take JSON formatting: one
 * algorithm (HS256, never taken from the token), header members alg and typ only, payload members exactly
 * the five claims above, no duplicate names, no escape sequences, canonical unpadded base64url. Anything
 * else is IG_EBADKEY, with no detail: the caller answers 401 whatever the reason. A valid signature proves
 * only that we issued the token; whether its jti was revoked, its user still exists and still belongs to
 * org is the caller's check.
 *
 * Both functions are fast (one HMAC, a small JSON parse): safe on event-loop threads. Thread-safe.
 */
#ifndef IG_AUTH_TOKEN_H
#define IG_AUTH_TOKEN_H

#include "core/common.h"

#include <stdint.h>

#define IG_TOKEN_KEY_LEN    32
#define IG_TOKEN_ID_LEN     32   /* sub, org and jti: lowercase hex chars, NUL not counted */
#define IG_TOKEN_MAX_LEN    4096 /* longest token verified: ours are ~300 bytes; bounds the work and memory */
#define IG_TOKEN_CLOCK_SKEW 60   /* seconds an iat may lie in the future (clocks of several gateways) */
/* Largest iat/exp: 2^53 - 1, the largest integer a JSON number (a double) holds exactly. */
#define IG_TOKEN_MAX_SECONDS 9007199254740991LL

typedef struct {
    char sub[IG_TOKEN_ID_LEN + 1]; /* user id */
    char org[IG_TOKEN_ID_LEN + 1]; /* org id chosen at login */
    char jti[IG_TOKEN_ID_LEN + 1]; /* token id for revocation */
    int64_t iat, exp;              /* unix seconds */
} ig_token_claims_t;

/* Writes a fresh token id (16 bytes from the CSPRNG as 32 lowercase hex chars and a NUL) to out.
 * IG_ECRYPTO if the generator fails (out is then an empty string). */
int ig_token_new_jti(char out[IG_TOKEN_ID_LEN + 1]);

/* Signs c into out: the token and a NUL, with *outlen (if not NULL) set to its length without the NUL.
 * c->sub, c->org and c->jti must be NUL-terminated, exactly 32 chars of [0-9a-f]; 0 <= c->iat < c->exp <=
 * IG_TOKEN_MAX_SECONDS. The token is a bearer credential: the caller hands it to the client and must not
 * log it. Errors: IG_EINVAL (claims break the rules above), IG_ETOOBIG (cap too small: out is then an
 * empty string if cap > 0), IG_ECRYPTO (HMAC failed). */
int ig_token_issue(const uint8_t key[IG_TOKEN_KEY_LEN], const ig_token_claims_t *c, char *out, size_t cap,
                   size_t *outlen);

/* Checks a token received from a client (any bytes: reads exactly token.len, never past it, no NUL
 * needed) at time now_s (unix seconds) and, on success only, fills *out. IG_OK, or IG_EBADKEY for every
 * problem: longer than IG_TOKEN_MAX_LEN; not exactly three non-empty segments of base64url without
 * padding; a signature that is not 32 bytes or differs from the HMAC (compared in constant time; checked
 * before any JSON is parsed); header or payload that is not a JSON object of printable ASCII without
 * backslashes; a header without alg "HS256" exactly, with typ other than "JWT" (typ may be absent), or with
 * any other member; a payload missing a claim, with an ill-typed one (see the top of this file) or an
 * unknown one; a duplicate name in either object; exp <= now_s (expired at exactly exp); iat more than
 * IG_TOKEN_CLOCK_SKEW seconds after now_s; exp <= iat. Integer claims are JSON numbers with an integral
 * value in 0..IG_TOKEN_MAX_SECONDS. The only other result is IG_ECRYPTO when the HMAC itself cannot be
 * computed (an OpenSSL failure, not the token's fault); callers must treat every result but IG_OK as a
 * refusal. */
int ig_token_verify(const uint8_t key[IG_TOKEN_KEY_LEN], ig_iov_t token, int64_t now_s,
                    ig_token_claims_t *out);

/* The dashboard's CSRF token for a cookie session (docs/dashboard.md): base64url(HMAC-SHA256(key, "csrf:"
 * jti)), 43 chars and a NUL in out. Stateless: whoever holds the session's jti and the key recomputes it, and
 * it changes with every new session. "csrf:" cannot begin the input of a token signature (base64url has no
 * ':'), so the two uses of the key never sign the same bytes. IG_OK or IG_ECRYPTO (out then ""). */
#define IG_TOKEN_CSRF_LEN 43
int ig_token_csrf(const uint8_t key[IG_TOKEN_KEY_LEN], const char *jti, char out[IG_TOKEN_CSRF_LEN + 1]);

#endif
