/* Unit tests of src/redact/redact.c: every default detector (positives and negatives), the three modes on
 * JSON (nested, escaped, keys, numbers, truncated, invalid, NDJSON), SSE and text, the single-field API,
 * custom patterns (limits fail closed within a time bound, compile errors), output ceilings and threads
 * sharing one redactor. Expected outputs are written by hand; card numbers were checked with an
 * independent Luhn implementation. */
#include "unit.h"
#include "redact/redact.h"
#include "core/err.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <time.h>

#define RD IG_REDACT_MARK

static ig_redactor_t *r_all, *r_email, *r_ssn, *r_card, *r_phone;

/* Results live in a small ring of buffers so a test can compare several. */
static ig_buf_t ring[8];
static int ring_at;

static const char *body_n(ig_redactor_t *r, ig_redact_mode_t mode, ig_redact_kind_t kind, const char *in,
                          size_t len, size_t *nm)
{
    ig_buf_t *b = &ring[ring_at++ % 8];
    size_t dummy;
    ig_buf_free(b, false);
    ig_buf_init(b, 64u << 20);
    int rc = ig_redact_body(r, mode, kind, ig_iov(in, len), b, nm ? nm : &dummy);
    CHECK_EQ_INT(rc, IG_OK);
    const char *s = ig_buf_cstr(b);
    return s ? s : "";
}

static const char *body(ig_redactor_t *r, ig_redact_mode_t mode, ig_redact_kind_t kind, const char *in,
                        size_t *nm)
{
    return body_n(r, mode, kind, in, strlen(in), nm);
}

/* Pattern-mode single field. */
static const char *fld(ig_redactor_t *r, const char *in)
{
    ig_buf_t *b = &ring[ring_at++ % 8];
    size_t nm;
    bool dropped;
    ig_buf_free(b, false);
    ig_buf_init(b, 1u << 20);
    int rc = ig_redact_field(r, IG_REDACT_PATTERN, ig_iov_str(in), b, &dropped, &nm);
    CHECK_EQ_INT(rc, IG_OK);
    CHECK(!dropped);
    const char *s = ig_buf_cstr(b);
    return s ? s : "";
}

static bool valid_json(const char *s)
{
    cJSON *j = cJSON_ParseWithLength(s, strlen(s));
    cJSON_Delete(j);
    return j != NULL;
}

static ig_redactor_t *mk(unsigned defaults, const char *const *pats, size_t n)
{
    ig_redactor_t *r = NULL;
    char err[256];
    int rc = ig_redactor_new(defaults, pats, n, &r, err, sizeof err);
    CHECK_EQ_INT(rc, IG_OK);
    if (rc) fprintf(stderr, "  redactor: %s\n", err);
    return r;
}

/* Checks that `match` inside a sentence is redacted by `r` and by the full default set. */
static int positives;
static void pos(ig_redactor_t *r, const char *match)
{
    char in[256], want[256];
    snprintf(in, sizeof in, "see %s now", match);
    snprintf(want, sizeof want, "see " RD " now");
    const char *got = fld(r, in);
    if (strcmp(got, want) != 0) fprintf(stderr, "  positive missed: [%s] -> [%s]\n", in, got);
    CHECK_EQ_STR(got, want);
    CHECK_EQ_STR(fld(r_all, in), want);
    /* alone, at both edges of the unit */
    CHECK_EQ_STR(fld(r, match), RD);
    positives++;
}

/* Checks that no default detector touches `s`, alone or in a sentence. */
static int negatives;
static void neg(const char *s)
{
    char in[256];
    snprintf(in, sizeof in, "value %s here", s);
    const char *got = fld(r_all, in);
    if (strcmp(got, in) != 0) fprintf(stderr, "  false positive: [%s] -> [%s]\n", in, got);
    CHECK_EQ_STR(got, in);
    CHECK_EQ_STR(fld(r_all, s), s);
    negatives++;
}

/* ---- detectors ---- */

TEST(email_positive)
{
    positives = 0;
    pos(r_email, "john.doe@example.com");
    pos(r_email, "john.doe+tag@sub.example.co.uk");
    pos(r_email, "a@b.co");
    pos(r_email, "USER@EXAMPLE.COM");
    pos(r_email, "first_last@domain-name.org");
    pos(r_email, "o'brien@irish.ie");
    pos(r_email, "jos\xc3\xa9@example.com"); /* UTF-8 local part */
    pos(r_email, "x@xn--80ak6aa92e.com");
    pos(r_email, "5551234567@txt.att.net");
    pos(r_email, "{u}@x.io");
    CHECK_EQ_STR(fld(r_email, "mailto:jane@corp.com"), "mailto:" RD);
    CHECK_EQ_STR(fld(r_email, "<jane@corp.com>, bob@x.org."), "<" RD ">, " RD ".");
    CHECK_EQ_STR(fld(r_email, "\"jane@corp.com\""), "\"" RD "\"");
    CHECK_EQ_STR(fld(r_email, "jane@corp.com.123"), RD ".123");
    /* the second address's local part is "b.com": the two matches overlap and merge */
    CHECK_EQ_STR(fld(r_email, "a@b.com@c.org"), RD);
}

TEST(email_negative)
{
    negatives = 0;
    neg("@mention");
    neg("john@localhost");
    neg("john@x.c");
    neg("a@1.2.3.4");
    neg("user@");
    neg("@example.com");
    neg("foo @ bar.com");
    neg("a@b..com");
    neg("x@-");
    neg("git:repo@v1.2");
}

TEST(ssn_detector)
{
    positives = negatives = 0;
    pos(r_ssn, "123-45-6789");
    pos(r_ssn, "001-01-0001");
    pos(r_ssn, "665-99-9999");
    pos(r_ssn, "899-12-3456");
    pos(r_ssn, "078-05-1120");
    CHECK_EQ_STR(fld(r_ssn, "SSN:123-45-6789."), "SSN:" RD ".");
    neg("000-12-3456");
    neg("666-12-3456");
    neg("900-12-3456");
    neg("999-99-9999");
    neg("123-00-4567");
    neg("123-45-0000");
    neg("123456789");
    neg("123-45-67890");
    neg("1123-45-6789");
    neg("123-45-6789-1");
    neg("123 45 6789");
    neg("a123-45-6789");
    neg("2024-01-15");
}

TEST(card_positive)
{
    positives = 0;
    pos(r_card, "4111111111111111");        /* Visa 16 */
    pos(r_card, "4012888888881881");        /* Visa 16 */
    pos(r_card, "4000000000006");           /* Visa 13 */
    pos(r_card, "4000000000000000006");     /* Visa 19 */
    pos(r_card, "5555555555554444");        /* Mastercard 55 */
    pos(r_card, "5105105105105100");        /* Mastercard 51 */
    pos(r_card, "2221000000000009");        /* Mastercard 2-series low end */
    pos(r_card, "2720000000000005");        /* Mastercard 2-series high end */
    pos(r_card, "378282246310005");         /* Amex 37 */
    pos(r_card, "371449635398431");         /* Amex 37 */
    pos(r_card, "340000000000009");         /* Amex 34 */
    pos(r_card, "6011111111111117");        /* Discover 6011 */
    pos(r_card, "6011000990139424");        /* Discover 6011 */
    pos(r_card, "6445000000000000");        /* Discover 644-649 */
    pos(r_card, "6500000000000002");        /* Discover 65 */
    pos(r_card, "6221260000000000");        /* Discover 622126 */
    pos(r_card, "6229250000000003");        /* Discover 622925 */
    pos(r_card, "6011000000000000001");     /* Discover 19 */
    pos(r_card, "4111 1111 1111 1111");     /* spaces */
    pos(r_card, "4111-1111-1111-1111");     /* dashes */
    pos(r_card, "4111 1111-1111 1111");     /* mixed */
    pos(r_card, "3782 822463 10005");       /* Amex 4-6-5 */
    pos(r_card, "5555 5555 5555 4444");     /* Mastercard grouped */
    pos(r_card, "6011-1111-1111-1117");     /* Discover grouped */
    pos(r_card, "4000 0000 0000 0000 006"); /* Visa 19 grouped */
    pos(r_card, "4000 0000 0000 6");        /* Visa 13 grouped */
    /* expiry and CVV after a space-grouped card do not hide it */
    CHECK_EQ_STR(fld(r_card, "card 4111 1111 1111 1111 12/25 123"), "card " RD " 12/25 123");
    CHECK_EQ_STR(fld(r_card, "cards:4111111111111111,5555555555554444"), "cards:" RD "," RD);
    CHECK(positives >= 15);
}

