/* Unit tests of src/capture/pricing.c: the built-in table (identical to data/pricing.json), model matching
 * (exact, dated and tagged variants by longest prefix at a boundary, wildcard, unknown), cost arithmetic in
 * both cache conventions with rounding and overflow, and the validation of operator files, whose messages
 * must name the offending entry. Run from the repository root (make test-unit does). */
#include "unit.h"
#include "capture/pricing.h"
#include "core/err.h"

#include <stdint.h>
#include <unistd.h>

static ig_pricing_t *g_def;

/* Reads a whole file (NULL if it cannot). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    *len = n;
    return buf;
}

TEST(default_table_matches_data_file)
{
    size_t len = 0;
    char *file = slurp("data/pricing.json", &len);
    CHECK(file != NULL);
    if (!file) {
        fprintf(stderr, "  data/pricing.json not found: run from the repository root\n");
        return;
    }
    /* src/capture/pricing_default.c must be regenerated whenever data/pricing.json changes (the command is in
     * src/capture/pricing.c) */
    CHECK_EQ_INT(strlen(ig_pricing_default_json), len);
    CHECK(memcmp(ig_pricing_default_json, file, IG_MIN(len, strlen(ig_pricing_default_json))) == 0);
    free(file);

    /* and loading the file gives the same table */
    ig_pricing_t *p = NULL;
    char err[256] = "";
    CHECK_EQ_INT(ig_pricing_load("data/pricing.json", &p, err, sizeof err), IG_OK);
    if (p) {
        CHECK_EQ_INT(ig_pricing_count(p), ig_pricing_count(g_def));
        CHECK_EQ_STR(ig_pricing_as_of(p), ig_pricing_as_of(g_def));
    }
    ig_pricing_free(p);
}

TEST(default_table)
{
    CHECK(g_def != NULL);
    if (!g_def) return;
    CHECK(ig_pricing_count(g_def) >= 40);
    CHECK_EQ_STR(ig_pricing_as_of(g_def), "2025-08-15");
    /* the models the gateway is expected to know */
    static const char *const openai[] = {
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o1",
        "o1-mini",
        "o3",
        "o3-mini",
        "o4-mini",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "gpt-5",
        "gpt-4-turbo",
        "gpt-4",
        "o1-pro",
        "text-embedding-3-large",
    };
    static const char *const anthropic[] = {
        "claude-3-5-sonnet", "claude-3-5-haiku", "claude-3-opus",   "claude-3-7-sonnet",
        "claude-sonnet-4",   "claude-opus-4",    "claude-opus-4-1", "claude-3-haiku",
    };
    ig_price_t pr;
    for (size_t k = 0; k < IG_ARRAY_LEN(openai); k++) {
        CHECK_EQ_INT(ig_pricing_lookup(g_def, "openai", openai[k], &pr), IG_OK);
        CHECK_EQ_STR(pr.model, openai[k]);
        CHECK(pr.input >= 0 && pr.output >= 0);
    }
    for (size_t k = 0; k < IG_ARRAY_LEN(anthropic); k++) {
        CHECK_EQ_INT(ig_pricing_lookup(g_def, "anthropic", anthropic[k], &pr), IG_OK);
        CHECK_EQ_STR(pr.model, anthropic[k]);
        /* Anthropic prices cache reads (0.1x) and writes (1.25x); Haiku 3's are rounded ($0.03, $0.30) */
        CHECK(pr.cached_input > 0 && pr.cache_write > 0);
        if (strcmp(anthropic[k], "claude-3-haiku") != 0) {
            CHECK_EQ_INT(pr.cached_input * 10, pr.input);
            CHECK_EQ_INT(pr.cache_write * 4, pr.input * 5);
        }
    }
    CHECK_EQ_INT(ig_pricing_lookup(g_def, "openai", "gpt-4o", &pr), IG_OK);
    CHECK_EQ_INT(pr.input, 2500000);
    CHECK_EQ_INT(pr.output, 10000000);
    CHECK_EQ_INT(pr.cached_input, 1250000);
    CHECK_EQ_INT(pr.cache_write, -1);
    CHECK_EQ_INT(ig_pricing_lookup(g_def, "openai", "gpt-4", &pr), IG_OK);
    CHECK_EQ_INT(pr.cached_input, -1); /* not priced apart */
    CHECK_EQ_INT(ig_pricing_lookup(g_def, "openai", "text-embedding-3-small", &pr), IG_OK);
    CHECK_EQ_INT(pr.input, 20000);
    CHECK_EQ_INT(pr.output, 0);
}

