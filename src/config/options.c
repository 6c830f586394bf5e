/*
 * options.c — the options table and everything it drives: defaults, the config file, environment
 * variables, flags, validation, --help, docs/configuration.md and the effective-config dump.
 *
 * Invariants:
 *  - Every value from every source goes through set_value(), so a value is validated the same way whether
 *    it came from the file, the environment or a flag, and each error names its source.
 *  - A secret value is never copied into an error message, help, docs or dump; error messages about a
 *    secret are built without the value and checked once more before they leave this file.
 *  - The field behind each table row is type-checked at compile time (the OFF_* macros fail to compile
 *    when the ig_config_t field does not have the storage type of the option type).
 *  - Buffers that may hold a secret (the config file's text, replaced master keys) are wiped before
 *    they are freed.
 */
#include "config/options.h"
#include "auth/clientip.h"
#include "core/err.h"
#include "core/log.h"
#include "net/outbound.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

/* A config file is a few dozen short lines; 1 MiB leaves room for a long providers list and comments
 * while refusing to slurp a wrong path (a log, a device) into memory. */
#define CONFIG_FILE_MAX (1024 * 1024)

/* Longest value of any option: 32 providers entries of ~300 bytes fit with room to spare. */
#define VALUE_MAX (64 * 1024)

/* Listener addresses per list option; a handful is normal, more is a mistake. */
#define MAX_LISTENERS 16

/* Provider names: short enough for metrics labels and headers. */
#define PROVIDER_NAME_MAX 32

/* auth_format is one header value: bounded well under the header block limit. */
#define AUTH_FORMAT_MAX 256

/* Longest header name accepted for auth_header. */
#define HEADER_NAME_MAX 64

/* Values quoted in error messages are cut to this many bytes. */
#define SHOW_MAX 48

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

/* Field offsets checked against the storage type of the option type at compile time. */
#define OFF_STR(f)  _Generic(((ig_config_t *)0)->f, char * : offsetof(ig_config_t, f))
#define OFF_INT(f)  _Generic(((ig_config_t *)0)->f, int : offsetof(ig_config_t, f))
#define OFF_BOOL(f) _Generic(((ig_config_t *)0)->f, bool : offsetof(ig_config_t, f))
#define OFF_SIZE(f) _Generic(((ig_config_t *)0)->f, size_t : offsetof(ig_config_t, f))

