/*
 * fuzz_clientip.c — libFuzzer target for the trusted-proxy list and the X-Forwarded-For walk
 * (src/auth/clientip.c).
 *
 * Input: "<trusted spec>\n<X-Forwarded-For value>". Without a '\n' the whole input is the header and a
 * fixed list is trusted; a spec that does not parse must say why, and the fixed list is used instead. The
 * header is passed as an exact-size heap copy (no NUL) so ASan catches any read past xff.len. For a few
 * peers (trusted, untrusted, IPv4-mapped, not an address) the result must:
 *   - be an address that inet_pton takes, in normalized form (feeding it back as a peer gives it back);
 *   - be the peer itself when the peer is not trusted;
 *   - equal a simple reference walk written here from the contract (split all hops, walk right to left).
 * Otherwise the target aborts.
 */
#include "auth/clientip.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SPEC "10.0.0.0/8, 192.168.0.0/16, ::1, fd00::/8, ::ffff:172.16.0.0/108"

static const char *const PEERS[] = {"10.0.0.1", "::1", "203.0.113.5", "::ffff:10.0.0.2", "fd00::1", "", NULL};

/* Normalized text of an address text of n bytes into out; false when it is not an address. */
static bool ref_norm(const char *s, size_t n, char out[IG_CLIENT_IP_LEN])
{
    char text[IG_CLIENT_IP_LEN];
    unsigned char a[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (n == 0 || n >= sizeof text || memchr(s, '\0', n)) return false;
    memcpy(text, s, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, a) == 1) return inet_ntop(AF_INET, a, out, IG_CLIENT_IP_LEN) != NULL;
    if (inet_pton(AF_INET6, text, a) != 1) return false;
    if (memcmp(a, mapped, 12) == 0) return inet_ntop(AF_INET, a + 12, out, IG_CLIENT_IP_LEN) != NULL;
    return inet_ntop(AF_INET6, a, out, IG_CLIENT_IP_LEN) != NULL;
}

/* The contract of ig_client_ip, written the plain way. */
static void ref_client(const ig_trusted_t *t, const char *peer, const char *x, size_t n,
                       char out[IG_CLIENT_IP_LEN])
{
    char cur[IG_CLIENT_IP_LEN], hop[IG_CLIENT_IP_LEN];
    if (!peer || !ref_norm(peer, strlen(peer), cur)) {
        memcpy(out, "0.0.0.0", sizeof "0.0.0.0");
        return;
    }
    if (n > 0 && ig_trusted_has(t, cur)) {
        /* Hop boundaries, left to right: starts[i] .. ends[i]. */
        size_t nhops = 1;
        for (size_t i = 0; i < n; i++)
            nhops += x[i] == ',';
        size_t *starts = malloc(nhops * sizeof *starts), *ends = malloc(nhops * sizeof *ends);
        if (!starts || !ends) abort();
        size_t h = 0;
        starts[0] = 0;
        for (size_t i = 0; i < n; i++)
            if (x[i] == ',') {
                ends[h++] = i;
                starts[h] = i + 1;
            }
        ends[h] = n;
        for (size_t i = nhops; i-- > 0;) {
            size_t s = starts[i], e = ends[i];
            while (s < e && (x[s] == ' ' || x[s] == '\t'))
                s++;
            while (e > s && (x[e - 1] == ' ' || x[e - 1] == '\t'))
                e--;
            if (!ref_norm(x + s, e - s, hop)) break;
            memcpy(cur, hop, sizeof cur);
            if (!ig_trusted_has(t, cur)) break;
        }
        free(starts);
        free(ends);
    }
    memcpy(out, cur, IG_CLIENT_IP_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    const uint8_t *xp = nl ? nl + 1 : data;
    size_t xn = size - (size_t)(xp - data);
    ig_trusted_t *t = NULL;
    const char *why = NULL;

    if (nl) {
        size_t sn = (size_t)(nl - data);
        char *spec = malloc(sn + 1);
        if (!spec) return 0;
        memcpy(spec, data, sn);
        spec[sn] = '\0';
        int rc = ig_trusted_parse(spec, &t, &why);
        if (rc == IG_OK && (t == NULL || why != NULL)) abort();
        if (rc != IG_OK && (rc != IG_EINVAL || t != NULL || why == NULL)) abort();
        free(spec);
    }
    if (!t && ig_trusted_parse(DEFAULT_SPEC, &t, NULL) != IG_OK) abort();

    char *xff = malloc(xn ? xn : 1);
    if (!xff) abort();
    memcpy(xff, xp, xn);

    for (size_t i = 0; i < sizeof PEERS / sizeof PEERS[0]; i++) {
        char out[IG_CLIENT_IP_LEN], again[IG_CLIENT_IP_LEN], want[IG_CLIENT_IP_LEN],
            key[IG_CLIENT_IP_KEY_LEN];
        unsigned char a[16];
        memset(out, 'x', sizeof out);
        ig_client_ip(t, PEERS[i], ig_iov(xff, xn), out);
        if (!memchr(out, '\0', sizeof out)) abort();
        if (inet_pton(AF_INET, out, a) != 1 && inet_pton(AF_INET6, out, a) != 1) abort();
        ig_client_ip(t, out, IG_IOV_NULL, again);
        if (strcmp(out, again) != 0) abort();
        if (!ig_trusted_has(t, PEERS[i])) {
            ig_client_ip(t, PEERS[i], IG_IOV_NULL, again);
            if (strcmp(out, again) != 0) abort();
        }
        ref_client(t, PEERS[i], xff, xn, want);
        if (strcmp(out, want) != 0) abort();
        ig_client_ip_limit_key(out, key);
        if (!memchr(key, '\0', sizeof key)) abort();
    }

    /* The header bytes as an address and as a rate-limit key input (NUL-terminated copy). */
    char *text = malloc(xn + 1);
    if (!text) abort();
    memcpy(text, xff, xn);
    text[xn] = '\0';
    (void)ig_trusted_has(t, text);
    char key[IG_CLIENT_IP_KEY_LEN];
    ig_client_ip_limit_key(text, key);
    if (!memchr(key, '\0', sizeof key)) abort();

    free(text);
    free(xff);
    ig_trusted_free(t);
    return 0;
}
