/*
 * outbound.c — SSRF-safe outbound URLs (contract in outbound.h).
 *
 * The URL is parsed here, strictly, rather than by a lenient general parser: every byte must be printable
 * ASCII without backslash (the classic parser-differential characters: "https://a\@b" is a@b to one parser
 * and b to another), the authority ends at the first '/', '?' or '#', and any '@' in it is refused. The host
 * is normalised the way resolvers read it (inet_aton's numeric forms, which glibc's getaddrinfo also
 * takes) so the address checked is the address the kernel would connect to. The normalised URL is then
 * handed to libcurl's own URL parser, and the check fails unless curl sees the same scheme, host and port:
 * whatever curl would connect to is what was checked.
 *
 * Addresses are 16 bytes, IPv4 mapped into ::ffff:0:0/96 (as in src/auth/clientip.c), so IPv4 spelled as
 * IPv4-mapped IPv6 cannot dodge an IPv4 rule. The forbidden ranges are two tables, searched in order (more
 * specific rows first, so the reason names the narrowest range); IPv6 outside 2000::/3 that no row allows
 * is refused, so a range IANA assigns later in reserved space is refused by default.
 *
 * Pinning uses CURLOPT_CONNECT_TO rather than CURLOPT_RESOLVE: RESOLVE writes into the DNS cache, which a
 * multi handle or share object holds for every transfer (and keeps "forever"), while CONNECT_TO belongs to
 * the one easy handle. An open-socket callback then refuses any socket to an address or port other than the
 * checked one, so a later setopt, a curl quirk or a proxy cannot reroute the connection.
 */
#include "net/outbound.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

#define V6_TEXT_MAX  45  /* longest IPv6 text inet_pton takes, without NUL */
#define NAME_MAX_LEN 253 /* DNS name without the trailing dot */
#define LABEL_MAX    63

#define IG_OUTBOUND_WHY_TEXT(name, msg) [IG_OUTBOUND_##name] = msg,
static const char *const WHY_TEXT[] = {[IG_OUTBOUND_OK] = "", IG_OUTBOUND_WHY_MAP(IG_OUTBOUND_WHY_TEXT)};
#undef IG_OUTBOUND_WHY_TEXT

const char *ig_outbound_why_text(ig_outbound_why_t w)
{
    return (unsigned)w < IG_ARRAY_LEN(WHY_TEXT) ? WHY_TEXT[w] : "";
}

/* The ig_err_t for a refusal: malformed spellings are EINVAL, policy refusals EFORBIDDEN. */
static int why_err(ig_outbound_why_t w)
{
    switch (w) {
    case IG_OUTBOUND_OK:
        return IG_OK;
    case IG_OUTBOUND_NOURL:
    case IG_OUTBOUND_TOOLONG:
    case IG_OUTBOUND_BADCHAR:
    case IG_OUTBOUND_NOHOST:
    case IG_OUTBOUND_PERCENTHOST:
    case IG_OUTBOUND_ZONEID:
    case IG_OUTBOUND_BADIPV6:
    case IG_OUTBOUND_BADIPV4:
    case IG_OUTBOUND_BADHOST:
    case IG_OUTBOUND_BADPORT:
    case IG_OUTBOUND_AMBIGUOUS:
    case IG_OUTBOUND_ALLOWLIST:
    case IG_OUTBOUND_ALLOWLISTSIZE:
        return IG_EINVAL;
    case IG_OUTBOUND_RESOLVE:
        return IG_EUNAVAILABLE;
    case IG_OUTBOUND_NOMEM:
        return IG_ENOMEM;
    default:
        return IG_EFORBIDDEN;
    }
}

/* ---- addresses ------------------------------------------------------------------------------------- */

