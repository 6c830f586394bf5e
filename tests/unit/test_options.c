/* Unit tests of src/config/options.c: defaults, precedence (file < env < flag), value parsing and range
 * checks, secrets kept out of every message, the providers syntax, help/docs/dump output. */
#include "unit.h"
#include "config/options.h"
#include "core/err.h"

#include <ctype.h>
#include <unistd.h>

#define MARKER "ZZMARKERQQ"

static char g_err[512];

/* Writes `text` to a fresh temporary file; the caller unlinks it. */
static void write_temp(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/ingate-test-options-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len);
    close(fd);
}

/* init + load with argv/envp given as NULL-terminated lists; returns the load result. */
static int load(ig_config_t *cfg, char **argv, char **envp)
{
    int argc = 0;
    while (argv && argv[argc])
        argc++;
    CHECK_EQ_INT(ig_config_init(cfg), IG_OK);
    g_err[0] = '\0';
    return ig_config_load(cfg, argc, argv, envp, g_err, sizeof g_err);
}

static int load_file_text(ig_config_t *cfg, const char *text, char *path, size_t pathlen)
{
    write_temp(path, pathlen, text);
    char flag[128];
    snprintf(flag, sizeof flag, "--config=%s", path);
    char *argv[] = {flag, NULL};
    int rc = load(cfg, argv, NULL);
    unlink(path);
    return rc;
}

static char *capture(void (*fn)(FILE *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fn(f);
    fclose(f);
    return text;
}

TEST(defaults)
{
    ig_config_t c;
    CHECK_EQ_INT(ig_config_init(&c), IG_OK);
    CHECK_EQ_STR(c.config, "");
    CHECK_EQ_STR(c.data_dir, "./ingate-data");
    CHECK_EQ_STR(c.listen, "127.0.0.1:8443");
    CHECK_EQ_STR(c.plain_listen, "");
    CHECK_EQ_INT(c.threads, 0);
    CHECK_EQ_INT(c.workers, 2);
    CHECK_EQ_STR(c.master_key, "");
    CHECK_EQ_INT(c.max_body_bytes, IG_DEFAULT_MAX_BODY_BYTES);
    CHECK_EQ_INT(c.max_connections, 10000);
    CHECK_EQ_INT(c.header_timeout_ms, 10000);
    CHECK_EQ_INT(c.idle_timeout_ms, 75000);
    CHECK_EQ_INT(c.drain_timeout_ms, 30000);
    CHECK_EQ_INT(c.capture_max_bytes, 10u * 1024 * 1024);
    CHECK_EQ_INT(c.capture_queue, 65536);
    CHECK_EQ_STR(c.log_level, "info");
    CHECK_EQ_STR(c.openai_base_url, "https://api.openai.com");
    CHECK_EQ_STR(c.anthropic_base_url, "https://api.anthropic.com");
    CHECK_EQ_STR(c.ollama_base_url, "http://127.0.0.1:11434");
    CHECK_EQ_STR(c.providers_spec, "");
    CHECK_EQ_INT(c.nproviders, 0);
    CHECK_EQ_INT(c.upstream_connect_timeout_ms, 10000);
    CHECK_EQ_INT(c.upstream_first_byte_timeout_ms, 300000);
    CHECK_EQ_INT(c.upstream_chunk_timeout_ms, 120000);
    CHECK(c.upstream_tls_verify);
    CHECK_EQ_STR(c.trusted_proxies, "");
    CHECK_EQ_INT(c.bcrypt_cost, 12);
    CHECK_EQ_INT(c.session_ttl_ms, 900000);
    CHECK_EQ_INT(c.key_rotation_overlap_ms, 86400000);
    CHECK_EQ_INT(c.auth_rate_limit, 10);
    CHECK_EQ_INT(c.auth_rate_window_ms, 900000);
    ig_config_free(&c);
    CHECK(c.data_dir == NULL);
    ig_config_free(&c); /* twice is safe */

    /* loading nothing keeps the defaults */
    CHECK_EQ_INT(load(&c, NULL, NULL), IG_OK);
    CHECK_EQ_INT(c.workers, 2);
    ig_config_free(&c);
}

/* Every numeric default lies within its bounds; every string default passes its own validation. */
TEST(table_is_consistent)
{
    size_t n = 0;
    const ig_option_t *opts = ig_config_options(&n);
    CHECK_EQ_INT(n, 40);
    for (size_t i = 0; i < n; i++) {
        const ig_option_t *o = &opts[i];
        CHECK(o->help && o->help[0]);
        CHECK((o->type == IG_OPT_SECRET) == ((o->flags & IG_OPTF_SECRET) != 0));
        if (o->type == IG_OPT_STRING || o->type == IG_OPT_PATH || o->type == IG_OPT_SECRET) {
            CHECK(o->def != NULL);
        } else {
            CHECK(o->min <= o->def_num && o->def_num <= o->max);
        }
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(opts[j].name, o->name) != 0);
    }
    /* the dump of the defaults, read back as a config file, gives the same configuration */
    ig_config_t c;
    CHECK_EQ_INT(ig_config_init(&c), IG_OK);
    char *d1 = NULL, *d2 = NULL, path[64];
    size_t l1 = 0, l2 = 0;
    FILE *f = open_memstream(&d1, &l1);
    ig_config_dump(&c, f);
    fclose(f);
    ig_config_free(&c);
    CHECK_EQ_INT(load_file_text(&c, d1, path, sizeof path), IG_OK);
    CHECK_EQ_STR(g_err, "");
    f = open_memstream(&d2, &l2);
    ig_config_dump(&c, f);
    fclose(f);
    /* only the `config` line differs: it now names the temp file */
    const char *a = strstr(d1, "\n"), *b = strstr(d2, "\n");
    CHECK(a && b);
    if (a && b) CHECK_EQ_STR(a, b);
    ig_config_free(&c);
    free(d1);
    free(d2);
}