TEST(card_negative)
{
    negatives = 0;
    neg("4111111111111112");         /* Luhn */
    neg("5555555555554445");         /* Luhn */
    neg("378282246310006");          /* Luhn */
    neg("6011111111111118");         /* Luhn */
    neg("4111 1111 1111 1112");      /* Luhn, grouped */
    neg("1234000000000006");         /* Luhn-valid, no brand */
    neg("2220000000000000");         /* below the Mastercard 2-series */
    neg("2721000000000004");         /* above the Mastercard 2-series */
    neg("3400000000000000");         /* Amex prefix, 16 digits */
    neg("40000000000002");           /* Visa prefix, 14 digits */
    neg("6000000000000007");         /* 6 but not Discover */
    neg("41111111111111110000");     /* inside a longer run */
    neg("x4111111111111111");        /* glued to a word */
    neg("4111111111111111x");        /* glued to a word */
    neg("0.4111111111111111");       /* decimals */
    neg("1-4111111111111111");       /* joined to another number */
    neg("4111111111111111-2");       /* joined to another number */
    neg("411 1111 1111 1111 1");     /* not a card grouping */
    neg("4111-1111-1111-1111-1234"); /* a longer dashed id */
    neg("1705312345678");            /* ms timestamp */
    neg("1234 5678 9012 3456");      /* no brand */
    neg("tokens 1234 5678 9012");    /* 12 digits */
    CHECK(negatives >= 15);
}

TEST(phone_positive)
{
    positives = 0;
    pos(r_phone, "(555) 123-4567");
    pos(r_phone, "(555)123-4567");
    pos(r_phone, "555-123-4567");
    pos(r_phone, "555.123.4567");
    pos(r_phone, "555 123 4567");
    pos(r_phone, "1-555-123-4567");
    pos(r_phone, "1 555 123 4567");
    pos(r_phone, "1 (555) 123-4567");
    pos(r_phone, "+1 555 123 4567");
    pos(r_phone, "+15551234567");
    pos(r_phone, "+1-555-123-4567");
    pos(r_phone, "+1.555.123.4567");
    pos(r_phone, "+1 (555) 123-4567");
    pos(r_phone, "+44 20 7946 0958");
    pos(r_phone, "+44 (0)20 7946 0958");
    pos(r_phone, "+442079460958");
    pos(r_phone, "+33 1 23 45 67 89");
    pos(r_phone, "+49 30 123456");
    pos(r_phone, "+91 98765 43210");
    pos(r_phone, "+86 138 0013 8000");
    CHECK_EQ_STR(fld(r_phone, "Phones: 555-123-4567 555-987-6543."), "Phones: " RD " " RD ".");
    CHECK_EQ_STR(fld(r_phone, "tel:+1-555-123-4567;ext=9"), "tel:" RD ";ext=9");
    CHECK(positives >= 15);
}

TEST(phone_negative)
{
    negatives = 0;
    neg("2024-01-15");
    neg("01/15/2024");
    neg("ORD-2024-000123");
    neg("1.2.3");
    neg("v10.4.1");
    neg("550e8400-e29b-41d4-a716-446655440000");
    neg("2024-01-15T10:30:00.123456Z");
    neg("5551234567"); /* a bare run is a count or a timestamp */
    neg("15551234567");
    neg("1705312345");      /* unix time */
    neg("192.168.100.254"); /* IPs are not redacted by default */
    neg("10.0.0.1:8080");
    neg("555-123-45678");
    neg("5555-123-4567");
    neg("555-1234-567");
    neg("+05:30");
    neg("1e+10");
    neg("x555-123-4567");
    neg("555-123-4567-89");
    neg("+1234567"); /* fewer than 8 digits */
    neg("+1 555 123");
    neg("12.555.123.4567");
    neg("v1.555.123.4567");
    neg("ISBN 978-3-16-148410-0");
    neg("$1,234,567.89");
    neg("\"prompt_tokens\": 1234, \"completion_tokens\": 567");
    CHECK(negatives >= 15);
}

/* Disabled defaults are off; the mask is respected. */
TEST(defaults_mask)
{
    const char *in = "a@b.com 123-45-6789 4111111111111111 555-123-4567";
    CHECK_EQ_STR(fld(r_email, in), RD " 123-45-6789 4111111111111111 555-123-4567");
    CHECK_EQ_STR(fld(r_ssn, in), "a@b.com " RD " 4111111111111111 555-123-4567");
    CHECK_EQ_STR(fld(r_card, in), "a@b.com 123-45-6789 " RD " 555-123-4567");
    CHECK_EQ_STR(fld(r_phone, in), "a@b.com 123-45-6789 4111111111111111 " RD);
    ig_redactor_t *none = mk(0, NULL, 0);
    CHECK_EQ_STR(fld(none, in), in);
    ig_redactor_free(none);
}

/* ---- JSON ---- */

static const char JDOC[] =
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Email me at jane@corp.com or call "
    "555-123-4567\"},{\"role\":\"assistant\",\"content\":\"ok\",\"meta\":{\"ids\":[4111111111111111, 42, "
    "\"card 5555 5555 5555 4444\"]}}],\"jane@corp.com\":true, \"esc\":\"caf\\u00e9 a\\u0040b.com "
    "\\u00e9t\\u00e9\", \"usage\":{\"prompt_tokens\":1234567890123,\"t\":null,\"f\":false}}";

TEST(json_modes)
{
    size_t nm;
    const char *p = body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, JDOC, &nm);
    CHECK_EQ_STR(p,
                 "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Email me at " RD
                 " or call " RD "\"},{\"role\":\"assistant\",\"content\":\"ok\",\"meta\":{\"ids\":[\"" RD
                 "\", 42, \"card " RD "\"]}}],\"" RD "\":true, \"esc\":\"caf\\u00e9 " RD
                 " \\u00e9t\\u00e9\", \"usage\":{\"prompt_tokens\":1234567890123,\"t\":null,\"f\":false}}");
    CHECK_EQ_INT(nm, 6);
    CHECK(valid_json(p));

    const char *h = body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, JDOC, &nm);
    CHECK_EQ_STR(h, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"" RD
                    "\"},{\"role\":\"assistant\",\"content\":\"ok\",\"meta\":{\"ids\":[\"" RD "\", 42, \"" RD
                    "\"]}}],\"" RD "\":true, \"esc\":\"" RD
                    "\", \"usage\":{\"prompt_tokens\":1234567890123,\"t\":null,\"f\":false}}");
    CHECK_EQ_INT(nm, 6);
    CHECK(valid_json(h));

    const char *d = body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, JDOC, &nm);
    CHECK_EQ_STR(
        d, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":null},{\"role\":"
           "\"assistant\",\"content\":\"ok\",\"meta\":{\"ids\":[null, 42, null]}}],\"" RD
           "\":true, \"esc\":null, \"usage\":{\"prompt_tokens\":1234567890123,\"t\":null,\"f\":false}}");
    CHECK(valid_json(d));
}

TEST(json_unchanged_is_identical)
{
    const char *in = "  {\"a\" : [1, 2.5e3, -0, true, false, null, \"\\u00e9\\n\\\"q\\\"\", {\"k\":\"v\"}],\n"
                     "\"ts\": \"2024-01-15T10:30:00Z\", \"id\": \"550e8400-e29b-41d4-a716-446655440000\", "
                     "\"n\": 1705312345, \"v\": \"v10.4.1\", \"ip\": \"192.168.1.1\"}\n";
    size_t nm = 99;
    for (int m = 0; m < 3; m++) {
        CHECK_EQ_STR(body(r_all, m, IG_REDACT_JSON, in, &nm), in);
        CHECK_EQ_INT(nm, 0);
    }
}

TEST(json_escapes)
{
    /* an email written with JSON escapes is caught; the surrounding escapes stay as written */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "[\"a\\u0040b.com\"]", NULL), "[\"" RD "\"]");
    CHECK_EQ_STR(
        body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "[\"\\ud83d\\ude00 x@y.com \\ud83d\\ude00\"]", NULL),
        "[\"\\ud83d\\ude00 " RD " \\ud83d\\ude00\"]");
    /* \n before a phone is a boundary once decoded (raw it would be the letter n) */
    CHECK_EQ_STR(
        body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"c\":\"line\\n555-123-4567\\tend\"}", NULL),
        "{\"c\":\"line\\n" RD "\\tend\"}");
    /* digits written as escapes */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"c\":\"\\u0034111111111111111\"}", NULL),
                 "{\"c\":\"" RD "\"}");
    /* escaped quote next to a match */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"c\":\"say \\\"j@k.io\\\" ok\"}", NULL),
                 "{\"c\":\"say \\\"" RD "\\\" ok\"}");
    /* cJSON accepts \u with non-hex digits (as U+0000): still JSON, and a match next to it takes the whole
     * escape, never leaving a dangling backslash */
    const char *u = "[\"\\u004}a@b.com\"]";
    CHECK(valid_json(u));
    const char *uo = body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, u, NULL);
    CHECK_EQ_STR(uo, "[\"" RD "\"]");
    CHECK(valid_json(uo));
    /* the escaped email in a key */
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, "{\"j\\u0040k.io\":1}", NULL), "{\"" RD "\":1}");
}