/* The entry (provider, model) resolves to, or NULL. */
static const char *match(const char *provider, const char *model)
{
    static ig_price_t pr;
    return ig_pricing_lookup(g_def, provider, model, &pr) == IG_OK ? pr.model : NULL;
}

#define CHECK_MATCH(prov, model, want)                                                                       \
    do {                                                                                                     \
        const char *_m = match(prov, model), *_w = (want);                                                   \
        if (_w)                                                                                              \
            CHECK_EQ_STR(_m, _w);                                                                            \
        else if (_m) {                                                                                       \
            fprintf(stderr, "  %s/%s matched %s\n", prov, model, _m);                                        \
            CHECK(_m == NULL);                                                                               \
        }                                                                                                    \
    } while (0)

TEST(matching)
{
    /* exact */
    CHECK_MATCH("openai", "gpt-4o", "gpt-4o");
    CHECK_MATCH("openai", "gpt-4o-mini", "gpt-4o-mini");
    /* dated variants: the longest prefix ending at a boundary */
    CHECK_MATCH("openai", "gpt-4o-2024-08-06", "gpt-4o");
    CHECK_MATCH("openai", "gpt-4o-2024-11-20", "gpt-4o");
    CHECK_MATCH("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini");
    CHECK_MATCH("openai", "gpt-4o-2024-05-13", "gpt-4o-2024-05-13"); /* priced apart: exact wins */
    CHECK_MATCH("openai", "gpt-4o-realtime-preview-2024-12-17", "gpt-4o-realtime-preview");
    CHECK_MATCH("openai", "gpt-4.1-2025-04-14", "gpt-4.1");
    CHECK_MATCH("openai", "gpt-4.1-mini-2025-04-14", "gpt-4.1-mini");
    CHECK_MATCH("openai", "o3-mini-2025-01-31", "o3-mini");
    CHECK_MATCH("openai", "o1-preview", "o1-preview");
    CHECK_MATCH("openai", "o1-pro-2025-03-19", "o1-pro");
    CHECK_MATCH("openai", "gpt-5-2025-08-07", "gpt-5");
    CHECK_MATCH("openai", "gpt-5-chat-latest", "gpt-5-chat-latest");
    CHECK_MATCH("openai", "gpt-4o-audio-preview-2024-12-17", "gpt-4o-audio-preview");
    CHECK_MATCH("openai", "gpt-3.5-turbo-0125", "gpt-3.5-turbo");
    CHECK_MATCH("openai", "gpt-3.5-turbo-16k-0613", "gpt-3.5-turbo-16k");
    CHECK_MATCH("openai", "gpt-4-0613", "gpt-4");
    CHECK_MATCH("openai", "gpt-4-turbo-2024-04-09", "gpt-4-turbo");
    CHECK_MATCH("anthropic", "claude-3-5-sonnet-20241022", "claude-3-5-sonnet");
    CHECK_MATCH("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet");
    CHECK_MATCH("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku");
    CHECK_MATCH("anthropic", "claude-3-7-sonnet-20250219", "claude-3-7-sonnet");
    CHECK_MATCH("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4");
    CHECK_MATCH("anthropic", "claude-opus-4-20250514", "claude-opus-4");
    CHECK_MATCH("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1");
    CHECK_MATCH("anthropic", "claude-3-haiku-20240307", "claude-3-haiku");
    CHECK_MATCH("anthropic", "claude-sonnet-4@20250514", "claude-sonnet-4"); /* Vertex AI spelling */
    CHECK_MATCH("anthropic", "claude-sonnet-4-0", "claude-sonnet-4");        /* alias */
    CHECK_MATCH("anthropic", "claude-opus-4-0", "claude-opus-4");
    /* no boundary, no match: a different model, not a variant */
    CHECK_MATCH("openai", "gpt-4o1", NULL);
    CHECK_MATCH("openai", "gpt-4.2", NULL); /* '.' is no boundary: not gpt-4 */
    CHECK_MATCH("openai", "gpt-4.5-preview-2025-02-27", "gpt-4.5-preview");
    CHECK_MATCH("openai", "o3x", NULL);
    CHECK_MATCH("openai", "gpt-4o-", NULL);
    CHECK_MATCH("openai", "gpt-4o--2024", NULL);
    /* a longer name is another model, not a variant: no fallback to a (wrong) price */
    CHECK_MATCH("openai", "gpt-4o-transcribe", NULL);
    CHECK_MATCH("openai", "gpt-4o-2024-08-06-custom", NULL);
    CHECK_MATCH("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", NULL); /* fine-tunes cost more */
    CHECK_MATCH("anthropic", "claude-3-5-sonnet-v2@20241022", NULL);
    /* unknown: never priced at 0 by accident */
    CHECK_MATCH("openai", "gpt-9", NULL);
    CHECK_MATCH("openai", "claude-3-5-sonnet-20241022", NULL); /* another provider's model */
    CHECK_MATCH("mistral", "mistral-large-latest", NULL);
    CHECK_MATCH("openai", "-", NULL);
    CHECK_MATCH("openai", "*", NULL); /* no openai wildcard; "*" is not a model */
    CHECK_MATCH("openai", "", NULL);
    CHECK(ig_pricing_lookup(g_def, NULL, "gpt-4o", NULL) == IG_ENOTFOUND);
    CHECK(ig_pricing_lookup(g_def, "openai", NULL, NULL) == IG_ENOTFOUND);
    CHECK(ig_pricing_lookup(NULL, "openai", "gpt-4o", NULL) == IG_ENOTFOUND);
    /* provider wildcard last */
    CHECK_MATCH("ollama", "llama3.2", "*");
    CHECK_MATCH("ollama", "llama3.2:latest", "*");
    CHECK_MATCH("ollama", "*", "*");
    /* provider names compare case-insensitively, model names do not */
    CHECK_MATCH("OpenAI", "gpt-4o", "gpt-4o");
    CHECK_MATCH("openai", "GPT-4o", NULL);
    /* too long to be a name */
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_MATCH("openai", longname, NULL);
    CHECK_MATCH(longname, "gpt-4o", NULL);
    memset(longname, '1', sizeof longname - 1);
    memcpy(longname, "gpt-4o-", 7);
    longname[256] = '\0';
    CHECK_MATCH("openai", longname, "gpt-4o");
}

