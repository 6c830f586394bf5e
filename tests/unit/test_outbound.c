/*
 * Unit tests of src/net/outbound: the forbidden address ranges at their edges, allowlist syntax, a table of
 * URL spellings with the expected verdict and reason (numeric IPv4 forms, IPv6 and its IPv4-embedding
 * forms, userinfo, ports, http vs https, operator and org allowlists, names resolving to forbidden or mixed
 * addresses), idempotence of the normalised URL, DNS rebinding caught by the second check, and the libcurl
 * pinning against local plain-HTTP servers: the request reaches the checked address although the URL's
 * host is not in DNS, environment proxies are ignored, a redirect is not followed, and the socket guard
 * refuses a connection rerouted elsewhere.
 *
 * No test touches the network: names are resolved by an injected resolver (fake_resolve), and the servers
 * listen on loopback.
 */
#include "unit.h"
#include "core/err.h"
#include "net/outbound.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define WHY(name) ig_outbound_why_text(IG_OUTBOUND_##name)

/* ---- the injected resolver ---- */

typedef struct {
    const char *name;
    const char *addrs[4]; /* NULL-terminated */
} fake_host_t;

static const fake_host_t FAKE_HOSTS[] = {
    {"public.test", {"93.184.215.14"}},
    {"v6public.test", {"2606:4700::1111"}},
    {"internal.test", {"10.0.0.5"}},
    {"mixed.test", {"93.184.215.14", "10.0.0.5"}},
    {"mixed6.test", {"2606:4700::1111", "fe80::1"}},
    {"meta.test", {"169.254.169.254"}},
    {"nat64.test", {"64:ff9b::7f00:1"}},
    {"nat64ok.test", {"64:ff9b::808:808"}},
    {"sixtofour.test", {"2002:c0a8:101::1"}},
    {"teredo.test", {"2001:0:4136:e378:8000:63bf:3fff:fdd2"}},
    {"cgnat.test", {"100.64.1.1"}},
    {"mapped.test", {"::ffff:127.0.0.1"}},
    {"allowed.test", {"10.1.1.1"}},
    {"sub.allowed.test", {"10.1.1.2"}},
    {"internal-ok.test", {"10.0.0.6"}},
    {"partner.test", {"93.184.215.20"}},
    {"orgpriv.test", {"10.0.0.7"}},
    {"in-cidr.test", {"10.9.0.1", "10.9.0.2"}},
    {"half-cidr.test", {"10.9.0.1", "10.0.0.1"}},
    {"xn--bcher-kva.example", {"93.184.215.30"}},
    {"exa_mple.test", {"93.184.215.31"}},
    {"localhost", {"127.0.0.1"}},
    {"empty.test", {NULL}},
};

static int g_rebind_calls;
static char g_receiver6_name[] = "receiver6.test";

static int fake_resolve(void *ctx, const char *host, ig_outbound_addr_t *addrs, size_t max, size_t *n)
{
    *n = 0;
    if (strcmp(host, "rebind.test") == 0) { /* public at registration, loopback at delivery */
        return ig_outbound_addr_parse(g_rebind_calls++ == 0 ? "93.184.215.14" : "127.0.0.1", &addrs[(*n)++])
                   ? IG_OK
                   : IG_EINTERNAL;
    }
    if (strcmp(host, "many.test") == 0) return IG_ETOOBIG;
    if (strcmp(host, "receiver.test") == 0)
        return ig_outbound_addr_parse("127.0.0.1", &addrs[(*n)++]) ? 0 : -1;
    if (strcmp(host, g_receiver6_name) == 0) return ig_outbound_addr_parse("::1", &addrs[(*n)++]) ? 0 : -1;
    for (size_t i = 0; i < IG_ARRAY_LEN(FAKE_HOSTS); i++) {
        if (strcmp(host, FAKE_HOSTS[i].name) != 0) continue;
        for (size_t k = 0; k < 4 && FAKE_HOSTS[i].addrs[k]; k++) {
            if (*n == max) return IG_ETOOBIG;
            if (!ig_outbound_addr_parse(FAKE_HOSTS[i].addrs[k], &addrs[(*n)++])) return IG_EINTERNAL;
        }
        return IG_OK;
    }
    return IG_EUNAVAILABLE;
}

#define OPERATOR_LIST "allowed.test, internal-ok.test:8080, 10.9.0.0/16, 127.0.0.1:9000, [fd00::1]:8443"

static ig_outbound_policy_t *policy(const char *list)
{
    ig_outbound_policy_t *p = NULL;
    const char *why = "unset";
    CHECK_EQ_INT(ig_outbound_policy_new(list, &p, &why), IG_OK);
    CHECK(why == NULL);
    if (p) ig_outbound_policy_set_resolver(p, fake_resolve, NULL);
    return p;
}

/* ---- addresses ---- */