TEST(precedence_file_env_flag)
{
    ig_config_t c;
    char path[64];
    write_temp(path, sizeof path,
               "# test config\n"
               "\n"
               "threads = 3\n"
               "workers = 5\n"
               "log_level = warn\n"
               "data_dir = \"/from/file\"\n"
               "max_body_bytes = 2m   # inline comment\n");
    char cfgflag[128];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    char *argv[] = {cfgflag, "--log-level", "debug", NULL};
    char *envp[] = {"PATH=/bin", "INGATE_WORKERS=6", "INGATE_LOG_LEVEL=error", "INGATE_UNRELATED=x", NULL};
    CHECK_EQ_INT(load(&c, argv, envp), IG_OK);
    CHECK_EQ_STR(g_err, "");
    CHECK_EQ_INT(c.threads, 3);             /* file */
    CHECK_EQ_INT(c.workers, 6);             /* env beats file */
    CHECK_EQ_STR(c.log_level, "debug");     /* flag beats env and file */
    CHECK_EQ_STR(c.data_dir, "/from/file"); /* quoted value */
    CHECK_EQ_INT(c.max_body_bytes, 2u * 1024 * 1024);
    CHECK_EQ_STR(c.config, path);
    ig_config_free(&c);

    /* the file can also be named by INGATE_CONFIG */
    char envcfg[128];
    snprintf(envcfg, sizeof envcfg, "INGATE_CONFIG=%s", path);
    char *envp2[] = {envcfg, NULL};
    CHECK_EQ_INT(load(&c, NULL, envp2), IG_OK);
    CHECK_EQ_INT(c.threads, 3);
    CHECK_EQ_STR(c.config, path);
    ig_config_free(&c);

    /* --config beats INGATE_CONFIG */
    char *envp3[] = {"INGATE_CONFIG=/nonexistent/ingate.conf", NULL};
    CHECK_EQ_INT(load(&c, argv, envp3), IG_OK);
    CHECK_EQ_INT(c.threads, 3);
    ig_config_free(&c);
    CHECK_EQ_INT(load(&c, NULL, envp3), IG_EINVAL);
    CHECK(strstr(g_err, "/nonexistent/ingate.conf") != NULL);
    ig_config_free(&c);
    unlink(path);
}

