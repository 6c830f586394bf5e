/*
 * Unit tests of src/crypto/orgkey: data keys wrap and unwrap only for their own org and KEK; fields open only
 * for their own org, record and column (a body moved to another row or column is refused); tampering is
 * refused; blind-index tags are deterministic per (field, value) and differ across fields, values and orgs.
 */
#include "unit.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "crypto/orgkey.h"

#define ORG_A "a3f5c8e21b7d4096e8c1f2a3b4c5d6e7"
#define ORG_B "0123456789abcdef0123456789abcdef"
#define REC1  "01a2263a-0a14-709e-9c1e-1dc70b6d74ab"
#define REC2  "01a2263a-0a14-709e-9c1e-1dc70b6d74ac"

static void fill(uint8_t *k, uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(seed * 31 + i);
}

TEST(wrap_unwrap)
{
    uint8_t kek[32], kek2[32], dk[32], got[32];
    fill(kek, 1);
    fill(kek2, 2);
    CHECK_EQ_INT(ig_orgkey_generate(dk), IG_OK);
    ig_buf_t w;
    ig_buf_init(&w, 4096);
    CHECK_EQ_INT(ig_orgkey_wrap(kek, 7, ORG_A, dk, &w), IG_OK);
    CHECK_EQ_INT((int)w.len, IG_ORGKEY_LEN + IG_SEAL_OVERHEAD);
    uint32_t kid = 0;
    CHECK_EQ_INT(ig_seal_key_id(ig_buf_iov(&w), &kid), IG_OK);
    CHECK_EQ_INT((int)kid, 7);
    CHECK_EQ_INT(ig_orgkey_unwrap(kek, ORG_A, ig_buf_iov(&w), got), IG_OK);
    CHECK_MEM(got, dk, 32);
    CHECK_EQ_INT(ig_orgkey_unwrap(kek, ORG_B, ig_buf_iov(&w), got), IG_ECRYPTO);  /* another org */
    CHECK_EQ_INT(ig_orgkey_unwrap(kek2, ORG_A, ig_buf_iov(&w), got), IG_ECRYPTO); /* another KEK */
    w.data[w.len - 1] ^= 1;
    CHECK_EQ_INT(ig_orgkey_unwrap(kek, ORG_A, ig_buf_iov(&w), got), IG_ECRYPTO); /* tampered */
    ig_buf_free(&w, true);
}

TEST(fields_bound_to_org_record_and_column)
{
    uint8_t dk[32], dk2[32];
    fill(dk, 3);
    fill(dk2, 4);
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    ig_buf_t ct, pt;
    ig_buf_init(&ct, 1 << 20);
    ig_buf_init(&pt, 1 << 20);
    CHECK_EQ_INT(ig_field_seal(dk, ORG_A, REC1, "req_body", ig_iov_str(body), &ct), IG_OK);
    CHECK_EQ_INT((int)ct.len, (int)strlen(body) + IG_SEAL_OVERHEAD);
    CHECK(memmem(ct.data, ct.len, "hello", 5) == NULL);
    CHECK_EQ_INT(ig_field_open(dk, ORG_A, REC1, "req_body", ig_buf_iov(&ct), &pt), IG_OK);
    CHECK_EQ_INT((int)pt.len, (int)strlen(body));
    CHECK_MEM(pt.data, body, pt.len);
    pt.len = 0;
    CHECK_EQ_INT(ig_field_open(dk, ORG_A, REC2, "req_body", ig_buf_iov(&ct), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_field_open(dk, ORG_A, REC1, "resp_body", ig_buf_iov(&ct), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_field_open(dk, ORG_B, REC1, "req_body", ig_buf_iov(&ct), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_field_open(dk2, ORG_A, REC1, "req_body", ig_buf_iov(&ct), &pt), IG_ECRYPTO);
    CHECK_EQ_INT((int)pt.len, 0);
    /* the same plaintext twice: different ciphertexts (fresh nonces) */
    ig_buf_t ct2;
    ig_buf_init(&ct2, 1 << 20);
    CHECK_EQ_INT(ig_field_seal(dk, ORG_A, REC1, "req_body", ig_iov_str(body), &ct2), IG_OK);
    CHECK(ct.len == ct2.len && memcmp(ct.data, ct2.data, ct.len) != 0);
    /* an empty value seals and opens to empty */
    ct2.len = 0;
    CHECK_EQ_INT(ig_field_seal(dk, ORG_A, REC1, "user_id", ig_iov("", 0), &ct2), IG_OK);
    CHECK_EQ_INT(ig_field_open(dk, ORG_A, REC1, "user_id", ig_buf_iov(&ct2), &pt), IG_OK);
    CHECK_EQ_INT((int)pt.len, 0);
    ig_buf_free(&ct, true);
    ig_buf_free(&ct2, true);
    ig_buf_free(&pt, true);
}

TEST(blind_index_tags)
{
    uint8_t dk[32], dk2[32], tk[32], tk2[32], a[16], b[16];
    fill(dk, 5);
    fill(dk2, 6);
    CHECK_EQ_INT(ig_field_tag_key(dk, tk), IG_OK);
    CHECK_EQ_INT(ig_field_tag_key(dk2, tk2), IG_OK);
    CHECK(memcmp(tk, dk, 32) != 0);
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("alice"), a), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("alice"), b), IG_OK);
    CHECK_MEM(a, b, 16);
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("alicf"), b), IG_OK);
    CHECK(memcmp(a, b, 16) != 0);
    CHECK_EQ_INT(ig_field_tag(tk, "session_id", ig_iov_str("alice"), b), IG_OK);
    CHECK(memcmp(a, b, 16) != 0);
    CHECK_EQ_INT(ig_field_tag(tk2, "user_id", ig_iov_str("alice"), b), IG_OK);
    CHECK(memcmp(a, b, 16) != 0);
    /* the separator keeps ("user_id", "x") and ("user_idx", "") apart */
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("x"), a), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, "user_idx", ig_iov("", 0), b), IG_OK);
    CHECK(memcmp(a, b, 16) != 0);
}

int main(void)
{
    RUN(wrap_unwrap);
    RUN(fields_bound_to_org_record_and_column);
    RUN(blind_index_tags);
    UNIT_DONE();
}
