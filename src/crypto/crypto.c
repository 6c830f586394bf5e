/*
 * crypto.c — wrappers over OpenSSL 3 EVP (EVP_Digest, EVP_MAC "HMAC", EVP_KDF "HKDF", EVP_CIPHER
 * AES-256-GCM) plus the sealed-blob envelope and the hex/base64 codecs.
 *
 * Invariants: no primitive is written here; EVP length arguments are int, so data is fed in chunks of at
 * most CHUNK bytes; a sealed plaintext never enters the caller's output buffer, and an opened plaintext is
 * decrypted in place after the buffer has grown, so no realloc leaves a copy of it in freed memory; every
 * failure path leaves the caller's buffer as it found it. OpenSSL contexts are created and freed within one
 * call (OpenSSL's free functions cleanse the key schedules they hold), except the one AES-256-GCM context
 * and the HMAC context each thread keeps (thread_state_t below).
 *
 * Why contexts per thread: the log writer seals four fields per record under one org key. Measured per
 * seal (fields of 9 B to 1.6 KB): a new context, initialised, used and freed, 0.54 us; the thread's
 * context re-keyed, 0.40 us; only given a new IV (same key), 0.26 us; and a nonce from RAND_bytes, 0.53 us
 * more. So a thread keeps its context, re-keys it only when the key changes, and counts its nonces
 * (crypto.h says why they stay unique). An HMAC likewise: 0.87 us with a fetch and a context per call,
 * 0.30 us re-keying the thread's. The contexts hold the last key used until the thread's next call or its
 * exit, when they are freed and cleansed: nothing more than the process holds anyway, since the keys stay
 * in memory as long as they are in use.
 */
#include "crypto/crypto.h"
#include "core/err.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* Largest length handed to one EVP call taking an int. */
#define CHUNK ((size_t)1 << 30)

/* Envelope layout (crypto.h): the version byte and key id, authenticated as additional data, then the
 * nonce. */
#define SEAL_AAD_HDR_LEN 5
#define SEAL_NONCE_OFF   SEAL_AAD_HDR_LEN

/* A valid address for zero-length keys and messages: OpenSSL treats a NULL key as "keep the old one". */
static const uint8_t empty_input[1];

/* Algorithm implementations fetched once: passing the legacy EVP_sha256()/EVP_aes_256_gcm() descriptors
 * makes OpenSSL 3 look the provider implementation up again on every call (locks and a hash lookup on the
 * request path). Fetched objects are immutable and safe to share between threads. */
static pthread_once_t g_fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha256;
static EVP_CIPHER *g_gcm;
static EVP_MAC *g_hmac;

static void fetch_algorithms(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&g_fetch_once, fetch_algorithms);
    return g_sha256 ? g_sha256 : EVP_sha256();
}

static const EVP_CIPHER *gcm_cipher(void)
{
    pthread_once(&g_fetch_once, fetch_algorithms);
    return g_gcm ? g_gcm : EVP_aes_256_gcm();
}

