/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_DIAG_H
#define TLSGUARD_DIAG_H

/*
 * diag - writes out the diagnostics that loading a configuration and its policy collected
 * (policy_diag, "FILE:LINE: error: ..."), the same way for every command and the daemon.
 *
 * Reads the diagnostics only: the caller still owns them and frees them with
 * policy_diag_free(). Never fails (a write error is not reported). Thread-safe as far as the
 * stream or the log is (log.h).
 */

#include <stdio.h>

#include "policy/policy.h"

/* Writes every message of diag in order: one line each to out, or, when out is NULL, one log
 * line each at LOG_ERR, "<log_prefix><message>" (log_prefix may be NULL). */
void diag_report(const policy_diag *diag, FILE *out, const char *log_prefix);

#endif
