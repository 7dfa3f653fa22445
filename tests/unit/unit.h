/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_UNIT_H
#define TLSGUARD_UNIT_H

/*
 * unit - the few helpers the table-driven unit tests share (no framework).
 *
 * Each check names the table row it belongs to; a failure prints the row, what was checked,
 * what came out and what was expected (control bytes escaped). unit_report() prints a
 * summary and returns the exit status for main().
 */

void unit_str(const char *row, const char *what, const char *got, const char *want);
void unit_int(const char *row, const char *what, long got, long want);
int unit_report(const char *prog);

#endif