/* The shared HMAC implementation, or a new reference the caller frees (NULL when OpenSSL has none). */
static EVP_MAC *hmac_mac(bool *owned)
{
    pthread_once(&g_fetch_once, fetch_algorithms);
    *owned = !g_hmac;
    return g_hmac ? g_hmac : EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* --- Per-thread state ------------------------------------------------------------------------------- */

/* What a thread keeps between calls, allocated on its first seal, open or HMAC and freed with the thread
 * (pthread key destructor; the free functions cleanse the contexts):
 *   - gcm: the AES-256-GCM context for 12-byte IVs, and a copy of the key it holds, so a run of calls under
 *     one key (a log record's fields) only sets the IV. The copy adds nothing to what the context already
 *     holds: the first round keys of an AES-256 schedule are the key.
 *   - the nonce sequence: nonce = fixed || be32(count), fixed being 8 bytes from RAND_bytes and count going
 *     from 0 to 2^32 - 1 (crypto.h, "Nonces"). A new fixed field is drawn on the thread's first seal, when
 *     count would wrap, and in a child after fork() (which copies the parent's memory, and must not
 *     continue the parent's sequence).
 *   - mac: an HMAC-SHA256 context, re-keyed by every call.
 * A context is freed after any failure, and made again on the next call, whatever state OpenSSL left it in.
 */
typedef struct {
    EVP_CIPHER_CTX *gcm;
    uint8_t gcm_key[IG_AES256_KEY_LEN];
    bool gcm_keyed; /* gcm holds gcm_key */
    uint8_t fixed[8];
    uint64_t count; /* the next invocation; NONCE_COUNT_END = no usable fixed field */
    unsigned fork_gen;
    EVP_MAC_CTX *mac;
} thread_state_t;

#define NONCE_COUNT_END ((uint64_t)1 << 32)

static pthread_once_t g_state_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_state_key;
static bool g_state_key_ok;
static atomic_uint g_fork_gen; /* bumped in the child after every fork() */

static void on_fork_child(void)
{
    atomic_fetch_add(&g_fork_gen, 1);
}

static void thread_state_free(void *p)
{
    thread_state_t *t = p;
    if (!t) return;
    EVP_CIPHER_CTX_free(t->gcm);
    EVP_MAC_CTX_free(t->mac);
    ig_wipe(t, sizeof *t);
    free(t);
}

static void thread_state_init(void)
{
    g_state_key_ok = pthread_key_create(&g_state_key, thread_state_free) == 0 &&
                     pthread_atfork(NULL, NULL, on_fork_child) == 0;
}

/* This thread's state; NULL when it cannot be allocated (callers then use a context for one call, or fail
 * with IG_ENOMEM where they cannot do without it: nonces). */
static thread_state_t *thread_state(void)
{
    pthread_once(&g_state_once, thread_state_init);
    if (!g_state_key_ok) return NULL;
    thread_state_t *t = pthread_getspecific(g_state_key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) return NULL;
        t->count = NONCE_COUNT_END;
        if (pthread_setspecific(g_state_key, t) != 0) {
            free(t);
            return NULL;
        }
    }
    return t;
}

/* The next nonce of this thread's sequence into out. IG_ECRYPTO if a new fixed field is needed and the
 * generator fails (nothing may then be sealed), IG_ENOMEM without a thread state. */
static int next_nonce(uint8_t out[IG_GCM_NONCE_LEN])
{
    thread_state_t *t = thread_state();
    if (!t) return IG_ENOMEM;
    unsigned gen = atomic_load_explicit(&g_fork_gen, memory_order_relaxed);
    if (t->count >= NONCE_COUNT_END || t->fork_gen != gen) {
        if (ig_random(t->fixed, sizeof t->fixed) != IG_OK) {
            t->count = NONCE_COUNT_END;
            return IG_ECRYPTO;
        }
        t->count = 0;
        t->fork_gen = gen;
    }
    uint32_t c = (uint32_t)t->count++;
    memcpy(out, t->fixed, sizeof t->fixed);
    out[8] = (uint8_t)(c >> 24);
    out[9] = (uint8_t)(c >> 16);
    out[10] = (uint8_t)(c >> 8);
    out[11] = (uint8_t)c;
    return IG_OK;
}

void ig_seal_nonce_skip(uint64_t n)
{
    thread_state_t *t = thread_state();
    if (t && t->count < NONCE_COUNT_END)
        t->count = n < NONCE_COUNT_END - t->count ? t->count + n : NONCE_COUNT_END;
}

int ig_random(void *buf, size_t n)
{
    int rc = IG_OK;
    unsigned char *p = buf;
    while (n > 0) {
        size_t k = IG_MIN(n, CHUNK);
        if (RAND_bytes(p, (int)k) != 1) {
            rc = IG_ECRYPTO;
            goto out;
        }
        p += k;
        n -= k;
    }
out:
    return rc;
}