static const uint8_t MAPPED_PREFIX[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_mapped(const ig_outbound_addr_t *a)
{
    return memcmp(a->b, MAPPED_PREFIX, sizeof MAPPED_PREFIX) == 0;
}

static void addr_from_v4(uint32_t v4, ig_outbound_addr_t *a)
{
    memcpy(a->b, MAPPED_PREFIX, sizeof MAPPED_PREFIX);
    a->b[12] = (uint8_t)(v4 >> 24);
    a->b[13] = (uint8_t)(v4 >> 16);
    a->b[14] = (uint8_t)(v4 >> 8);
    a->b[15] = (uint8_t)v4;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Normalised text: IPv4 (mapped) as a dotted quad, IPv6 as inet_ntop writes it. */
static void addr_text(const ig_outbound_addr_t *a, char out[IG_OUTBOUND_ADDR_MAX])
{
    const char *ok = is_mapped(a) ? inet_ntop(AF_INET, a->b + 12, out, IG_OUTBOUND_ADDR_MAX)
                                  : inet_ntop(AF_INET6, a->b, out, IG_OUTBOUND_ADDR_MAX);
    if (!ok) snprintf(out, IG_OUTBOUND_ADDR_MAX, "0.0.0.0"); /* cannot happen: the buffer is large enough */
}

bool ig_outbound_addr_parse(const char *text, ig_outbound_addr_t *a)
{
    uint8_t v4[4];
    if (!text || !a) return false;
    if (inet_pton(AF_INET, text, v4) == 1) {
        addr_from_v4(be32(v4), a);
        return true;
    }
    return inet_pton(AF_INET6, text, a->b) == 1;
}

/* true when the first `bits` bits of a and b agree. */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* IANA IPv4 special-purpose ranges that are not globally reachable, plus multicast and broadcast. */
static const struct {
    uint32_t net;
    unsigned bits;
    ig_outbound_why_t why;
} V4_FORBIDDEN[] = {
    {0x00000000, 8, IG_OUTBOUND_UNSPECIFIED},    /* 0.0.0.0/8 "this network" */
    {0x0a000000, 8, IG_OUTBOUND_PRIVATE},        /* 10/8 RFC 1918 */
    {0x64400000, 10, IG_OUTBOUND_CGNAT},         /* 100.64/10 RFC 6598 */
    {0x7f000000, 8, IG_OUTBOUND_LOOPBACK},       /* 127/8 */
    {0xa9fe0000, 16, IG_OUTBOUND_LINKLOCAL},     /* 169.254/16, cloud metadata 169.254.169.254 */
    {0xac100000, 12, IG_OUTBOUND_PRIVATE},       /* 172.16/12 */
    {0xc0000000, 24, IG_OUTBOUND_RESERVED},      /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200, 24, IG_OUTBOUND_DOCUMENTATION}, /* 192.0.2/24 TEST-NET-1 */
    {0xc0586300, 24, IG_OUTBOUND_RESERVED},      /* 192.88.99/24 6to4 relay anycast (deprecated) */
    {0xc0a80000, 16, IG_OUTBOUND_PRIVATE},       /* 192.168/16 */
    {0xc6120000, 15, IG_OUTBOUND_BENCHMARK},     /* 198.18/15 RFC 2544 */
    {0xc6336400, 24, IG_OUTBOUND_DOCUMENTATION}, /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100, 24, IG_OUTBOUND_DOCUMENTATION}, /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000, 4, IG_OUTBOUND_MULTICAST},      /* 224/4 */
    {0xffffffff, 32, IG_OUTBOUND_BROADCAST},     /* 255.255.255.255 */
    {0xf0000000, 4, IG_OUTBOUND_RESERVED},       /* 240/4 class E */
};

static ig_outbound_why_t v4_why(uint32_t a)
{
    for (size_t i = 0; i < IG_ARRAY_LEN(V4_FORBIDDEN); i++) {
        uint32_t mask = V4_FORBIDDEN[i].bits ? ~(uint32_t)0 << (32 - V4_FORBIDDEN[i].bits) : 0;
        if ((a & mask) == V4_FORBIDDEN[i].net) return V4_FORBIDDEN[i].why;
    }
    return IG_OUTBOUND_OK;
}

/* IPv6 rows. embed > 0: the range embeds an IPv4 address at that byte offset, which decides (refused with
 * `why`, or with the IPv4 reason itself when why is OK; allowed when the IPv4 address is public). */
static const struct {
    uint8_t net[16];
    unsigned bits;
    unsigned embed;
    ig_outbound_why_t why;
} V6_RULES[] = {
    {{0}, 128, 0, IG_OUTBOUND_UNSPECIFIED},                       /* :: */
    {{[15] = 1}, 128, 0, IG_OUTBOUND_LOOPBACK},                   /* ::1 */
    {{[10] = 0xff, [11] = 0xff}, 96, 12, IG_OUTBOUND_OK},         /* ::ffff:0:0/96 IPv4-mapped */
    {{[8] = 0xff, [9] = 0xff}, 96, 0, IG_OUTBOUND_MAPPED},        /* ::ffff:0:0:0/96 translated */
    {{0}, 96, 0, IG_OUTBOUND_V4COMPAT},                           /* ::/96 IPv4-compatible */
    {{0, 0x64, 0xff, 0x9b}, 96, 12, IG_OUTBOUND_NAT64},           /* 64:ff9b::/96 RFC 6052 */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, 0, IG_OUTBOUND_RESERVED},   /* 64:ff9b:1::/48 local NAT64 */
    {{1, 0}, 64, 0, IG_OUTBOUND_RESERVED},                        /* 100::/64 discard-only */
    {{0x20, 0x01, 0, 0}, 32, 0, IG_OUTBOUND_TEREDO},              /* 2001::/32 Teredo */
    {{0x20, 0x01, 0, 2, 0, 0}, 48, 0, IG_OUTBOUND_BENCHMARK},     /* 2001:2::/48 */
    {{0x20, 0x01}, 23, 0, IG_OUTBOUND_RESERVED},                  /* 2001::/23 IETF assignments */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, 0, IG_OUTBOUND_DOCUMENTATION}, /* 2001:db8::/32 */
    {{0x20, 0x02}, 16, 2, IG_OUTBOUND_SIXTOFOUR},                 /* 2002::/16 6to4 */
    {{0x3f, 0xff}, 20, 0, IG_OUTBOUND_DOCUMENTATION},             /* 3fff::/20 RFC 9637 */
    {{0xfc}, 7, 0, IG_OUTBOUND_ULA},                              /* fc00::/7 */
    {{0xfe, 0x80}, 10, 0, IG_OUTBOUND_LINKLOCAL},                 /* fe80::/10 */
    {{0xfe, 0xc0}, 10, 0, IG_OUTBOUND_SITELOCAL},                 /* fec0::/10 (deprecated) */
    {{0xff}, 8, 0, IG_OUTBOUND_MULTICAST},                        /* ff00::/8 */
};

