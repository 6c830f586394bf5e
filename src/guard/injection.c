/*
 * injection.c — the prompt-injection rules and their scoring (see injection.h).
 *
 * Two scans give the same answer. ig_injection_scan_reference() is the specification: each rule not yet
 * matched runs its own PCRE2 search over the whole text. ig_injection_scan() is the fast path. Most rules
 * (the "gated" ones, as lead_words() decides) have the shape \b(?:word…|word…)… or \bword…: every match
 * starts at a word boundary with one of a few literal first words ("ignore", "tell" of "tell\s+me",
 * "jailbr"…), and in most of them a \s character follows that word. The fast path walks the text once in C,
 * stops at the word starts that begin with one of those words, and there runs only the rules of the words
 * found, anchored (PCRE2_ANCHORED, start_offset there). The other rules (chat-template tokens, fake system
 * headers: rare first bytes, cheap) keep their own search. On ordinary prose that is about one anchored
 * match per 200 bytes instead of ten searches of every byte; text dense in first words ("do you …") is
 * bounded by a budget of anchored matches, past which the reference's search finishes the text.
 *
 * Why the two agree (tests/unit/test_injection.c and fuzz/fuzz_injection.c compare them):
 *  1. A search finds rule R, or fails on a limit, iff R's attempt at some start position p does; that
 *     attempt is the same computation in the search and in an anchored match at start_offset p: \b and
 *     lookbehinds read the bytes before p in both, and what could tell them apart (\G, verbs such as
 *     (*COMMIT), inline options) keeps a rule out of the gated set. PCRE2 counts the match and depth limits
 *     per start position (checked on 10.42, JIT and interpreter), so a limit hit at p happens in both and
 *     counts as a match in both (fail closed). An attempt that fails on \b, its first word or the \s after
 *     it stops within a few steps: a clean no-match in both. So the fast path is exact if it runs R
 *     anchored at every p where \b and one of R's first words (and a \s after it, where R needs one) match;
 *     running it at more positions only costs time. Likewise a search from start_offset p finds R iff an
 *     attempt at some position >= p does: after the budget, the walk has settled every position before p.
 *  2. Letters: under these options the characters that match an ASCII letter caselessly are its two ASCII
 *     cases, plus 'ſ' U+017F for s and 'K' U+212A for k, nothing else in Unicode (the unit test
 *     only_s_and_k_fold_to_ascii checks every code point against the linked PCRE2). letter_at() reads
 *     exactly these, so rules_at(p) finds every first word that matches at p; its second-letter shortcut
 *     only drops words whose second letter is not the ASCII letter at that place.
 *  3. Word boundaries and spaces: which ASCII bytes are \w and \s is asked of PCRE2 itself at start-up; a
 *     byte from 0x80 up is treated as unknown. The walk skips only the positions p where t[p - 1] and t[p]
 *     are both ASCII \w bytes: no boundary there. It looks at every other position that starts a first
 *     letter: an ASCII one, or 'ſ' / 'K' (not \w themselves without PCRE2_UCP, so "xſkip" has a boundary
 *     before the 'ſ' and " ſkip" has none), and PCRE2's own \b in the anchored rule decides. A word its
 *     rules need a \s after (space_first() proves it from the pattern, or says no) is dropped only when
 *     the text ends there or the next byte is an ASCII byte that is not \s. Whatever precedes p (invalid
 *     UTF-8, NUL, a truncated sequence) is read by the same engine in both scans.
 *  4. The fast path runs only when every pattern is JIT-compiled, so both scans run on the same engine.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "guard/injection.h"
#include "core/err.h"
#include "core/log.h"

#include <pcre2.h>
#include <pthread.h>

/* PCRE2 limits for one scan: far above what these patterns need on any text, so hitting them means
 * something pathological (counted as a match: fail closed). */
#define MATCH_LIMIT 1000000u
#define DEPTH_LIMIT 1000u

/* Shorthands: W = whitespace between words; Q = up to three filler words ("all the", "of your", …). */
#define W "\\s+"
#define Q                                                                                                    \
    "(?:\\s+(?:all|any|every|the|of|my|your|these|those|its|previous|prior|above|earlier|original)){0,3}"

typedef struct {
    const char *name;
    int weight;
    const char *pattern;
} rule_t;

