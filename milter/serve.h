/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_SERVE_H
#define TLSGUARD_SERVE_H

/*
 * serve - the daemon: loads the configuration (NULL path: built-in defaults), binds the
 * milter socket, drops privileges, opens the database, runs libmilter, reloads on SIGHUP
 * and drains on SIGTERM/SIGINT. Returns the process exit status: 0 after an orderly stop,
 * 1 for a configuration error, 2 for a runtime error. Errors are logged (before the log is
 * open, printed on stderr). Called once, from main; it owns the process's signals and
 * threads.
 */

int serve(const char *config_path);

#endif
