/*
 * Unit tests of src/auth/clientip: trusted-list parsing and its errors, CIDR membership at the edges
 * (/0, /32, /128, partial bytes, IPv4 seen as IPv4-mapped IPv6), the X-Forwarded-For walk (untrusted peer,
 * spoofed leftmost hops, chains of proxies, malformed hops ending the walk, blank headers), normalization
 * and the rate-limit key. Header values are passed from exactly-sized heap copies so ASan catches a read
 * past xff.len.
 */
#include "unit.h"
#include "auth/clientip.h"
#include "core/err.h"

static ig_trusted_t *parse_ok(const char *spec)
{
    ig_trusted_t *t = NULL;
    const char *why = "unset";
    int rc = ig_trusted_parse(spec, &t, &why);
    CHECK_EQ_INT(rc, IG_OK);
    CHECK(why == NULL);
    if (rc != IG_OK) fprintf(stderr, "  spec \"%s\": %s\n", spec, why ? why : "(null)");
    return t;
}

/* ig_client_ip with xff as an exactly-sized heap copy of its n bytes (n = strlen when n is -1). */
static const char *client(const ig_trusted_t *t, const char *peer, const char *xff, long n)
{
    static char out[IG_CLIENT_IP_LEN];
    size_t len = xff ? (n < 0 ? strlen(xff) : (size_t)n) : 0;
    char *copy = xff ? malloc(len ? len : 1) : NULL;
    if (xff && copy) memcpy(copy, xff, len);
    memset(out, 'x', sizeof out);
    ig_client_ip(t, peer, xff ? ig_iov(copy, len) : IG_IOV_NULL, out);
    free(copy);
    return out;
}

#define CLIENT(t, peer, xff) client((t), (peer), (xff), -1)

TEST(untrusted_peer_ignores_xff)
{
    ig_trusted_t *t = parse_ok("10.0.0.0/8");
    CHECK_EQ_STR(CLIENT(t, "203.0.113.5", "1.1.1.1"), "203.0.113.5");
    CHECK_EQ_STR(CLIENT(t, "203.0.113.5", "10.0.0.1, 1.1.1.1"), "203.0.113.5");
    CHECK_EQ_STR(CLIENT(t, "203.0.113.5", NULL), "203.0.113.5");
    CHECK_EQ_STR(CLIENT(t, "2001:db8::5", "1.1.1.1"), "2001:db8::5");
    /* No list at all (NULL) and an empty list trust nobody. */
    CHECK_EQ_STR(CLIENT(NULL, "10.0.0.1", "1.1.1.1"), "10.0.0.1");
    ig_trusted_t *empty = parse_ok("");
    CHECK(empty != NULL);
    CHECK_EQ_STR(CLIENT(empty, "10.0.0.1", "1.1.1.1"), "10.0.0.1");
    CHECK(!ig_trusted_has(empty, "10.0.0.1"));
    ig_trusted_free(empty);
    empty = parse_ok(" \t ");
    CHECK(!ig_trusted_has(empty, "0.0.0.0"));
    ig_trusted_free(empty);
    /* A peer that is not an IP address: unknown, one shared answer, XFF ignored. */
    CHECK_EQ_STR(CLIENT(t, NULL, "1.1.1.1"), "0.0.0.0");
    CHECK_EQ_STR(CLIENT(t, "", "1.1.1.1"), "0.0.0.0");
    CHECK_EQ_STR(CLIENT(t, "unix", "1.1.1.1"), "0.0.0.0");
    ig_trusted_free(t);
}

