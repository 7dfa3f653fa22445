/* SPDX-License-Identifier: MIT */
/*
 * tlsguard - a milter that records the TLS of every SMTP session in SQLite and enforces
 * per-domain TLS policy. This file only dispatches subcommands; see tlsguard(8).
 */

/* System. */
#include <stdio.h>
#include <string.h>

/* Daemon. */
#include "cli.h"
#include "milter/serve.h"

static int usage(FILE *fp)
{
    fprintf(fp, "usage: tlsguard serve   [-c FILE]\n"
                "       tlsguard check   [-c FILE]\n"
                "       tlsguard explain [-c FILE] --from ADDR --rcpt ADDR [options]\n"
                "       tlsguard stats   [-c FILE] [--since DAYS] [--json | --prometheus]\n"
                "       tlsguard probe   [-c FILE] DOMAIN [--port N] [--json]\n"
                "       tlsguard peers   [-c FILE]\n"
                "       tlsguard version\n"
                "See tlsguard(8).\n");
    return fp == stdout ? 0 : 1;
}

static int cmd_serve(int argc, char **argv)
{
    const char *path = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-f") == 0)
            continue; /* always in the foreground; accepted for habit */
        else {
            fprintf(stderr, "usage: tlsguard serve [-c FILE]\n");
            return 1;
        }
    }
    return serve(path);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"serve", cmd_serve},     {"check", cli_check}, {"explain", cli_explain},
        {"stats", cli_stats},     {"version", cli_version},
        {"probe", cli_probe},     {"peers", cli_peers},
    };

    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tlsguard: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
