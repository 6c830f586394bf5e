/*
 * control.h — the operator control socket (<data_dir>/control.sock, mode 0600, same-uid peers only).
 *
 * The operator CLI changes the store directly and then tells a running gateway what to forget, so a revoked
 * key is refused on the very next request. Line protocol: "invalidate-key <64 hex>", "invalidate-org <id>",
 * "invalidate-all", "wake-webhooks" (deliveries were queued: send them now rather than at the next poll),
 * "ping"; the answer is "ok" or "error <reason>".
 */
#ifndef IG_ADMIN_CONTROL_H
#define IG_ADMIN_CONTROL_H

#include <stddef.h>

/* Server side: starts a thread serving the socket. */
int ig_control_start(const char *path);
void ig_control_stop(void);
/* Client side: sends one command. IG_OK when the gateway answered ok; IG_EUNAVAILABLE when no gateway
 * listens (nothing to tell); IG_EIO otherwise. */
int ig_control_send(const char *path, const char *line);

/* Handler of the "reload-master" command (the master key file changed: rotate-master-key). Set once at
 * startup. */
void ig_control_on_reload_master(int (*fn)(void));

#endif