static ig_outbound_why_t addr_why(const ig_outbound_addr_t *a)
{
    for (size_t i = 0; i < IG_ARRAY_LEN(V6_RULES); i++) {
        if (!prefix_eq(a->b, V6_RULES[i].net, V6_RULES[i].bits)) continue;
        if (V6_RULES[i].embed == 0) return V6_RULES[i].why;
        ig_outbound_why_t inner = v4_why(be32(a->b + V6_RULES[i].embed));
        if (inner == IG_OUTBOUND_OK) return IG_OUTBOUND_OK;
        return V6_RULES[i].why == IG_OUTBOUND_OK ? inner : V6_RULES[i].why;
    }
    if ((a->b[0] & 0xe0) != 0x20) return IG_OUTBOUND_NOTGLOBAL; /* outside 2000::/3 */
    return IG_OUTBOUND_OK;
}

const char *ig_outbound_addr_forbidden(const ig_outbound_addr_t *a)
{
    ig_outbound_why_t w = a ? addr_why(a) : IG_OUTBOUND_UNSPECIFIED;
    return w == IG_OUTBOUND_OK ? NULL : WHY_TEXT[w];
}

/* The address and port of a socket address; false for other families or short lengths. */
static bool sockaddr_addr(const void *sa, size_t len, ig_outbound_addr_t *a, int *port)
{
    struct sockaddr_storage ss;
    if (len < sizeof(sa_family_t) || len > sizeof ss) return false;
    memcpy(&ss, sa, len);
    if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        addr_from_v4(ntohl(in->sin_addr.s_addr), a);
        if (port) *port = ntohs(in->sin_port);
        return true;
    }
    if (ss.ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        memcpy(a->b, &in6->sin6_addr, 16);
        if (port) *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

/* ---- hosts ----------------------------------------------------------------------------------------- */

typedef enum { HOST_NAME, HOST_V4, HOST_V6 } host_kind_t;

typedef struct {
    host_kind_t kind;
    char text[IG_OUTBOUND_HOST_MAX]; /* normalised */
    ig_outbound_addr_t addr;         /* numeric hosts */
} host_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One part of a numeric IPv4 host as inet_aton reads it: 0x-hex (no digits is 0, as WHATWG), 0-octal, or
 * decimal. false on a bad digit or a value above 2^32-1. */
static bool v4_part(const char *s, size_t n, uint64_t *v)
{
    unsigned base = 10;
    uint64_t x = 0;
    if (n == 0) return false;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        s++;
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        int d = hex_val(s[i]);
        if (d < 0 || (unsigned)d >= base) return false;
        x = x * base + (unsigned)d;
        if (x > 0xffffffffu) return false;
    }
    *v = x;
    return true;
}

/* A numeric IPv4 host of 1 to 4 parts; the last part fills the remaining bytes (127.1 = 127.0.0.1). */
static bool v4_parse(const char *s, size_t n, uint32_t *out)
{
    uint64_t part[4];
    size_t np = 0, i = 0;
    for (;;) {
        size_t start = i;
        if (np == 4) return false;
        while (i < n && s[i] != '.')
            i++;
        if (!v4_part(s + start, i - start, &part[np++])) return false;
        if (i == n) break;
        i++;
    }
    for (size_t k = 0; k + 1 < np; k++)
        if (part[k] > 255) return false;
    if (part[np - 1] > (0xffffffffu >> (8 * (np - 1)))) return false;
    uint32_t v = (uint32_t)part[np - 1];
    for (size_t k = 0; k + 1 < np; k++)
        v |= (uint32_t)part[k] << (24 - 8 * k);
    *out = v;
    return true;
}

/* WHATWG's "ends in a number": the last label is all digits, or 0x followed by hex digits only. */
static bool ends_in_number(const char *label, size_t n)
{
    size_t i = 0;
    if (n >= 2 && label[0] == '0' && label[1] == 'x') {
        for (i = 2; i < n; i++)
            if (hex_val(label[i]) < 0) return false;
        return true;
    }
    for (i = 0; i < n; i++)
        if (!is_digit(label[i])) return false;
    return n > 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.' ||
           c == '_';
}

