/* Unit tests of src/proxy/mask.c: streaming secret masking across every chunk boundary, the minimal
 * hold-back, flush, pass-through and in-place masking. Expected outputs come from a naive reference masker
 * written here (leftmost, non-overlapping occurrences), not from the module itself. */
#include "unit.h"
#include "proxy/mask.h"

#define SECRET "sk-live-0123456789abcdefXYZ"

/* Output sink for ig_mask_feed / ig_mask_flush. */
typedef struct {
    char data[65536];
    size_t len;
    int calls;
    int rc; /* value the callback returns */
} sink_t;

static int sink_out(void *ud, const char *p, size_t len)
{
    sink_t *s = ud;
    s->calls++;
    CHECK(len > 0); /* the masker never emits empty writes */
    if (s->len + len <= sizeof s->data) {
        memcpy(s->data + s->len, p, len);
        s->len += len;
    } else {
        CHECK(!"sink overflow");
    }
    return s->rc;
}

static void sink_reset(sink_t *s)
{
    s->len = 0;
    s->calls = 0;
    s->rc = 0;
}

/* Naive reference: every leftmost non-overlapping occurrence becomes '*'. */
static void ref_mask(const char *in, size_t len, const char *key, size_t klen, char *out)
{
    memcpy(out, in, len);
    if (klen == 0) return;
    size_t i = 0;
    while (i + klen <= len) {
        if (memcmp(out + i, key, klen) == 0) {
            memset(out + i, '*', klen);
            i += klen;
        } else {
            i++;
        }
    }
}

static bool contains(const char *p, size_t len, const char *needle, size_t nlen)
{
    if (nlen == 0 || len < nlen) return false;
    for (size_t i = 0; i + nlen <= len; i++)
        if (memcmp(p + i, needle, nlen) == 0) return true;
    return false;
}

static void masker_init(ig_masker_t *m, const char *secret, size_t len)
{
    memset(m, 0, sizeof *m);
    m->secret = ig_iov(secret, len);
}

/* Feeds `in` cut at the given offsets (sorted, each in [0, len]), then flushes. */
static void feed_cuts(const char *secret, size_t klen, const char *in, size_t len, const size_t *cuts,
                      size_t ncuts, sink_t *s)
{
    ig_masker_t m;
    masker_init(&m, secret, klen);
    sink_reset(s);
    size_t prev = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        CHECK_EQ_INT(ig_mask_feed(&m, in + prev, end - prev, sink_out, s), 0);
        prev = end;
    }
    CHECK_EQ_INT(ig_mask_flush(&m, sink_out, s), 0);
    CHECK_EQ_INT(m.carry_len, 0);
    ig_mask_clear(&m);
}

static const char *const SAMPLES[] = {
    "data: {\"key\":\"" SECRET "\"}\n\n",
    SECRET,
    SECRET SECRET,
    "x" SECRET "y" SECRET "\n\n",
    "sk-live-0123 sk-live-0123456789abcdefXY " SECRET " sk-",
    "error: invalid api key sk-live-0123456789abcdefXYZ provided. sk-live-0123456789abcdefXY",
    "no secret in here at all\n\n",
    "ssssk-live-sk-live-0" SECRET "sk-live-0123456789abcdefXYZZ",
};

TEST(byte_by_byte_every_sample)
{
    static sink_t s;
    const size_t klen = strlen(SECRET);
    for (size_t k = 0; k < IG_ARRAY_LEN(SAMPLES); k++) {
        const char *in = SAMPLES[k];
        size_t len = strlen(in);
        char expect[512];
        ref_mask(in, len, SECRET, klen, expect);
        ig_masker_t m;
        masker_init(&m, SECRET, klen);
        sink_reset(&s);
        for (size_t i = 0; i < len; i++)
            CHECK_EQ_INT(ig_mask_feed(&m, in + i, 1, sink_out, &s), 0);
        CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), 0);
        CHECK_EQ_INT(s.len, len);
        CHECK(s.len == len && memcmp(s.data, expect, len) == 0);
        CHECK(!contains(s.data, s.len, SECRET, klen));
        ig_mask_clear(&m);
    }
}

