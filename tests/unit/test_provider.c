/* Unit tests of src/proxy/provider.c: the provider table built from a real configuration (built-ins, custom
 * providers, overrides, timeouts), lookup by name, provider-by-path and auth header values. */
#include "unit.h"
#include "config/options.h"
#include "core/err.h"
#include "core/limits.h"
#include "proxy/provider.h"

static char g_err[512];

/* ig_config_init + ig_config_load with a NULL-terminated argv. */
static int load(ig_config_t *cfg, char **argv)
{
    int argc = 0;
    while (argv && argv[argc])
        argc++;
    CHECK_EQ_INT(ig_config_init(cfg), IG_OK);
    g_err[0] = '\0';
    int rc = ig_config_load(cfg, argc, argv, NULL, g_err, sizeof g_err);
    if (rc) fprintf(stderr, "  config error: %s\n", g_err);
    return rc;
}

static int build(ig_providers_t *ps, const ig_config_t *cfg)
{
    char err[256] = "";
    int rc = ig_providers_build(ps, cfg, err, sizeof err);
    if (rc) fprintf(stderr, "  build error: %s\n", err);
    return rc;
}

TEST(builtins_with_defaults)
{
    ig_config_t cfg;
    char *argv[] = {NULL};
    if (load(&cfg, argv) != IG_OK) {
        CHECK(!"config");
        ig_config_free(&cfg);
        return;
    }
    static ig_providers_t ps;
    CHECK_EQ_INT(build(&ps, &cfg), IG_OK);
    CHECK_EQ_INT(ps.n, 3);

    const ig_provider_t *o = ig_providers_find(&ps, IG_IOV_LIT("openai"));
    const ig_provider_t *a = ig_providers_find(&ps, IG_IOV_LIT("anthropic"));
    const ig_provider_t *l = ig_providers_find(&ps, IG_IOV_LIT("ollama"));
    CHECK(o && a && l);
    if (!o || !a || !l) {
        ig_config_free(&cfg);
        return;
    }
    CHECK_EQ_STR(o->name, "openai");
    CHECK_EQ_STR(o->base_url, "https://api.openai.com");
    CHECK_EQ_STR(o->auth_header, "Authorization");
    CHECK_EQ_STR(o->auth_format, "Bearer {key}");
    CHECK(o->builtin);
    CHECK_EQ_STR(a->base_url, "https://api.anthropic.com");
    CHECK_EQ_STR(a->auth_header, "x-api-key");
    CHECK_EQ_STR(a->auth_format, "{key}");
    CHECK(a->builtin);
    CHECK_EQ_STR(l->base_url, "http://127.0.0.1:11434");
    CHECK_EQ_STR(l->auth_header, "");
    CHECK(l->builtin);
    /* global default timeouts everywhere */
    for (size_t i = 0; i < ps.n; i++) {
        CHECK_EQ_INT(ps.list[i].connect_ms, IG_DEFAULT_CONNECT_TIMEOUT_MS);
        CHECK_EQ_INT(ps.list[i].first_byte_ms, IG_DEFAULT_FIRST_BYTE_TIMEOUT_MS);
        CHECK_EQ_INT(ps.list[i].chunk_ms, IG_DEFAULT_CHUNK_TIMEOUT_MS);
    }
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("azure")) == NULL);
    ig_config_free(&cfg);
}

TEST(custom_provider_and_overrides)
{
    ig_config_t cfg;
    char *argv[] = {"--providers",
                    "name=azure,base_url=https://x.example/openai/deployments/d/,auth_header=api-key;"
                    "name=vllm,base_url=http://10.0.0.7:8000,auth_header=X-Token,auth_format=Token {key} v1;"
                    "name=anthropic,base_url=https://a.example/",
                    "--openai-base-url", "https://proxy.example/v1/", NULL};
    if (load(&cfg, argv) != IG_OK) {
        CHECK(!"config");
        ig_config_free(&cfg);
        return;
    }
    static ig_providers_t ps;
    CHECK_EQ_INT(build(&ps, &cfg), IG_OK);
    CHECK_EQ_INT(ps.n, 5); /* 3 built-ins + azure + vllm; the anthropic entry only overrides */

    const ig_provider_t *az = ig_providers_find(&ps, IG_IOV_LIT("azure"));
    CHECK(az != NULL);
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("AZURE")) == az);
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("Azure")) == az);
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("azur")) == NULL);
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("azure2")) == NULL);
    CHECK(ig_providers_find(&ps, IG_IOV_LIT("")) == NULL);
    /* the name need not be NUL-terminated */
    CHECK(ig_providers_find(&ps, ig_iov("azure-extra", 5)) == az);
    if (az) {
        CHECK_EQ_STR(az->base_url, "https://x.example/openai/deployments/d");
        CHECK_EQ_STR(az->auth_header, "api-key");
        CHECK_EQ_STR(az->auth_format, "{key}");
        CHECK(!az->builtin);
    }
    const ig_provider_t *v = ig_providers_find(&ps, IG_IOV_LIT("VLLM"));
    CHECK(v != NULL);
    if (v) {
        CHECK_EQ_STR(v->base_url, "http://10.0.0.7:8000");
        CHECK_EQ_STR(v->auth_header, "X-Token");
        CHECK_EQ_STR(v->auth_format, "Token {key} v1");
    }
    const ig_provider_t *o = ig_providers_find(&ps, IG_IOV_LIT("OpenAI"));
    CHECK(o != NULL);
    if (o) {
        CHECK_EQ_STR(o->base_url, "https://proxy.example/v1");
        CHECK_EQ_STR(o->auth_header, "Authorization");
    }
    /* a providers entry for a built-in overrides its URL but not its auth style */
    const ig_provider_t *a = ig_providers_find(&ps, IG_IOV_LIT("anthropic"));
    CHECK(a != NULL);
    if (a) {
        CHECK_EQ_STR(a->base_url, "https://a.example");
        CHECK_EQ_STR(a->auth_header, "x-api-key");
        CHECK(a->builtin);
    }
    ig_config_free(&cfg);
}

