/*
 * serve.h — `ingate serve`: bootstrap, loop threads, workers, capture writer, control socket, signals, drain.
 */
#ifndef IG_APP_SERVE_H
#define IG_APP_SERVE_H

#include "config/options.h"

/* Runs the gateway until SIGTERM/SIGINT; returns the process exit code. */
int ig_serve(ig_config_t *cfg);

/* Loads the key hierarchy (app/keys.h) for dd's master key, finishing a rotation that was interrupted after
 * its commit (master.key.new holds the key the data keys are now wrapped under). Used by serve and admin. */
struct ig_datadir;
struct ig_keys;
struct ig_store;
int ig_serve_keys_open(struct ig_store *st, struct ig_datadir *dd, struct ig_keys *keys, char *err,
                       size_t errlen);

#endif