void ig_wipe(void *p, size_t n)
{
    if (p && n) OPENSSL_cleanse(p, n);
}

void ig_sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    /* Fails only when OpenSSL cannot allocate or has no SHA-256 provider; a made-up digest would be worse
     * than stopping, since digests are used as lookup keys. */
    if (EVP_Digest(n ? p : empty_input, n, out, &len, sha256_md(), NULL) != 1 || len != IG_SHA256_LEN)
        abort();
}

int ig_hmac_sha256(const uint8_t *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    int rc = IG_ECRYPTO;
    bool own_mac = false;
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    thread_state_t *t = thread_state();
    size_t outl = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    if (t && t->mac) {
        ctx = t->mac;
    } else {
        if (!(mac = hmac_mac(&own_mac))) goto out;
        if (!(ctx = EVP_MAC_CTX_new(mac))) goto out;
        if (t) t->mac = ctx;
        if (!EVP_MAC_CTX_set_params(ctx, params)) goto out;
    }
    /* never a NULL key: EVP_MAC_init would keep the previous call's */
    if (!EVP_MAC_init(ctx, klen ? key : empty_input, klen, NULL)) goto out;
    if (n && !EVP_MAC_update(ctx, msg, n)) goto out;
    if (!EVP_MAC_final(ctx, out, &outl, IG_SHA256_LEN) || outl != IG_SHA256_LEN) goto out;
    rc = IG_OK;
out:
    if (ctx && (!t || rc != IG_OK)) {
        EVP_MAC_CTX_free(ctx);
        if (t) t->mac = NULL;
    }
    if (own_mac) EVP_MAC_free(mac);
    return rc;
}

int ig_hkdf_sha256(const uint8_t *salt, size_t slen, const uint8_t *ikm, size_t ilen, const uint8_t *info,
                   size_t infolen, uint8_t *out, size_t outlen)
{
    int rc = IG_ECRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[5], *p = params;

    if (outlen == 0 || outlen > 255 * IG_SHA256_LEN) {
        rc = IG_EINVAL;
        goto out;
    }
    /* An absent salt is HashLen zero bytes (RFC 5869 2.2), which is what OpenSSL uses when none is set. */
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(ilen ? ikm : empty_input), ilen);
    if (slen) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, slen);
    if (infolen) *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();

    if (!(kdf = EVP_KDF_fetch(NULL, "HKDF", NULL))) goto out;
    if (!(ctx = EVP_KDF_CTX_new(kdf))) goto out;
    if (EVP_KDF_derive(ctx, out, outlen, params) != 1) goto out;
    rc = IG_OK;
out:
    if (rc != IG_OK && rc != IG_EINVAL) ig_wipe(out, outlen);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

bool ig_ct_equal(const void *a, const void *b, size_t n)
{
    return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}

/* --- AES-256-GCM ------------------------------------------------------------------------------------- */

/* Feeds len bytes through the cipher; out NULL means the bytes are additional data. */
static int gcm_update(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out)
{
    int rc = IG_OK;
    while (len > 0) {
        size_t k = IG_MIN(len, CHUNK);
        int outl = 0;
        if (!EVP_CipherUpdate(ctx, out, &outl, in, (int)k) || (size_t)outl != k) {
            rc = IG_ECRYPTO;
            goto out;
        }
        in += k;
        if (out) out += k;
        len -= k;
    }
out:
    return rc;
}

/* Releases a context from gcm_begin: a new one is freed; the thread's is kept, unless the message failed
 * (then it is freed, the key copy wiped, and the next call makes a new one). */
static void gcm_end(EVP_CIPHER_CTX *ctx, thread_state_t *t, int rc)
{
    if (!ctx) return;
    if (!t) {
        EVP_CIPHER_CTX_free(ctx);
    } else if (rc != IG_OK) {
        EVP_CIPHER_CTX_free(ctx);
        t->gcm = NULL;
        t->gcm_keyed = false;
        ig_wipe(t->gcm_key, sizeof t->gcm_key);
    }
}

