/*
 * admin.c — operator CLI: create-org, create-key, set-provider-key, set-default-provider, set-plan,
 * revoke-key, list-keys, verify-audit. Output is JSON on stdout (one object), errors are one line on stderr,
 * exit codes 0/1/2.
 *
 * Secrets: a provider key is read from standard input only (never argv, which `ps` shows), sealed with
 * AES-256-GCM under the provider-key data key and stored; the plaintext is wiped right after. A new API key
 * is printed once and only its SHA-256 is stored.
 */
#include "admin/admin.h"
#include "app/keys.h"
#include "app/serve.h"
#include "capture/auditlog.h"
#include "capture/retention.h"
#include "admin/control.h"
#include "app/datadir.h"
#include "app/gateway.h"
#include "auth/apikey.h"
#include "config/options.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "limit/limiter.h"
#include "store/store.h"
#include "webhook/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

typedef struct admin_args {
    const char *org, *slug, *name, *role, *provider, *mode, *key, *expires_days, *plan, *now, *rpm, *tpm;
} admin_args_t;

static const struct {
    const char *flag;
    size_t off;
} ADMIN_FLAGS[] = {
    {"--org", offsetof(admin_args_t, org)},
    {"--slug", offsetof(admin_args_t, slug)},
    {"--name", offsetof(admin_args_t, name)},
    {"--role", offsetof(admin_args_t, role)},
    {"--provider", offsetof(admin_args_t, provider)},
    {"--mode", offsetof(admin_args_t, mode)},
    {"--key", offsetof(admin_args_t, key)},
    {"--expires-days", offsetof(admin_args_t, expires_days)},
    {"--plan", offsetof(admin_args_t, plan)},
    {"--now", offsetof(admin_args_t, now)},
    {"--rpm", offsetof(admin_args_t, rpm)},
    {"--tpm", offsetof(admin_args_t, tpm)},
};

void ig_admin_usage(void)
{
    fputs("usage: ingate admin COMMAND [options] [--data-dir DIR ...]\n"
          "  create-org --slug SLUG [--name NAME]\n"
          "  create-key --org ORG [--role viewer|member|admin|owner] [--name NAME] [--expires-days N]\n"
          "             [--rpm N] [--tpm N]   the key's own limits per minute (default: the org's)\n"
          "  set-provider-key --org ORG --provider NAME [--mode stored|passthrough]   (key read from stdin)\n"
          "  set-default-provider --org ORG --provider NAME\n"
          "  set-plan --org ORG --plan free|enterprise   (the plan gates the Enterprise features)\n"
          "  revoke-key --key ID|HASH_PREFIX [--org ORG]\n"
          "  list-keys --org ORG\n"
          "  verify-audit                 checks the audit hash chains: the control database's and every\n"
          "                               org's own (exit 1 naming the first broken link: chain, org, seq)\n"
          "  rotate-master-key            new master key; every data key re-wrapped in one transaction (no "
          "data\n"
          "                               re-encrypted); the running gateway reloads it\n"
          "  purge-logs [--now UNIX_MS]   deletes log records past each org's retention, as the server does\n"
          "                               hourly; --now moves the clock (e.g. to preview a later pass);\n"
          "                               records due to a logs.expiring webhook are queued to it and kept\n"
          "                               until delivered (the running gateway sends them)\n"
          "ORG is an org slug or id. Every serve option (e.g. --data-dir) is accepted too.\n",
          stderr);
}

static int parse_role(const char *s)
{
    static const char *roles[] = {"viewer", "member", "admin", "owner"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, roles[i]) == 0) return i;
    return -1;
}

static const char *role_name(int r)
{
    static const char *roles[] = {"viewer", "member", "admin", "owner"};
    return r >= 0 && r < 4 ? roles[r] : "unknown";
}

/* orgs.plan names, indexed by IG_STORE_PLAN_*. */
static const char *const PLAN_NAMES[] = {"free", "enterprise"};

