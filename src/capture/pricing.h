/*
 * pricing.h — the price list (USD per million tokens, per provider and model) and the cost of one call.
 *
 * The table is JSON (data/pricing.json is the built-in one, compiled in as src/capture/pricing_default.c):
 *
 *   {
 *     "as_of": "2025-08-15",                  required, YYYY-MM-DD: the day the prices were read
 *     "unit": "USD per 1M tokens",            required, exactly this string
 *     "note": "...",                          optional, free text
 *     "providers": {                          required
 *       "openai": {                           provider name: 1-32 of [a-z0-9._-] (names compare
 *                                             case-insensitively, as provider names do everywhere)
 *         "gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25},
 *         "*": {...}                          the provider's wildcard: any model not matched otherwise
 *       }
 *     }
 *   }
 *
 *   Model keys: 1-IG_USAGE_MODEL_MAX bytes of printable ASCII without spaces, '"' or '\'; "*" alone is the
 *   wildcard ('*' anywhere else is refused: there is no globbing). Entry members: "input" and "output"
 *   (required), "cached_input" (price of a prompt token read from the provider's cache) and "cache_write"
 *   (price of a prompt token written to it: Anthropic) optional. Each is a number >= 0 and <= 1e6 with at
 *   most 6 decimals (prices are kept as integer micro-USD per million tokens, i.e. exact). No other member
 *   is accepted anywhere: a misspelt "cached_inptu" is an error, not a silently full-price cache.
 *
 * An operator file REPLACES the built-in table (no merging): the operator then owns every price, and a model
 * missing from their file costs "unknown" rather than a stale built-in price. Start from a copy of
 * data/pricing.json.
 *
 * Model matching (ig_pricing_lookup): the exact name first; then the longest entry that is a prefix of the
 * model followed only by a version suffix: '-', '@' or ':' separated tokens that are all digits or "latest"
 * (gpt-4o-2024-08-06 -> gpt-4o, claude-3-5-sonnet-20241022 -> claude-3-5-sonnet, claude-sonnet-4@20250514
 * and claude-sonnet-4-0 -> claude-sonnet-4, claude-3-5-sonnet-latest -> claude-3-5-sonnet); then the
 * provider's "*"; else unknown. A different model that merely starts with a listed name is NOT a variant:
 * gpt-4o-mini never falls back to gpt-4o, o1-pro to o1, gpt-4o-realtime-preview to gpt-4o, gpt-4.5 to gpt-4,
 * ft:... fine-tunes to their base; they need their own entries (or are unknown). A dated variant priced
 * differently from its base (gpt-4o-2024-05-13) gets an exact entry, which wins.
 *
 * A loaded table is immutable: lookups from any number of threads need no lock. Lookups are binary searches
 * over a sorted array (one per candidate prefix; model names have a handful of boundaries).
 */
#ifndef IG_CAPTURE_PRICING_H
#define IG_CAPTURE_PRICING_H

#include "capture/usage.h"

#include <stddef.h>

/* Largest operator pricing file read (the built-in table is ~6 KiB; 1 MiB is thousands of models). */
#define IG_PRICING_MAX_FILE_BYTES (1024u * 1024)
/* Entries per table: a bound on memory and on what an operator file can make the loader do. */
#define IG_PRICING_MAX_ENTRIES 10000
/* Highest price accepted, USD per million tokens (the dearest list price today is 600). */
#define IG_PRICING_MAX_PRICE 1e6

typedef struct ig_pricing ig_pricing_t;

/* Prices of one entry in micro-USD per million tokens (= pico-USD per token): 2.5 USD/M is 2500000. */
typedef struct {
    int64_t input, output;
    int64_t cached_input; /* -1: the provider does not price cache reads apart; they cost `input` */
    int64_t cache_write;  /* -1: no separate price; cache writes cost `input` */
    const char *provider; /* the entry that matched, as written in the table (valid while the table is) */
    const char *model;    /* "*" when the wildcard matched */
} ig_price_t;

/* The built-in table, as JSON text (NUL-terminated): identical to data/pricing.json. */
extern const char ig_pricing_default_json[];

/*
 * Loads a table: path_or_null NULL = the built-in one, else the operator's file (which replaces it).
 * IG_OK and *out (free with ig_pricing_free). On failure *out = NULL and err holds one line naming the
 * offending entry, e.g. `pricing.json: providers.openai."gpt-4o".input: must be a number >= 0`:
 *   IG_EIO       the file cannot be read
 *   IG_ETOOBIG   the file is larger than IG_PRICING_MAX_FILE_BYTES, or more than IG_PRICING_MAX_ENTRIES
 *   IG_EBADJSON  not strict JSON (ig_json_parse: duplicate keys are refused too)
 *   IG_EINVAL    valid JSON that breaks the rules above
 *   IG_ENOMEM
 */
int ig_pricing_load(const char *path_or_null, ig_pricing_t **out, char *err, size_t errlen);
/* Same, from JSON text in memory; `name` labels messages (e.g. the file name). */
int ig_pricing_load_json(ig_iov_t json, const char *name, ig_pricing_t **out, char *err, size_t errlen);
void ig_pricing_free(ig_pricing_t *p);

/* The table's as_of date ("YYYY-MM-DD") and number of entries. */
const char *ig_pricing_as_of(const ig_pricing_t *p);
size_t ig_pricing_count(const ig_pricing_t *p);

/* The prices that apply to (provider, model), by the matching rules above. IG_OK, or IG_ENOTFOUND (also
 * for NULL or empty names). */
int ig_pricing_lookup(const ig_pricing_t *p, const char *provider, const char *model, ig_price_t *out);

/*
 * Cost of one call in micro-USD, rounded to the nearest (half up), or -1 when it cannot be known: no price
 * for the model, or u->input / u->output / u->cached / u->cache_write unknown (< 0; a zeroed count is
 * "none", so callers building a usage by hand set only what they have), or counts that contradict the
 * convention (cached + cache_write > input when input includes them), or a cost beyond INT64_MAX.
 *
 * Cache conventions (ig_usage_conv(u, provider)):
 *   INCLUDED (OpenAI, Ollama, others): input already counts the cached tokens, so
 *       cost = (input - cached - cache_write) * input_price + cached * cached_price
 *              + cache_write * write_price + output * output_price
 *   SEPARATE (Anthropic): input excludes cache reads and writes, so
 *       cost = input * input_price + cached * cached_price + cache_write * write_price + output *
 * output_price Either way every prompt token is priced exactly once. A missing cached_input / cache_write
 * price means the provider charges those tokens at the input price. Anthropic's 1-hour cache writes (2x
 * input) are priced at the table's cache_write (the 5-minute rate, 1.25x): usage reports one cache_write
 * count.
 */
int64_t ig_pricing_cost_micros(const ig_pricing_t *p, const char *provider, const char *model,
                               const ig_usage_t *u);

#endif
