/*
 * pricing.c — loading and validating a price table, model matching, and cost arithmetic.
 *
 * A table is one malloc'd array of entries sorted by (provider, model) plus one arena holding their names;
 * after ig_pricing_load returns nothing in it changes, so lookups take no lock. A lookup is at most a few
 * binary searches: the exact name, then each prefix of the model followed by a version suffix, longest
 * first, then "*".
 *
 * Why only version suffixes and not any longest prefix: "gpt-4o" is a prefix of "gpt-4o-mini" (16x cheaper),
 * "gpt-4" of "gpt-4-turbo", "o1" of "o1-pro" (10x dearer). With an operator table that lists gpt-4o but not
 * gpt-4o-mini, a plain prefix rule would bill every mini call at gpt-4o's price; a wrong price is worse than
 * an unknown one, which at least shows up as NULL.
 *
 * Prices are held as integers, micro-USD per million tokens (which is also pico-USD per token), so a cost is
 * an exact integer sum of tokens x price rounded once at the end: no float rounding drifts a budget. A price
 * with more than 6 decimals in the file is refused rather than rounded. Sums are done in 128 bits: counts
 * below 2^63 times prices below 2^40 cannot overflow.
 *
 * The built-in table is data/pricing.json compiled in as a string (src/capture/pricing_default.c, checked
 * byte for byte against the data file by tests/unit/test_pricing.c). After editing data/pricing.json,
 * regenerate it from the repository root with:
 *
 *   awk 'BEGIN { print "/" "* GENERATED from data/pricing.json (see pricing.c): do not edit *" "/"
 *                print "#include \"capture/pricing.h\"\n\nconst char ig_pricing_default_json[] =" }
 *        { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); print "    \"" $0 "\\n\"" }
 *        END { print "    ;" }' data/pricing.json >src/capture/pricing_default.c &&
 *   clang-format -i src/capture/pricing_default.c
 */
#include "capture/pricing.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define PROVIDER_MAX 32
/* Object nesting of a table: root, providers, provider, entry. */
#define TABLE_DEPTH 4
/* Prices are stored in units of 1e-6 USD per million tokens. */
#define UNITS_PER_USD 1000000.0

__extension__ typedef unsigned __int128 u128;

typedef struct {
    const char *provider, *model;
    size_t plen, mlen;
    int64_t in, out, cached, write; /* units; cached / write -1 = not priced apart */
} entry_t;

struct ig_pricing {
    entry_t *e;
    size_t n;
    char *arena;
    char as_of[11];
};

static const char UNIT[] = "USD per 1M tokens";

/* ---- errors ---- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A name from the file, safe to print: at most 64 bytes, anything not printable ASCII (or a quote or a
 * backslash) as '?', "..." when cut. */
static const char *printable(const char *s, char buf[72])
{
    size_t k = 0;
    for (; s[k] && k < 64; k++) {
        unsigned char c = (unsigned char)s[k];
        buf[k] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
    }
    memcpy(buf + k, s[k] ? "..." : "", s[k] ? 4 : 1);
    return buf;
}

/* ---- validation ---- */

static bool valid_provider(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PROVIDER_MAX) return false;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool valid_model(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > IG_USAGE_MODEL_MAX) return false;
    if (n == 1 && s[0] == '*') return true;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '*') return false;
    }
    return true;
}

static bool valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (size_t k = 0; k < 10; k++)
        if (k != 4 && k != 7 && (s[k] < '0' || s[k] > '9')) return false;
    int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

/* A price member of an entry: IG_OK with *units (-1 when absent and optional). */
static int read_price(const cJSON *entry, const char *key, bool required, int64_t *units, const char *where,
                      char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, key);
    *units = -1;
    if (!v) {
        if (!required) return IG_OK;
        return fail(err, errlen, IG_EINVAL, "%s: \"%s\" is required", where, key);
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > IG_PRICING_MAX_PRICE)
        return fail(err, errlen, IG_EINVAL, "%s.%s: must be a number >= 0 and <= %g (USD per 1M tokens)",
                    where, key, IG_PRICING_MAX_PRICE);
    double x = v->valuedouble * UNITS_PER_USD, r = nearbyint(x);
    if (fabs(x - r) > 1e-3)
        return fail(err, errlen, IG_EINVAL, "%s.%s: at most 6 decimals (micro-USD per 1M tokens)", where,
                    key);
    *units = (int64_t)r;
    return IG_OK;
}

