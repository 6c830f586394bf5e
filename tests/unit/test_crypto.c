/*
 * Unit tests of src/crypto: published test vectors (SHA-256 from FIPS 180, HMAC-SHA256 from RFC 4231,
 * HKDF from RFC 5869, AES-256-GCM from McGrew & Viega's GCM specification, base64 from RFC 4648), then
 * the sealed-blob envelope as properties: round trip, every kind of tampering fails with IG_ECRYPTO, and
 * nonces never repeat (within a thread, across threads, at the end of a counter, after fork()); and the
 * contexts each thread reuses give the same results as fresh ones whatever the order of keys and failures.
 * Last, the formats orgkey.c builds by hand (field AAD, blind-index tag message), so stored data stays
 * readable.
 */
#include "unit.h"
#include "core/buf.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "crypto/orgkey.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

/* Hex of n bytes compared with an expected lowercase hex string; reports the caller's line. */
#define CHECK_HEX(p, n, want)                                                                                \
    do {                                                                                                     \
        char _h[2 * 256 + 1];                                                                                \
        size_t _n = (n);                                                                                     \
        CHECK(_n <= 256);                                                                                    \
        ig_hex_encode((const uint8_t *)(p), _n <= 256 ? _n : 256, _h);                                       \
        CHECK_EQ_STR(_h, want);                                                                              \
    } while (0)

/* Decodes a test vector's hex (already tested on its own in hex_codec). */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (ig_hex_decode(ig_iov_str(hex), out, cap, &n) != IG_OK) {
        fprintf(stderr, "  bad test vector hex: %s\n", hex);
        unit_failed_checks++;
    }
    return n;
}

static ig_iov_t bytes_iov(const uint8_t *p, size_t n)
{
    return ig_iov((const char *)p, n);
}

TEST(hex_codec)
{
    const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof bytes + 1];
    uint8_t out[8];
    size_t n = 99;

    ig_hex_encode(bytes, sizeof bytes, hex);
    CHECK_EQ_STR(hex, "00017f80abff");
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("00017F80aBfF"), out, sizeof out, &n), IG_OK);
    CHECK_EQ_INT(n, sizeof bytes);
    CHECK_MEM(out, bytes, sizeof bytes);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT(""), out, 0, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    ig_hex_encode(bytes, 0, hex);
    CHECK_EQ_STR(hex, "");

    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("abc"), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("0g"), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("ab:d"), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("0x00"), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("a b "), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(ig_iov("\0\0", 2), out, sizeof out, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("000102"), out, 2, &n), IG_ETOOBIG);
    /* A failed decode leaves nothing of the input behind. */
    memset(out, 0x55, sizeof out);
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT("ffffzz"), out, sizeof out, NULL), IG_EINVAL);
    CHECK(out[0] == 0 && out[1] == 0);
}

