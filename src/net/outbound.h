/*
 * outbound.h — the one validator for every URL the gateway connects to on a tenant's behalf (webhooks,
 * eval callbacks): SSRF protection.
 *
 * A URL passes when all of these hold:
 *   - it is absolute "https://host[:port]/..." (scheme case-insensitive), printable ASCII with no space,
 *     control byte or backslash, shorter than IG_OUTBOUND_URL_MAX, without user:pass@ (ever), without
 *     percent-encoding or a zone id in the host;
 *   - plain http only when the OPERATOR allowlist covers the target, a port other than the scheme's default
 *     only when the operator or the org allowlist covers the target on that port;
 *   - every address the host resolves to (all of them, not just the first) is public: none is in the ranges
 *     listed under ig_outbound_addr_forbidden(), unless the operator allowlist covers it.
 *
 * Host spellings are normalised before anything is compared: scheme and host lowercased, one trailing dot
 * dropped ("localhost." is "localhost"), numeric IPv4 in any form inet_aton and browsers take (decimal
 * 2130706433, octal 0177.0.0.1, hex 0x7f.1, short 127.1 / 10.1, mixed) rewritten as a dotted quad, IPv6
 * literals rewritten by inet_ntop. A host whose last label is numeric ("1.2.3.4.5", "example.123") must be
 * a valid IPv4 address or the URL is refused, as WHATWG URL parsers do. Non-ASCII hosts are refused: an IDN
 * must be given in punycode ("xn--bcher-kva.example"), which is then an ordinary name. "localhost" and
 * "*.localhost" are refused by name (RFC 6761) unless the operator allowlists them. After normalising, the
 * URL is parsed again by libcurl's URL parser and refused unless both agree on scheme, host and port.
 *
 * Allowlists are comma-separated entries (spaces and tabs around entries ignored; "" or NULL is empty):
 *     name | name:port              a host name, matched exactly after normalising (no wildcards)
 *     ip | ip:port | [ipv6]:port    one address (any numeric spelling; bare IPv6 takes no port)
 *     cidr | cidr:port              10.0.0.0/8, 10.0.0.0/8:9000, fd00::/8, [fd00::/8]:8443
 * An entry without a port covers the scheme's default port only (80 for http, 443 for https); an entry
 * with a port covers that port only. A name entry covers the URL when the URL's host is that name (whatever
 * it resolves to). Address and CIDR entries cover each resolved address they contain; they cover the URL
 * when they contain all of its addresses.
 *   - An operator entry (ig_outbound_policy_new; trusted configuration) covering the target allows http,
 *     its port, and lets covered addresses skip the forbidden-range check: that is how an operator lets
 *     webhooks reach an internal receiver.
 *   - An org entry (tenant-controlled settings) only allows its port over https. It never allows http and
 *     never lets a forbidden address through: a tenant must not be able to open the gateway's network.
 *
 * The connection must go to the checked address only: ig_outbound_curl_pin() configures a libcurl easy
 * handle so (no second DNS lookup, no redirects, no proxy). Run ig_outbound_check() at registration AND
 * again right before every delivery (DNS answers change: rebinding); it is cheap apart from the lookup.
 *
 * Blocking: ig_outbound_check() resolves with getaddrinfo — call it from worker threads only, never on an
 * event-loop thread. A policy is immutable once built (set its resolver before sharing it); the functions
 * are thread-safe.
 */
#ifndef IG_NET_OUTBOUND_H
#define IG_NET_OUTBOUND_H

#include "core/common.h"

#include <curl/curl.h>

#define IG_OUTBOUND_URL_MAX       2048  /* a URL (input or normalised) and its NUL; longer is refused */
#define IG_OUTBOUND_HOST_MAX      256   /* a host name (253 + slack) and its NUL */
#define IG_OUTBOUND_ADDR_MAX      46    /* INET6_ADDRSTRLEN */
#define IG_OUTBOUND_MAX_ADDRS     64    /* a name resolving to more addresses is refused */
#define IG_OUTBOUND_MAX_ENTRIES   256   /* entries per allowlist */
#define IG_OUTBOUND_ALLOWLIST_MAX 16384 /* bytes per allowlist */