/* docs/guardrails.md lists these; keep both in step. Order is the bit order of ig_injection_result_t. */
static const rule_t RULES[] = {
    {"ignore_instructions", 60,
     "\\b(?:ignore|disregard|forget|skip|drop)" Q W
     "(?:instructions?|prompts?|rules|directions|guidelines)\\b"},
    {"override_instructions", 50,
     "\\b(?:override|overwrite|replace|bypass)" Q W "(?:system" W ")?(?:instructions?|prompts?|rules)\\b"},
    {"reveal_system_prompt", 50,
     "\\b(?:reveal|print|show|repeat|output|display|leak|tell\\s+me)" Q W
     "(?:system|hidden|initial|secret|developer)" W "(?:prompts?|instructions?|messages?)\\b"},
    {"new_instructions", 20, "\\b(?:new|updated|real|actual)" W "(?:instructions|system\\s+prompt)\\s*:"},
    {"role_override", 40,
     "\\byou" W "are" W "(?:now" W ")?(?:no\\s+longer" W "(?:an?\\s+)?(?:ai|assistant|chatbot|bound)|"
     "(?:dan|jailbroken|unrestricted|unfiltered|uncensored|evil)\\b)"},
    {"do_anything_now", 40,
     "\\b(?:do\\s+anything\\s+now|dan\\s+mode|developer\\s+mode\\s+(?:enabled|activated))\\b"},
    {"act_unrestricted", 40,
     "\\b(?:act|behave|respond|pretend|roleplay)" W "(?:as|like|to\\s+be)" W
     "(?:an?\\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken)\\b"},
    {"bypass_safety", 45,
     "\\b(?:bypass|disable|ignore|turn\\s+off|circumvent)" Q W
     "(?:safety|content|security|moderation|ethical)" W
     "(?:filters?|rules|guidelines|restrictions|policies|checks)\\b"},
    {"no_restrictions", 30,
     "\\bwithout" W "(?:any" W ")?(?:restrictions|limitations|filters|censorship|(?:ethical|moral)" W
     "(?:guidelines|limits|constraints))\\b"},
    {"jailbreak_word", 30, "\\bjailbr(?:eak|oken)\\b"},
    {"template_tokens", 35, "<\\|(?:im_start|im_end|system|endoftext)\\|>|\\[/?INST\\]|<</?SYS>>|</?system>"},
    {"fake_system_header", 15,
     "(?:^|\\n)\\s*(?:#{2,}\\s*)?(?:system|admin|developer)\\s*(?:message|prompt)?\\s*:"},
};

_Static_assert(IG_ARRAY_LEN(RULES) <= IG_INJECTION_MAX_RULES, "too many injection rules for the bit mask");

#define NRULES IG_ARRAY_LEN(RULES)

/* First words of the gated rules: at most MAX_WORDS distinct ones, each shorter than WORD_MAX letters (a rule
 * beyond either is simply not gated). */
#define MAX_WORDS 64
#define WORD_MAX  24

/* Anchored matches the fast path runs on a text of n bytes before it hands the rest to the reference's
 * search: one costs what the reference spends on 5 to 30 bytes, and ordinary prose needs about one per 200
 * bytes. Text dense in first words then costs at most about the reference's time (measured on 4 MiB of
 * "do you …", "ignore all the previous …" and the like: 0.7 to 1.0 times). */
#define ANCHORED_BUDGET(n) (64 + (n) / 32)

#define COMPILE_OPTIONS (PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_UTF_CHECK)

/* byte_class bits */
#define B_WORD  1 /* an ASCII byte PCRE2 counts as \w ([A-Za-z0-9_]) */
#define B_SPACE 2 /* an ASCII byte PCRE2 counts as \s (space, \t \n \v \f \r) */
#define B_FIRST 4 /* an ASCII letter some first word starts with (either case) */
#define B_FOLD  8 /* 0xC5 or 0xE2: may start 'ſ' U+017F (C5 BF) or 'K' U+212A (E2 84 AA) */

