/*
 * provider.h — the providers ingate can forward to, and how a request picks one.
 *
 * Built-ins: openai (Authorization: Bearer {key}), anthropic (x-api-key: {key}), ollama (no auth). Operators
 * add custom providers in configuration (name, base URL, auth header and format). Base URLs come from
 * configuration only: no API client can point a provider anywhere.
 */
#ifndef IG_PROXY_PROVIDER_H
#define IG_PROXY_PROVIDER_H

#include "config/options.h"
#include "core/common.h"

typedef struct ig_provider {
    char name[33];
    char base_url[1024];   /* without trailing '/' */
    char auth_header[128]; /* "" = no auth */
    char auth_format[256]; /* template with {key} */
    long connect_ms, first_byte_ms, chunk_ms;
    bool builtin;
} ig_provider_t;

typedef struct ig_providers {
    ig_provider_t list[3 + IG_MAX_CUSTOM_PROVIDERS];
    size_t n;
} ig_providers_t;

/* Builds the provider table from configuration. */
int ig_providers_build(ig_providers_t *ps, const ig_config_t *cfg, char *err, size_t errlen);
const ig_provider_t *ig_providers_find(const ig_providers_t *ps, ig_iov_t name);
/* The provider a path implies ("openai", "anthropic", "ollama"), or NULL. */
const char *ig_provider_for_path(ig_iov_t path);
/* Formats the auth header value for `key` into out (NUL-terminated); IG_ETOOBIG if it does not fit. */
int ig_provider_auth_value(const ig_provider_t *p, ig_iov_t key, char *out, size_t cap, size_t *outlen);

#endif