TEST(json_truncated_and_invalid)
{
    size_t nm;
    /* cut short by the capture ceiling: still JSON-aware up to the end */
    CHECK_EQ_STR(
        body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"a\":\"x@y.com\",\"b\":\"mail z@w.org", &nm),
        "{\"a\":\"" RD "\",\"b\":\"mail " RD);
    CHECK_EQ_INT(nm, 2);
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, "[\"x@y.com\", 4111111111111111, tr", NULL),
                 "[null, null, tr");
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, "{\"a\":\"q\\u00", NULL), "{\"a\":\"q\\u00");
    /* not JSON: redacted as text lines */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"a\": x@y.com}", &nm), "{\"a\": " RD "}");
    CHECK_EQ_INT(nm, 1);
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, "{\"a\": x@y.com}\nok\n", NULL), RD "\nok\n");
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, "{\"a\": x@y.com}\nok\n", NULL), "\nok\n");
    /* text fallback still sees through JSON escapes */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"a\": \"p\\u0040q.com\", bad}", NULL),
                 "{\"a\": \"" RD "\", bad}");
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, "[555 123 4567]", NULL), "[" RD "]");
    /* NDJSON: values separated by newlines */
    const char *nd = "{\"a\":\"x@y.com\"}\n{\"b\":4111111111111111}\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, nd, NULL),
                 "{\"a\":\"" RD "\"}\n{\"b\":\"" RD "\"}\n");
    /* scalars at the top level */
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, "\"x@y.com\"", NULL), "null");
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, " 4111111111111111 ", NULL), " \"" RD "\" ");
    /* invalid UTF-8 and raw control bytes inside strings are kept, not fatal */
    const char bad[] = "{\"a\":\"\xff\xfe x@y.com \x01\"}";
    CHECK_EQ_STR(body_n(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, bad, sizeof bad - 1, NULL),
                 "{\"a\":\"\xff\xfe " RD " \x01\"}");
    /* deeper than IG_REDACT_MAX_DEPTH: text */
    static char deep[2 * (IG_REDACT_MAX_DEPTH + 1) + 16];
    size_t k = 0;
    for (int i = 0; i <= IG_REDACT_MAX_DEPTH; i++)
        deep[k++] = '[';
    memcpy(deep + k, "\"a@b.com\"", 9);
    k += 9;
    for (int i = 0; i <= IG_REDACT_MAX_DEPTH; i++)
        deep[k++] = ']';
    deep[k] = 0;
    const char *o = body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, deep, &nm);
    CHECK_EQ_INT(nm, 1);
    CHECK(strstr(o, "\"" RD "\"") != NULL);
}

TEST(json_validity_kept)
{
    const char *docs[] = {
        JDOC,
        "[\"a@b.com\",{\"x@y.org\":[\"555-123-4567\",{\"deep\":{\"k\":\"4111 1111 1111 "
        "1111\"}}]},-4111111111111111]",
        "{\"a\":\"\\\"x@y.com\\\\\",\"b\":[[],{}],\"c\":\"\\u00e9\\ud83d\\ude00 +44 20 7946 0958\"}",
        "\"only a@b.com\"",
        "  \n{\"t\":\"\\/x@y.com\\/\"}  \n",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(docs); i++) {
        CHECK(valid_json(docs[i]));
        for (int m = 0; m < 3; m++) {
            size_t nm = 0;
            const char *o = body(r_all, m, IG_REDACT_JSON, docs[i], &nm);
            CHECK(nm > 0);
            CHECK(valid_json(o));
            /* nothing left to find */
            size_t again = 1;
            body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, o, &again);
            CHECK_EQ_INT(again, 0);
        }
    }
}

/* ---- SSE ---- */

TEST(sse_stream)
{
    const char *in = "event: message\r\n"
                     "data: {\"choices\":[{\"delta\":{\"content\":\"reach me at bob@example.org\"}}]}\r\n"
                     "\r\n"
                     ": keepalive 555-123-4567\n"
                     "data: not json 4111 1111 1111 1111\n\n"
                     "id: 7\n"
                     "data: [DONE]\n\n";
    size_t nm;
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, in, &nm),
                 "event: message\r\n"
                 "data: {\"choices\":[{\"delta\":{\"content\":\"reach me at " RD "\"}}]}\r\n"
                 "\r\n"
                 ": keepalive " RD "\n"
                 "data: not json " RD "\n\n"
                 "id: 7\n"
                 "data: [DONE]\n\n");
    CHECK_EQ_INT(nm, 3);
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_SSE, in, NULL),
                 "event: message\r\n"
                 "data: {\"choices\":[{\"delta\":{\"content\":\"" RD "\"}}]}\r\n"
                 "\r\n"
                 ":" RD "\n"
                 "data: " RD "\n\n"
                 "id: 7\n"
                 "data: [DONE]\n\n");
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_SSE, in, NULL),
                 "event: message\r\n"
                 "data: {\"choices\":[{\"delta\":{\"content\":null}}]}\r\n"
                 "\r\n"
                 ":\n"
                 "data: \n\n"
                 "id: 7\n"
                 "data: [DONE]\n\n");
    /* lone CR line endings, data without the space, a JSON string payload */
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_SSE, "data:\"x@y.com\"\rdata:{\"a\":1}\r", NULL),
                 "data:null\rdata:{\"a\":1}\r");
}

TEST(sse_data_lines_not_merged)
{
    /* a JSON value split across two data lines of one event is two text units, not one document */
    const char *two = "data: {\"a\":\n"
                      "data: \"x@y.com\"}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, two, NULL),
                 "data: {\"a\":\ndata: \"" RD "\"}\n\n");
}

/* ---- streams: text split across events ---- */

typedef enum { SH_CHAT, SH_RESPONSES, SH_ANTHROPIC, SH_OLLAMA, SH_COUNT } shape_t;
static const char *const SHAPE[] = {"openai-chat", "openai-responses", "anthropic", "ollama"};

static ig_redact_kind_t shape_kind(shape_t sh)
{
    return sh == SH_OLLAMA ? IG_REDACT_JSON : IG_REDACT_SSE;
}

/* Appends event k of a stream of `sh` whose text is the JSON token `tok` (a string literal or null). */
static void ev(ig_buf_t *b, shape_t sh, int k, const char *tok)
{
    int rc = IG_OK;
    switch (sh) {
    case SH_CHAT:
        rc = ig_buf_appendf(
            b,
            "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":"
            "1705312345,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},"
            "\"finish_reason\":null}]}\n\n",
            tok);
        break;
    case SH_RESPONSES:
        rc = ig_buf_appendf(
            b,
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
            "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":%s,"
            "\"sequence_number\":%d}\n\n",
            tok, k + 4);
        break;
    case SH_ANTHROPIC:
        rc = ig_buf_appendf(b,
                            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                            "\"delta\":{\"type\":\"text_delta\",\"text\":%s}}\n\n",
                            tok);
        break;
    default:
        rc = ig_buf_appendf(b,
                            "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-15T10:30:%02dZ\",\"message\":{"
                            "\"role\":\"assistant\",\"content\":%s},\"done\":false}\n",
                            k % 60, tok);
        break;
    }
    CHECK_EQ_INT(rc, IG_OK);
}

/* A whole stream of `sh` with the text tokens toks[0..n), with the events each provider sends around them. */
static void stream_of(ig_buf_t *b, shape_t sh, const char *const *toks, size_t n)
{
    static const char *const head[] = {
        "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1705312345,\"model\":"
        "\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
        "\"finish_reason\":null}]}\n\n",
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\","
        "\"status\":\"in_progress\",\"output\":[]},\"sequence_number\":0}\n\n",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"role\":"
        "\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
        "{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "",
    };
    static const char *const tail[] = {
        "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1705312345,\"model\":"
        "\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n\n"
        "data: [DONE]\n\n",
        "event: response.output_text.done\ndata: "
        "{\"type\":\"response.output_text.done\",\"item_id\":\"msg_1\","
        "\"output_index\":0,\"content_index\":0,\"text\":\"\",\"sequence_number\":99}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-15T10:31:00Z\",\"message\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"done\":true,\"total_duration\":4883583458,\"eval_count\":282}\n",
    };
    CHECK_EQ_INT(ig_buf_append(b, head[sh], strlen(head[sh])), IG_OK);
    for (size_t k = 0; k < n; k++)
        ev(b, sh, (int)k, toks[k]);
    CHECK_EQ_INT(ig_buf_append(b, tail[sh], strlen(tail[sh])), IG_OK);
}