static int cmp_key(const char *ap, size_t apl, const char *am, size_t aml, const char *bp, size_t bpl,
                   const char *bm, size_t bml)
{
    int c = memcmp(ap, bp, IG_MIN(apl, bpl));
    if (c || apl != bpl) return c ? c : (apl < bpl ? -1 : 1);
    c = memcmp(am, bm, IG_MIN(aml, bml));
    if (c || aml != bml) return c ? c : (aml < bml ? -1 : 1);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    return cmp_key(x->provider, x->plen, x->model, x->mlen, y->provider, y->plen, y->model, y->mlen);
}

/* Checks one provider's entries and appends them to e[] (names still pointing into the tree; e[] has room
 * for every entry of the table, counted beforehand). */
static int read_provider(const cJSON *prov, entry_t *e, size_t *n, char *err, size_t errlen)
{
    static const char *const keys[] = {"input", "output", "cached_input", "cache_write", NULL};
    char nb[72], where[PROVIDER_MAX + IG_USAGE_MODEL_MAX + 32];
    int rc;

    if (!valid_provider(prov->string))
        return fail(err, errlen, IG_EINVAL,
                    "providers.\"%s\": a provider name is 1-%d characters of a-z, 0-9, '.', '_', '-'",
                    printable(prov->string, nb), PROVIDER_MAX);
    if (!cJSON_IsObject(prov))
        return fail(err, errlen, IG_EINVAL, "providers.%s: must be an object of models", prov->string);
    const cJSON *m;
    cJSON_ArrayForEach(m, prov)
    {
        if (!valid_model(m->string))
            return fail(err, errlen, IG_EINVAL,
                        "providers.%s.\"%s\": a model name is 1-%d printable ASCII characters without "
                        "spaces, quotes, backslashes or '*' (\"*\" alone is the wildcard)",
                        prov->string, printable(m->string, nb), IG_USAGE_MODEL_MAX);
        snprintf(where, sizeof where, "providers.%s.\"%s\"", prov->string, m->string);
        if (!cJSON_IsObject(m))
            return fail(err, errlen, IG_EINVAL, "%s: must be an object like {\"input\": 2.5, \"output\": 10}",
                        where);
        const char *bad = NULL;
        if (ig_json_only_keys(m, keys, &bad) != IG_OK)
            return fail(err, errlen, IG_EINVAL,
                        "%s: unknown member \"%s\" (known: input, output, cached_input, cache_write)", where,
                        printable(bad, nb));
        entry_t *x = &e[*n];
        if ((rc = read_price(m, "input", true, &x->in, where, err, errlen)) ||
            (rc = read_price(m, "output", true, &x->out, where, err, errlen)) ||
            (rc = read_price(m, "cached_input", false, &x->cached, where, err, errlen)) ||
            (rc = read_price(m, "cache_write", false, &x->write, where, err, errlen)))
            return rc;
        x->provider = prov->string;
        x->plen = strlen(prov->string);
        x->model = m->string;
        x->mlen = strlen(m->string);
        (*n)++;
    }
    return IG_OK;
}