/* Parses and normalises a host: "[ipv6]", a numeric IPv4 in any inet_aton spelling, or a DNS name.
 * s holds printable ASCII only (the caller checked). */
static ig_outbound_why_t host_parse(ig_iov_t s, host_t *h)
{
    char buf[IG_OUTBOUND_HOST_MAX];
    size_t n = 0;

    memset(h, 0, sizeof *h);
    if (s.len == 0) return IG_OUTBOUND_NOHOST;
    if (s.base[0] == '[') {
        if (memchr(s.base, '%', s.len)) return IG_OUTBOUND_ZONEID;
        if (s.len < 3 || s.base[s.len - 1] != ']' || s.len - 2 > V6_TEXT_MAX) return IG_OUTBOUND_BADIPV6;
        memcpy(buf, s.base + 1, s.len - 2);
        buf[s.len - 2] = '\0';
        if (inet_pton(AF_INET6, buf, h->addr.b) != 1) return IG_OUTBOUND_BADIPV6;
        h->kind = HOST_V6;
        if (!inet_ntop(AF_INET6, h->addr.b, h->text, sizeof h->text)) return IG_OUTBOUND_BADIPV6;
        return IG_OUTBOUND_OK;
    }
    if (memchr(s.base, '%', s.len)) return IG_OUTBOUND_PERCENTHOST;
    if (s.len > NAME_MAX_LEN + 1) return IG_OUTBOUND_BADHOST;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        if (!name_char(c)) return IG_OUTBOUND_BADHOST;
        buf[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    if (buf[n - 1] == '.') n--; /* one trailing dot: the root */
    if (n == 0 || n > NAME_MAX_LEN) return IG_OUTBOUND_BADHOST;
    buf[n] = '\0';
    /* Labels: none empty ("a..b", a second trailing dot), none longer than 63. */
    size_t last = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && buf[i] != '.') continue;
        if (i == last || i - last > LABEL_MAX) return IG_OUTBOUND_BADHOST;
        if (i < n) last = i + 1;
    }
    if (ends_in_number(buf + last, n - last)) {
        uint32_t v4;
        if (!v4_parse(buf, n, &v4)) return IG_OUTBOUND_BADIPV4;
        h->kind = HOST_V4;
        addr_from_v4(v4, &h->addr);
        addr_text(&h->addr, h->text);
        return IG_OUTBOUND_OK;
    }
    h->kind = HOST_NAME;
    memcpy(h->text, buf, n + 1);
    return IG_OUTBOUND_OK;
}

/* A port: 1 to 5 decimal digits, 1..65535. 0 when malformed. */
static int port_parse(ig_iov_t s)
{
    int v = 0;
    if (s.len == 0 || s.len > 5) return 0;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.base[i])) return 0;
        v = v * 10 + (s.base[i] - '0');
    }
    return v <= 65535 ? v : 0;
}

/* true for printable ASCII other than space and backslash. */
static bool url_byte_ok(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '\\';
}

/* ---- allowlists ------------------------------------------------------------------------------------ */

typedef struct {
    bool is_name;
    char name[IG_OUTBOUND_HOST_MAX]; /* name entries */
    ig_outbound_addr_t net;          /* address entries: a range of `bits` (0..128, IPv4 as 96+n) */
    unsigned bits;
    int port; /* 0: the scheme's default port */
} entry_t;

typedef struct {
    size_t n;
    entry_t *e;
} list_t;

struct ig_outbound_policy {
    list_t op;
    ig_outbound_resolve_fn resolve;
    void *resolve_ctx;
};

static bool host_bits_clear(const uint8_t a[16], unsigned bits)
{
    for (unsigned i = bits; i < 128; i++)
        if (a[i / 8] & (0x80 >> (i % 8))) return false;
    return true;
}

/* "addr/len" with strict address text (inet_pton), into e. */
static bool cidr_parse(ig_iov_t addr, ig_iov_t len, entry_t *e)
{
    char text[V6_TEXT_MAX + 1];
    unsigned bits = 0;
    bool v4;
    if (addr.len == 0 || addr.len > V6_TEXT_MAX || len.len == 0 || len.len > 3) return false;
    memcpy(text, addr.base, addr.len);
    text[addr.len] = '\0';
    if (!ig_outbound_addr_parse(text, &e->net)) return false;
    v4 = memchr(text, ':', addr.len) == NULL;
    for (size_t i = 0; i < len.len; i++) {
        if (!is_digit(len.base[i])) return false;
        bits = bits * 10 + (unsigned)(len.base[i] - '0');
    }
    if (bits > (v4 ? 32u : 128u)) return false;
    e->bits = v4 ? 96 + bits : bits;
    return host_bits_clear(e->net.b, e->bits);
}

/* An optional ":port" suffix (empty suffix: port 0). */
static bool port_suffix(ig_iov_t s, int *port)
{
    *port = 0;
    if (s.len == 0) return true;
    if (s.base[0] != ':') return false;
    *port = port_parse(ig_iov(s.base + 1, s.len - 1));
    return *port != 0;
}

