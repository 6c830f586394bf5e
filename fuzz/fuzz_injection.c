/*
 * fuzz_injection.c — libFuzzer target for prompt-injection scoring (src/guard/injection.c) over arbitrary
 * bytes (invalid UTF-8, NULs, huge repetitions of partial phrases).
 *
 * Input: the text (copied to an exact-size heap block, not NUL-terminated, so ASan sees any read past it).
 * Properties (abort on violation):
 *   1. the scan succeeds; the score is in [0, 100] and equals the capped sum of the matched rules' weights.
 *   2. scanning twice gives the same result, and scanning the two halves into one accumulator finds at
 *      least every rule found in either half alone (accumulation is a union).
 *   3. the fast scan (ig_injection_scan) and its specification (ig_injection_scan_reference) give the same
 *      rules, score and count: from an empty accumulator, and from one that already holds the rules named
 *      by the input's first byte (rules found earlier are skipped; neither scan may differ on which);
 *      and on a short input (<= 64 bytes) repeated to 4 KiB, where text dense in first words takes the fast
 *      scan past its budget of anchored matches (it then hands the rest to the reference's search).
 */
#include "core/err.h"
#include "guard/injection.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = malloc(size ? size : 1);
    if (!t) return 0;
    memcpy(t, data, size);
    ig_injection_result_t a = {0, 0, 0}, b = {0, 0, 0};
    if (ig_injection_scan(t, size, &a) != IG_OK || ig_injection_scan(t, size, &b) != IG_OK) abort();
    if (a.score < 0 || a.score > IG_INJECTION_MAX_SCORE || a.matched != b.matched || a.score != b.score)
        abort();
    int sum = 0, n = 0;
    for (int i = 0; i < ig_injection_rule_count(); i++)
        if (a.matched & (1u << i)) {
            sum += ig_injection_rule_weight(i);
            n++;
        }
    if (n != a.nmatched || (sum > IG_INJECTION_MAX_SCORE ? IG_INJECTION_MAX_SCORE : sum) != a.score) abort();
    ig_injection_result_t h1 = {0, 0, 0}, h2 = {0, 0, 0}, u = {0, 0, 0};
    size_t half = size / 2;
    if (ig_injection_scan(t, half, &h1) || ig_injection_scan(t + half, size - half, &h2)) abort();
    if (ig_injection_scan(t, half, &u) || ig_injection_scan(t + half, size - half, &u)) abort();
    if ((u.matched & (h1.matched | h2.matched)) != (h1.matched | h2.matched)) abort();
    ig_injection_result_t r = {0, 0, 0};
    if (ig_injection_scan_reference(t, size, &r) != IG_OK) abort();
    if (r.matched != a.matched || r.score != a.score || r.nmatched != a.nmatched) abort();
    uint32_t start = size ? (uint32_t)data[0] * 0x01010101u : 0; /* spread over the rule bits */
    start &= (1u << ig_injection_rule_count()) - 1;
    ig_injection_result_t fs = {0, start, 0}, rs = {0, start, 0};
    if (ig_injection_scan(t, size, &fs) != IG_OK || ig_injection_scan_reference(t, size, &rs) != IG_OK)
        abort();
    if (fs.matched != rs.matched || fs.score != rs.score || fs.nmatched != rs.nmatched) abort();
    if (size > 0 && size <= 64) {
        size_t n = 0;
        char *rep = malloc(4096);
        if (!rep) abort();
        while (n + size <= 4096) {
            memcpy(rep + n, data, size);
            n += size;
        }
        ig_injection_result_t fr = {0, 0, 0}, rr = {0, 0, 0};
        if (ig_injection_scan(rep, n, &fr) != IG_OK || ig_injection_scan_reference(rep, n, &rr) != IG_OK)
            abort();
        if (fr.matched != rr.matched || fr.score != rr.score || fr.nmatched != rr.nmatched) abort();
        free(rep);
    }
    free(t);
    return 0;
}
