/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_CLI_H
#define TLSGUARD_CLI_H

/*
 * cli - the subcommands that do not run the daemon. Each takes the arguments after its
 * name and returns the process exit status (0 ok, 1 usage or configuration error,
 * 2 runtime error). Output goes to stdout, errors to stderr. Each is called once, from main;
 * none is reentrant.
 */

struct query_db;
struct tlsg_config;

/* For the subcommands that read the database: loads the configuration at `config_path`
 * (NULL: defaults) and opens its database read-only (store/query.h). Returns 0 with *cfg
 * (caller clears it with config_clear) and *db (caller closes it with query_close), or the
 * exit status after printing the errors, "tlsguard CMD: ..." (1 configuration, 2 database). */
int cli_open_database(const char *cmd, const char *config_path, struct tlsg_config *cfg,
                      struct query_db **db);

int cli_check(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_peers(int argc, char **argv); /* peerlist.c */
int cli_version(int argc, char **argv);
int cli_probe(int argc, char **argv); /* probe.c; exit 0/1/2 are its verdicts, 3 usage */

#endif