static bool entry_parse(ig_iov_t s, entry_t *e)
{
    const char *slash, *colon;
    size_t colons = 0;
    host_t h;

    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < s.len; i++) {
        if (!url_byte_ok((unsigned char)s.base[i])) return false;
        colons += s.base[i] == ':';
    }
    if (s.base[0] == '[') { /* [v6], [v6]:port, [v6/len], [v6/len]:port */
        const char *close = memchr(s.base, ']', s.len);
        if (!close) return false;
        size_t in_len = (size_t)(close - s.base) + 1;
        ig_iov_t rest = ig_iov(close + 1, s.len - in_len);
        if (!port_suffix(rest, &e->port)) return false;
        slash = memchr(s.base, '/', in_len);
        if (slash) {
            ig_iov_t a = ig_iov(s.base + 1, (size_t)(slash - s.base) - 1);
            return memchr(a.base, ':', a.len) &&
                   cidr_parse(a, ig_iov(slash + 1, (size_t)(close - slash) - 1), e);
        }
        if (host_parse(ig_iov(s.base, in_len), &h) != IG_OUTBOUND_OK) return false;
        e->net = h.addr;
        e->bits = 128;
        return true;
    }
    slash = memchr(s.base, '/', s.len);
    if (slash) { /* addr/len or addr/len:port */
        ig_iov_t a = ig_iov(s.base, (size_t)(slash - s.base));
        ig_iov_t tail = ig_iov(slash + 1, s.len - a.len - 1);
        colon = memchr(tail.base, ':', tail.len);
        ig_iov_t len = ig_iov(tail.base, colon ? (size_t)(colon - tail.base) : tail.len);
        if (!port_suffix(ig_iov(len.base + len.len, tail.len - len.len), &e->port)) return false;
        return cidr_parse(a, len, e);
    }
    if (colons >= 2) { /* a bare IPv6 address, no port */
        char text[V6_TEXT_MAX + 1];
        if (s.len > V6_TEXT_MAX) return false;
        memcpy(text, s.base, s.len);
        text[s.len] = '\0';
        e->bits = 128;
        return inet_pton(AF_INET6, text, e->net.b) == 1;
    }
    colon = memchr(s.base, ':', s.len);
    ig_iov_t host = ig_iov(s.base, colon ? (size_t)(colon - s.base) : s.len);
    if (!port_suffix(ig_iov(host.base + host.len, s.len - host.len), &e->port)) return false;
    if (host_parse(host, &h) != IG_OUTBOUND_OK) return false;
    if (h.kind == HOST_NAME) {
        e->is_name = true;
        memcpy(e->name, h.text, sizeof e->name);
    } else {
        e->net = h.addr;
        e->bits = 128;
    }
    return true;
}

static void list_clear(list_t *l)
{
    free(l->e);
    l->e = NULL;
    l->n = 0;
}

static ig_outbound_why_t list_parse(const char *spec, list_t *l)
{
    ig_iov_t all = ig_iov_trim(ig_iov_str(spec));
    size_t cap = 0;

    l->n = 0;
    l->e = NULL;
    if (all.len == 0) return IG_OUTBOUND_OK;
    if (all.len > IG_OUTBOUND_ALLOWLIST_MAX) return IG_OUTBOUND_ALLOWLISTSIZE;
    cap = 1;
    for (size_t i = 0; i < all.len; i++)
        cap += all.base[i] == ',';
    if (cap > IG_OUTBOUND_MAX_ENTRIES) return IG_OUTBOUND_ALLOWLISTSIZE;
    l->e = calloc(cap, sizeof *l->e);
    if (!l->e) return IG_OUTBOUND_NOMEM;
    for (size_t pos = 0;;) {
        const char *comma = memchr(all.base + pos, ',', all.len - pos);
        size_t end = comma ? (size_t)(comma - all.base) : all.len;
        ig_iov_t entry = ig_iov_trim(ig_iov(all.base + pos, end - pos));
        if (entry.len == 0 || !entry_parse(entry, &l->e[l->n])) {
            list_clear(l);
            return IG_OUTBOUND_ALLOWLIST;
        }
        l->n++;
        if (!comma) break;
        pos = end + 1;
    }
    return IG_OUTBOUND_OK;
}

static bool entry_port_ok(const entry_t *e, int port, bool https)
{
    return e->port ? e->port == port : port == (https ? 443 : 80);
}

static bool list_has_name(const list_t *l, const host_t *h, int port, bool https)
{
    if (h->kind != HOST_NAME) return false;
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].is_name && entry_port_ok(&l->e[i], port, https) && strcmp(l->e[i].name, h->text) == 0)
            return true;
    return false;
}

static bool list_has_addr(const list_t *l, const ig_outbound_addr_t *a, int port, bool https)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->e[i].is_name && entry_port_ok(&l->e[i], port, https) &&
            prefix_eq(l->e[i].net.b, a->b, l->e[i].bits))
            return true;
    return false;
}

