/*
 * api.h — the management API under /api/v1: one route table (method, path pattern, minimum role, handler).
 *
 * Every route is reached only after the router has authenticated the caller (deny by default: no credential
 * → 401 before routing). The table decides the minimum role; org isolation comes from the auth context: every
 * query is scoped by the caller's org, never by an id from the path or body alone, and another org's id
 * answers 404 exactly like a missing one. Store work runs on the worker pool.
 */
#ifndef IG_API_API_H
#define IG_API_API_H

#include "app/gateway.h"

/* Log exports still running (their threads end once their client is gone): shutdown waits for 0 before it
 * frees the loops they hand chunks to. */
int ig_api_exports_running(void);

/* The dashboard's session cookie (docs/dashboard.md). The __Host- prefix makes browsers accept it only when
 * set over TLS with Path=/ and no Domain, so no sibling host or plain-http page can plant or shadow it. */
#define IG_SESSION_COOKIE "__Host-ingate_session"
/* Adds the Set-Cookie that ends the dashboard session in the browser (logout, a session found invalid). */
void ig_api_clear_session_cookie(ig_req_t *req);

/* Handles an authenticated /api/v1 request (flat JSON errors). */
void ig_api_handle(ig_req_t *req, ig_reqstate_t *rs);

#endif