TEST(forbidden_ranges_at_their_edges)
{
    static const struct {
        const char *ip;
        ig_outbound_why_t why;
    } cases[] = {
        {"1.1.1.1", IG_OUTBOUND_OK},
        {"8.8.8.8", IG_OUTBOUND_OK},
        {"0.0.0.0", IG_OUTBOUND_UNSPECIFIED},
        {"0.255.255.255", IG_OUTBOUND_UNSPECIFIED},
        {"1.0.0.0", IG_OUTBOUND_OK},
        {"9.255.255.255", IG_OUTBOUND_OK},
        {"10.0.0.0", IG_OUTBOUND_PRIVATE},
        {"10.255.255.255", IG_OUTBOUND_PRIVATE},
        {"11.0.0.0", IG_OUTBOUND_OK},
        {"100.63.255.255", IG_OUTBOUND_OK},
        {"100.64.0.0", IG_OUTBOUND_CGNAT},
        {"100.127.255.255", IG_OUTBOUND_CGNAT},
        {"100.128.0.0", IG_OUTBOUND_OK},
        {"126.255.255.255", IG_OUTBOUND_OK},
        {"127.0.0.1", IG_OUTBOUND_LOOPBACK},
        {"127.255.255.254", IG_OUTBOUND_LOOPBACK},
        {"128.0.0.0", IG_OUTBOUND_OK},
        {"169.253.255.255", IG_OUTBOUND_OK},
        {"169.254.169.254", IG_OUTBOUND_LINKLOCAL},
        {"169.255.0.0", IG_OUTBOUND_OK},
        {"172.15.255.255", IG_OUTBOUND_OK},
        {"172.16.0.0", IG_OUTBOUND_PRIVATE},
        {"172.31.255.255", IG_OUTBOUND_PRIVATE},
        {"172.32.0.0", IG_OUTBOUND_OK},
        {"192.0.0.0", IG_OUTBOUND_RESERVED},
        {"192.0.0.255", IG_OUTBOUND_RESERVED},
        {"192.0.1.0", IG_OUTBOUND_OK},
        {"192.0.2.1", IG_OUTBOUND_DOCUMENTATION},
        {"192.88.99.1", IG_OUTBOUND_RESERVED},
        {"192.167.255.255", IG_OUTBOUND_OK},
        {"192.168.0.0", IG_OUTBOUND_PRIVATE},
        {"192.168.255.255", IG_OUTBOUND_PRIVATE},
        {"192.169.0.0", IG_OUTBOUND_OK},
        {"198.17.255.255", IG_OUTBOUND_OK},
        {"198.18.0.0", IG_OUTBOUND_BENCHMARK},
        {"198.19.255.255", IG_OUTBOUND_BENCHMARK},
        {"198.20.0.0", IG_OUTBOUND_OK},
        {"198.51.100.7", IG_OUTBOUND_DOCUMENTATION},
        {"203.0.113.7", IG_OUTBOUND_DOCUMENTATION},
        {"203.0.114.0", IG_OUTBOUND_OK},
        {"223.255.255.255", IG_OUTBOUND_OK},
        {"224.0.0.0", IG_OUTBOUND_MULTICAST},
        {"239.255.255.255", IG_OUTBOUND_MULTICAST},
        {"240.0.0.0", IG_OUTBOUND_RESERVED},
        {"255.255.255.254", IG_OUTBOUND_RESERVED},
        {"255.255.255.255", IG_OUTBOUND_BROADCAST},
        {"2606:4700::1111", IG_OUTBOUND_OK},
        {"2000::1", IG_OUTBOUND_OK},
        {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", IG_OUTBOUND_OK},
        {"1fff:ffff::", IG_OUTBOUND_NOTGLOBAL},
        {"4000::1", IG_OUTBOUND_NOTGLOBAL},
        {"5f00::1", IG_OUTBOUND_NOTGLOBAL},
        {"::", IG_OUTBOUND_UNSPECIFIED},
        {"::1", IG_OUTBOUND_LOOPBACK},
        {"::2", IG_OUTBOUND_V4COMPAT},
        {"::a00:1", IG_OUTBOUND_V4COMPAT},
        {"::808:808", IG_OUTBOUND_V4COMPAT},
        {"::ffff:10.0.0.1", IG_OUTBOUND_PRIVATE},
        {"::ffff:127.0.0.1", IG_OUTBOUND_LOOPBACK},
        {"::ffff:8.8.8.8", IG_OUTBOUND_OK},
        {"::ffff:0:808:808", IG_OUTBOUND_MAPPED},
        {"64:ff9b::7f00:1", IG_OUTBOUND_NAT64},
        {"64:ff9b::a9fe:a9fe", IG_OUTBOUND_NAT64},
        {"64:ff9b::808:808", IG_OUTBOUND_OK},
        {"64:ff9b:1::1", IG_OUTBOUND_RESERVED},
        {"100::1", IG_OUTBOUND_RESERVED},
        {"2001::1", IG_OUTBOUND_TEREDO},
        {"2001:0:ffff::1", IG_OUTBOUND_TEREDO},
        {"2001:2::1", IG_OUTBOUND_BENCHMARK},
        {"2001:1ff::1", IG_OUTBOUND_RESERVED},
        {"2001:200::1", IG_OUTBOUND_OK},
        {"2001:db8::1", IG_OUTBOUND_DOCUMENTATION},
        {"2001:db9::1", IG_OUTBOUND_OK},
        {"2002:808:808::1", IG_OUTBOUND_OK},
        {"2002:a00:1::1", IG_OUTBOUND_SIXTOFOUR},
        {"2002:7f00:1::", IG_OUTBOUND_SIXTOFOUR},
        {"3fff::1", IG_OUTBOUND_DOCUMENTATION},
        {"3fff:fff::1", IG_OUTBOUND_DOCUMENTATION},
        {"3fff:1000::1", IG_OUTBOUND_OK},
        {"fc00::1", IG_OUTBOUND_ULA},
        {"fdff:ffff::1", IG_OUTBOUND_ULA},
        {"fe80::1", IG_OUTBOUND_LINKLOCAL},
        {"febf:ffff::1", IG_OUTBOUND_LINKLOCAL},
        {"fec0::1", IG_OUTBOUND_SITELOCAL},
        {"feff::1", IG_OUTBOUND_SITELOCAL},
        {"ff02::1", IG_OUTBOUND_MULTICAST},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", IG_OUTBOUND_MULTICAST},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        ig_outbound_addr_t a;
        CHECK(ig_outbound_addr_parse(cases[i].ip, &a));
        const char *got = ig_outbound_addr_forbidden(&a);
        const char *want = cases[i].why ? ig_outbound_why_text(cases[i].why) : NULL;
        if (got != want) {
            fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", cases[i].ip, got ? got : "(allowed)",
                    want ? want : "(allowed)");
            CHECK(got == want);
        }
    }
    ig_outbound_addr_t a;
    CHECK(!ig_outbound_addr_parse("127.1", &a)); /* strict text only */
    CHECK(!ig_outbound_addr_parse("fe80::1%eth0", &a));
    CHECK(!ig_outbound_addr_parse("[::1]", &a));
    CHECK(!ig_outbound_addr_parse(NULL, &a));
    CHECK(ig_outbound_addr_forbidden(NULL) != NULL);
}

