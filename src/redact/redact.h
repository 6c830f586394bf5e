/*
 * redact.h — PII redaction of captured LLM traffic, run by the log writer threads before a body reaches disk.
 *
 * A redactor is compiled once per org (default detectors + custom PCRE2 patterns) and is then immutable: any
 * number of threads may use one redactor at the same time. Per-call state (PCRE2 match data, JIT stack,
 * scratch buffers) lives in a small per-thread cache that is created on a thread's first call and freed when
 * the thread exits; scratch bytes that held decoded text are wiped before reuse.
 *
 * What is a match
 *   Default detectors (bitmask, all on by default):
 *   - IG_PII_EMAIL  local@domain: local part = RFC 5322 atext and dots (bytes >= 0x80 too, for UTF-8 local
 *                   parts); domain = two or more labels of [A-Za-z0-9-] (or bytes >= 0x80), the last one a
 *                   TLD of 2+ letters (or xn--…).
 *   - IG_PII_SSN    AAA-GG-SSSS (dashes only), area not 000 / 666 / 9xx, group not 00, serial not 0000.
 *   - IG_PII_CARD   Visa (4; 13/16/19 digits), Mastercard (51-55, 2221-2720; 16), Amex (34/37; 15),
 *                   Discover (6011, 644-649, 65, 622126-622925; 16-19), Luhn-checked, written as one run of
 *                   digits or in groups of 4 (the last 1-4) or Amex 4-6-5, separated by single spaces or
 *                   dashes.
 *   - IG_PII_PHONE  US: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, 1-555-123-4567; and
 *                   "+" forms: +1 555 123 4567, +15551234567, +44 20 7946 0958, +44 (0)20 7946 0958: a "+",
 *                   a non-zero digit, 8-15 digits in all, in groups separated by single spaces, dashes, dots
 *                   or parentheses. A bare run of digits is never a phone (it is a timestamp or a count).
 *   Digit detectors need word boundaries: no letter, digit or '_' on either side, and no "-" "." "/" ":"
 *   joining the match to another digit (so 2024-01-15, 1.2.3, ORD-2024-000123, UUIDs, IPs, timestamps, the
 *   middle of a longer digit run are not matched). IP addresses are deliberately not PII here: they are in
 *   every access log, and an org that wants them gone adds a custom pattern.
 *   Custom patterns: PCRE2, compiled with UTF + MATCH_INVALID_UTF (invalid UTF-8 never matches, never fails)
 *   and JIT, run under a match-limit context (see "Limits").
 *
 * Where matching happens
 *   IG_REDACT_JSON: the body is walked as JSON text (no tree is built: unchanged bytes are copied as they
 *     are, only the changed tokens are rewritten). Every string (keys included) is matched on its DECODED
 *     value, so "a\u0040b.com" is an email; every number token is matched too (a 16-digit Luhn-valid number
 *     is a card). A body cut short (the 10 MiB capture ceiling) is still handled as JSON up to its end.
 *     Several top-level values are accepted when separated by newlines (NDJSON). When a value does not
 *     parse (a syntax error before the end), the values before it stay JSON; the lines from the one where
 *     that value starts to the one with the error are redacted line by line (a line that is JSON as JSON,
 *     any other as text), and JSON resumes on the next line. So one bad line of an NDJSON stream does not
 *     keep the other events from joining streams, and an event over two lines (a raw newline in one of its
 *     strings) stays one event. Such a body's output is then redacted again, as the body it now is, until
 *     it parses or a reading leaves it as it was (a dropped bad line may leave the lines around it one
 *     value, whose text joins a stream); a body still changing after IG_REDACT_MAX_PASSES readings is
 *     replaced whole, as a text unit is.
 *   IG_REDACT_SSE: line by line ("\n", "\r\n" or "\r"); a "data:" value that is JSON is redacted as a JSON
 *     document, any other value ("[DONE]", plain text, "event:" values, comments) as a text unit. The field
 *     name is kept.
 *   In both, the text of a streamed answer is also matched across events: see "Streams".
 *   IG_REDACT_TEXT: each line (without its "\n" / "\r\n") is a unit. Custom patterns see one line at a time.
 *     A text unit that contains a backslash is matched twice, as it is and with JSON escapes decoded, so
 *     JSON that fell back to text (or JSON quoted inside text) cannot hide PII behind \u escapes.
 *
 * Streams (SSE and JSON bodies)
 *   A streamed answer carries its text split across events, and PII with it ("jo", "hn@exa", "mple.com").
 *   The pieces ("fragments") are the JSON strings at these paths of an event's top-level object (an SSE
 *   "data:" value, an NDJSON line):
 *     OpenAI chat      choices[].delta.content, .refusal, .reasoning_content, .reasoning;
 *                      choices[].delta.tool_calls[].function.arguments; completions: choices[].text
 *     OpenAI Responses delta (the text of every response.*.delta event)
 *     Anthropic        delta.text, delta.partial_json, delta.thinking (content_block_delta)
 *     Ollama           message.content, message.thinking, response, thinking
 *   Fragments make one stream per path and per value of the index-like members of the objects around them
 *   ("index" of a choice, tool call or content block; "output_index", "content_index", "summary_index"),
 *   in body order: different choices, tool calls or blocks are never joined, nor is any other field (ids,
 *   roles, names). Each stream's decoded fragments are concatenated and matched (every detector, the same
 *   limits), and each fragment alone as well (its ends are boundaries, as when each event was redacted on
 *   its own); every match rewrites each fragment it overlaps:
 *     pattern  the matched characters are removed from each fragment and "[REDACTED]" is put in the one
 *              where the match starts, so the fragments joined read "...[REDACTED]..."; escapes outside
 *              matches stay as written; rounds as for a unit (below);
 *     hash     the fragment becomes "[REDACTED]";
 *     drop     the fragment becomes null (the joined text goes on without it, and is matched again).
 *   A limit or the spent budget fails the whole stream closed: its whole text is one match. Everything else
 *   in an event is redacted per event, as described above. Memory: 32 bytes per fragment; the decoded text
 *   of one stream at a time (at most the body's size; a second copy while a match rewrites it) and 56 bytes
 *   per fragment of that stream; and, once a fragment changed, a copy of the output from it on.
 *
 * Modes (what replaces a match)
 *   IG_REDACT_PATTERN  each match inside a unit becomes "[REDACTED]" (overlapping matches become one). The
 *                      result is matched again, because removing a match can expose a neighbour (at most
 *                      IG_REDACT_MAX_PASSES rounds; a unit still matching after that is replaced whole).
 *   IG_REDACT_HASH     the whole unit becomes "[REDACTED]": a JSON string value or key becomes "[REDACTED]",
 *                      a matching JSON number becomes the string "[REDACTED]", a text unit (line / SSE
 *                      value) becomes [REDACTED].
 *   IG_REDACT_DROP     a JSON value becomes null (a key, which cannot be null, becomes "[REDACTED]"); a text
 *                      unit becomes empty (the line and its terminator stay).
 *   Valid JSON in gives valid JSON out in every mode. Keys are rewritten too, so two keys of one object may
 *   both become "[REDACTED]" (duplicate keys; still RFC 8259 JSON, which only says SHOULD be unique).
 *
 * Typed tokens (outbound guardrails, guard/guard.h)
 *   ig_redact_typed() redacts ONE text (a decoded JSON string value of a request) for the upstream: each
 *   match becomes the token of the detector that found it, "[EMAIL_REDACTED]", "[SSN_REDACTED]",
 *   "[CC_REDACTED]", "[PHONE_REDACTED]", or "[CUSTOM_REDACTED]" for an org's custom pattern. Overlapping
 *   matches become one, typed after the longest of those that start first. Rounds as in pattern mode (a
 *   text still matching after IG_REDACT_MAX_PASSES is replaced whole, by the token of its first match); a
 *   limit or the spent budget replaces the whole text by "[CUSTOM_REDACTED]". Counts per type are
 *   reported: one per merged match (a match a replacement revealed counts too; a text replaced whole
 *   counts one more).
 *
 * Limits (fail closed: over-redacting beats leaking)
 *   Each custom-pattern search runs with a match limit (IG_REDACT_MATCH_LIMIT), a depth limit and a heap
 *   limit (interpreter only; JIT uses a bounded per-thread JIT stack). PCRE2 applies the match limit per
 *   start position, so one search over a long unit is cut into windows of IG_REDACT_WINDOW start positions,
 *   and between windows a per-call time budget (IG_REDACT_BUDGET_*) is checked. When a limit error or the
 *   budget ends a search, the unit is treated as matched in the current mode (pattern mode replaces the
 *   whole unit), and once the budget is spent every later unit a custom pattern would examine is, too.
 */