TEST(every_two_way_split)
{
    static sink_t s;
    const size_t klen = strlen(SECRET);
    for (size_t k = 0; k < IG_ARRAY_LEN(SAMPLES); k++) {
        const char *in = SAMPLES[k];
        size_t len = strlen(in);
        char expect[512];
        ref_mask(in, len, SECRET, klen, expect);
        for (size_t cut = 0; cut <= len; cut++) {
            feed_cuts(SECRET, klen, in, len, &cut, 1, &s);
            CHECK_EQ_INT(s.len, len);
            if (s.len != len || memcmp(s.data, expect, len) != 0) {
                fprintf(stderr, "  sample %zu cut %zu: got '%.*s'\n", k, cut, (int)s.len, s.data);
                CHECK(!"mismatch");
            }
            CHECK(!contains(s.data, s.len, SECRET, klen));
        }
    }
}

TEST(every_three_way_split)
{
    static sink_t s;
    const size_t klen = strlen(SECRET);
    const char *in = SAMPLES[4];
    size_t len = strlen(in);
    char expect[512];
    ref_mask(in, len, SECRET, klen, expect);
    int bad = 0;
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            size_t cuts[2] = {a, b};
            feed_cuts(SECRET, klen, in, len, cuts, 2, &s);
            if (s.len != len || memcmp(s.data, expect, len) != 0) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* The secret straddles the masker's internal 16 KiB work unit within one large feed. */
TEST(large_chunk_internal_boundary)
{
    static char in[40000], expect[40000];
    static sink_t s;
    const size_t klen = strlen(SECRET);
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (char)('a' + i % 7);
    const size_t at[] = {0, 16384 - 5, 16384 * 2 - klen + 1, sizeof in - klen};
    for (size_t i = 0; i < IG_ARRAY_LEN(at); i++)
        memcpy(in + at[i], SECRET, klen);
    ref_mask(in, sizeof in, SECRET, klen, expect);
    size_t cut = 1000;
    feed_cuts(SECRET, klen, in, sizeof in, &cut, 1, &s);
    CHECK_EQ_INT(s.len, sizeof in);
    CHECK(memcmp(s.data, expect, sizeof in) == 0);
    CHECK(!contains(s.data, s.len, SECRET, klen));
    size_t stars = 0;
    for (size_t i = 0; i < s.len; i++)
        stars += s.data[i] == '*';
    CHECK_EQ_INT(stars, 4 * klen);
}

/* Text that cannot begin the secret is emitted at once, nothing held back. */
TEST(no_holdback_when_tail_cannot_start_secret)
{
    static sink_t s;
    const char *const texts[] = {"data: {\"choices\":[]}\n\n", "}", "plain text sk-live-0123 and more\n\n",
                                 "ends with s"};
    for (size_t k = 0; k < IG_ARRAY_LEN(texts); k++) {
        ig_masker_t m;
        masker_init(&m, SECRET, strlen(SECRET));
        sink_reset(&s);
        size_t len = strlen(texts[k]);
        CHECK_EQ_INT(ig_mask_feed(&m, texts[k], len, sink_out, &s), 0);
        bool held = k == 3; /* "s" is the first byte of the secret */
        CHECK_EQ_INT(m.carry_len, held ? 1 : 0);
        CHECK_EQ_INT(s.len, held ? len - 1 : len);
        CHECK(memcmp(s.data, texts[k], s.len) == 0);
        int calls = s.calls;
        CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), 0);
        CHECK_EQ_INT(s.calls, calls + (held ? 1 : 0));
        CHECK_EQ_INT(s.len, len);
        CHECK(memcmp(s.data, texts[k], len) == 0);
    }
}

/* A partial secret at the end is held exactly, flushed unmasked at the end of the stream, and released
 * when the next chunk shows it was not the secret. */