/* ---- allowlists ---- */

TEST(allowlist_syntax)
{
    static const char *const good[] = {
        NULL,
        "",
        "  ",
        "hook.example.com",
        "Hook.Example.COM.",
        "hook.example.com:8443",
        "10.0.0.5",
        "10.0.0.5:8080",
        "0x7f.1:9000",
        "::1",
        "[::1]",
        "[::1]:8080",
        "10.0.0.0/8",
        "10.0.0.0/8:9000",
        "0.0.0.0/0",
        "fd00::/8",
        "[fd00::/8]:8443",
        "xn--bcher-kva.example",
        " a.test , b.test:81 ,\t10.1.0.0/16 ",
    };
    static const char *const bad[] = {
        ",",
        "a.test,",
        "a.test,,b.test",
        "host:0",
        "host:65536",
        "host:",
        "host:abc",
        "host:80:81",
        "10.0.0.0/33",
        "10.1.2.3/8",
        "10.0.0.0/",
        "10.0.0.0/x",
        "0x7f.1/8",
        "fd00::/129",
        "fd00::1/8",
        "::1:80:80/",
        "[::1",
        "[::1]x",
        "[fe80::1%25eth0]",
        "[127.0.0.1]",
        "user@host",
        "http://host",
        "b\303\274cher.example",
        "a b.test",
        "a..b",
        "%61.test",
        "1.2.3.4.5",
        "example.123",
    };
    const char *why;
    for (size_t i = 0; i < IG_ARRAY_LEN(good); i++) {
        why = "unset";
        int rc = ig_outbound_allowlist_validate(good[i], &why);
        if (rc != IG_OK)
            fprintf(stderr, "  good list \"%s\" refused: %s\n", good[i] ? good[i] : "(null)", why);
        CHECK_EQ_INT(rc, IG_OK);
        CHECK(why == NULL);
    }
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        why = NULL;
        int rc = ig_outbound_allowlist_validate(bad[i], &why);
        if (rc != IG_EINVAL) fprintf(stderr, "  bad list \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(rc, IG_EINVAL);
        CHECK_EQ_STR(why, WHY(ALLOWLIST));
    }
    /* Size limits: entry count and bytes. */
    char big[IG_OUTBOUND_MAX_ENTRIES * 4 + 8];
    size_t n = 0;
    for (int i = 0; i <= IG_OUTBOUND_MAX_ENTRIES; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%sa.t", i ? "," : "");
    CHECK_EQ_INT(ig_outbound_allowlist_validate(big, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(ALLOWLISTSIZE));
    /* A policy with a bad list is not built. */
    ig_outbound_policy_t *p = (ig_outbound_policy_t *)1;
    CHECK_EQ_INT(ig_outbound_policy_new("10.0.0.0/33", &p, &why), IG_EINVAL);
    CHECK(p == NULL);
    CHECK_EQ_STR(why, WHY(ALLOWLIST));
    ig_outbound_policy_free(NULL);
}

/* ---- the URL table ---- */

typedef struct {
    const char *url;
    const char *org; /* org allowlist, may be NULL */
    int rc;
    ig_outbound_why_t why;
    const char *addr; /* accepted: the pinned address */
    const char *norm; /* accepted: the normalised URL (NULL: same as url) */
} url_case_t;

#define OK(u, a, n)                                                                                          \
    {                                                                                                        \
        u, NULL, IG_OK, IG_OUTBOUND_OK, a, n                                                                 \
    }
#define OK_ORG(u, o, a, n)                                                                                   \
    {                                                                                                        \
        u, o, IG_OK, IG_OUTBOUND_OK, a, n                                                                    \
    }
#define BAD(u, rc, w)                                                                                        \
    {                                                                                                        \
        u, NULL, rc, IG_OUTBOUND_##w, NULL, NULL                                                             \
    }
#define BAD_ORG(u, o, rc, w)                                                                                 \
    {                                                                                                        \
        u, o, rc, IG_OUTBOUND_##w, NULL, NULL                                                                \
    }
#define FORBID(u, w) BAD(u, IG_EFORBIDDEN, w)
#define INVAL(u, w)  BAD(u, IG_EINVAL, w)

static const url_case_t URL_CASES[] = {
    /* plain accepted forms and normalisation */
    OK("https://public.test/hook", "93.184.215.14", NULL),
    OK("HTTPS://PUBLIC.TEST./hook", "93.184.215.14", "https://public.test/hook"),
    OK("https://public.test:443/x", "93.184.215.14", "https://public.test/x"),
    OK("https://public.test:00443/x", "93.184.215.14", "https://public.test/x"),
    OK("https://public.test", "93.184.215.14", "https://public.test/"),
    OK("https://public.test?q=1", "93.184.215.14", "https://public.test/?q=1"),
    OK("https://public.test/a?b=c#frag@evil.test", "93.184.215.14", "https://public.test/a?b=c"),
    OK("https://public.test/@x/%2e%2e?u=a@b", "93.184.215.14", NULL),
    OK("https://v6public.test/", "2606:4700::1111", NULL),
    OK("https://[2606:4700:0:0:0:0:0:1111]/", "2606:4700::1111", "https://[2606:4700::1111]/"),
    OK("https://[::ffff:8.8.8.8]/", "8.8.8.8", NULL),
    OK("https://[2002:808:808::1]/", "2002:808:808::1", NULL),
    OK("https://nat64ok.test/", "64:ff9b::808:808", NULL),
    OK("https://8.8.8.8/", "8.8.8.8", NULL),
    OK("https://134744072/", "8.8.8.8", "https://8.8.8.8/"),
    OK("https://xn--bcher-kva.example/", "93.184.215.30", NULL),
    OK("https://exa_mple.test/", "93.184.215.31", NULL),
    /* scheme, userinfo, characters */
    INVAL(NULL, NOURL),
    INVAL("", NOURL),
    FORBID("http://public.test/", HTTP),
    FORBID("ftp://public.test/", SCHEME),
    FORBID("file:///etc/passwd", SCHEME),
    FORBID("gopher://public.test/", SCHEME),
    FORBID("public.test/hook", SCHEME),
    FORBID("//public.test/hook", SCHEME),
    FORBID("https:/public.test/", SCHEME),
    FORBID("https://user:pass@public.test/", USERINFO),
    FORBID("https://user@public.test/", USERINFO),
    FORBID("https://@public.test/", USERINFO),
    FORBID("https://public.test@127.0.0.1/", USERINFO),
    INVAL("https://public.test\\@127.0.0.1/", BADCHAR),
    INVAL(" https://public.test/", BADCHAR),
    INVAL("https://public.test/a b", BADCHAR),
    INVAL("https://public.test/\r\nX: y", BADCHAR),
    INVAL("https://b\303\274cher.example/", BADCHAR),
    INVAL("https://%31%32%37.0.0.1/", PERCENTHOST),
    INVAL("https://ex%61mple.com/", PERCENTHOST),
    /* hosts */
    INVAL("https:///x", NOHOST),
    INVAL("https://", NOHOST),
    INVAL("https://:443/", NOHOST),
    INVAL("https://./", BADHOST),
    INVAL("https://a..b/", BADHOST),
    INVAL("https://public.test../", BADHOST),
    INVAL("https://.public.test/", BADHOST),
    INVAL("https://pub!ic.test/", BADHOST),
    INVAL("https://[::1]x/", BADHOST),
    INVAL("https://1.2.3.4.5/", BADIPV4),
    INVAL("https://256.1.1.1/", BADIPV4),
    INVAL("https://08.1.1.1/", BADIPV4),
    INVAL("https://4294967296/", BADIPV4),
    INVAL("https://1.16777216/", BADIPV4),
    INVAL("https://example.123/", BADIPV4),
    INVAL("https://[::1/", BADIPV6),
    INVAL("https://[v1.x]/", BADIPV6),
    INVAL("https://[1::2::3]/", BADIPV6),
    INVAL("https://[fe80::1%25eth0]/", ZONEID),
    INVAL("https://[fe80::1%eth0]/", ZONEID),
    /* ports */
    FORBID("https://public.test:8443/", PORT),
    FORBID("https://public.test:80/", PORT),
    INVAL("https://public.test:0/", BADPORT),
    INVAL("https://public.test:65536/", BADPORT),
    INVAL("https://public.test:/", BADPORT),
    INVAL("https://public.test:+443/", BADPORT),
    INVAL("https://public.test:443:443/", BADPORT),
    INVAL("https://public.test:4430000/", BADPORT),
    /* numeric spellings of forbidden addresses */
    FORBID("https://[::1]/", LOOPBACK),
    FORBID("https://[0:0:0:0:0:0:0:1]/", LOOPBACK),
    FORBID("https://0/", UNSPECIFIED),
    FORBID("https://0.0.0.0/", UNSPECIFIED),
    FORBID("https://0x/", UNSPECIFIED),
    FORBID("https://[::]/", UNSPECIFIED),
    FORBID("https://127.0.0.1/", LOOPBACK),
    FORBID("https://2130706433/", LOOPBACK),
    FORBID("https://017700000001/", LOOPBACK),
    FORBID("https://0177.0.0.1/", LOOPBACK),
    FORBID("https://0x7f.1/", LOOPBACK),
    FORBID("https://0X7F.0.0.1/", LOOPBACK),
    FORBID("https://0x7f000001/", LOOPBACK),
    FORBID("https://127.1/", LOOPBACK),
    FORBID("https://127.0.1/", LOOPBACK),
    FORBID("https://0x7f.0.0.01/", LOOPBACK),
    FORBID("https://127.0.0.1./", LOOPBACK),
    FORBID("https://10.1/", PRIVATE),
    FORBID("https://012.0x1/", PRIVATE),
    FORBID("https://172.16.5.4/", PRIVATE),
    FORBID("https://192.168.1.1/", PRIVATE),
    FORBID("https://100.64.0.1/", CGNAT),
    FORBID("https://169.254.169.254/latest/meta-data/", LINKLOCAL),
    FORBID("https://2852039166/", LINKLOCAL),
    FORBID("https://224.0.0.1/", MULTICAST),
    FORBID("https://255.255.255.255/", BROADCAST),
    FORBID("https://240.0.0.1/", RESERVED),
    FORBID("https://192.0.0.8/", RESERVED),
    FORBID("https://192.0.2.1/", DOCUMENTATION),
    FORBID("https://198.18.0.1/", BENCHMARK),
    FORBID("https://[::ffff:127.0.0.1]/", LOOPBACK),
    FORBID("https://[::ffff:7f00:1]/", LOOPBACK),
    FORBID("https://[::FFFF:A9FE:A9FE]/", LINKLOCAL),
    FORBID("https://[::ffff:0:7f00:1]/", MAPPED),
    FORBID("https://[::127.0.0.1]/", V4COMPAT),
    FORBID("https://[64:ff9b::127.0.0.1]/", NAT64),
    FORBID("https://[2002:7f00:1::]/", SIXTOFOUR),
    FORBID("https://[2001:0:4136:e378::1]/", TEREDO),
    FORBID("https://[2001:db8::1]/", DOCUMENTATION),
    FORBID("https://[fc00::1]/", ULA),
    FORBID("https://[fd12:3456::1]/", ULA),
    FORBID("https://[fe80::1]/", LINKLOCAL),
    FORBID("https://[fec0::1]/", SITELOCAL),
    FORBID("https://[ff02::1]/", MULTICAST),
    FORBID("https://[100::1]/", RESERVED),
    /* names */
    FORBID("https://localhost/", LOCALHOST),
    FORBID("https://localhost./", LOCALHOST),
    FORBID("https://LocalHost/", LOCALHOST),
    FORBID("https://foo.localhost/", LOCALHOST),
    FORBID("https://internal.test/", PRIVATE),
    FORBID("https://mixed.test/", PRIVATE),
    FORBID("https://mixed6.test/", LINKLOCAL),
    FORBID("https://meta.test/", LINKLOCAL),
    FORBID("https://cgnat.test/", CGNAT),
    FORBID("https://mapped.test/", LOOPBACK),
    FORBID("https://nat64.test/", NAT64),
    FORBID("https://sixtofour.test/", SIXTOFOUR),
    FORBID("https://teredo.test/", TEREDO),
    FORBID("https://many.test/", TOOMANYADDRS),
    BAD("https://nx.test/", IG_EUNAVAILABLE, RESOLVE),
    BAD("https://empty.test/", IG_EUNAVAILABLE, RESOLVE),
    /* the operator allowlist: OPERATOR_LIST */
    OK("http://allowed.test/", "10.1.1.1", NULL),
    OK("https://allowed.test/", "10.1.1.1", NULL),
    OK("http://ALLOWED.test./x", "10.1.1.1", "http://allowed.test/x"),
    FORBID("https://allowed.test:8080/", PORT),
    FORBID("http://allowed.test:8080/", HTTP),
    FORBID("https://sub.allowed.test/", PRIVATE), /* no wildcards */
    OK("http://internal-ok.test:8080/", "10.0.0.6", NULL),
    FORBID("http://internal-ok.test/", HTTP),
    FORBID("https://internal-ok.test/", PRIVATE),
    OK("http://10.9.1.1/", "10.9.1.1", NULL),
    OK("https://10.9.1.1/", "10.9.1.1", NULL),
    OK("http://in-cidr.test/", "10.9.0.1", NULL),
    FORBID("http://half-cidr.test/", HTTP),
    FORBID("https://half-cidr.test/", PRIVATE),
    FORBID("https://10.9.1.1:8443/", PORT),
    OK("http://127.0.0.1:9000/", "127.0.0.1", NULL),
    OK("http://2130706433:9000/", "127.0.0.1", "http://127.0.0.1:9000/"),
    OK("http://[::ffff:127.0.0.1]:9000/", "127.0.0.1", NULL),
    FORBID("http://127.0.0.1:9001/", HTTP),
    FORBID("https://127.0.0.1:9001/", PORT),
    FORBID("https://127.0.0.1/", LOOPBACK),
    OK("https://[fd00::1]:8443/", "fd00::1", NULL),
    FORBID("https://[fd00::2]:8443/", PORT),
    /* the org allowlist: ports over https for public addresses, nothing else */
    OK_ORG("https://partner.test:8443/", "partner.test:8443", "93.184.215.20", NULL),
    OK_ORG("https://partner.test:8443/", "93.184.215.0/24:8443", "93.184.215.20", NULL),
    BAD_ORG("https://partner.test:8444/", "partner.test:8443", IG_EFORBIDDEN, PORT),
    BAD_ORG("http://partner.test:8443/", "partner.test:8443", IG_EFORBIDDEN, HTTP),
    BAD_ORG("http://partner.test/", "partner.test", IG_EFORBIDDEN, HTTP),
    BAD_ORG("https://orgpriv.test:8443/", "orgpriv.test:8443", IG_EFORBIDDEN, PRIVATE),
    BAD_ORG("https://internal.test/", "10.0.0.0/8", IG_EFORBIDDEN, PRIVATE),
    BAD_ORG("https://internal.test/", "internal.test", IG_EFORBIDDEN, PRIVATE),
    BAD_ORG("https://localhost/", "localhost", IG_EFORBIDDEN, LOCALHOST),
    BAD_ORG("https://127.0.0.2:9000/", "127.0.0.2:9000", IG_EFORBIDDEN, LOOPBACK),
    OK_ORG("https://127.0.0.1:9000/", "127.0.0.2:9000", "127.0.0.1", NULL), /* the operator's entry */
    BAD_ORG("https://public.test/", "10.0.0.0/33", IG_EINVAL, ALLOWLIST),
};

static void check_case(const ig_outbound_policy_t *p, const url_case_t *c)
{
    ig_outbound_target_t t;
    const char *why = "unset";
    int rc = ig_outbound_check(p, c->org, c->url, &t, &why);
    const char *want = c->why ? ig_outbound_why_text(c->why) : NULL;
    bool ok = rc == c->rc && why == want;
    if (ok && rc == IG_OK) {
        ok = strcmp(t.addr, c->addr) == 0 && strcmp(t.url, c->norm ? c->norm : c->url) == 0;
        /* Idempotent: the normalised URL checks to the same target. */
        ig_outbound_target_t again;
        ok = ok && ig_outbound_check(p, c->org, t.url, &again, NULL) == IG_OK &&
             memcmp(&t, &again, sizeof t) == 0;
    }
    if (rc != IG_OK) ok = ok && t.url[0] == '\0' && t.addr[0] == '\0';
    if (!ok) {
        unit_failed_checks++;
        fprintf(stderr,
                "  %s (org %s): rc %d why \"%s\" addr \"%s\" url \"%s\"; want rc %d why \"%s\" addr %s\n",
                c->url ? c->url : "(null)", c->org ? c->org : "-", rc, why ? why : "(null)", t.addr, t.url,
                c->rc, want ? want : "(null)", c->addr ? c->addr : "-");
    }
}

TEST(url_table)
{
    ig_outbound_policy_t *p = policy(OPERATOR_LIST);
    CHECK(IG_ARRAY_LEN(URL_CASES) >= 40);
    for (size_t i = 0; i < IG_ARRAY_LEN(URL_CASES); i++)
        check_case(p, &URL_CASES[i]);
    ig_outbound_policy_free(p);
}

TEST(target_fields)
{
    ig_outbound_policy_t *p = policy(OPERATOR_LIST);
    ig_outbound_target_t t;
    const char *why = "unset";
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "HTTPS://Public.Test.:443/Hook?Q=1#x", &t, &why), IG_OK);
    CHECK(why == NULL);
    CHECK_EQ_STR(t.url, "https://public.test/Hook?Q=1");
    CHECK_EQ_STR(t.host, "public.test");
    CHECK_EQ_INT(t.port, 443);
    CHECK(t.https && !t.numeric && !t.allowlisted);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "http://0x7f.0.0.1:9000", &t, NULL), IG_OK);
    CHECK_EQ_STR(t.url, "http://127.0.0.1:9000/");
    CHECK_EQ_STR(t.host, "127.0.0.1");
    CHECK_EQ_INT(t.port, 9000);
    CHECK(!t.https && t.numeric && t.allowlisted);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "https://[FD00:0::1]:8443/x", &t, NULL), IG_OK);
    CHECK_EQ_STR(t.url, "https://[fd00::1]:8443/x");
    CHECK_EQ_STR(t.host, "fd00::1");
    CHECK_EQ_STR(t.addr, "fd00::1");
    CHECK(t.numeric && t.allowlisted);
    ig_outbound_policy_free(p);
}

