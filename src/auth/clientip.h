/*
 * clientip.h — who the client is: the peer address, or what trusted proxies say in X-Forwarded-For.
 *
 * X-Forwarded-For is written by whoever sent the request, so only hops appended by proxies we trust mean
 * anything. Each proxy appends the address it received the connection from, so the header is read from the
 * right: starting at the TCP peer, as long as the address at hand is a trusted proxy, the hop to its left
 * says who connected to it. The first address that is not a trusted proxy is the client; anything further
 * left was written by the client itself and is ignored.
 *
 * Addresses are compared as 16-byte IPv6 addresses, IPv4 ones as IPv4-mapped (::ffff:a.b.c.d), so a peer
 * seen as ::ffff:10.0.0.1 on a dual-stack socket matches 10.0.0.0/8, and ::ffff:0:0/96 is the same range as
 * 0.0.0.0/0. ::/0 therefore matches every address, IPv4 included.
 *
 * Text forms are what inet_pton accepts, nothing else: dotted-quad IPv4 and RFC 4291 IPv6 text, without
 * zone ids ("fe80::1%eth0"), brackets or ports. "1.2.3.4:5678" and "[::1]:80" are malformed, which is
 * right for X-Forwarded-For (RFC 7239's Forwarded header has ports, X-Forwarded-For as nginx, HAProxy and
 * cloud load balancers write it does not). All functions are pure and thread-safe; a parsed list is
 * immutable.
 */
#ifndef IG_AUTH_CLIENTIP_H
#define IG_AUTH_CLIENTIP_H

#include "core/common.h"

#define IG_CLIENT_IP_LEN     46 /* INET6_ADDRSTRLEN: the longest address text and its NUL */
#define IG_CLIENT_IP_KEY_LEN 64 /* a rate-limit key and its NUL */

typedef struct ig_trusted ig_trusted_t;

/* Parses a comma-separated list of IPv4/IPv6 addresses and CIDR ranges ("10.0.0.1, 10.1.0.0/16, ::1,
 * fd00::/8"). Spaces and tabs around entries are allowed; a spec with nothing else (or "") is the empty
 * list. An empty entry ("a,,b", a trailing comma), an address inet_pton does not take, a prefix length
 * that is not 0..32 (IPv4) or 0..128 (IPv6) in decimal, or an address with bits set past its prefix length
 * ("10.1.2.3/16": a typo either way) is IG_EINVAL: *out is then NULL and *why (why may be NULL) a static
 * message naming the problem. IG_ENOMEM when out of memory. The caller frees *out with ig_trusted_free. */
int ig_trusted_parse(const char *spec, ig_trusted_t **out, const char **why);

/* Frees t. t may be NULL. */
void ig_trusted_free(ig_trusted_t *t);

/* true when the address text ip is in one of t's ranges. false when t or ip is NULL or ip does not parse. */
bool ig_trusted_has(const ig_trusted_t *t, const char *ip);

/* The client address of a request, written to out in normalized form (inet_ntop; IPv4-mapped IPv6 such as
 * ::ffff:1.2.3.4 as 1.2.3.4):
 *   - the peer when the peer is not trusted (X-Forwarded-For is then ignored entirely);
 *   - otherwise the hops of xff (the header value, several comma-separated hops; may be IG_IOV_NULL) from
 *     right to left, skipping trusted addresses: the first untrusted one; the leftmost when all are trusted;
 *   - when a hop is malformed (not an address, empty, garbage, too long), the walk stops there and the last
 *     valid address seen (the nearest trusted hop, or the peer) is the client: nothing left of garbage is
 *     believed.
 * An empty or blank xff counts as absent. Reads exactly xff.len bytes (untrusted input, no NUL needed;
 * a NUL byte inside a hop makes it malformed). peer_ip is a NUL-terminated address text (what the
 * connection layer got from inet_ntop); when it is NULL or does not parse (no IP peer), the result is
 * "0.0.0.0" and xff is ignored, so all such clients share one rate-limit key. Never fails. */
void ig_client_ip(const ig_trusted_t *t, const char *peer_ip, ig_iov_t xff, char out[IG_CLIENT_IP_LEN]);

/* The rate-limit key for an address: IPv4 (or IPv4-mapped) as its normalized text; IPv6 cut to its /64,
 * e.g. "2001:db8:1:2::/64", because one host usually owns a whole /64 and could otherwise pick a fresh
 * address per attempt. Text that does not parse is copied as is (cut to fit); ig_client_ip output always
 * parses. */
void ig_client_ip_limit_key(const char *ip, char out[IG_CLIENT_IP_KEY_LEN]);

#endif