static struct {
    pthread_once_t once;
    int rc;
    bool fast;                    /* the fast path is on (every pattern JIT-compiled, some rule gated) */
    pcre2_code *code[NRULES];     /* every rule, unanchored: the reference scan and the ungated rules */
    pcre2_code *anchored[NRULES]; /* the gated rules compiled with PCRE2_ANCHORED (NULL: not gated) */
    uint32_t gated;               /* rules found through their first words */
    int nwords;
    char words[MAX_WORDS][WORD_MAX]; /* the distinct first words, lower-case ASCII letters */
    uint32_t word_rules[MAX_WORDS];  /* the rules starting with each */
    bool space_next[MAX_WORDS];      /* in each of those rules a \s character follows the word */
    uint8_t nfirst[26];              /* words by first letter: by_first[c - 'a'][0 .. nfirst[c - 'a']) */
    uint32_t second[26];             /* by first letter: the second letters of its words (bit c - 'a') */
    uint8_t by_first[26][MAX_WORDS];
    uint8_t byte_class[256];
    uint8_t letter[256]; /* an ASCII letter's index in the alphabet, either case; 26 for any other byte */
    pcre2_match_context *mctx;
} g = {.once = PTHREAD_ONCE_INIT};

static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_quantifier(char c)
{
    return c == '?' || c == '*' || c == '+' || c == '{';
}

/* From p inside a pattern, the end of the current alternative: the first '|' or ')' at this nesting level,
 * or the terminating NUL. NULL when the text holds what lead_words() does not reason about (any of which
 * could make an anchored attempt differ from an attempt inside a search, or hide a '|'): a character class,
 * \Q…\E, \G, a verb (*…), an inline option, callout or comment (?x…, (?-…, (?^…, (?#…). */
static const char *alternative_end(const char *p)
{
    int depth = 0;
    for (;; p++) {
        char c = *p;
        if (c == '\0') return depth ? NULL : p;
        if (c == '\\') {
            if (p[1] == '\0' || p[1] == 'Q' || p[1] == 'G') return NULL;
            p++;
        } else if (c == '[') {
            return NULL;
        } else if (c == '(') {
            if (p[1] == '*' || (p[1] == '?' && (is_letter(p[2]) || strchr("-^#", p[2])))) return NULL;
            depth++;
        } else if (c == ')') {
            if (depth == 0) return p;
            depth--;
        } else if (c == '|' && depth == 0) {
            return p;
        }
    }
}

/* A quantifier at q that allows zero repetitions. */
static bool optional_quantifier(const char *q)
{
    return *q == '?' || *q == '*' || (*q == '{' && (q[1] == '0' || q[1] == ','));
}

/* Whether every match of a rule's pattern from p on starts with a \s character; false when unsure (it only
 * ever reasons about \s, non-capturing groups and their quantifiers). p is just after a first word's
 * letters; after is just after the lead group the word is in (NULL: none), where the match goes on when
 * the word's alternative ends. */
static bool space_first(const char *p, const char *after)
{
    for (;;) {
        if ((*p == '|' || *p == ')') && after) {
            p = after;
            after = NULL;
        } else if (p[0] == '\\' && p[1] == 's') {
            return !optional_quantifier(p + 2);
        } else if (strncmp(p, "(?:", 3) == 0) {
            /* a group: every alternative must start with \s; if it may be skipped, so must what follows */
            const char *e = p + 3;
            for (;;) {
                if (!space_first(e, NULL) || !(e = alternative_end(e))) return false;
                if (*e == ')') break;
                e++;
            }
            if (!optional_quantifier(++e)) return true;
            if (*e == '{' && !(e = strchr(e, '}'))) return false;
            e++;
            p = *e == '?' || *e == '+' ? e + 1 : e; /* lazy or possessive */
        } else {
            return false;
        }
    }
}

typedef struct {
    char word[WORD_MAX]; /* lower-case ASCII letters */
    bool space_next;     /* every match has a \s character right after the word */
} lead_t;

/* The first words of rule pattern pat into out[0..n): n, or 0 when the rule is not of the gated shape
 * "\b(?:alt|alt…)rest" or "\balt" without a top-level '|', where each alt starts with letters that are not
 * quantified ("drops?" would not qualify). Every match of a gated rule then starts at a \b followed by one
 * of those words (point 1 at the top). */