TEST(long_urls_and_hosts)
{
    ig_outbound_policy_t *p = policy(NULL);
    static char url[4096];
    ig_outbound_target_t t;
    const char *why;
    size_t n;

    /* A path that keeps the URL just under the limit passes; one byte more does not. */
    n = (size_t)snprintf(url, sizeof url, "https://public.test/");
    memset(url + n, 'a', IG_OUTBOUND_URL_MAX - 1 - n);
    url[IG_OUTBOUND_URL_MAX - 1] = '\0';
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_OK);
    CHECK_EQ_INT(strlen(t.url), IG_OUTBOUND_URL_MAX - 1);
    url[IG_OUTBOUND_URL_MAX - 1] = 'a';
    url[IG_OUTBOUND_URL_MAX] = '\0';
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(TOOLONG));
    memset(url + n, 'a', sizeof url - 1 - n);
    url[sizeof url - 1] = '\0';
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(TOOLONG));
    /* Normalising may lengthen the URL (0x7f.1 -> 127.0.0.1): still bounded. */
    n = (size_t)snprintf(url, sizeof url, "https://0x8.1/");
    memset(url + n, 'a', IG_OUTBOUND_URL_MAX - 1 - n);
    url[IG_OUTBOUND_URL_MAX - 1] = '\0';
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(TOOLONG));
    /* No path: "/" is added. */
    n = (size_t)snprintf(url, sizeof url, "https://public.test?");
    memset(url + n, 'a', IG_OUTBOUND_URL_MAX - 1 - n);
    url[IG_OUTBOUND_URL_MAX - 1] = '\0';
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(TOOLONG));
    /* A 64-byte label is refused; a 253-byte name (254 with the root dot) passes the syntax and goes to
     * the resolver, which does not know it; a 254-byte name is refused. */
    n = (size_t)snprintf(url, sizeof url, "https://");
    memset(url + n, 'a', 64);
    snprintf(url + n + 64, sizeof url - n - 64, ".test/");
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(BADHOST));
    n = (size_t)snprintf(url, sizeof url, "https://");
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(url + n, sizeof url - n, "%063d.", 0);
    memset(url + n, 'b', 61);
    n += 61;
    snprintf(url + n, sizeof url - n, "/");
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EUNAVAILABLE);
    CHECK_EQ_STR(why, WHY(RESOLVE));
    snprintf(url + n, sizeof url - n, "./");
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EUNAVAILABLE);
    snprintf(url + n, sizeof url - n, "b/");
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_EINVAL);
    CHECK_EQ_STR(why, WHY(BADHOST));
    ig_outbound_policy_free(p);
}