TEST(base64_rfc4648)
{
    /* RFC 4648 section 10, without padding. */
    static const struct {
        const char *raw, *b64;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    char enc[16];
    uint8_t dec[16];
    size_t n;

    for (size_t i = 0; i < IG_ARRAY_LEN(v); i++) {
        size_t rawlen = strlen(v[i].raw);
        CHECK_EQ_INT(ig_b64url_encode((const uint8_t *)v[i].raw, rawlen, enc), strlen(v[i].b64));
        CHECK_EQ_STR(enc, v[i].b64);
        n = 99;
        CHECK_EQ_INT(ig_b64_decode(ig_iov_str(v[i].b64), dec, sizeof dec, &n), IG_OK);
        CHECK_EQ_INT(n, rawlen);
        CHECK_MEM(dec, v[i].raw, rawlen);
    }
    /* The same with the padding of the RFC. */
    CHECK_EQ_INT(ig_b64_decode(IG_IOV_LIT("Zg=="), dec, sizeof dec, &n), IG_OK);
    CHECK(n == 1 && dec[0] == 'f');
    CHECK_EQ_INT(ig_b64_decode(IG_IOV_LIT("Zm9vYmE="), dec, sizeof dec, &n), IG_OK);
    CHECK(n == 5 && memcmp(dec, "fooba", 5) == 0);
}

TEST(base64_alphabets)
{
    const uint8_t raw[] = {0xfb, 0xff, 0xbf};
    char enc[8];
    uint8_t dec[8];
    size_t n;

    CHECK_EQ_INT(ig_b64url_encode(raw, 3, enc), 4);
    CHECK_EQ_STR(enc, "-_-_");
    CHECK_EQ_INT(ig_b64url_encode(raw, 2, enc), 3);
    CHECK_EQ_STR(enc, "-_8");
    /* Standard and url alphabets, padded or not, decode alike. */
    const char *forms[] = {"-_8", "+/8", "+/8=", "-_8="};
    for (size_t i = 0; i < IG_ARRAY_LEN(forms); i++) {
        n = 0;
        CHECK_EQ_INT(ig_b64_decode(ig_iov_str(forms[i]), dec, sizeof dec, &n), IG_OK);
        CHECK(n == 2 && dec[0] == 0xfb && dec[1] == 0xff);
    }
}

TEST(base64_rejects)
{
    uint8_t dec[16];
    size_t n;
    const char *bad[] = {
        "Zm9vY",                                   /* a lone 6-bit character cannot end the input */
        "Zm9vYg=",                                 /* padding that does not complete a 4-character group */
        "Zm9vYg===",                               /* too much padding */
        "Zg=a",                                    /* '=' inside */
        "=",         "==",      "====",    "Zh==", /* non-zero unused bits: only "Zg==" encodes "f" */
        "Zm9=",                                    /* likewise for two bytes: only "Zm8=" encodes "fo" */
        "Zm9v YQ",                                 /* whitespace */
        "Zm9v\nYQ",  "Zm9v.YQ", "Zm9v*YQ",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        int rc = ig_b64_decode(ig_iov_str(bad[i]), dec, sizeof dec, &n);
        if (rc != IG_EINVAL) fprintf(stderr, "  accepted bad base64 \"%s\"\n", bad[i]);
        CHECK_EQ_INT(rc, IG_EINVAL);
    }
    CHECK_EQ_INT(ig_b64_decode(ig_iov("Zm\0v", 4), dec, sizeof dec, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_b64_decode(IG_IOV_LIT("Zm9vYmFy"), dec, 5, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_b64_decode(IG_IOV_LIT("Zm9vYmFy"), dec, 6, &n), IG_OK);
}

TEST(sha256_fips180)
{
    uint8_t md[32];
    ig_sha256("abc", 3, md);
    CHECK_HEX(md, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ig_sha256("", 0, md);
    CHECK_HEX(md, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ig_sha256(NULL, 0, md);
    CHECK_HEX(md, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ig_sha256(m448, strlen(m448), md);
    CHECK_HEX(md, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    size_t million = 1000000;
    char *a = malloc(million);
    CHECK(a != NULL);
    if (a) {
        memset(a, 'a', million);
        ig_sha256(a, million, md);
        CHECK_HEX(md, 32, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(a);
    }
}

TEST(hmac_sha256_rfc4231)
{
    /* Keys and data are given as (hex) or as a byte repeated n times, as in the RFC. Test case 5 is
     * omitted: it checks a truncated output. */
    static const struct {
        int tc;
        const char *key_hex;
        uint8_t key_byte;
        size_t key_n;
        const char *data;
        uint8_t data_byte;
        size_t data_n;
        const char *mac;
    } v[] = {
        {1, NULL, 0x0b, 20, "Hi There", 0, 0,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {2, "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {3, NULL, 0xaa, 20, NULL, 0xdd, 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {4, "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0, NULL, 0xcd, 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {6, NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {7, NULL, 0xaa, 131,
         "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
         "to be hashed before being used by the HMAC algorithm.",
         0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(v); i++) {
        uint8_t key[200], data[200], mac[32];
        size_t klen, dlen;
        int before = unit_failed_checks;
        if (v[i].key_hex) {
            klen = unhex(v[i].key_hex, key, sizeof key);
        } else {
            klen = v[i].key_n;
            memset(key, v[i].key_byte, klen);
        }
        if (v[i].data) {
            dlen = strlen(v[i].data);
            memcpy(data, v[i].data, dlen);
        } else {
            dlen = v[i].data_n;
            memset(data, v[i].data_byte, dlen);
        }
        CHECK_EQ_INT(ig_hmac_sha256(key, klen, data, dlen, mac), IG_OK);
        CHECK_HEX(mac, 32, v[i].mac);
        if (unit_failed_checks != before) fprintf(stderr, "  RFC 4231 test case %d\n", v[i].tc);
    }
    /* Empty key and message: a valid HMAC, not "reuse the previous key". */
    uint8_t mac[32];
    CHECK_EQ_INT(ig_hmac_sha256(NULL, 0, NULL, 0, mac), IG_OK);
    CHECK_HEX(mac, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(hkdf_sha256_rfc5869)
{
    uint8_t ikm[80], salt[80], info[80], okm[82];
    size_t ilen, slen, infolen;

    /* A.1: basic test case */
    ilen = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm, sizeof ikm);
    slen = unhex("000102030405060708090a0b0c", salt, sizeof salt);
    infolen = unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof info);
    CHECK_EQ_INT(ig_hkdf_sha256(salt, slen, ikm, ilen, info, infolen, okm, 42), IG_OK);
    CHECK_HEX(okm, 42,
              "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

    /* A.2: longer inputs and outputs */
    for (size_t i = 0; i < 80; i++) {
        ikm[i] = (uint8_t)i;
        salt[i] = (uint8_t)(0x60 + i);
        info[i] = (uint8_t)(0xb0 + i);
    }
    CHECK_EQ_INT(ig_hkdf_sha256(salt, 80, ikm, 80, info, 80, okm, 82), IG_OK);
    CHECK_HEX(
        okm, 82,
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
        "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");

    /* A.3: zero-length salt and info */
    ilen = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ikm, sizeof ikm);
    CHECK_EQ_INT(ig_hkdf_sha256(NULL, 0, ikm, ilen, NULL, 0, okm, 42), IG_OK);
    CHECK_HEX(okm, 42,
              "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");

    /* Output length bounds: 1..255*HashLen. */
    CHECK_EQ_INT(ig_hkdf_sha256(NULL, 0, ikm, ilen, NULL, 0, okm, 0), IG_EINVAL);
    CHECK_EQ_INT(ig_hkdf_sha256(NULL, 0, ikm, ilen, NULL, 0, NULL, 255 * 32 + 1), IG_EINVAL);
}

TEST(derive_key)
{
    uint8_t master[32], k1[32], k2[32], k3[32];
    for (size_t i = 0; i < 32; i++)
        master[i] = (uint8_t)i;
    CHECK_EQ_INT(ig_derive_key(master, "provider-keys", k1), IG_OK);
    /* HKDF-SHA256(salt "ingate-v1", ikm 00..1f, info "provider-keys"), per RFC 5869. */
    CHECK_HEX(k1, 32, "8cb8f2fd1dd580c95b2df5437ca71f9d48a490db807fc3ebfe55884133cabadf");
    CHECK_EQ_INT(ig_derive_key(master, "provider-keys", k2), IG_OK);
    CHECK_MEM(k1, k2, 32);
    CHECK_EQ_INT(ig_derive_key(master, "sessions", k3), IG_OK);
    CHECK_HEX(k3, 32, "28e5b656b38ac0c6d73580957e8c0718135c7b00a9c1dbe3c4e868adab413367");
    CHECK_EQ_INT(ig_derive_key(master, "", k3), IG_EINVAL);
    CHECK_EQ_INT(ig_derive_key(master, NULL, k3), IG_EINVAL);
}

/* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 13-18 (AES-256). 17 and 18 use
 * 8- and 60-byte IVs. */
static const struct {
    int tc;
    const char *key, *iv, *pt, *aad, *ct, *tag;
} gcm_vectors[] = {
    {13, "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "",
     "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
     "b16aedf5aa0de657ba637b391aafd255",
     "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
     "c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {16, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
     "b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
     "c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {17, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbad",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
     "b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0feb582d33934a4f0954cc2363bc73f78"
     "62ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {18, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b5254"
     "16aedbf5a0de6a57a637b39b",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
     "b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf40fc0c3b780f244452da3ebf1c5d82cde"
     "a2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

TEST(aes256gcm_vectors)
{
    for (size_t i = 0; i < IG_ARRAY_LEN(gcm_vectors); i++) {
        uint8_t key[32], iv[64], pt[64], aad[32], ct[64], tag[16], out[64], outtag[16];
        int before = unit_failed_checks;
        CHECK_EQ_INT(unhex(gcm_vectors[i].key, key, sizeof key), 32);
        size_t ivlen = unhex(gcm_vectors[i].iv, iv, sizeof iv);
        size_t ptlen = unhex(gcm_vectors[i].pt, pt, sizeof pt);
        size_t aadlen = unhex(gcm_vectors[i].aad, aad, sizeof aad);
        CHECK_EQ_INT(unhex(gcm_vectors[i].ct, ct, sizeof ct), ptlen);
        CHECK_EQ_INT(unhex(gcm_vectors[i].tag, tag, sizeof tag), 16);

        CHECK_EQ_INT(
            ig_aes256gcm_encrypt(key, iv, ivlen, bytes_iov(aad, aadlen), bytes_iov(pt, ptlen), out, outtag),
            IG_OK);
        CHECK_HEX(out, ptlen, gcm_vectors[i].ct);
        CHECK_HEX(outtag, 16, gcm_vectors[i].tag);

        memset(out, 0xee, sizeof out);
        CHECK_EQ_INT(
            ig_aes256gcm_decrypt(key, iv, ivlen, bytes_iov(aad, aadlen), bytes_iov(ct, ptlen), tag, out),
            IG_OK);
        CHECK_MEM(out, pt, ptlen);

        /* A wrong tag fails and leaves no unauthenticated plaintext behind. */
        tag[15] ^= 1;
        memset(out, 0xee, sizeof out);
        CHECK_EQ_INT(
            ig_aes256gcm_decrypt(key, iv, ivlen, bytes_iov(aad, aadlen), bytes_iov(ct, ptlen), tag, out),
            IG_ECRYPTO);
        for (size_t j = 0; j < ptlen; j++)
            CHECK(out[j] == 0);
        tag[15] ^= 1;

        /* In place, both ways. */
        memcpy(out, pt, ptlen);
        CHECK_EQ_INT(
            ig_aes256gcm_encrypt(key, iv, ivlen, bytes_iov(aad, aadlen), bytes_iov(out, ptlen), out, outtag),
            IG_OK);
        CHECK_MEM(out, ct, ptlen);
        CHECK_EQ_INT(
            ig_aes256gcm_decrypt(key, iv, ivlen, bytes_iov(aad, aadlen), bytes_iov(out, ptlen), tag, out),
            IG_OK);
        CHECK_MEM(out, pt, ptlen);
        if (unit_failed_checks != before) fprintf(stderr, "  GCM test case %d\n", gcm_vectors[i].tc);
    }
}

TEST(aes256gcm_bad_args)
{
    uint8_t key[32] = {0}, iv[12] = {0}, ct[4], tag[16];
    CHECK_EQ_INT(ig_aes256gcm_encrypt(key, iv, 0, IG_IOV_NULL, IG_IOV_LIT("abcd"), ct, tag), IG_EINVAL);
    CHECK_EQ_INT(ig_aes256gcm_decrypt(key, iv, 0, IG_IOV_NULL, bytes_iov(ct, 4), tag, ct), IG_EINVAL);
}

TEST(ct_equal_random_wipe)
{
    uint8_t a[32], b[32];
    CHECK(ig_ct_equal("abc", "abc", 3));
    CHECK(!ig_ct_equal("abc", "abd", 3));
    CHECK(!ig_ct_equal("xbc", "abc", 3));
    CHECK(ig_ct_equal("a", "b", 0));

    CHECK_EQ_INT(ig_random(a, sizeof a), IG_OK);
    CHECK_EQ_INT(ig_random(b, sizeof b), IG_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK_EQ_INT(ig_random(NULL, 0), IG_OK);

    ig_wipe(a, sizeof a);
    memset(b, 0, sizeof b);
    CHECK_MEM(a, b, sizeof a);
    ig_wipe(NULL, 0);
}

/* --- Envelope ---------------------------------------------------------------------------------------- */

static const uint8_t seal_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
#define SECRET  "sk-provider-0123456789abcdef"
#define ORG_AAD "org:42/provider_keys/openai"

TEST(seal_round_trip)
{
    ig_buf_t blob, pt;
    uint32_t id = 7;
    ig_buf_init(&blob, 1024);
    ig_buf_init(&pt, 1024);

    CHECK_EQ_INT(ig_seal(seal_key, 0x01020304, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &blob), IG_OK);
    CHECK_EQ_INT(blob.len, sizeof SECRET - 1 + IG_SEAL_OVERHEAD);
    CHECK_EQ_INT((uint8_t)blob.data[0], IG_SEAL_VERSION);
    CHECK_MEM(blob.data + 1, "\x01\x02\x03\x04", 4); /* key id, big-endian */
    CHECK(memmem(blob.data, blob.len, SECRET, sizeof SECRET - 1) == NULL);
    CHECK_EQ_INT(ig_seal_key_id(ig_buf_iov(&blob), &id), IG_OK);
    CHECK_EQ_INT(id, 0x01020304);

    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt), IG_OK);
    CHECK(ig_iov_eq(ig_buf_iov(&pt), IG_IOV_LIT(SECRET)));
    ig_buf_free(&pt, true);

    /* Empty plaintext and empty aad. */
    ig_buf_reset(&blob);
    CHECK_EQ_INT(ig_seal(seal_key, 0, IG_IOV_NULL, IG_IOV_NULL, &blob), IG_OK);
    CHECK_EQ_INT(blob.len, IG_SEAL_OVERHEAD);
    CHECK_EQ_INT(ig_seal_key_id(ig_buf_iov(&blob), &id), IG_OK);
    CHECK_EQ_INT(id, 0);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_NULL, ig_buf_iov(&blob), &pt), IG_OK);
    CHECK_EQ_INT(pt.len, 0);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT("x"), ig_buf_iov(&blob), &pt), IG_ECRYPTO);

    ig_buf_free(&pt, true);
    ig_buf_free(&blob, false);
}

TEST(seal_matches_documented_layout)
{
    /* The blob opens with the raw GCM API given the layout of crypto.h: the nonce at 5, the ciphertext at
     * 17, the tag last, and version + key id + caller aad as the GCM additional data. */
    ig_buf_t blob;
    uint8_t aad[5 + sizeof ORG_AAD - 1], pt[sizeof SECRET - 1];
    ig_buf_init(&blob, 1024);
    CHECK_EQ_INT(ig_seal(seal_key, 9, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &blob), IG_OK);
    const uint8_t *b = (const uint8_t *)blob.data;
    memcpy(aad, b, 5);
    memcpy(aad + 5, ORG_AAD, sizeof ORG_AAD - 1);
    CHECK_EQ_INT(ig_aes256gcm_decrypt(seal_key, b + 5, 12, bytes_iov(aad, sizeof aad),
                                      bytes_iov(b + 17, sizeof pt), b + 17 + sizeof pt, pt),
                 IG_OK);
    CHECK_MEM(pt, SECRET, sizeof pt);
    ig_buf_free(&blob, false);
}

TEST(seal_appends_and_respects_ceiling)
{
    ig_buf_t blob, pt;
    ig_buf_init(&blob, 1024);
    ig_buf_init(&pt, 1024);
    CHECK_EQ_INT(ig_buf_append(&blob, "hdr:", 4), IG_OK);
    CHECK_EQ_INT(ig_seal(seal_key, 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &blob), IG_OK);
    CHECK_MEM(blob.data, "hdr:", 4);
    CHECK_EQ_INT(ig_buf_append(&pt, "pt:", 3), IG_OK);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_iov(blob.data + 4, blob.len - 4), &pt), IG_OK);
    CHECK(ig_iov_eq(ig_buf_iov(&pt), IG_IOV_LIT("pt:" SECRET)));
    ig_buf_free(&pt, true);

    /* One byte short of room: nothing is appended. */
    ig_buf_t small;
    ig_buf_init(&small, sizeof SECRET - 1 + IG_SEAL_OVERHEAD - 1);
    CHECK_EQ_INT(ig_seal(seal_key, 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &small), IG_ETOOBIG);
    CHECK_EQ_INT(small.len, 0);
    ig_buf_init(&pt, sizeof SECRET - 2);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_iov(blob.data + 4, blob.len - 4), &pt),
                 IG_ETOOBIG);
    CHECK_EQ_INT(pt.len, 0);
    ig_buf_free(&pt, true);
    ig_buf_free(&small, false);
    ig_buf_free(&blob, false);
}

TEST(seal_large_plaintext)
{
    /* Larger than the internal chunk and not a multiple of it or of the AES block. */
    size_t n = 3 * 4096 + 1000 + 3;
    uint8_t *big = malloc(n);
    ig_buf_t blob, pt;
    ig_buf_init(&blob, 1 << 20);
    ig_buf_init(&pt, 1 << 20);
    CHECK(big != NULL);
    if (!big) return;
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    CHECK_EQ_INT(ig_seal(seal_key, 3, IG_IOV_LIT("big"), bytes_iov(big, n), &blob), IG_OK);
    CHECK_EQ_INT(blob.len, n + IG_SEAL_OVERHEAD);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT("big"), ig_buf_iov(&blob), &pt), IG_OK);
    CHECK_EQ_INT(pt.len, n);
    CHECK(pt.len == n && memcmp(pt.data, big, n) == 0);
    ig_buf_free(&pt, true);
    ig_buf_free(&blob, false);
    free(big);
}

TEST(seal_nonces_differ)
{
    ig_buf_t a, b;
    ig_buf_init(&a, 1024);
    ig_buf_init(&b, 1024);
    CHECK_EQ_INT(ig_seal(seal_key, 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &a), IG_OK);
    CHECK_EQ_INT(ig_seal(seal_key, 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &b), IG_OK);
    CHECK_EQ_INT(a.len, b.len);
    CHECK(memcmp(a.data, b.data, a.len) != 0);
    CHECK(memcmp(a.data + 5, b.data + 5, IG_GCM_NONCE_LEN) != 0);
    ig_buf_free(&a, false);
    ig_buf_free(&b, false);
}

/* The nonce of a blob made by ig_seal (crypto.h, "Nonces"): the fixed field, and the counter. */
typedef struct {
    uint8_t fixed[8];
    uint32_t count;
} nonce_t;

static nonce_t nonce_of(const ig_buf_t *blob)
{
    nonce_t n;
    const uint8_t *p = (const uint8_t *)blob->data + 5;
    memcpy(n.fixed, p, 8);
    n.count = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | (uint32_t)p[11];
    return n;
}

/* Seals a short secret and returns the blob's nonce (all zero when the seal failed, which is checked). */
static nonce_t seal_nonce(void)
{
    ig_buf_t b;
    nonce_t n;
    memset(&n, 0, sizeof n);
    ig_buf_init(&b, 256);
    int rc = ig_seal(seal_key, 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &b);
    CHECK_EQ_INT(rc, IG_OK);
    if (rc == IG_OK) n = nonce_of(&b);
    ig_buf_free(&b, false);
    return n;
}

static int nonce_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(nonce_t));
}

/* true when no two of the n nonces are equal (sorts them) */
static bool all_distinct(nonce_t *v, size_t n)
{
    qsort(v, n, sizeof *v, nonce_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(&v[i - 1], &v[i], sizeof *v) == 0) return false;
    return true;
}

TEST(seal_nonces_count_within_a_thread)
{
    /* one thread: one fixed field, and a counter that goes up by one per seal, so no nonce repeats */
    enum { N = 20000 };
    nonce_t *v = calloc(N, sizeof *v);
    CHECK(v != NULL);
    if (!v) return;
    for (size_t i = 0; i < N; i++)
        v[i] = seal_nonce();
    for (size_t i = 1; i < N; i++) {
        CHECK(memcmp(v[i].fixed, v[0].fixed, 8) == 0);
        if (v[i].count != v[i - 1].count + 1) {
            fprintf(stderr, "  seal %zu: counter %u after %u\n", i, v[i].count, v[i - 1].count);
            CHECK(0);
            break;
        }
    }
    CHECK(all_distinct(v, N));
    free(v);
}

enum { THREADS = 4, PER_THREAD = 2000 };

static void *seal_many(void *arg)
{
    nonce_t *v = arg;
    for (size_t i = 0; i < PER_THREAD; i++)
        v[i] = seal_nonce();
    return NULL;
}

TEST(seal_nonces_differ_across_threads)
{
    /* each thread draws its own fixed field: no nonce is shared by two threads sealing at the same time */
    nonce_t *v = calloc((THREADS + 1) * PER_THREAD, sizeof *v);
    pthread_t th[THREADS];
    CHECK(v != NULL);
    if (!v) return;
    for (size_t t = 0; t < THREADS; t++)
        CHECK_EQ_INT(pthread_create(&th[t], NULL, seal_many, v + t * PER_THREAD), 0);
    seal_many(v + THREADS * PER_THREAD); /* and this thread meanwhile */
    for (size_t t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (size_t a = 0; a <= THREADS; a++) {
        const nonce_t *x = v + a * PER_THREAD;
        CHECK_EQ_INT(x[PER_THREAD - 1].count - x[0].count, PER_THREAD - 1);
        for (size_t b = a + 1; b <= THREADS; b++)
            CHECK(memcmp(x[0].fixed, v[b * PER_THREAD].fixed, 8) != 0);
    }
    CHECK(all_distinct(v, (THREADS + 1) * PER_THREAD));
    free(v);
}

TEST(seal_nonce_counter_end_draws_a_new_fixed_field)
{
    nonce_t a = seal_nonce();
    /* two seals before the end of the sequence: the last two counter values, then a new fixed field */
    ig_seal_nonce_skip(((uint64_t)1 << 32) - 3 - a.count);
    nonce_t b = seal_nonce(), c = seal_nonce(), d = seal_nonce(), e = seal_nonce();
    CHECK(memcmp(b.fixed, a.fixed, 8) == 0);
    CHECK_EQ_INT(b.count, 0xfffffffeu);
    CHECK(memcmp(c.fixed, a.fixed, 8) == 0);
    CHECK_EQ_INT(c.count, 0xffffffffu);
    CHECK(memcmp(d.fixed, a.fixed, 8) != 0);
    CHECK_EQ_INT(d.count, 0);
    CHECK(memcmp(e.fixed, d.fixed, 8) == 0);
    CHECK_EQ_INT(e.count, 1);
    /* the skip saturates at the end and never moves back */
    ig_seal_nonce_skip(UINT64_MAX);
    nonce_t f = seal_nonce();
    CHECK(memcmp(f.fixed, d.fixed, 8) != 0);
    CHECK_EQ_INT(f.count, 0);
    ig_seal_nonce_skip(0);
    CHECK_EQ_INT(seal_nonce().count, 1);
}

TEST(seal_nonce_forked_child_draws_a_new_fixed_field)
{
    /* a child copies its parent's memory, sequence included: it must not seal with the parent's nonces */
    nonce_t before = seal_nonce(), child;
    int fds[2];
    memset(&child, 0, sizeof child);
    CHECK_EQ_INT(pipe(fds), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        nonce_t n = seal_nonce();
        _exit(write(fds[1], &n, sizeof n) == (ssize_t)sizeof n ? 0 : 1);
    }
    close(fds[1]);
    CHECK_EQ_INT(read(fds[0], &child, sizeof child), sizeof child);
    close(fds[0]);
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    CHECK_EQ_INT(status, 0);
    nonce_t after = seal_nonce();
    CHECK(memcmp(child.fixed, before.fixed, 8) != 0);
    CHECK_EQ_INT(child.count, 0);
    CHECK(memcmp(after.fixed, before.fixed, 8) == 0); /* the parent goes on */
    CHECK_EQ_INT(after.count, before.count + 1);
}

TEST(seal_open_alternating_keys_and_failures)
{
    /* the thread's context is re-keyed only when the key changes: alternate keys, fail in between, and
     * check every blob against a fresh one-call decryption of its own (ig_aes256gcm_decrypt, 12-byte IV) */
    uint8_t k2[32];
    memset(k2, 0x5c, sizeof k2);
    const uint8_t *keys[] = {seal_key, seal_key, k2, seal_key, k2, k2};
    ig_buf_t blob[IG_ARRAY_LEN(keys)], pt;
    ig_buf_init(&pt, 1024);
    for (size_t i = 0; i < IG_ARRAY_LEN(keys); i++) {
        ig_buf_init(&blob[i], 1024);
        CHECK_EQ_INT(ig_seal(keys[i], 0, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &blob[i]), IG_OK);
        if (i == 2) { /* a failed open between seals */
            CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob[i]), &pt), IG_ECRYPTO);
            CHECK_EQ_INT(pt.len, 0);
        }
    }
    for (size_t i = 0; i < IG_ARRAY_LEN(keys); i++) {
        const uint8_t *other = keys[i] == k2 ? seal_key : k2;
        CHECK_EQ_INT(ig_open(keys[i], IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob[i]), &pt), IG_OK);
        CHECK(ig_iov_eq(ig_buf_iov(&pt), IG_IOV_LIT(SECRET)));
        ig_buf_reset(&pt);
        CHECK_EQ_INT(ig_open(other, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob[i]), &pt), IG_ECRYPTO);
        /* the same blob decrypted by hand: header as additional data, then the caller's aad */
        const uint8_t *b = (const uint8_t *)blob[i].data;
        size_t n = blob[i].len - IG_SEAL_OVERHEAD;
        uint8_t aad[5 + sizeof ORG_AAD - 1], out[64];
        memcpy(aad, b, 5);
        memcpy(aad + 5, ORG_AAD, sizeof ORG_AAD - 1);
        CHECK(n <= sizeof out);
        CHECK_EQ_INT(ig_aes256gcm_decrypt(keys[i], b + 5, IG_GCM_NONCE_LEN, bytes_iov(aad, sizeof aad),
                                          bytes_iov(b + IG_SEAL_HEADER_LEN, n), b + IG_SEAL_HEADER_LEN + n,
                                          out),
                     IG_OK);
        CHECK_MEM(out, SECRET, n);
        ig_buf_free(&blob[i], false);
    }
    ig_buf_free(&pt, true);
}

