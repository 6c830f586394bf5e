/* Unit tests of src/core/json: strict parsing (each rejection rule on its own input), limits, typed getters,
 * the key allow-list and string escaping. Inputs are copied into exact-size heap blocks so that ASan catches
 * any read past in.len. */
#include "unit.h"
#include "core/err.h"
#include "core/json.h"

#include <stdbool.h>

/* Parses n bytes of s (copied to an exact-size block) with `lim`; frees the tree unless out != NULL. */
static int parse_lim(const char *s, size_t n, const ig_json_limits_t *lim, cJSON **out, const char **why)
{
    char *p = malloc(n ? n : 1);
    cJSON *j = NULL;
    const char *w = "unset";
    if (!p) return IG_ENOMEM;
    memcpy(p, s, n);
    int rc = ig_json_parse(ig_iov(p, n), lim, &j, &w);
    free(p);
    if (rc == IG_OK && w != NULL) rc = -1000; /* why must be NULL on success */
    if (rc != IG_OK && j != NULL) rc = -1001; /* out must be NULL on failure */
    if (why) *why = w;
    if (out)
        *out = j;
    else
        cJSON_Delete(j);
    return rc;
}

static int parse_n(const char *s, size_t n, const char **why)
{
    return parse_lim(s, n, NULL, NULL, why);
}

/* string literals may contain NUL bytes: take their size, not strlen */
#define PARSE(lit, why) parse_n((lit), sizeof(lit) - 1, (why))
#define OK(lit)         CHECK_EQ_INT(PARSE(lit, NULL), IG_OK)
#define BAD(lit, reason)                                                                                     \
    do {                                                                                                     \
        const char *_w = NULL;                                                                               \
        CHECK_EQ_INT(PARSE(lit, &_w), IG_EBADJSON);                                                          \
        CHECK_EQ_STR(_w, (reason));                                                                          \
    } while (0)

/* n nested arrays */
static char *nest(int n)
{
    char *s = malloc((size_t)n * 2 + 1);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        s[i] = '[';
        s[n + i] = ']';
    }
    s[2 * n] = 0;
    return s;
}

TEST(valid_nested)
{
    cJSON *j = NULL;
    static const char doc[] = " {\"a\":[1,2,{\"b\":null,\"c\":true}],\"d\":\"x\",\"e\":{},\"f\":[]}\r\n\t";
    CHECK_EQ_INT(parse_lim(doc, sizeof doc - 1, NULL, &j, NULL), IG_OK);
    CHECK(cJSON_IsObject(j));
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "a");
    CHECK(cJSON_IsArray(a));
    CHECK_EQ_INT(cJSON_GetArraySize(a), 3);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 2), "c");
    CHECK(cJSON_IsTrue(c));
    cJSON_Delete(j);
}

TEST(valid_scalars_and_numbers)
{
    OK("0");
    OK("-0");
    OK("1e5");
    OK("1E-5");
    OK("-1.5e+3");
    OK("0.25");
    OK("\"\"");
    OK("true");
    OK("false");
    OK("null");
    OK("{}");
    OK("[]");
    OK(" [ 1 , 2 ] ");
    OK("1e-400"); /* underflows to 0: finite */
    OK("1.79769313486231e308");
    /* longer than the 63 bytes cJSON 1.7.15 used to copy for strtod (CVE-2023-26819, fixed in Debian) */
    OK("[0.000000000000000000000000000000000000000000000000000000000000000000000000000001]");
    OK("[12345678901234567890123456789012345678901234567890123456789012345678901234567890]");
}