/* Reasons, as static client-safe texts: they never echo the URL. (name, message) */
#define IG_OUTBOUND_WHY_MAP(X)                                                                               \
    X(NOURL, "no URL given")                                                                                 \
    X(TOOLONG, "the URL is too long")                                                                        \
    X(BADCHAR,                                                                                               \
      "the URL contains a space, control, backslash or non-ASCII character (give IDNs in punycode)")         \
    X(SCHEME, "the URL must start with https://")                                                            \
    X(USERINFO, "credentials (user:password@) are not allowed in the URL")                                   \
    X(NOHOST, "the URL has no host")                                                                         \
    X(PERCENTHOST, "percent-encoded characters are not allowed in the host")                                 \
    X(ZONEID, "IPv6 zone ids are not allowed")                                                               \
    X(BADIPV6, "malformed IPv6 address")                                                                     \
    X(BADIPV4, "malformed numeric IPv4 host")                                                                \
    X(BADHOST, "invalid host name")                                                                          \
    X(BADPORT, "invalid port")                                                                               \
    X(AMBIGUOUS, "the URL is ambiguous (URL parsers disagree on it)")                                        \
    X(HTTP, "plain http is only allowed for hosts the operator allowlists")                                  \
    X(PORT, "a non-default port is only allowed when allowlisted")                                           \
    X(LOCALHOST, "localhost names are not allowed")                                                          \
    X(RESOLVE, "the host name does not resolve")                                                             \
    X(TOOMANYADDRS, "the host name resolves to too many addresses")                                          \
    X(UNSPECIFIED, "the host is or resolves to an unspecified address (0.0.0.0/8, ::)")                      \
    X(LOOPBACK, "the host is or resolves to a loopback address")                                             \
    X(PRIVATE, "the host is or resolves to a private address")                                               \
    X(CGNAT, "the host is or resolves to a shared (CGNAT) address")                                          \
    X(LINKLOCAL, "the host is or resolves to a link-local address")                                          \
    X(MULTICAST, "the host is or resolves to a multicast address")                                           \
    X(BROADCAST, "the host is or resolves to the broadcast address")                                         \
    X(RESERVED, "the host is or resolves to a reserved or special-purpose address")                          \
    X(DOCUMENTATION, "the host is or resolves to a documentation address")                                   \
    X(BENCHMARK, "the host is or resolves to a benchmarking address")                                        \
    X(ULA, "the host is or resolves to an IPv6 unique local address")                                        \
    X(SITELOCAL, "the host is or resolves to an IPv6 site-local address")                                    \
    X(MAPPED, "the host is or resolves to an IPv4-translated IPv6 address")                                  \
    X(V4COMPAT, "the host is or resolves to an IPv4-compatible IPv6 address")                                \
    X(NAT64, "the host is or resolves to a NAT64 address of a forbidden IPv4 address")                       \
    X(SIXTOFOUR, "the host is or resolves to a 6to4 address of a forbidden IPv4 address")                    \
    X(TEREDO, "the host is or resolves to a Teredo address")                                                 \
    X(NOTGLOBAL, "the host is or resolves to an IPv6 address outside global unicast")                        \
    X(ALLOWLIST, "invalid allowlist entry")                                                                  \
    X(ALLOWLISTSIZE, "the allowlist is too long")                                                            \
    X(NOMEM, "out of memory")

typedef enum {
    IG_OUTBOUND_OK = 0,
#define IG_OUTBOUND_WHY_ENUM(name, msg) IG_OUTBOUND_##name,
    IG_OUTBOUND_WHY_MAP(IG_OUTBOUND_WHY_ENUM)
#undef IG_OUTBOUND_WHY_ENUM
} ig_outbound_why_t;

/* The static message of a reason ("" for IG_OUTBOUND_OK or an unknown value). Every *why this module sets
 * is one of these pointers. */
const char *ig_outbound_why_text(ig_outbound_why_t w);

/* An address as 16 bytes in network order; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
typedef struct {
    uint8_t b[16];
} ig_outbound_addr_t;

/* Parses strict address text (what inet_pton takes: dotted-quad IPv4 or IPv6, no zone id, no brackets). */
bool ig_outbound_addr_parse(const char *text, ig_outbound_addr_t *a);

/* NULL when a is a public unicast address a webhook may reach, else the reason it is refused
 * (one of the ig_outbound_why_text() messages). Refused:
 *   IPv4 (also as ::ffff:0:0/96): 0.0.0.0/8 unspecified; 10/8, 172.16/12, 192.168/16 private;
 *     100.64/10 CGNAT; 127/8 loopback; 169.254/16 link-local (cloud metadata 169.254.169.254);
 *     192.0.0/24 IETF assignments; 192.0.2/24, 198.51.100/24, 203.0.113/24 documentation;
 *     192.88.99/24 6to4 relay anycast; 198.18/15 benchmarking; 224/4 multicast; 255.255.255.255
 *     broadcast; 240/4 reserved.
 *   IPv6: :: unspecified; ::1 loopback; ::/96 IPv4-compatible; ::ffff:0:0:0/96 IPv4-translated (SIIT);
 *     64:ff9b::/96 NAT64 when the embedded IPv4 is refused; 64:ff9b:1::/48 local NAT64; 100::/64 discard;
 *     2001::/32 Teredo; 2001::/23 other IETF assignments (benchmarking 2001:2::/48, ORCHID);
 *     2001:db8::/32 and 3fff::/20 documentation; 2002::/16 6to4 when the embedded IPv4 is refused;
 *     fc00::/7 unique local; fe80::/10 link-local; fec0::/10 site-local; ff00::/8 multicast; and anything
 *     else outside 2000::/3 global unicast (5f00::/16 SRv6 among them). */
