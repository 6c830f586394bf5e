/*
 * fuzz_injection.c — libFuzzer target for prompt-injection scoring (src/guard/injection.c) over arbitrary
 * bytes (invalid UTF-8, NULs, huge repetitions of partial phrases).
 *
 * Input: the text (copied to an exact-size heap block, not NUL-terminated, so ASan sees any read past it).
 * Properties (abort on violation):
 *   1. the scan succeeds; the score is in [0, 100] and equals the capped sum of the matched rules' weights.
 *   2. scanning twice gives the same result, and scanning the two halves into one accumulator finds at
 *      least every rule found in either half alone (accumulation is a union).
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
    free(t);
    return 0;
}