static void *hmac_in_thread(void *arg)
{
    uint8_t *mac = arg;
    /* RFC 4231 test case 2, computed while the main thread uses other keys */
    for (int i = 0; i < 200; i++)
        if (ig_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, mac) != IG_OK)
            memset(mac, 0, 32);
    return NULL;
}

TEST(hmac_alternating_keys_and_threads)
{
    /* the thread's HMAC context is re-keyed by every call, whatever the key's length */
    uint8_t mac[32], tmac[32];
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, hmac_in_thread, tmac), 0);
    for (int i = 0; i < 50; i++) {
        uint8_t k3[20];
        memset(k3, 0x0b, sizeof k3);
        CHECK_EQ_INT(ig_hmac_sha256(k3, sizeof k3, "Hi There", 8, mac), IG_OK);
        CHECK_HEX(mac, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        CHECK_EQ_INT(ig_hmac_sha256(NULL, 0, NULL, 0, mac), IG_OK);
        CHECK_HEX(mac, 32, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    }
    pthread_join(th, NULL);
    CHECK_HEX(tmac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(seal_tampering_fails)
{
    ig_buf_t blob, pt;
    uint8_t other_key[32];
    uint32_t id;
    ig_buf_init(&blob, 1024);
    ig_buf_init(&pt, 1024);
    CHECK_EQ_INT(ig_seal(seal_key, 5, IG_IOV_LIT(ORG_AAD), IG_IOV_LIT(SECRET), &blob), IG_OK);
    char *b = blob.data;

    /* Every single flipped bit: version, key id, nonce, ciphertext, tag. */
    int opened = 0;
    for (size_t i = 0; i < blob.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (char)(1 << bit);
            if (ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt) != IG_ECRYPTO) opened++;
            b[i] ^= (char)(1 << bit);
        }
    }
    CHECK_EQ_INT(opened, 0);
    CHECK_EQ_INT(pt.len, 0);

    /* The same blob in another org's context, or with no context. */
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT("org:43/provider_keys/openai"), ig_buf_iov(&blob), &pt),
                 IG_ECRYPTO);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD "\0"), ig_buf_iov(&blob), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_NULL, ig_buf_iov(&blob), &pt), IG_ECRYPTO);

    /* Another key. */
    memcpy(other_key, seal_key, 32);
    other_key[31] ^= 0x80;
    CHECK_EQ_INT(ig_open(other_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt), IG_ECRYPTO);

    /* Every truncation, and one byte too many. */
    for (size_t n = 0; n < blob.len; n++)
        CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_iov(b, n), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_buf_append(&blob, "", 1), IG_OK);
    b = blob.data;
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt), IG_ECRYPTO);
    blob.len--;
    CHECK_EQ_INT(ig_seal_key_id(ig_iov(b, IG_SEAL_OVERHEAD - 1), &id), IG_ECRYPTO);
    CHECK_EQ_INT(ig_seal_key_id(IG_IOV_NULL, &id), IG_ECRYPTO);

    /* Unknown versions, even with the rest intact. */
    const uint8_t versions[] = {0, 2, 0x81, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        b[0] = (char)versions[i];
        CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt), IG_ECRYPTO);
        CHECK_EQ_INT(ig_seal_key_id(ig_buf_iov(&blob), &id), IG_ECRYPTO);
    }
    b[0] = IG_SEAL_VERSION;
    CHECK_EQ_INT(pt.len, 0);

    /* And the untouched blob still opens. */
    CHECK_EQ_INT(ig_open(seal_key, IG_IOV_LIT(ORG_AAD), ig_buf_iov(&blob), &pt), IG_OK);
    CHECK(ig_iov_eq(ig_buf_iov(&pt), IG_IOV_LIT(SECRET)));
    ig_buf_free(&pt, true);
    ig_buf_free(&blob, false);
}

