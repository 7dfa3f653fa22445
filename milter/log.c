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

void log_msg(int level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if (level > atomic_load(&log_threshold))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    for (unsigned char *p = (unsigned char *)line; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    if (atomic_load(&log_stderr))
        fprintf(stderr, "tlsguard[%s]: %s\n", log_level_name(level), line);
    else
        syslog(level, "%s", line);
}