TEST(flag_forms)
{
    ig_config_t c;
    char *argv[] = {"--data-dir=/a=b",       "--threads", "4", "--upstream-tls-verify", "off", "--listen",
                    "0.0.0.0:1, [::1]:8443", NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_OK);
    CHECK_EQ_STR(c.data_dir, "/a=b");
    CHECK_EQ_INT(c.threads, 4);
    CHECK(!c.upstream_tls_verify);
    CHECK_EQ_STR(c.listen, "0.0.0.0:1, [::1]:8443");
    ig_config_free(&c);

    char *missing[] = {"--threads", NULL};
    CHECK_EQ_INT(load(&c, missing, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "--threads needs a value") != NULL);
    ig_config_free(&c);

    char *positional[] = {"serve", NULL};
    CHECK_EQ_INT(load(&c, positional, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "unexpected argument 'serve'") != NULL);
    ig_config_free(&c);

    /* a flag is not taken as the previous flag's value */
    char *novalue[] = {"--data-dir", "--threads=2", NULL};
    CHECK_EQ_INT(load(&c, novalue, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "--data-dir needs a value") != NULL);
    ig_config_free(&c);
}

TEST(unknown_option)
{
    ig_config_t c;
    char *argv[] = {"--no-such-thing=1", NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "unknown option --no-such-thing") != NULL);
    ig_config_free(&c);

    char *under[] = {"--data_dir=/x", NULL};
    CHECK_EQ_INT(load(&c, under, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "did you mean --data-dir?") != NULL);
    ig_config_free(&c);

    char path[64];
    CHECK_EQ_INT(load_file_text(&c, "threads = 1\nbogus_option = 2\n", path, sizeof path), IG_EINVAL);
    CHECK(strstr(g_err, path) != NULL);
    CHECK(strstr(g_err, ":2: unknown option 'bogus_option'") != NULL);
    ig_config_free(&c);
}

TEST(range_errors)
{
    ig_config_t c;
    char *argv[] = {"--threads=65", NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "--threads: invalid value for threads") != NULL);
    CHECK(strstr(g_err, "0..64") != NULL);
    ig_config_free(&c);

    char *envp[] = {"INGATE_MAX_BODY_BYTES=2g", NULL};
    CHECK_EQ_INT(load(&c, NULL, envp), IG_EINVAL);
    CHECK(strstr(g_err, "INGATE_MAX_BODY_BYTES: invalid value for max_body_bytes") != NULL);
    CHECK(strstr(g_err, "1k..1g") != NULL);
    ig_config_free(&c);

    const char *bad[] = {"--workers=0",
                         "--workers=-1",
                         "--workers=abc",
                         "--workers=",
                         "--workers=1x",
                         "--workers= 2",
                         "--max-connections=99999999999999999999999",
                         "--idle-timeout-ms=50",
                         "--idle-timeout-ms=2h",
                         "--capture-max-bytes=1t",
                         "--capture-max-bytes=-1"};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        char *a[] = {(char *)bad[i], NULL};
        CHECK_EQ_INT(load(&c, a, NULL), IG_EINVAL);
        CHECK(strstr(g_err, "invalid value for") != NULL);
        ig_config_free(&c);
    }
}

