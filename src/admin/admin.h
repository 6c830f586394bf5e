/*
 * admin.h — `ingate admin ...`: the operator CLI. It works on the store directly (so it also works when the
 * gateway is down, for recovery) and then tells a running gateway, through the control socket, what to drop
 * from its caches.
 */
#ifndef IG_ADMIN_ADMIN_H
#define IG_ADMIN_ADMIN_H

/* argv[0] is the admin subcommand. Returns the process exit code. */
int ig_admin_main(int argc, char **argv, char **envp);
void ig_admin_usage(void);

#endif