static int64_t cost(const char *prov, const char *model, ig_usage_t u)
{
    return ig_pricing_cost_micros(g_def, prov, model, &u);
}

TEST(cost_openai_convention)
{
    /* 1000 x 2.5 + 500 x 10 = 7500 micro-USD */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 1000, .output = 500}), 7500);
    /* prompt_tokens includes the 400 cached ones: 600 x 2.5 + 400 x 1.25 + 500 x 10 */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 1000, .output = 500, .cached = 400}), 7000);
    CHECK_EQ_INT(
        cost("openai", "gpt-4o-2024-08-06", (ig_usage_t){.input = 1000, .output = 500, .cached = 400}), 7000);
    /* all cached */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 1000, .cached = 1000}), 1250);
    /* more cached than prompt contradicts the convention */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 10, .cached = 11}), -1);
    /* a model without a cache price: cached tokens cost the input price */
    CHECK_EQ_INT(cost("openai", "gpt-4", (ig_usage_t){.input = 1000, .output = 100, .cached = 500}),
                 1000 * 30 + 100 * 60);
    /* a million tokens each way is the list price */
    CHECK_EQ_INT(cost("openai", "o1", (ig_usage_t){.input = 1000000, .output = 1000000}), 75000000);
    /* a parsed usage: the Responses API's input_tokens includes its cached_tokens */
    ig_usage_t u;
    static const char resp[] =
        "{\"object\":\"response\",\"model\":\"gpt-4.1-2025-04-14\",\"usage\":{\"input_tokens\""
        ":1036,\"input_tokens_details\":{\"cached_tokens\":1024},\"output_tokens\":87}}";
    ig_usage_parse("openai", IG_IOV_NULL, ig_iov(resp, sizeof resp - 1), false, &u);
    /* 12 x 2 + 1024 x 0.5 + 87 x 8 = 24 + 512 + 696 */
    CHECK_EQ_INT(ig_pricing_cost_micros(g_def, "openai", u.model, &u), 1232);
}

