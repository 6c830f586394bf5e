/*
 * serve.h — `ingate serve`: bootstrap, loop threads, workers, capture writer, control socket, signals, drain.
 */
#ifndef IG_APP_SERVE_H
#define IG_APP_SERVE_H

#include "config/options.h"

/* Runs the gateway until SIGTERM/SIGINT; returns the process exit code. */
int ig_serve(ig_config_t *cfg);

#endif