static int lead_words(const char *pat, lead_t *out, int max)
{
    const char *p = pat, *after = NULL;
    if (strncmp(p, "\\b", 2) != 0) return 0;
    p += 2;
    bool group = strncmp(p, "(?:", 3) == 0;
    if (group) {
        /* the lead group: it must not be optional */
        const char *e = p += 3;
        while ((e = alternative_end(e)) && *e == '|')
            e++;
        if (!e || *e != ')' || is_quantifier(e[1])) return 0;
        after = e + 1;
    }
    const char *end = alternative_end(group ? after : p);
    if (!end || *end != '\0') return 0; /* a top-level '|' would start a match without the words */
    for (int n = 0;;) {
        size_t k = 0;
        while (is_letter(p[k]))
            k++;
        if (k == 0 || k >= WORD_MAX || n == max || is_quantifier(p[k])) return 0;
        for (size_t j = 0; j < k; j++)
            out[n].word[j] = (char)(p[j] | 0x20);
        out[n].word[k] = '\0';
        out[n++].space_next = space_first(p + k, after);
        if (!group) return n;
        p = alternative_end(p + k);
        if (!p || *p != '|') return p && *p == ')' ? n : 0;
        p++;
    }
}

/* The ASCII bytes PCRE2 itself puts in class `cls` (\w, \s) under the rules' options: out[b] for b <
 * 128 (bytes from 0x80 up are never counted: the walk treats them as unknown). false when PCRE2 fails. */
static bool ascii_class(const char *cls, bool out[128])
{
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)cls, PCRE2_ZERO_TERMINATED, COMPILE_OPTIONS | PCRE2_ANCHORED,
                                  &err, &off, NULL);
    pcre2_match_data *md = c ? pcre2_match_data_create(1, NULL) : NULL;
    bool ok = md != NULL;
    for (int b = 0; b < 128 && ok; b++) {
        unsigned char u = (unsigned char)b;
        int m = pcre2_match(c, &u, 1, 0, 0, md, NULL);
        ok = m >= 0 || m == PCRE2_ERROR_NOMATCH;
        out[b] = m >= 0;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return ok;
}

/* Finds the gated rules and their first words, fills the byte classes and compiles the anchored copies.
 * Leaves g.fast false when anything fails: ig_injection_scan then is the reference scan. */
static void compile_gate(void)
{
    bool word[128], space[128];
    if (!ascii_class("\\w", word) || !ascii_class("\\s", space)) return;
    uint32_t gated = 0;
    for (size_t i = 0; i < NRULES; i++) {
        lead_t w[MAX_WORDS];
        int n = lead_words(RULES[i].pattern, w, MAX_WORDS);
        int fresh = 0;
        for (int j = 0; j < n; j++) {
            int k = 0;
            while (k < g.nwords && strcmp(g.words[k], w[j].word) != 0)
                k++;
            fresh += k == g.nwords;
        }
        if (n == 0 || g.nwords + fresh > MAX_WORDS) continue; /* not gated: keeps its own full scan */
        for (int j = 0; j < n; j++) {
            int k = 0;
            while (k < g.nwords && strcmp(g.words[k], w[j].word) != 0)
                k++;
            if (k == g.nwords) {
                memcpy(g.words[k], w[j].word, WORD_MAX);
                g.word_rules[k] = 0;
                g.space_next[k] = true;
                g.nwords++;
                int c = w[j].word[0] - 'a';
                g.by_first[c][g.nfirst[c]++] = (uint8_t)k;
                g.second[c] |= w[j].word[1] ? 1u << (w[j].word[1] - 'a') : UINT32_MAX;
            }
            g.word_rules[k] |= 1u << i;
            g.space_next[k] &= w[j].space_next; /* a word shared by two rules: required only if by both */
        }
        gated |= 1u << i;
    }
    for (int b = 0; b < 256; b++) {
        bool letter = is_letter((char)b);
        g.letter[b] = (uint8_t)(letter ? (b | 0x20) - 'a' : 26);
        g.byte_class[b] = (uint8_t)((b < 128 && word[b] ? B_WORD : 0) | (b < 128 && space[b] ? B_SPACE : 0) |
                                    (letter && g.nfirst[(b | 0x20) - 'a'] ? B_FIRST : 0) |
                                    (b == 0xC5 || b == 0xE2 ? B_FOLD : 0));
    }
    for (size_t i = 0; i < NRULES; i++) {
        if (!(gated & (1u << i))) continue;
        int err = 0;
        PCRE2_SIZE off = 0;
        g.anchored[i] = pcre2_compile((PCRE2_SPTR)RULES[i].pattern, PCRE2_ZERO_TERMINATED,
                                      COMPILE_OPTIONS | PCRE2_ANCHORED, &err, &off, NULL);
        if (!g.anchored[i] || pcre2_jit_compile(g.anchored[i], PCRE2_JIT_COMPLETE) != 0) {
            IG_WARN("guard", "injection rule %s: no anchored JIT copy, the reference scan is used",
                    RULES[i].name);
            return;
        }
    }
    g.gated = gated;
    g.fast = gated != 0;
}

