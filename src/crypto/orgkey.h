/*
 * orgkey.h — per-organisation data keys and the field encryption of log records.
 *
 * Every org has its own 32-byte data key (random), stored only WRAPPED: sealed (crypto.h envelope,
 * AES-256-GCM) under the key-encryption key derived from the master key with purpose "org-data-keys", with
 * AAD "ingate/org-data-key/v1:<org id>" so a wrapped key copied to another org does not unwrap. Deleting the
 * wrapped key destroys every ciphertext of the org (crypto-shredding); re-wrapping under a new master key
 * (rotation) does not touch the data.
 *
 * Under the data key, each customer-content or identity field of a log record (bodies, attribution ids, the
 * client address) is sealed separately with AAD "ingate/log/v1:<org>:<record id>:<field>", which binds the
 * ciphertext to its row and column: swapping two rows' bodies, or a body into the user-id column, fails to
 * open. Equality lookups on encrypted attribution ids use blind-index tags: the first 16 bytes of
 * HMAC-SHA256 under a tag key derived from the data key (HKDF, "blind-index"), over the field name and the
 * value. Tags reveal equality within one org and nothing else.
 *
 * All functions are fast (microseconds) and thread-safe; keys are the caller's to wipe.
 */
#ifndef IG_CRYPTO_ORGKEY_H
#define IG_CRYPTO_ORGKEY_H

#include "core/buf.h"
#include "core/common.h"

#include <stdint.h>

#define IG_ORGKEY_LEN    32
#define IG_FIELD_TAG_LEN 16

/* A fresh random data key. IG_ECRYPTO if the generator fails. */
int ig_orgkey_generate(uint8_t dk[IG_ORGKEY_LEN]);
/* Wraps dk for org_id under kek (appends the envelope to out; key_id names the master key generation). */
int ig_orgkey_wrap(const uint8_t kek[32], uint32_t key_id, const char *org_id,
                   const uint8_t dk[IG_ORGKEY_LEN], ig_buf_t *out);
/* Unwraps into dk. IG_ECRYPTO when the envelope is not a wrap of this org's key under kek. */
int ig_orgkey_unwrap(const uint8_t kek[32], const char *org_id, ig_iov_t wrapped, uint8_t dk[IG_ORGKEY_LEN]);

/* Seals one field of record rec_id (appends the envelope to out). field: a short constant ("req_body"). */
int ig_field_seal(const uint8_t dk[IG_ORGKEY_LEN], const char *org_id, const char *rec_id, const char *field,
                  ig_iov_t pt, ig_buf_t *out);
/* Opens it (appends the plaintext to out). IG_ECRYPTO when it was not sealed for this org/record/field. */
int ig_field_open(const uint8_t dk[IG_ORGKEY_LEN], const char *org_id, const char *rec_id, const char *field,
                  ig_iov_t ct, ig_buf_t *out);
/* The blind-index key of an org (derive once per data key). */
int ig_field_tag_key(const uint8_t dk[IG_ORGKEY_LEN], uint8_t tk[32]);
/* The tag of value in field. */
int ig_field_tag(const uint8_t tk[32], const char *field, ig_iov_t value, uint8_t out[IG_FIELD_TAG_LEN]);

#endif