int ig_pricing_load_json(ig_iov_t json, const char *name, ig_pricing_t **out, char *err, size_t errlen)
{
    static const char *const top[] = {"as_of", "unit", "note", "providers", NULL};
    ig_json_limits_t lim = {IG_PRICING_MAX_FILE_BYTES, TABLE_DEPTH};
    cJSON *root = NULL;
    ig_pricing_t *p = NULL;
    entry_t *e = NULL;
    size_t n = 0, total = 0;
    const char *why = NULL, *bad = NULL, *s = NULL;
    char msg[512], nb[72];
    int rc;

    msg[0] = '\0';
    if (!name) name = "pricing";
    if (out) *out = NULL;
    if (!out) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "no output");
        goto out;
    }
    rc = ig_json_parse(json, &lim, &root, &why);
    if (rc == IG_ETOOBIG) {
        fail(msg, sizeof msg, rc, "larger than %u bytes", IG_PRICING_MAX_FILE_BYTES);
        goto out;
    }
    if (rc != IG_OK) {
        fail(msg, sizeof msg, rc, "not valid JSON (%s)", why ? why : ig_err_name(rc));
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "the table must be a JSON object");
        goto out;
    }
    if (ig_json_only_keys(root, top, &bad) != IG_OK) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "unknown member \"%s\" (known: as_of, unit, note, providers)",
                  printable(bad, nb));
        goto out;
    }
    if (ig_json_get_str(root, "as_of", &s, NULL) != IG_OK || !valid_date(s)) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "as_of: required, a date YYYY-MM-DD");
        goto out;
    }
    const char *as_of = s;
    if (ig_json_get_str(root, "unit", &s, NULL) != IG_OK || strcmp(s, UNIT) != 0) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "unit: required, exactly \"%s\"", UNIT);
        goto out;
    }
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(root, "note");
    if (note && !cJSON_IsString(note)) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "note: must be a string");
        goto out;
    }
    const cJSON *provs = cJSON_GetObjectItemCaseSensitive(root, "providers");
    if (!cJSON_IsObject(provs)) {
        rc = fail(msg, sizeof msg, IG_EINVAL, "providers: required, an object of providers");
        goto out;
    }
    /* count first: one allocation of exactly the size needed */
    const cJSON *pv, *m;
    cJSON_ArrayForEach(pv, provs)
    {
        if (cJSON_IsObject(pv)) cJSON_ArrayForEach(m, pv) total++;
    }
    if (total > IG_PRICING_MAX_ENTRIES) {
        rc = fail(msg, sizeof msg, IG_ETOOBIG, "more than %d entries", IG_PRICING_MAX_ENTRIES);
        goto out;
    }
    e = calloc(total ? total : 1, sizeof *e);
    if (!e) {
        rc = fail(msg, sizeof msg, IG_ENOMEM, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(pv, provs)
    {
        if ((rc = read_provider(pv, e, &n, msg, sizeof msg)) != IG_OK) goto out;
    }

    /* copy the names out of the tree */
    size_t bytes = 1;
    for (size_t k = 0; k < n; k++)
        bytes += e[k].plen + e[k].mlen + 2;
    p = calloc(1, sizeof *p);
    char *a = p ? malloc(bytes) : NULL;
    if (!a) {
        rc = fail(msg, sizeof msg, IG_ENOMEM, "out of memory");
        goto out;
    }
    p->arena = a;
    for (size_t k = 0; k < n; k++) {
        memcpy(a, e[k].provider, e[k].plen + 1);
        e[k].provider = a;
        a += e[k].plen + 1;
        memcpy(a, e[k].model, e[k].mlen + 1);
        e[k].model = a;
        a += e[k].mlen + 1;
    }
    qsort(e, n, sizeof *e, cmp_entry);
    memcpy(p->as_of, as_of, sizeof p->as_of);
    p->e = e;
    p->n = n;
    e = NULL;
    *out = p;
    p = NULL;
    rc = IG_OK;
out:
    if (rc != IG_OK) fail(err, errlen, rc, "%s: %s", name, msg);
    ig_pricing_free(p);
    free(e);
    cJSON_Delete(root);
    return rc;
}

static int read_file(const char *path, ig_buf_t *b, char *err, size_t errlen)
{
    int rc = IG_OK;
    char chunk[16384];
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, IG_EIO, "%s: cannot open (%s)", path, strerror(errno));
    for (;;) {
        size_t got = fread(chunk, 1, sizeof chunk, f);
        if (got && (rc = ig_buf_append(b, chunk, got)) != IG_OK) {
            if (rc == IG_ETOOBIG)
                fail(err, errlen, rc, "%s: larger than %u bytes", path, IG_PRICING_MAX_FILE_BYTES);
            else
                fail(err, errlen, rc, "%s: out of memory", path);
            break;
        }
        if (got < sizeof chunk) {
            if (ferror(f)) rc = fail(err, errlen, IG_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    return rc;
}

int ig_pricing_load(const char *path_or_null, ig_pricing_t **out, char *err, size_t errlen)
{
    if (!path_or_null)
        return ig_pricing_load_json(ig_iov_str(ig_pricing_default_json), "built-in pricing", out, err,
                                    errlen);
    ig_buf_t b;
    ig_buf_init(&b, IG_PRICING_MAX_FILE_BYTES);
    if (out) *out = NULL;
    int rc = read_file(path_or_null, &b, err, errlen);
    if (rc == IG_OK) rc = ig_pricing_load_json(ig_buf_iov(&b), path_or_null, out, err, errlen);
    ig_buf_free(&b, false);
    return rc;
}

void ig_pricing_free(ig_pricing_t *p)
{
    if (!p) return;
    free(p->e);
    free(p->arena);
    free(p);
}

const char *ig_pricing_as_of(const ig_pricing_t *p)
{
    return p->as_of;
}

size_t ig_pricing_count(const ig_pricing_t *p)
{
    return p->n;
}

/* ---- lookup ---- */

static const entry_t *find(const ig_pricing_t *p, const char *prov, size_t plen, const char *model,
                           size_t mlen)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry_t *x = &p->e[mid];
        int c = cmp_key(prov, plen, model, mlen, x->provider, x->plen, x->model, x->mlen);
        if (c == 0) return x;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool is_sep(char c)
{
    return c == '-' || c == '@' || c == ':';
}

/* true when `s` (starting with a separator) is a version suffix: separator-led tokens that are all digits
 * or "latest" ("-2024-08-06", "-20241022", "-0613", "@20250514", "-latest", "-0", ":latest"). */
static bool version_suffix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!is_sep(s[i])) return false;
        size_t t = ++i;
        while (i < n && !is_sep(s[i]))
            i++;
        ig_iov_t tok = ig_iov(s + t, i - t);
        if (ig_iov_eq(tok, IG_IOV_LIT("latest"))) continue;
        if (tok.len == 0) return false;
        for (size_t k = 0; k < tok.len; k++)
            if (tok.base[k] < '0' || tok.base[k] > '9') return false;
    }
    return true;
}

