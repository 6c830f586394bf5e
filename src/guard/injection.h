/*
 * injection.h — prompt-injection screening: a fixed, documented set of weighted phrase patterns
 * (docs/guardrails.md lists them) scored over the text a client sends to the model.
 *
 * Each rule is a case-insensitive PCRE2 pattern over words separated by any whitespace ("ignore all previous
 * instructions", "reveal your system prompt", chat-template control tokens, …) with a weight from 10 to 60
 * saying how strongly it signals an attempt to override the model's instructions. The score of a text is the
 * sum of the weights of the DISTINCT rules that match anywhere in it, capped at 100: repeating one phrase
 * does not raise it, combining techniques does. A score at or above the threshold (default
 * IG_INJECTION_THRESHOLD) is an injection attempt.
 *
 * This is a heuristic with known limits: it reads English phrasing only, and spelling tricks (letters spaced
 * out, homoglyphs, base64) pass it. It is meant to catch the common, copy-pasted attacks cheaply and to put a
 * number in the call's log; block mode refuses what scores high.
 *
 * Matching is bounded: every pattern is linear-time in practice (no nested quantifiers) and runs with
 * PCRE2's match limit; a text that hits a limit counts the rule as matched (fail closed). Thread-safe: the
 * compiled rules are shared and read-only; each call uses its own match data.
 */
#ifndef IG_GUARD_INJECTION_H
#define IG_GUARD_INJECTION_H

#include "core/common.h"

#include <stdint.h>

#define IG_INJECTION_THRESHOLD 50  /* default: one strong signal (weight ≥ 50) or two medium ones */
#define IG_INJECTION_MAX_SCORE 100 /* scores are capped here */
#define IG_INJECTION_MAX_RULES 32

typedef struct {
    int score;        /* 0 .. IG_INJECTION_MAX_SCORE */
    uint32_t matched; /* bit i = rule i matched (ig_injection_rule_name(i)) */
    int nmatched;
} ig_injection_result_t;

/* Compiles the rules (once per process; later calls return at once). IG_OK, or IG_EINTERNAL if PCRE2
 * refuses one (a bug) / IG_ENOMEM. Called by ig_injection_scan itself when needed. */
int ig_injection_init(void);

/* Adds the rules matching text[0..len) to *acc (acc->matched accumulates across calls, so a request's
 * string values can be scanned one by one; acc->score and nmatched are recomputed from the union).
 * Zero *acc before the first call. IG_OK, IG_ENOMEM or an init error. The result is exactly
 * ig_injection_scan_reference's for every input (any bytes, any accumulator); it gets there faster by
 * looking for the rules' first words once rather than searching for each rule (injection.c says why the
 * two agree). */
int ig_injection_scan(const char *text, size_t len, ig_injection_result_t *acc);

/* The specification of ig_injection_scan, kept for its tests and fuzzer (tests/unit/test_injection.c,
 * fuzz/fuzz_injection.c): each rule not yet in acc->matched searches the whole text on its own, and is
 * matched when PCRE2 finds it or fails (a limit: fail closed). Same contract; not for the request path. */
int ig_injection_scan_reference(const char *text, size_t len, ig_injection_result_t *acc);

/* Number of rules, and the name and weight of rule i (NULL / 0 when out of range). */
int ig_injection_rule_count(void);
const char *ig_injection_rule_name(int i);
int ig_injection_rule_weight(int i);

#endif