/* Every data line (SSE) or line (NDJSON) of s that starts with '{' is valid JSON. */
static bool events_valid(const char *s)
{
    while (*s) {
        const char *nl = strchr(s, '\n'), *v = s;
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len > 6 && memcmp(s, "data: ", 6) == 0) v = s + 6;
        if (*v == '{') {
            cJSON *j = cJSON_ParseWithLength(v, len - (size_t)(v - s));
            if (!j) return false;
            cJSON_Delete(j);
        }
        s += len + (nl != NULL);
    }
    return true;
}

static size_t redact_again(const char *s, ig_redact_kind_t kind)
{
    size_t nm = 99;
    body(r_all, IG_REDACT_PATTERN, kind, s, &nm);
    return nm;
}

/*
 * `text` holds one PII value at [vs, ve). It is cut into events at cuts[0..ncut) (increasing), streamed
 * in shape sh, and redacted in `mode`; the result must be the stream of the expected tokens: pattern mode
 * removes the value's bytes from every event and puts the mark in the event where it starts, hash mode
 * turns every event it overlaps into "[REDACTED]", drop mode into null. Returns false on a mismatch.
 */
static bool split_case(shape_t sh, ig_redact_mode_t mode, const char *text, size_t vs, size_t ve,
                       const size_t *cuts, size_t ncut)
{
    char tokbuf[8][128], expbuf[8][128];
    const char *toks[8], *exps[8];
    size_t n = ncut + 1, len = strlen(text);
    for (size_t k = 0; k < n; k++) {
        size_t a = k ? cuts[k - 1] : 0, b = k < ncut ? cuts[k] : len;
        snprintf(tokbuf[k], sizeof tokbuf[k], "\"%.*s\"", (int)(b - a), text + a);
        toks[k] = tokbuf[k];
        bool hit = a < ve && vs < b && a < b;
        if (!hit)
            snprintf(expbuf[k], sizeof expbuf[k], "%s", tokbuf[k]);
        else if (mode == IG_REDACT_HASH)
            snprintf(expbuf[k], sizeof expbuf[k], "\"" RD "\"");
        else if (mode == IG_REDACT_DROP)
            snprintf(expbuf[k], sizeof expbuf[k], "null");
        else
            snprintf(expbuf[k], sizeof expbuf[k], "\"%.*s%s%.*s\"", (int)(IG_MAX(a, vs) - a), text + a,
                     vs >= a && vs < b ? RD : "", (int)(b - IG_MIN(b, ve)), text + IG_MIN(b, ve));
        exps[k] = expbuf[k];
    }
    ig_buf_t in, want;
    ig_buf_init(&in, 1u << 20);
    ig_buf_init(&want, 1u << 20);
    stream_of(&in, sh, toks, n);
    stream_of(&want, sh, exps, n);
    size_t nm = 0;
    const char *got = body_n(r_all, mode, shape_kind(sh), in.data, in.len, &nm);
    bool ok = strcmp(got, ig_buf_cstr(&want)) == 0 && nm >= 1 && events_valid(got) &&
              redact_again(got, shape_kind(sh)) == 0;
    if (!ok) {
        fprintf(stderr, "  split %s mode %d cuts", SHAPE[sh], mode);
        for (size_t k = 0; k < ncut; k++)
            fprintf(stderr, " %zu", cuts[k]);
        fprintf(stderr, " nm %zu\n  in:   %s\n  got:  %s\n  want: %s\n", nm, ig_buf_cstr(&in), got,
                ig_buf_cstr(&want));
    }
    ig_buf_free(&in, false);
    ig_buf_free(&want, false);
    return ok;
}

/* Each kind of PII split at every position across 2 and 3 events, in every shape and mode. */
TEST(stream_split_everywhere)
{
    static const char *const values[] = {"john.doe@example.com", "4111 1111 1111 1111", "123-45-6789",
                                         "(555) 123-4567", "+44 20 7946 0958"};
    size_t cases = 0, bad = 0;
    for (size_t v = 0; v < IG_ARRAY_LEN(values); v++) {
        char text[96];
        snprintf(text, sizeof text, "Hi %s bye", values[v]);
        size_t len = strlen(text), vs = 3, ve = 3 + strlen(values[v]);
        for (int sh = 0; sh < SH_COUNT; sh++) {
            for (int m = 0; m < 3; m++) {
                size_t bad0 = bad;
                for (size_t i = 1; i < len && bad == bad0; i++) {
                    size_t cuts[2] = {i, 0};
                    cases++;
                    bad += !split_case((shape_t)sh, (ig_redact_mode_t)m, text, vs, ve, cuts, 1);
                    for (size_t j = i + 1; j < len && bad == bad0; j++) {
                        cuts[1] = j;
                        cases++;
                        bad += !split_case((shape_t)sh, (ig_redact_mode_t)m, text, vs, ve, cuts, 2);
                    }
                }
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    fprintf(stderr, "  # %zu split streams checked\n", cases);
}

/* The smallest pieces: one byte per event. */
TEST(stream_one_byte_events)
{
    const char *text = "mail a.b@corp.io or 4111-1111-1111-1111 now";
    size_t cuts[64], n = 0, len = strlen(text);
    for (size_t i = 1; i < len; i++)
        cuts[n++] = i;
    char tok[64][8];
    const char *toks[64];
    for (size_t k = 0; k < len; k++) {
        snprintf(tok[k], sizeof tok[k], "\"%c\"", text[k]);
        toks[k] = tok[k];
    }
    for (int sh = 0; sh < SH_COUNT; sh++) {
        ig_buf_t in;
        ig_buf_init(&in, 1u << 20);
        stream_of(&in, (shape_t)sh, toks, len);
        size_t nm;
        const char *o = body_n(r_all, IG_REDACT_PATTERN, shape_kind((shape_t)sh), in.data, in.len, &nm);
        CHECK_EQ_INT(nm, 2);
        CHECK(events_valid(o));
        CHECK_EQ_INT(redact_again(o, shape_kind((shape_t)sh)), 0);
        /* "m","a","i","l"," " stay; the mark is in the event of "a" of a.b@, the next 11 events are "" */
        CHECK(strstr(o, "\"" RD "\"") != NULL && strstr(o, "\"@\"") == NULL && strstr(o, "\"4\"") == NULL);
        const char *h = body_n(r_all, IG_REDACT_HASH, shape_kind((shape_t)sh), in.data, in.len, &nm);
        /* 11 + 19 events turn into the mark */
        size_t marks = 0;
        for (const char *q = h; (q = strstr(q, "\"" RD "\"")) != NULL; q++)
            marks++;
        CHECK_EQ_INT(marks, 30);
        ig_buf_free(&in, false);
    }
    (void)cuts;
    (void)n;
}

/* Two choices interleaved, an email split in each: each choice is joined only with itself. */
TEST(stream_choices_and_blocks_apart)
{
    const char *chat = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mail john@exa\"}}]}\n\n"
                       "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"mple.com\"}}]}\n\n"
                       "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}\n\n"
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ple.org\"}}]}\n\n";
    size_t nm;
    /* choice 0 reads "mail john@example.org", choice 1 "mple.comx": one match */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, chat, &nm),
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mail " RD "\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"mple.com\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"}}]}\n\n");
    CHECK_EQ_INT(nm, 1);
    /* split between choices only: nothing to find */
    const char *apart[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"john@exa\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"mple.com\"}}]}\n\n",
        /* Anthropic content blocks 0 and 1 */
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"call 555-123\"}}\n\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":"
        "\"-4567\"}}\n\n",
        /* Responses: two output items, then two content parts of one item */
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":"
        "\"123-45\"}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":1,\"content_index\":0,\"delta\":"
        "\"-6789\"}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":2,\"content_index\":0,\"delta\":"
        "\"123-45\"}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"output_index\":2,\"content_index\":1,\"delta\":"
        "\"-6789\"}\n\n",
        /* content and reasoning of one choice are different texts */
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"john@exa\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.com\"}}]}\n\n",
        /* non-text fields are never joined: ids, roles, models, finish reasons, tool names */
        "data: {\"id\":\"john@exa\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"x@y\"},\"finish_reason\":"
        "\"123-45\"}]}\n\n"
        "data: "
        "{\"id\":\"mple.com\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\".com\"},\"finish_reason\":"
        "\"-6789\"}]}\n\n",
        "data: "
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"name\":"
        "\"john@exa\"}}\n\n"
        "data: "
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"name\":"
        "\"mple.com\"}}\n\n",
        /* a text field that is not one of a stream: Responses' final "text", a request's messages */
        "{\"messages\":[{\"role\":\"user\",\"content\":\"john@exa\"},{\"role\":\"user\",\"content\":"
        "\"mple.com\"}]}\n",
        /* Ollama chat and generate texts are different streams */
        "{\"message\":{\"content\":\"john@exa\"}}\n{\"response\":\"mple.com\"}\n",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(apart); i++) {
        for (int m = 0; m < 3; m++) {
            ig_redact_kind_t kind = apart[i][0] == '{' ? IG_REDACT_JSON : IG_REDACT_SSE;
            CHECK_EQ_STR(body(r_all, m, kind, apart[i], &nm), apart[i]);
            CHECK_EQ_INT(nm, 0);
        }
    }
}