/* The provider table strips trailing slashes itself, whatever the configuration layer did. */
TEST(trailing_slashes_stripped_by_build)
{
    ig_config_t cfg;
    char *argv[] = {NULL};
    if (load(&cfg, argv) != IG_OK) {
        ig_config_free(&cfg);
        return;
    }
    free(cfg.ollama_base_url);
    cfg.ollama_base_url = strdup("http://h.example:1/x//");
    free(cfg.anthropic_base_url);
    cfg.anthropic_base_url = strdup("https://a.example/");
    static ig_providers_t ps;
    CHECK_EQ_INT(build(&ps, &cfg), IG_OK);
    CHECK_EQ_STR(ig_providers_find(&ps, IG_IOV_LIT("ollama"))->base_url, "http://h.example:1/x");
    CHECK_EQ_STR(ig_providers_find(&ps, IG_IOV_LIT("anthropic"))->base_url, "https://a.example");
    ig_config_free(&cfg);
}

TEST(timeouts_per_provider_vs_global)
{
    ig_config_t cfg;
    char *argv[] = {"--providers",
                    "name=azure,base_url=https://x.example/d,auth_header=api-key,connect_timeout_ms=2s,"
                    "chunk_timeout_ms=45000;"
                    "name=openai,first_byte_timeout_ms=600000",
                    "--upstream-connect-timeout-ms",
                    "5000",
                    "--upstream-chunk-timeout-ms",
                    "90s",
                    NULL};
    if (load(&cfg, argv) != IG_OK) {
        CHECK(!"config");
        ig_config_free(&cfg);
        return;
    }
    static ig_providers_t ps;
    CHECK_EQ_INT(build(&ps, &cfg), IG_OK);
    const ig_provider_t *az = ig_providers_find(&ps, IG_IOV_LIT("azure"));
    const ig_provider_t *o = ig_providers_find(&ps, IG_IOV_LIT("openai"));
    const ig_provider_t *a = ig_providers_find(&ps, IG_IOV_LIT("anthropic"));
    CHECK(az && o && a);
    if (az && o && a) {
        CHECK_EQ_INT(az->connect_ms, 2000);
        CHECK_EQ_INT(az->first_byte_ms, IG_DEFAULT_FIRST_BYTE_TIMEOUT_MS);
        CHECK_EQ_INT(az->chunk_ms, 45000);
        CHECK_EQ_INT(o->connect_ms, 5000);
        CHECK_EQ_INT(o->first_byte_ms, 600000);
        CHECK_EQ_INT(o->chunk_ms, 90000);
        CHECK_EQ_STR(o->base_url, "https://api.openai.com"); /* no base_url in the entry: keep the default */
        CHECK_EQ_INT(a->connect_ms, 5000);
        CHECK_EQ_INT(a->first_byte_ms, IG_DEFAULT_FIRST_BYTE_TIMEOUT_MS);
        CHECK_EQ_INT(a->chunk_ms, 90000);
    }
    ig_config_free(&cfg);
}

