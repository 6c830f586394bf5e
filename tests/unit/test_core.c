/* Unit tests of src/core: buffers with ceilings, pools, iov helpers, the error table. */
#include "unit.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/pool.h"

TEST(buf_ceiling)
{
    ig_buf_t b;
    ig_buf_init(&b, 10);
    CHECK_EQ_INT(ig_buf_append(&b, "hello", 5), IG_OK);
    CHECK_EQ_INT(ig_buf_append(&b, "world!", 6), IG_ETOOBIG);
    CHECK_EQ_INT(b.len, 5);
    CHECK_EQ_INT(ig_buf_append_trunc(&b, "world!", 6), 5);
    CHECK_EQ_INT(b.len, 10);
    CHECK_EQ_STR(ig_buf_cstr(&b), "helloworld");
    CHECK_EQ_INT(ig_buf_append_trunc(&b, "x", 1), 0);
    ig_buf_free(&b, true);
    CHECK(b.data == NULL);
}

TEST(buf_secret_growth)
{
    ig_buf_t b;
    ig_buf_init_secret(&b, 1 << 16);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(ig_buf_append(&b, "0123456789", 10), IG_OK);
    CHECK_EQ_INT(b.len, 10000);
    CHECK(memcmp(b.data + 9990, "0123456789", 10) == 0);
    ig_buf_free(&b, false);
    CHECK(b.data == NULL);
}

TEST(buf_appendf_large)
{
    ig_buf_t b;
    ig_buf_init(&b, 1 << 20);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(ig_buf_appendf(&b, "%s-%d", big, 42), IG_OK);
    CHECK_EQ_INT(b.len, 2999 + 3);
    ig_buf_free(&b, false);
}

static int cleanup_order[4], cleanup_n;
static void on_cleanup(void *d)
{
    cleanup_order[cleanup_n++] = (int)(intptr_t)d;
}

TEST(pool_alloc_and_cleanup)
{
    ig_pool_t *p = ig_pool_new(1024);
    CHECK(p != NULL);
    char *a = ig_pool_strndup(p, "abcdef", 3);
    CHECK_EQ_STR(a, "abc");
    void *big = ig_pool_alloc(p, 100000);
    CHECK(big != NULL);
    memset(big, 1, 100000);
    for (int i = 0; i < 1000; i++)
        CHECK(ig_pool_alloc(p, 64) != NULL);
    CHECK(((uintptr_t)ig_pool_alloc(p, 3) & 15) == 0);
    cleanup_n = 0;
    ig_pool_cleanup_add(p, on_cleanup, (void *)1);
    ig_pool_cleanup_add(p, on_cleanup, (void *)2);
    ig_pool_reset(p);
    CHECK_EQ_INT(cleanup_n, 2);
    CHECK_EQ_INT(cleanup_order[0], 2);
    CHECK_EQ_INT(cleanup_order[1], 1);
    CHECK(ig_pool_alloc(p, 10) != NULL);
    ig_pool_free(p);
}

TEST(iov_helpers)
{
    CHECK(ig_iov_ieq(IG_IOV_LIT("X-Ingate-Key"), IG_IOV_LIT("x-ingate-KEY")));
    CHECK(!ig_iov_ieq(IG_IOV_LIT("X-Ingate-Key"), IG_IOV_LIT("x-ingate-KE")));
    CHECK(ig_iov_has_iprefix(IG_IOV_LIT("X-INGATE-Provider"), IG_IOV_LIT("x-ingate-")));
    ig_iov_t t = ig_iov_trim(IG_IOV_LIT("  a b \t"));
    CHECK(ig_iov_eq(t, IG_IOV_LIT("a b")));
}

TEST(err_table)
{
    CHECK_EQ_INT(ig_err_status(IG_EBADKEY), 401);
    CHECK_EQ_INT(ig_err_status(IG_ETOOBIG), 413);
    CHECK_EQ_STR(ig_err_code(IG_EBADKEY), "invalid_api_key");
    CHECK_EQ_STR(ig_err_name(IG_ENOTFOUND), "ENOTFOUND");
    CHECK_EQ_INT(ig_err_status(-9999), 500);
}

int main(void)
{
    RUN(buf_ceiling);
    RUN(buf_secret_growth);
    RUN(buf_appendf_large);
    RUN(pool_alloc_and_cleanup);
    RUN(iov_helpers);
    RUN(err_table);
    UNIT_DONE();
}
