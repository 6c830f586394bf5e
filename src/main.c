/*
 * main.c — command dispatch only: serve, admin, version, docs-config, help.
 */
#include "admin/admin.h"
#include "app/serve.h"
#include "config/options.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

extern char **environ;

static void usage(FILE *f)
{
    fputs("ingate — a self-hostable, multi-tenant LLM gateway\n\n"
          "usage:\n"
          "  ingate serve [--config FILE] [options]   run the gateway (TLS 1.3 on https://127.0.0.1:8443 by "
          "default)\n"
          "  ingate admin COMMAND [options]           operator CLI (ingate admin --help)\n"
          "  ingate version                           print the version\n"
          "  ingate docs-config                       print docs/configuration.md\n"
          "  ingate --help                            this text\n\n",
          f);
    ig_config_print_help(f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ingate %s\n", INGATE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "docs-config") == 0) {
        ig_config_print_docs(stdout);
        return 0;
    }
    if (strcmp(cmd, "admin") == 0) return ig_admin_main(argc - 2, argv + 2, environ);
    if (strcmp(cmd, "serve") == 0) {
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                usage(stdout);
                return 0;
            }
        ig_config_t cfg;
        char err[1024];
        if (ig_config_init(&cfg) != 0) return 1;
        if (ig_config_load(&cfg, argc - 2, argv + 2, environ, err, sizeof err) != 0) {
            fprintf(stderr, "ingate: %s\n", err);
            ig_config_free(&cfg);
            return 2;
        }
        int lvl = ig_log_parse_level(cfg.log_level);
        if (lvl >= 0) ig_log_set_level((ig_log_level_t)lvl);
        int code = ig_serve(&cfg);
        ig_config_free(&cfg);
        return code;
    }
    fprintf(stderr, "ingate: unknown command '%s' (try ingate --help)\n", cmd);
    return 2;
}