TEST(rebinding_caught_at_delivery)
{
    ig_outbound_policy_t *p = policy(NULL);
    ig_outbound_target_t reg, del;
    const char *why;
    g_rebind_calls = 0;
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "https://rebind.test/hook", &reg, &why), IG_OK);
    CHECK_EQ_STR(reg.addr, "93.184.215.14");
    /* The caller checks again before delivering: the name now points at loopback. */
    CHECK_EQ_INT(ig_outbound_check(p, NULL, reg.url, &del, &why), IG_EFORBIDDEN);
    CHECK_EQ_STR(why, WHY(LOOPBACK));
    ig_outbound_policy_free(p);
}

TEST(operator_allowlisted_localhost_with_getaddrinfo)
{
    /* The default resolver (getaddrinfo, /etc/hosts) for an allowlisted name; no network. */
    ig_outbound_policy_t *p = NULL;
    ig_outbound_target_t t;
    const char *why;
    CHECK_EQ_INT(ig_outbound_policy_new("localhost:9001", &p, NULL), IG_OK);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "http://localhost:9001/x", &t, &why), IG_OK);
    ig_outbound_addr_t a;
    CHECK(ig_outbound_addr_parse(t.addr, &a));
    CHECK_EQ_STR(ig_outbound_addr_forbidden(&a), WHY(LOOPBACK));
    CHECK(t.allowlisted);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, "https://localhost/", &t, &why), IG_EFORBIDDEN);
    CHECK_EQ_STR(why, WHY(LOCALHOST));
    ig_outbound_policy_free(p);
}