/* PII wholly inside one event, in the text and in other fields, is still found, next to a split one. */
TEST(stream_inside_one_event)
{
    const char *in =
        "data: {\"id\":\"a@b.com\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x@y.com and "
        "555-1\"}}]}\n\n"
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"23-4567; "
        "4111111111111111\"}}]}\n\n";
    size_t nm;
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, in, &nm),
                 "data: {\"id\":\"" RD "\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" RD " and " RD
                 "\"}}]}\n\n"
                 "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"; " RD "\"}}]}\n\n");
    CHECK_EQ_INT(nm, 4);
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_SSE, in, &nm),
                 "data: {\"id\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}\n\n"
                 "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}\n\n");
    /* one event only, as before */
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, "{\"response\":\"mail j@k.io\"}\n", &nm),
                 "{\"response\":\"" RD "\"}\n");
    CHECK_EQ_INT(nm, 1);
    /* a match at an event's edge is found as the per-event pass finds it (the event's end is a boundary),
     * even where the joined text reads on: 555-123-4567-89 is no phone, 555-123-4567 alone is */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON,
                      "{\"response\":\"555-123-4567\"}\n{\"response\":\"-89\"}\n", &nm),
                 "{\"response\":\"" RD "\"}\n{\"response\":\"-89\"}\n");
}

/* Fragments with JSON escapes: decoded before joining; escapes outside a match stay as written. */
TEST(stream_escapes)
{
    size_t nm;
    const char *in =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\\u00e9 john\\u0040exa\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.com \\\"ok\\\"\"}}]}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, in, &nm),
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"caf\\u00e9 " RD "\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \\\"ok\\\"\"}}]}\n\n");
    CHECK_EQ_INT(nm, 1);
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_SSE, in, NULL),
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" RD "\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" RD "\"}}]}\n\n");
    /* the escape itself on the cut, digits as escapes, \n as a boundary */
    const char *esc = "{\"response\":\"j\\u0040\"}\n{\"response\":\"k.io\\n\\u0035\\u00355-1\"}\n"
                      "{\"response\":\"23-4567\\tx\"}\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, esc, &nm),
                 "{\"response\":\"" RD "\"}\n{\"response\":\"\\n" RD "\"}\n{\"response\":\"\\tx\"}\n");
    CHECK_EQ_INT(nm, 2);
    CHECK(valid_json("[{\"response\":\"j\\u0040\"}]"));
    /* an escaped key and member order do not change what a fragment is */
    const char *keys = "data: {\"choices\":[{\"delta\":{\"cont\\u0065nt\":\"a@exa\"},\"index\":0}]}\n\n"
                       "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.com\"}}]}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_SSE, keys, &nm),
                 "data: {\"choices\":[{\"delta\":{\"cont\\u0065nt\":null},\"index\":0}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}\n\n");
}

/* Things that look like PII only when pieces are joined wrongly, or not at all: nothing changes. */
TEST(stream_negatives)
{
    const char *pieces[][3] = {
        {"due 2024-", "01-15 at ", "10:30"},
        {"version v10.", "4.1 of ", "the lib"},
        {"order ORD-2024-", "000123", " ok"},
        {"took 1705", "312345", " ms"},
        {"ip 192.168.", "100.254", ""},
        {"id 550e8400-e29b-41d4", "-a716-446655440000", ""},
        {"tokens 1234 ", "5678 9012", " used"},
        {"user", "@", "mention"},
        {"a@b", ".c", " is short"},
        {"card 4111 1111 1111 ", "1112", " (bad Luhn)"},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(pieces); i++) {
        for (int sh = 0; sh < SH_COUNT; sh++) {
            char tok[3][64];
            const char *toks[3];
            for (int k = 0; k < 3; k++) {
                snprintf(tok[k], sizeof tok[k], "\"%s\"", pieces[i][k]);
                toks[k] = tok[k];
            }
            ig_buf_t in;
            ig_buf_init(&in, 1u << 20);
            stream_of(&in, (shape_t)sh, toks, 3);
            for (int m = 0; m < 3; m++) {
                size_t nm = 9;
                const char *o = body_n(r_all, m, shape_kind((shape_t)sh), in.data, in.len, &nm);
                CHECK(strcmp(o, ig_buf_cstr(&in)) == 0);
                CHECK_EQ_INT(nm, 0);
            }
            ig_buf_free(&in, false);
        }
    }
}

/* Tool-call arguments, Anthropic tool input and thinking, completions text, Ollama generate. */
TEST(stream_other_texts)
{
    size_t nm;
    const char *tools =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
        "\"function\":{\"name\":\"send\",\"arguments\":\"{\\\"to\\\":\\\"bob@ex\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
        "\"function\":{\"arguments\":\"{\\\"n\\\":\\\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"ample.com\\\"}\"}}]}}]}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, tools, &nm),
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
                 "\"function\":{\"name\":\"send\",\"arguments\":\"{\\\"to\\\":\\\"" RD "\"}}]}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,"
                 "\"function\":{\"arguments\":\"{\\\"n\\\":\\\"\"}}]}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
                 "\"function\":{\"arguments\":\"\\\"}\"}}]}}]}\n\n");
    CHECK_EQ_INT(nm, 1);
    const char *anth = "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                       "\"input_json_delta\",\"partial_json\":\"{\\\"ssn\\\": \\\"123-4\"}}\n\n"
                       "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                       "\"thinking_delta\",\"thinking\":\"555-123-\"}}\n\n"
                       "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                       "\"input_json_delta\",\"partial_json\":\"5-6789\\\"}\"}}\n\n"
                       "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                       "\"thinking_delta\",\"thinking\":\"4567\"}}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_SSE, anth, &nm),
                 "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                 "\"input_json_delta\",\"partial_json\":null}}\n\n"
                 "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                 "\"thinking_delta\",\"thinking\":null}}\n\n"
                 "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                 "\"input_json_delta\",\"partial_json\":null}}\n\n"
                 "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                 "\"thinking_delta\",\"thinking\":null}}\n\n");
    CHECK_EQ_INT(nm, 2);
    const char *compl = "data: {\"choices\":[{\"text\":\"4111 1111 \",\"index\":0}]}\n\n"
                        "data: {\"choices\":[{\"text\":\"1111 1111\",\"index\":0}]}\n\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_SSE, compl, &nm),
                 "data: {\"choices\":[{\"text\":\"" RD "\",\"index\":0}]}\n\n"
                 "data: {\"choices\":[{\"text\":\"" RD "\",\"index\":0}]}\n\n");
    const char *gen = "{\"model\":\"m\",\"response\":\"+1 555 \",\"done\":false}\n"
                      "{\"model\":\"m\",\"response\":\"123 4567\",\"done\":false}\n"
                      "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"context\":[1,2,3]}\n";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, gen, &nm),
                 "{\"model\":\"m\",\"response\":\"" RD "\",\"done\":false}\n"
                 "{\"model\":\"m\",\"response\":\"\",\"done\":false}\n"
                 "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"context\":[1,2,3]}\n");
}

/* A cut-short body, an event that is not JSON, and the stream's last event cut inside its string. */
TEST(stream_truncated)
{
    size_t nm;
    const char *in = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x jo\"}}]}\n\n"
                     "data: not json hn@\n\n"
                     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hn@exam\"}}]}\n\n"
                     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ple.com";
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_SSE, in, &nm),
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x " RD "\"}}]}\n\n"
                 "data: not json hn@\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"}}]}\n\n"
                 "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
    CHECK_EQ_INT(nm, 1);
    CHECK_EQ_STR(
        body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, "{\"response\":\"a@\"}\n{\"response\":\"b.com", &nm),
        "{\"response\":\"" RD "\"}\n{\"response\":\"" RD "\"");
    /* NDJSON with a line that is not JSON: the other lines are still JSON, and still one stream */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON,
                      "{\"response\":\"a@\"}\n{\"response\": x}\n{\"response\":\"b.co\"}\r\nx@y.com\n", &nm),
                 "{\"response\":\"" RD "\"}\n{\"response\": x}\n{\"response\":\"\"}\r\n" RD "\n");
    CHECK_EQ_INT(nm, 2);
}