TEST(cost_anthropic_convention)
{
    /* input_tokens excludes cache reads and writes: each is priced once, at its own rate
     * 1000 x 3 + 2000 x 0.3 + 500 x 3.75 + 100 x 15 = 3000 + 600 + 1875 + 1500 */
    ig_usage_t u = {.input = 1000, .output = 100, .cached = 2000, .cache_write = 500};
    CHECK_EQ_INT(cost("anthropic", "claude-3-5-sonnet-20241022", u), 6975);
    /* the same counts under the OpenAI convention would contradict it (cached > input) */
    CHECK_EQ_INT(cost("openai", "gpt-4o", u), -1);
    /* the convention the body declared wins over the provider name (a custom Anthropic-compatible
     * provider priced with an operator table would rely on this) */
    u.conv = IG_USAGE_CACHED_INCLUDED;
    u.input = 3500;
    CHECK_EQ_INT(cost("anthropic", "claude-3-5-sonnet", u), 3000 + 600 + 1875 + 1500);

    /* a parsed stream: 25 x 3 + 1800 x 0.3 + 15 x 15 = 75 + 540 + 225 */
    static const char stream[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-"
        "20250514\",\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_"
        "tokens\":"
        "1800,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},"
        "\"usage\":{\"output_tokens\":15}}\n\n";
    ig_usage_parse("anthropic", IG_IOV_NULL, ig_iov(stream, sizeof stream - 1), true, &u);
    CHECK_EQ_INT(ig_pricing_cost_micros(g_def, "anthropic", u.model, &u), 840);
    /* Opus cache write: 1000 x 18.75 */
    CHECK_EQ_INT(cost("anthropic", "claude-opus-4-20250514", (ig_usage_t){.cache_write = 1000}), 18750);
}

TEST(cost_rounding_and_unknowns)
{
    /* gpt-4o-mini input is 0.15 micro-USD a token: rounded to the nearest, half up */
    CHECK_EQ_INT(cost("openai", "gpt-4o-mini", (ig_usage_t){.input = 3}), 0);             /* 0.45 */
    CHECK_EQ_INT(cost("openai", "gpt-4o-mini", (ig_usage_t){.input = 4}), 1);             /* 0.6 */
    CHECK_EQ_INT(cost("openai", "gpt-4o-mini", (ig_usage_t){.input = 10}), 2);            /* 1.5 */
    CHECK_EQ_INT(cost("openai", "text-embedding-3-small", (ig_usage_t){.input = 25}), 1); /* 0.5 */
    CHECK_EQ_INT(cost("openai", "text-embedding-3-small", (ig_usage_t){.input = 24}), 0); /* 0.48 */
    /* rounded once on the sum, not per part: 3 x 0.15 + 1 x 0.6 = 1.05 */
    CHECK_EQ_INT(cost("openai", "gpt-4o-mini", (ig_usage_t){.input = 3, .output = 1}), 1);
    /* zero tokens cost zero; an Ollama model costs zero (known), not unknown */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){0}), 0);
    CHECK_EQ_INT(cost("ollama", "llama3.2:latest", (ig_usage_t){.input = 26, .output = 282}), 0);
    /* unknown tokens or model: -1 */
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = -1, .output = 5}), -1);
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 5, .output = -1}), -1);
    CHECK_EQ_INT(cost("openai", "gpt-4o", (ig_usage_t){.input = 5, .output = 5, .cached = -1}), -1);
    CHECK_EQ_INT(cost("anthropic", "claude-3-opus", (ig_usage_t){.input = 5, .output = 5, .cache_write = -1}),
                 -1);
    CHECK_EQ_INT(cost("openai", "gpt-9", (ig_usage_t){.input = 5, .output = 5}), -1);
    CHECK_EQ_INT(cost("mistral", "mistral-large", (ig_usage_t){.input = 5, .output = 5}), -1);
    CHECK_EQ_INT(cost("openai", NULL, (ig_usage_t){.input = 5, .output = 5}), -1);
    CHECK_EQ_INT(ig_pricing_cost_micros(g_def, "openai", "gpt-4o", NULL), -1);
    ig_usage_t u;
    ig_usage_init(&u);
    CHECK_EQ_INT(cost("openai", "gpt-4o", u), -1);
    /* huge counts: 10^15 tokens x 600 USD/M is 6 x 10^17 micro-USD; beyond INT64_MAX is unknown */
    CHECK_EQ_INT(cost("openai", "o1-pro", (ig_usage_t){.output = INT64_C(1000000000000000)}),
                 INT64_C(600000000000000000));
    CHECK_EQ_INT(cost("openai", "o1-pro", (ig_usage_t){.output = INT64_MAX}), -1);
    static const char big[] = "{\"as_of\":\"2025-01-01\",\"unit\":\"USD per 1M tokens\",\"providers\":{\"x\":"
                              "{\"m\":{\"input\":1000000,\"output\":1000000}}}}";
    ig_pricing_t *p = NULL;
    CHECK_EQ_INT(ig_pricing_load_json(ig_iov(big, sizeof big - 1), "big", &p, NULL, 0), IG_OK);
    u = (ig_usage_t){.input = INT64_MAX, .output = INT64_MAX};
    CHECK_EQ_INT(ig_pricing_cost_micros(p, "x", "m", &u), -1);
    u = (ig_usage_t){.input = 9000000000000, .output = 0};
    CHECK_EQ_INT(ig_pricing_cost_micros(p, "x", "m", &u), INT64_C(9000000000000000000));
    ig_pricing_free(p);
}

