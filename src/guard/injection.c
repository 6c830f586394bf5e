/*
 * injection.c — the prompt-injection rules and their scoring (see injection.h).
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

static struct {
    pthread_once_t once;
    int rc;
    pcre2_code *code[IG_ARRAY_LEN(RULES)];
    pcre2_match_context *mctx;
} g = {PTHREAD_ONCE_INIT, IG_OK, {NULL}, NULL};

static void compile_all(void)
{
    g.mctx = pcre2_match_context_create(NULL);
    if (!g.mctx) {
        g.rc = IG_ENOMEM;
        return;
    }
    pcre2_set_match_limit(g.mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(g.mctx, DEPTH_LIMIT);
    for (size_t i = 0; i < IG_ARRAY_LEN(RULES); i++) {
        int err = 0;
        PCRE2_SIZE off = 0;
        g.code[i] = pcre2_compile((PCRE2_SPTR)RULES[i].pattern, PCRE2_ZERO_TERMINATED,
                                  PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_UTF_CHECK,
                                  &err, &off, NULL);
        if (!g.code[i]) {
            IG_ERROR("guard", "injection rule %s does not compile (PCRE2 error %d at %zu)", RULES[i].name,
                     err, (size_t)off);
            g.rc = IG_EINTERNAL;
            return;
        }
        (void)pcre2_jit_compile(g.code[i], PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
    }
}

int ig_injection_init(void)
{
    pthread_once(&g.once, compile_all);
    return g.rc;
}

int ig_injection_scan(const char *text, size_t len, ig_injection_result_t *acc)
{
    int rc = ig_injection_init();
    if (rc) return rc;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) return IG_ENOMEM;
    for (size_t i = 0; text && len && i < IG_ARRAY_LEN(RULES); i++) {
        if (acc->matched & (1u << i)) continue; /* already found: distinct rules count once */
        int m = pcre2_match(g.code[i], (PCRE2_SPTR)text, len, 0, 0, md, g.mctx);
        /* a match, or a limit hit (fail closed); PCRE2_ERROR_NOMATCH is the only "clean" answer */
        if (m >= 0 || (m != PCRE2_ERROR_NOMATCH && m != PCRE2_ERROR_PARTIAL)) acc->matched |= 1u << i;
    }
    pcre2_match_data_free(md);
    acc->score = 0;
    acc->nmatched = 0;
    for (size_t i = 0; i < IG_ARRAY_LEN(RULES); i++)
        if (acc->matched & (1u << i)) {
            acc->score += RULES[i].weight;
            acc->nmatched++;
        }
    if (acc->score > IG_INJECTION_MAX_SCORE) acc->score = IG_INJECTION_MAX_SCORE;
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