/*
 * NDJSON that is not JSON as a whole (the fuzz regression fuzz/corpus/redact/ndjson-broken-line-split-card):
 * an event whose string holds a raw newline is one event over two lines, and a bad line elsewhere must not
 * cut it in two. Line by line, its second half was text, so the card split between its answer and the
 * previous event's was kept; and once the bad line was dropped, the output was JSON as a whole and its
 * second reading found the card.
 */
TEST(json_broken_line_split)
{
    static const char ev1[] =
        "{\"model\":\"m\",\"message\":{\"content\":\"card 4111-1111-\"},\"done\":false}\n";
    static const char ev2a[] =
        "{\"model\":\"m\",\"created_at\":\"2024-01-15T1\x01\n0:30:01Z\",\"message\":{\"content\":";
    static const char ev2b[] = "},\"done\":false}\n";
    static const char *const tok1[] = {"\"card " RD "\"", "\"" RD "\"", "null"};
    static const char *const tok2[] = {"\" ok\"", "\"" RD "\"", "null"};
    static const char *const bad[] = {"{\"x\": " RD "}\n", RD "\n", "\n"};
    char in[512], want[512];
    for (int m = 0; m < 3; m++) {
        size_t nm = 0;
        snprintf(in, sizeof in, "%s%s\"1111-1111 ok\"%s{\"x\": +1 (555) 123-4567}\n", ev1, ev2a, ev2b);
        snprintf(want, sizeof want, "{\"model\":\"m\",\"message\":{\"content\":%s},\"done\":false}\n%s%s%s%s",
                 tok1[m], ev2a, tok2[m], ev2b, bad[m]);
        const char *o = body(r_all, m, IG_REDACT_JSON, in, &nm);
        CHECK_EQ_STR(o, want);
        CHECK_EQ_INT(nm, 2);
        CHECK_EQ_INT(redact_again(o, IG_REDACT_JSON), 0);
        /* the bad line without PII: nothing is dropped, and the card is found all the same */
        snprintf(in, sizeof in, "%s%s\"1111-1111 ok\"%s{\"x\": garbage}\n", ev1, ev2a, ev2b);
        snprintf(want, sizeof want,
                 "{\"model\":\"m\",\"message\":{\"content\":%s},\"done\":false}\n%s%s%s{\"x\": garbage}\n",
                 tok1[m], ev2a, tok2[m], ev2b);
        CHECK_EQ_STR(body(r_all, m, IG_REDACT_JSON, in, &nm), want);
        CHECK_EQ_INT(nm, 1);
    }
    /* pretty-printed events before a bad line stay events: their strings join the stream */
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON,
                      "{\n  \"response\": \"mail a@\"\n}\n{\n  \"response\": \"b.com\"\n}\njunk\n", NULL),
                 "{\n  \"response\": \"mail " RD "\"\n}\n{\n  \"response\": \"\"\n}\njunk\n");
    /* the dropped line leaves the lines around it one value: the output is read again, as that value, and
     * the card it now shows with the first event is dropped too */
    size_t nm = 0;
    const char *o =
        body(r_all, IG_REDACT_DROP, IG_REDACT_JSON,
             "{\"response\":\"4111-1111-\"}\n{\"x\":1,\n+1 555 123 4567\n\"response\":\"1111-1111\"}\n", &nm);
    CHECK_EQ_STR(o, "{\"response\":null}\n{\"x\":1,\n\n\"response\":null}\n");
    CHECK_EQ_INT(nm, 2);
    CHECK_EQ_INT(redact_again(o, IG_REDACT_JSON), 0);
    /* a pattern that matches its own mark finds it again in the output, but the output stays the same: that
     * ends the readings (the body is not replaced whole) */
    const char *e[] = {"E"};
    ig_redactor_t *r = mk(0, e, 1);
    if (!r) return;
    for (int m = 0; m < 3; m++) {
        CHECK_EQ_STR(body(r, m, IG_REDACT_JSON, "{\"a\": hE}\n{\"b\":\"keep\"}\n", &nm),
                     m == IG_REDACT_DROP ? "\n{\"b\":\"keep\"}\n" : RD "\n{\"b\":\"keep\"}\n");
        CHECK(nm > 0);
    }
    ig_redactor_free(r);
}

/* Custom patterns see the joined text; their limits fail closed for the whole stream. */
TEST(stream_custom_and_limits)
{
    const char *pats[] = {"(?i)acct-\\d{6}", "(a+)+$"};
    ig_redactor_t *r = mk(IG_PII_DEFAULTS, pats, 2);
    if (!r) return;
    const char *in = "{\"response\":\"see ACCT-12\"}\n{\"response\":\"3456 ok\"}\n";
    ig_buf_t b;
    size_t nm;
    ig_buf_init(&b, 1u << 20);
    CHECK_EQ_INT(ig_redact_body(r, IG_REDACT_PATTERN, IG_REDACT_JSON, ig_iov_str(in), &b, &nm), IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), "{\"response\":\"see " RD "\"}\n{\"response\":\" ok\"}\n");
    CHECK_EQ_INT(nm, 1);
    /* 64 KiB of 'a' over 8 events then "!": the joined text blows the match limit: every mode redacts the
     * whole stream, nothing else */
    ig_buf_t big;
    ig_buf_init(&big, 1u << 20);
    for (int k = 0; k < 8; k++) {
        CHECK_EQ_INT(ig_buf_lit(&big, "{\"id\":\"keep\",\"response\":\""), IG_OK);
        for (int i = 0; i < 8192; i++)
            CHECK_EQ_INT(ig_buf_lit(&big, "a"), IG_OK);
        CHECK_EQ_INT(ig_buf_lit(&big, "\"}\n"), IG_OK);
    }
    CHECK_EQ_INT(ig_buf_lit(&big, "{\"id\":\"keep\",\"response\":\"!\"}\n"), IG_OK);
    static const char *const want[] = {"\"" RD "\"", "\"" RD "\"", "null"};
    static const char *const first[] = {"\"" RD "\"", "\"" RD "\"", "null"};
    static const char *const rest[] = {"\"\"", "\"" RD "\"", "null"};
    for (int m = 0; m < 3; m++) {
        ig_buf_reset(&b);
        CHECK_EQ_INT(ig_redact_body(r, m, IG_REDACT_JSON, ig_buf_iov(&big), &b, &nm), IG_OK);
        const char *o = ig_buf_cstr(&b);
        char line[64];
        snprintf(line, sizeof line, "{\"id\":\"keep\",\"response\":%s}\n", first[m]);
        CHECK(strncmp(o, line, strlen(line)) == 0);
        snprintf(line, sizeof line, "{\"id\":\"keep\",\"response\":%s}\n", rest[m]);
        CHECK(strstr(o + 1, line) != NULL);
        CHECK(strstr(o, "aaaa") == NULL);
        CHECK_EQ_INT(nm, 1);
        (void)want;
    }
    ig_buf_free(&big, false);
    ig_redactor_free(r);
    /* a pattern that matches its own mark never settles: the stream is replaced whole */
    const char *e[] = {"E"};
    r = mk(0, e, 1);
    if (r) {
        ig_buf_reset(&b);
        CHECK_EQ_INT(ig_redact_body(r, IG_REDACT_PATTERN, IG_REDACT_JSON,
                                    IG_IOV_LIT("{\"response\":\"hE\"}\n{\"response\":\"llo\"}\n"), &b, &nm),
                     IG_OK);
        CHECK_EQ_STR(ig_buf_cstr(&b), "{\"response\":\"" RD "\"}\n{\"response\":\"\"}\n");
    }
    ig_redactor_free(r);
    ig_buf_free(&b, false);
}

/* The output ceiling applies to the rewritten stream too, and a failure appends nothing. */
TEST(stream_ceiling)
{
    const char *in = "{\"response\":\"a@\"}\n{\"response\":\"b.co\"}\n";
    ig_buf_t b;
    size_t nm = 7;
    ig_buf_init(&b, strlen(in) + 4);
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_HASH, IG_REDACT_JSON, ig_iov_str(in), &b, &nm), IG_ETOOBIG);
    CHECK(b.len == 0 && nm == 0);
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_PATTERN, IG_REDACT_JSON, ig_iov_str(in), &b, &nm), IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), "{\"response\":\"" RD "\"}\n{\"response\":\"\"}\n");
    ig_buf_free(&b, false);
}