/* true when some address entry could cover this port, so the decision has to wait for the addresses. */
static bool list_has_ranges(const list_t *l, int port, bool https)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->e[i].is_name && entry_port_ok(&l->e[i], port, https)) return true;
    return false;
}

/* ---- resolving ------------------------------------------------------------------------------------- */

static int resolve_gai(void *ctx, const char *host, ig_outbound_addr_t *addrs, size_t max, size_t *n)
{
    struct addrinfo hints, *res = NULL;
    int rc = IG_OK, e;

    *n = 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC; /* every family: a name is refused if ANY of its addresses is */
    hints.ai_socktype = SOCK_STREAM;
    e = getaddrinfo(host, NULL, &hints, &res);
    if (e != 0) return e == EAI_MEMORY ? IG_ENOMEM : IG_EUNAVAILABLE;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        ig_outbound_addr_t a;
        if (!sockaddr_addr(ai->ai_addr, ai->ai_addrlen, &a, NULL)) continue; /* not IP: curl cannot use it */
        if (*n == max) {
            rc = IG_ETOOBIG;
            break;
        }
        addrs[(*n)++] = a;
    }
    freeaddrinfo(res);
    return rc;
}

/* ---- policy ---------------------------------------------------------------------------------------- */

static const ig_outbound_policy_t DEFAULT_POLICY = {{0, NULL}, resolve_gai, NULL};

int ig_outbound_policy_new(const char *operator_allowlist, ig_outbound_policy_t **out, const char **why)
{
    ig_outbound_why_t w = IG_OUTBOUND_OK;
    ig_outbound_policy_t *p = calloc(1, sizeof *p);

    if (!p) {
        w = IG_OUTBOUND_NOMEM;
        goto out;
    }
    w = list_parse(operator_allowlist, &p->op);
    p->resolve = resolve_gai;
out:
    if (w != IG_OUTBOUND_OK) {
        free(p);
        p = NULL;
    }
    *out = p;
    if (why) *why = w ? WHY_TEXT[w] : NULL;
    return why_err(w);
}

void ig_outbound_policy_free(ig_outbound_policy_t *p)
{
    if (!p) return;
    list_clear(&p->op);
    free(p);
}

void ig_outbound_policy_set_resolver(ig_outbound_policy_t *p, ig_outbound_resolve_fn fn, void *ctx)
{
    p->resolve = fn ? fn : resolve_gai;
    p->resolve_ctx = fn ? ctx : NULL;
}

int ig_outbound_allowlist_validate(const char *allowlist, const char **why)
{
    list_t l;
    ig_outbound_why_t w = list_parse(allowlist, &l);
    list_clear(&l);
    if (why) *why = w ? WHY_TEXT[w] : NULL;
    return why_err(w);
}

/* ---- the check ------------------------------------------------------------------------------------- */

typedef struct {
    bool https;
    host_t host;
    int port;
    ig_iov_t rest; /* path and query, without the fragment; may be empty */
} url_t;

static ig_outbound_why_t url_parse(const char *url, url_t *u)
{
    size_t n, p, end;
    ig_iov_t auth, hostpart;
    const char *colon = NULL;
    ig_outbound_why_t w;

    if (!url) return IG_OUTBOUND_NOURL;
    n = strnlen(url, IG_OUTBOUND_URL_MAX);
    if (n == 0) return IG_OUTBOUND_NOURL;
    if (n >= IG_OUTBOUND_URL_MAX) return IG_OUTBOUND_TOOLONG;
    for (size_t i = 0; i < n; i++)
        if (!url_byte_ok((unsigned char)url[i])) return IG_OUTBOUND_BADCHAR;
    if (strncasecmp(url, "https://", 8) == 0) {
        u->https = true;
        p = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        u->https = false;
        p = 7;
    } else {
        return IG_OUTBOUND_SCHEME;
    }
    end = p + strcspn(url + p, "/?#");
    auth = ig_iov(url + p, end - p);
    if (memchr(auth.base, '@', auth.len)) return IG_OUTBOUND_USERINFO;
    if (auth.len == 0) return IG_OUTBOUND_NOHOST;
    if (auth.base[0] == '[') {
        const char *close = memchr(auth.base, ']', auth.len);
        size_t hl = close ? (size_t)(close - auth.base) + 1 : auth.len;
        hostpart = ig_iov(auth.base, hl);
        if (hl < auth.len) {
            if (auth.base[hl] != ':') return IG_OUTBOUND_BADHOST;
            colon = auth.base + hl;
        }
    } else {
        colon = memchr(auth.base, ':', auth.len);
        hostpart = ig_iov(auth.base, colon ? (size_t)(colon - auth.base) : auth.len);
    }
    w = host_parse(hostpart, &u->host);
    if (w != IG_OUTBOUND_OK) return w;
    if (colon) {
        u->port = port_parse(ig_iov(colon + 1, (size_t)(auth.base + auth.len - colon - 1)));
        if (u->port == 0) return IG_OUTBOUND_BADPORT;
    } else {
        u->port = u->https ? 443 : 80;
    }
    u->rest = ig_iov(url + end, strcspn(url + end, "#"));
    return IG_OUTBOUND_OK;
}