/* --- orgkey.c: the field AAD and the blind-index tag, built by hand ----------------------------------- */

#define OK_ORG "a3f5c8e21b7d4096e8c1f2a3b4c5d6e7"
#define OK_REC "01a2263a-0a14-709e-9c1e-1dc70b6d74ab"

TEST(orgkey_field_formats_are_stable)
{
    /* what is stored must stay readable: the AAD of a field and the tag of a value, built by hand here */
    uint8_t dk[32], tk[32], mac[32], tag[16];
    for (int i = 0; i < 32; i++) {
        dk[i] = (uint8_t)(7 * 31 + i);
        tk[i] = (uint8_t)(8 * 31 + i);
    }
    ig_buf_t ct, pt;
    ig_buf_init(&ct, 4096);
    ig_buf_init(&pt, 4096);
    CHECK_EQ_INT(ig_field_seal(dk, OK_ORG, OK_REC, "client_ip", ig_iov_str("203.0.113.7"), &ct), IG_OK);
    CHECK_EQ_INT(
        ig_open(dk, IG_IOV_LIT("ingate/log/v1:" OK_ORG ":" OK_REC ":client_ip"), ig_buf_iov(&ct), &pt),
        IG_OK);
    CHECK(ig_iov_eq(ig_buf_iov(&pt), IG_IOV_LIT("203.0.113.7")));

    /* the AAD is at most 191 bytes: 14 + 32 + 1 + rec + 1 + 9 ("client_ip") */
    char rec[200];
    memset(rec, 'r', sizeof rec);
    rec[191 - 14 - 32 - 1 - 1 - 9] = '\0';
    ct.len = 0;
    CHECK_EQ_INT(ig_field_seal(dk, OK_ORG, rec, "client_ip", ig_iov_str("x"), &ct), IG_OK);
    pt.len = 0;
    CHECK_EQ_INT(ig_field_open(dk, OK_ORG, rec, "client_ip", ig_buf_iov(&ct), &pt), IG_OK);
    memset(rec, 'r', sizeof rec);
    rec[192 - 14 - 32 - 1 - 1 - 9] = '\0';
    ct.len = 0;
    CHECK_EQ_INT(ig_field_seal(dk, OK_ORG, rec, "client_ip", ig_iov_str("x"), &ct), IG_EINVAL);
    CHECK_EQ_INT(ig_field_open(dk, OK_ORG, rec, "client_ip", ig_iov_str("x"), &pt), IG_EINVAL);
    CHECK_EQ_INT((int)ct.len, 0);

    /* tag = the first 16 bytes of HMAC-SHA256(tk, field NUL value), short values and long ones alike */
    static char value[2000];
    memset(value, 'v', sizeof value);
    size_t lens[] = {0, 1, 255, 502, 503, 504, 1999};
    for (size_t i = 0; i < IG_ARRAY_LEN(lens); i++) {
        char msg[2100];
        memcpy(msg, "session_id", 11);
        memcpy(msg + 11, value, lens[i]);
        CHECK_EQ_INT(ig_hmac_sha256(tk, 32, msg, 11 + lens[i], mac), IG_OK);
        CHECK_EQ_INT(ig_field_tag(tk, "session_id", ig_iov(value, lens[i]), tag), IG_OK);
        CHECK_MEM(tag, mac, 16);
    }
    ig_buf_free(&ct, false);
    ig_buf_free(&pt, true);
}

int main(void)
{
    RUN(hex_codec);
    RUN(base64_rfc4648);
    RUN(base64_alphabets);
    RUN(base64_rejects);
    RUN(sha256_fips180);
    RUN(hmac_sha256_rfc4231);
    RUN(hkdf_sha256_rfc5869);
    RUN(derive_key);
    RUN(aes256gcm_vectors);
    RUN(aes256gcm_bad_args);
    RUN(ct_equal_random_wipe);
    RUN(seal_round_trip);
    RUN(seal_matches_documented_layout);
    RUN(seal_appends_and_respects_ceiling);
    RUN(seal_large_plaintext);
    RUN(seal_nonces_differ);
    RUN(seal_nonces_count_within_a_thread);
    RUN(seal_nonces_differ_across_threads);
    RUN(seal_nonce_counter_end_draws_a_new_fixed_field);
    RUN(seal_nonce_forked_child_draws_a_new_fixed_field);
    RUN(seal_open_alternating_keys_and_failures);
    RUN(hmac_alternating_keys_and_threads);
    RUN(seal_tampering_fails);
    RUN(orgkey_field_formats_are_stable);
    UNIT_DONE();
}