/* ---- curl pinning against local servers ---- */

typedef struct {
    int fd, port, family;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop, requests;
    char line[256], host[256];
} server_t;

static void *server_main(void *arg)
{
    server_t *s = arg;
    static const char resp[] = "HTTP/1.1 302 Found\r\nLocation: /followed\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    for (;;) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        pthread_mutex_lock(&s->mu);
        int stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop) break;
        if (poll(&pfd, 1, 50) <= 0) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        struct timeval tv = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[4096];
        size_t n = 0;
        while (n < sizeof buf - 1) {
            ssize_t r = read(c, buf + n, sizeof buf - 1 - n);
            if (r <= 0) break;
            n += (size_t)r;
            buf[n] = '\0';
            if (strstr(buf, "\r\n\r\n")) break;
        }
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n")) {
            pthread_mutex_lock(&s->mu);
            s->requests++;
            snprintf(s->line, sizeof s->line, "%.*s", (int)strcspn(buf, "\r"), buf);
            const char *h = strstr(buf, "\r\nHost: ");
            if (h) snprintf(s->host, sizeof s->host, "%.*s", (int)strcspn(h + 8, "\r"), h + 8);
            pthread_mutex_unlock(&s->mu);
            if (write(c, resp, sizeof resp - 1) < 0) { /* the client gave up: nothing to do */
            }
        }
        close(c);
    }
    return NULL;
}