int ig_pricing_lookup(const ig_pricing_t *p, const char *provider, const char *model, ig_price_t *out)
{
    char prov[PROVIDER_MAX];
    size_t plen = provider ? strlen(provider) : 0, mlen = model ? strlen(model) : 0;
    const entry_t *x = NULL;

    if (!p || plen == 0 || plen > PROVIDER_MAX || mlen == 0 || mlen > IG_USAGE_MODEL_MAX) return IG_ENOTFOUND;
    /* provider names compare case-insensitively everywhere; table names are lowercase */
    for (size_t k = 0; k < plen; k++)
        prov[k] = (provider[k] >= 'A' && provider[k] <= 'Z') ? (char)(provider[k] + 32) : provider[k];
    /* "*" is the wildcard entry, never a model */
    if (!(mlen == 1 && model[0] == '*')) x = find(p, prov, plen, model, mlen);
    /* longest prefix first; once the rest is no version suffix, no shorter prefix can have one either */
    for (size_t k = mlen - 1; !x && k > 0; k--) {
        if (!is_sep(model[k])) continue;
        if (!version_suffix(model + k, mlen - k)) break;
        x = find(p, prov, plen, model, k);
    }
    if (!x) x = find(p, prov, plen, "*", 1);
    if (!x) return IG_ENOTFOUND;
    if (out) {
        out->input = x->in;
        out->output = x->out;
        out->cached_input = x->cached;
        out->cache_write = x->write;
        out->provider = x->provider;
        out->model = x->model;
    }
    return IG_OK;
}

int64_t ig_pricing_cost_micros(const ig_pricing_t *p, const char *provider, const char *model,
                               const ig_usage_t *u)
{
    ig_price_t pr;
    if (!u || u->input < 0 || u->output < 0 || u->cached < 0 || u->cache_write < 0) return -1;
    if (ig_pricing_lookup(p, provider, model, &pr) != IG_OK) return -1;
    u128 cached_price = (u128)(pr.cached_input >= 0 ? pr.cached_input : pr.input);
    u128 write_price = (u128)(pr.cache_write >= 0 ? pr.cache_write : pr.input);
    u128 full = (u128)u->input, cached = (u128)u->cached, written = (u128)u->cache_write;
    if (ig_usage_conv(u, provider) == IG_USAGE_CACHED_INCLUDED) {
        if (cached + written > full) return -1; /* contradicts the convention: not a guessable cost */
        full -= cached + written;
    }
    u128 pico = full * (u128)pr.input + cached * cached_price + written * write_price +
                (u128)u->output * (u128)pr.output;
    u128 micros = (pico + 500000) / 1000000;
    return micros > (u128)INT64_MAX ? -1 : (int64_t)micros;
}