/* ---- text ---- */

TEST(text_lines)
{
    const char *in = "hello\r\nmail jane@corp.com today\r\n\nno pii 2024-01-15\nlast 123-45-6789";
    size_t nm;
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_TEXT, in, &nm),
                 "hello\r\nmail " RD " today\r\n\nno pii 2024-01-15\nlast " RD);
    CHECK_EQ_INT(nm, 2);
    CHECK_EQ_STR(body(r_all, IG_REDACT_HASH, IG_REDACT_TEXT, in, NULL),
                 "hello\r\n" RD "\r\n\nno pii 2024-01-15\n" RD);
    CHECK_EQ_STR(body(r_all, IG_REDACT_DROP, IG_REDACT_TEXT, in, NULL), "hello\r\n\r\n\nno pii 2024-01-15\n");
    CHECK_EQ_STR(body(r_all, IG_REDACT_PATTERN, IG_REDACT_TEXT, "", &nm), "");
    CHECK_EQ_INT(nm, 0);
    /* a single line bigger than any scratch that is kept between calls */
    size_t big = 3u << 20;
    char *p = malloc(big + 1);
    CHECK(p != NULL);
    if (!p) return;
    for (size_t i = 0; i < big; i++)
        p[i] = "lorem ipsum 12 dolor\\n"[i % 22];
    memcpy(p + big / 2, " x@y.com ", 9);
    p[big] = 0;
    const char *o = body(r_all, IG_REDACT_PATTERN, IG_REDACT_TEXT, p, &nm);
    CHECK_EQ_INT(nm, 1);
    CHECK_EQ_INT(strlen(o), big - 7 + 10);
    free(p);
}

TEST(kind_of)
{
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("application/json")), IG_REDACT_JSON);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("Application/JSON; charset=utf-8")), IG_REDACT_JSON);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("application/x-ndjson")), IG_REDACT_JSON);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("application/problem+json")), IG_REDACT_JSON);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT(" text/event-stream ;charset=utf-8")), IG_REDACT_SSE);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("text/plain")), IG_REDACT_TEXT);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_LIT("text/plain; note=json")), IG_REDACT_TEXT);
    CHECK_EQ_INT(ig_redact_kind_of(IG_IOV_NULL), IG_REDACT_TEXT);
}

/* ---- single field ---- */

TEST(field_api)
{
    ig_buf_t b;
    bool dropped = true;
    size_t nm = 9;
    ig_buf_init(&b, 1024);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_PATTERN, IG_IOV_LIT("user-42"), &b, &dropped, &nm), IG_OK);
    CHECK(b.len == 7 && memcmp(b.data, "user-42", 7) == 0 && !dropped && nm == 0);
    ig_buf_reset(&b);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_PATTERN, IG_IOV_LIT("id:jane@corp.com"), &b, &dropped, &nm),
                 IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), "id:" RD);
    CHECK(!dropped && nm == 1);
    ig_buf_reset(&b);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_HASH, IG_IOV_LIT("id:jane@corp.com"), &b, &dropped, &nm),
                 IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), RD);
    ig_buf_reset(&b);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_DROP, IG_IOV_LIT("id:jane@corp.com"), &b, &dropped, &nm),
                 IG_OK);
    CHECK(b.len == 0 && dropped && nm == 1);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_DROP, IG_IOV_LIT("id:42"), &b, &dropped, &nm), IG_OK);
    CHECK(b.len == 5 && !dropped && nm == 0);
    /* escaped input is seen through */
    ig_buf_reset(&b);
    CHECK_EQ_INT(ig_redact_field(r_all, IG_REDACT_PATTERN, IG_IOV_LIT("u:j\\u0040k.io"), &b, NULL, &nm),
                 IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), "u:" RD);
    /* bad arguments */
    CHECK_EQ_INT(ig_redact_field(NULL, IG_REDACT_PATTERN, IG_IOV_LIT("x"), &b, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_redact_field(r_all, (ig_redact_mode_t)7, IG_IOV_LIT("x"), &b, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_PATTERN, (ig_redact_kind_t)9, IG_IOV_LIT("x"), &b, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_PATTERN, IG_REDACT_TEXT, ig_iov(NULL, 3), &b, NULL),
                 IG_EINVAL);
    ig_buf_free(&b, false);
}

TEST(output_ceiling)
{
    ig_buf_t b;
    size_t nm = 5;
    ig_buf_init(&b, 16);
    CHECK_EQ_INT(ig_buf_lit(&b, "keep"), IG_OK);
    /* the redacted result (4 + 21 bytes) does not fit: nothing is appended */
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_PATTERN, IG_REDACT_TEXT, IG_IOV_LIT("mail a@b.com and more"),
                                &b, &nm),
                 IG_ETOOBIG);
    CHECK(b.len == 4 && memcmp(b.data, "keep", 4) == 0 && nm == 0);
    CHECK_EQ_INT(ig_redact_body(r_all, IG_REDACT_DROP, IG_REDACT_JSON, IG_IOV_LIT("[\"a@b.com\"]"), &b, &nm),
                 IG_OK);
    CHECK_EQ_STR(ig_buf_cstr(&b), "keep[null]");
    ig_buf_free(&b, false);
}

/* ---- custom patterns ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

TEST(custom_patterns)
{
    const char *pats[] = {"(?i)acct-\\d{6}", "\\bsk-[A-Za-z0-9]{8,}"};
    ig_redactor_t *r = mk(IG_PII_DEFAULTS, pats, 2);
    if (!r) return;
    size_t nm;
    CHECK_EQ_STR(
        body(r, IG_REDACT_PATTERN, IG_REDACT_TEXT, "Acct-123456 and ACCT-654321, key sk-abcdef123", &nm),
        RD " and " RD ", key " RD);
    CHECK_EQ_INT(nm, 3);
    CHECK_EQ_STR(body(r, IG_REDACT_DROP, IG_REDACT_JSON, "{\"k\":\"sk-abcdefgh\",\"n\":\"acct-1\"}", NULL),
                 "{\"k\":null,\"n\":\"acct-1\"}");
    /* custom patterns see decoded JSON strings and invalid UTF-8 never breaks them */
    CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_JSON, "[\"acct\\u002d123456\"]", NULL), "[\"" RD "\"]");
    const char bad[] = "\xff\xfe acct-123456 \xc3";
    CHECK_EQ_STR(body_n(r, IG_REDACT_PATTERN, IG_REDACT_TEXT, bad, sizeof bad - 1, &nm),
                 "\xff\xfe " RD " \xc3");
    CHECK_EQ_INT(nm, 1);
    /* UTF-8 aware: . is one character */
    const char *p2[] = {"n.m"};
    ig_redactor_t *u = mk(0, p2, 1);
    if (u) CHECK_EQ_STR(fld(u, "n\xc3\xa9m nxm"), RD " " RD);
    ig_redactor_free(u);
    ig_redactor_free(r);
}

TEST(custom_rounds)
{
    /* removing a match exposes a neighbour: "Q" glued the phone to a word */
    const char *q[] = {"Q"};
    ig_redactor_t *r = mk(IG_PII_DEFAULTS, q, 1);
    size_t nm;
    if (r) {
        CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_TEXT, "Q555-123-4567", &nm), RD RD);
        CHECK_EQ_INT(nm, 2);
        /* the same inside an escaped JSON string: the final text is re-encoded */
        CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_JSON, "[\"\\u00e9Q555-123-4567\"]", NULL),
                     "[\"\xc3\xa9" RD RD "\"]");
    }
    ig_redactor_free(r);
    /* a pattern that matches its own mark never settles: the unit is replaced whole */
    const char *e[] = {"E"};
    r = mk(0, e, 1);
    if (r) {
        CHECK_EQ_STR(fld(r, "hEllo"), RD);
        CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_JSON, "{\"a\":\"hEllo\"}", NULL),
                     "{\"a\":\"" RD "\"}");
    }
    ig_redactor_free(r);
}