TEST(units)
{
    ig_config_t c;
    char *argv[] = {"--max-body-bytes=1k",       "--capture-max-bytes=3MiB",
                    "--idle-timeout-ms=2m",      "--header-timeout-ms=5s",
                    "--drain-timeout-ms=0",      "--upstream-chunk-timeout-ms=250ms",
                    "--max-connections=1000000", NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_OK);
    CHECK_EQ_INT(c.max_body_bytes, 1024);
    CHECK_EQ_INT(c.capture_max_bytes, 3 * 1024 * 1024);
    CHECK_EQ_INT(c.idle_timeout_ms, 120000);
    CHECK_EQ_INT(c.header_timeout_ms, 5000);
    CHECK_EQ_INT(c.drain_timeout_ms, 0);
    CHECK_EQ_INT(c.upstream_chunk_timeout_ms, 250);
    CHECK_EQ_INT(c.max_connections, 1000000);
    ig_config_free(&c);

    char *big[] = {"--max-body-bytes=1g", NULL};
    CHECK_EQ_INT(load(&c, big, NULL), IG_OK);
    CHECK_EQ_INT(c.max_body_bytes, 1024u * 1024 * 1024);
    ig_config_free(&c);
}

TEST(bools)
{
    ig_config_t c;
    const char *yes[] = {"true", "1", "yes", "on", "TRUE", "On"}, *no[] = {"false", "0", "no", "off", "OFF"};
    char arg[64];
    for (size_t i = 0; i < IG_ARRAY_LEN(yes); i++) {
        snprintf(arg, sizeof arg, "--upstream-tls-verify=%s", yes[i]);
        char *a[] = {"--upstream-tls-verify=false", arg, NULL};
        CHECK_EQ_INT(load(&c, a, NULL), IG_OK);
        CHECK(c.upstream_tls_verify);
        ig_config_free(&c);
    }
    for (size_t i = 0; i < IG_ARRAY_LEN(no); i++) {
        snprintf(arg, sizeof arg, "--upstream-tls-verify=%s", no[i]);
        char *a[] = {arg, NULL};
        CHECK_EQ_INT(load(&c, a, NULL), IG_OK);
        CHECK(!c.upstream_tls_verify);
        ig_config_free(&c);
    }
    char *envp[] = {"INGATE_UPSTREAM_TLS_VERIFY=maybe", NULL};
    CHECK_EQ_INT(load(&c, NULL, envp), IG_EINVAL);
    CHECK(strstr(g_err, "'maybe' is not a boolean") != NULL);
    ig_config_free(&c);
}