const char *ig_outbound_addr_forbidden(const ig_outbound_addr_t *a);

/* The resolver: writes up to max addresses of host (a normalised name, never a numeric host) to addrs and
 * their count to *n. IG_OK (with *n possibly 0), IG_ETOOBIG when the name has more than max addresses,
 * IG_EUNAVAILABLE when it does not resolve. Must be thread-safe. The default is getaddrinfo (all families,
 * all addresses, SOCK_STREAM); tests inject their own with ig_outbound_policy_set_resolver. */
typedef int (*ig_outbound_resolve_fn)(void *ctx, const char *host, ig_outbound_addr_t *addrs, size_t max,
                                      size_t *n);

typedef struct ig_outbound_policy ig_outbound_policy_t;

/* Builds a policy from the operator allowlist (may be NULL or ""; syntax above). IG_OK with *out to free
 * with ig_outbound_policy_free; IG_EINVAL for a malformed list (*out NULL, *why the reason: ALLOWLIST or
 * ALLOWLISTSIZE); IG_ENOMEM. why may be NULL. */
int ig_outbound_policy_new(const char *operator_allowlist, ig_outbound_policy_t **out, const char **why);

/* Frees p. p may be NULL. */
void ig_outbound_policy_free(ig_outbound_policy_t *p);

/* Replaces the resolver (fn NULL restores getaddrinfo). Call before p is shared between threads. */
void ig_outbound_policy_set_resolver(ig_outbound_policy_t *p, ig_outbound_resolve_fn fn, void *ctx);

/* Validates an org allowlist (for the settings API): IG_OK, or IG_EINVAL with *why. why may be NULL. */
int ig_outbound_allowlist_validate(const char *allowlist, const char **why);

typedef struct {
    char url[IG_OUTBOUND_URL_MAX];   /* normalised URL: scheme://host[:port]/path[?query], no fragment */
    char host[IG_OUTBOUND_HOST_MAX]; /* lowercase, no trailing dot; dotted quad or IPv6 text (no brackets) */
    int port;                        /* 1..65535, the scheme's default when the URL had none */
    bool https;
    bool numeric;                    /* the host is an IP literal (no DNS lookup was made) */
    bool allowlisted;                /* the pinned address is covered by the operator allowlist */
    char addr[IG_OUTBOUND_ADDR_MAX]; /* the checked address the connection must use (IPv4 as dotted quad) */
} ig_outbound_target_t;

/* Checks url (NUL-terminated) against p (NULL: no operator allowlist, getaddrinfo) and org_allowlist (may
 * be NULL; parsed on each call). Blocking (DNS): worker threads only. Returns
 *   IG_OK           *out filled, *why NULL;
 *   IG_EINVAL       a malformed or refused spelling: NOURL, TOOLONG, BADCHAR, NOHOST, PERCENTHOST, ZONEID,
 *                   BADIPV4, BADIPV6, BADHOST, BADPORT, AMBIGUOUS; ALLOWLIST, ALLOWLISTSIZE (org list);
 *   IG_EFORBIDDEN   well-formed but not allowed: SCHEME, USERINFO, HTTP, PORT, LOCALHOST, TOOMANYADDRS,
 *                   or an address reason (see ig_outbound_addr_forbidden);
 *   IG_EUNAVAILABLE the name does not resolve (RESOLVE): possibly temporary, retry a delivery later;
 *   IG_ENOMEM.
 * On error *out is zeroed. *why (why may be NULL) is a static reason that never echoes the URL. Checking
 * out->url again gives the same target (as long as DNS answers the same); url may point into *out. */
int ig_outbound_check(const ig_outbound_policy_t *p, const char *org_allowlist, const char *url,
                      ig_outbound_target_t *out, const char **why);

/* Configures the libcurl easy handle curl for a target ig_outbound_check accepted: CURLOPT_URL = t->url;
 * CURLOPT_CONNECT_TO "::<addr>:<port>" (every connection of the handle goes to the checked address: no
 * DNS lookup); an open-socket guard refusing any socket to another address or port; FOLLOWLOCATION 0,
 * MAXREDIRS 0; PROTOCOLS_STR and REDIR_PROTOCOLS_STR "https" ("http,https" for an http target); PROXY ""
 * and NOPROXY "*" (environment proxies ignored); no unix socket. The caller must not change these options
 * afterwards, and t must stay valid and unchanged until the transfer ends (the guard reads it).
 * *connect_to receives the list to free with curl_slist_free_all after the transfer (NULL on error).
 * IG_OK; IG_EINVAL when t does not hold a checked target (unparsable address, or a forbidden address that
 * is not allowlisted); IG_ENOMEM; IG_EINTERNAL when libcurl refuses an option (too old: needs 7.85). After
 * an error the handle may be partly configured: do not perform it. */
int ig_outbound_curl_pin(CURL *curl, const ig_outbound_target_t *t, struct curl_slist **connect_to);

#endif