static void compile_all(void)
{
    g.mctx = pcre2_match_context_create(NULL);
    if (!g.mctx) {
        g.rc = IG_ENOMEM;
        return;
    }
    pcre2_set_match_limit(g.mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(g.mctx, DEPTH_LIMIT);
    bool all_jit = true;
    for (size_t i = 0; i < NRULES; i++) {
        int err = 0;
        PCRE2_SIZE off = 0;
        g.code[i] = pcre2_compile((PCRE2_SPTR)RULES[i].pattern, PCRE2_ZERO_TERMINATED, COMPILE_OPTIONS, &err,
                                  &off, NULL);
        if (!g.code[i]) {
            IG_ERROR("guard", "injection rule %s does not compile (PCRE2 error %d at %zu)", RULES[i].name,
                     err, (size_t)off);
            g.rc = IG_EINTERNAL;
            return;
        }
        /* the interpreter is the fallback */
        if (pcre2_jit_compile(g.code[i], PCRE2_JIT_COMPLETE) != 0) all_jit = false;
    }
    if (all_jit) compile_gate(); /* one engine for both scans */
}

int ig_injection_init(void)
{
    pthread_once(&g.once, compile_all);
    return g.rc;
}

/* Rule i's verdict from one PCRE2 answer: a match, or an error such as a limit hit (fail closed);
 * PCRE2_ERROR_NOMATCH is the only "clean" answer (PARTIAL cannot happen: no partial option is used). */
static bool hit(int m)
{
    return m >= 0 || (m != PCRE2_ERROR_NOMATCH && m != PCRE2_ERROR_PARTIAL);
}

/* The reference's per-rule search, from byte `from` on, for the rules in `which` not yet in *matched. */
static void full_scans(const char *text, size_t len, size_t from, uint32_t which, pcre2_match_data *md,
                       uint32_t *matched)
{
    for (size_t i = 0; i < NRULES; i++) {
        if (!(which & (1u << i)) || (*matched & (1u << i))) continue; /* distinct rules count once */
        if (hit(pcre2_match(g.code[i], (PCRE2_SPTR)text, len, from, 0, md, g.mctx))) *matched |= 1u << i;
    }
}

/* The letter t[q..] can match caselessly when it is not ASCII (point 2 at the top), and its length in
 * bytes; 0: none. */
static size_t folded_letter_at(const unsigned char *t, size_t len, size_t q, char *letter)
{
    if (t[q] == 0xC5 && q + 1 < len && t[q + 1] == 0xBF) {
        *letter = 's';
        return 2;
    }
    if (t[q] == 0xE2 && q + 2 < len && t[q + 1] == 0x84 && t[q + 2] == 0xAA) {
        *letter = 'k';
        return 3;
    }
    return 0;
}

/* The same for any t[q..], q < len. */
static inline size_t letter_at(const unsigned char *t, size_t len, size_t q, char *letter)
{
    if (t[q] < 0x80) {
        *letter = (char)(t[q] | 0x20);
        return is_letter((char)t[q]);
    }
    return folded_letter_at(t, len, q, letter);
}

/* The rules among `left` one of whose first words can match caselessly at t[p..] (point 2 at the top), and
 * be followed by a \s character there if its rules need one (a byte from 0x80 up might be one: the anchored
 * rule decides). */
static uint32_t rules_at(const unsigned char *t, size_t len, size_t p, uint32_t left)
{
    char first = 0;
    size_t n = letter_at(t, len, p, &first);
    if (!n) return 0;
    int c = first - 'a';
    /* most word starts fail on their second letter: "the" is no "tell" or "turn" */
    if (p + n < len && g.letter[t[p + n]] < 26 && !(g.second[c] >> g.letter[t[p + n]] & 1u)) return 0;
    uint32_t want = 0;
    for (int j = 0; j < g.nfirst[c]; j++) {
        int k = g.by_first[c][j];
        if (!(g.word_rules[k] & left & ~want)) continue;
        size_t q = p + n, m = 1;
        const char *w = g.words[k] + 1;
        for (char l = 0; *w && q < len && (m = letter_at(t, len, q, &l)) && l == *w; w++)
            q += m;
        if (*w || (g.space_next[k] && (q == len || (t[q] < 0x80 && !(g.byte_class[t[q]] & B_SPACE)))))
            continue;
        want |= g.word_rules[k];
    }
    return want & left;
}

/* The gated rules: at each position where one of their first words can start (point 3 at the top), the
 * rules of the words that match there, anchored. Text dense in first words ("do you …") would make that
 * slower than the reference: past a budget of anchored matches, the rules still unmatched finish with the
 * reference's search from the current position on (the walk has settled every position before it). */
static void gated_scans(const char *text, size_t len, pcre2_match_data *md, uint32_t *matched)
{
    const unsigned char *t = (const unsigned char *)text;
    uint32_t left = g.gated & ~*matched;
    size_t budget = ANCHORED_BUDGET(len);
    /* At the top of the loop p == 0, or t[p - 1] is not an ASCII \w byte, or t[p] is not: so an ASCII letter
     * at p follows a byte that is not \w, as \b needs there; the word skip stops at 0xC5 / 0xE2 (not \w). */
    for (size_t p = 0; p < len && left;) {
        uint8_t cls = g.byte_class[t[p]];
        uint32_t want = cls & (B_FIRST | B_FOLD) ? rules_at(t, len, p, left) : 0;
        for (size_t i = 0; want; i++, want >>= 1) {
            if (!(want & 1u)) continue;
            if (budget-- == 0) {
                *matched |= g.gated & ~left;
                full_scans(text, len, p, left, md, matched);
                return;
            }
            /* pcre2_jit_match: every pattern is JIT-compiled when the fast path is on (point 4) */
            if (hit(pcre2_jit_match(g.anchored[i], (PCRE2_SPTR)text, len, p, 0, md, g.mctx)))
                left &= ~(1u << i);
        }
        p++;
        if (cls & B_WORD)
            while (p < len && (g.byte_class[t[p]] & B_WORD))
                p++;
    }
    *matched |= g.gated & ~left;
}

static void score(ig_injection_result_t *acc)
{
    acc->score = 0;
    acc->nmatched = 0;
    for (size_t i = 0; i < NRULES; i++)
        if (acc->matched & (1u << i)) {
            acc->score += RULES[i].weight;
            acc->nmatched++;
        }
    if (acc->score > IG_INJECTION_MAX_SCORE) acc->score = IG_INJECTION_MAX_SCORE;
}

int ig_injection_scan_reference(const char *text, size_t len, ig_injection_result_t *acc)
{
    int rc = ig_injection_init();
    if (rc) return rc;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return IG_ENOMEM;
    if (text && len) full_scans(text, len, 0, UINT32_MAX, md, &acc->matched);
    pcre2_match_data_free(md);
    score(acc);
    return IG_OK;
}

int ig_injection_scan(const char *text, size_t len, ig_injection_result_t *acc)
{
    int rc = ig_injection_init();
    if (rc) return rc;
    if (!g.fast) return ig_injection_scan_reference(text, len, acc);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return IG_ENOMEM;
    if (text && len) {
        full_scans(text, len, 0, ~g.gated, md, &acc->matched);
        gated_scans(text, len, md, &acc->matched);
    }
    pcre2_match_data_free(md);
    score(acc);
    return IG_OK;
}

int ig_injection_rule_count(void)
{
    return (int)IG_ARRAY_LEN(RULES);
}

const char *ig_injection_rule_name(int i)
{
    return i >= 0 && i < (int)IG_ARRAY_LEN(RULES) ? RULES[i].name : NULL;
}

int ig_injection_rule_weight(int i)
{
    return i >= 0 && i < (int)IG_ARRAY_LEN(RULES) ? RULES[i].weight : 0;
}