TEST(master_key_not_a_flag)
{
    ig_config_t c;
    const char *forms[][2] = {
        {"--master-key=" MARKER, NULL}, {"--master-key", MARKER}, {"--master_key=" MARKER, NULL}};
    for (size_t i = 0; i < IG_ARRAY_LEN(forms); i++) {
        char *a[] = {(char *)forms[i][0], (char *)forms[i][1], NULL};
        CHECK_EQ_INT(load(&c, a, NULL), IG_EINVAL);
        CHECK(strstr(g_err, "master_key cannot be given as a command-line flag") != NULL);
        CHECK(strstr(g_err, "INGATE_MASTER_KEY") != NULL);
        CHECK(strstr(g_err, MARKER) == NULL);
        CHECK_EQ_STR(c.master_key, "");
        ig_config_free(&c);
    }

    /* environment and config file are fine */
    char *envp[] = {"INGATE_MASTER_KEY=q2Vn+/Zz0123456789abcdefABCDEF012345678901=", NULL};
    CHECK_EQ_INT(load(&c, NULL, envp), IG_OK);
    CHECK_EQ_STR(c.master_key, "q2Vn+/Zz0123456789abcdefABCDEF012345678901=");
    ig_config_free(&c);
    char path[64];
    CHECK_EQ_INT(
        load_file_text(&c,
                       "master_key = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n",
                       path, sizeof path),
        IG_OK);
    CHECK_EQ_STR(c.master_key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    ig_config_free(&c);
}

TEST(master_key_never_echoed)
{
    ig_config_t c;
    char *envp[] = {"INGATE_MASTER_KEY=" MARKER "!not base64", NULL};
    CHECK_EQ_INT(load(&c, NULL, envp), IG_EINVAL);
    CHECK(strstr(g_err, "invalid value for master_key") != NULL);
    CHECK(strstr(g_err, MARKER) == NULL);
    CHECK(strstr(g_err, "not base64") == NULL);
    ig_config_free(&c);

    char *envp2[] = {"INGATE_MASTER_KEY=" MARKER "\x01", NULL};
    CHECK_EQ_INT(load(&c, NULL, envp2), IG_EINVAL);
    CHECK(strstr(g_err, "invalid value for master_key") != NULL);
    CHECK(strstr(g_err, MARKER) == NULL);
    ig_config_free(&c);

    char path[64];
    const char *files[] = {"master_key = \"" MARKER "\n", "master_key = " MARKER "$$$\n",
                           "master_key = \"" MARKER "\" trailing\n", "master_key " MARKER "\n"};
    for (size_t i = 0; i < IG_ARRAY_LEN(files); i++) {
        CHECK_EQ_INT(load_file_text(&c, files[i], path, sizeof path), IG_EINVAL);
        CHECK(strstr(g_err, ":1: ") != NULL);
        CHECK(strstr(g_err, MARKER) == NULL);
        ig_config_free(&c);
    }

    /* a set key appears neither in help, docs nor dump */
    char *ok[] = {"INGATE_MASTER_KEY=" MARKER, NULL};
    CHECK_EQ_INT(load(&c, NULL, ok), IG_OK);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    ig_config_dump(&c, f);
    fclose(f);
    CHECK(strstr(dump, MARKER) == NULL);
    CHECK(strstr(dump, "# master_key = (secret, set)") != NULL);
    free(dump);
    ig_config_free(&c);
}

TEST(providers_valid)
{
    ig_config_t c;
    char *envp[] = {"INGATE_PROVIDERS= name=azure , base_url=https://r.openai.azure.com/openai/ , "
                    "auth_header=api-key ; name=vllm,base_url=http://10.0.0.7:8000,auth_header=Authorization,"
                    "auth_format=Bearer {key},first_byte_timeout_ms=10m,chunk_timeout_ms=5s;"
                    "name=openai,base_url=https://eu.api.openai.com;",
                    NULL};
    CHECK_EQ_INT(load(&c, NULL, envp), IG_OK);
    CHECK_EQ_STR(g_err, "");
    CHECK_EQ_INT(c.nproviders, 3);
    const ig_provider_conf_t *az = ig_config_provider(&c, "azure");
    CHECK(az != NULL);
    if (az) {
        CHECK_EQ_STR(az->base_url, "https://r.openai.azure.com/openai");
        CHECK_EQ_STR(az->auth_header, "api-key");
        CHECK_EQ_STR(az->auth_format, "{key}");
        CHECK_EQ_INT(az->connect_timeout_ms, -1);
        CHECK_EQ_INT(az->first_byte_timeout_ms, -1);
        CHECK(!az->builtin);
    }
    const ig_provider_conf_t *v = ig_config_provider(&c, "vllm");
    CHECK(v != NULL);
    if (v) {
        CHECK_EQ_STR(v->auth_format, "Bearer {key}");
        CHECK_EQ_INT(v->first_byte_timeout_ms, 600000);
        CHECK_EQ_INT(v->chunk_timeout_ms, 5000);
        CHECK_EQ_INT(v->connect_timeout_ms, -1);
    }
    const ig_provider_conf_t *o = ig_config_provider(&c, "openai");
    CHECK(o != NULL);
    if (o) {
        CHECK(o->builtin);
        CHECK_EQ_STR(o->base_url, "https://eu.api.openai.com");
    }
    CHECK(ig_config_provider(&c, "anthropic") == NULL);
    ig_config_free(&c);

    /* a built-in override needs no base_url; a no-auth custom provider is fine */
    char *argv[] = {"--providers",
                    "name=anthropic,connect_timeout_ms=2s;name=local,base_url=http://[::1]:9000", NULL};
    CHECK_EQ_INT(load(&c, argv, envp), IG_OK); /* the flag replaces the env value as a whole */
    CHECK_EQ_INT(c.nproviders, 2);
    CHECK(ig_config_provider(&c, "azure") == NULL);
    const ig_provider_conf_t *an = ig_config_provider(&c, "anthropic");
    CHECK(an && an->builtin && an->base_url[0] == '\0' && an->connect_timeout_ms == 2000);
    const ig_provider_conf_t *lo = ig_config_provider(&c, "local");
    CHECK(lo && lo->auth_header[0] == '\0');
    ig_config_free(&c);
}

static void expect_provider_error(const char *spec, const char *want)
{
    ig_config_t c;
    char arg[4096];
    snprintf(arg, sizeof arg, "--providers=%s", spec);
    char *argv[] = {arg, NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "invalid value for providers") != NULL);
    if (!strstr(g_err, want)) {
        fprintf(stderr, "  expected '%s' in: %s\n", want, g_err);
        CHECK(0);
    }
    CHECK_EQ_INT(c.nproviders, 0);
    ig_config_free(&c);
}

