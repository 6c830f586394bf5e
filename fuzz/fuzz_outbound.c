/*
 * fuzz_outbound.c — libFuzzer target for the outbound URL validator (src/net/outbound.c).
 *
 * Input: "<operator allowlist>\n<org allowlist>\n<url>". With fewer than two '\n' the whole input is the URL
 * and fixed lists are used; a list that does not parse must say why (the fixed one is used instead). Names
 * are resolved by a deterministic fake resolver (no network): a hash of the name picks one to three
 * addresses from a table mixing public, private, loopback, metadata and IPv4-embedding IPv6 addresses;
 * names starting with "nx" do not resolve and names starting with "many" have too many addresses.
 *
 * Every answer must keep the contract, else the target aborts:
 *   - refused: a known error code, a non-NULL reason, and a zeroed target;
 *   - accepted: a NUL-terminated normalised URL under the limit, starting with https:// (http:// only when
 *     the operator allowlist is not empty) and holding no '#', '@' in the authority, space or control byte;
 *     a pinned address that parses strictly and, unless the operator allowlist covers it, passes the
 *     forbidden-range check again; the normalised URL checks again to the very same target; and the target
 *     pins into a libcurl easy handle.
 */
#include "core/err.h"
#include "net/outbound.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_OPERATOR "allowed.test, 10.9.0.0/16, 127.0.0.1:9000, [fd00::1]:8443"
#define DEFAULT_ORG      "partner.test:8443, 93.184.215.0/24:8443"

static const char *const POOL[] = {
    "93.184.215.14",  "8.8.8.8",          "2606:4700::1111", "10.0.0.5",
    "127.0.0.1",      "169.254.169.254",  "100.64.0.1",      "::1",
    "fe80::1",        "fd00::1",          "::ffff:10.0.0.1", "::ffff:8.8.8.8",
    "64:ff9b::a00:1", "64:ff9b::808:808", "2002:a00:1::1",   "2002:808:808::1",
    "2001::1",        "0.0.0.0",          "10.9.0.1",        "224.0.0.1",
};

static int fake_resolve(void *ctx, const char *host, ig_outbound_addr_t *addrs, size_t max, size_t *n)
{
    uint32_t h = 2166136261u;
    *n = 0;
    if (strncmp(host, "nx", 2) == 0) return IG_EUNAVAILABLE;
    if (strncmp(host, "many", 4) == 0) return IG_ETOOBIG;
    for (const char *p = host; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    size_t count = 1 + h % 3;
    for (size_t i = 0; i < count && *n < max; i++) {
        if (!ig_outbound_addr_parse(POOL[(h >> (4 + 5 * i)) % IG_ARRAY_LEN(POOL)], &addrs[*n])) abort();
        (*n)++;
    }
    return IG_OK;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static bool zeroed(const ig_outbound_target_t *t)
{
    static const ig_outbound_target_t zero;
    return memcmp(t, &zero, sizeof zero) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static CURL *curl;
    const uint8_t *nl1 = memchr(data, '\n', size);
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data)) : NULL;
    char *op = NULL, *org = NULL, *url;
    ig_outbound_policy_t *p = NULL;
    const char *why = NULL;
    ig_outbound_target_t t, again;

    if (!curl && !(curl = curl_easy_init())) abort();
    if (nl2) {
        op = dup_n(data, (size_t)(nl1 - data));
        org = dup_n(nl1 + 1, (size_t)(nl2 - nl1 - 1));
        url = dup_n(nl2 + 1, size - (size_t)(nl2 + 1 - data));
    } else {
        url = dup_n(data, size);
    }

    int rc = ig_outbound_policy_new(op ? op : DEFAULT_OPERATOR, &p, &why);
    if (rc == IG_OK && (!p || why)) abort();
    if (rc != IG_OK) {
        if (rc != IG_EINVAL || p || !why) abort();
        if (ig_outbound_policy_new(DEFAULT_OPERATOR, &p, NULL) != IG_OK) abort();
        free(op);
        op = NULL;
    }
    ig_outbound_policy_set_resolver(p, fake_resolve, NULL);
    if (org && ig_outbound_allowlist_validate(org, &why) != IG_OK) {
        if (!why) abort();
        free(org);
        org = NULL;
    }
    const char *org_list = nl2 ? org : DEFAULT_ORG;
    bool op_empty =
        op ? ig_outbound_allowlist_validate(op, NULL) == IG_OK && op[strspn(op, " \t")] == '\0' : false;

    why = "unset";
    memset(&t, 0xa5, sizeof t);
    rc = ig_outbound_check(p, org_list, url, &t, &why);
    if (rc != IG_OK) {
        if (rc != IG_EINVAL && rc != IG_EFORBIDDEN && rc != IG_EUNAVAILABLE && rc != IG_ENOMEM) abort();
        if (!why || !*why || !zeroed(&t)) abort();
        /* Pinning a refused (zeroed) target must fail. */
        struct curl_slist *pins = NULL;
        curl_easy_reset(curl);
        if (ig_outbound_curl_pin(curl, &t, &pins) != IG_EINVAL || pins) abort();
        goto out;
    }
    if (why) abort();
    size_t len = strnlen(t.url, sizeof t.url);
    if (len == sizeof t.url || !memchr(t.addr, '\0', sizeof t.addr) || !memchr(t.host, '\0', sizeof t.host))
        abort();
    const char *rest;
    if (strncmp(t.url, "https://", 8) == 0 && t.https)
        rest = t.url + 8;
    else if (strncmp(t.url, "http://", 7) == 0 && !t.https && !op_empty)
        rest = t.url + 7;
    else
        abort();
    if (strchr(t.url, '#')) abort();
    for (size_t i = 0; i < len; i++)
        if ((uint8_t)t.url[i] <= 0x20 || (uint8_t)t.url[i] >= 0x7f || t.url[i] == '\\') abort();
    size_t auth = strcspn(rest, "/?");
    if (memchr(rest, '@', auth) || rest[auth] != '/') abort();
    if (t.port < 1 || t.port > 65535) abort();
    if (!t.https && op_empty) abort();

    /* The pinned address: strict text, and public unless the operator allowlist covers it. */
    ig_outbound_addr_t a;
    if (!ig_outbound_addr_parse(t.addr, &a)) abort();
    if (!t.allowlisted && ig_outbound_addr_forbidden(&a) != NULL) abort();
    if (t.numeric) {
        ig_outbound_addr_t h;
        if (!ig_outbound_addr_parse(t.host, &h) || memcmp(h.b, a.b, 16) != 0) abort();
    }

    /* Idempotent: the normalised URL checks to the same target. */
    memset(&again, 0x5a, sizeof again);
    if (ig_outbound_check(p, org_list, t.url, &again, &why) != IG_OK || why) abort();
    if (memcmp(&t, &again, sizeof t) != 0) abort();

    struct curl_slist *pins = NULL;
    curl_easy_reset(curl);
    if (ig_outbound_curl_pin(curl, &t, &pins) != IG_OK || !pins) abort();
    curl_slist_free_all(pins);
    curl_easy_reset(curl);
out:
    ig_outbound_policy_free(p);
    free(url);
    free(org);
    free(op);
    return 0;
}