/* A context keyed for one message, with the additional data (naad pieces authenticated as their
 * concatenation) absorbed. A 12-byte IV uses the calling thread's context (*pt = its state), which is only
 * re-keyed when the key differs from its last one; any other length a new context (*pt = NULL). Release it
 * with gcm_end. */
static int gcm_begin(EVP_CIPHER_CTX **pctx, thread_state_t **pt, int enc, const uint8_t *key,
                     const uint8_t *iv, size_t ivlen, const ig_iov_t *aad, size_t naad)
{
    int rc = IG_ECRYPTO;
    EVP_CIPHER_CTX *ctx = NULL;
    thread_state_t *t = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen),
        OSSL_PARAM_construct_end(),
    };

    if (ivlen == 0) {
        rc = IG_EINVAL;
        goto out;
    }
    if (ivlen == IG_GCM_NONCE_LEN) t = thread_state();
    if (t && t->gcm) {
        ctx = t->gcm;
    } else {
        if (!(ctx = EVP_CIPHER_CTX_new())) goto out;
        if (t) {
            t->gcm = ctx;
            t->gcm_keyed = false;
        }
        /* The IV length must be set before the IV itself, hence two init calls (12 is GCM's default). */
        if (!EVP_CipherInit_ex2(ctx, gcm_cipher(), NULL, NULL, enc, params)) goto out;
    }
    if (t && t->gcm_keyed && CRYPTO_memcmp(t->gcm_key, key, IG_AES256_KEY_LEN) == 0) {
        if (!EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL)) goto out; /* same key: only the IV */
    } else {
        if (t) t->gcm_keyed = false;
        if (!EVP_CipherInit_ex2(ctx, NULL, key, iv, enc, NULL)) goto out;
        if (t) {
            memcpy(t->gcm_key, key, IG_AES256_KEY_LEN);
            t->gcm_keyed = true;
        }
    }
    for (size_t i = 0; i < naad; i++) {
        rc = gcm_update(ctx, (const uint8_t *)aad[i].base, aad[i].len, NULL);
        if (rc) goto out;
    }
    rc = IG_OK;
out:
    if (rc != IG_OK && ctx) {
        gcm_end(ctx, t, rc);
        ctx = NULL;
    }
    *pctx = ctx;
    *pt = t;
    return rc;
}

/* Encrypting: writes the tag. Decrypting: checks it (IG_ECRYPTO on mismatch). */
static int gcm_finish(EVP_CIPHER_CTX *ctx, int enc, uint8_t *tag)
{
    int rc = IG_ECRYPTO;
    int outl = 0;
    uint8_t none[16];
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, IG_GCM_TAG_LEN),
        OSSL_PARAM_construct_end(),
    };

    if (!enc && !EVP_CIPHER_CTX_set_params(ctx, params)) goto out;
    if (!EVP_CipherFinal_ex(ctx, none, &outl) || outl != 0) goto out;
    if (enc && !EVP_CIPHER_CTX_get_params(ctx, params)) goto out;
    rc = IG_OK;
out:
    return rc;
}

/* One-shot GCM over len bytes (in may equal out). On a decryption failure the output is zeroed. */
static int gcm_crypt(int enc, const uint8_t *key, const uint8_t *iv, size_t ivlen, const ig_iov_t *aad,
                     size_t naad, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = NULL;
    thread_state_t *t = NULL;
    int rc = gcm_begin(&ctx, &t, enc, key, iv, ivlen, aad, naad);
    if (rc) goto out;
    rc = gcm_update(ctx, in, len, out);
    if (rc) goto out;
    rc = gcm_finish(ctx, enc, tag);
out:
    if (rc != IG_OK && ctx) ig_wipe(out, len);
    gcm_end(ctx, t, rc);
    return rc;
}