static int parse_plan(const char *s)
{
    for (int i = 0; i < (int)IG_ARRAY_LEN(PLAN_NAMES); i++)
        if (strcmp(s, PLAN_NAMES[i]) == 0) return i;
    return -1;
}

/* Operator changes are audited like API ones, with actor "operator" (the CLI runs as whoever can read the
 * data directory), in the org's own chain (capture/auditlog.h). A failed append is reported but does not
 * undo the change. */
static void op_audit(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const char *action,
                     const char *target)
{
    int rc = ig_auditlog_append(st, oc, org_id, "operator", action, target, NULL, NULL, NULL);
    if (rc)
        fprintf(stderr, "ingate admin: warning: audit entry %s not written: %s\n", action,
                ig_err_message(rc));
}

/* The largest per-minute limit of a key, as the key API takes it (api_keys.c): what the limiter holds over a
 * minute. */

/* A per-minute limit flag: absent = 0 (the org's default), else 1..IG_LIMITER_MAX_PER_MINUTE. */
static int parse_limit(const char *flag, const char *s, int64_t *out)
{
    *out = 0;
    if (!s) return IG_OK;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || end == s || *end || v < 1 || v > IG_LIMITER_MAX_PER_MINUTE) {
        fprintf(stderr, "ingate admin: %s must be 1..%lld\n", flag, (long long)IG_LIMITER_MAX_PER_MINUTE);
        return IG_EINVAL;
    }
    *out = v;
    return IG_OK;
}

/* A key's limit in JSON: the number, or null for the org's default. */
static void print_limit(int64_t v)
{
    if (v)
        printf("%lld", (long long)v);
    else
        printf("null");
}

static int find_org(ig_store_t *st, const char *ref, ig_org_t *org)
{
    int rc = ig_store_org_get_by_slug(st, ref, org);
    if (rc == IG_ENOTFOUND || rc == IG_EINVAL) rc = ig_store_org_get(st, ref, org);
    if (rc) fprintf(stderr, "ingate admin: org '%s' not found\n", ref);
    return rc;
}

static void notify(const ig_datadir_t *dd, const char *line)
{
    int rc = ig_control_send(dd->control_sock, line);
    if (rc != IG_OK && rc != IG_EUNAVAILABLE)
        fprintf(stderr, "ingate admin: warning: the running gateway did not confirm the change\n");
}

/* Reads a secret from stdin (up to 8 KiB), trimming the final newline. */
static int read_secret(char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0) return IG_EIO;
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n == cap) return IG_ETOOBIG;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    *len = n;
    return n ? IG_OK : IG_EINVAL;
}

static void print_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* ingate admin rotate-master-key: a new master key; every data key re-wrapped under it in one transaction;
 * the running gateway told to reload; then a second pass for keys a gateway wrapped under the old key
 * meanwhile. The order makes an interruption recoverable: the new key is on disk (master.key.new) before the
 * commit, and a gateway or CLI that finds it after a commit finishes the rename (ig_serve_keys_open). */