TEST(custom_catastrophic)
{
    const char *pats[] = {"(a+)+$"};
    ig_redactor_t *r = mk(IG_PII_DEFAULTS, pats, 1);
    if (!r) return;
    /* one start position explodes: the match limit fires at once, the unit fails closed */
    size_t n = 64 * 1024;
    char *in = malloc(n + 64);
    CHECK(in != NULL);
    if (!in) goto out;
    memset(in, 'a', n);
    memcpy(in + n, "!\nsafe line\n", 13);
    double t0 = now_s();
    size_t nm;
    CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_TEXT, in, &nm), RD "\nsafe line\n");
    CHECK_EQ_INT(nm, 1);
    CHECK_EQ_STR(body(r, IG_REDACT_HASH, IG_REDACT_TEXT, in, NULL), RD "\nsafe line\n");
    CHECK_EQ_STR(body(r, IG_REDACT_DROP, IG_REDACT_TEXT, in, NULL), "\nsafe line\n");
    CHECK(now_s() - t0 < 2.0);

    /* many start positions, each just under the limit: the call's time budget ends it (~110 ms here) */
    n = 192 * 1024;
    free(in);
    in = malloc(n + 64);
    CHECK(in != NULL);
    if (!in) goto out;
    for (size_t i = 0; i < n; i++)
        in[i] = (i % 16 == 15) ? 'b' : 'a';
    memcpy(in + n, "\nafter the budget\n", 19);
    t0 = now_s();
    CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_TEXT, in, &nm), RD "\n" RD "\n");
    double dt = now_s() - t0;
    CHECK(dt < 1.5);
    fprintf(stderr, "  # budget-bound pathological search: %.0f ms\n", dt * 1e3);
    CHECK_EQ_INT(nm, 2);
    /* as a JSON string: the field, in every mode */
    in[0] = '"';
    memcpy(in + n, "\"", 2);
    CHECK_EQ_STR(body(r, IG_REDACT_DROP, IG_REDACT_JSON, in, NULL), "null");
    CHECK_EQ_STR(body(r, IG_REDACT_PATTERN, IG_REDACT_JSON, in, NULL), "\"" RD "\"");
    /* the budget is per call: the next call is normal again */
    CHECK_EQ_STR(fld(r, "plain text"), "plain text");
    CHECK_EQ_STR(fld(r, "mail a@b.com"), "mail " RD);
out:
    free(in);
    ig_redactor_free(r);
}

TEST(custom_invalid)
{
    ig_redactor_t *r = (ig_redactor_t *)1;
    char err[256];
    const char *bad1[] = {"(abc"};
    CHECK_EQ_INT(ig_redactor_new(IG_PII_DEFAULTS, bad1, 1, &r, err, sizeof err), IG_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(err, "custom pattern 1:") != NULL && strstr(err, "offset") != NULL);
    fprintf(stderr, "  # %s\n", err);
    const char *bad2[] = {"ok\\d", "x{2,1}"};
    CHECK_EQ_INT(ig_redactor_new(IG_PII_DEFAULTS, bad2, 2, &r, err, sizeof err), IG_EINVAL);
    CHECK(strstr(err, "custom pattern 2:") != NULL);
    const char *empty_match[] = {"a*"};
    CHECK_EQ_INT(ig_redactor_new(0, empty_match, 1, &r, err, sizeof err), IG_EINVAL);
    CHECK(strstr(err, "empty string") != NULL);
    const char *empty[] = {""};
    CHECK_EQ_INT(ig_redactor_new(0, empty, 1, &r, err, sizeof err), IG_EINVAL);
    const char *nul[] = {NULL};
    CHECK_EQ_INT(ig_redactor_new(0, nul, 1, &r, err, sizeof err), IG_EINVAL);
    static char longp[IG_REDACT_MAX_PATTERN_BYTES + 2];
    memset(longp, 'a', sizeof longp - 1);
    const char *lp[] = {longp};
    CHECK_EQ_INT(ig_redactor_new(0, lp, 1, &r, err, sizeof err), IG_EINVAL);
    CHECK(strstr(err, "too long") != NULL);
    const char *many[IG_REDACT_MAX_CUSTOM + 1];
    for (size_t i = 0; i < IG_ARRAY_LEN(many); i++)
        many[i] = "x";
    CHECK_EQ_INT(ig_redactor_new(0, many, IG_ARRAY_LEN(many), &r, err, sizeof err), IG_EINVAL);
    CHECK_EQ_INT(ig_redactor_new(0, many, IG_REDACT_MAX_CUSTOM, &r, err, sizeof err), IG_OK);
    ig_redactor_free(r);
    CHECK_EQ_INT(ig_redactor_new(64, NULL, 0, &r, err, sizeof err), IG_EINVAL);
    CHECK_EQ_INT(ig_redactor_new(0, NULL, 0, NULL, NULL, 0), IG_EINVAL);
    /* a backslash-C (splits UTF-8) is refused */
    const char *bsc[] = {"a\\Cb"};
    CHECK_EQ_INT(ig_redactor_new(0, bsc, 1, &r, err, sizeof err), IG_EINVAL);
}

/* ---- threads ---- */

typedef struct {
    ig_redactor_t *r;
    const char *const *in;
    const char *const *want;
    size_t n;
    int bad;
} job_t;

static void *worker(void *arg)
{
    job_t *j = arg;
    ig_buf_t b;
    ig_buf_init(&b, 1u << 20);
    for (int it = 0; it < 300; it++) {
        for (size_t i = 0; i < j->n; i++) {
            size_t nm;
            ig_buf_reset(&b);
            int kind = (int)(i % 3);
            if (ig_redact_body(j->r, (ig_redact_mode_t)((i / 3) % 3), (ig_redact_kind_t)kind,
                               ig_iov_str(j->in[i]), &b, &nm) != IG_OK ||
                b.len != strlen(j->want[i]) || memcmp(b.data, j->want[i], b.len) != 0)
                j->bad++;
        }
    }
    ig_buf_free(&b, false);
    return NULL;
}

TEST(threads_share_redactor)
{
    const char *pats[] = {"(?i)acct-\\d{6}"};
    ig_redactor_t *r = mk(IG_PII_DEFAULTS, pats, 1);
    if (!r) return;
    const char *in[9] = {
        "some text acct-123456 and a@b.com\nline 555-123-4567",
        "data: {\"c\":\"x@y.com\"}\n\ndata: [DONE]\n\n",
        JDOC,
    };
    for (int k = 3; k < 9; k++)
        in[k] = in[k % 3];
    char *want[9];
    for (int i = 0; i < 9; i++) {
        ig_buf_t b;
        size_t nm;
        ig_buf_init(&b, 1u << 20);
        CHECK_EQ_INT(ig_redact_body(r, (ig_redact_mode_t)((i / 3) % 3), (ig_redact_kind_t)(i % 3),
                                    ig_iov_str(in[i]), &b, &nm),
                     IG_OK);
        want[i] = strdup(ig_buf_cstr(&b));
        ig_buf_free(&b, false);
    }
    pthread_t th[4];
    job_t jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t] = (job_t){r, in, (const char *const *)want, 9, 0};
        CHECK_EQ_INT(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(jobs[t].bad, 0);
    }
    for (int i = 0; i < 9; i++)
        free(want[i]);
    ig_redactor_free(r);
}

int main(void)
{
    r_all = mk(IG_PII_DEFAULTS, NULL, 0);
    r_email = mk(IG_PII_EMAIL, NULL, 0);
    r_ssn = mk(IG_PII_SSN, NULL, 0);
    r_card = mk(IG_PII_CARD, NULL, 0);
    r_phone = mk(IG_PII_PHONE, NULL, 0);
    if (!r_all || !r_email || !r_ssn || !r_card || !r_phone) return 1;

    RUN(email_positive);
    RUN(email_negative);
    RUN(ssn_detector);
    RUN(card_positive);
    RUN(card_negative);
    RUN(phone_positive);
    RUN(phone_negative);
    RUN(defaults_mask);
    RUN(json_modes);
    RUN(json_unchanged_is_identical);
    RUN(json_escapes);
    RUN(json_truncated_and_invalid);
    RUN(json_validity_kept);
    RUN(sse_stream);
    RUN(sse_data_lines_not_merged);
    RUN(stream_split_everywhere);
    RUN(stream_one_byte_events);
    RUN(stream_choices_and_blocks_apart);
    RUN(stream_inside_one_event);
    RUN(stream_escapes);
    RUN(stream_negatives);
    RUN(stream_other_texts);
    RUN(stream_truncated);
    RUN(json_broken_line_split);
    RUN(stream_custom_and_limits);
    RUN(stream_ceiling);
    RUN(text_lines);
    RUN(kind_of);
    RUN(field_api);
    RUN(output_ceiling);
    RUN(custom_patterns);
    RUN(custom_rounds);
    RUN(custom_catastrophic);
    RUN(custom_invalid);
    RUN(threads_share_redactor);

    for (int i = 0; i < 8; i++)
        ig_buf_free(&ring[i], false);
    ig_redactor_free(r_all);
    ig_redactor_free(r_email);
    ig_redactor_free(r_ssn);
    ig_redactor_free(r_card);
    ig_redactor_free(r_phone);
    UNIT_DONE();
}
