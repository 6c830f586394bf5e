/*
 * options.h — the gateway's configuration: one table of options drives parsing, validation, --help and
 * docs/configuration.md (like nginx's ngx_command_t or redis's config table).
 *
 * Every option is settable, lowest to highest precedence, by: its built-in default < the config file
 * (`--config FILE` / INGATE_CONFIG; `name = value` lines) < the environment variable INGATE_<NAME> < the
 * command-line flag `--name value` / `--name=value` (underscores become dashes: `--data-dir`). Secret
 * options (master_key) are never printed anywhere and are not accepted as flags (argv is visible in ps).
 *
 * The loaded ig_config_t is meant to be an immutable snapshot: build it once at startup, then share it
 * read-only between threads.
 */
#ifndef IG_CONFIG_OPTIONS_H
#define IG_CONFIG_OPTIONS_H

#include <stdio.h>

#include "core/common.h"
#include "core/limits.h"

/* Storage type of each option type: STRING, PATH, SECRET -> char *; INT, DURATION_MS -> int;
 * BOOL -> bool; BYTES -> size_t. */
typedef enum {
    IG_OPT_STRING = 0,
    IG_OPT_INT,
    IG_OPT_BOOL,        /* true/false, 1/0, yes/no, on/off */
    IG_OPT_PATH,        /* a file system path */
    IG_OPT_SECRET,      /* never printed, never accepted as a flag */
    IG_OPT_DURATION_MS, /* milliseconds; suffixes ms, s, m accepted */
    IG_OPT_BYTES,       /* bytes; suffixes k, m, g (KiB, MiB, GiB) accepted */
} ig_opt_type_t;

/* One entry of `providers` (a custom provider, or an override of a built-in one). All strings are
 * malloc'd, owned by the config and never NULL. */
typedef struct {
    char *name;        /* [a-z0-9_-]{1,32}, unique */
    char *base_url;    /* http(s)://host[:port][/path], no trailing '/'; "" = keep the built-in's URL */
    char *auth_header; /* header carrying the provider key, e.g. "api-key"; "" = send no key */
    char *auth_format; /* value template with exactly one "{key}", e.g. "Bearer {key}"; default "{key}" */
    int connect_timeout_ms;    /* -1 = not set: use upstream_connect_timeout_ms */
    int first_byte_timeout_ms; /* -1 = not set: use upstream_first_byte_timeout_ms */
    int chunk_timeout_ms;      /* -1 = not set: use upstream_chunk_timeout_ms */
    bool builtin; /* name is openai/anthropic/ollama: overrides base_url and timeouts only; the built-in
                     auth style is kept and auth_header/auth_format are unused */
} ig_provider_conf_t;

/* Field names are the option names (see the table in options.c for defaults, bounds and help).
 * Strings are malloc'd, owned by the config and never NULL after ig_config_init(). */
typedef struct {
    char *config;
    char *data_dir;
    char *listen;
    char *plain_listen;
    int threads;
    int workers;
    char *tls_cert;
    char *tls_key;
    char *master_key; /* secret: wiped by ig_config_free() */
    size_t max_body_bytes;
    int max_connections;
    int header_timeout_ms;
    int idle_timeout_ms;
    int drain_timeout_ms;
    size_t capture_max_bytes;
    int capture_queue;
    char *log_level; /* "debug", "info", "warn" or "error" */
    char *openai_base_url;
    char *anthropic_base_url;
    char *ollama_base_url;
    char *providers_spec; /* option `providers` as given; parsed into providers[] */
    ig_provider_conf_t providers[IG_MAX_CUSTOM_PROVIDERS];
    size_t nproviders;
    int upstream_connect_timeout_ms;
    int upstream_first_byte_timeout_ms;
    int upstream_chunk_timeout_ms;
    char *upstream_ca_file;
    bool upstream_tls_verify;
    char *trusted_proxies;
    int bcrypt_cost;
    int session_ttl_ms;
    int key_rotation_overlap_ms;
    int invite_ttl_ms;
    int auth_rate_limit;
    int auth_rate_window_ms;
    char *metrics_token; /* secret */
    int retention_interval_ms;
    char *pricing_file;
    bool redact_all_orgs;
    char *outbound_allowlist; /* operator allowlist of webhook targets (net/outbound.h syntax) */
    int webhook_retry_base_ms;
    int logs_expiring_grace_ms; /* how long a failed logs.expiring delivery still holds its records back */
} ig_config_t;

/* One row of the options table (read-only; exposed for tests and tooling). */
typedef struct {
    const char *name; /* option name = file key; flag and env var names derive from it */
    ig_opt_type_t type;
    unsigned flags;     /* IG_OPTF_* */
    const char *def;    /* default of string types */
    long long def_num;  /* default of numeric and bool types */
    long long min, max; /* bounds of numeric types (inclusive) */
    size_t offset;      /* of the field in ig_config_t */
    /* Extra validation of string types, run on each new value before it is stored (NULL = none). It may
     * normalize `value` in place and may store derived data in `cfg` (providers). Returns 0, or
     * IG_EINVAL after writing a message (without the option name) into msg. */
    int (*check)(ig_config_t *cfg, char *value, char *msg, size_t msglen);
    const char *help;
} ig_option_t;

#define IG_OPTF_SECRET  0x1u /* never printed: not in errors, help, docs or dumps */
#define IG_OPTF_NO_FLAG 0x2u /* not accepted as a command-line flag */
#define IG_OPTF_NO_FILE 0x4u /* not accepted in the config file */

/* The options table, in documentation order; *n receives its length. */
const ig_option_t *ig_config_options(size_t *n);

/* Sets every option to its default. Returns 0 or IG_ENOMEM (then cfg holds nothing to free; calling
 * ig_config_free() on it is still safe). */
int ig_config_init(ig_config_t *cfg);

/* Applies the config file, then the environment `envp` (NULL-terminated "NAME=value" strings; NULL = none),
 * then the flags argv[0..argc-1] (the arguments after the subcommand) on top of cfg, which must have been
 * set up by ig_config_init(). The config file is the one named by the last --config flag, else
 * INGATE_CONFIG, else cfg->config; none when empty. Unknown INGATE_* variables are ignored; unknown flags,
 * unknown file keys and bad values are errors.
 * Returns 0; IG_EINVAL after writing one human-readable line (no trailing newline, never containing a
 * secret value) into err; or IG_ENOMEM. On error cfg may be partly updated: free it. */
int ig_config_load(ig_config_t *cfg, int argc, char **argv, char **envp, char *err, size_t errlen);

/* Frees every string (wiping secrets first) and resets cfg to zeros. Safe to call twice. */
void ig_config_free(ig_config_t *cfg);

/* `ingate --help` option list: flag, env var, default (secrets shown as "(secret)"), help text. */
void ig_config_print_help(FILE *f);

/* Markdown for docs/configuration.md (deterministic): precedence and file format, the options table
 * (option | flag | env | type | default | range | description), then the `providers` syntax. */
void ig_config_print_docs(FILE *f);

/* Effective configuration as config-file lines, secrets replaced by "(secret)"; for `ingate config`. */
void ig_config_dump(const ig_config_t *cfg, FILE *f);

/* The `providers` entry named `name`, or NULL if there is none. The pointer lives as long as cfg. */
const ig_provider_conf_t *ig_config_provider(const ig_config_t *cfg, const char *name);

#endif
