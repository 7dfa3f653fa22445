/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_LOG_H
#define TLSGUARD_LOG_H

/*
 * log - one line per event, to syslog (facility mail) or stderr.
 *
 * Every formatted line is sanitised before it is written: bytes outside printable ASCII
 * (CR, LF, other control characters, 8-bit data from the network) become '?', so a peer
 * cannot forge log lines. Levels are syslog's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG.
 * Thread-safe. Until log_open() is called, lines go to stderr at level info.
 */

#include <syslog.h>

#define LOG_LINE_MAX 2048

void log_open(int to_stderr, int level);
/* Changes the threshold at run time (reload). */
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses error|warning|info|debug; returns the syslog level or -1. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

#endif
