/*
 * password.h — account passwords: the acceptance policy, bcrypt hashing and verification.
 *
 * Hashes are bcrypt ("$2b$", libxcrypt's crypt_gensalt_rn + crypt_rn) with a 16-byte salt from RAND_bytes,
 * stored as the 60-character modular crypt string "$2b$CC$<22 chars salt><31 chars checksum>". Nothing here
 * implements a primitive: this module only validates, copies and wipes around libxcrypt.
 *
 * THREADS: ig_password_hash, ig_password_verify and the first call of ig_password_dummy_hash are SLOW on
 * purpose (about 250 ms each at the default cost 12, doubling with each +1). They MUST only be called from
 * worker threads, never from an event-loop thread: on a thread marked by ig_loop_thread_mark (every loop
 * thread is) they refuse with IG_EINTERNAL and log the bug. ig_password_policy is fast. All functions are
 * thread-safe (each call uses its own crypt_data area; the dummy hash is built under pthread_once).
 *
 * Length rules, in BYTES of the UTF-8 encoding (what bcrypt reads), not in characters:
 *   - at least IG_PASSWORD_MIN_LEN (12): with no composition rules (NIST SP 800-63B advises against them),
 *     length is the only cheap defence against guessing, online and offline after a leak of the hashes. 12
 *     is above NIST's floor of 8 and matches OWASP's advice for passwords without complexity rules. Bytes
 *     rather than characters keeps the rule simple; a non-ASCII character takes 2-4 bytes but also carries
 *     more entropy per character, so the bound stays meaningful.
 *   - at most IG_PASSWORD_MAX_LEN (72): bcrypt reads only the first 72 bytes. A longer password is REJECTED
 *     with a message naming the limit rather than silently truncated: with truncation, two passwords that
 *     share their first 72 bytes would be the same password, and a user who pastes a 100-byte passphrase
 *     would be protected by less of it than they think. We do not pre-hash (e.g. SHA-256 then bcrypt)
 *     because that creates a second hash format to migrate and NUL-byte pitfalls; 72 bytes is ample for a
 *     passphrase. ig_password_verify applies the same bound, so a long password never verifies against the
 *     hash of its first 72 bytes.
 *   - no NUL byte (crypt_rn takes a C string: anything after a NUL would be ignored) and valid UTF-8 (RFC
 *     3629: no overlong forms, surrogates, or code points above U+10FFFF), so the bytes that are hashed are
 *     the text the user typed. Passwords are not Unicode-normalized here: clients send what they received.
 */
#ifndef IG_AUTH_PASSWORD_H
#define IG_AUTH_PASSWORD_H

#include "core/common.h"

#define IG_PASSWORD_MIN_LEN      12 /* bytes; see above */
#define IG_PASSWORD_MAX_LEN      72 /* bytes; bcrypt's input limit */
#define IG_PASSWORD_MIN_COST     10 /* lowest cost ig_password_hash accepts (~65 ms): never below it */
#define IG_PASSWORD_MAX_COST     31 /* bcrypt's own upper bound (2^31 rounds: days, not a real choice) */
#define IG_PASSWORD_DEFAULT_COST 12 /* ~250 ms on the reference machine (docs: GUIDE section 2) */
#define IG_PASSWORD_HASH_LEN     60 /* "$2b$12$" + 22 salt chars + 31 checksum chars */
#define IG_PASSWORD_HASH_MAX     (IG_PASSWORD_HASH_LEN + 1) /* with the NUL */

/* Checks a candidate new password against the rules above (bytes, not characters). IG_OK, or IG_EINVAL
 * with *why pointing to a static English sentence naming the broken rule (never any part of the password),
 * suitable for showing to the user. On IG_OK *why is set to NULL. why may be NULL. Reads only pw.len bytes
 * (pw need not be NUL-terminated). Fast: safe on any thread. Apply it when a password is SET (signup,
 * change), not at login: ig_password_verify must keep accepting passwords set under an older policy. */
int ig_password_policy(ig_iov_t pw, const char **why);

/* Hashes pw with bcrypt at `cost` (IG_PASSWORD_MIN_COST..IG_PASSWORD_MAX_COST; use
 * IG_PASSWORD_DEFAULT_COST) and a fresh random salt, writing the 60-character "$2b$CC$..." string and a
 * NUL to out. pw must pass ig_password_policy. Every internal copy of the password (the NUL-terminated copy
 * and libxcrypt's work area) is wiped before return. SLOW: worker threads only.
 * Errors: IG_EINVAL (cost out of range, pw fails the policy), IG_ENOMEM, IG_ECRYPTO (random generator or
 * libxcrypt failed). On error out holds an empty string. */
int ig_password_hash(ig_iov_t pw, int cost, char out[IG_PASSWORD_HASH_MAX]);

/* Checks pw against a stored hash. IG_OK when it matches; IG_EBADKEY when it does not, including when pw
 * is longer than IG_PASSWORD_MAX_LEN or contains a NUL (no truncated match). The policy's minimum length
 * and UTF-8 rules are NOT applied here (old passwords keep working if the policy tightens). The computed
 * hash is compared in constant time. `hash` must be a NUL-terminated bcrypt string of exactly 60 characters
 * with prefix "$2b$" or "$2y$" (identical algorithms), a two-digit cost 04..31 and the bcrypt base64
 * alphabet; anything else ("$2a$", "$2x$", other schemes, "*0" failure tokens) is IG_EINVAL. Costs below
 * IG_PASSWORD_MIN_COST still verify (published test vectors use 04/05); callers may re-hash such a password
 * at login. Internal copies are wiped. SLOW: worker threads only. Other errors: IG_ENOMEM, IG_ECRYPTO. */
int ig_password_verify(ig_iov_t pw, const char *hash);

/* A fixed, well-formed bcrypt hash (at the cost set with ig_password_set_dummy_cost, default
 * IG_PASSWORD_DEFAULT_COST) of a random password nobody knows, built
 * once (pthread_once) on first use. For login with an unknown account: call
 * ig_password_verify(pw, ig_password_dummy_hash()) and then fail the login whatever it returns, so an
 * unknown email costs the same time as a wrong password. Never NULL; the string lives for the whole
 * process. The first call costs one extra hash: call it once at startup, from a worker thread, so the first
 * unknown-account login is not slower than later ones. */
const char *ig_password_dummy_hash(void);
/* The cost of the dummy hash: the cost new hashes use (the bcrypt_cost option), so an unknown email costs
 * what a real one does. Call once, before the first ig_password_dummy_hash (at startup, single-threaded);
 * IG_EINVAL outside IG_PASSWORD_MIN_COST..IG_PASSWORD_MAX_COST. The fallback hash keeps the default cost. */
int ig_password_set_dummy_cost(int cost);

#endif