TEST(providers_errors)
{
    expect_provider_error("name=azure,auth_header=api-key", "entry 1 (azure): base_url is required");
    expect_provider_error("name=a,base_url=http://a;name=Bad!,base_url=http://b",
                          "entry 2: invalid name 'Bad!'");
    expect_provider_error("name=,base_url=http://b", "entry 1: name is required");
    expect_provider_error("base_url=http://b", "entry 1: name is required");
    expect_provider_error("name=x,base_url=ftp://b",
                          "entry 1 (x): base_url 'ftp://b' must start with http://");
    expect_provider_error("name=x,base_url=https://user:pw@b", "must not contain credentials");
    expect_provider_error("name=x,base_url=https://b/v1?x=1", "no spaces, query or fragment");
    expect_provider_error("name=x,base_url=https://", "has no host");
    expect_provider_error("name=x,base_url=http://b,color=red", "entry 1 (x): unknown key 'color'");
    expect_provider_error("name=x,base_url=http://b,name=y", "key name is given twice");
    expect_provider_error("name=x,base_url", "'base_url' is not key=value");
    expect_provider_error("name=x,base_url=http://a;name=x,base_url=http://b", "provider x is defined twice");
    expect_provider_error("name=openai,auth_header=api-key", "entry 1 (openai): auth_header and auth_format");
    expect_provider_error("name=x,base_url=http://b,auth_header=api-key,auth_format=Bearer",
                          "{key} exactly once");
    expect_provider_error("name=x,base_url=http://b,auth_format={key}", "auth_format needs auth_header");
    expect_provider_error("name=x,base_url=http://b,auth_header=Host", "a header the gateway controls");
    expect_provider_error("name=x,base_url=http://b,auth_header=X-Ingate-Key",
                          "a header the gateway controls");
    expect_provider_error("name=x,base_url=http://b,auth_header=a b", "is not a header name");
    expect_provider_error("name=x,base_url=http://b,connect_timeout_ms=10",
                          "connect_timeout_ms '10' is out of range");
    expect_provider_error("name=x,base_url=http://b,chunk_timeout_ms=soon",
                          "chunk_timeout_ms 'soon' is not a number");

    /* too many: one more than the limit */
    char spec[4096];
    size_t len = 0;
    for (int i = 0; i <= IG_MAX_CUSTOM_PROVIDERS; i++)
        len += (size_t)snprintf(spec + len, sizeof spec - len, "name=p%d,base_url=http://h%d;", i, i);
    expect_provider_error(spec, "too many entries (at most 32)");
    /* exactly the limit is fine */
    ig_config_t c;
    char *end = strstr(spec, "name=p32");
    CHECK(end != NULL);
    if (end) *end = '\0';
    char *argv[] = {"--providers", spec, NULL};
    CHECK_EQ_INT(load(&c, argv, NULL), IG_OK);
    CHECK_EQ_INT(c.nproviders, IG_MAX_CUSTOM_PROVIDERS);
    ig_config_free(&c);
}

