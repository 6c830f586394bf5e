/*
 * serve.c — the process lifecycle of `ingate serve`.
 *
 * Start: check the data directory and master key, migrate the store, build the TLS context, start the worker
 * pool (a store handle per worker), the capture writer, one event loop per core (each with its own listening
 * sockets via SO_REUSEPORT and its own libcurl multi handle), and the control socket. Signals are blocked in
 * every thread and taken synchronously by the main thread with sigwait().
 *
 * Stop (SIGTERM/SIGINT): every loop stops accepting and closes idle connections; in-flight requests and
 * streams run to their end, up to drain_timeout_ms, after which the rest are cut. Then the capture queue is
 * flushed to the store and the process exits 0.
 */
#include "app/serve.h"
#include "admin/control.h"
#include "app/datadir.h"
#include "api/api.h"
#include "app/gateway.h"
#include "app/keys.h"
#include "auth/clientip.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "capture/auditlog.h"
#include "capture/capture.h"
#include "capture/expiring.h"
#include "capture/orgctx.h"
#include "capture/pricing.h"
#include "capture/retention.h"
#include "limit/limiter.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/tls.h"
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/listener.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static ig_gateway_t g_gw;
static char g_store_url[4200];
static pthread_mutex_t g_exit_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_exit_cv = PTHREAD_COND_INITIALIZER;
static int g_loops_running;

/* ---- the retention thread: a pass at start-up, then every retention_interval_ms ---- */

static pthread_t g_ret_thread;
static pthread_mutex_t g_ret_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_ret_cv = PTHREAD_COND_INITIALIZER;
static volatile int g_ret_stop;
static bool g_ret_on;

static void *retention_main(void *arg)
{
    IG_UNUSED(arg);
    int err = 0;
    ig_orgctx_conf_t oc = {g_gw.logs_dir, g_gw.org_kek, 0, g_gw.cfg->redact_all_orgs};
    ig_orgcache_t *cache = ig_orgcache_new(&oc, 16);
    for (;;) {
        ig_store_t *st = ig_store_open(g_store_url, &err);
        if (st && cache) {
            ig_retention_stats_t rs;
            int rc =
                ig_retention_run(st, cache, ig_wall_ms(), g_gw.cfg->logs_expiring_grace_ms, &g_ret_stop, &rs);
            if (rc) IG_WARN("retention", "pass failed (%s)", ig_err_name(rc));
            if (rs.purged)
                IG_INFO("retention", "%llu expired log records purged", (unsigned long long)rs.purged);
            if (rs.queued)
                IG_INFO("retention", "%llu logs.expiring batches queued", (unsigned long long)rs.queued);
        }
        ig_store_close(st);
        pthread_mutex_lock(&g_ret_mu);
        if (!g_ret_stop) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            int64_t ms = g_gw.cfg->retention_interval_ms;
            dl.tv_sec += ms / 1000;
            dl.tv_nsec += (ms % 1000) * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_ret_cv, &g_ret_mu, &dl);
        }
        bool stop = g_ret_stop;
        pthread_mutex_unlock(&g_ret_mu);
        if (stop) break;
    }
    ig_orgcache_free(cache);
    return NULL;
}

static void retention_stop(void)
{
    if (!g_ret_on) return;
    pthread_mutex_lock(&g_ret_mu);
    g_ret_stop = 1;
    pthread_cond_signal(&g_ret_cv);
    pthread_mutex_unlock(&g_ret_mu);
    pthread_join(g_ret_thread, NULL);
    g_ret_on = false;
}

/* ---- keys ---- */

static ig_keys_t g_keys;
static char g_master_path[4200];
static bool g_master_from_file;

