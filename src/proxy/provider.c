/* provider.c — provider table and path-based provider resolution. */
#include "proxy/provider.h"
#include "core/err.h"

#include <stdio.h>

static void set_timeouts(ig_provider_t *p, const ig_provider_conf_t *pc, const ig_config_t *cfg)
{
    p->connect_ms =
        pc && pc->connect_timeout_ms >= 0 ? pc->connect_timeout_ms : cfg->upstream_connect_timeout_ms;
    p->first_byte_ms = pc && pc->first_byte_timeout_ms >= 0 ? pc->first_byte_timeout_ms
                                                            : cfg->upstream_first_byte_timeout_ms;
    p->chunk_ms = pc && pc->chunk_timeout_ms >= 0 ? pc->chunk_timeout_ms : cfg->upstream_chunk_timeout_ms;
}

static void strip_slash(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
}

int ig_providers_build(ig_providers_t *ps, const ig_config_t *cfg, char *err, size_t errlen)
{
    static const struct {
        const char *name, *hdr, *fmt;
    } builtins[] = {
        {"openai", "Authorization", "Bearer {key}"}, {"anthropic", "x-api-key", "{key}"}, {"ollama", "", ""}};
    const char *urls[] = {cfg->openai_base_url, cfg->anthropic_base_url, cfg->ollama_base_url};
    memset(ps, 0, sizeof *ps);
    for (size_t i = 0; i < 3; i++) {
        ig_provider_t *p = &ps->list[ps->n++];
        const ig_provider_conf_t *pc = ig_config_provider(cfg, builtins[i].name);
        snprintf(p->name, sizeof p->name, "%s", builtins[i].name);
        snprintf(p->base_url, sizeof p->base_url, "%s",
                 pc && pc->base_url && *pc->base_url ? pc->base_url : urls[i]);
        snprintf(p->auth_header, sizeof p->auth_header, "%s", builtins[i].hdr);
        snprintf(p->auth_format, sizeof p->auth_format, "%s", builtins[i].fmt);
        strip_slash(p->base_url);
        p->builtin = true;
        set_timeouts(p, pc, cfg);
    }
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const ig_provider_conf_t *pc = &cfg->providers[i];
        if (pc->builtin) continue;
        ig_provider_t *p = &ps->list[ps->n++];
        int a = snprintf(p->name, sizeof p->name, "%s", pc->name);
        int b = snprintf(p->base_url, sizeof p->base_url, "%s", pc->base_url ? pc->base_url : "");
        int c = snprintf(p->auth_header, sizeof p->auth_header, "%s", pc->auth_header ? pc->auth_header : "");
        int d = snprintf(p->auth_format, sizeof p->auth_format, "%s",
                         pc->auth_format ? pc->auth_format : "{key}");
        if (a < 0 || b < 0 || c < 0 || d < 0 || (size_t)b >= sizeof p->base_url ||
            (size_t)c >= sizeof p->auth_header || (size_t)d >= sizeof p->auth_format) {
            snprintf(err, errlen, "provider '%s': a value is too long", pc->name);
            return IG_EINVAL;
        }
        strip_slash(p->base_url);
        set_timeouts(p, pc, cfg);
    }
    return IG_OK;
}

const ig_provider_t *ig_providers_find(const ig_providers_t *ps, ig_iov_t name)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ig_iov_ieq(ig_iov_str(ps->list[i].name), name)) return &ps->list[i];
    return NULL;
}

const char *ig_provider_for_path(ig_iov_t path)
{
    static const struct {
        const char *path;
        const char *provider;
    } map[] = {
        {"/v1/chat/completions", "openai"},
        {"/v1/completions", "openai"},
        {"/v1/embeddings", "openai"},
        {"/v1/responses", "openai"},
        {"/v1/models", "openai"},
        {"/v1/messages", "anthropic"},
        {"/v1/messages/count_tokens", "anthropic"},
        {"/api/generate", "ollama"},
        {"/api/chat", "ollama"},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(map); i++) {
        ig_iov_t p = ig_iov_str(map[i].path);
        /* exact, or a sub-resource (/v1/models/{id}, /v1/responses/{id}) */
        if (ig_iov_eq(path, p) || (path.len > p.len && ig_iov_has_prefix(path, p) && path.base[p.len] == '/'))
            return map[i].provider;
    }
    return NULL;
}

int ig_provider_auth_value(const ig_provider_t *p, ig_iov_t key, char *out, size_t cap, size_t *outlen)
{
    const char *f = p->auth_format;
    const char *k = strstr(f, "{key}");
    size_t o = 0;
    size_t pre = k ? (size_t)(k - f) : strlen(f);
    const char *post = k ? k + 5 : "";
    size_t postlen = strlen(post);
    if (pre + key.len + postlen + 1 > cap) return IG_ETOOBIG;
    memcpy(out, f, pre);
    o = pre;
    if (k) {
        memcpy(out + o, key.base, key.len);
        o += key.len;
        memcpy(out + o, post, postlen);
        o += postlen;
    }
    out[o] = '\0';
    *outlen = o;
    return IG_OK;
}