TEST(spoofed_leftmost_entries)
{
    /* Client 2.2.2.2 sends "X-Forwarded-For: 1.1.1.1"; the proxy 10.0.0.1 appends 2.2.2.2. */
    ig_trusted_t *t = parse_ok("10.0.0.1");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1, 2.2.2.2"), "2.2.2.2");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1,2.2.2.2"), "2.2.2.2");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "2.2.2.2"), "2.2.2.2");
    /* Spoofing a trusted address on the left changes nothing either. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "10.0.0.1, 2.2.2.2"), "2.2.2.2");
    /* No header, or a blank one, through a trusted proxy: the proxy itself. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", NULL), "10.0.0.1");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", ""), "10.0.0.1");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", " \t "), "10.0.0.1");
    /* Whitespace around hops. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1 ,\t 2.2.2.2 \t"), "2.2.2.2");
    ig_trusted_free(t);
}

TEST(trusted_chains)
{
    ig_trusted_t *t = parse_ok("10.0.0.0/8, 192.168.0.0/16, ::1, fd00::/8");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "9.9.9.9, 5.5.5.5, 192.168.1.1, 10.2.3.4"), "5.5.5.5");
    CHECK_EQ_STR(CLIENT(t, "::1", "9.9.9.9, 2001:db8::7, fd12::3"), "2001:db8::7");
    /* Every hop trusted: the leftmost. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "10.0.0.5, 192.168.0.9, 10.0.0.6"), "10.0.0.5");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "10.0.0.5"), "10.0.0.5");
    /* An untrusted hop in the middle stops the walk even if trusted ones follow on its left. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "10.0.0.9, 8.8.8.8, 10.0.0.5"), "8.8.8.8");
    /* Output is normalized. */
    CHECK_EQ_STR(CLIENT(t, "::1", "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    CHECK_EQ_STR(CLIENT(t, "0:0:0:0:0:0:0:1", NULL), "::1");
    /* Only xff.len bytes are read. */
    CHECK_EQ_STR(client(t, "10.0.0.1", "3.3.3.3, 4.4.4.4", 7), "3.3.3.3");
    CHECK_EQ_STR(client(t, "10.0.0.1", "3.3.3.3", 3), "10.0.0.1"); /* "3.3": malformed */
    CHECK_EQ_STR(client(t, "10.0.0.1", "3.3.3.3", 0), "10.0.0.1");
    ig_trusted_free(t);
}

TEST(malformed_hop_stops_walk)
{
    ig_trusted_t *t = parse_ok("10.0.0.0/8");
    /* Garbage right after the peer: the peer. */
    const char *bad[] = {"garbage",
                         "1.2.3.4:5678",
                         "[::1]:80",
                         "[::1]",
                         "1.2.3.4/32",
                         "1.2.3",
                         "256.1.1.1",
                         "1.2.3.4.5",
                         "fe80::1%eth0",
                         "1.1.1.1,",
                         "1.1.1.1, ",
                         ",",
                         "1.1.1.1 2.2.2.2",
                         "::ffff:1.2.3.4:80",
                         "1111111111111111111111111111111111111111111111111111111111111111",
                         "0000:0000:0000:0000:0000:0000:0000:0000:0000"};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        const char *got = CLIENT(t, "10.0.0.1", bad[i]);
        if (strcmp(got, "10.0.0.1") != 0) fprintf(stderr, "  xff \"%s\" -> %s\n", bad[i], got);
        CHECK_EQ_STR(got, "10.0.0.1");
    }
    /* Garbage further left: the nearest trusted hop right of it, never anything left of it. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1, garbage, 10.0.0.7"), "10.0.0.7");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1, , 10.0.0.7, 10.0.0.8"), "10.0.0.7");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.1.1.1, garbage"), "10.0.0.1");
    /* Garbage left of the first untrusted hop does not matter: the walk ended before it. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "garbage, 2.2.2.2"), "2.2.2.2");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", ",2.2.2.2"), "2.2.2.2");
    /* An embedded NUL is not the end of a hop. */
    CHECK_EQ_STR(client(t, "10.0.0.1", "1.2.3.4\0junk", 12), "10.0.0.1");
    CHECK_EQ_STR(client(t, "10.0.0.1", "1.2.3.4\0", 8), "10.0.0.1");
    CHECK_EQ_STR(client(t, "10.0.0.1", "\0", 1), "10.0.0.1");
    /* Non-ASCII bytes. */
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "1.2.3.\xc2\xb9"), "10.0.0.1");
    ig_trusted_free(t);
}

TEST(mapped_ipv4)
{
    ig_trusted_t *t = parse_ok("10.0.0.0/8");
    /* A dual-stack socket reports IPv4 peers as mapped: matched against IPv4 ranges, printed as IPv4. */
    CHECK(ig_trusted_has(t, "::ffff:10.1.2.3"));
    CHECK(!ig_trusted_has(t, "::ffff:11.1.2.3"));
    CHECK_EQ_STR(CLIENT(t, "::ffff:10.0.0.1", "203.0.113.9"), "203.0.113.9");
    CHECK_EQ_STR(CLIENT(t, "::ffff:10.0.0.1", "::ffff:203.0.113.9"), "203.0.113.9");
    CHECK_EQ_STR(CLIENT(t, "::ffff:198.51.100.1", "203.0.113.9"), "198.51.100.1");
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "::FFFF:10.0.0.2"), "10.0.0.2");
    CHECK_EQ_STR(CLIENT(t, "::ffff:a00:1", NULL), "10.0.0.1");
    /* IPv4-compatible (::a.b.c.d, deprecated) is plain IPv6, not IPv4. */
    CHECK(!ig_trusted_has(t, "::10.0.0.1"));
    CHECK_EQ_STR(CLIENT(t, "10.0.0.1", "::1.2.3.4"), "::1.2.3.4");
    ig_trusted_free(t);

    /* A mapped range in the list is the IPv4 range. */
    t = parse_ok("::ffff:192.168.0.0/112");
    CHECK(ig_trusted_has(t, "192.168.44.1"));
    CHECK(!ig_trusted_has(t, "192.169.0.1"));
    ig_trusted_free(t);
}