static int rotate_master(const ig_config_t *cfg, ig_datadir_t *dd, ig_store_t *st)
{
    if (cfg->master_key && cfg->master_key[0]) {
        fprintf(stderr,
                "ingate admin: the master key comes from the configuration (INGATE_MASTER_KEY or the config "
                "file): rotate it in your secret store, not here\n");
        return 2;
    }
    char cur[4200], next[4200], err[512];
    uint8_t nk[32];
    size_t n1 = 0, n2 = 0;
    int rc;
    snprintf(cur, sizeof cur, "%s/master.key", dd->dir);
    snprintf(next, sizeof next, "%s/master.key.new", dd->dir);
    unlink(next);
    if ((rc = ig_random(nk, sizeof nk)) || (rc = ig_datadir_write_master(next, nk, err, sizeof err))) {
        fprintf(stderr, "ingate admin: %s\n", rc == IG_ECRYPTO ? "random generator failed" : err);
        ig_wipe(nk, sizeof nk);
        return 1;
    }
    rc = ig_keys_rewrap(st, dd->master, nk, &n1);
    if (rc) {
        unlink(next);
        ig_wipe(nk, sizeof nk);
        fprintf(stderr, "ingate admin: nothing changed: the data keys could not be re-wrapped (%s)\n",
                ig_err_message(rc));
        return 1;
    }
    if (rename(next, cur) != 0) {
        fprintf(
            stderr,
            "ingate admin: re-wrapped, but %s could not replace %s (%s); the gateway finishes this at its "
            "next start\n",
            next, cur, strerror(errno));
        ig_wipe(nk, sizeof nk);
        return 1;
    }
    int dfd = open(dd->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    int nrc = ig_control_send(dd->control_sock, "reload-master\n");
    if (nrc != IG_OK && nrc != IG_EUNAVAILABLE)
        fprintf(stderr,
                "ingate admin: warning: the running gateway did not confirm the reload: restart it\n");
    /* keys a running gateway created under the old key between the commit and its reload */
    rc = ig_keys_rewrap(st, dd->master, nk, &n2);
    memcpy(dd->master, nk, 32);
    ig_wipe(nk, sizeof nk);
    if (rc) {
        fprintf(stderr, "ingate admin: warning: second pass failed (%s): run rotate-master-key again\n",
                ig_err_message(rc));
        return 1;
    }
    uint8_t kek[32];
    uint32_t id = 0;
    ig_kek_of(dd->master, kek, &id);
    ig_wipe(kek, sizeof kek);
    printf("{\"rewrapped\":%zu,\"kek_id\":\"%08x\"}\n", n1 + n2, (unsigned)id);
    fprintf(stderr,
            "ingate admin: master key rotated; back up %s now (the old key no longer opens anything)\n", cur);
    return 0;
}

int ig_admin_main(int argc, char **argv, char **envp)
{
    int code = 2;
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
        ig_admin_usage();
        return argc < 1 ? 2 : 0;
    }
    const char *cmd = argv[0];
    admin_args_t a = {0};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest) return 1;
    for (int i = 1; i < argc; i++) {
        bool matched = false;
        for (size_t f = 0; f < IG_ARRAY_LEN(ADMIN_FLAGS); f++) {
            size_t fl = strlen(ADMIN_FLAGS[f].flag);
            const char **slot = (const char **)((char *)&a + ADMIN_FLAGS[f].off);
            if (strcmp(argv[i], ADMIN_FLAGS[f].flag) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "ingate admin: %s needs a value\n", argv[i]);
                    free(rest);
                    return 2;
                }
                *slot = argv[++i];
                matched = true;
            } else if (strncmp(argv[i], ADMIN_FLAGS[f].flag, fl) == 0 && argv[i][fl] == '=') {
                *slot = argv[i] + fl + 1;
                matched = true;
            }
            if (matched) break;
        }
        if (!matched) rest[nrest++] = argv[i];
    }
    ig_config_t cfg;
    ig_datadir_t dd;
    memset(&dd, 0, sizeof dd);
    ig_store_t *st = NULL;
    ig_orgcache_t *oc = NULL;
    char logs_dir[4200];
    ig_keys_t keys;
    memset(&keys, 0, sizeof keys);
    char err[1024];
    ig_config_init(&cfg);
    if (ig_config_load(&cfg, nrest, rest, envp, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate admin: %s\n", err);
        goto out;
    }
    if (ig_datadir_open(&dd, &cfg, false, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate admin: %s\n", err);
        code = 1;
        goto out;
    }
    int serr = 0;
    st = ig_store_open(dd.store_url, &serr);
    if (!st || ig_store_migrate(st) != IG_OK) {
        fprintf(stderr, "ingate admin: cannot open the store in %s\n", dd.dir);
        code = 1;
        goto out;
    }
    if (ig_serve_keys_open(st, &dd, &keys, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate admin: %s\n", err);
        code = 1;
        goto out;
    }
    if (ig_store_set_identity_key(keys.identity) != IG_OK || ig_store_identity_backfill(st) != IG_OK) {
        fprintf(stderr, "ingate admin: cannot read the store in %s\n", dd.dir);
        code = 1;
        goto out;
    }
    /* each org's data key and database, for its audit chain */
    snprintf(logs_dir, sizeof logs_dir, "%s/orgs", dd.dir);
    ig_orgctx_conf_t occ = {logs_dir, keys.kek, keys.kek_id, cfg.redact_all_orgs};
    if (!(oc = ig_orgcache_new(&occ, 16))) {
        code = 1;
        goto out;
    }
    code = 1;
    ig_org_t org;
    if (strcmp(cmd, "create-org") == 0) {
        if (!a.slug) {
            fprintf(stderr, "ingate admin: create-org needs --slug\n");
            code = 2;
            goto out;
        }
        int rc = ig_store_org_create(st, a.slug, a.name ? a.name : a.slug, &org);
        if (rc == IG_ECONFLICT) {
            fprintf(stderr, "ingate admin: an org with slug '%s' already exists\n", a.slug);
            goto out;
        }
        if (rc) {
            fprintf(stderr, "ingate admin: cannot create org: %s\n",
                    rc == IG_EINVAL ? "slug must be 2-64 of a-z, 0-9 and -" : ig_err_message(rc));
            goto out;
        }
        op_audit(st, oc, org.id, "org.create", org.id);
        printf("{\"id\":\"%s\",\"slug\":", org.id);
        print_json_str(org.slug);
        printf(",\"name\":");
        print_json_str(org.name);
        printf("}\n");
        code = 0;
    } else if (strcmp(cmd, "create-key") == 0) {
        if (!a.org) {
            fprintf(stderr, "ingate admin: create-key needs --org\n");
            code = 2;
            goto out;
        }
        int role = a.role ? parse_role(a.role) : IG_STORE_ROLE_MEMBER;
        if (role < 0) {
            fprintf(stderr, "ingate admin: --role must be viewer, member, admin or owner\n");
            code = 2;
            goto out;
        }
        int64_t expires = 0;
        if (a.expires_days) {
            char *end = NULL;
            long d = strtol(a.expires_days, &end, 10);
            if (!end || *end || d < 1 || d > 3650) {
                fprintf(stderr, "ingate admin: --expires-days must be 1..3650\n");
                code = 2;
                goto out;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            expires = ((int64_t)ts.tv_sec + d * 86400) * 1000;
        }
        int64_t rpm = 0, tpm = 0;
        if (parse_limit("--rpm", a.rpm, &rpm) || parse_limit("--tpm", a.tpm, &tpm)) {
            code = 2;
            goto out;
        }
        if (find_org(st, a.org, &org)) goto out;
        char key[IG_APIKEY_LEN + 1];
        uint8_t hash[32];
        char prefix[13];
        ig_keyrec_t kr;
        if (ig_apikey_generate(key) != IG_OK) goto out;
        ig_apikey_hash(ig_iov(key, IG_APIKEY_LEN), hash);
        ig_apikey_hash_prefix(hash, prefix);
        int rc = ig_store_key_create_limited(st, org.id, hash, prefix, a.name, role, expires, NULL, NULL, rpm,
                                             tpm, &kr);
        if (rc) {
            ig_wipe(key, sizeof key);
            fprintf(stderr, "ingate admin: cannot create key: %s\n", ig_err_message(rc));
            goto out;
        }
        char hex[65];
        ig_hex_encode(hash, 32, hex);
        char line[100];
        snprintf(line, sizeof line, "invalidate-key %s\n", hex);
        notify(&dd, line); /* drops a remembered "unknown" answer for this hash */
        op_audit(st, oc, org.id, "key.create", kr.id);
        printf("{\"id\":\"%s\",\"org\":\"%s\",\"role\":\"%s\",\"hash_prefix\":\"%s\",\"key\":\"%s\","
               "\"rate_limits\":{\"requests_per_minute\":",
               kr.id, org.id, role_name(role), prefix, key);
        print_limit(kr.rpm_limit);
        printf(",\"tokens_per_minute\":");
        print_limit(kr.tpm_limit);
        printf("}}\n");
        fflush(stdout);
        ig_wipe(key, sizeof key);
        code = 0;
    } else if (strcmp(cmd, "set-provider-key") == 0 || strcmp(cmd, "set-default-provider") == 0) {
        bool def = strcmp(cmd, "set-default-provider") == 0;
        if (!a.org || !a.provider) {
            fprintf(stderr, "ingate admin: %s needs --org and --provider\n", cmd);
            code = 2;
            goto out;
        }
        ig_providers_t ps;
        if (ig_providers_build(&ps, &cfg, err, sizeof err) != IG_OK) {
            fprintf(stderr, "ingate admin: %s\n", err);
            goto out;
        }
        const ig_provider_t *p = ig_providers_find(&ps, ig_iov_str(a.provider));
        if (!p) {
            fprintf(stderr,
                    "ingate admin: unknown provider '%s' (configure custom providers with `providers`)\n",
                    a.provider);
            code = 2;
            goto out;
        }
        if (find_org(st, a.org, &org)) goto out;
        char line[128];
        snprintf(line, sizeof line, "invalidate-org %s\n", org.id);
        if (def) {
            if (ig_store_org_set_default_provider(st, org.id, p->name) != IG_OK) goto out;
            notify(&dd, line);
            op_audit(st, oc, org.id, "org.settings_update", org.id);
            printf("{\"org\":\"%s\",\"default_provider\":\"%s\"}\n", org.id, p->name);
            code = 0;
            goto out;
        }
        int mode = IG_STORE_AUTH_STORED;
        if (a.mode && strcmp(a.mode, "passthrough") == 0)
            mode = IG_STORE_AUTH_PASSTHROUGH;
        else if (a.mode && strcmp(a.mode, "stored") != 0) {
            fprintf(stderr, "ingate admin: --mode must be stored or passthrough\n");
            code = 2;
            goto out;
        }
        int rc;
        if (mode == IG_STORE_AUTH_PASSTHROUGH) {
            rc = ig_store_provider_set(st, org.id, p->name, mode, NULL, 0);
        } else {
            if (isatty(STDIN_FILENO))
                fprintf(stderr, "Provider key for %s (input hidden is not enforced; pipe it): ", p->name);
            char secret[8192];
            size_t slen = 0;
            rc = read_secret(secret, sizeof secret, &slen);
            if (rc) {
                ig_wipe(secret, sizeof secret);
                fprintf(stderr, "ingate admin: provide the provider key on standard input\n");
                code = 2;
                goto out;
            }
            const uint8_t *dek = keys.provider;
            char aad[160];
            ig_buf_t blob;
            ig_buf_init(&blob, IG_STORE_MAX_SECRET);
            int alen = ig_provider_key_aad(org.id, p->name, aad, sizeof aad);
            rc = IG_OK;
            if (rc == IG_OK && alen > 0)
                rc = ig_seal(dek, 0, ig_iov(aad, (size_t)alen), ig_iov(secret, slen), &blob);
            ig_wipe(secret, sizeof secret);
            if (rc == IG_OK)
                rc = ig_store_provider_set(st, org.id, p->name, mode, (const uint8_t *)blob.data, blob.len);
            ig_buf_free(&blob, false);
        }
        if (rc) {
            fprintf(stderr, "ingate admin: cannot store the provider key: %s\n", ig_err_message(rc));
            goto out;
        }
        notify(&dd, line);
        char target[80];
        snprintf(target, sizeof target, "provider:%s", p->name);
        op_audit(st, oc, org.id, "provider.update", target);
        printf("{\"org\":\"%s\",\"provider\":\"%s\",\"auth_mode\":\"%s\"}\n", org.id, p->name,
               mode == IG_STORE_AUTH_STORED ? "stored" : "passthrough");
        code = 0;
    } else if (strcmp(cmd, "set-plan") == 0) {
        int plan = a.plan ? parse_plan(a.plan) : -1;
        if (!a.org || plan < 0) {
            fprintf(stderr, "ingate admin: set-plan needs --org and --plan free|enterprise\n");
            code = 2;
            goto out;
        }
        if (find_org(st, a.org, &org)) goto out;
        int rc = ig_store_org_set_plan(st, org.id, plan);
        if (rc) {
            fprintf(stderr, "ingate admin: cannot set the plan: %s\n", ig_err_message(rc));
            goto out;
        }
        char line[128];
        snprintf(line, sizeof line, "invalidate-org %s\n", org.id);
        notify(&dd, line); /* the running gateway re-reads the org (and its plan) on the next request */
        op_audit(st, oc, org.id, "org.billing_update", PLAN_NAMES[plan]);
        printf("{\"org\":\"%s\",\"plan\":\"%s\"}\n", org.id, PLAN_NAMES[plan]);
        code = 0;
    } else if (strcmp(cmd, "revoke-key") == 0) {
        if (!a.key) {
            fprintf(stderr, "ingate admin: revoke-key needs --key ID|HASH_PREFIX\n");
            code = 2;
            goto out;
        }
        const char *org_id = NULL;
        if (a.org) {
            if (find_org(st, a.org, &org)) goto out;
            org_id = org.id;
        }
        ig_keyrec_t kr;
        int rc = ig_store_key_revoke(st, org_id, a.key, &kr);
        if (rc == IG_ENOTFOUND) {
            fprintf(stderr, "ingate admin: no such key\n");
            goto out;
        }
        if (rc == IG_ECONFLICT) {
            fprintf(stderr, "ingate admin: several keys match that prefix: use the key id\n");
            goto out;
        }
        if (rc) {
            fprintf(stderr, "ingate admin: cannot revoke: %s\n", ig_err_message(rc));
            goto out;
        }
        char hex[65], line[100];
        ig_hex_encode(kr.key_hash, 32, hex);
        snprintf(line, sizeof line, "invalidate-key %s\n", hex);
        notify(&dd, line);
        op_audit(st, oc, kr.org_id, "key.revoke", kr.id);
        printf("{\"id\":\"%s\",\"hash_prefix\":\"%s\",\"revoked\":true}\n", kr.id, kr.hash_prefix);
        code = 0;
    } else if (strcmp(cmd, "rotate-master-key") == 0) {
        code = rotate_master(&cfg, &dd, st);
    } else if (strcmp(cmd, "purge-logs") == 0) {
        int64_t now = 0;
        if (a.now) {
            char *end = NULL;
            long long v = strtoll(a.now, &end, 10);
            if (!end || *end || v <= 0) {
                fprintf(stderr, "ingate admin: --now must be a Unix time in milliseconds\n");
                code = 2;
                goto out;
            }
            now = v;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }

        /* logs.expiring batches are sealed like every webhook payload; the running gateway delivers them */
        ig_webhook_conf_t wc = {.store_url = dd.store_url,
                                .key = keys.webhook,
                                .outbound_allowlist = cfg.outbound_allowlist,
                                .retry_base_ms = cfg.webhook_retry_base_ms};
        const char *why = NULL;
        int rc = ig_webhook_init(&wc, &why);
        if (rc) {
            fprintf(stderr, "ingate admin: outbound_allowlist: %s\n", why ? why : ig_err_message(rc));
            goto out;
        }
        ig_retention_stats_t rs;
        memset(&rs, 0, sizeof rs);
        rc = ig_retention_run(st, oc, now, cfg.logs_expiring_grace_ms, NULL, &rs);
        ig_webhook_shutdown();
        if (rs.queued) notify(&dd, "wake-webhooks\n"); /* a running gateway sends them now */
        if (rc) {
            fprintf(stderr, "ingate admin: purge failed: %s\n", ig_err_message(rc));
            goto out;
        }
        printf("{\"orgs\":%llu,\"purged\":%llu,\"failed_orgs\":%llu,\"batches_queued\":%llu,"
               "\"gated_orgs\":%llu}\n",
               (unsigned long long)rs.orgs, (unsigned long long)rs.purged, (unsigned long long)rs.failed_orgs,
               (unsigned long long)rs.queued, (unsigned long long)rs.gated_orgs);
        code = rs.failed_orgs ? 1 : 0;
    } else if (strcmp(cmd, "list-keys") == 0) {
        if (!a.org) {
            fprintf(stderr, "ingate admin: list-keys needs --org\n");
            code = 2;
            goto out;
        }
        if (find_org(st, a.org, &org)) goto out;
        size_t cap = 10000, n = 0;
        ig_keyrec_t *ks = calloc(cap, sizeof *ks);
        if (!ks) goto out;
        int rc = ig_store_key_list(st, org.id, ks, cap, &n);
        if (rc && rc != IG_ETOOBIG) {
            free(ks);
            goto out;
        }
        printf("[");
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"id\":\"%s\",\"hash_prefix\":\"%s\",\"role\":\"%s\",\"name\":", i ? "," : "",
                   ks[i].id, ks[i].hash_prefix, role_name(ks[i].role));
            print_json_str(ks[i].name);
            printf(",\"created_at\":%lld,\"expires_at\":%lld,\"revoked\":%s,\"rate_limits\":"
                   "{\"requests_per_minute\":",
                   (long long)ks[i].created_at, (long long)ks[i].expires_at,
                   ks[i].revoked_at ? "true" : "false");
            print_limit(ks[i].rpm_limit);
            printf(",\"tokens_per_minute\":");
            print_limit(ks[i].tpm_limit);
            printf("}}");
        }
        printf("]\n");
        free(ks);
        code = 0;
    } else if (strcmp(cmd, "verify-audit") == 0) {
        /* the control chain, the chain of schemas 2-3 until it is upgraded, and every org's own chain: all
         * hashed over the stored (sealed) bytes, so no key is used */
        ig_auditlog_check_t chk;
        int rc = ig_auditlog_verify(st, logs_dir, &chk);
        if (rc == IG_OK) {
            printf("{\"audit_chain\":\"intact\",\"orgs\":%lld,\"org_entries\":%lld}\n", (long long)chk.orgs,
                   (long long)chk.entries);
            code = 0;
        } else if (rc == IG_ECONFLICT) {
            bool of_org = chk.org_id[0] != '\0';
            printf("{\"audit_chain\":\"broken\",\"chain\":\"%s\",\"org\":", chk.chain);
            if (of_org)
                printf("\"%s\"", chk.org_id);
            else
                printf("null");
            printf(",\"first_bad_seq\":%lld}\n", (long long)chk.bad_seq);
            if (of_org)
                fprintf(stderr, "ingate admin: the audit chain of org %s is broken at entry %lld\n",
                        chk.org_id, (long long)chk.bad_seq);
            else
                fprintf(stderr, "ingate admin: the %s audit chain is broken at entry %lld\n",
                        strcmp(chk.chain, "legacy") == 0 ? "pre-upgrade (schema 2-3)" : "control database's",
                        (long long)chk.bad_seq);
        } else {
            fprintf(stderr, "ingate admin: cannot read the audit log: %s\n", ig_err_message(rc));
        }
    } else {
        fprintf(stderr, "ingate admin: unknown command '%s'\n", cmd);
        ig_admin_usage();
        code = 2;
    }
out:
    ig_orgcache_free(oc);
    ig_store_close(st);
    ig_keys_clear(&keys);
    ig_store_set_identity_key(NULL);
    ig_datadir_clear(&dd);
    ig_config_free(&cfg);
    free(rest);
    return code;
}