int ig_serve_keys_open(ig_store_t *st, ig_datadir_t *dd, ig_keys_t *keys, char *err, size_t errlen)
{
    char next[4200];
    int rc = ig_keys_load(st, dd->master, keys);
    snprintf(next, sizeof next, "%s/master.key.new", dd->dir);
    if (rc == IG_ECRYPTO && access(next, F_OK) == 0) {
        /* rotate-master-key committed the re-wrapped keys but did not get to rename the new key file */
        uint8_t m[32];
        char cur[4200];
        snprintf(cur, sizeof cur, "%s/master.key", dd->dir);
        if (ig_datadir_read_master(next, m, err, errlen) == IG_OK && ig_keys_load(st, m, keys) == IG_OK &&
            rename(next, cur) == 0) {
            memcpy(dd->master, m, 32);
            IG_WARN("keys", "finished an interrupted master key rotation: %s is now the master key", cur);
            rc = IG_OK;
        }
        ig_wipe(m, sizeof m);
    } else if (rc == IG_OK && access(next, F_OK) == 0) {
        unlink(next); /* a rotation that failed before its commit: its new key was never used */
    }
    if (rc == IG_ECRYPTO)
        snprintf(err, errlen, "refusing to start: the stored data keys do not unwrap under this master key");
    else if (rc)
        snprintf(err, errlen, "cannot load the data keys (%s)", ig_err_name(rc));
    return rc;
}

/* control socket "reload-master": the master key file changed (ingate admin rotate-master-key). Only the KEK
 * derives from it; every other key derives from the control data key, which a rotation does not change. */
static int reload_master(void)
{
    uint8_t m[32], kek[32];
    uint32_t id = 0;
    char err[256];
    if (!g_master_from_file) return IG_EINVAL;
    int rc = ig_datadir_read_master(g_master_path, m, err, sizeof err);
    if (rc == IG_OK) rc = ig_kek_of(m, kek, &id);
    if (rc == IG_OK) {
        ig_orgctx_set_kek(kek, id);
        IG_INFO("keys", "master key reloaded (KEK id %08x)", (unsigned)id);
    } else {
        IG_ERROR("keys", "master key reload failed: %s", err);
    }
    ig_wipe(m, sizeof m);
    ig_wipe(kek, sizeof kek);
    return rc;
}

static void *worker_init(int index)
{
    ig_worker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->index = index;
    int err = 0;
    w->st = ig_store_open(g_store_url, &err);
    if (!w->st) IG_ERROR("serve", "worker %d cannot open the store (%s)", index, ig_err_name(err));
    ig_orgctx_conf_t oc = {g_gw.logs_dir, g_gw.org_kek, 0, g_gw.cfg->redact_all_orgs};
    w->orgs = ig_orgcache_new(&oc, 64);
    if (!w->orgs) IG_ERROR("serve", "worker %d: out of memory", index);
    /* built once, here and not on the first unknown-email login, so that login is not slower than others */
    if (index == 0) (void)ig_password_dummy_hash();
    return w;
}

static void worker_fini(void *p)
{
    ig_worker_t *w = p;
    if (!w) return;
    ig_orgcache_free(w->orgs);
    ig_store_close(w->st);
    free(w);
}

static void loop_exit(ig_loopctx_t *lc)
{
    event_base_loopexit(lc->loop.base, NULL);
}

static void on_drained(ig_http_server_t *srv)
{
    loop_exit(srv->loop->user);
}

static void do_drain(void *arg)
{
    ig_loopctx_t *lc = arg;
    ig_http_server_drain(&lc->http);
}

static void do_force(void *arg)
{
    ig_loopctx_t *lc = arg;
    ig_http_server_close_all(&lc->http);
    loop_exit(lc);
}

static void *loop_thread(void *arg)
{
    ig_loopctx_t *lc = arg;
    event_base_dispatch(lc->loop.base);
    pthread_mutex_lock(&g_exit_mu);
    g_loops_running--;
    pthread_cond_broadcast(&g_exit_cv);
    pthread_mutex_unlock(&g_exit_mu);
    return NULL;
}

static bool is_loopback(const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) return false;
    size_t n = (size_t)(colon - hostport);
    memcpy(host, hostport, n);
    host[n] = '\0';
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(host, "localhost") == 0;
}