int ig_aes256gcm_encrypt(const uint8_t key[32], const uint8_t *iv, size_t ivlen, ig_iov_t aad, ig_iov_t pt,
                         uint8_t *ct_out, uint8_t tag_out[16])
{
    return gcm_crypt(1, key, iv, ivlen, &aad, 1, (const uint8_t *)pt.base, pt.len, ct_out, tag_out);
}

int ig_aes256gcm_decrypt(const uint8_t key[32], const uint8_t *iv, size_t ivlen, ig_iov_t aad, ig_iov_t ct,
                         const uint8_t tag[16], uint8_t *pt_out)
{
    /* The tag is only read when decrypting; OSSL_PARAM has no const variant. */
    return gcm_crypt(0, key, iv, ivlen, &aad, 1, (const uint8_t *)ct.base, ct.len, pt_out, (uint8_t *)tag);
}

/* --- Envelope ---------------------------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int ig_seal(const uint8_t key[32], uint32_t key_id, ig_iov_t aad, ig_iov_t pt, ig_buf_t *out)
{
    int rc;
    size_t start = out->len;
    EVP_CIPHER_CTX *ctx = NULL;
    thread_state_t *t = NULL;
    uint8_t hdr[IG_SEAL_HEADER_LEN], tag[IG_GCM_TAG_LEN], chunk[4096];
    ig_iov_t aads[2] = {{(const char *)hdr, SEAL_AAD_HDR_LEN}, aad};

    if (pt.len > SIZE_MAX - IG_SEAL_OVERHEAD || pt.len + IG_SEAL_OVERHEAD > out->max - out->len) {
        rc = IG_ETOOBIG;
        goto out;
    }
    hdr[0] = IG_SEAL_VERSION;
    put_be32(hdr + 1, key_id);
    rc = next_nonce(hdr + SEAL_NONCE_OFF);
    if (rc) goto out;
    rc = ig_buf_append(out, hdr, sizeof hdr);
    if (rc) goto out;
    rc = gcm_begin(&ctx, &t, 1, key, hdr + SEAL_NONCE_OFF, IG_GCM_NONCE_LEN, aads, 2);
    if (rc) goto out;
    /* Encrypt through a stack chunk so the plaintext never enters `out` (see the file comment). */
    for (size_t off = 0; off < pt.len;) {
        size_t k = IG_MIN(pt.len - off, sizeof chunk);
        rc = gcm_update(ctx, (const uint8_t *)pt.base + off, k, chunk);
        if (rc) goto out;
        rc = ig_buf_append(out, chunk, k);
        if (rc) goto out;
        off += k;
    }
    rc = gcm_finish(ctx, 1, tag);
    if (rc) goto out;
    rc = ig_buf_append(out, tag, sizeof tag);
out:
    if (rc != IG_OK) out->len = start; /* nothing secret was appended: the blob is ciphertext */
    gcm_end(ctx, t, rc);
    return rc;
}

/* Checks the parts of the envelope that can be checked without the key. */
static int seal_parse(ig_iov_t blob)
{
    bool ok = blob.len >= IG_SEAL_OVERHEAD && (uint8_t)blob.base[0] == IG_SEAL_VERSION;
    return ok ? IG_OK : IG_ECRYPTO;
}

int ig_open(const uint8_t key[32], ig_iov_t aad, ig_iov_t blob, ig_buf_t *out)
{
    size_t start = out->len, ctlen;
    const uint8_t *b = (const uint8_t *)blob.base;
    ig_iov_t aads[2] = {{blob.base, SEAL_AAD_HDR_LEN}, aad};
    uint8_t empty[1], *pt = empty;

    int rc = seal_parse(blob);
    if (rc) goto out;
    ctlen = blob.len - IG_SEAL_OVERHEAD;
    /* Grow `out` once with the ciphertext, then decrypt in place: no realloc after plaintext exists. */
    rc = ig_buf_append(out, b + IG_SEAL_HEADER_LEN, ctlen);
    if (rc) goto out;
    if (ctlen) pt = (uint8_t *)out->data + start;
    rc = gcm_crypt(0, key, b + SEAL_NONCE_OFF, IG_GCM_NONCE_LEN, aads, 2, pt, ctlen, pt,
                   (uint8_t *)(b + IG_SEAL_HEADER_LEN + ctlen));
out:
    if (rc != IG_OK) out->len = start; /* gcm_crypt already wiped what it decrypted */
    return rc;
}

