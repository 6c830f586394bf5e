/*
 * crypto.h — the gateway's only door to cryptography: randomness, SHA-256, HMAC, HKDF, AES-256-GCM, the
 * sealed-blob envelope used for secrets at rest, and hex/base64 codecs.
 *
 * Everything is a thin wrapper over OpenSSL 3 EVP interfaces; no primitive is implemented here. Functions
 * that can fail return IG_OK or a negative IG_E* code (core/err.h); a failure inside OpenSSL is IG_ECRYPTO.
 * All are safe to call from any thread. The only state kept between calls is per thread: the AES-256-GCM
 * context and nonce sequence used with 12-byte IVs (see "Nonces") and an HMAC context, freed when the
 * thread exits. After a failure an output holds no usable result (and ig_seal/ig_open/decoders leave
 * nothing behind, see below); secrets that pass through internal buffers are wiped before return.
 *
 * Envelope (ig_seal / ig_open), all integers big-endian:
 *
 *     offset  size  field
 *     0       1     version, currently IG_SEAL_VERSION (1)
 *     1       4     key id: which data-encryption key sealed the blob (0 until keys rotate)
 *     5       12    nonce, unique per seal (see "Nonces")
 *     17      n     AES-256-GCM ciphertext of the n-byte plaintext
 *     17+n    16    GCM tag
 *
 * The GCM additional data is the 5-byte header (version and key id) followed by the caller's aad, so the
 * key id cannot be altered and a blob cannot be moved to another context (another org, another column)
 * without failing to open.
 *
 * Nonces: the deterministic construction of NIST SP 800-38D 8.2.1 (a fixed field, then an invocation
 * field that counts), except that the fixed field is drawn at random instead of assigned, so its uniqueness
 * is probabilistic (bound below). A nonce is a 64-bit fixed field followed by a 32-bit big-endian counter.
 * Each thread draws its fixed field from RAND_bytes (the OpenSSL CSPRNG) before its first seal, then counts
 * 0, 1, ..., 2^32 - 1. It draws a new fixed field when the counter would wrap, and in a child process after
 * fork(), which must not continue its parent's sequence. A failed draw fails the seal. Uniqueness under one
 * key:
 *   - one sequence (one draw) never repeats a nonce: the counter only goes up and never wraps;
 *   - two sequences repeat a nonce only if their fixed fields are equal: with P draws over the key's life,
 *     the probability of that is at most P^2 / 2^65. A thread draws when it first seals, again every 2^32
 *     seals, and in a child after fork(); P counts that over every thread and process start that uses the
 *     key, so it stays small. At P = 2^16 draws the bound is 2^-33: the 2^-32 bound NIST 8.3 sets for the
 *     random 96-bit nonces used before, at 2^32 seals.
 * The nonces show which thread sealed a blob and how many seals it made in between (for any org). Only
 * someone who can read the stored blobs sees that, and they can already read the records' clear metadata
 * (times, models, sizes). The format and the version byte are those of random nonces: ig_open takes the
 * nonce as stored, so blobs sealed either way open alike. The key id exists so that keys can be rotated.
 */
#ifndef IG_CRYPTO_CRYPTO_H
#define IG_CRYPTO_CRYPTO_H

#include "core/buf.h"
#include "core/common.h"

#define IG_SHA256_LEN      32
#define IG_AES256_KEY_LEN  32
#define IG_GCM_TAG_LEN     16
#define IG_GCM_NONCE_LEN   12
#define IG_SEAL_VERSION    1
#define IG_SEAL_HEADER_LEN (1 + 4 + IG_GCM_NONCE_LEN)
#define IG_SEAL_OVERHEAD   (IG_SEAL_HEADER_LEN + IG_GCM_TAG_LEN) /* blob length = plaintext length + this */
#define IG_DERIVE_SALT     "ingate-v1"

/* Fills buf with n bytes from the OpenSSL CSPRNG. IG_ECRYPTO if the generator fails (buf then holds no
 * usable bytes: callers must not fall back to them). */
int ig_random(void *buf, size_t n);

/* Overwrites n bytes at p with zeros in a way the compiler cannot elide. p may be NULL when n is 0. */
void ig_wipe(void *p, size_t n);

/* SHA-256 of n bytes at p into out. Never returns a wrong digest: if OpenSSL fails (only possible when it
 * cannot allocate) the process aborts, because callers use digests as lookup keys. */
void ig_sha256(const void *p, size_t n, uint8_t out[32]);

/* HMAC-SHA256(key, msg) into out. Any key length (0 included). IG_ECRYPTO if OpenSSL fails. */
int ig_hmac_sha256(const uint8_t *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);

/* HKDF-SHA256 (RFC 5869, extract then expand) of outlen bytes into out. An empty salt means HashLen zero
 * bytes, as in the RFC. IG_EINVAL if outlen is 0 or above 255 * 32; IG_ECRYPTO if OpenSSL fails. */
