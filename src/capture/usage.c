/*
 * usage.c — token usage and model from captured responses, without building a JSON tree.
 *
 * Why not cJSON: the log writer sees bodies of up to 10 MiB (an embeddings response is megabytes of numbers,
 * a stream is thousands of events) and needs a handful of integers from them. A tree of a 10 MiB body costs
 * tens of milliseconds and a copy in memory, and ig_json_parse_raw() serializes every parse in the process
 * behind one mutex, so the event loops' own request parsing would wait behind the writer. Instead:
 *
 * - walk_object() visits the members of ONE object in place and reports the byte ranges of the few members
 *   asked for; values it does not need are skipped (strings by memchr for the closing quote, containers by
 *   counting brackets outside strings). Nothing is allocated and nothing recurses.
 * - What we keep is checked strictly: a count is a JSON integer token 0 or [1-9][0-9]* below 2^53 followed by
 *   a delimiter (so a number cut by the capture ceiling is never read short), a model name is a complete
 *   string token, decoded by ig_json_parse when it has escapes or non-ASCII bytes.
 * - A member that appears twice in an object we read is unknown (duplicate keys let two readers disagree).
 *   A member name with a backslash escape in an object we read makes every member of that object unknown:
 *   no provider escapes its member names, and comparing raw bytes would otherwise miss "\u0075sage".
 * - The skipping does not validate what it skips: a malformed body yields what was found before the point
 *   where the walk lost its footing, like a truncated one. That is the contract for truncated bodies anyway
 *   ("use what was found, never guess"), and every value we return was itself well-formed.
 *
 * Streams are read from the end: the last line that can carry usage ("usage" followed by an object, or
 * Ollama's "done": true, found by memmem before anything is walked) is the only one walked in the common
 * case; Anthropic additionally needs its first event (message_start). The model comes from the first JSON
 * events (at most MODEL_EVENTS of them).
 */
#include "capture/usage.h"
#include "core/err.h"
#include "core/json.h"

#include <cjson/cJSON.h>
#include <strings.h>

/* JSON events read at the start of a stream for the model. The first event of every dialect carries it. */
#define MODEL_EVENTS 16
/* Longest model string token decoded: every byte of a IG_USAGE_MODEL_MAX name written as \u00XX, plus the
 * quotes. */
#define MODEL_TOKEN_MAX (IG_USAGE_MODEL_MAX * 6 + 2)
/* Counts are JSON integers below 2^53 (the largest a JSON number carries exactly). */
#define COUNT_MAX ((int64_t)1 << 53)

/* A count that is not in the object at all (or is null); distinct from -1, a count present but unusable. */
#define ABSENT (-2)

/* ---- walking JSON in place ---- */

/* Bytes that end the plain run inside a container: quote and brackets. */
static const unsigned char g_special[256] = {['"'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && is_ws(p[i]))
        i++;
    return i;
}

/* p[i] == '"'. Index just past the closing quote, or 0 when the input ends first. Each quote found is
 * escaped iff an odd run of backslashes precedes it; every backslash is counted at most once. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    size_t from = i + 1;
    for (;;) {
        const char *q = from < n ? memchr(p + from, '"', n - from) : NULL;
        if (!q) return 0;
        size_t at = (size_t)(q - p), bs = 0;
        while (at - bs > i + 1 && p[at - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0) return at + 1;
        from = at + 1;
    }
}

/* p[i] is '{' or '['. Index just past the matching close, or 0 when the input ends first. Brackets of both
 * kinds are counted together: on valid JSON that is exact, on invalid JSON it is merely bounded. */
static size_t skip_container(const char *p, size_t n, size_t i)
{
    size_t depth = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (!g_special[c]) {
            i++;
            continue;
        }
        if (c == '"') {
            i = skip_string(p, n, i);
            if (!i) return 0;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (--depth == 0) {
            return i + 1;
        }
        i++;
    }
    return 0;
}

static bool ends_scalar(char c)
{
    return is_ws(c) || c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || c == '{' || c == '[';
}

