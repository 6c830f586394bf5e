/*
 * apikey.h — the gateway's API key format: generation, offline format check, and the hash that is stored.
 *
 * A key is 59 ASCII characters (see docs/api-keys.md):
 *
 *     sk-ingate-  <43 base62 chars: body>  <6 base62 chars: checksum>
 *
 * Base62 digits are 0-9A-Za-z in that order (value 0..61). The body is 256 bits from RAND_bytes written as
 * a big-endian base62 number, left-padded with '0' to 43 digits (62^43 > 2^256, so a body whose value is
 * 2^256 or more is malformed). The checksum is the first 4 bytes of SHA-256 over the preceding 53
 * characters (prefix and body), read as a big-endian uint32 and written in base62 left-padded to 6 digits.
 * The checksum lets the gateway reject typos and random strings without a store lookup, and lets leak
 * scanners confirm a hit of the pattern `sk-ingate-[0-9A-Za-z]{49}` offline.
 *
 * The gateway never stores a raw key: only ig_apikey_hash() of it. Logs refer to a key by
 * ig_apikey_hash_prefix(), never by any part of the key itself.
 */
#ifndef IG_AUTH_APIKEY_H
#define IG_AUTH_APIKEY_H

#include "core/common.h"

#define IG_APIKEY_PREFIX          "sk-ingate-"
#define IG_APIKEY_PREFIX_LEN      (sizeof IG_APIKEY_PREFIX - 1) /* 10 */
#define IG_APIKEY_BODY_LEN        43
#define IG_APIKEY_CHECKSUM_LEN    6
#define IG_APIKEY_LEN             59 /* prefix + body + checksum */
#define IG_APIKEY_HASH_PREFIX_LEN 12

/* Writes a new random key and a NUL to out. The caller owns the secret: show it once, store only its hash,
 * and wipe out (ig_wipe) afterwards. IG_ECRYPTO if the random generator fails (out is then zeroed). */
int ig_apikey_generate(char out[IG_APIKEY_LEN + 1]);

/* Checks format and checksum without any lookup: exactly IG_APIKEY_LEN bytes, the prefix, base62 digits, a
 * body below 2^256 and a matching checksum. Reads at most key.len bytes (key need not be NUL-terminated);
 * the checksum comparison is constant-time. IG_OK or IG_EBADKEY. Passing says nothing about whether the
 * key exists or is active. */
int ig_apikey_check(ig_iov_t key);

/* SHA-256 of the full key string (all key.len bytes): the only form of a key that is stored or looked up. */
void ig_apikey_hash(ig_iov_t key, uint8_t out[32]);

/* First 6 bytes of a key hash as 12 lowercase hex chars and a NUL: how logs and the admin API name a key. */
void ig_apikey_hash_prefix(const uint8_t hash[32], char out[13]);

#endif