/* Loads `json` and expects `rc` with `needle` in the message. */
static void expect_load(const char *json, int rc, const char *needle)
{
    ig_pricing_t *p = (ig_pricing_t *)1;
    char err[512] = "";
    int got = ig_pricing_load_json(ig_iov_str(json), "ops.json", &p, err, sizeof err);
    if (got != rc || (needle && !strstr(err, needle)) || (rc == IG_OK) != (p != NULL))
        fprintf(stderr, "  %.80s\n    -> %s: %s\n", json, ig_err_name(got), err);
    CHECK_EQ_INT(got, rc);
    if (needle) CHECK(strstr(err, needle) != NULL);
    if (rc != IG_OK) {
        CHECK(p == NULL);
        CHECK(strncmp(err, "ops.json: ", 10) == 0);
    }
    ig_pricing_free(p == (ig_pricing_t *)1 ? NULL : p);
}

#define HEAD                     "{\"as_of\":\"2025-01-01\",\"unit\":\"USD per 1M tokens\","
#define ENTRY(prov, model, body) HEAD "\"providers\":{\"" prov "\":{\"" model "\":" body "}}}"

TEST(operator_file_validation)
{
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":2.5,\"output\":10}"), IG_OK, NULL);
    expect_load(HEAD "\"note\":\"mine\",\"providers\":{}}", IG_OK, NULL); /* empty: every cost unknown */
    /* JSON */
    expect_load("", IG_EBADJSON, "not valid JSON");
    expect_load("{\"as_of\":", IG_EBADJSON, "not valid JSON");
    expect_load(HEAD "\"providers\":{\"openai\":{\"gpt-4o\":{\"input\":1,\"input\":2,\"output\":1}}}}",
                IG_EBADJSON, "duplicate");
    expect_load("[]", IG_EINVAL, "must be a JSON object");
    /* top level */
    expect_load(HEAD "\"providers\":{},\"currency\":\"EUR\"}", IG_EINVAL, "unknown member \"currency\"");
    expect_load("{\"unit\":\"USD per 1M tokens\",\"providers\":{}}", IG_EINVAL, "as_of");
    expect_load("{\"as_of\":\"2025-13-01\",\"unit\":\"USD per 1M tokens\",\"providers\":{}}", IG_EINVAL,
                "as_of");
    expect_load("{\"as_of\":\"2025-1-01\",\"unit\":\"USD per 1M tokens\",\"providers\":{}}", IG_EINVAL,
                "as_of");
    expect_load("{\"as_of\":\"2025-01-01\",\"unit\":\"USD per 1K tokens\",\"providers\":{}}", IG_EINVAL,
                "unit");
    expect_load("{\"as_of\":\"2025-01-01\",\"providers\":{}}", IG_EINVAL, "unit");
    expect_load(HEAD "\"note\":1,\"providers\":{}}", IG_EINVAL, "note");
    expect_load(HEAD "\"providers\":[]}", IG_EINVAL, "providers");
    expect_load("{\"as_of\":\"2025-01-01\",\"unit\":\"USD per 1M tokens\"}", IG_EINVAL, "providers");
    /* providers and models */
    expect_load(ENTRY("OpenAI", "gpt-4o", "{\"input\":1,\"output\":1}"), IG_EINVAL, "providers.\"OpenAI\"");
    expect_load(ENTRY("", "gpt-4o", "{\"input\":1,\"output\":1}"), IG_EINVAL, "providers.\"\"");
    expect_load(ENTRY("a234567890123456789012345678901234", "m", "{\"input\":1,\"output\":1}"), IG_EINVAL,
                "provider name");
    expect_load(HEAD "\"providers\":{\"openai\":[]}}", IG_EINVAL, "providers.openai: must be an object");
    expect_load(ENTRY("openai", "gpt 4o", "{\"input\":1,\"output\":1}"), IG_EINVAL,
                "providers.openai.\"gpt 4o\"");
    expect_load(ENTRY("openai", "gpt-*", "{\"input\":1,\"output\":1}"), IG_EINVAL,
                "providers.openai.\"gpt-*\"");
    expect_load(ENTRY("openai", "", "{\"input\":1,\"output\":1}"), IG_EINVAL, "model name");
    expect_load(ENTRY("openai", "\\u00e9", "{\"input\":1,\"output\":1}"), IG_EINVAL,
                "providers.openai.\"??\"");
    expect_load(ENTRY("openai", "gpt-4o", "[2.5,10]"), IG_EINVAL,
                "providers.openai.\"gpt-4o\": must be an object");
    /* entries */
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":2.5}"), IG_EINVAL,
                "providers.openai.\"gpt-4o\": \"output\" is required");
    expect_load(ENTRY("openai", "gpt-4o", "{\"output\":2.5}"), IG_EINVAL, "\"input\" is required");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":-2.5,\"output\":10}"), IG_EINVAL,
                "providers.openai.\"gpt-4o\".input: must be a number >= 0");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":\"2.5\",\"output\":10}"), IG_EINVAL,
                "providers.openai.\"gpt-4o\".input");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":null,\"output\":10}"), IG_EINVAL, ".input");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":1,\"output\":1000001}"), IG_EINVAL, ".output");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":1,\"output\":1,\"cached_input\":-0.1}"), IG_EINVAL,
                ".cached_input");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":1,\"output\":1,\"cache_write\":true}"), IG_EINVAL,
                ".cache_write");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":0.0000001,\"output\":1}"), IG_EINVAL, "6 decimals");
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":0.000001,\"output\":1}"), IG_OK, NULL);
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":1,\"output\":1,\"cached_inptu\":0.5}"), IG_EINVAL,
                "unknown member \"cached_inptu\"");
    /* nesting beyond a table's shape is refused by the parser */
    expect_load(ENTRY("openai", "gpt-4o", "{\"input\":1,\"output\":{\"a\":1}}"), IG_EBADJSON,
                "nesting too deep");
}