/* Index just past the value at p[i], or 0 when the input ends inside it (a scalar must be followed by a
 * delimiter: "12" at the very end may be the start of "1234") or there is no value there. */
static size_t skip_value(const char *p, size_t n, size_t i)
{
    size_t s = i;
    if (i >= n) return 0;
    if (p[i] == '"') return skip_string(p, n, i);
    if (p[i] == '{' || p[i] == '[') return skip_container(p, n, i);
    while (i < n && !ends_scalar(p[i]))
        i++;
    return (i == n || i == s) ? 0 : i;
}

typedef struct {
    const char *name; /* member wanted (plain bytes, no escapes) */
    size_t name_len;
    unsigned seen; /* occurrences */
    ig_iov_t val;  /* its value; base NULL when absent, duplicated, or cut short */
} member_t;

#define MEMBER(s)                                                                                            \
    {                                                                                                        \
        (s), sizeof(s) - 1, 0,                                                                               \
        {                                                                                                    \
            NULL, 0                                                                                          \
        }                                                                                                    \
    }

/*
 * Walks the object at `obj` (leading whitespace allowed) and fills in the members of m[]. A wanted value
 * that is an object or array cut short by the end of the input is given as running to the end (its own
 * complete members are still usable); a cut scalar is not given. Returns true when the object is complete;
 * false when it is cut short, malformed at some point, or not an object (members complete before that point
 * are filled in). *end (if not NULL) = index just past the closing brace when complete.
 */
static bool walk_object(ig_iov_t obj, member_t *m, size_t nm, size_t *end)
{
    const char *p = obj.base;
    size_t n = obj.len, i = skip_ws(p, n, 0);
    bool whole = false, escaped = false;

    for (size_t k = 0; k < nm; k++) {
        m[k].seen = 0;
        m[k].val = IG_IOV_NULL;
    }
    if (i >= n || p[i] != '{') goto out;
    i = skip_ws(p, n, i + 1);
    if (i < n && p[i] == '}') {
        whole = true;
        i++;
        goto out;
    }
    while (i < n && p[i] == '"') {
        size_t kend = skip_string(p, n, i);
        if (!kend) break;
        ig_iov_t key = ig_iov(p + i + 1, kend - i - 2);
        if (memchr(key.base, '\\', key.len)) escaped = true;
        i = skip_ws(p, n, kend);
        if (i >= n || p[i] != ':') break;
        i = skip_ws(p, n, i + 1);
        size_t vend = skip_value(p, n, i);
        member_t *want = NULL;
        for (size_t k = 0; k < nm && !want; k++)
            if (ig_iov_eq(key, ig_iov(m[k].name, m[k].name_len))) want = &m[k];
        if (want) {
            want->seen++;
            if (vend)
                want->val = ig_iov(p + i, vend - i);
            else if (i < n && (p[i] == '{' || p[i] == '['))
                want->val = ig_iov(p + i, n - i);
        }
        if (!vend) break;
        i = skip_ws(p, n, vend);
        if (i < n && p[i] == '}') {
            whole = true;
            i++;
            break;
        }
        if (i >= n || p[i] != ',') break;
        i = skip_ws(p, n, i + 1);
    }
out:
    for (size_t k = 0; k < nm; k++)
        if (m[k].seen > 1 || escaped) m[k].val = IG_IOV_NULL;
    if (escaped) whole = false;
    if (end) *end = whole ? i : 0;
    return whole;
}

static bool is_null(ig_iov_t v)
{
    return ig_iov_eq(v, IG_IOV_LIT("null"));
}

static bool is_object(ig_iov_t v)
{
    return v.len > 0 && v.base[0] == '{';
}

/* ABSENT when the member is not there or null; -1 when it is there but not a usable count (duplicated, cut,
 * negative, fractional, too large, not a number); else the count. */
static int64_t member_count(const member_t *m)
{
    if (!m->seen || (m->seen == 1 && is_null(m->val))) return ABSENT;
    ig_iov_t v = m->val;
    if (!v.base || v.len == 0 || v.len > 16) return -1;
    if (v.base[0] == '0') return v.len == 1 ? 0 : -1;
    int64_t x = 0;
    for (size_t k = 0; k < v.len; k++) {
        if (v.base[k] < '0' || v.base[k] > '9') return -1;
        x = x * 10 + (v.base[k] - '0');
    }
    return x < COUNT_MAX ? x : -1;
}

