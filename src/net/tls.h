/*
 * tls.h — server TLS contexts (TLS 1.3 only) and the self-signed certificate made on first start.
 */
#ifndef IG_NET_TLS_H
#define IG_NET_TLS_H

#include <openssl/ssl.h>

/* Loads a PEM chain and key; the context accepts TLS 1.3 and nothing older (a TLS 1.2 ClientHello gets a
 * protocol_version alert). NULL on failure with a human-readable reason in err (no key material). */
SSL_CTX *ig_tls_server_ctx(const char *cert_path, const char *key_path, char *err, size_t errlen);
/* Writes a self-signed ECDSA P-256 certificate (CN=localhost, SAN localhost, 127.0.0.1, ::1, valid 825 days)
 * and its key (mode 0600). Returns 0 or IG_ECRYPTO / IG_EIO. */
int ig_tls_make_selfsigned(const char *cert_path, const char *key_path);

#endif