TEST(valid_unicode_escapes)
{
    cJSON *j = NULL;
    static const char doc[] = "{\"k\":\"\\u00e9\\u20AC\\ud83d\\ude00\\/\\n\\\"\\\\\"}";
    CHECK_EQ_INT(parse_lim(doc, sizeof doc - 1, NULL, &j, NULL), IG_OK);
    const char *v = NULL;
    size_t len = 0;
    CHECK_EQ_INT(ig_json_get_str(j, "k", &v, &len), IG_OK);
    static const char want[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/\n\"\\";
    CHECK_EQ_INT(len, sizeof want - 1);
    CHECK(v && memcmp(v, want, sizeof want - 1) == 0);
    cJSON_Delete(j);
    OK("\"\\udbff\\udfff\""); /* U+10FFFF */
}

TEST(valid_utf8_multibyte)
{
    OK("\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
    OK("{\"\xc3\xa9t\xc3\xa9\":1}");
    OK("\"\xc2\x80\"");         /* U+0080 */
    OK("\"\xed\x9f\xbf\"");     /* U+D7FF, just below the surrogates */
    OK("\"\xee\x80\x80\"");     /* U+E000, just above */
    OK("\"\xef\xbf\xbf\"");     /* U+FFFF */
    OK("\"\xf0\x90\x80\x80\""); /* U+10000 */
    OK("\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
    OK("\"\x7f\"");             /* DEL needs no escape */
}

TEST(reject_duplicate_keys)
{
    BAD("{\"model\":\"a\",\"model\":\"b\"}", "duplicate key");
    BAD("{\"a\":{\"x\":1,\"x\":2}}", "duplicate key");
    BAD("[{\"a\":1},{\"a\":1,\"b\":2,\"a\":3}]", "duplicate key");
    BAD("{\"a\":1,\"\\u0061\":2}", "duplicate key"); /* compared after unescaping */
    BAD("{\"\":1,\"\":2}", "duplicate key");
    OK("{\"a\":1,\"A\":2,\"ab\":3,\"b\":{\"a\":4}}");
    OK("[{\"a\":1},{\"a\":2}]");
}

/* {"k0":0,...,"k<n-1>":n-1} plus, if dup, a repeat of "k<n/2>" at the end (exercises the sorted path) */
static char *wide_object(int n, bool dup)
{
    ig_buf_t b;
    ig_buf_init(&b, 1 << 20);
    ig_buf_append(&b, "{", 1);
    for (int i = 0; i < n; i++)
        ig_buf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    if (dup) ig_buf_appendf(&b, ",\"k%d\":0", n / 2);
    ig_buf_append(&b, "}", 1);
    char *s = strdup(ig_buf_cstr(&b));
    ig_buf_free(&b, false);
    return s;
}

TEST(reject_duplicate_keys_large)
{
    const char *why = NULL;
    int sizes[] = {31, 32, 33, 100, 1000};
    for (size_t k = 0; k < IG_ARRAY_LEN(sizes); k++) {
        char *ok = wide_object(sizes[k], false), *bad = wide_object(sizes[k], true);
        CHECK(ok && bad);
        if (ok && bad) {
            CHECK_EQ_INT(parse_n(ok, strlen(ok), &why), IG_OK);
            CHECK_EQ_INT(parse_n(bad, strlen(bad), &why), IG_EBADJSON);
            CHECK_EQ_STR(why, "duplicate key");
        }
        free(ok);
        free(bad);
    }
}

TEST(reject_nul)
{
    BAD("\"\\u0000\"", "\\u0000 escape");
    BAD("{\"\\u0000\":1}", "\\u0000 escape");
    BAD("\"a\\u0000b\"", "\\u0000 escape");
    BAD("\"a\0b\"", "NUL byte");
    BAD("[1]\0", "NUL byte");
    BAD("\0", "NUL byte");
}

TEST(reject_surrogates)
{
    BAD("\"\\ud800\"", "unpaired surrogate escape");
    BAD("\"\\udc00\\ud800\"", "unpaired surrogate escape");
    BAD("\"\\udfff\"", "unpaired surrogate escape");
    BAD("\"\\ud800\\u0041\"", "unpaired surrogate escape");
    BAD("\"\\ud800\\ud800\"", "unpaired surrogate escape");
    BAD("\"\\ud800x\\udc00\"", "unpaired surrogate escape");
    BAD("\"\\ud800\\n\"", "unpaired surrogate escape");
    BAD("\"\\ud800\\udcxx\"", "invalid escape");
}

TEST(reject_invalid_utf8)
{
    BAD("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
    BAD("\"\xc1\xbf\"", "invalid UTF-8");         /* overlong */
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* 3-byte overlong */
    BAD("\"\xf0\x80\x80\xaf\"", "invalid UTF-8"); /* 4-byte overlong */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8");     /* U+D800 encoded in UTF-8 */
    BAD("\"\xed\xbf\xbf\"", "invalid UTF-8");     /* U+DFFF encoded in UTF-8 */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* U+110000 */
    BAD("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    BAD("\"\xe2\x82\"", "invalid UTF-8"); /* truncated before the quote */
    BAD("\"\xe2\x82", "invalid UTF-8");   /* truncated by the end of input */
    BAD("\"\x80\"", "invalid UTF-8");     /* lone continuation byte */
    BAD("\"\xff\"", "invalid UTF-8");
    BAD("{\"\xc3\x28\":1}", "invalid UTF-8"); /* in a key */
    BAD("[1,\xff]", "invalid UTF-8");         /* outside any string */
    BAD("\xef\xbb\xbf[]", "syntax error");    /* a BOM: valid UTF-8, but not JSON (cJSON skips it) */
}

TEST(reject_depth)
{
    char *s32 = nest(32), *s33 = nest(33);
    const char *why = NULL;
    CHECK(s32 && s33);
    if (s32 && s33) {
        CHECK_EQ_INT(parse_n(s32, 64, &why), IG_OK);
        CHECK_EQ_INT(parse_n(s33, 66, &why), IG_EBADJSON);
        CHECK_EQ_STR(why, "nesting too deep");
    }
    free(s32);
    free(s33);

    /* objects count too */
    ig_buf_t b;
    ig_buf_init(&b, 4096);
    for (int i = 0; i < 33; i++)
        ig_buf_append(&b, "{\"a\":", 5);
    ig_buf_append(&b, "1", 1);
    for (int i = 0; i < 33; i++)
        ig_buf_append(&b, "}", 1);
    CHECK_EQ_INT(parse_n(b.data, b.len, &why), IG_EBADJSON);
    CHECK_EQ_STR(why, "nesting too deep");
    CHECK_EQ_INT(parse_n(b.data + 5, b.len - 6, &why), IG_OK); /* 32 levels */
    ig_buf_free(&b, false);

    /* brackets inside strings do not count */
    OK("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]");

    ig_json_limits_t lim = {1 << 20, 0};
    CHECK_EQ_INT(parse_lim("1", 1, &lim, NULL, NULL), IG_OK);
    CHECK_EQ_INT(parse_lim("[]", 2, &lim, NULL, &why), IG_EBADJSON);
    /* above cJSON's own nesting limit, our limit or not */
    lim.max_depth = 5000;
    char *deep = nest(1001);
    CHECK(deep);
    if (deep) {
        CHECK_EQ_INT(parse_lim(deep, 2002, &lim, NULL, &why), IG_EBADJSON);
        CHECK_EQ_STR(why, "nesting too deep");
        CHECK_EQ_INT(parse_lim(deep + 1, 2000, &lim, NULL, &why), IG_OK); /* exactly 1000 */
    }
    free(deep);
}

TEST(reject_trailing)
{
    BAD("[1] x", "trailing data after the value");
    BAD("{}x", "trailing data after the value");
    BAD("1 2", "trailing data after the value");
    BAD("\"a\"\"b\"", "trailing data after the value");
    BAD("true false", "trailing data after the value");
    BAD("[1]]", "syntax error");
    OK("[1] \t\r\n");
}

TEST(reject_syntax)
{
    BAD("", "empty input");
    BAD(" ", "syntax error");
    BAD("[1,]", "syntax error");
    BAD("{\"a\":1,}", "syntax error");
    BAD("{\"a\"}", "syntax error");
    BAD("{a:1}", "syntax error");
    BAD("'a'", "syntax error");
    BAD("nul", "syntax error");
    BAD("True", "syntax error");
    BAD("[", "syntax error");
    BAD("[[]", "syntax error");
    BAD("{\"a\":1", "syntax error");
    BAD("{\"a\":1,", "syntax error");
    BAD("[1}", "syntax error");
    BAD("\"abc", "unterminated string");
    BAD("\"abc\\", "unterminated string");
    BAD("\"\\x\"", "invalid escape");
    BAD("\"\\u12g4\"", "invalid escape");
    BAD("\"\\u12\"", "invalid escape");
    BAD("\"a\x01\"", "control character in string");
    BAD("\"a\nb\"", "control character in string");
    BAD("\x01[1]", "control character outside string"); /* cJSON skips any byte <= 0x20 */
    BAD("[1,\x0b 2]", "control character outside string");
    BAD("[1,\f2]", "control character outside string");
    /* numbers cJSON would accept */
    BAD("01", "invalid number");
    BAD("-01", "invalid number");
    BAD("1.", "invalid number");
    BAD("-.5", "invalid number");
    BAD("1.e5", "invalid number");
    BAD("-", "invalid number");
    BAD("1e", "invalid number");
    BAD("1e+", "invalid number");
    BAD("[1-2]", "invalid number");
    BAD("[1e5e5]", "invalid number");
    BAD("+1", "syntax error");
    BAD(".5", "syntax error");
    BAD("NaN", "syntax error");
    BAD("-Infinity", "invalid number");
}

TEST(reject_numbers_not_finite)
{
    BAD("1e999", "number is not finite");
    BAD("-1e999", "number is not finite");
    BAD("{\"a\":[1,1e400]}", "number is not finite");
    /* finite, but cJSON_Print would write it as a literal that reads back as infinity */
    BAD("1.7976931348623157e308", "number out of range");
    BAD("-1.7976931348623155e308", "number out of range");
}

TEST(size_limit)
{
    ig_json_limits_t lim = {10, 32};
    const char *why = NULL;
    CHECK_EQ_INT(parse_lim("[\"abcdef\"]", 10, &lim, NULL, &why), IG_OK);
    CHECK_EQ_INT(parse_lim("[\"abcdefg\"]", 11, &lim, NULL, &why), IG_ETOOBIG);
    CHECK_EQ_INT(parse_lim("[\"abcdefg\"]", 11, &lim, NULL, &why), IG_ETOOBIG); /* even if invalid */

    /* the default: 64 KiB exactly is fine, one more byte is not */
    size_t n = IG_JSON_DEFAULT_MAX_BYTES;
    char *s = malloc(n + 1);
    CHECK(s);
    if (s) {
        s[0] = '"';
        memset(s + 1, 'a', n - 2);
        s[n - 1] = '"';
        CHECK_EQ_INT(parse_n(s, n, &why), IG_OK);
        s[n - 1] = 'a';
        s[n] = '"';
        CHECK_EQ_INT(parse_n(s, n + 1, &why), IG_ETOOBIG);
    }
    free(s);
}

TEST(bad_arguments)
{
    const char *why = NULL;
    ig_json_limits_t lim = {100, -1};
    cJSON *j = NULL;
    CHECK_EQ_INT(ig_json_parse(IG_IOV_LIT("1"), NULL, NULL, &why), IG_EINVAL);
    CHECK_EQ_INT(ig_json_parse(IG_IOV_LIT("1"), &lim, &j, &why), IG_EINVAL);
    CHECK(j == NULL);
    CHECK_EQ_INT(ig_json_parse(IG_IOV_NULL, NULL, &j, &why), IG_EBADJSON);
    CHECK_EQ_INT(ig_json_parse(IG_IOV_LIT("[1]"), NULL, &j, NULL), IG_OK); /* why is optional */
    cJSON_Delete(j);
}

TEST(getters)
{
    static const char doc[] = "{\"s\":\"x\\u00e9\",\"i\":42,\"f\":1.5,\"b\":true,\"nb\":false,\"n\":null,"
                              "\"max\":9007199254740991,\"neg\":-9007199254740991,\"p53\":9007199254740992,"
                              "\"p53p1\":9007199254740993,\"m53\":-9007199254740992,\"e\":1e2,\"one\":1.0,"
                              "\"arr\":[1],\"obj\":{}}";
    cJSON *j = NULL;
    CHECK_EQ_INT(parse_lim(doc, sizeof doc - 1, NULL, &j, NULL), IG_OK);

    const char *s = NULL;
    size_t len = 0;
    CHECK_EQ_INT(ig_json_get_str(j, "s", &s, &len), IG_OK);
    CHECK_EQ_STR(s, "x\xc3\xa9");
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_INT(ig_json_get_str(j, "s", &s, NULL), IG_OK);
    CHECK_EQ_INT(ig_json_get_str(j, "i", &s, &len), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_str(j, "n", &s, &len), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_str(j, "arr", &s, &len), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_str(j, "missing", &s, &len), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_json_get_str(j, "S", &s, &len), IG_ENOTFOUND); /* case-sensitive */

    int64_t v = 7;
    CHECK_EQ_INT(ig_json_get_int(j, "i", &v), IG_OK);
    CHECK_EQ_INT(v, 42);
    CHECK_EQ_INT(ig_json_get_int(j, "max", &v), IG_OK);
    CHECK_EQ_INT(v, 9007199254740991LL);
    CHECK_EQ_INT(ig_json_get_int(j, "neg", &v), IG_OK);
    CHECK_EQ_INT(v, -9007199254740991LL);
    CHECK_EQ_INT(ig_json_get_int(j, "e", &v), IG_OK);
    CHECK_EQ_INT(v, 100);
    CHECK_EQ_INT(ig_json_get_int(j, "one", &v), IG_OK);
    CHECK_EQ_INT(v, 1);
    v = 7;
    CHECK_EQ_INT(ig_json_get_int(j, "f", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "p53", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "p53p1", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "m53", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "s", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "b", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_int(j, "missing", &v), IG_ENOTFOUND);
    CHECK_EQ_INT(v, 7); /* untouched on error */

    bool bv = false;
    CHECK_EQ_INT(ig_json_get_bool(j, "b", &bv), IG_OK);
    CHECK(bv);
    CHECK_EQ_INT(ig_json_get_bool(j, "nb", &bv), IG_OK);
    CHECK(!bv);
    CHECK_EQ_INT(ig_json_get_bool(j, "i", &bv), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_bool(j, "n", &bv), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_bool(j, "missing", &bv), IG_ENOTFOUND);

    /* not an object */
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "arr");
    CHECK_EQ_INT(ig_json_get_int(arr, "0", &v), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_str(NULL, "s", &s, &len), IG_EINVAL);
    CHECK_EQ_INT(ig_json_get_bool(j, NULL, &bv), IG_EINVAL);
    cJSON_Delete(j);
}

TEST(only_keys)
{
    static const char *const allowed[] = {"name", "role", NULL};
    const char *bad = "unset";
    cJSON *j = NULL;

    CHECK_EQ_INT(parse_lim("{\"name\":\"a\",\"role\":\"b\"}", 23, NULL, &j, NULL), IG_OK);
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, &bad), IG_OK);
    CHECK(bad == NULL);
    cJSON_Delete(j);

    CHECK_EQ_INT(parse_lim("{\"name\":\"a\",\"admin\":true}", 25, NULL, &j, NULL), IG_OK);
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, &bad), IG_EINVAL);
    CHECK_EQ_STR(bad, "admin");
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, NULL), IG_EINVAL);
    cJSON_Delete(j);

    CHECK_EQ_INT(parse_lim("{\"Name\":1}", 10, NULL, &j, NULL), IG_OK);
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, &bad), IG_EINVAL); /* case-sensitive */
    CHECK_EQ_STR(bad, "Name");
    cJSON_Delete(j);

    CHECK_EQ_INT(parse_lim("{}", 2, NULL, &j, NULL), IG_OK);
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, &bad), IG_OK);
    cJSON_Delete(j);

    CHECK_EQ_INT(parse_lim("[]", 2, NULL, &j, NULL), IG_OK);
    bad = "unset";
    CHECK_EQ_INT(ig_json_only_keys(j, allowed, &bad), IG_EINVAL);
    CHECK(bad == NULL);
    cJSON_Delete(j);
}

