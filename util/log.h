/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_LOG_H
#define TLSGUARD_LOG_H

/*
 * log - one line per event, to syslog (facility mail) or stderr.
 *
 * Lines about a transaction are built field by field (log_start, log_field, log_end): every
 * value is written by one rule (log_quote), so that a value from the network (an address,
 * HELO, a certificate name, a login, DNS text in a reason, a queue id) stays inside its own
 * field and cannot add or override one. The format is documented in tlsguard(8), "Log
 * format". log_msg() is for lines of fixed text and trusted values (configuration, paths,
 * counters); it still turns bytes outside printable ASCII into '?', so that no line can be
 * split. Levels are syslog's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. Thread-safe. Until
 * log_open() is called, lines go to stderr at level info.
 */

#include <stddef.h>
#include <syslog.h>

#define LOG_LINE_MAX 4096
#define LOG_VALUE_MAX 512 /* a value as written, quotes included; longer ones are cut */

void log_open(int to_stderr, int level);
/* Changes the threshold at run time (reload). */
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses error|warning|info|debug; returns the syslog level or -1. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/*
 * Writes value as a log field value into out (size bytes, NUL-terminated): bare when it is
 * not empty and made only of [A-Za-z0-9._:@+/<>[]*-], otherwise in double quotes with '"'
 * and '\' preceded by '\' and every other byte outside printable ASCII as \xHH. A NULL value
 * is written as "". When the quoted form does not fit in size, the value is cut between two
 * characters and ends in ... inside the quotes (never a half escape, never a missing closing
 * quote). Returns the length written. Pure: the unit tests call it directly.
 */
size_t log_quote(const char *value, char *out, size_t size);

/* A line under construction: the caller owns it (on the stack), nothing to free. */
typedef struct log_line {
    size_t len;
    int truncated; /* a field did not fit: left out, and the line says truncated=yes */
    char text[LOG_LINE_MAX];
} log_line;

/* Starts "ID: EVENT": id (a queue id from the MTA, NULL or "" for NOQUEUE) is written by
 * log_quote; event is a fixed word of tlsguard's. */
void log_start(log_line *l, const char *id, const char *event);
/* Appends " key=value" with the value written by log_quote (at most LOG_VALUE_MAX bytes). A
 * field that does not fit in the line is left out whole. key is a fixed name of tlsguard's. */
void log_field(log_line *l, const char *key, const char *value);
void log_field_int(log_line *l, const char *key, long long value);
/* Writes the line at level (if the threshold lets it through); l is spent. */
void log_end(int level, log_line *l);

#endif