/* libcurl's URL parser must read the normalised URL as we do: same scheme, host, port, no credentials. */
static ig_outbound_why_t curl_agrees(const char *url, const url_t *u)
{
    ig_outbound_why_t w = IG_OUTBOUND_AMBIGUOUS;
    char *scheme = NULL, *host = NULL, *port = NULL, *x = NULL;
    CURLU *h = curl_url();
    CURLUcode uc;

    if (!h) return IG_OUTBOUND_NOMEM;
    uc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY) w = IG_OUTBOUND_NOMEM;
    if (uc != CURLUE_OK) goto out;
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    if (curl_url_get(h, CURLUPART_USER, &x, 0) != CURLUE_NO_USER) goto out;
    if (curl_url_get(h, CURLUPART_PASSWORD, &x, 0) != CURLUE_NO_PASSWORD) goto out;
    if (curl_url_get(h, CURLUPART_ZONEID, &x, 0) != CURLUE_NO_ZONEID) goto out;
    if (strcasecmp(scheme, u->https ? "https" : "http") != 0) goto out;
    if (port_parse(ig_iov_str(port)) != u->port) goto out;
    if (u->host.kind == HOST_V6) {
        size_t hl = strlen(host);
        char text[V6_TEXT_MAX + 1];
        ig_outbound_addr_t a;
        if (hl < 3 || hl - 2 > V6_TEXT_MAX || host[0] != '[' || host[hl - 1] != ']') goto out;
        memcpy(text, host + 1, hl - 2);
        text[hl - 2] = '\0';
        if (inet_pton(AF_INET6, text, a.b) != 1 || memcmp(a.b, u->host.addr.b, 16) != 0) goto out;
    } else if (strcasecmp(host, u->host.text) != 0) {
        goto out;
    }
    w = IG_OUTBOUND_OK;
out:
    curl_free(x);
    curl_free(port);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(h);
    return w;
}

static bool is_localhost_name(const char *name)
{
    size_t n = strlen(name);
    static const char suffix[] = ".localhost";
    return strcmp(name, "localhost") == 0 ||
           (n > sizeof suffix - 1 && strcmp(name + n - (sizeof suffix - 1), suffix) == 0);
}

/* Writes the normalised URL to out[IG_OUTBOUND_URL_MAX]. */
static ig_outbound_why_t url_build(const url_t *u, char *out)
{
    char port[8] = "";
    bool v6 = u->host.kind == HOST_V6;
    const char *slash = (u->rest.len == 0 || u->rest.base[0] != '/') ? "/" : "";
    if (u->port != (u->https ? 443 : 80)) snprintf(port, sizeof port, ":%d", u->port);
    int n = snprintf(out, IG_OUTBOUND_URL_MAX, "%s://%s%s%s%s%s%.*s", u->https ? "https" : "http",
                     v6 ? "[" : "", u->host.text, v6 ? "]" : "", port, slash, (int)u->rest.len, u->rest.base);
    return (n < 0 || n >= IG_OUTBOUND_URL_MAX) ? IG_OUTBOUND_TOOLONG : IG_OUTBOUND_OK;
}