/* ig_json_append_str(s) must produce exactly `want` */
static void check_escape(const char *s, size_t n, const char *want)
{
    ig_buf_t b;
    ig_buf_init(&b, 1024);
    CHECK_EQ_INT(ig_json_append_str(&b, ig_iov(s, n)), IG_OK);
    CHECK_EQ_INT(b.len, strlen(want));
    CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
    ig_buf_free(&b, false);
}
#define ESCAPE(lit, want) check_escape((lit), sizeof(lit) - 1, (want))

TEST(append_str_escaping)
{
    ESCAPE("", "\"\"");
    ESCAPE("plain", "\"plain\"");
    ESCAPE("a\"b\\c", "\"a\\\"b\\\\c\"");
    ESCAPE("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    ESCAPE("\x01\x1f", "\"\\u0001\\u001f\"");
    ESCAPE("a\0b", "\"a\\u0000b\"");
    ESCAPE("\x7f/", "\"\x7f/\"");
    ESCAPE("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* invalid UTF-8: one U+FFFD per offending byte */
    ESCAPE("a\xff", "\"a\\ufffd\"");
    ESCAPE("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    ESCAPE("\xed\xa0\x80x", "\"\\ufffd\\ufffd\\ufffdx\"");
    ESCAPE("\xe2\x82", "\"\\ufffd\\ufffd\"");

    ig_buf_t b;
    ig_buf_init(&b, 64);
    CHECK_EQ_INT(ig_json_append_str(&b, IG_IOV_NULL), IG_OK);
    CHECK_EQ_INT(b.len, 2);
    ig_buf_free(&b, false);
}

TEST(append_str_all_or_nothing)
{
    ig_buf_t b;
    ig_buf_init(&b, 12);
    CHECK_EQ_INT(ig_buf_append(&b, "{\"k\":", 5), IG_OK);
    CHECK_EQ_INT(ig_json_append_str(&b, IG_IOV_LIT("a\nbcdef")), IG_ETOOBIG); /* needs 10 bytes */
    CHECK_EQ_INT(b.len, 5);
    CHECK_EQ_INT(ig_json_append_str(&b, IG_IOV_LIT("a\nb")), IG_OK); /* 6 bytes: 11 in all */
    CHECK_EQ_INT(ig_buf_append(&b, "}", 1), IG_OK);
    CHECK(b.len == 12 && memcmp(b.data, "{\"k\":\"a\\nb\"}", 12) == 0);
    ig_buf_free(&b, false);
}

TEST(append_str_round_trip)
{
    /* every byte value except NUL (which we refuse as \u0000) survives escape + strict parse */
    char in[300];
    size_t n = 0;
    for (int c = 1; c < 0x80; c++)
        in[n++] = (char)c;
    memcpy(in + n, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbf", 9);
    n += 9;
    ig_buf_t b;
    ig_buf_init(&b, 4096);
    CHECK_EQ_INT(ig_json_append_str(&b, ig_iov(in, n)), IG_OK);
    cJSON *j = NULL;
    CHECK_EQ_INT(parse_lim(b.data, b.len, NULL, &j, NULL), IG_OK);
    CHECK(cJSON_IsString(j) && strlen(j->valuestring) == n && memcmp(j->valuestring, in, n) == 0);
    cJSON_Delete(j);
    ig_buf_free(&b, false);
}

TEST(print_round_trip)
{
    static const char doc[] = "{\"a\":[1,-0,0.1,1e300,1.79769313486231e308,5e-324,\"\\u0001\\ud83d\\ude00\"],"
                              "\"\\u00e9\":{\"x\":null,\"y\":[true,false]}}";
    cJSON *j = NULL, *k = NULL;
    CHECK_EQ_INT(parse_lim(doc, sizeof doc - 1, NULL, &j, NULL), IG_OK);
    char *s = cJSON_PrintUnformatted(j);
    CHECK(s);
    if (s) CHECK_EQ_INT(parse_lim(s, strlen(s), NULL, &k, NULL), IG_OK);
    CHECK(cJSON_Compare(j, k, true));
    free(s);
    cJSON_Delete(j);
    cJSON_Delete(k);
}

int main(void)
{
    RUN(valid_nested);
    RUN(valid_scalars_and_numbers);
    RUN(valid_unicode_escapes);
    RUN(valid_utf8_multibyte);
    RUN(reject_duplicate_keys);
    RUN(reject_duplicate_keys_large);
    RUN(reject_nul);
    RUN(reject_surrogates);
    RUN(reject_invalid_utf8);
    RUN(reject_depth);
    RUN(reject_trailing);
    RUN(reject_syntax);
    RUN(reject_numbers_not_finite);
    RUN(size_limit);
    RUN(bad_arguments);
    RUN(getters);
    RUN(only_keys);
    RUN(append_str_escaping);
    RUN(append_str_all_or_nothing);
    RUN(append_str_round_trip);
    RUN(print_round_trip);
    UNIT_DONE();
}