TEST(file_errors_name_line)
{
    ig_config_t c;
    char path[64];
    CHECK_EQ_INT(load_file_text(&c, "# comment\n\nthreads = 2\nworkers = 99\n", path, sizeof path),
                 IG_EINVAL);
    CHECK(strstr(g_err, path) != NULL);
    CHECK(strstr(g_err, ":4: invalid value for workers: '99' is out of range 1..64") != NULL);
    ig_config_free(&c);

    CHECK_EQ_INT(load_file_text(&c, "threads = 2\r\nthreads = 3\r\n", path, sizeof path), IG_EINVAL);
    CHECK(strstr(g_err, ":2: threads is already set on line 1") != NULL);
    ig_config_free(&c);

    CHECK_EQ_INT(load_file_text(&c, "\n\njust some words\n", path, sizeof path), IG_EINVAL);
    CHECK(strstr(g_err, ":3: expected 'name = value'") != NULL);
    ig_config_free(&c);

    CHECK_EQ_INT(load_file_text(&c, "config = /etc/other.conf\n", path, sizeof path), IG_EINVAL);
    CHECK(strstr(g_err, ":1: config cannot be set in a config file") != NULL);
    ig_config_free(&c);

    CHECK_EQ_INT(load_file_text(&c, "log_level = loud\n", path, sizeof path), IG_EINVAL);
    CHECK(strstr(g_err, ":1: invalid value for log_level: 'loud' is not one of debug, info, warn, error") !=
          NULL);
    ig_config_free(&c);

    /* quoting: escapes, '#' inside quotes, comment after quotes; empty values; no trailing newline */
    CHECK_EQ_INT(
        load_file_text(&c,
                       "data_dir = \"/a \\\"b\\\" #c\"  # comment\ntls_cert = /c.pem\ntls_key=/k.pem\n"
                       "plain_listen =\ntrusted_proxies = 10.0.0.1, ::1",
                       path, sizeof path),
        IG_OK);
    CHECK_EQ_STR(g_err, "");
    CHECK_EQ_STR(c.data_dir, "/a \"b\" #c");
    CHECK_EQ_STR(c.tls_cert, "/c.pem");
    CHECK_EQ_STR(c.tls_key, "/k.pem");
    CHECK_EQ_STR(c.plain_listen, "");
    CHECK_EQ_STR(c.trusted_proxies, "10.0.0.1, ::1");
    ig_config_free(&c);

    char *missing[] = {"--config", "/nonexistent/x.conf", NULL};
    CHECK_EQ_INT(load(&c, missing, NULL), IG_EINVAL);
    CHECK(strstr(g_err, "cannot open config file /nonexistent/x.conf") != NULL);
    ig_config_free(&c);
}

TEST(string_validation)
{
    const char *bad[] = {"--listen=localhost",
                         "--listen=",
                         "--listen=::1:8443",
                         "--listen=[::1]",
                         "--listen=a:1,,b:2",
                         "--listen=h:70000",
                         "--plain-listen=x",
                         "--data-dir=",
                         "--trusted-proxies=10.0.0.300",
                         "--openai-base-url=api.openai.com",
                         "--log-level=INFO",
                         "--tls-cert=/only/cert.pem"};
    ig_config_t c;
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        char *a[] = {(char *)bad[i], NULL};
        CHECK_EQ_INT(load(&c, a, NULL), IG_EINVAL);
        if (!g_err[0]) fprintf(stderr, "  no error for %s\n", bad[i]);
        ig_config_free(&c);
    }
    char *good[] = {"--listen=[::]:8443,0.0.0.0:0", "--plain-listen=127.0.0.1:8080",
                    "--ollama-base-url=http://gpu-box:11434/", NULL};
    CHECK_EQ_INT(load(&c, good, NULL), IG_OK);
    CHECK_EQ_STR(c.ollama_base_url, "http://gpu-box:11434");
    ig_config_free(&c);

    /* control characters are refused in any string */
    char *ctl[] = {"INGATE_DATA_DIR=/a\nb", NULL};
    CHECK_EQ_INT(load(&c, NULL, ctl), IG_EINVAL);
    CHECK(strstr(g_err, "contains a control character") != NULL);
    ig_config_free(&c);
}