/* Row constructors, one per storage type: the type and the field cannot disagree. */
/* clang-format off */
#define OPT_STR(type, name, flags, def, check, help) \
    {#name, IG_OPT_##type, flags, def, 0, 0, 0, OFF_STR(name), check, help}
#define OPT_INT(type, name, def, min, max, help) \
    {#name, IG_OPT_##type, 0, NULL, def, min, max, OFF_INT(name), NULL, help}
#define OPT_BYTES(name, def, min, max, help) \
    {#name, IG_OPT_BYTES, 0, NULL, def, min, max, OFF_SIZE(name), NULL, help}
#define OPT_BOOL(name, def, help) \
    {#name, IG_OPT_BOOL, 0, NULL, def, 0, 1, OFF_BOOL(name), NULL, help}
/* clang-format on */

static int check_nonempty(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_listen(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_plain_listen(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_master_key(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_log_level(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_base_url(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_providers(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_ip_list(ig_config_t *cfg, char *value, char *msg, size_t msglen);
static int check_outbound_allowlist(ig_config_t *cfg, char *value, char *msg, size_t msglen);

/* clang-format off */
static const ig_option_t g_options[] = {
    OPT_STR(PATH, config, IG_OPTF_NO_FILE, "", NULL,
            "config file path (`name = value` lines)"),
    OPT_STR(PATH, data_dir, 0, "./ingate-data", check_nonempty,
            "data directory (mode 0700): master key, certificate, databases"),
    OPT_STR(STRING, listen, 0, "127.0.0.1:8443", check_listen,
            "TLS listener host:port; comma-separated list allowed; IPv6 as [::1]:8443"),
    OPT_STR(STRING, plain_listen, 0, "", check_plain_listen,
            "plain-HTTP listener host:port for a TLS-terminating sidecar; loopback addresses only"),
    OPT_INT(INT, threads, 0, 0, IG_MAX_THREADS,
            "event-loop threads; 0 = one per core"),
    OPT_INT(INT, workers, 2, 1, 64,
            "worker threads for slow work (store, password hashing)"),
    OPT_STR(PATH, tls_cert, 0, "", NULL,
            "PEM certificate chain; empty = generate a self-signed ECDSA P-256 certificate in the data directory"),
    OPT_STR(PATH, tls_key, 0, "", NULL,
            "PEM private key for tls_cert"),
    OPT_STR(SECRET, master_key, IG_OPTF_SECRET | IG_OPTF_NO_FLAG, "", check_master_key,
            "32-byte master key, base64 or hex (64 hex chars); empty = generated in `<data_dir>/master.key`; "
            "environment or config file only"),
    OPT_BYTES(max_body_bytes, IG_DEFAULT_MAX_BODY_BYTES, IG_MIN_MAX_BODY_BYTES, IG_MAX_MAX_BODY_BYTES,
              "request-body limit for authenticated proxy requests (413 beyond)"),
    OPT_INT(INT, max_connections, IG_DEFAULT_MAX_CONNECTIONS, 1, 1000000,
            "open client connections per process"),
    OPT_INT(DURATION_MS, header_timeout_ms, IG_DEFAULT_HEADER_TIMEOUT_MS, 100, 600000,
            "time allowed for a request's headers to arrive (slowloris)"),
    OPT_INT(DURATION_MS, idle_timeout_ms, IG_DEFAULT_IDLE_TIMEOUT_MS, 100, 3600000,
            "keep-alive idle timeout"),
    OPT_INT(DURATION_MS, drain_timeout_ms, IG_DEFAULT_DRAIN_TIMEOUT_MS, 0, 3600000,
            "on SIGTERM, time in-flight requests get to finish"),
    OPT_BYTES(capture_max_bytes, IG_DEFAULT_CAPTURE_MAX_BYTES, 0, GIB,
              "bytes of each request and response body kept in the capture copy"),
    OPT_INT(INT, capture_queue, IG_CAPTURE_QUEUE_LEN, 16, 10000000,
            "capture records waiting for the log writer"),
    OPT_STR(STRING, log_level, 0, "info", check_log_level,
            "one of debug, info, warn, error"),
    OPT_STR(STRING, openai_base_url, 0, "https://api.openai.com", check_base_url,
            "base URL of the openai provider"),
    OPT_STR(STRING, anthropic_base_url, 0, "https://api.anthropic.com", check_base_url,
            "base URL of the anthropic provider"),
    OPT_STR(STRING, ollama_base_url, 0, "http://127.0.0.1:11434", check_base_url,
            "base URL of the ollama provider"),
    {"providers", IG_OPT_STRING, 0, "", 0, 0, 0, OFF_STR(providers_spec), check_providers,
            "custom providers and per-provider overrides: `;`-separated entries of comma-separated key=value "
            "(see Providers in docs/configuration.md)"},
    OPT_INT(DURATION_MS, upstream_connect_timeout_ms, IG_DEFAULT_CONNECT_TIMEOUT_MS, 100, 600000,
            "default upstream connect timeout of every provider"),
    OPT_INT(DURATION_MS, upstream_first_byte_timeout_ms, IG_DEFAULT_FIRST_BYTE_TIMEOUT_MS, 100, 3600000,
            "default time to the upstream's first response byte"),
    OPT_INT(DURATION_MS, upstream_chunk_timeout_ms, IG_DEFAULT_CHUNK_TIMEOUT_MS, 100, 3600000,
            "default gap allowed between two chunks of an upstream response"),
    OPT_STR(PATH, upstream_ca_file, 0, "", NULL,
            "extra CA bundle (PEM) trusted for upstream TLS"),
    OPT_BOOL(upstream_tls_verify, true,
             "verify upstream TLS certificates and host names"),
    OPT_STR(STRING, trusted_proxies, 0, "", check_ip_list,
            "comma-separated IPs and CIDR ranges (10.0.0.0/8, fd00::/8) whose X-Forwarded-For is believed"),
    OPT_INT(INT, bcrypt_cost, 12, 10, 16,
            "bcrypt cost of new password hashes (each +1 doubles the time; ~250 ms at 12)"),
    OPT_INT(DURATION_MS, session_ttl_ms, 900000, 60000, 86400000,
            "lifetime of a session token (refresh with POST /api/v1/token/refresh); at most 24 h"),
    OPT_INT(DURATION_MS, key_rotation_overlap_ms, 86400000, 0, 604800000,
            "how long a rotated API key keeps working next to its replacement"),
    OPT_INT(DURATION_MS, invite_ttl_ms, 604800000, 60000, 1209600000,
            "how long an invitation token can be accepted"),
    OPT_INT(INT, auth_rate_limit, 10, 1, 10000,
            "signup, login and invitation attempts allowed per client address per auth_rate_window_ms"),
    OPT_STR(SECRET, metrics_token, IG_OPTF_SECRET | IG_OPTF_NO_FLAG, "", NULL,
            "bearer token for GET /metrics; empty = /metrics answers loopback clients only; environment or config "
            "file only"),
    OPT_INT(DURATION_MS, retention_interval_ms, 3600000, 1000, 86400000,
            "how often expired log records are purged (also once at start-up)"),
    OPT_STR(PATH, pricing_file, 0, "",  NULL,
            "model price table (JSON, see data/pricing.json) replacing the built-in one; empty = built-in"),
    OPT_BOOL(redact_all_orgs, false,
             "apply PII redaction to the logs of every org, whatever its plan and settings"),
    OPT_INT(DURATION_MS, auth_rate_window_ms, 900000, 1000, 86400000,
            "sliding window of auth_rate_limit"),
    OPT_STR(STRING, outbound_allowlist, 0, "", check_outbound_allowlist,
            "webhook targets the operator allows although private, loopback or on another port, and over plain "
            "http: comma-separated host, host:port, ip, ip:port or CIDR[:port] entries (see docs/webhooks.md)"),
    OPT_INT(DURATION_MS, webhook_retry_base_ms, 10000, 10, 3600000,
            "delay before the first webhook retry; retry n waits base x 3^(n-1) +/- 20 %; lower it only for "
            "testing"),
    OPT_INT(DURATION_MS, logs_expiring_grace_ms, 86400000, 0, 604800000,
            "how long expired log records whose logs.expiring delivery failed for good (retries exhausted) are "
            "still kept before they are purged anyway; at most 7 days"),
};
/* clang-format on */

#define NOPTIONS IG_ARRAY_LEN(g_options)

static const char *const g_builtin_providers[] = {"openai", "anthropic", "ollama"};

/* ---------------------------------------------------------------------------------------------------- */
/* small helpers */

static void fmt(char *out, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t n, const char *f, ...)
{
    if (!out || n == 0) return;
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(out, n, f, ap);
    va_end(ap);
    if (r < 0) out[0] = '\0';
}

/* A value for an error message: at most SHOW_MAX bytes, control characters as '?'. */
static const char *show(ig_iov_t v, char *buf, size_t n)
{
    size_t len = IG_MIN(v.len, IG_MIN((size_t)SHOW_MAX, n - 4));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (len < v.len) {
        memcpy(buf + len, "...", 3);
        len += 3;
    }
    buf[len] = '\0';
    return buf;
}

static char *iovdup(ig_iov_t v)
{
    char *s = malloc(v.len + 1);
    if (s) {
        if (v.len) memcpy(s, v.base, v.len);
        s[v.len] = '\0';
    }
    return s;
}

/* Frees a string, wiping it first when it may hold a secret. */
static void free_str(char **s, bool wipe)
{
    if (*s && wipe) OPENSSL_cleanse(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

/* Splits `*rest` at the first `sep`: returns the part before it (trimmed); *rest becomes the part after
 * it, or {NULL, 0} when there was no separator. */
static ig_iov_t split(ig_iov_t *rest, char sep)
{
    const char *p = rest->len ? memchr(rest->base, sep, rest->len) : NULL;
    ig_iov_t head;
    if (p) {
        head = ig_iov(rest->base, (size_t)(p - rest->base));
        *rest = ig_iov(p + 1, rest->len - head.len - 1);
    } else {
        head = *rest;
        *rest = IG_IOV_NULL;
    }
    return ig_iov_trim(head);
}

static bool is_secret(const ig_option_t *o)
{
    return o->type == IG_OPT_SECRET || (o->flags & IG_OPTF_SECRET);
}

static bool is_string_type(ig_opt_type_t t)
{
    return t == IG_OPT_STRING || t == IG_OPT_PATH || t == IG_OPT_SECRET;
}

static char **str_field(ig_config_t *cfg, const ig_option_t *o)
{
    return (char **)(void *)((char *)cfg + o->offset);
}

static const ig_option_t *find_option_iov(ig_iov_t name)
{
    const ig_option_t *found = NULL;
    for (size_t i = 0; i < NOPTIONS && !found; i++)
        if (ig_iov_eq(ig_iov_str(g_options[i].name), name)) found = &g_options[i];
    return found;
}

/* "data_dir" -> "INGATE_DATA_DIR". */
static void env_name(const ig_option_t *o, char *out, size_t n)
{
    fmt(out, n, "INGATE_%s", o->name);
    for (size_t i = 0; out[i]; i++)
        if (out[i] >= 'a' && out[i] <= 'z') out[i] = (char)(out[i] - 'a' + 'A');
}

/* "data_dir" -> "--data-dir". */
static void flag_name(const ig_option_t *o, char *out, size_t n)
{
    fmt(out, n, "--%s", o->name);
    for (size_t i = 2; out[i]; i++)
        if (out[i] == '_') out[i] = '-';
}

/* Does the flag name `f` (without "--") name option `o`? Dashes stand for underscores; with `loose`,
 * underscores are accepted too (only used to suggest the right spelling). */
static bool flag_matches(const ig_option_t *o, ig_iov_t f, bool loose)
{
    size_t n = strlen(o->name);
    bool ok = f.len == n;
    for (size_t i = 0; ok && i < n; i++) {
        char want = o->name[i], got = f.base[i];
        ok = want == '_' ? (got == '-' || (loose && got == '_')) : got == want;
    }
    return ok;
}

/* Text of a numeric value in the syntax the parser accepts: bytes use the largest exact unit. */
static void fmt_num(const ig_option_t *o, long long v, char *out, size_t n)
{
    if (o->type == IG_OPT_BYTES && v > 0 && v % GIB == 0)
        fmt(out, n, "%lldg", v / GIB);
    else if (o->type == IG_OPT_BYTES && v > 0 && v % MIB == 0)
        fmt(out, n, "%lldm", v / MIB);
    else if (o->type == IG_OPT_BYTES && v > 0 && v % KIB == 0)
        fmt(out, n, "%lldk", v / KIB);
    else if (o->type == IG_OPT_BOOL)
        fmt(out, n, "%s", v ? "true" : "false");
    else
        fmt(out, n, "%lld", v);
}

/* ---------------------------------------------------------------------------------------------------- */
/* value parsers */

typedef struct {
    const char *suffix;
    long long mult;
} unit_t;

static const unit_t g_byte_units[] = {{"", 1},      {"k", KIB}, {"kib", KIB}, {"m", MIB},
                                      {"mib", MIB}, {"g", GIB}, {"gib", GIB}};
static const unit_t g_ms_units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}};
static const unit_t g_int_units[] = {{"", 1}};

/* Parses a decimal integer with the unit suffixes allowed by o->type and checks o->min..o->max.
 * Returns 0 or IG_EINVAL with a message quoting the value (never called for secrets). */
static int parse_num(const ig_option_t *o, ig_iov_t s, long long *out, char *msg, size_t msglen)
{
    int rc = IG_EINVAL;
    char shown[SHOW_MAX + 8], lo[32], hi[32];
    const unit_t *units = g_int_units;
    size_t nunits = IG_ARRAY_LEN(g_int_units), i = 0;
    bool neg = false;
    long long v = 0, mult = 0;

    show(s, shown, sizeof shown);
    if (o->type == IG_OPT_BYTES) {
        units = g_byte_units;
        nunits = IG_ARRAY_LEN(g_byte_units);
    } else if (o->type == IG_OPT_DURATION_MS) {
        units = g_ms_units;
        nunits = IG_ARRAY_LEN(g_ms_units);
    }
    if (o->type == IG_OPT_INT && i < s.len && s.base[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= s.len || s.base[i] < '0' || s.base[i] > '9') {
        fmt(msg, msglen, "'%s' is not a number", shown);
        goto out;
    }
    for (; i < s.len && s.base[i] >= '0' && s.base[i] <= '9'; i++) {
        int d = s.base[i] - '0';
        if (v > (LLONG_MAX - d) / 10) {
            fmt(msg, msglen, "'%s' is too large", shown);
            goto out;
        }
        v = v * 10 + d;
    }
    ig_iov_t suffix = ig_iov(s.base + i, s.len - i);
    for (size_t u = 0; u < nunits && !mult; u++)
        if (suffix.len == strlen(units[u].suffix) &&
            strncasecmp(suffix.base, units[u].suffix, suffix.len) == 0)
            mult = units[u].mult;
    if (!mult) {
        fmt(msg, msglen, "'%s' is not a number%s", shown,
            o->type == IG_OPT_BYTES         ? " (units: k, m, g)"
            : o->type == IG_OPT_DURATION_MS ? " of milliseconds (units: ms, s, m)"
                                            : "");
        goto out;
    }
    if (v > LLONG_MAX / mult) {
        fmt(msg, msglen, "'%s' is too large", shown);
        goto out;
    }
    v = neg ? -v * mult : v * mult;
    if (v < o->min || v > o->max) {
        fmt_num(o, o->min, lo, sizeof lo);
        fmt_num(o, o->max, hi, sizeof hi);
        fmt(msg, msglen, "'%s' is out of range %s..%s%s", shown, lo, hi,
            o->type == IG_OPT_DURATION_MS ? " ms" : "");
        goto out;
    }
    *out = v;
    rc = IG_OK;
out:
    return rc;
}

static int parse_bool(ig_iov_t s, bool *out, char *msg, size_t msglen)
{
    static const struct {
        const char *word;
        bool value;
    } words[] = {{"true", true}, {"false", false}, {"1", true},  {"0", false},
                 {"yes", true},  {"no", false},    {"on", true}, {"off", false}};
    char shown[SHOW_MAX + 8];
    for (size_t i = 0; i < IG_ARRAY_LEN(words); i++) {
        if (s.len == strlen(words[i].word) && strncasecmp(s.base, words[i].word, s.len) == 0) {
            *out = words[i].value;
            return IG_OK;
        }
    }
    fmt(msg, msglen, "'%s' is not a boolean (true/false, 1/0, yes/no, on/off)", show(s, shown, sizeof shown));
    return IG_EINVAL;
}

/* ---------------------------------------------------------------------------------------------------- */
/* check hooks of string options; messages never contain the option name (set_value adds it) */

static int check_nonempty(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    IG_UNUSED(cfg);
    if (value[0]) return IG_OK;
    fmt(msg, msglen, "must not be empty");
    return IG_EINVAL;
}

/* One "host:port" or "[v6]:port"; port 0 asks the kernel for a free port (tests). */
static int check_hostport(ig_iov_t e, char *msg, size_t msglen)
{
    int rc = IG_EINVAL;
    char shown[SHOW_MAX + 8], addr[64];
    ig_iov_t host, port;
    show(e, shown, sizeof shown);
    if (e.len && e.base[0] == '[') {
        const char *close = memchr(e.base, ']', e.len);
        size_t hl = close ? (size_t)(close - e.base) - 1 : 0;
        if (!close || hl == 0 || hl >= sizeof addr || (size_t)(close - e.base) + 1 >= e.len ||
            close[1] != ':') {
            fmt(msg, msglen, "'%s' is not [ipv6]:port", shown);
            goto out;
        }
        memcpy(addr, e.base + 1, hl);
        addr[hl] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, addr, &a6) != 1) {
            fmt(msg, msglen, "'%s' has an invalid IPv6 address", shown);
            goto out;
        }
        port = ig_iov(close + 2, e.len - (size_t)(close - e.base) - 2);
    } else {
        const char *colon = e.len ? memchr(e.base, ':', e.len) : NULL;
        if (!colon) {
            fmt(msg, msglen, "'%s' is not host:port", shown);
            goto out;
        }
        host = ig_iov(e.base, (size_t)(colon - e.base));
        port = ig_iov(colon + 1, e.len - host.len - 1);
        if (memchr(port.base, ':', port.len)) {
            fmt(msg, msglen, "'%s': write IPv6 addresses in brackets, e.g. [::1]:8443", shown);
            goto out;
        }
        bool ok = host.len > 0 && host.len < 254;
        for (size_t i = 0; ok && i < host.len; i++) {
            char c = host.base[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '-' || c == '_';
        }
        if (!ok) {
            fmt(msg, msglen, "'%s' has an invalid host", shown);
            goto out;
        }
    }
    long port_v = 0;
    bool port_ok = port.len >= 1 && port.len <= 5;
    for (size_t i = 0; port_ok && i < port.len; i++) {
        port_ok = port.base[i] >= '0' && port.base[i] <= '9';
        port_v = port_v * 10 + (port.base[i] - '0');
    }
    if (!port_ok || port_v > 65535) {
        fmt(msg, msglen, "'%s' has an invalid port (0..65535)", shown);
        goto out;
    }
    rc = IG_OK;
out:
    return rc;
}

static int check_hostport_list(const char *value, bool required, char *msg, size_t msglen)
{
    int rc = IG_OK;
    ig_iov_t rest = ig_iov_str(value);
    size_t n = 0;
    if (!value[0]) {
        if (required) fmt(msg, msglen, "must not be empty");
        return required ? IG_EINVAL : IG_OK;
    }
    while (rc == IG_OK && rest.base) {
        ig_iov_t e = split(&rest, ',');
        if (e.len == 0) {
            fmt(msg, msglen, "empty entry in the list");
            rc = IG_EINVAL;
        } else if (++n > MAX_LISTENERS) {
            fmt(msg, msglen, "more than %d addresses", MAX_LISTENERS);
            rc = IG_EINVAL;
        } else {
            rc = check_hostport(e, msg, msglen);
        }
    }
    return rc;
}

static int check_listen(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    IG_UNUSED(cfg);
    return check_hostport_list(value, true, msg, msglen);
}

static int check_plain_listen(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    IG_UNUSED(cfg);
    return check_hostport_list(value, false, msg, msglen);
}

/* Only the alphabet is checked here (the server checks the decoded length); the value is never quoted. */
static int check_master_key(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    IG_UNUSED(cfg);
    for (const char *p = value; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '=' || c == '-' || c == '_')) {
            fmt(msg, msglen, "must be base64 or 64 hex characters");
            return IG_EINVAL;
        }
    }
    return IG_OK;
}

static int check_log_level(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    char shown[SHOW_MAX + 8];
    IG_UNUSED(cfg);
    if (ig_log_parse_level(value) >= 0) return IG_OK;
    fmt(msg, msglen, "'%s' is not one of debug, info, warn, error",
        show(ig_iov_str(value), shown, sizeof shown));
    return IG_EINVAL;
}

/* http(s)://host[:port][/path] without credentials, query or fragment. *keep receives the length without
 * trailing slashes of the path (the proxy appends request paths that start with '/'). */
static int check_url(ig_iov_t u, size_t *keep, char *msg, size_t msglen)
{
    int rc = IG_EINVAL;
    char shown[SHOW_MAX + 8];
    size_t start = 0, i;
    show(u, shown, sizeof shown);
    if (ig_iov_has_iprefix(u, IG_IOV_LIT("https://")))
        start = 8;
    else if (ig_iov_has_iprefix(u, IG_IOV_LIT("http://")))
        start = 7;
    if (!start) {
        fmt(msg, msglen, "'%s' must start with http:// or https://", shown);
        goto out;
    }
    for (i = start; i < u.len && u.base[i] != '/'; i++) {
        char c = u.base[i];
        if (c == '@') {
            fmt(msg, msglen, "'%s' must not contain credentials (use auth_header and provider keys)", shown);
            goto out;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || c == ':' || c == '[' || c == ']' || c == '%')) {
            fmt(msg, msglen, "'%s' has an invalid host", shown);
            goto out;
        }
    }
    if (i == start) {
        fmt(msg, msglen, "'%s' has no host", shown);
        goto out;
    }
    for (; i < u.len; i++) {
        unsigned char c = (unsigned char)u.base[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}?#", c)) {
            fmt(msg, msglen, "'%s' must be a plain base URL (no spaces, query or fragment)", shown);
            goto out;
        }
    }
    *keep = u.len;
    while (*keep > start && u.base[*keep - 1] == '/')
        (*keep)--;
    rc = IG_OK;
out:
    return rc;
}

static int check_base_url(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    size_t keep = 0;
    IG_UNUSED(cfg);
    int rc = check_url(ig_iov_str(value), &keep, msg, msglen);
    if (rc == IG_OK) value[keep] = '\0';
    return rc;
}

static int check_ip_list(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    ig_trusted_t *t = NULL;
    const char *why = NULL;
    IG_UNUSED(cfg);
    if (ig_trusted_parse(value, &t, &why) != IG_OK) {
        fmt(msg, msglen, "%s", why ? why : "not a list of IP addresses and CIDR ranges");
        return IG_EINVAL;
    }
    ig_trusted_free(t);
    return IG_OK;
}

/* The operator allowlist of outbound (webhook) targets: the validator's own parser decides. */
static int check_outbound_allowlist(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    ig_outbound_policy_t *p = NULL;
    const char *why = NULL;
    IG_UNUSED(cfg);
    if (ig_outbound_policy_new(value, &p, &why) != IG_OK) {
        fmt(msg, msglen, "%s", why ? why : "not a valid allowlist");
        return IG_EINVAL;
    }
    ig_outbound_policy_free(p);
    return IG_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* providers */

enum { PK_NAME, PK_BASE_URL, PK_AUTH_HEADER, PK_AUTH_FORMAT, PK_CONNECT, PK_FIRST_BYTE, PK_CHUNK, PK_COUNT };

/* Keys of a providers entry; timeout keys take their bounds from the global option they override. */
static const struct {
    const char *key;
    const char *bounds_option;
    size_t offset;
} g_provider_keys[PK_COUNT] = {
    [PK_NAME] = {"name", NULL, 0},
    [PK_BASE_URL] = {"base_url", NULL, 0},
    [PK_AUTH_HEADER] = {"auth_header", NULL, 0},
    [PK_AUTH_FORMAT] = {"auth_format", NULL, 0},
    [PK_CONNECT] = {"connect_timeout_ms", "upstream_connect_timeout_ms",
                    offsetof(ig_provider_conf_t, connect_timeout_ms)},
    [PK_FIRST_BYTE] = {"first_byte_timeout_ms", "upstream_first_byte_timeout_ms",
                       offsetof(ig_provider_conf_t, first_byte_timeout_ms)},
    [PK_CHUNK] = {"chunk_timeout_ms", "upstream_chunk_timeout_ms",
                  offsetof(ig_provider_conf_t, chunk_timeout_ms)},
};

/* Headers the proxy itself controls: an auth header must not smuggle framing or routing. */
static const char *const g_reserved_headers[] = {
    "host",    "content-length", "transfer-encoding",   "connection",       "upgrade", "te",
    "trailer", "keep-alive",     "proxy-authorization", "proxy-connection", "cookie"};

static void provider_free(ig_provider_conf_t *p)
{
    free_str(&p->name, false);
    free_str(&p->base_url, false);
    free_str(&p->auth_header, false);
    free_str(&p->auth_format, false);
}

static bool valid_provider_name(ig_iov_t n)
{
    bool ok = n.len >= 1 && n.len <= PROVIDER_NAME_MAX;
    for (size_t i = 0; ok && i < n.len; i++) {
        char c = n.base[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
    return ok;
}

static int check_header_name(ig_iov_t h, char *msg, size_t msglen)
{
    char shown[SHOW_MAX + 8];
    bool ok = h.len >= 1 && h.len <= HEADER_NAME_MAX;
    for (size_t i = 0; ok && i < h.len; i++) {
        char c = h.base[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             (c && strchr("!#$%&'*+-.^_`|~", c));
    }
    if (!ok) {
        fmt(msg, msglen, "'%s' is not a header name", show(h, shown, sizeof shown));
        return IG_EINVAL;
    }
    for (size_t i = 0; i < IG_ARRAY_LEN(g_reserved_headers); i++) {
        if (ig_iov_ieq(h, ig_iov_str(g_reserved_headers[i])) ||
            ig_iov_has_iprefix(h, IG_IOV_LIT("x-ingate-"))) {
            fmt(msg, msglen, "'%s' is a header the gateway controls", show(h, shown, sizeof shown));
            return IG_EINVAL;
        }
    }
    return IG_OK;
}

/* Parses one entry ("name=x,base_url=...", the idx-th non-empty one) into *p, which the caller zeroed and
 * frees, also after an error. Messages start with "entry N" or "entry N (name)". */
static int parse_provider_entry(ig_iov_t entry, size_t idx, ig_provider_conf_t *p, char *msg, size_t msglen)
{
    int rc = IG_EINVAL;
    ig_iov_t vals[PK_COUNT];
    bool have[PK_COUNT] = {false};
    char label[64], shown[SHOW_MAX + 8], sub[256];
    ig_iov_t rest = entry;
    size_t keep = 0;

    /* name the entry in messages as soon as possible, even for errors found before its name= pair */
    fmt(label, sizeof label, "entry %zu", idx);
    while (rest.base) {
        ig_iov_t kv = split(&rest, ','), n = IG_IOV_NULL;
        const char *eq = kv.len ? memchr(kv.base, '=', kv.len) : NULL;
        if (eq && ig_iov_eq(ig_iov_trim(ig_iov(kv.base, (size_t)(eq - kv.base))), IG_IOV_LIT("name")))
            n = ig_iov_trim(ig_iov(eq + 1, (size_t)(kv.base + kv.len - eq - 1)));
        if (valid_provider_name(n)) fmt(label, sizeof label, "entry %zu (%.*s)", idx, (int)n.len, n.base);
    }
    rest = entry;
    while (rest.base) {
        ig_iov_t kv = split(&rest, ',');
        if (kv.len == 0) continue;
        const char *eq = memchr(kv.base, '=', kv.len);
        if (!eq) {
            fmt(msg, msglen, "%s: '%s' is not key=value", label, show(kv, shown, sizeof shown));
            goto out;
        }
        ig_iov_t key = ig_iov_trim(ig_iov(kv.base, (size_t)(eq - kv.base)));
        ig_iov_t val = ig_iov_trim(ig_iov(eq + 1, (size_t)(kv.base + kv.len - eq - 1)));
        int k = -1;
        for (int j = 0; j < PK_COUNT && k < 0; j++)
            if (ig_iov_eq(key, ig_iov_str(g_provider_keys[j].key))) k = j;
        if (k < 0) {
            fmt(msg, msglen,
                "%s: unknown key '%s' (expected name, base_url, auth_header, auth_format, "
                "connect_timeout_ms, "
                "first_byte_timeout_ms or chunk_timeout_ms)",
                label, show(key, shown, sizeof shown));
            goto out;
        }
        if (have[k]) {
            fmt(msg, msglen, "%s: key %s is given twice", label, g_provider_keys[k].key);
            goto out;
        }
        have[k] = true;
        vals[k] = val;
    }
    if (!have[PK_NAME] || vals[PK_NAME].len == 0) {
        fmt(msg, msglen, "%s: name is required", label);
        goto out;
    }
    if (!valid_provider_name(vals[PK_NAME])) {
        fmt(msg, msglen, "%s: invalid name '%s' (1 to %d of a-z, 0-9, _ and -)", label,
            show(vals[PK_NAME], shown, sizeof shown), PROVIDER_NAME_MAX);
        goto out;
    }
    for (size_t i = 0; i < IG_ARRAY_LEN(g_builtin_providers); i++)
        if (ig_iov_eq(vals[PK_NAME], ig_iov_str(g_builtin_providers[i]))) p->builtin = true;

    if (have[PK_BASE_URL] && check_url(vals[PK_BASE_URL], &keep, sub, sizeof sub) != IG_OK) {
        fmt(msg, msglen, "%s: base_url %s", label, sub);
        goto out;
    }
    if (!have[PK_BASE_URL] && !p->builtin) {
        fmt(msg, msglen, "%s: base_url is required for a new provider", label);
        goto out;
    }
    if (p->builtin && (have[PK_AUTH_HEADER] || have[PK_AUTH_FORMAT])) {
        fmt(msg, msglen, "%s: auth_header and auth_format of a built-in provider cannot be changed", label);
        goto out;
    }
    if (have[PK_AUTH_HEADER] && vals[PK_AUTH_HEADER].len &&
        check_header_name(vals[PK_AUTH_HEADER], sub, sizeof sub) != IG_OK) {
        fmt(msg, msglen, "%s: auth_header %s", label, sub);
        goto out;
    }
    if (have[PK_AUTH_FORMAT]) {
        ig_iov_t f = vals[PK_AUTH_FORMAT];
        size_t nkeys = 0;
        for (size_t i = 0; i + 5 <= f.len; i++)
            if (memcmp(f.base + i, "{key}", 5) == 0) nkeys++;
        if (!have[PK_AUTH_HEADER] || vals[PK_AUTH_HEADER].len == 0) {
            fmt(msg, msglen, "%s: auth_format needs auth_header", label);
            goto out;
        }
        if (nkeys != 1 || f.len > AUTH_FORMAT_MAX) {
            fmt(msg, msglen, "%s: auth_format must contain {key} exactly once (at most %d bytes)", label,
                AUTH_FORMAT_MAX);
            goto out;
        }
    }
    for (int k = PK_CONNECT; k <= PK_CHUNK; k++) {
        long long v = -1;
        if (have[k] && parse_num(find_option_iov(ig_iov_str(g_provider_keys[k].bounds_option)), vals[k], &v,
                                 sub, sizeof sub)) {
            fmt(msg, msglen, "%s: %s %s", label, g_provider_keys[k].key, sub);
            goto out;
        }
        *(int *)(void *)((char *)p + g_provider_keys[k].offset) = (int)v;
    }
    p->name = iovdup(vals[PK_NAME]);
    p->base_url = iovdup(have[PK_BASE_URL] ? ig_iov(vals[PK_BASE_URL].base, keep) : IG_IOV_NULL);
    p->auth_header = iovdup(have[PK_AUTH_HEADER] ? vals[PK_AUTH_HEADER] : IG_IOV_NULL);
    p->auth_format = iovdup(have[PK_AUTH_FORMAT] ? vals[PK_AUTH_FORMAT] : IG_IOV_LIT("{key}"));
    rc = (p->name && p->base_url && p->auth_header && p->auth_format) ? IG_OK : IG_ENOMEM;
out:
    return rc;
}

/* Parses the whole providers value; replaces cfg->providers only when every entry is valid. */
static int check_providers(ig_config_t *cfg, char *value, char *msg, size_t msglen)
{
    int rc = IG_OK;
    ig_provider_conf_t tmp[IG_MAX_CUSTOM_PROVIDERS];
    size_t n = 0, idx = 0;
    ig_iov_t rest = ig_iov_str(value);

    memset(tmp, 0, sizeof tmp);
    while (rc == IG_OK && value[0] && rest.base) {
        ig_iov_t entry = split(&rest, ';');
        if (entry.len == 0) continue;
        idx++;
        if (n == IG_MAX_CUSTOM_PROVIDERS) {
            fmt(msg, msglen, "too many entries (at most %d)", IG_MAX_CUSTOM_PROVIDERS);
            rc = IG_EINVAL;
            break;
        }
        rc = parse_provider_entry(entry, idx, &tmp[n], msg, msglen);
        for (size_t i = 0; rc == IG_OK && i < n; i++) {
            if (strcmp(tmp[i].name, tmp[n].name) == 0) {
                fmt(msg, msglen, "entry %zu (%s): provider %s is defined twice", idx, tmp[n].name,
                    tmp[n].name);
                rc = IG_EINVAL;
            }
        }
        n++;
    }
    if (rc == IG_OK) {
        for (size_t i = 0; i < cfg->nproviders; i++)
            provider_free(&cfg->providers[i]);
        memcpy(cfg->providers, tmp, sizeof tmp);
        cfg->nproviders = n;
        memset(tmp, 0, sizeof tmp);
    }
    for (size_t i = 0; i < IG_MAX_CUSTOM_PROVIDERS; i++)
        provider_free(&tmp[i]);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* setting values */

/* Validates `value` for option `o` and stores it. `where` names the source ("FILE:LINE", "INGATE_X",
 * "--x"). Errors: "<where>: invalid value for <name>: <why>"; for secrets the value is never included. */
static int set_value(ig_config_t *cfg, const ig_option_t *o, const char *value, const char *where, char *err,
                     size_t errlen)
{
    int rc = IG_EINVAL;
    char msg[512] = "";
    char *copy = NULL;
    size_t len = strlen(value);
    long long v = 0;
    bool b = false;

    if (len > VALUE_MAX) {
        fmt(msg, sizeof msg, "longer than %d bytes", VALUE_MAX);
        goto out;
    }
    if (is_string_type(o->type)) {
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                fmt(msg, sizeof msg, "contains a control character");
                goto out;
            }
        }
        copy = strdup(value);
        if (!copy) {
            rc = IG_ENOMEM;
            goto out;
        }
        if (o->check && (rc = o->check(cfg, copy, msg, sizeof msg)) != IG_OK) goto out;
        char **field = str_field(cfg, o);
        free_str(field, is_secret(o));
        *field = copy;
        copy = NULL;
    } else if (o->type == IG_OPT_BOOL) {
        if ((rc = parse_bool(ig_iov_str(value), &b, msg, sizeof msg)) != IG_OK) goto out;
        *(bool *)(void *)((char *)cfg + o->offset) = b;
    } else {
        if ((rc = parse_num(o, ig_iov_str(value), &v, msg, sizeof msg)) != IG_OK) goto out;
        if (o->type == IG_OPT_BYTES)
            *(size_t *)(void *)((char *)cfg + o->offset) = (size_t)v;
        else
            *(int *)(void *)((char *)cfg + o->offset) = (int)v;
    }
    rc = IG_OK;
out:
    if (rc == IG_EINVAL) {
        if (is_secret(o)) {
            fmt(err, errlen, "%s: invalid value for %s (not shown): %s", where, o->name, msg);
            /* belt and braces: no check hook quotes a secret, and this keeps it that way */
            if (err && value[0] && strstr(err, value))
                fmt(err, errlen, "%s: invalid value for %s", where, o->name);
        } else {
            fmt(err, errlen, "%s: invalid value for %s: %s", where, o->name, msg);
        }
    } else if (rc == IG_ENOMEM) {
        fmt(err, errlen, "%s: out of memory", where);
    }
    if (copy) free_str(&copy, is_secret(o));
    OPENSSL_cleanse(msg, sizeof msg);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* config file */

/* Decodes the value part of a line in place: `"..."` with \" and \\ escapes, or bare text up to a `#` that
 * follows whitespace. Returns the decoded value or NULL with a message (which never quotes the value). */
static char *file_value(char *s, char *msg, size_t msglen)
{
    char *end;
    if (*s == '"') {
        char *w = s, *r = s + 1;
        while (*r && *r != '"') {
            if (*r == '\\' && (r[1] == '"' || r[1] == '\\')) r++;
            *w++ = *r++;
        }
        if (*r != '"') {
            fmt(msg, msglen, "unterminated quoted value");
            return NULL;
        }
        r++;
        while (*r == ' ' || *r == '\t')
            r++;
        if (*r && *r != '#') {
            fmt(msg, msglen, "unexpected text after the closing quote");
            return NULL;
        }
        *w = '\0';
        return s;
    }
    for (end = s; *end; end++)
        if (*end == '#' && end > s && (end[-1] == ' ' || end[-1] == '\t')) break;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int rc = IG_EINVAL;
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len = 0, n;

    if (!f) {
        fmt(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        goto out;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        rc = IG_ENOMEM;
        fmt(err, errlen, "out of memory reading config file %s", path);
        goto out;
    }
    while ((n = fread(buf + len, 1, CONFIG_FILE_MAX + 1 - len, f)) > 0 && len + n <= CONFIG_FILE_MAX)
        len += n;
    if (n > 0) {
        fmt(err, errlen, "config file %s is larger than %d bytes", path, CONFIG_FILE_MAX);
        goto out;
    }
    if (ferror(f)) {
        fmt(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = IG_OK;
out:
    if (buf) {
        OPENSSL_cleanse(buf, CONFIG_FILE_MAX + 1);
        free(buf);
    }
    if (f) fclose(f);
    return rc;
}

/* One line of the config file (NUL-terminated, without its '\n'). seen[] holds the line each option was
 * set on, to refuse duplicates. */
static int parse_line(ig_config_t *cfg, char *line, size_t len, const char *where, unsigned lineno,
                      unsigned *seen, char *err, size_t errlen)
{
    int rc = IG_EINVAL;
    char msg[256], shown[SHOW_MAX + 8];

    if (strlen(line) != len) {
        fmt(err, errlen, "%s: NUL byte in the line", where);
        goto out;
    }
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    ig_iov_t t = ig_iov_trim(ig_iov(line, len));
    if (t.len == 0 || t.base[0] == '#') {
        rc = IG_OK;
        goto out;
    }
    char *eq = memchr(t.base, '=', t.len);
    if (!eq) {
        fmt(err, errlen, "%s: expected 'name = value'", where);
        goto out;
    }
    ig_iov_t name = ig_iov_trim(ig_iov(t.base, (size_t)(eq - t.base)));
    const ig_option_t *o = find_option_iov(name);
    if (!o) {
        fmt(err, errlen, "%s: unknown option '%s'", where, show(name, shown, sizeof shown));
        goto out;
    }
    if (o->flags & IG_OPTF_NO_FILE) {
        fmt(err, errlen, "%s: %s cannot be set in a config file", where, o->name);
        goto out;
    }
    size_t oi = (size_t)(o - g_options);
    if (seen[oi]) {
        fmt(err, errlen, "%s: %s is already set on line %u", where, o->name, seen[oi]);
        goto out;
    }
    seen[oi] = lineno;
    char *vs = eq + 1;
    while (*vs == ' ' || *vs == '\t')
        vs++;
    char *value = file_value(vs, msg, sizeof msg);
    if (!value) {
        fmt(err, errlen, "%s: %s", where, msg);
        goto out;
    }
    rc = set_value(cfg, o, value, where, err, errlen);
out:
    return rc;
}

static int load_file(ig_config_t *cfg, const char *path, char *err, size_t errlen)
{
    int rc;
    char *buf = NULL, *line, *next;
    size_t len = 0;
    unsigned lineno = 0, seen[NOPTIONS] = {0};
    char where[512];

    if ((rc = read_file(path, &buf, &len, err, errlen)) != IG_OK) goto out;
    for (line = buf; rc == IG_OK && line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *end = nl ? nl : buf + len;
        next = nl ? nl + 1 : end;
        *end = '\0';
        fmt(where, sizeof where, "%s:%u", path, ++lineno);
        rc = parse_line(cfg, line, (size_t)(end - line), where, lineno, seen, err, errlen);
    }
out:
    if (buf) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* environment and flags */

/* The value of variable `name` in envp (first match, like getenv), or NULL. */
static const char *env_lookup(char **envp, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; envp && envp[i] && !found; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') found = envp[i] + n + 1;
    return found;
}

/* Takes the flag at argv[*i]: its name (without "--", up to any '=') and its value (after '=', else the
 * next argument unless that is a flag; NULL when missing). Advances *i past what it took. Returns 0 or
 * IG_EINVAL when argv[*i] is not a flag. */
static int next_flag(int argc, char **argv, int *i, ig_iov_t *name, const char **value)
{
    const char *a = argv[*i];
    (*i)++;
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0' || a[2] == '=') return IG_EINVAL;
    const char *eq = strchr(a + 2, '=');
    *name = eq ? ig_iov(a + 2, (size_t)(eq - a - 2)) : ig_iov_str(a + 2);
    *value = NULL;
    if (eq)
        *value = eq + 1;
    else if (*i < argc && strncmp(argv[*i], "--", 2) != 0)
        *value = argv[(*i)++];
    return IG_OK;
}

static const ig_option_t *find_flag(ig_iov_t name, bool loose)
{
    const ig_option_t *found = NULL;
    for (size_t j = 0; j < NOPTIONS && !found; j++)
        if (flag_matches(&g_options[j], name, loose)) found = &g_options[j];
    return found;
}

static int apply_flags(ig_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = IG_OK;
    char shown[SHOW_MAX + 8], flag[80], env[80];
    for (int i = 0; rc == IG_OK && i < argc;) {
        ig_iov_t name;
        const char *value;
        const char *arg = argv[i];
        if (next_flag(argc, argv, &i, &name, &value) != IG_OK) {
            fmt(err, errlen, "unexpected argument '%s' (options are --name value or --name=value)",
                show(ig_iov_str(arg), shown, sizeof shown));
            rc = IG_EINVAL;
            break;
        }
        const ig_option_t *o = find_flag(name, false), *near = o ? o : find_flag(name, true);
        if (near && (near->flags & IG_OPTF_NO_FLAG)) {
            env_name(near, env, sizeof env);
            fmt(err, errlen,
                "%s cannot be given as a command-line flag (other users can read argv with ps); set %s in "
                "the "
                "environment or %s in the config file",
                near->name, env, near->name);
            rc = IG_EINVAL;
        } else if (!o && near) {
            flag_name(near, flag, sizeof flag);
            fmt(err, errlen, "unknown option --%s (did you mean %s?)", show(name, shown, sizeof shown), flag);
            rc = IG_EINVAL;
        } else if (!o) {
            fmt(err, errlen, "unknown option --%s (see --help)", show(name, shown, sizeof shown));
            rc = IG_EINVAL;
        } else if (!value) {
            flag_name(o, flag, sizeof flag);
            fmt(err, errlen, "option %s needs a value", flag);
            rc = IG_EINVAL;
        } else {
            flag_name(o, flag, sizeof flag);
            rc = set_value(cfg, o, value, flag, err, errlen);
        }
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* public API */

const ig_option_t *ig_config_options(size_t *n)
{
    *n = NOPTIONS;
    return g_options;
}

int ig_config_init(ig_config_t *cfg)
{
    int rc = IG_OK;
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NOPTIONS && rc == IG_OK; i++) {
        const ig_option_t *o = &g_options[i];
        if (is_string_type(o->type)) {
            char **field = str_field(cfg, o);
            if (!(*field = strdup(o->def))) rc = IG_ENOMEM;
        } else if (o->type == IG_OPT_BOOL) {
            *(bool *)(void *)((char *)cfg + o->offset) = o->def_num != 0;
        } else if (o->type == IG_OPT_BYTES) {
            *(size_t *)(void *)((char *)cfg + o->offset) = (size_t)o->def_num;
        } else {
            *(int *)(void *)((char *)cfg + o->offset) = (int)o->def_num;
        }
    }
    if (rc != IG_OK) ig_config_free(cfg);
    return rc;
}

int ig_config_load(ig_config_t *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
{
    int rc = IG_OK;
    char env[80];
    const char *path = cfg->config;

    fmt(err, errlen, "%s", "");
    /* the config file named last wins: --config, else INGATE_CONFIG, else what cfg already has */
    const char *env_path = env_lookup(envp, "INGATE_CONFIG");
    if (env_path) path = env_path;
    for (int i = 0; i < argc;) {
        ig_iov_t name;
        const char *value;
        if (next_flag(argc, argv, &i, &name, &value) == IG_OK && ig_iov_eq(name, IG_IOV_LIT("config")) &&
            value)
            path = value;
    }
    if (path && path[0] && (rc = load_file(cfg, path, err, errlen)) != IG_OK) goto out;

    for (size_t i = 0; i < NOPTIONS && rc == IG_OK; i++) {
        env_name(&g_options[i], env, sizeof env);
        const char *value = env_lookup(envp, env);
        if (value) rc = set_value(cfg, &g_options[i], value, env, err, errlen);
    }
    if (rc != IG_OK) goto out;

    if ((rc = apply_flags(cfg, argc, argv, err, errlen)) != IG_OK) goto out;

    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        fmt(err, errlen,
            "tls_cert and tls_key must be set together (or both left empty for a generated "
            "certificate)");
        rc = IG_EINVAL;
    }
out:
    return rc;
}

void ig_config_free(ig_config_t *cfg)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (is_string_type(g_options[i].type))
            free_str(str_field(cfg, &g_options[i]), is_secret(&g_options[i]));
    for (size_t i = 0; i < IG_ARRAY_LEN(cfg->providers); i++)
        provider_free(&cfg->providers[i]);
    OPENSSL_cleanse(cfg, sizeof *cfg);
    memset(cfg, 0, sizeof *cfg);
}

const ig_provider_conf_t *ig_config_provider(const ig_config_t *cfg, const char *name)
{
    const ig_provider_conf_t *found = NULL;
    for (size_t i = 0; i < cfg->nproviders && !found; i++)
        if (strcmp(cfg->providers[i].name, name) == 0) found = &cfg->providers[i];
    return found;
}

/* ---------------------------------------------------------------------------------------------------- */
/* help, docs, dump */

static const char *type_metavar(ig_opt_type_t t)
{
    static const char *const names[] = {"STR", "N", "BOOL", "PATH", "KEY", "MS", "BYTES"};
    return names[t];
}

static const char *type_doc(ig_opt_type_t t)
{
    static const char *const names[] = {"string", "integer",       "bool", "path",
                                        "secret", "duration (ms)", "bytes"};
    return names[t];
}

/* Default as shown to people: strings quoted or "(empty)", secrets "(secret)". */
static void fmt_default(const ig_option_t *o, char *out, size_t n, bool markdown)
{
    if (is_secret(o))
        fmt(out, n, "(secret)");
    else if (is_string_type(o->type) && !o->def[0])
        fmt(out, n, "(empty)");
    else if (is_string_type(o->type))
        fmt(out, n, markdown ? "`%s`" : "%s", o->def);
    else
        fmt_num(o, o->def_num, out, n);
}

static void fmt_range(const ig_option_t *o, char *out, size_t n)
{
    char lo[32], hi[32];
    out[0] = '\0';
    if (o->type == IG_OPT_BOOL) {
        fmt(out, n, "true/false");
    } else if (!is_string_type(o->type)) {
        fmt_num(o, o->min, lo, sizeof lo);
        fmt_num(o, o->max, hi, sizeof hi);
        fmt(out, n, "%s..%s", lo, hi);
    }
}

void ig_config_print_help(FILE *f)
{
    char flag[80], env[80], def[128], range[64];
    fprintf(f, "Options (lowest to highest precedence: default < config file < environment < flag):\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const ig_option_t *o = &g_options[i];
        flag_name(o, flag, sizeof flag);
        env_name(o, env, sizeof env);
        fmt_default(o, def, sizeof def, false);
        fmt_range(o, range, sizeof range);
        if (o->flags & IG_OPTF_NO_FLAG)
            fprintf(f, "  %s (no flag: set %s or %s in the config file)\n", o->name, env, o->name);
        else
            fprintf(f, "  %s %s\n", flag, type_metavar(o->type));
        fprintf(f, "      %s\n      env %s, default %s%s%s\n", o->help, env, def, range[0] ? ", range " : "",
                range);
    }
    fprintf(f, "Config file: one `name = value` per line (names as above with underscores), `#` comments,\n"
               "values may be double-quoted. Durations take ms, s, m; byte sizes take k, m, g.\n");
}

/* A Markdown table cell: '|' escaped, backquoted spans kept. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

void ig_config_print_docs(FILE *f)
{
    char flag[80], env[80], def[128], range[64];
    fputs(
        "# Configuration\n"
        "\n"
        "<!-- Generated by `ingate docs-config` (`make docs`) from the options table in "
        "src/config/options.c. Do not edit. -->\n"
        "\n"
        "Every option can be set in four places. From lowest to highest precedence:\n"
        "\n"
        "1. the built-in default;\n"
        "2. the config file named by `--config FILE` or `INGATE_CONFIG`;\n"
        "3. the environment variable `INGATE_<NAME>` (the option name upper-cased, e.g. "
        "`INGATE_DATA_DIR`);\n"
        "4. the command-line flag `--name value` or `--name=value`, with dashes for underscores "
        "(`--data-dir`).\n"
        "\n"
        "An environment variable that is set but empty sets the option to the empty value. Unknown flags, "
        "unknown names in the config file and invalid values are errors: the gateway does not start, and "
        "the message names the file and line, the variable or the flag.\n"
        "\n"
        "**Secrets.** `master_key` is never printed: not in error messages, `--help` or configuration "
        "dumps. It is not accepted as a command-line flag, because other users of the machine can read "
        "a process's arguments (`ps`); set it in the environment or in the config file (and keep that file "
        "mode 0600).\n"
        "\n"
        "## Config file format\n"
        "\n"
        "One `name = value` per line. Blank lines and lines starting with `#` are ignored; in an unquoted "
        "value, a `#` after whitespace starts a comment. Values may be double-quoted (inside quotes, `\\\"` "
        "and `\\\\` are escapes, and `#` is literal). Each option may appear once.\n"
        "\n"
        "```\n"
        "# /etc/ingate/ingate.conf\n"
        "data_dir = /var/lib/ingate\n"
        "listen = 0.0.0.0:8443, [::]:8443\n"
        "threads = 4\n"
        "max_body_bytes = 64m\n"
        "idle_timeout_ms = 2m\n"
        "providers = \"name=vllm,base_url=http://10.0.0.7:8000\"\n"
        "```\n"
        "\n"
        "Booleans accept `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`. Byte sizes are integers with an "
        "optional unit `k`, `m` or `g` (KiB, MiB, GiB). Durations are integers in milliseconds with an "
        "optional unit `ms`, `s` or `m` (minutes).\n"
        "\n"
        "## Options\n"
        "\n"
        "| option | flag | env | type | default | range | description |\n"
        "|---|---|---|---|---|---|---|\n",
        f);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const ig_option_t *o = &g_options[i];
        flag_name(o, flag, sizeof flag);
        env_name(o, env, sizeof env);
        fmt_default(o, def, sizeof def, true);
        fmt_range(o, range, sizeof range);
        fprintf(f, "| `%s` | ", o->name);
        if (o->flags & IG_OPTF_NO_FLAG)
            fputs("(none)", f);
        else
            fprintf(f, "`%s`", flag);
        fprintf(f, " | `%s` | %s | ", env, type_doc(o->type));
        md_cell(f, def);
        fputs(" | ", f);
        md_cell(f, range);
        fputs(" | ", f);
        md_cell(f, o->help);
        if (o->flags & IG_OPTF_NO_FILE) fputs(" (not in the config file)", f);
        fputs(" |\n", f);
    }
    fprintf(
        f,
        "\n"
        "## Providers\n"
        "\n"
        "The built-in providers are `openai`, `anthropic` and `ollama`. The `providers` option adds custom "
        "providers and overrides built-in ones. Entries are separated by `;`; each entry is a "
        "comma-separated list of `key=value` pairs (spaces around them are ignored):\n"
        "\n"
        "| key | meaning |\n"
        "|---|---|\n"
        "| `name` | required; 1 to %d of `a-z`, `0-9`, `_`, `-`; unique |\n"
        "| `base_url` | `http://` or `https://` URL, optionally with a path prefix; no credentials, query "
        "or fragment; a trailing `/` is removed. Required for a new provider |\n"
        "| `auth_header` | header that carries the provider key, e.g. `api-key` or `Authorization`; "
        "absent or empty = no key is sent. Framing headers (`Host`, `Content-Length`, …) and `X-Ingate-*` "
        "are refused |\n"
        "| `auth_format` | value of that header, containing `{key}` exactly once; default `{key}`, e.g. "
        "`Bearer {key}` |\n"
        "| `connect_timeout_ms` | overrides `upstream_connect_timeout_ms` (same range and units) |\n"
        "| `first_byte_timeout_ms` | overrides `upstream_first_byte_timeout_ms` |\n"
        "| `chunk_timeout_ms` | overrides `upstream_chunk_timeout_ms` |\n"
        "\n"
        "An entry named `openai`, `anthropic` or `ollama` overrides that built-in provider's `base_url` "
        "and timeouts; its authentication style cannot be changed (`auth_header` and `auth_format` are "
        "errors there). At most %d entries. Errors name the entry (`entry 2 (azure): ...`).\n"
        "\n"
        "Azure OpenAI (the key goes in an `api-key` header) and a vLLM server (OpenAI-compatible, bearer "
        "token), plus a longer first-byte timeout for OpenAI, in the config file:\n"
        "\n"
        "```\n"
        "providers = \"name=azure, base_url=https://my-resource.openai.azure.com/openai, "
        "auth_header=api-key; name=vllm, base_url=http://10.0.0.7:8000, auth_header=Authorization, "
        "auth_format=Bearer {key}, first_byte_timeout_ms=10m; name=openai, first_byte_timeout_ms=600000\"\n"
        "```\n"
        "\n"
        "or in the environment:\n"
        "\n"
        "```\n"
        "INGATE_PROVIDERS='name=vllm,base_url=http://10.0.0.7:8000,auth_header=Authorization,"
        "auth_format=Bearer {key}'\n"
        "```\n",
        PROVIDER_NAME_MAX, IG_MAX_CUSTOM_PROVIDERS);
}

/* Writes a string in config-file syntax: always quoted, '"' and '\' escaped. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void ig_config_dump(const ig_config_t *cfg, FILE *f)
{
    char num[64];
    for (size_t i = 0; i < NOPTIONS; i++) {
        const ig_option_t *o = &g_options[i];
        const char *base = (const char *)cfg + o->offset;
        const char *prefix = (o->flags & IG_OPTF_NO_FILE) ? "# " : "";
        if (is_secret(o)) {
            const char *s = *(char *const *)(const void *)base;
            fprintf(f, "# %s = (secret, %s)\n", o->name, s && s[0] ? "set" : "not set");
            continue;
        }
        fprintf(f, "%s%s = ", prefix, o->name);
        if (is_string_type(o->type)) {
            const char *s = *(char *const *)(const void *)base;
            put_quoted(f, s ? s : "");
        } else if (o->type == IG_OPT_BOOL) {
            fputs(*(const bool *)(const void *)base ? "true" : "false", f);
        } else {
            long long v = o->type == IG_OPT_BYTES ? (long long)*(const size_t *)(const void *)base
                                                  : (long long)*(const int *)(const void *)base;
            fmt_num(o, v, num, sizeof num);
            fputs(num, f);
        }
        fputc('\n', f);
    }
}