/* Splits a comma-separated address list; calls fn for each. */
static int each_addr(const char *list, int (*fn)(void *, const char *), void *arg)
{
    char buf[1024];
    const char *p = list;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n >= sizeof buf) return IG_EINVAL;
        memcpy(buf, p, n);
        buf[n] = '\0';
        ig_iov_t t = ig_iov_trim(ig_iov(buf, n));
        char one[1024];
        memcpy(one, t.base, t.len);
        one[t.len] = '\0';
        if (t.len) {
            int rc = fn(arg, one);
            if (rc) return rc;
        }
        p = c ? c + 1 : NULL;
    }
    return IG_OK;
}

static int check_loopback(void *arg, const char *a)
{
    if (is_loopback(a)) return IG_OK;
    fprintf(stderr,
            "ingate: refusing to start: plain_listen %s is not a loopback address; plain HTTP is only for a "
            "TLS-terminating sidecar on 127.0.0.1 or [::1]\n",
            a);
    return IG_EINVAL;
}

struct listen_ctx {
    ig_loopctx_t *lc;
    bool tls;
};

static int do_listen(void *arg, const char *a)
{
    struct listen_ctx *x = arg;
    char err[512];
    int rc = ig_http_listen(&x->lc->http, a, x->tls, err, sizeof err);
    if (rc) fprintf(stderr, "ingate: %s\n", err);
    return rc;
}

/* With port 0 (tests) the kernel picks a port per socket; later loops must join the first loop's port. */
static int bound_port(ig_loopctx_t *lc, int i)
{
    evutil_socket_t fd = evconnlistener_get_fd(lc->http.listeners[i]);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static char *fix_ports(const char *list, ig_loopctx_t *first, int base_index)
{
    /* rewrite each host:0 to host:<bound port> using the first loop's listeners */
    size_t cap = strlen(list) + 64 * 8;
    char *out = calloc(1, cap);
    if (!out) return NULL;
    const char *p = list;
    int i = base_index;
    size_t o = 0;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        const char *colon = memrchr(p, ':', n);
        size_t hl = colon ? (size_t)(colon - p) : n;
        int port = bound_port(first, i++);
        int w = snprintf(out + o, cap - o, "%s%.*s:%d", o ? "," : "", (int)hl, p, port);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
        p = c ? c + 1 : NULL;
    }
    return out;
}

/* The audit chain of schemas 2-3 (one for all orgs, addresses in clear): each org's entries go into its own
 * database, the rest into the control chain (capture/auditlog.h). Not fatal: a broken or unreadable chain is
 * left as it is, logged, and tried again at the next start; verify-audit keeps checking it meanwhile. */
static void upgrade_audit(ig_store_t *st, const ig_datadir_t *dd, const ig_config_t *cfg)
{
    char logs_dir[sizeof g_gw.logs_dir];
    snprintf(logs_dir, sizeof logs_dir, "%s/orgs", dd->dir);
    ig_orgctx_conf_t oc = {logs_dir, g_keys.kek, g_keys.kek_id, cfg->redact_all_orgs};
    ig_orgcache_t *cache = ig_orgcache_new(&oc, 16);
    if (cache) ig_auditlog_upgrade(st, cache, NULL, NULL);
    ig_orgcache_free(cache);
}