/* Two readings of one count (e.g. prompt_tokens and input_tokens): ABSENT if neither, the one present, or
 * -1 when both are present and disagree. */
static int64_t either(int64_t a, int64_t b)
{
    if (a == ABSENT) return b;
    if (b == ABSENT || a == b) return a;
    return -1;
}

/* ---- usage objects ---- */

typedef struct {
    int64_t input, output, cached, cache_write; /* ABSENT, -1 or a count */
    bool whole;                                 /* the usage object was complete */
    ig_usage_conv_t conv;
} raw_usage_t;

static const raw_usage_t RAW_NONE = {ABSENT, ABSENT, ABSENT, ABSENT, false, IG_USAGE_CONV_BY_PROVIDER};

/* cached_tokens of an OpenAI *_tokens_details member: ABSENT when the member is absent or null (or is
 * complete without cached_tokens), -1 when it is unreadable. */
static int64_t details_cached(const member_t *d)
{
    if (!d->seen || (d->seen == 1 && is_null(d->val))) return ABSENT;
    if (!is_object(d->val)) return -1;
    member_t c[] = {MEMBER("cached_tokens")};
    bool whole = walk_object(d->val, c, 1, NULL);
    int64_t v = member_count(&c[0]);
    return (v == ABSENT && !whole) ? -1 : v;
}

enum { U_PROMPT, U_COMPLETION, U_TOTAL, U_INPUT, U_OUTPUT, U_PDET, U_IDET, U_CREAD, U_CWRITE, U_N };

/* Reads a usage object of any dialect (OpenAI chat/completions/embeddings/Responses, Anthropic). `anth`:
 * the enclosing event is an Anthropic one (type message, message_start, message_delta), so its cache fields
 * are Anthropic's even if an OpenAI-style prompt_tokens_details rides along (some compatible servers send
 * both). */
static raw_usage_t read_usage(ig_iov_t obj, bool anth)
{
    member_t m[U_N] = {
        [U_PROMPT] = MEMBER("prompt_tokens"),
        [U_COMPLETION] = MEMBER("completion_tokens"),
        [U_TOTAL] = MEMBER("total_tokens"),
        [U_INPUT] = MEMBER("input_tokens"),
        [U_OUTPUT] = MEMBER("output_tokens"),
        [U_PDET] = MEMBER("prompt_tokens_details"),
        [U_IDET] = MEMBER("input_tokens_details"),
        [U_CREAD] = MEMBER("cache_read_input_tokens"),
        [U_CWRITE] = MEMBER("cache_creation_input_tokens"),
    };
    raw_usage_t r = RAW_NONE;
    r.whole = walk_object(obj, m, U_N, NULL);
    r.input = either(member_count(&m[U_PROMPT]), member_count(&m[U_INPUT]));
    r.output = either(member_count(&m[U_COMPLETION]), member_count(&m[U_OUTPUT]));
    /* embeddings: {"prompt_tokens": 8, "total_tokens": 8} — no output, which is 0, not unknown */
    int64_t total = member_count(&m[U_TOTAL]);
    if (r.output == ABSENT && r.whole && !m[U_COMPLETION].seen && !m[U_OUTPUT].seen && r.input >= 0 &&
        total >= r.input)
        r.output = total - r.input;

    int64_t oai = either(details_cached(&m[U_PDET]), details_cached(&m[U_IDET]));
    int64_t rd = member_count(&m[U_CREAD]), wr = member_count(&m[U_CWRITE]);
    bool anth_fields = rd != ABSENT || wr != ABSENT;
    if (!anth && anth_fields && oai != ABSENT) {
        /* both conventions at once in an event of unknown dialect: no way to tell what input includes */
        r.cached = r.cache_write = -1;
    } else if (anth || anth_fields) {
        r.conv = IG_USAGE_CACHED_SEPARATE;
        r.cached = rd;
        r.cache_write = wr;
    } else {
        if (oai != ABSENT || m[U_PROMPT].seen || m[U_PDET].seen || m[U_IDET].seen)
            r.conv = IG_USAGE_CACHED_INCLUDED;
        r.cached = oai;
        r.cache_write = ABSENT;
    }
    return r;
}

