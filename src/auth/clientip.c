/*
 * clientip.c — trusted proxy ranges and the X-Forwarded-For walk (contract in clientip.h).
 *
 * Every address is held as 16 bytes in network order, IPv4 mapped into ::ffff:0:0/96, and every range as
 * such an address and a prefix length 0..128 (an IPv4 /n is /96+n). Membership is a scan of the ranges:
 * a trusted list names a handful of proxies, not a routing table.
 *
 * All address text goes through inet_pton and inet_ntop; this file only splits on ',' and '/', trims, and
 * bounds lengths. inet_pton reads up to a NUL, so a piece of untrusted input is copied into a NUL-terminated
 * buffer first, and a piece that holds a NUL byte of its own is refused: otherwise "1.2.3.4\0junk" would
 * pass as 1.2.3.4.
 */
#include "auth/clientip.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#define ADDR_TEXT_MAX (IG_CLIENT_IP_LEN - 1) /* longest address text inet_pton could take */

typedef struct {
    uint8_t addr[16];
    unsigned bits; /* 0..128 */
} range_t;

struct ig_trusted {
    size_t n;
    range_t r[]; /* flexible */
};

static const uint8_t MAPPED_PREFIX[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses address text s[0..n) (no NUL needed) into a 16-byte address. *v4 (may be NULL) tells whether the
 * text was IPv4 dotted-quad. false for anything inet_pton refuses, an embedded NUL, or more than
 * ADDR_TEXT_MAX bytes. */
static bool parse_addr(const char *s, size_t n, uint8_t out[16], bool *v4)
{
    char text[ADDR_TEXT_MAX + 1];
    if (n == 0 || n > ADDR_TEXT_MAX || memchr(s, '\0', n)) return false;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, out + 12) == 1) {
        memcpy(out, MAPPED_PREFIX, sizeof MAPPED_PREFIX);
        if (v4) *v4 = true;
        return true;
    }
    if (v4) *v4 = false;
    return inet_pton(AF_INET6, text, out) == 1;
}

static bool is_mapped(const uint8_t a[16])
{
    return memcmp(a, MAPPED_PREFIX, sizeof MAPPED_PREFIX) == 0;
}

/* Normalized text of a: IPv4 for mapped addresses, IPv6 otherwise. */
static void addr_text(const uint8_t a[16], char out[IG_CLIENT_IP_LEN])
{
    const char *ok = is_mapped(a) ? inet_ntop(AF_INET, a + 12, out, IG_CLIENT_IP_LEN)
                                  : inet_ntop(AF_INET6, a, out, IG_CLIENT_IP_LEN);
    if (!ok) snprintf(out, IG_CLIENT_IP_LEN, "0.0.0.0"); /* cannot happen: the buffer is large enough */
}