#ifndef IG_REDACT_REDACT_H
#define IG_REDACT_REDACT_H

#include "core/buf.h"
#include "core/common.h"

enum {
    IG_PII_EMAIL = 1,
    IG_PII_SSN = 2,
    IG_PII_CARD = 4,
    IG_PII_PHONE = 8,
    IG_PII_DEFAULTS = 15,
};

/* The type of a match, for typed tokens and counts (ig_redact_typed). */
enum { IG_PII_T_EMAIL = 0, IG_PII_T_SSN, IG_PII_T_CARD, IG_PII_T_PHONE, IG_PII_T_CUSTOM, IG_PII_NTYPES };

typedef struct {
    uint32_t n[IG_PII_NTYPES]; /* matches per IG_PII_T_* */
} ig_pii_counts_t;

typedef enum { IG_REDACT_PATTERN = 0, IG_REDACT_HASH, IG_REDACT_DROP } ig_redact_mode_t;
typedef enum { IG_REDACT_TEXT = 0, IG_REDACT_JSON, IG_REDACT_SSE } ig_redact_kind_t;

/* What a match (pattern mode) or a whole unit (hash mode) is replaced with. */
#define IG_REDACT_MARK "[REDACTED]"

/* Custom patterns per org: each one is a full pass over every unit, so the count bounds the cost. */
#define IG_REDACT_MAX_CUSTOM 32
/* Longest custom pattern accepted (bytes). PII patterns are short; this bounds compile time and memory. */
#define IG_REDACT_MAX_PATTERN_BYTES 1024
/* PCRE2 match limit per start position (~0.15 ms of JIT backtracking on this machine). A sane pattern
 * needs a few hundred steps at a position; (a+)+$ on 30 a's needs billions. */