TEST(holdback_and_flush)
{
    static sink_t s;
    ig_masker_t m;
    masker_init(&m, SECRET, strlen(SECRET));
    sink_reset(&s);
    CHECK_EQ_INT(ig_mask_feed(&m, "abc sk-live-01", 14, sink_out, &s), 0);
    CHECK_EQ_INT(s.len, 4);
    CHECK(memcmp(s.data, "abc ", 4) == 0);
    CHECK_EQ_INT(m.carry_len, 10);
    CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), 0);
    CHECK_EQ_INT(s.len, 14);
    CHECK(memcmp(s.data, "abc sk-live-01", 14) == 0);
    CHECK_EQ_INT(m.carry_len, 0);
    /* a second flush emits nothing */
    int calls = s.calls;
    CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), 0);
    CHECK_EQ_INT(s.calls, calls);

    sink_reset(&s);
    CHECK_EQ_INT(ig_mask_feed(&m, "x sk-live", 9, sink_out, &s), 0);
    CHECK_EQ_INT(s.len, 2);
    CHECK_EQ_INT(ig_mask_feed(&m, "-9 done\n\n", 9, sink_out, &s), 0);
    CHECK_EQ_INT(m.carry_len, 0);
    CHECK_EQ_INT(s.len, 18);
    CHECK(memcmp(s.data, "x sk-live-9 done\n\n", 18) == 0);
    ig_mask_clear(&m);
    CHECK_EQ_INT(m.carry_len, 0);
    CHECK(m.secret.len == 0 && m.secret.base == NULL);
}

TEST(adjacent_and_overlapping_occurrences)
{
    static sink_t s;
    /* adjacent: all bytes masked, whatever the chunking */
    const char *in = SECRET SECRET SECRET;
    size_t klen = strlen(SECRET), len = strlen(in);
    for (size_t cut = 0; cut <= len; cut++) {
        feed_cuts(SECRET, klen, in, len, &cut, 1, &s);
        CHECK_EQ_INT(s.len, len);
        bool all = s.len == len;
        for (size_t i = 0; all && i < s.len; i++)
            all = s.data[i] == '*';
        CHECK(all);
    }
    /* self-overlapping secret: no complete occurrence survives, the same output for every chunking, and
     * the first occurrence is fully masked */
    const char *key = "abab";
    const char *ov = "xxabababab-ababa-abab";
    len = strlen(ov);
    char expect[64];
    ref_mask(ov, len, key, 4, expect);
    for (size_t cut = 0; cut <= len; cut++) {
        feed_cuts(key, 4, ov, len, &cut, 1, &s);
        CHECK_EQ_INT(s.len, len);
        CHECK(!contains(s.data, s.len, key, 4));
        CHECK(s.len == len && memcmp(s.data, expect, len) == 0);
        CHECK(memcmp(s.data, "xx****", 6) == 0);
    }
    /* one-byte secret: every byte of it, nothing held */
    ig_masker_t m;
    masker_init(&m, "a", 1);
    sink_reset(&s);
    CHECK_EQ_INT(ig_mask_feed(&m, "banana", 6, sink_out, &s), 0);
    CHECK_EQ_INT(m.carry_len, 0);
    CHECK_EQ_INT(s.len, 6);
    CHECK(memcmp(s.data, "b*n*n*", 6) == 0);
}

TEST(binary_secret_with_nul)
{
    static sink_t s;
    const char key[] = {'k', '\0', 'e', 'y'};
    const char in[] = {'a', 'k', '\0', 'e', 'y', '\0', 'k', '\0', 'e'};
    for (size_t cut = 0; cut <= sizeof in; cut++) {
        feed_cuts(key, sizeof key, in, sizeof in, &cut, 1, &s);
        CHECK_EQ_INT(s.len, sizeof in);
        const char expect[] = {'a', '*', '*', '*', '*', '\0', 'k', '\0', 'e'};
        CHECK(memcmp(s.data, expect, sizeof expect) == 0);
    }
}

TEST(empty_secret_passes_through)
{
    static sink_t s;
    ig_masker_t m;
    masker_init(&m, NULL, 0);
    sink_reset(&s);
    const char *in = "anything " SECRET " goes";
    CHECK_EQ_INT(ig_mask_feed(&m, in, strlen(in), sink_out, &s), 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(m.carry_len, 0);
    CHECK_EQ_INT(s.len, strlen(in));
    CHECK(memcmp(s.data, in, s.len) == 0);
    /* empty feed: no call */
    CHECK_EQ_INT(ig_mask_feed(&m, in, 0, sink_out, &s), 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), 0);
    CHECK_EQ_INT(s.calls, 1);

    /* longer than IG_MASK_MAX_SECRET: documented pass-through */
    static char big[IG_MASK_MAX_SECRET + 1];
    memset(big, 'Q', sizeof big);
    masker_init(&m, big, sizeof big);
    sink_reset(&s);
    CHECK_EQ_INT(ig_mask_feed(&m, big, sizeof big, sink_out, &s), 0);
    CHECK_EQ_INT(s.len, sizeof big);
    CHECK(s.data[0] == 'Q');
}