int ig_serve(ig_config_t *cfg)
{
    int exit_code = 1;
    char err[1024];
    ig_datadir_t dd;
    memset(&dd, 0, sizeof dd);
    ig_loopctx_t *lcs = NULL;
    int nloops = 0, started = 0;
    SSL_CTX *ssl = NULL;
    ig_store_t *st = NULL;
    bool capture_on = false, control_on = false;
    char *tls_list = NULL, *plain_list = NULL;
    ig_expiring_body_t *expiring = NULL;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cfg->plain_listen[0] && each_addr(cfg->plain_listen, check_loopback, NULL) != IG_OK) goto out;
    if (ig_datadir_open(&dd, cfg, true, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate: %s\n", err);
        goto out;
    }
    snprintf(g_store_url, sizeof g_store_url, "%s", dd.store_url);
    int serr = 0;
    st = ig_store_open(dd.store_url, &serr);
    if (!st || ig_store_migrate(st) != IG_OK) {
        fprintf(stderr, "ingate: cannot open or migrate the store in %s (%s)\n", dd.dir, ig_err_name(serr));
        goto out;
    }
    /* the key hierarchy (app/keys.h): a rotation interrupted between its commit and its rename is finished
     * here */
    if (ig_serve_keys_open(st, &dd, &g_keys, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate: %s\n", err);
        goto out;
    }
    snprintf(g_master_path, sizeof g_master_path, "%s/master.key", dd.dir);
    g_master_from_file = !(cfg->master_key && cfg->master_key[0]);
    /* emails and display names are sealed in the store under this key (process-wide, set before any use) */
    if (ig_store_set_identity_key(g_keys.identity) != IG_OK) goto out;
    ig_orgctx_set_kek(g_keys.kek, g_keys.kek_id);
    ig_control_on_reload_master(reload_master);
    if (ig_store_identity_backfill(st) != IG_OK) {
        fprintf(stderr, "ingate: cannot seal the identity columns of the store in %s\n", dd.dir);
        goto out;
    }
    upgrade_audit(st, &dd, cfg);
    ig_store_close(st);
    st = NULL;

    ssl = ig_tls_server_ctx(dd.cert, dd.key, err, sizeof err);
    if (!ssl) {
        fprintf(stderr, "ingate: %s\n", err);
        goto out;
    }
    memset(&g_gw, 0, sizeof g_gw);
    g_gw.cfg = cfg;
    if (ig_providers_build(&g_gw.providers, cfg, err, sizeof err) != IG_OK) {
        fprintf(stderr, "ingate: %s\n", err);
        goto out;
    }
    memcpy(g_gw.provider_dek, g_keys.provider, 32);
    memcpy(g_gw.session_key, g_keys.session, 32);
    const char *why = NULL;
    if (ig_trusted_parse(cfg->trusted_proxies, &g_gw.trusted, &why) != IG_OK) {
        fprintf(stderr, "ingate: trusted_proxies: %s\n", why ? why : "invalid");
        goto out;
    }
    ig_password_set_dummy_cost(cfg->bcrypt_cost); /* before the workers start (one builds it) */
    /* the limiter keeps auth_rate_limit timestamps per address: fewer addresses when the limit is large */
    size_t lim_keys = IG_AUTH_LIMITER_KEYS;
    size_t per_key = (size_t)cfg->auth_rate_limit * sizeof(int64_t);
    if (lim_keys * per_key > IG_AUTH_LIMITER_BYTES) lim_keys = IG_MAX(IG_AUTH_LIMITER_BYTES / per_key, 1024);
    g_gw.auth_limiter = ig_ratelimit_new((unsigned)cfg->auth_rate_limit, cfg->auth_rate_window_ms, lim_keys);
    if (!g_gw.auth_limiter) {
        fprintf(stderr, "ingate: cannot allocate the signup/login limiter\n");
        goto out;
    }
    if (!(g_gw.key_limiter = ig_limiter_local_new())) {
        fprintf(stderr, "ingate: cannot allocate the rate limiter\n");
        goto out;
    }
    if (!(g_gw.budgets = ig_budget_ledger_new())) {
        fprintf(stderr, "ingate: cannot allocate the budget ledger\n");
        goto out;
    }
    snprintf(g_gw.store_url, sizeof g_gw.store_url, "%s", dd.store_url);
    const char *names[IG_ARRAY_LEN(g_gw.providers.list)];
    for (size_t i = 0; i < g_gw.providers.n; i++)
        names[i] = g_gw.providers.list[i].name;
    if (ig_authcache_init(names, g_gw.providers.n) != IG_OK) goto out;
    ig_authcache_on_org_change(ig_orgctx_bump); /* settings, plan or deletion: the log writer reloads */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ig_loop_global_init();

    memcpy(g_gw.org_kek, g_keys.kek, 32);
    snprintf(g_gw.logs_dir, sizeof g_gw.logs_dir, "%s/orgs", dd.dir);
    /* logs.expiring bodies are read from the org databases by the delivery thread, with a cache of its own */
    ig_orgctx_conf_t eoc = {g_gw.logs_dir, g_gw.org_kek, 0, cfg->redact_all_orgs};
    if (!(expiring = ig_expiring_body_new(&eoc))) {
        fprintf(stderr, "ingate: out of memory\n");
        goto out;
    }
    ig_webhook_conf_t wc = {
        .store_url = dd.store_url,
        .key = g_keys.webhook,
        .outbound_allowlist = cfg->outbound_allowlist,
        .retry_base_ms = cfg->webhook_retry_base_ms,
        .logs_body = ig_expiring_body,
        .logs_body_ctx = expiring,
    };
    int wrc = ig_webhook_init(&wc, &why);
    if (wrc != IG_OK) {
        fprintf(stderr, "ingate: outbound_allowlist: %s\n", why ? why : ig_err_message(wrc));
        goto out;
    }
    snprintf(g_gw.spool_dir, sizeof g_gw.spool_dir, "%s/spool", dd.dir);
    if (ig_pricing_load(cfg->pricing_file[0] ? cfg->pricing_file : NULL, &g_gw.pricing, err, sizeof err) !=
        IG_OK) {
        fprintf(stderr, "ingate: pricing_file: %s\n", err);
        goto out;
    }
    ig_capture_conf_t cc = {
        .store_url = dd.store_url,
        .logs_dir = g_gw.logs_dir,
        .spool_dir = g_gw.spool_dir,
        .kek = g_gw.org_kek,
        .kek_id = 0,
        .redact_all_orgs = cfg->redact_all_orgs,
        .pricing = g_gw.pricing,
        .limiter = g_gw.key_limiter,
        .budgets = g_gw.budgets,
        .queue_len = (size_t)cfg->capture_queue,
    };
    if (ig_capture_start(&cc) != IG_OK) goto out;
    capture_on = true;
    g_gw.pool = ig_workpool_new(cfg->workers, worker_init, worker_fini);
    if (!g_gw.pool) goto out;
    g_ret_stop = 0;
    g_ret_on = pthread_create(&g_ret_thread, NULL, retention_main, NULL) == 0;
    if (!g_ret_on) goto out;
    /* webhook deliveries: its own thread and store handle; resumes what a previous run left pending */
    if (ig_webhook_start() != IG_OK) goto out;

    nloops = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nloops < 1) nloops = 1;
    if (nloops > IG_MAX_THREADS) nloops = IG_MAX_THREADS;
    lcs = calloc((size_t)nloops, sizeof *lcs);
    if (!lcs) goto out;
    ig_http_limits_t limits = {
        .max_body_bytes = cfg->max_body_bytes,
        .header_timeout_ms = (uint32_t)cfg->header_timeout_ms,
        .idle_timeout_ms = (uint32_t)cfg->idle_timeout_ms,
        .body_timeout_ms = IG_DEFAULT_BODY_TIMEOUT_MS,
        .max_connections = cfg->max_connections,
    };
    ig_upstream_opts_t uo = {cfg->upstream_ca_file, cfg->upstream_tls_verify};
    tls_list = strdup(cfg->listen);
    plain_list = strdup(cfg->plain_listen);
    if (!tls_list || !plain_list) goto out;
    for (int i = 0; i < nloops; i++) {
        ig_loopctx_t *lc = &lcs[i];
        lc->gw = &g_gw;
        if (ig_loop_init(&lc->loop, i, g_gw.pool) != IG_OK) goto out;
        lc->loop.user = lc;
        if (ig_http_server_init(&lc->http, &lc->loop, ssl, &limits, &ig_gateway_handlers) != IG_OK) goto out;
        lc->http.on_drained = on_drained;
        lc->up = ig_upstream_new(lc->loop.base, &uo);
        if (!lc->up) goto out;
        struct listen_ctx x = {lc, true};
        if (each_addr(tls_list, do_listen, &x) != IG_OK) goto out;
        int ntls = lc->http.nlisteners;
        x.tls = false;
        if (plain_list[0] && each_addr(plain_list, do_listen, &x) != IG_OK) goto out;
        if (i == 0) {
            char *t = fix_ports(tls_list, lc, 0);
            char *p = plain_list[0] ? fix_ports(plain_list, lc, ntls) : strdup("");
            free(tls_list);
            free(plain_list);
            tls_list = t;
            plain_list = p;
            if (!tls_list || !plain_list) goto out;
        }
    }
    if (ig_control_start(dd.control_sock) == IG_OK)
        control_on = true;
    else
        IG_WARN("serve", "control socket %s unavailable; CLI changes reach this process only via restart",
                dd.control_sock);

    g_loops_running = nloops;
    for (int i = 0; i < nloops; i++) {
        if (pthread_create(&lcs[i].loop.thread, NULL, loop_thread, &lcs[i]) != 0) goto out;
        started++;
    }
    IG_INFO("serve", "ingate %s listening on https://%s%s%s (%d loop threads, %d workers, data %s)",
            INGATE_VERSION, tls_list, plain_list[0] ? " and http://" : "", plain_list, nloops, cfg->workers,
            dd.dir);
    /* a machine-readable line for scripts and tests */
    printf("READY https=%s http=%s\n", tls_list, plain_list);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    IG_INFO("serve", "received %s: draining (up to %d ms)", sig == SIGTERM ? "SIGTERM" : "SIGINT",
            cfg->drain_timeout_ms);
    for (int i = 0; i < nloops; i++)
        ig_loop_call(&lcs[i].loop, do_drain, &lcs[i]);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += cfg->drain_timeout_ms / 1000;
    deadline.tv_nsec += (long)(cfg->drain_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_exit_mu);
    while (g_loops_running > 0)
        if (pthread_cond_timedwait(&g_exit_cv, &g_exit_mu, &deadline) == ETIMEDOUT) break;
    int left = g_loops_running;
    pthread_mutex_unlock(&g_exit_mu);
    if (left > 0) {
        IG_WARN("serve", "drain timeout: closing the remaining connections");
        for (int i = 0; i < nloops; i++)
            ig_loop_call(&lcs[i].loop, do_force, &lcs[i]);
    }
    exit_code = 0;
out:
    for (int i = 0; i < started; i++)
        pthread_join(lcs[i].loop.thread, NULL);
    /* export threads stop at their next row once their client is gone; the loops they talk to are freed below
     */
    for (int waited = 0; ig_api_exports_running() > 0 && waited < 5000; waited += 10)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    if (control_on) ig_control_stop();
    retention_stop();
    ig_webhook_stop(); /* aborts an attempt in flight: bounded, never waits on a receiver */
    if (g_gw.pool) ig_workpool_free(g_gw.pool);
    g_gw.pool = NULL;
    if (capture_on) ig_capture_stop();
    for (int i = 0; lcs && i < nloops; i++) {
        if (lcs[i].loop.base) ig_http_server_clear(&lcs[i].http);
        ig_upstream_free(lcs[i].up);
        if (lcs[i].loop.base) ig_loop_clear(&lcs[i].loop);
    }
    free(lcs);
    free(tls_list);
    free(plain_list);
    ig_store_close(st);
    ig_authcache_shutdown();
    SSL_CTX_free(ssl);
    ig_wipe(g_gw.provider_dek, sizeof g_gw.provider_dek);
    ig_wipe(g_gw.session_key, sizeof g_gw.session_key);
    ig_keys_clear(&g_keys);
    ig_orgctx_set_kek(NULL, 0);
    ig_store_set_identity_key(NULL);
    ig_wipe(g_gw.org_kek, sizeof g_gw.org_kek);
    ig_webhook_shutdown();
    ig_expiring_body_free(expiring); /* after the delivery thread, its only user, stopped */
    ig_pricing_free(g_gw.pricing);
    ig_ratelimit_free(g_gw.auth_limiter);
    ig_limiter_free(g_gw.key_limiter); /* after the loops and the writer, its users, stopped */
    ig_budget_ledger_free(g_gw.budgets);
    ig_trusted_free(g_gw.trusted);
    ig_datadir_clear(&dd);
    if (exit_code == 0)
        IG_INFO("serve", "stopped: %llu calls captured, %llu written, %llu dropped",
                (unsigned long long)ig_capture_stats.submitted, (unsigned long long)ig_capture_stats.written,
                (unsigned long long)ig_capture_stats.dropped);
    return exit_code;
}