TEST(cidr_membership)
{
    ig_trusted_t *t;

    t = parse_ok("0.0.0.0/0");
    CHECK(ig_trusted_has(t, "0.0.0.0"));
    CHECK(ig_trusted_has(t, "1.2.3.4"));
    CHECK(ig_trusted_has(t, "255.255.255.255"));
    CHECK(ig_trusted_has(t, "::ffff:1.2.3.4"));
    CHECK(!ig_trusted_has(t, "::1"));
    CHECK(!ig_trusted_has(t, "2001:db8::1"));
    ig_trusted_free(t);

    t = parse_ok("::/0");
    CHECK(ig_trusted_has(t, "::"));
    CHECK(ig_trusted_has(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    CHECK(ig_trusted_has(t, "1.2.3.4")); /* IPv4 is inside IPv6 (mapped) */
    ig_trusted_free(t);

    t = parse_ok("10.1.2.3/32, 10.1.2.3");
    CHECK(ig_trusted_has(t, "10.1.2.3"));
    CHECK(!ig_trusted_has(t, "10.1.2.2"));
    CHECK(!ig_trusted_has(t, "10.1.2.4"));
    ig_trusted_free(t);

    t = parse_ok("192.168.1.128/25, 172.16.0.0/12, 10.0.0.0/31");
    CHECK(ig_trusted_has(t, "192.168.1.128"));
    CHECK(ig_trusted_has(t, "192.168.1.255"));
    CHECK(!ig_trusted_has(t, "192.168.1.127"));
    CHECK(ig_trusted_has(t, "172.31.255.255"));
    CHECK(!ig_trusted_has(t, "172.32.0.0"));
    CHECK(!ig_trusted_has(t, "172.15.255.255"));
    CHECK(ig_trusted_has(t, "10.0.0.0"));
    CHECK(ig_trusted_has(t, "10.0.0.1"));
    CHECK(!ig_trusted_has(t, "10.0.0.2"));
    ig_trusted_free(t);

    t = parse_ok("2001:db8::1/128, 2001:db8:100::/40, fd00::/8, fe80::/127");
    CHECK(ig_trusted_has(t, "2001:db8::1"));
    CHECK(ig_trusted_has(t, "2001:0db8:0000::0001"));
    CHECK(!ig_trusted_has(t, "2001:db8::2"));
    CHECK(!ig_trusted_has(t, "2001:db8::"));
    CHECK(ig_trusted_has(t, "2001:db8:1ff:ffff::1"));
    CHECK(!ig_trusted_has(t, "2001:db8:200::"));
    CHECK(!ig_trusted_has(t, "2001:db8:ff::"));
    CHECK(ig_trusted_has(t, "fdff::1"));
    CHECK(!ig_trusted_has(t, "fe00::1"));
    CHECK(!ig_trusted_has(t, "fc00::1"));
    CHECK(ig_trusted_has(t, "fe80::"));
    CHECK(ig_trusted_has(t, "fe80::1"));
    CHECK(!ig_trusted_has(t, "fe80::2"));
    CHECK(!ig_trusted_has(t, "10.0.0.1"));
    ig_trusted_free(t);

    /* ig_trusted_has is strict about its input. */
    t = parse_ok("10.0.0.0/8");
    CHECK(!ig_trusted_has(NULL, "10.0.0.1"));
    CHECK(!ig_trusted_has(t, NULL));
    CHECK(!ig_trusted_has(t, ""));
    CHECK(!ig_trusted_has(t, " 10.0.0.1"));
    CHECK(!ig_trusted_has(t, "10.0.0.1 "));
    CHECK(!ig_trusted_has(t, "10.0.0.0/8"));
    CHECK(!ig_trusted_has(t, "garbage"));
    CHECK(!ig_trusted_has(t, "10.0.0.1.......................................................x"));
    ig_trusted_free(t);
}

TEST(parse_errors)
{
    const char *bad[] = {"junk",
                         "10.0.0.0/33",
                         "::/129",
                         "10.0.0.0/",
                         "10.0.0.0/-1",
                         "10.0.0.0/+8",
                         "10.0.0.0/8/8",
                         "10.0.0.0/abc",
                         "10.0.0.0/0008",
                         "10.0.0.0/ 8",
                         "10.0.0.0 /8",
                         "/8",
                         "10.1.2.3/16",    /* host bits set */
                         "2001:db8::1/32", /* host bits set */
                         "10.0.0.1,,10.0.0.2",
                         "10.0.0.1,",
                         ",10.0.0.1",
                         ",",
                         "10.0.0.1 10.0.0.2",
                         "10.0.0.1;10.0.0.2",
                         "1.2.3.4:80",
                         "[::1]",
                         "fe80::1%eth0",
                         "256.1.1.1",
                         "1.2.3",
                         "localhost"};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        ig_trusted_t *t = (ig_trusted_t *)&t; /* not NULL: must be reset */
        const char *why = NULL;
        int rc = ig_trusted_parse(bad[i], &t, &why);
        if (rc != IG_EINVAL) fprintf(stderr, "  spec \"%s\" accepted\n", bad[i]);
        CHECK_EQ_INT(rc, IG_EINVAL);
        CHECK(t == NULL);
        CHECK(why != NULL && why[0] != '\0');
        if (rc == IG_OK) ig_trusted_free(t);
    }
    /* why may be NULL. */
    ig_trusted_t *t = NULL;
    CHECK_EQ_INT(ig_trusted_parse("10.0.0.0/99", &t, NULL), IG_EINVAL);
    CHECK(t == NULL);
    /* Messages say what is wrong. */
    const char *why = NULL;
    CHECK_EQ_INT(ig_trusted_parse("10.0.0.0/33", &t, &why), IG_EINVAL);
    CHECK(why && strstr(why, "prefix"));
    CHECK_EQ_INT(ig_trusted_parse("nope", &t, &why), IG_EINVAL);
    CHECK(why && strstr(why, "address"));
    /* Good specs of every shape, including the prefix bounds. */
    const char *good[] = {"10.0.0.1, 10.1.0.0/16, ::1, fd00::/8",
                          "0.0.0.0/0",
                          "::/0",
                          "1.2.3.4/32",
                          "::1/128",
                          "\t10.0.0.1\t,\t::1\t",
                          "10.0.0.0/08"};
    for (size_t i = 0; i < IG_ARRAY_LEN(good); i++)
        ig_trusted_free(parse_ok(good[i]));
    ig_trusted_free(NULL);
}

TEST(limit_key)
{
    char k[IG_CLIENT_IP_KEY_LEN], k2[IG_CLIENT_IP_KEY_LEN];
    ig_client_ip_limit_key("203.0.113.7", k);
    CHECK_EQ_STR(k, "203.0.113.7");
    ig_client_ip_limit_key("::ffff:203.0.113.7", k);
    CHECK_EQ_STR(k, "203.0.113.7");
    ig_client_ip_limit_key("2001:db8:1:2:3:4:5:6", k);
    CHECK_EQ_STR(k, "2001:db8:1:2::/64");
    ig_client_ip_limit_key("2001:db8:1:2:ffff:ffff:ffff:ffff", k2);
    CHECK_EQ_STR(k2, k); /* the same /64 */
    ig_client_ip_limit_key("2001:db8:1:3::1", k2);
    CHECK_EQ_STR(k2, "2001:db8:1:3::/64");
    ig_client_ip_limit_key("::1", k);
    CHECK_EQ_STR(k, "::/64");
    ig_client_ip_limit_key("fe80::1", k);
    CHECK_EQ_STR(k, "fe80::/64");
    ig_client_ip_limit_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", k);
    CHECK_EQ_STR(k, "ffff:ffff:ffff:ffff::/64");
    ig_client_ip_limit_key("2001:DB8:0:0:1::", k);
    CHECK_EQ_STR(k, "2001:db8::/64");
    ig_client_ip_limit_key("0.0.0.0", k); /* what ig_client_ip reports for a non-IP peer */
    CHECK_EQ_STR(k, "0.0.0.0");
    /* Not an address: copied (cut to fit). */
    ig_client_ip_limit_key("garbage", k);
    CHECK_EQ_STR(k, "garbage");
    ig_client_ip_limit_key(NULL, k);
    CHECK_EQ_STR(k, "");
    char longer[100];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    ig_client_ip_limit_key(longer, k);
    CHECK_EQ_INT(strlen(k), IG_CLIENT_IP_KEY_LEN - 1);
}

int main(void)
{
    RUN(untrusted_peer_ignores_xff);
    RUN(spoofed_leftmost_entries);
    RUN(trusted_chains);
    RUN(malformed_hop_stops_walk);
    RUN(mapped_ipv4);
    RUN(cidr_membership);
    RUN(parse_errors);
    RUN(limit_key);
    UNIT_DONE();
}