TEST(operator_file_replaces_default)
{
    char path[] = "/tmp/ingate-pricing-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    static const char table[] =
        "{\n  \"as_of\": \"2025-02-01\",\n  \"unit\": \"USD per 1M tokens\",\n"
        "  \"providers\": {\n    \"openai\": {\"gpt-4o\": {\"input\": 2, \"output\": 8}},\n"
        "    \"my-vllm\": {\"*\": {\"input\": 0.1, \"output\": 0.2}}\n  }\n}\n";
    CHECK(write(fd, table, sizeof table - 1) == (ssize_t)(sizeof table - 1));
    close(fd);

    ig_pricing_t *p = NULL;
    char err[256] = "";
    CHECK_EQ_INT(ig_pricing_load(path, &p, err, sizeof err), IG_OK);
    CHECK(p != NULL);
    if (p) {
        CHECK_EQ_INT(ig_pricing_count(p), 2);
        CHECK_EQ_STR(ig_pricing_as_of(p), "2025-02-01");
        ig_usage_t u = {.input = 1000, .output = 1000};
        CHECK_EQ_INT(ig_pricing_cost_micros(p, "openai", "gpt-4o-2024-08-06", &u), 10000);
        CHECK_EQ_INT(ig_pricing_cost_micros(p, "my-vllm", "Qwen/Qwen2.5-7B", &u), 300);
        /* replaced, not merged: built-in models are unknown now */
        CHECK_EQ_INT(ig_pricing_cost_micros(p, "openai", "gpt-4o-mini", &u), -1);
        CHECK_EQ_INT(ig_pricing_cost_micros(p, "anthropic", "claude-3-opus", &u), -1);
    }
    ig_pricing_free(p);

    /* a file that is not there, or too big */
    p = (ig_pricing_t *)1;
    CHECK_EQ_INT(ig_pricing_load("/nonexistent/pricing.json", &p, err, sizeof err), IG_EIO);
    CHECK(p == NULL);
    CHECK(strstr(err, "/nonexistent/pricing.json") != NULL);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        for (size_t k = 0; k <= IG_PRICING_MAX_FILE_BYTES; k += 8)
            fputs("        ", f);
        fclose(f);
    }
    CHECK_EQ_INT(ig_pricing_load(path, &p, err, sizeof err), IG_ETOOBIG);
    CHECK(strstr(err, "larger than") != NULL);
    unlink(path);
}