int ig_outbound_check(const ig_outbound_policy_t *p, const char *org_allowlist, const char *url,
                      ig_outbound_target_t *out, const char **why)
{
    ig_outbound_why_t w = IG_OUTBOUND_OK;
    list_t org = {0, NULL};
    url_t u;
    ig_outbound_addr_t addrs[IG_OUTBOUND_MAX_ADDRS];
    char in[IG_OUTBOUND_URL_MAX];
    size_t n = 0;
    bool op_name, org_name, default_port, op_all = true, org_all = true;

    /* url may be out->url itself (re-checking a stored target): work on a copy. */
    if (url) {
        size_t len = strnlen(url, IG_OUTBOUND_URL_MAX);
        if (len == IG_OUTBOUND_URL_MAX) {
            w = IG_OUTBOUND_TOOLONG;
            goto out;
        }
        memcpy(in, url, len + 1);
    }
    if (!p) p = &DEFAULT_POLICY;
    memset(out, 0, sizeof *out);
    memset(&u, 0, sizeof u);
    w = url_parse(url ? in : NULL, &u);
    if (w) goto out;
    w = list_parse(org_allowlist, &org);
    if (w) goto out;
    w = url_build(&u, out->url);
    if (w) goto out;
    w = curl_agrees(out->url, &u);
    if (w) goto out;

    /* What can be decided before any DNS lookup. */
    op_name = list_has_name(&p->op, &u.host, u.port, u.https);
    org_name = list_has_name(&org, &u.host, u.port, u.https);
    default_port = u.port == (u.https ? 443 : 80);
    if (!u.https && !op_name && !list_has_ranges(&p->op, u.port, false)) {
        w = IG_OUTBOUND_HTTP;
        goto out;
    }
    if (!default_port && !op_name && !org_name && !list_has_ranges(&p->op, u.port, u.https) &&
        !list_has_ranges(&org, u.port, u.https)) {
        w = IG_OUTBOUND_PORT;
        goto out;
    }
    if (u.host.kind == HOST_NAME && !op_name && is_localhost_name(u.host.text)) {
        w = IG_OUTBOUND_LOCALHOST;
        goto out;
    }

    if (u.host.kind != HOST_NAME) {
        addrs[0] = u.host.addr;
        n = 1;
    } else {
        int rc = p->resolve(p->resolve_ctx, u.host.text, addrs, IG_OUTBOUND_MAX_ADDRS, &n);
        if (rc == IG_ETOOBIG || (rc == IG_OK && n > IG_OUTBOUND_MAX_ADDRS))
            w = IG_OUTBOUND_TOOMANYADDRS;
        else if (rc == IG_ENOMEM)
            w = IG_OUTBOUND_NOMEM;
        else if (rc != IG_OK || n == 0)
            w = IG_OUTBOUND_RESOLVE;
        if (w) goto out;
    }

    /* Scheme and port: covered by a name entry, or by address entries containing every address. */
    for (size_t i = 0; i < n; i++) {
        op_all = op_all && list_has_addr(&p->op, &addrs[i], u.port, u.https);
        org_all = org_all && list_has_addr(&org, &addrs[i], u.port, u.https);
    }
    bool op_cover = op_name || op_all;
    bool port_cover = op_cover || org_name || org_all;
    if (!u.https && !op_cover) {
        w = IG_OUTBOUND_HTTP;
        goto out;
    }
    if (!default_port && !port_cover) {
        w = IG_OUTBOUND_PORT;
        goto out;
    }
    /* Every address must be public, or covered by the operator (never by the org). */
    for (size_t i = 0; i < n; i++) {
        if (op_name || list_has_addr(&p->op, &addrs[i], u.port, u.https)) continue;
        w = addr_why(&addrs[i]);
        if (w) goto out;
    }

    memcpy(out->host, u.host.text, sizeof out->host);
    out->port = u.port;
    out->https = u.https;
    out->numeric = u.host.kind != HOST_NAME;
    out->allowlisted = op_name || list_has_addr(&p->op, &addrs[0], u.port, u.https);
    addr_text(&addrs[0], out->addr);
out:
    list_clear(&org);
    if (w) memset(out, 0, sizeof *out);
    if (why) *why = w ? WHY_TEXT[w] : NULL;
    return why_err(w);
}

/* ---- pinning --------------------------------------------------------------------------------------- */

/* The socket guard: only the checked address and port get a socket. */
static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
    const ig_outbound_target_t *t = clientp;
    ig_outbound_addr_t want, got;
    int port = 0;

    if (purpose != CURLSOCKTYPE_IPCXN || !t || !ig_outbound_addr_parse(t->addr, &want) ||
        !sockaddr_addr(&sa->addr, sa->addrlen, &got, &port) || memcmp(want.b, got.b, 16) != 0 ||
        port != t->port)
        return CURL_SOCKET_BAD;
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

int ig_outbound_curl_pin(CURL *curl, const ig_outbound_target_t *t, struct curl_slist **connect_to)
{
    int rc = IG_OK;
    struct curl_slist *list = NULL;
    ig_outbound_addr_t a;
    char entry[IG_OUTBOUND_ADDR_MAX + 16];

    if (!connect_to) return IG_EINVAL;
    *connect_to = NULL;
    if (!curl || !t || !memchr(t->url, '\0', sizeof t->url) || !memchr(t->addr, '\0', sizeof t->addr) ||
        t->url[0] == '\0' || t->port < 1 || t->port > 65535 || !ig_outbound_addr_parse(t->addr, &a) ||
        (!t->allowlisted && addr_why(&a) != IG_OUTBOUND_OK)) {
        rc = IG_EINVAL;
        goto out;
    }
    /* Empty host and port match every connection of this handle: there is only one (no redirect, no
     * proxy), and the URL's host need not be spelled the way curl stores it. */
    if (is_mapped(&a))
        snprintf(entry, sizeof entry, "::%s:%d", t->addr, t->port);
    else
        snprintf(entry, sizeof entry, "::[%s]:%d", t->addr, t->port);
    list = curl_slist_append(NULL, entry);
    if (!list) {
        rc = IG_ENOMEM;
        goto out;
    }
    const char *protocols = t->https ? "https" : "http,https";
    if (curl_easy_setopt(curl, CURLOPT_URL, t->url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, list) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_opensocket) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, (void *)t) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, (char *)NULL) != CURLE_OK) {
        rc = IG_EINTERNAL;
        goto out;
    }
out:
    if (rc != IG_OK) {
        curl_slist_free_all(list);
        list = NULL;
    }
    *connect_to = list;
    return rc;
}
