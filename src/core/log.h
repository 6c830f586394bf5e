/*
 * log.h — the server's own log lines (stderr), one line per call, safe from any thread.
 *
 * Never pass a secret (raw API key, provider key, password, token) to these functions: refer to keys by
 * their hash prefix. Format is "ts level [module] message".
 */
#ifndef IG_CORE_LOG_H
#define IG_CORE_LOG_H

typedef enum { IG_LOG_DEBUG = 0, IG_LOG_INFO, IG_LOG_WARN, IG_LOG_ERROR } ig_log_level_t;

void ig_log_set_level(ig_log_level_t level);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int ig_log_parse_level(const char *s);
void ig_log(ig_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define IG_DEBUG(mod, ...) ig_log(IG_LOG_DEBUG, mod, __VA_ARGS__)
#define IG_INFO(mod, ...)  ig_log(IG_LOG_INFO, mod, __VA_ARGS__)
#define IG_WARN(mod, ...)  ig_log(IG_LOG_WARN, mod, __VA_ARGS__)
#define IG_ERROR(mod, ...) ig_log(IG_LOG_ERROR, mod, __VA_ARGS__)

#endif