int ig_seal_key_id(ig_iov_t blob, uint32_t *key_id)
{
    int rc = seal_parse(blob);
    if (rc == IG_OK) *key_id = get_be32((const uint8_t *)blob.base + 1);
    return rc;
}

/* --- Codecs ------------------------------------------------------------------------------------------ */

static const char hex_digits[] = "0123456789abcdef";

void ig_hex_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[p[i] >> 4];
        out[2 * i + 1] = hex_digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20; /* 'A'..'F' -> 'a'..'f'; nothing else lands in that range */
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int ig_hex_decode(ig_iov_t hex, uint8_t *out, size_t outcap, size_t *outlen)
{
    int rc = IG_OK;
    size_t n = hex.len / 2, i = 0;

    if (hex.len % 2) {
        rc = IG_EINVAL;
        goto out;
    }
    if (n > outcap) {
        rc = IG_ETOOBIG;
        goto out;
    }
    for (; i < n; i++) {
        int hi = hex_value((unsigned char)hex.base[2 * i]),
            lo = hex_value((unsigned char)hex.base[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            rc = IG_EINVAL;
            goto out;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    if (outlen) *outlen = n;
out:
    if (rc != IG_OK) ig_wipe(out, i);
    return rc;
}

static const char b64url_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ig_b64url_encode(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_digits[v >> 18];
        out[o++] = b64url_digits[(v >> 12) & 63];
        out[o++] = b64url_digits[(v >> 6) & 63];
        out[o++] = b64url_digits[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_digits[v >> 18];
        out[o++] = b64url_digits[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_digits[v >> 18];
        out[o++] = b64url_digits[(v >> 12) & 63];
        out[o++] = b64url_digits[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/* Value of a base64 character in either alphabet ('+' and '-' are 62, '/' and '_' are 63), or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int ig_b64_decode(ig_iov_t s, uint8_t *out, size_t outcap, size_t *outlen)
{
    int rc = IG_EINVAL;
    size_t n = s.len, o = 0, need;
    uint32_t acc = 0;
    unsigned bits = 0;

    /* Padding is all or nothing: when present the length is a multiple of 4 and at most two '=' end it.
     * Any other '=' is then rejected below as a non-alphabet character. */
    if (n % 4 == 0 && n >= 4 && s.base[n - 1] == '=') n -= s.base[n - 2] == '=' ? 2 : 1;
    if (n % 4 == 1) goto out; /* 6 bits cannot make a byte */
    need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > outcap) {
        rc = IG_ETOOBIG;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s.base[i]);
        if (v < 0) goto out;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The 2 or 4 leftover bits of a partial group must be zero: one accepted encoding per byte string. */
    if (acc & ((1u << bits) - 1)) goto out;
    if (outlen) *outlen = o;
    rc = IG_OK;
out:
    if (rc != IG_OK) ig_wipe(out, o);
    return rc;
}

int ig_derive_key(const uint8_t master[32], const char *purpose, uint8_t out[32])
{
    int rc = IG_EINVAL;
    if (!purpose || !*purpose) goto out;
    rc = ig_hkdf_sha256((const uint8_t *)IG_DERIVE_SALT, sizeof IG_DERIVE_SALT - 1, master, IG_AES256_KEY_LEN,
                        (const uint8_t *)purpose, strlen(purpose), out, IG_AES256_KEY_LEN);
out:
    return rc;
}