#define IG_REDACT_MATCH_LIMIT 100000
/* Interpreter-only limits (a pattern JIT cannot compile): backtracking depth and heap KiB. */
#define IG_REDACT_DEPTH_LIMIT    10000
#define IG_REDACT_HEAP_LIMIT_KIB 8192
/* Start positions per pcre2_match call, so the budget is checked at least every ~2048 x 0.15 ms. */
#define IG_REDACT_WINDOW 2048
/* Time budget for custom patterns per call: BASE + PER_MIB for each MiB of input and each custom pattern
 * (a floor of ~10 MB/s per pattern; PCRE2-JIT runs typical patterns at 1 GB/s). */
#define IG_REDACT_BUDGET_BASE_MS    100
#define IG_REDACT_BUDGET_MS_PER_MIB 100
/* Pattern-mode rounds per unit before it is replaced whole (see "Modes"); also readings of a JSON body with
 * a value that does not parse (see "Where matching happens"). */
#define IG_REDACT_MAX_PASSES 3
/* JSON nesting followed; deeper documents are redacted as text (cJSON itself refuses > 1000). */
#define IG_REDACT_MAX_DEPTH 1024

typedef struct ig_redactor ig_redactor_t;

/*
 * Compiles a redactor: `defaults` is a mask of IG_PII_* (0 = no default detector), `custom` an array of
 * `ncustom` NUL-terminated PCRE2 patterns (may be NULL when ncustom is 0).
 * IG_OK: *out is the redactor (free with ig_redactor_free).
 * IG_EINVAL: unknown bits in `defaults`, more than IG_REDACT_MAX_CUSTOM patterns, or a pattern that is NULL,
 *   empty, longer than IG_REDACT_MAX_PATTERN_BYTES, fails to compile, or can match the empty string; `err`
 *   (if err != NULL and errlen > 0) then holds a message naming the pattern by its 1-based index, e.g.
 *   "custom pattern 2: missing closing parenthesis at offset 7" (the pattern itself is not echoed).
 * IG_ENOMEM: allocation failure. On any error *out is NULL.
 */
