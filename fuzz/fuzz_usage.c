/*
 * fuzz_usage.c — libFuzzer target for token-usage extraction (src/capture/usage.c) from captured responses:
 * arbitrary bytes (broken SSE, NDJSON, truncated or invalid JSON, huge numbers, escapes).
 *
 * Input: byte 0 picks the setup, the rest is the body (copied to an exact-size heap block, not
 * NUL-terminated, so ASan sees any read past its end).
 *   bits 0-1 provider (0 openai, 1 anthropic, 2 ollama, 3 a custom name)   bit 2 the stream flag
 *   bit 3    also load the body as an operator pricing table (src/capture/pricing.c)
 * Properties (abort on violation):
 *   1. every count is -1 or in [0, 2^53); conv is one of the enum values; cache_hit is false (no provider
 *      signals one today).
 *   2. the model is NUL-terminated, at most IG_USAGE_MODEL_MAX bytes, without control characters.
 *   3. the same input gives the same result (no hidden state), and the stream flag (a hint) changes nothing.
 *   4. the cost under the built-in table is -1 or >= 0, and -1 whenever a count is unknown.
 *   5. a pricing table that loads has lookups that either fail or return non-negative prices.
 *   6. read as a request, the body's max_tokens is -1 or a positive count below 2^53.
 */
#include "capture/pricing.h"
#include "capture/usage.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static ig_pricing_t *g_def;

static bool sane_count(int64_t v)
{
    return v == -1 || (v >= 0 && v < ((int64_t)1 << 53));
}

static bool same(const ig_usage_t *a, const ig_usage_t *b)
{
    return a->input == b->input && a->output == b->output && a->cached == b->cached &&
           a->cache_write == b->cache_write && a->conv == b->conv && a->cache_hit == b->cache_hit &&
           strcmp(a->model, b->model) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const providers[] = {"openai", "anthropic", "ollama", "my-proxy"};
    if (!g_def && ig_pricing_load(NULL, &g_def, NULL, 0) != IG_OK) abort();
    if (size < 1) return 0;
    uint8_t sel = data[0];
    const char *prov = providers[sel & 3];
    bool stream = (sel & 4) != 0;
    size_t n = size - 1;
    char *p = malloc(n ? n : 1);
    if (!p) return 0;
    memcpy(p, data + 1, n);

    ig_usage_t u, again;
    ig_usage_parse(prov, IG_IOV_NULL, ig_iov(p, n), stream, &u);
    if (!sane_count(u.input) || !sane_count(u.output) || !sane_count(u.cached) || !sane_count(u.cache_write))
        abort();
    if (u.conv != IG_USAGE_CONV_BY_PROVIDER && u.conv != IG_USAGE_CACHED_INCLUDED &&
        u.conv != IG_USAGE_CACHED_SEPARATE)
        abort();
    if (u.cache_hit) abort();
    size_t ml = strnlen(u.model, sizeof u.model);
    if (ml > IG_USAGE_MODEL_MAX) abort();
    for (size_t k = 0; k < ml; k++)
        if ((unsigned char)u.model[k] < 0x20 || u.model[k] == 0x7f) abort();

    ig_usage_parse(prov, IG_IOV_NULL, ig_iov(p, n), !stream, &again);
    if (!same(&u, &again)) abort();

    /* the body read as a request: its output-token cap is -1 or a usable count (property 6) */
    int64_t mt = ig_usage_request_max_tokens(ig_iov(p, n));
    if (mt != -1 && !(mt > 0 && sane_count(mt))) abort();

    int64_t c = ig_pricing_cost_micros(g_def, prov, u.model[0] ? u.model : "gpt-4o", &u);
    if (c < -1) abort();
    if ((u.input < 0 || u.output < 0 || u.cached < 0 || u.cache_write < 0) && c != -1) abort();
    (void)ig_usage_input_total(&u, prov);

    if (sel & 8) {
        ig_pricing_t *t = NULL;
        char err[256];
        if (ig_pricing_load_json(ig_iov(p, n), "fuzz", &t, err, sizeof err) == IG_OK) {
            ig_price_t pr;
            const char *models[] = {"gpt-4o", "gpt-4o-2024-08-06", "m", "*", u.model[0] ? u.model : "x"};
            for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
                if (ig_pricing_lookup(t, prov, models[k], &pr) == IG_OK &&
                    (pr.input < 0 || pr.output < 0 || pr.cached_input < -1 || pr.cache_write < -1))
                    abort();
            if (ig_pricing_cost_micros(t, prov, "gpt-4o", &u) < -1) abort();
        } else if (t) {
            abort();
        }
        ig_pricing_free(t);
    }
    free(p);
    return 0;
}