/* Ollama's final object: counts are top-level members. */
static raw_usage_t read_ollama(const member_t *peval, const member_t *eval, bool whole)
{
    raw_usage_t r = RAW_NONE;
    r.whole = whole;
    r.input = member_count(peval);
    r.output = member_count(eval);
    /* Ollama omits zero counts (omitempty): in a complete object, absent means 0 */
    if (whole && r.input == ABSENT) r.input = 0;
    if (whole && r.output == ABSENT) r.output = 0;
    r.cached = r.cache_write = ABSENT;
    return r;
}

/* One cumulative count seen in message_delta (d) and message_start (s): Anthropic documents message_delta's
 * counts as cumulative, so neither can be below the other; the larger is the total. Some compatible servers
 * send input_tokens 0 in message_delta, others add server-tool input there: max() is right for both. */
static int64_t cumulative(int64_t d, int64_t s)
{
    if (d == ABSENT) return s;
    if (s == ABSENT) return d;
    if (d < 0 || s < 0) return -1;
    return IG_MAX(d, s);
}

/* Anthropic stream: the last message_delta's usage with its message_start's. Output only from the delta
 * (message_start's is a placeholder and was dropped already). */
static raw_usage_t merge_anth(raw_usage_t delta, raw_usage_t start)
{
    raw_usage_t r = delta;
    r.input = cumulative(delta.input, start.input);
    r.cached = cumulative(delta.cached, start.cached);
    r.cache_write = cumulative(delta.cache_write, start.cache_write);
    r.whole = delta.whole && start.whole;
    r.conv = IG_USAGE_CACHED_SEPARATE;
    return r;
}

static void finish(raw_usage_t r, ig_usage_t *u)
{
    u->input = r.input == ABSENT ? -1 : r.input;
    u->output = r.output == ABSENT ? -1 : r.output;
    /* a cache count missing from a complete usage object means the provider had none to report */
    u->cached = r.cached == ABSENT ? (r.whole ? 0 : -1) : r.cached;
    u->cache_write = r.cache_write == ABSENT ? (r.whole ? 0 : -1) : r.cache_write;
    u->conv = r.conv;
}

/* ---- events: one JSON object of a body (the whole body, an SSE data line, an NDJSON line) ---- */

enum { E_TYPE, E_USAGE, E_RESPONSE, E_MESSAGE, E_DONE, E_PEVAL, E_EVAL, E_MODEL, E_N };

typedef struct {
    member_t m[E_N];
    bool whole;
    size_t end; /* just past the closing brace when whole */
} event_t;

static void walk_event(ig_iov_t ev, event_t *e)
{
    member_t init[E_N] = {
        [E_TYPE] = MEMBER("type"),       [E_USAGE] = MEMBER("usage"), [E_RESPONSE] = MEMBER("response"),
        [E_MESSAGE] = MEMBER("message"), [E_DONE] = MEMBER("done"),   [E_PEVAL] = MEMBER("prompt_eval_count"),
        [E_EVAL] = MEMBER("eval_count"), [E_MODEL] = MEMBER("model"),
    };
    memcpy(e->m, init, sizeof init);
    e->whole = walk_object(ev, e->m, E_N, &e->end);
}

static bool type_is(const event_t *e, ig_iov_t quoted)
{
    return ig_iov_eq(e->m[E_TYPE].val, quoted);
}

typedef enum {
    EV_NONE,       /* carries no usage */
    EV_USAGE,      /* final usage: a whole response, an OpenAI usage chunk, response.completed, Ollama done */
    EV_ANTH_DELTA, /* Anthropic message_delta: cumulative usage, input possibly only in message_start */
    EV_ANTH_START, /* Anthropic message_start: input counts; its output_tokens is a placeholder */
} ev_kind_t;