static const char *for_path(const char *p)
{
    return ig_provider_for_path(ig_iov_str(p));
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

TEST(provider_for_path)
{
    static const struct {
        const char *path, *provider;
    } cases[] = {
        {"/v1/chat/completions", "openai"},
        {"/v1/completions", "openai"},
        {"/v1/embeddings", "openai"},
        {"/v1/responses", "openai"},
        {"/v1/responses/resp_123", "openai"},
        {"/v1/models", "openai"},
        {"/v1/models/gpt-4o", "openai"},
        {"/v1/messages", "anthropic"},
        {"/v1/messages/count_tokens", "anthropic"},
        {"/api/generate", "ollama"},
        {"/api/chat", "ollama"},
        /* no match */
        {"/v1/chatx", NULL},
        {"/v1/chat", NULL},
        {"/v1", NULL},
        {"/v1/", NULL},
        {"/", NULL},
        {"", NULL},
        {"/v1/chat/completionsx", NULL},
        {"/v1/modelsx", NULL},
        {"/v1/messagesx", NULL},
        {"/api/chatter", NULL},
        {"/api", NULL},
        {"v1/chat/completions", NULL},
        {"/x/v1/chat/completions", NULL},
        {"/healthz", NULL},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        const char *got = for_path(cases[i].path);
        if (!same(got, cases[i].provider)) {
            fprintf(stderr, "  path '%s': got %s, want %s\n", cases[i].path, got ? got : "NULL",
                    cases[i].provider ? cases[i].provider : "NULL");
            CHECK(!"provider_for_path");
        }
    }
    /* the path need not be NUL-terminated: only len bytes count */
    CHECK(same(ig_provider_for_path(ig_iov("/v1/embeddingsXYZ", 14)), "openai"));
    CHECK(same(ig_provider_for_path(ig_iov("/api/chat/", 9)), "ollama"));
    CHECK(ig_provider_for_path(ig_iov("/v1/embeddings", 13)) == NULL);
    CHECK(ig_provider_for_path(IG_IOV_NULL) == NULL);
}

TEST(auth_value)
{
    ig_config_t cfg;
    char *argv[] = {"--providers",
                    "name=vllm,base_url=http://10.0.0.7:8000,auth_header=X-Token,auth_format=Token {key} v1",
                    NULL};
    if (load(&cfg, argv) != IG_OK) {
        CHECK(!"config");
        ig_config_free(&cfg);
        return;
    }
    static ig_providers_t ps;
    CHECK_EQ_INT(build(&ps, &cfg), IG_OK);
    const ig_provider_t *o = ig_providers_find(&ps, IG_IOV_LIT("openai"));
    const ig_provider_t *a = ig_providers_find(&ps, IG_IOV_LIT("anthropic"));
    const ig_provider_t *v = ig_providers_find(&ps, IG_IOV_LIT("vllm"));
    CHECK(o && a && v);
    if (!o || !a || !v) {
        ig_config_free(&cfg);
        return;
    }
    /* the key need not be NUL-terminated */
    ig_iov_t key = ig_iov("sk-abc123TRAILING", 9);
    char out[64];
    size_t n = 999;

    memset(out, 'Z', sizeof out);
    CHECK_EQ_INT(ig_provider_auth_value(o, key, out, sizeof out, &n), IG_OK);
    CHECK_EQ_STR(out, "Bearer sk-abc123");
    CHECK_EQ_INT(n, 16);

    memset(out, 'Z', sizeof out);
    CHECK_EQ_INT(ig_provider_auth_value(a, key, out, sizeof out, &n), IG_OK);
    CHECK_EQ_STR(out, "sk-abc123");
    CHECK_EQ_INT(n, 9);

    memset(out, 'Z', sizeof out);
    CHECK_EQ_INT(ig_provider_auth_value(v, key, out, sizeof out, &n), IG_OK);
    CHECK_EQ_STR(out, "Token sk-abc123 v1");
    CHECK_EQ_INT(n, 18);

    /* exactly fitting (value + NUL), one byte short, tiny, zero */
    char fit[17];
    CHECK_EQ_INT(ig_provider_auth_value(o, key, fit, sizeof fit, &n), IG_OK);
    CHECK_EQ_STR(fit, "Bearer sk-abc123");
    n = 999;
    CHECK_EQ_INT(ig_provider_auth_value(o, key, fit, 16, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 999); /* untouched on failure */
    CHECK_EQ_INT(ig_provider_auth_value(o, key, fit, 1, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_provider_auth_value(o, key, fit, 0, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_provider_auth_value(a, key, fit, 9, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_provider_auth_value(a, key, fit, 10, &n), IG_OK);
    CHECK_EQ_INT(ig_provider_auth_value(v, key, fit, 17, &n), IG_ETOOBIG);

    /* a large key against a large buffer */
    static char bigkey[4000], bigout[4100];
    memset(bigkey, 'k', sizeof bigkey);
    CHECK_EQ_INT(ig_provider_auth_value(o, ig_iov(bigkey, sizeof bigkey), bigout, sizeof bigout, &n), IG_OK);
    CHECK_EQ_INT(n, 7 + sizeof bigkey);
    CHECK_EQ_INT(strlen(bigout), n);
    CHECK_EQ_INT(ig_provider_auth_value(o, ig_iov(bigkey, sizeof bigkey), bigout, 4007, &n), IG_ETOOBIG);
    ig_config_free(&cfg);
}

int main(void)
{
    RUN(builtins_with_defaults);
    RUN(custom_provider_and_overrides);
    RUN(trailing_slashes_stripped_by_build);
    RUN(timeouts_per_provider_vs_global);
    RUN(provider_for_path);
    RUN(auth_value);
    UNIT_DONE();
}
