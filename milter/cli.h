/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_CLI_H
#define TLSGUARD_CLI_H

/*
 * cli - the subcommands that do not run the daemon. Each takes the arguments after its
 * name and returns the process exit status (0 ok, 1 usage or configuration error,
 * 2 runtime error). Output goes to stdout, errors to stderr.
 */

int cli_check(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_probe(int argc, char **argv); /* probe.c; exit 0/1/2 are its verdicts, 3 usage */

#endif