int ig_hkdf_sha256(const uint8_t *salt, size_t slen, const uint8_t *ikm, size_t ilen, const uint8_t *info,
                   size_t infolen, uint8_t *out, size_t outlen);

/* Compares n bytes in time that depends only on n. true when equal (and when n is 0). */
bool ig_ct_equal(const void *a, const void *b, size_t n);

/* Raw AES-256-GCM with an explicit IV of any non-zero length (12 bytes is the only length new code should
 * use). Encrypt writes pt.len bytes to ct_out and the 16-byte tag to tag_out; ct_out may equal pt.base
 * (in place) but must not otherwise overlap it. Decrypt writes ct.len bytes to pt_out (which may likewise
 * equal ct.base); on a tag mismatch it zeroes them, so unauthenticated plaintext is never left behind, and
 * returns IG_ECRYPTO. IG_EINVAL if ivlen is 0; IG_ECRYPTO if OpenSSL refuses the IV length (above 128). */
int ig_aes256gcm_encrypt(const uint8_t key[32], const uint8_t *iv, size_t ivlen, ig_iov_t aad, ig_iov_t pt,
                         uint8_t *ct_out, uint8_t tag_out[16]);
int ig_aes256gcm_decrypt(const uint8_t key[32], const uint8_t *iv, size_t ivlen, ig_iov_t aad, ig_iov_t ct,
                         const uint8_t tag[16], uint8_t *pt_out);

/* Seals pt under key (identified as key_id) with the thread's next nonce and appends the blob (format above,
 * pt.len + IG_SEAL_OVERHEAD bytes) to out. aad is authenticated but not stored: pass the same bytes to
 * ig_open. pt must not point into out. Appends all or nothing: IG_ETOOBIG past out's ceiling, IG_ENOMEM,
 * IG_ECRYPTO if the generator (drawing a new fixed field) or the cipher fails. */
int ig_seal(const uint8_t key[32], uint32_t key_id, ig_iov_t aad, ig_iov_t pt, ig_buf_t *out);

/* Tests only: moves this thread's nonce counter n steps forward (capped at the end of its sequence, so the
 * next seal draws a new fixed field). It cannot move backwards, so it cannot make a nonce repeat. */
void ig_seal_nonce_skip(uint64_t n);

/* Opens a blob made by ig_seal and appends the plaintext to out; the caller owns it and must release it
 * with ig_buf_free(out, true). Appends all or nothing. IG_ECRYPTO if the version is unknown, the blob is
 * shorter than IG_SEAL_OVERHEAD, or authentication fails (wrong key, wrong aad, any altered byte);
 * IG_ETOOBIG past out's ceiling; IG_ENOMEM. blob must not point into out. */
int ig_open(const uint8_t key[32], ig_iov_t aad, ig_iov_t blob, ig_buf_t *out);

/* Reads the key id of a blob without decrypting it (to choose the key for ig_open). The id is not
 * authenticated until ig_open succeeds. IG_ECRYPTO if the version is unknown or the blob is too short. */
int ig_seal_key_id(ig_iov_t blob, uint32_t *key_id);

/* Lowercase hex of n bytes into out, which must hold 2n+1 chars; always NUL-terminated. */
void ig_hex_encode(const uint8_t *p, size_t n, char *out);

/* Decodes hex (either case) into out and sets *outlen (if outlen is not NULL) to the byte count.
 * IG_EINVAL for an odd length or a non-hex character; IG_ETOOBIG if the result exceeds outcap. */
int ig_hex_decode(ig_iov_t hex, uint8_t *out, size_t outcap, size_t *outlen);

/* base64url without padding (RFC 4648 section 5) of n bytes into out, which must hold 4*ceil(n/3)+1 chars;
 * NUL-terminated. Returns the number of chars written, NUL excluded. */
size_t ig_b64url_encode(const uint8_t *p, size_t n, char *out);

/* Decodes base64 in the standard or the url alphabet, with or without '=' padding, and sets *outlen (if not
 * NULL). Strict: IG_EINVAL for any other character (whitespace included), misplaced or excess padding, an
 * impossible length, or non-zero unused bits in the last character (so each byte string has exactly one
 * accepted encoding per alphabet and padding choice). IG_ETOOBIG if the result exceeds outcap. */
int ig_b64_decode(ig_iov_t s, uint8_t *out, size_t outcap, size_t *outlen);

/* Derives the data-encryption key for a purpose (e.g. "provider-keys") from the master key:
 * HKDF-SHA256(salt = "ingate-v1", ikm = master, info = purpose). Different purposes give independent keys.
 * IG_EINVAL if purpose is NULL or empty; IG_ECRYPTO if OpenSSL fails. */
int ig_derive_key(const uint8_t master[32], const char *purpose, uint8_t out[32]);

#endif