/* The usage an event carries, and what kind of event it is. */
static ev_kind_t usage_of_event(const event_t *e, raw_usage_t *r)
{
    *r = RAW_NONE;
    if (is_object(e->m[E_USAGE].val)) {
        bool delta = type_is(e, IG_IOV_LIT("\"message_delta\""));
        bool anth = delta || type_is(e, IG_IOV_LIT("\"message\""));
        *r = read_usage(e->m[E_USAGE].val, anth);
        return delta ? EV_ANTH_DELTA : EV_USAGE;
    }
    /* Responses API stream: response.completed / .incomplete / .failed carry response.usage */
    if (is_object(e->m[E_RESPONSE].val)) {
        member_t u[] = {MEMBER("usage")};
        walk_object(e->m[E_RESPONSE].val, u, 1, NULL);
        if (is_object(u[0].val)) {
            *r = read_usage(u[0].val, false);
            return EV_USAGE;
        }
    }
    if (type_is(e, IG_IOV_LIT("\"message_start\"")) && is_object(e->m[E_MESSAGE].val)) {
        member_t u[] = {MEMBER("usage")};
        walk_object(e->m[E_MESSAGE].val, u, 1, NULL);
        if (is_object(u[0].val)) {
            *r = read_usage(u[0].val, true);
            r->output = ABSENT; /* 1 or so at the start; the real count comes in message_delta */
            return EV_ANTH_START;
        }
    }
    if (ig_iov_eq(e->m[E_DONE].val, IG_IOV_LIT("true"))) {
        *r = read_ollama(&e->m[E_PEVAL], &e->m[E_EVAL], e->whole);
        return EV_USAGE;
    }
    return EV_NONE;
}

/* Copies the string token `tok` (quotes included) into dst when it is a complete, non-empty model name of
 * at most IG_USAGE_MODEL_MAX bytes without control characters. Plain ASCII is copied as is; anything with
 * an escape or a byte >= 0x80 is decoded and validated (UTF-8) by ig_json_parse. */
static bool take_model(ig_iov_t tok, char *dst)
{
    bool plain = true, ok = false;
    cJSON *j = NULL;
    if (tok.len < 3 || tok.base[0] != '"' || tok.base[tok.len - 1] != '"') goto out;
    for (size_t k = 1; k + 1 < tok.len; k++) {
        unsigned char c = (unsigned char)tok.base[k];
        if (c < 0x20 || c == 0x7f) goto out;
        if (c == '\\' || c >= 0x80) plain = false;
    }
    if (plain) {
        if (tok.len - 2 > IG_USAGE_MODEL_MAX) goto out;
        memcpy(dst, tok.base + 1, tok.len - 2);
        dst[tok.len - 2] = '\0';
        ok = true;
        goto out;
    }
    ig_json_limits_t lim = {MODEL_TOKEN_MAX, 0};
    if (ig_json_parse(tok, &lim, &j, NULL) != IG_OK || !cJSON_IsString(j)) goto out;
    size_t len = strlen(j->valuestring);
    if (len == 0 || len > IG_USAGE_MODEL_MAX) goto out;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)j->valuestring[k];
        if (c < 0x20 || c == 0x7f) goto out;
    }
    memcpy(dst, j->valuestring, len + 1);
    ok = true;
out:
    cJSON_Delete(j);
    return ok;
}

/* The model of an event: top-level "model" (OpenAI, Ollama, Anthropic non-stream), else message.model
 * (Anthropic message_start), else response.model (Responses API stream events). */
static bool model_of_event(const event_t *e, char *dst)
{
    if (take_model(e->m[E_MODEL].val, dst)) return true;
    const ig_iov_t outer[] = {e->m[E_MESSAGE].val, e->m[E_RESPONSE].val};
    for (size_t k = 0; k < IG_ARRAY_LEN(outer); k++) {
        if (!is_object(outer[k])) continue;
        member_t m[] = {MEMBER("model")};
        walk_object(outer[k], m, 1, NULL);
        if (take_model(m[0].val, dst)) return true;
    }
    return false;
}