int ig_redactor_new(unsigned defaults, const char *const *custom, size_t ncustom, ig_redactor_t **out,
                    char *err, size_t errlen);
void ig_redactor_free(ig_redactor_t *r);

/* The kind of body a Content-Type value announces: text/event-stream is SSE, any media type with "json" in
 * it (application/json, application/x-ndjson, application/problem+json) is JSON, anything else is text. */
ig_redact_kind_t ig_redact_kind_of(ig_iov_t content_type);

/*
 * Appends the redacted copy of body `in` to `out`. `in` need not be NUL-terminated and may hold any bytes.
 * *nmatches (if nmatches != NULL) = redactions made: each merged match counts one, and each unit that
 * failed closed counts one; 0 means the appended bytes equal `in`.
 * IG_OK; IG_EINVAL (r or out NULL, in.base NULL with in.len > 0, unknown mode or kind); IG_ETOOBIG (the
 * result does not fit under out's ceiling); IG_ENOMEM. On any error nothing is appended (out->len is as it
 * was) and *nmatches is 0: the caller must not store the body unredacted.
 * Size: the result can be longer than `in`, since a match shorter than the mark grows to 10 bytes. With
 * the default detectors the shortest match is 6 bytes (a@b.co), so the result is at most 10/6 of the input
 * (plus 5 bytes per raw control byte inside a JSON string rewritten after a second round, which valid JSON
 * does not have). In hash mode a match over many stream fragments turns each into "[REDACTED]": a 1-byte
 * fragment grows by 9 bytes and takes at least 11 input bytes ("text":"a",), so at most 20/11. A custom
 * pattern whose shortest match is n bytes allows about 10/n (10x for n = 1).
 */
int ig_redact_body(const ig_redactor_t *r, ig_redact_mode_t mode, ig_redact_kind_t kind, ig_iov_t in,
                   ig_buf_t *out, size_t *nmatches);

/*
 * One short value (an attribution id such as X-Ingate-User-Id), matched as one text unit (no line
 * splitting). No match: `in` is appended and *dropped = false. A match: pattern mode appends the value with
 * each match replaced, hash mode appends "[REDACTED]", drop mode appends nothing and sets *dropped = true
 * (store no value). Errors and *nmatches as for ig_redact_body; `dropped` may be NULL.
 */
int ig_redact_field(const ig_redactor_t *r, ig_redact_mode_t mode, ig_iov_t in, ig_buf_t *out, bool *dropped,
                    size_t *nmatches);

/*
 * Typed-token redaction of one text (see "Typed tokens"): the matches in `text` (any bytes, not
 * NUL-terminated) are added to *counts (added to, not reset: a request's values are counted one by one).
 * out != NULL: the text with each match replaced by its type's token is appended (the text itself when
 * nothing matched); *changed (may be NULL) = something was replaced.
 * IG_OK; IG_EINVAL (r or counts NULL, text.base NULL with text.len > 0); IG_ETOOBIG (out's ceiling);
 * IG_ENOMEM. On error nothing is appended and *counts is unchanged. Thread-safe as ig_redact_body.
 */
int ig_redact_typed(const ig_redactor_t *r, ig_iov_t text, ig_buf_t *out, ig_pii_counts_t *counts,
                    bool *changed);
/* "email", "ssn", "card", "phone", "custom"; and the tokens above. NULL for a type out of range. */
const char *ig_pii_type_name(int type);
const char *ig_pii_type_token(int type);

#endif