TEST(max_length_secret_is_masked)
{
    static char key[IG_MASK_MAX_SECRET], in[3 * IG_MASK_MAX_SECRET], expect[3 * IG_MASK_MAX_SECRET];
    static sink_t s;
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (char)('A' + i % 26);
    memset(in, '.', sizeof in);
    memcpy(in + 100, key, sizeof key);
    ref_mask(in, sizeof in, key, sizeof key, expect);
    const size_t cuts[] = {1, 101, 357, 611, 612, sizeof in - 1};
    for (size_t i = 0; i < IG_ARRAY_LEN(cuts); i++) {
        feed_cuts(key, sizeof key, in, sizeof in, &cuts[i], 1, &s);
        CHECK_EQ_INT(s.len, sizeof in);
        CHECK(memcmp(s.data, expect, sizeof in) == 0);
    }
}

TEST(out_error_is_returned)
{
    static sink_t s;
    ig_masker_t m;
    masker_init(&m, SECRET, strlen(SECRET));
    sink_reset(&s);
    s.rc = -7;
    CHECK_EQ_INT(ig_mask_feed(&m, "hello\n", 6, sink_out, &s), -7);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(ig_mask_feed(&m, "sk-", 3, sink_out, &s), 0); /* all held: out not called */
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(ig_mask_flush(&m, sink_out, &s), -7);
    CHECK_EQ_INT(s.calls, 2);
    CHECK_EQ_INT(m.carry_len, 0);
}

TEST(inplace)
{
    char buf[128];
    snprintf(buf, sizeof buf, "Bearer %s, again %s%s.", SECRET, SECRET, SECRET);
    size_t len = strlen(buf);
    char expect[128];
    ref_mask(buf, len, SECRET, strlen(SECRET), expect);
    ig_mask_inplace(buf, len, ig_iov_str(SECRET));
    CHECK(memcmp(buf, expect, len) == 0);
    CHECK_EQ_INT(strlen(buf), len);
    CHECK(memcmp(buf, "Bearer ***", 10) == 0);
    CHECK(buf[len - 1] == '.');

    /* only `len` bytes are touched: an occurrence beyond len stays */
    char two[64];
    snprintf(two, sizeof two, "%s%s", SECRET, SECRET);
    size_t klen = strlen(SECRET);
    ig_mask_inplace(two, klen + 3, ig_iov_str(SECRET));
    CHECK(two[0] == '*' && two[klen - 1] == '*');
    CHECK(memcmp(two + klen, SECRET, klen) == 0);

    /* shorter than the secret, empty secret: untouched */
    char shortb[] = "sk-live";
    ig_mask_inplace(shortb, strlen(shortb), ig_iov_str(SECRET));
    CHECK_EQ_STR(shortb, "sk-live");
    char any[] = "abc";
    ig_mask_inplace(any, 3, IG_IOV_NULL);
    CHECK_EQ_STR(any, "abc");
    /* exact */
    char exact[64];
    snprintf(exact, sizeof exact, "%s", SECRET);
    ig_mask_inplace(exact, strlen(exact), ig_iov_str(SECRET));
    bool all = strlen(exact) == strlen(SECRET);
    for (size_t i = 0; all && exact[i]; i++)
        all = exact[i] == '*';
    CHECK(all);
}

int main(void)
{
    RUN(byte_by_byte_every_sample);
    RUN(every_two_way_split);
    RUN(every_three_way_split);
    RUN(large_chunk_internal_boundary);
    RUN(no_holdback_when_tail_cannot_start_secret);
    RUN(holdback_and_flush);
    RUN(adjacent_and_overlapping_occurrences);
    RUN(binary_secret_with_nul);
    RUN(empty_secret_passes_through);
    RUN(max_length_secret_is_masked);
    RUN(out_error_is_returned);
    RUN(inplace);
    UNIT_DONE();
}