/* Starts a server on 127.0.0.1 (or ::1) on an ephemeral port. false when the family is unavailable. */
static bool server_start(server_t *s, int family)
{
    memset(s, 0, sizeof *s);
    s->family = family;
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0) return false;
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    if (bind(s->fd, (struct sockaddr *)&ss, len) != 0 || listen(s->fd, 16) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0) {
        close(s->fd);
        return false;
    }
    s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return pthread_create(&s->thread, NULL, server_main, s) == 0;
}

static void server_stop(server_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->mu);
}

static int server_requests(server_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

static CURL *easy_new(void)
{
    CURL *c = curl_easy_init();
    CHECK(c != NULL);
    if (c) {
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    }
    return c;
}

TEST(curl_pin_reaches_checked_address_without_redirects_or_proxies)
{
    server_t s, other;
    char list[128], url[128], want_host[64];
    ig_outbound_target_t t;
    struct curl_slist *pins = NULL;
    const char *why;
    long code = 0, port = 0;
    char *ip = NULL, *redirect = NULL;

    CHECK(server_start(&s, AF_INET));
    CHECK(server_start(&other, AF_INET));
    snprintf(list, sizeof list, "receiver.test:%d", s.port);
    ig_outbound_policy_t *p = policy(list);

    /* receiver.test is not in DNS: only the hook knows it. The check pins 127.0.0.1. */
    snprintf(url, sizeof url, "http://Receiver.Test.:%d/hook?x=1#frag", s.port);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_OK);
    CHECK_EQ_STR(t.addr, "127.0.0.1");
    CHECK(t.allowlisted);

    /* Proxies from the environment must not reroute the transfer (they point at a closed port). */
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    CURL *c = easy_new();
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    CHECK(pins != NULL);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(c, CURLINFO_PRIMARY_PORT, &port);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect);
    CHECK_EQ_INT(code, 302); /* the redirect is reported, not followed */
    CHECK_EQ_STR(ip, "127.0.0.1");
    CHECK_EQ_INT(port, s.port);
    CHECK(redirect != NULL && strstr(redirect, "/followed") != NULL);
    CHECK_EQ_INT(server_requests(&s), 1);
    CHECK_EQ_STR(s.line, "GET /hook?x=1 HTTP/1.1");
    snprintf(want_host, sizeof want_host, "receiver.test:%d", s.port);
    CHECK_EQ_STR(s.host, want_host);
    /* Checked again (as before every delivery) and sent again on the same handle. */
    CHECK_EQ_INT(ig_outbound_check(p, NULL, t.url, &t, &why), IG_OK);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
    CHECK_EQ_INT(server_requests(&s), 2);
    curl_easy_cleanup(c);
    curl_slist_free_all(pins);
    unsetenv("http_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");

    /* A later option rerouting the handle elsewhere (another port) is refused by the socket guard. */
    c = easy_new();
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    char reroute[64];
    snprintf(reroute, sizeof reroute, "::127.0.0.1:%d", other.port);
    struct curl_slist *evil = curl_slist_append(NULL, reroute);
    curl_easy_setopt(c, CURLOPT_CONNECT_TO, evil);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
    CHECK_EQ_INT(server_requests(&other), 0);
    curl_easy_cleanup(c);
    curl_slist_free_all(pins);
    /* Control: the same reroute without the pin does reach the other server. */
    c = easy_new();
    curl_easy_setopt(c, CURLOPT_URL, t.url);
    curl_easy_setopt(c, CURLOPT_CONNECT_TO, evil);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
    CHECK_EQ_INT(server_requests(&other), 1);
    curl_easy_cleanup(c);
    curl_slist_free_all(evil);

    /* A numeric spelling of an allowlisted address reaches it too, under its normalised form. */
    ig_outbound_policy_t *pn = policy(reroute + 2); /* "127.0.0.1:<other port>" */
    snprintf(url, sizeof url, "http://0x7f.1:%d/n", other.port);
    CHECK_EQ_INT(ig_outbound_check(pn, NULL, url, &t, &why), IG_OK);
    c = easy_new();
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
    CHECK_EQ_INT(server_requests(&other), 2);
    CHECK_EQ_STR(other.line, "GET /n HTTP/1.1");
    snprintf(want_host, sizeof want_host, "127.0.0.1:%d", other.port);
    CHECK_EQ_STR(other.host, want_host);
    curl_easy_cleanup(c);
    curl_slist_free_all(pins);
    ig_outbound_policy_free(pn);

    /* An https target only speaks https: switching the URL to http fails before connecting. */
    snprintf(url, sizeof url, "https://receiver.test:%d/", s.port);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, &why), IG_OK);
    c = easy_new();
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    snprintf(url, sizeof url, "http://receiver.test:%d/", s.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_UNSUPPORTED_PROTOCOL);
    CHECK_EQ_INT(server_requests(&s), 2);
    curl_easy_cleanup(c);
    curl_slist_free_all(pins);

    ig_outbound_policy_free(p);
    server_stop(&s);
    server_stop(&other);
}