/* true when the first `bits` bits of a and b agree. */
static bool prefix_eq(const uint8_t a[16], const uint8_t b[16], unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* true when bits past the first `bits` of a are all zero. */
static bool host_bits_clear(const uint8_t a[16], unsigned bits)
{
    for (unsigned i = bits; i < 128; i++)
        if (a[i / 8] & (0x80 >> (i % 8))) return false;
    return true;
}

static bool contains(const ig_trusted_t *t, const uint8_t a[16])
{
    if (!t) return false;
    for (size_t i = 0; i < t->n; i++)
        if (prefix_eq(t->r[i].addr, a, t->r[i].bits)) return true;
    return false;
}

/* Parses one trimmed entry "addr" or "addr/len" into r. NULL on success, else the reason. */
static const char *parse_range(ig_iov_t s, range_t *r)
{
    const char *slash = memchr(s.base, '/', s.len);
    size_t alen = slash ? (size_t)(slash - s.base) : s.len;
    bool v4;
    unsigned bits = 0, max;

    if (!parse_addr(s.base, alen, r->addr, &v4)) return "not an IP address or CIDR range";
    max = v4 ? 32 : 128;
    if (!slash) {
        r->bits = 128;
        return NULL;
    }
    ig_iov_t len = ig_iov(slash + 1, s.len - alen - 1);
    if (len.len == 0 || len.len > 3) return "CIDR prefix length out of range";
    for (size_t i = 0; i < len.len; i++) {
        if (len.base[i] < '0' || len.base[i] > '9') return "CIDR prefix length out of range";
        bits = bits * 10 + (unsigned)(len.base[i] - '0');
    }
    if (bits > max) return "CIDR prefix length out of range";
    r->bits = v4 ? 96 + bits : bits;
    if (!host_bits_clear(r->addr, r->bits)) return "address has bits set past the CIDR prefix length";
    return NULL;
}

int ig_trusted_parse(const char *spec, ig_trusted_t **out, const char **why)
{
    int rc = IG_OK;
    const char *msg = NULL;
    ig_trusted_t *t = NULL;
    ig_iov_t all = ig_iov_trim(ig_iov_str(spec));
    size_t cap = 0;

    if (all.len) {
        cap = 1;
        for (size_t i = 0; i < all.len; i++)
            cap += all.base[i] == ',';
    }
    t = malloc(sizeof *t + cap * sizeof t->r[0]);
    if (!t) {
        rc = IG_ENOMEM;
        msg = "out of memory";
        goto out;
    }
    t->n = 0;
    for (size_t pos = 0; all.len > 0;) {
        const char *comma = memchr(all.base + pos, ',', all.len - pos);
        size_t end = comma ? (size_t)(comma - all.base) : all.len;
        ig_iov_t entry = ig_iov_trim(ig_iov(all.base + pos, end - pos));
        msg = entry.len ? parse_range(entry, &t->r[t->n]) : "empty entry in the address list";
        if (msg) {
            rc = IG_EINVAL;
            goto out;
        }
        t->n++;
        if (!comma) break;
        pos = end + 1; /* after a trailing comma: pos == all.len, an empty last entry */
    }
out:
    if (rc) {
        free(t);
        t = NULL;
    }
    *out = t;
    if (why) *why = msg;
    return rc;
}

void ig_trusted_free(ig_trusted_t *t)
{
    free(t);
}

bool ig_trusted_has(const ig_trusted_t *t, const char *ip)
{
    uint8_t a[16];
    return t && ip && parse_addr(ip, strnlen(ip, ADDR_TEXT_MAX + 1), a, NULL) && contains(t, a);
}

void ig_client_ip(const ig_trusted_t *t, const char *peer_ip, ig_iov_t xff, char out[IG_CLIENT_IP_LEN])
{
    uint8_t cur[16], hop[16];
    size_t end;
    bool more;

    if (!peer_ip || !parse_addr(peer_ip, strnlen(peer_ip, ADDR_TEXT_MAX + 1), cur, NULL)) {
        snprintf(out, IG_CLIENT_IP_LEN, "0.0.0.0");
        return;
    }
    if (!xff.base) xff.len = 0;
    /* cur is the address at hand and trusted; hops [0, end) are still unread, walked right to left. An empty
     * or blank hop (also a blank header) is malformed like any other garbage and ends the walk at cur. */
    end = xff.len;
    more = xff.len > 0;
    while (more && contains(t, cur)) {
        size_t start = end;
        while (start > 0 && xff.base[start - 1] != ',')
            start--;
        ig_iov_t h = ig_iov_trim(ig_iov(xff.base + start, end - start));
        if (!parse_addr(h.base, h.len, hop, NULL)) break; /* nothing left of garbage is believed */
        memcpy(cur, hop, sizeof cur);
        more = start > 0;
        end = more ? start - 1 : 0; /* drop the hop and the comma before it */
    }
    addr_text(cur, out);
}

void ig_client_ip_limit_key(const char *ip, char out[IG_CLIENT_IP_KEY_LEN])
{
    uint8_t a[16];
    char text[IG_CLIENT_IP_LEN];
    bool mapped;

    if (!ip || !parse_addr(ip, strnlen(ip, ADDR_TEXT_MAX + 1), a, NULL)) {
        snprintf(out, IG_CLIENT_IP_KEY_LEN, "%s", ip ? ip : "");
        return;
    }
    mapped = is_mapped(a);
    if (!mapped) memset(a + 8, 0, 8); /* the /64 */
    addr_text(a, text);
    if (mapped)
        snprintf(out, IG_CLIENT_IP_KEY_LEN, "%s", text);
    else
        snprintf(out, IG_CLIENT_IP_KEY_LEN, "%s/64", text);
}