TEST(help_and_docs)
{
    size_t n = 0;
    const ig_option_t *opts = ig_config_options(&n);
    char *help = capture(ig_config_print_help);
    char *docs = capture(ig_config_print_docs);
    char *docs2 = capture(ig_config_print_docs);
    char want[128];
    CHECK_EQ_STR(docs, docs2); /* deterministic */
    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, "| `%s` |", opts[i].name);
        if (!strstr(docs, want)) fprintf(stderr, "  docs lack %s\n", opts[i].name);
        CHECK(strstr(docs, want) != NULL);
        snprintf(want, sizeof want, "env INGATE_");
        for (size_t j = 0; opts[i].name[j] && j < 100; j++)
            want[11 + j] = (char)toupper((unsigned char)opts[i].name[j]), want[12 + j] = '\0';
        CHECK(strstr(help, want) != NULL);
    }
    CHECK(strstr(docs, "| `--data-dir` | `INGATE_DATA_DIR` | path | `./ingate-data` |") != NULL);
    CHECK(strstr(docs, "| `master_key` | (none) | `INGATE_MASTER_KEY` | secret | (secret) |") != NULL);
    CHECK(strstr(
              docs,
              "| `max_body_bytes` | `--max-body-bytes` | `INGATE_MAX_BODY_BYTES` | bytes | 32m | 1k..1g |") !=
          NULL);
    CHECK(strstr(docs, "auth_header=api-key") != NULL);
    CHECK(strstr(docs, "vllm") != NULL);
    CHECK(strstr(help, "--master-key") == NULL);
    CHECK(strstr(help, "--idle-timeout-ms MS") != NULL);
    free(help);
    free(docs);
    free(docs2);
}

/* The providers example in the docs is valid. */
TEST(docs_example_parses)
{
    ig_config_t c;
    char path[64];
    CHECK_EQ_INT(
        load_file_text(&c,
                       "data_dir = /var/lib/ingate\nlisten = 0.0.0.0:8443, [::]:8443\nthreads = 4\n"
                       "max_body_bytes = 64m\nidle_timeout_ms = 2m\n"
                       "providers = \"name=azure, base_url=https://my-resource.openai.azure.com/openai, "
                       "auth_header=api-key; name=vllm, base_url=http://10.0.0.7:8000, "
                       "auth_header=Authorization, auth_format=Bearer {key}, first_byte_timeout_ms=10m; "
                       "name=openai, first_byte_timeout_ms=600000\"\n",
                       path, sizeof path),
        IG_OK);
    CHECK_EQ_STR(g_err, "");
    CHECK_EQ_INT(c.nproviders, 3);
    ig_config_free(&c);
}

int main(void)
{
    RUN(defaults);
    RUN(table_is_consistent);
    RUN(precedence_file_env_flag);
    RUN(flag_forms);
    RUN(unknown_option);
    RUN(range_errors);
    RUN(units);
    RUN(bools);
    RUN(master_key_not_a_flag);
    RUN(master_key_never_echoed);
    RUN(providers_valid);
    RUN(providers_errors);
    RUN(file_errors_name_line);
    RUN(string_validation);
    RUN(help_and_docs);
    RUN(docs_example_parses);
    UNIT_DONE();
}