TEST(too_many_entries)
{
    size_t cap = 64 + (IG_PRICING_MAX_ENTRIES + 1) * 40, n = 0;
    char *j = malloc(cap);
    CHECK(j != NULL);
    if (!j) return;
    n += (size_t)snprintf(j + n, cap - n, HEAD "\"providers\":{\"p\":{");
    for (int k = 0; k <= IG_PRICING_MAX_ENTRIES; k++)
        n += (size_t)snprintf(j + n, cap - n, "%s\"m%d\":{\"input\":1,\"output\":1}", k ? "," : "", k);
    snprintf(j + n, cap - n, "}}}");
    expect_load(j, IG_ETOOBIG, "more than");
    /* exactly the limit is fine */
    char *last = strstr(j, ",\"m10000\"");
    CHECK(last != NULL);
    if (last) memcpy(last, "}}}", 4);
    expect_load(j, IG_OK, NULL);
    free(j);
}

int main(void)
{
    char err[256] = "";
    if (ig_pricing_load(NULL, &g_def, err, sizeof err) != IG_OK) fprintf(stderr, "built-in table: %s\n", err);
    RUN(default_table_matches_data_file);
    RUN(default_table);
    RUN(matching);
    RUN(cost_openai_convention);
    RUN(cost_anthropic_convention);
    RUN(cost_rounding_and_unknowns);
    RUN(operator_file_validation);
    RUN(operator_file_replaces_default);
    RUN(too_many_entries);
    ig_pricing_free(g_def);
    UNIT_DONE();
}