TEST(curl_pin_ipv6)
{
    server_t s;
    char list[128], url[128];
    ig_outbound_target_t t;
    struct curl_slist *pins = NULL;
    char *ip = NULL;

    if (!server_start(&s, AF_INET6)) {
        printf("# skipped: no IPv6 loopback\n");
        return;
    }
    snprintf(list, sizeof list, "receiver6.test:%d", s.port);
    ig_outbound_policy_t *p = policy(list);
    snprintf(url, sizeof url, "http://receiver6.test:%d/six", s.port);
    CHECK_EQ_INT(ig_outbound_check(p, NULL, url, &t, NULL), IG_OK);
    CHECK_EQ_STR(t.addr, "::1");
    CURL *c = easy_new();
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
    CHECK_EQ_STR(ip, "::1");
    CHECK_EQ_INT(server_requests(&s), 1);
    CHECK_EQ_STR(s.line, "GET /six HTTP/1.1");
    curl_easy_cleanup(c);
    curl_slist_free_all(pins);
    ig_outbound_policy_free(p);
    server_stop(&s);
}

TEST(curl_pin_refuses_unchecked_targets)
{
    ig_outbound_target_t t;
    struct curl_slist *pins = (struct curl_slist *)1;
    CURL *c = easy_new();

    memset(&t, 0, sizeof t);
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_EINVAL); /* zeroed: a failed check */
    CHECK(pins == NULL);
    snprintf(t.url, sizeof t.url, "https://x.test/");
    snprintf(t.addr, sizeof t.addr, "10.0.0.1");
    t.port = 443;
    t.https = true;
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_EINVAL); /* forbidden and not allowlisted */
    snprintf(t.addr, sizeof t.addr, "0x7f.1");
    t.allowlisted = true;
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_EINVAL); /* not a strict address */
    snprintf(t.addr, sizeof t.addr, "93.184.215.14");
    t.port = 0;
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_EINVAL);
    t.port = 443;
    CHECK_EQ_INT(ig_outbound_curl_pin(NULL, &t, &pins), IG_EINVAL);
    CHECK_EQ_INT(ig_outbound_curl_pin(c, NULL, &pins), IG_EINVAL);
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_outbound_curl_pin(c, &t, &pins), IG_OK);
    curl_slist_free_all(pins);
    curl_easy_cleanup(c);
}

TEST(reasons_never_echo_the_url)
{
    ig_outbound_policy_t *p = policy(NULL);
    ig_outbound_target_t t0;
    /* No policy: no allowlist, getaddrinfo (not reached: refused before any lookup). */
    CHECK_EQ_INT(ig_outbound_check(NULL, NULL, "http://127.0.0.1:9000/", &t0, NULL), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_outbound_check(NULL, NULL, "https://[::1]/", &t0, NULL), IG_EFORBIDDEN);
    const char *why = NULL;
    ig_outbound_target_t t;
    static const char *const urls[] = {"https://secret-token.test/", "https://user:s3cret@public.test/",
                                       "ftp://s3cret/", "https://s3cret:99999/", "https://10.0.0.1/s3cret"};
    for (size_t i = 0; i < IG_ARRAY_LEN(urls); i++) {
        CHECK(ig_outbound_check(p, NULL, urls[i], &t, &why) != IG_OK);
        CHECK(why != NULL && strstr(why, "s3cret") == NULL && strstr(why, "secret") == NULL);
    }
    CHECK_EQ_STR(ig_outbound_why_text(IG_OUTBOUND_OK), "");
    CHECK_EQ_STR(ig_outbound_why_text((ig_outbound_why_t)9999), "");
    ig_outbound_policy_free(p);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(forbidden_ranges_at_their_edges);
    RUN(allowlist_syntax);
    RUN(url_table);
    RUN(target_fields);
    RUN(long_urls_and_hosts);
    RUN(rebinding_caught_at_delivery);
    RUN(operator_allowlisted_localhost_with_getaddrinfo);
    RUN(curl_pin_reaches_checked_address_without_redirects_or_proxies);
    RUN(curl_pin_ipv6);
    RUN(curl_pin_refuses_unchecked_targets);
    RUN(reasons_never_echo_the_url);
    curl_global_cleanup();
    UNIT_DONE();
}