/* ---- streams: lines of SSE ("data: {...}") or NDJSON ("{...}") ---- */

/* The JSON object a line carries (after an optional "data:" field name), or an empty range. */
static ig_iov_t line_payload(const char *p, size_t len)
{
    if (len && p[len - 1] == '\r') len--;
    size_t i = 0;
    if (len >= 5 && memcmp(p, "data:", 5) == 0) i = 5;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i >= len || p[i] != '{') return IG_IOV_NULL;
    return ig_iov(p + i, len - i);
}

/* true when `s` contains "name" followed by optional whitespace, ':', optional whitespace and `next`. A
 * cheap test run before walking a line: it may say yes wrongly (the walk decides), never no wrongly. */
static bool has_member(ig_iov_t s, ig_iov_t quoted, char next)
{
    const char *p = s.base, *end = s.base + s.len;
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), quoted.base, quoted.len);
        if (!q) return false;
        size_t i = skip_ws(q, (size_t)(end - q), quoted.len);
        if (i < (size_t)(end - q) && q[i] == ':') {
            i = skip_ws(q, (size_t)(end - q), i + 1);
            if (i < (size_t)(end - q) && q[i] == next) return true;
        }
        p = q + 1;
    }
    return false;
}

static bool may_carry_usage(ig_iov_t line)
{
    return has_member(line, IG_IOV_LIT("\"usage\""), '{') || has_member(line, IG_IOV_LIT("\"done\""), 't');
}

/* The first message_start before `limit` (Anthropic streams open with it). */
static raw_usage_t find_anth_start(ig_iov_t body, size_t limit)
{
    raw_usage_t r = RAW_NONE;
    size_t at = 0;
    event_t e;
    while (at < limit) {
        const char *nl = memchr(body.base + at, '\n', limit - at);
        size_t end = nl ? (size_t)(nl - body.base) : limit;
        ig_iov_t pl = line_payload(body.base + at, end - at);
        if (pl.len && memmem(pl.base, pl.len, "\"message_start\"", 15)) {
            walk_event(pl, &e);
            if (usage_of_event(&e, &r) == EV_ANTH_START) return r;
            r = RAW_NONE;
        }
        at = end + 1;
    }
    return r;
}

static void stream_model(ig_iov_t body, ig_usage_t *out)
{
    size_t at = 0;
    int events = 0;
    event_t e;
    while (at < body.len && events < MODEL_EVENTS) {
        const char *nl = memchr(body.base + at, '\n', body.len - at);
        size_t end = nl ? (size_t)(nl - body.base) : body.len;
        ig_iov_t pl = line_payload(body.base + at, end - at);
        if (pl.len) {
            events++;
            walk_event(pl, &e);
            if (model_of_event(&e, out->model)) return;
        }
        at = end + 1;
    }
}

/* The last usage-bearing event, scanning lines from the end. */
static void stream_usage(ig_iov_t body, ig_usage_t *out)
{
    size_t end = body.len;
    event_t e;
    raw_usage_t r;
    for (;;) {
        const char *nl = end ? memrchr(body.base, '\n', end) : NULL;
        size_t start = nl ? (size_t)(nl - body.base) + 1 : 0;
        ig_iov_t pl = line_payload(body.base + start, end - start);
        if (pl.len && may_carry_usage(pl)) {
            walk_event(pl, &e);
            ev_kind_t k = usage_of_event(&e, &r);
            if (k == EV_ANTH_DELTA) r = merge_anth(r, find_anth_start(body, start));
            if (k != EV_NONE) {
                finish(r, out);
                return;
            }
        }
        if (!nl) return;
        end = start - 1;
    }
}

/* ---- entry points ---- */

/* Hook: whether the provider says this response came from a cache rather than a generation. No provider
 * reports that in the body today; a header-based signal would be passed in by the caller. */
static bool looks_like_cache_hit(const char *provider, ig_iov_t resp)
{
    IG_UNUSED(provider);
    IG_UNUSED(resp);
    return false;
}

