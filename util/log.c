/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int log_threshold = LOG_INFO;
static atomic_int log_stderr = 1;

void log_open(int to_stderr, int level)
{
    atomic_store(&log_stderr, to_stderr);
    atomic_store(&log_threshold, level);
    if (!to_stderr)
        openlog("tlsguard", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(int level)
{
    atomic_store(&log_threshold, level);
}

static const struct {
    const char *name;
    int level;
} levels[] = {
    {"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

int log_level_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

const char *log_level_name(int level)
{
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (levels[i].level == level)
            return levels[i].name;
    return "info";
}

static void emit(int level, char *line)
{
    for (unsigned char *p = (unsigned char *)line; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    if (atomic_load(&log_stderr))
        fprintf(stderr, "tlsguard[%s]: %s\n", log_level_name(level), line);
    else
        syslog(level, "%s", line);
}

void log_msg(int level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if (level > atomic_load(&log_threshold))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    emit(level, line);
}

/* ---- fields -------------------------------------------------------------------------- */

static int bare_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("._:@+/<>[]*-", c));
}

/* How c is written inside quotes: into e (at least 5 bytes); returns its length. */
static size_t escape(unsigned char c, char *e)
{
    if (c == '"' || c == '\\') {
        e[0] = '\\';
        e[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c > 0x7e)
        return (size_t)snprintf(e, 5, "\\x%02X", c);
    e[0] = (char)c;
    return 1;
}

size_t log_quote(const char *value, char *out, size_t size)
{
    const unsigned char *v = (const unsigned char *)(value ? value : "");
    size_t n = strlen((const char *)v), need = 2, j = 0, i;
    int bare = n > 0;
    char e[5];

    if (size < 6) { /* not even room for "..." */
        if (size)
            out[0] = '\0';
        return 0;
    }
    for (i = 0; i < n; i++) {
        bare = bare && bare_char(v[i]);
        need += escape(v[i], e);
    }
    if (bare && n < size) {
        memcpy(out, v, n + 1);
        return n;
    }
    out[j++] = '"';
    for (i = 0; i < n; i++) {
        size_t k = escape(v[i], e);
        /* Room for this character, and then for ..." or " and the NUL. */
        if (need < size ? j + k + 2 > size : j + k + 5 > size)
            break;
        memcpy(out + j, e, k);
        j += k;
    }
    if (i < n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j++] = '"';
    out[j] = '\0';
    return j;
}

void log_start(log_line *l, const char *id, const char *event)
{
    char q[LOG_VALUE_MAX];

    log_quote(id && *id ? id : "NOQUEUE", q, sizeof q);
    l->truncated = 0;
    l->len = (size_t)snprintf(l->text, sizeof l->text, "%s: %s", q, event);
    if (l->len >= sizeof l->text)
        l->len = sizeof l->text - 1;
}

#define TRUNCATED " truncated=yes"

void log_field(log_line *l, const char *key, const char *value)
{
    char q[LOG_VALUE_MAX];
    size_t k = strlen(key), n = log_quote(value, q, sizeof q);

    /* " key=value", and room kept for the mark and the NUL. */
    if (l->len + 2 + k + n + sizeof TRUNCATED > sizeof l->text) {
        l->truncated = 1;
        return;
    }
    l->text[l->len++] = ' ';
    memcpy(l->text + l->len, key, k);
    l->len += k;
    l->text[l->len++] = '=';
    memcpy(l->text + l->len, q, n + 1);
    l->len += n;
}

void log_field_int(log_line *l, const char *key, long long value)
{
    char n[24];

    snprintf(n, sizeof n, "%lld", value);
    log_field(l, key, n);
}

void log_end(int level, log_line *l)
{
    if (level > atomic_load(&log_threshold))
        return;
    if (l->truncated) /* log_field kept room for the mark */
        memcpy(l->text + l->len, TRUNCATED, sizeof TRUNCATED);
    emit(level, l->text);
}