void ig_usage_init(ig_usage_t *u)
{
    u->input = u->output = u->cached = u->cache_write = -1;
    u->conv = IG_USAGE_CONV_BY_PROVIDER;
    u->cache_hit = false;
    u->model[0] = '\0';
}

void ig_usage_parse(const char *provider, ig_iov_t req_body, ig_iov_t resp_body, bool stream, ig_usage_t *out)
{
    IG_UNUSED(req_body);
    IG_UNUSED(stream);
    if (!out) return;
    ig_usage_init(out);
    if (!resp_body.base || !resp_body.len) return;
    out->cache_hit = looks_like_cache_hit(provider, resp_body);

    size_t i = skip_ws(resp_body.base, resp_body.len, 0);
    if (i < resp_body.len && resp_body.base[i] == '{') {
        /* one JSON object, or NDJSON when more follows a complete first object */
        event_t e;
        raw_usage_t r;
        walk_event(resp_body, &e);
        if (!e.whole || skip_ws(resp_body.base, resp_body.len, e.end) == resp_body.len) {
            if (usage_of_event(&e, &r) != EV_NONE) finish(r, out);
            model_of_event(&e, out->model);
            return;
        }
    }
    stream_usage(resp_body, out);
    stream_model(resp_body, out);
}

ig_usage_conv_t ig_usage_conv(const ig_usage_t *u, const char *provider)
{
    if (u->conv != IG_USAGE_CONV_BY_PROVIDER) return u->conv;
    return (provider && strcasecmp(provider, "anthropic") == 0) ? IG_USAGE_CACHED_SEPARATE
                                                                : IG_USAGE_CACHED_INCLUDED;
}

int64_t ig_usage_input_total(const ig_usage_t *u, const char *provider)
{
    if (u->input < 0) return -1;
    if (ig_usage_conv(u, provider) == IG_USAGE_CACHED_INCLUDED) return u->input;
    if (u->cached < 0 || u->cache_write < 0) return -1;
    return u->input + u->cached + u->cache_write;
}

bool ig_usage_request_model(ig_iov_t req_body, char dst[IG_USAGE_MODEL_MAX + 1])
{
    member_t m[] = {MEMBER("model")};
    dst[0] = '\0';
    walk_object(req_body, m, 1, NULL); /* members complete before a cut are usable */
    return take_model(m[0].val, dst);
}

/* the first present, positive, integral cap among max_tokens, max_completion_tokens, max_output_tokens */
static int64_t first_cap(const member_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = member_count(&m[i]);
        if (v > 0) return v;
    }
    return -1;
}

int64_t ig_usage_request_max_tokens(ig_iov_t req_body)
{
    /* chat completions (max_tokens, or its successor max_completion_tokens), responses (max_output_tokens),
     * anthropic messages (max_tokens); the first one present and usable counts */
    member_t m[] = {MEMBER("max_tokens"), MEMBER("max_completion_tokens"), MEMBER("max_output_tokens")};
    walk_object(req_body, m, IG_ARRAY_LEN(m), NULL);
    return first_cap(m, IG_ARRAY_LEN(m));
}

int64_t ig_usage_request_fields(ig_iov_t req_body, char model[IG_USAGE_MODEL_MAX + 1], int64_t *choices)
{
    member_t m[] = {MEMBER("max_tokens"),
                    MEMBER("max_completion_tokens"),
                    MEMBER("max_output_tokens"),
                    MEMBER("model"),
                    MEMBER("n"),
                    MEMBER("best_of")};
    model[0] = '\0';
    walk_object(req_body, m, IG_ARRAY_LEN(m), NULL); /* one pass over the body for all of them */
    if (!take_model(m[3].val, model)) model[0] = '\0';
    if (choices) {
        /* answers generated per request: n completions (best_of generates that many and returns n) */
        int64_t c = 1;
        for (size_t i = 4; i < 6; i++) {
            int64_t v = member_count(&m[i]);
            if (v > c) c = v;
            if (v == -1) c = IG_USAGE_MAX_CHOICES; /* there but unreadable: assume the most, never fewer */
        }
        *choices = IG_MIN(c, IG_USAGE_MAX_CHOICES);
    }
    return first_cap(m, 3);
}
