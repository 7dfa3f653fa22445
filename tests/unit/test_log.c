/* SPDX-License-Identifier: MIT */
/* Unit tests for the log field format (util/log.c, tlsguard(8) "Log format"): how each value
 * is written, and that a line parsed by the documented rule gives back every field exactly,
 * whatever bytes the values hold. */
#include "util/log.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *value, *want;
} rows[] = {
    {"plain address", "<a@bank.example>", "<a@bank.example>"},
    {"IPv6 and brackets", "[2001:db8::1]", "[2001:db8::1]"},
    {"rule texts", "from:.bank.example", "from:.bank.example"},
    {"catch-all rule", "*", "*"},
    {"signs and slash", "client:192.0.2.0/24+x_y-z", "client:192.0.2.0/24+x_y-z"},
    {"empty", "", "\"\""},
    {"NULL", NULL, "\"\""},
    {"space", "a b", "\"a b\""},
    {"equals sign", "SRS0=ab=x", "\"SRS0=ab=x\""},
    {"forged field", "x\" verdict=pass rule=y", "\"x\\\" verdict=pass rule=y\""},
    {"backslash", "a\\\" b", "\"a\\\\\\\" b\""},
    {"CR LF", "a\r\nverdict=pass", "\"a\\x0D\\x0Averdict=pass\""},
    {"8-bit and DEL", "\xc3\xa9\x7f", "\"\\xC3\\xA9\\x7F\""},
    {"quoted local part", "<\" verdict=pass\"@x.example>", "\"<\\\" verdict=pass\\\"@x.example>\""},
};

/* The parser tlsguard(8) describes: "ID: EVENT" then " key=value" fields. Fills keys[] and
 * vals[] (decoded); returns the number of fields or -1 if the line is malformed. */
#define FIELDS_MAX 32
static int parse(const char *s, char keys[][32], char vals[][LOG_VALUE_MAX])
{
    int n = 0;

    if (*s == '"') { /* a quoted id */
        for (s++; *s && *s != '"'; s++)
            if (*s == '\\' && !*++s)
                return -1;
        if (*s++ != '"')
            return -1;
    } else {
        s += strcspn(s, ": ");
    }
    if (strncmp(s, ": ", 2) != 0)
        return -1;
    s += 2;
    s += strcspn(s, " "); /* the event */
    while (*s == ' ' && n < FIELDS_MAX) {
        size_t k = strcspn(++s, "="), j = 0;

        if (s[k] != '=' || k == 0 || k >= 32)
            return -1;
        memcpy(keys[n], s, k);
        keys[n][k] = '\0';
        s += k + 1;
        if (*s != '"') {
            size_t b = strcspn(s, " ");
            memcpy(vals[n], s, b);
            vals[n][b] = '\0';
            s += b;
        } else {
            for (s++; *s != '"'; s++) {
                if (!*s || j + 1 >= LOG_VALUE_MAX)
                    return -1;
                if (*s == '\\' && s[1] == 'x') {
                    unsigned b;
                    if (sscanf(s + 2, "%2X", &b) != 1)
                        return -1;
                    vals[n][j++] = (char)b;
                    s += 3;
                } else if (*s == '\\') {
                    if (s[1] != '"' && s[1] != '\\')
                        return -1;
                    vals[n][j++] = *++s;
                } else {
                    vals[n][j++] = *s;
                }
            }
            vals[n][j] = '\0';
            s++;
        }
        n++;
    }
    return *s ? -1 : n;
}

int main(void)
{
    static char keys[FIELDS_MAX][32], vals[FIELDS_MAX][LOG_VALUE_MAX];
    char out[LOG_VALUE_MAX], all[256], name[64];
    log_line l;
    int n;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t len = log_quote(rows[i].value, out, sizeof out);
        unit_str(rows[i].name, "quoted", out, rows[i].want);
        unit_int(rows[i].name, "length", (long)len, (long)strlen(rows[i].want));
    }

    /* Every byte value survives a round trip through a line, between two fixed fields. */
    for (int c0 = 1; c0 < 256; c0 += 100) {
        int m = 0;
        for (int c = c0; c < c0 + 100 && c < 256; c++)
            all[m++] = (char)c;
        all[m] = '\0';
        snprintf(name, sizeof name, "bytes %d..", c0);
        log_start(&l, "4XyZ12", "sender");
        log_field(&l, "from", all);
        log_field(&l, "verdict", "fail");
        n = parse(l.text, keys, vals);
        unit_int(name, "fields", n, 2);
        unit_str(name, "from", n == 2 ? vals[0] : "", all);
        unit_str(name, "verdict", n == 2 ? vals[1] : "", "fail");
    }

    /* Hostile values in every position: exactly the fields written, each with its value. */
    log_start(&l, "Q1 verdict=pass", "rcpt");
    log_field(&l, "to", "<\"x verdict=pass\"@y.example>");
    log_field(&l, "helo", "x\" verdict=pass rule=y");
    log_field(&l, "verdict", "fail");
    log_field(&l, "reason", "CN a\\\" verdict=pass \\");
    n = parse(l.text, keys, vals);
    unit_int("hostile", "fields", n, 4);
    if (n == 4) {
        unit_str("hostile", "key 3", keys[2], "verdict");
        unit_str("hostile", "verdict", vals[2], "fail");
        unit_str("hostile", "helo", vals[1], "x\" verdict=pass rule=y");
        unit_str("hostile", "reason", vals[3], "CN a\\\" verdict=pass \\");
    }
    unit_int("hostile", "id quoted", strncmp(l.text, "\"Q1 verdict=pass\": rcpt ", 24), 0);

    /* Cut values stay well-formed: at every size, quotes close and no escape is split. */
    for (size_t size = 0; size < 40; size++) {
        char small[40];
        size_t len = log_quote("ab\"\xff verdict=pass cdefghijklmnopqrstuvwxyz", small, size);
        snprintf(name, sizeof name, "cut to %zu", size);
        unit_int(name, "fits", size == 0 || len < size, 1);
        if (size >= 6) {
            snprintf(l.text, sizeof l.text, "Q: e k=%s verdict=fail", small);
            n = parse(l.text, keys, vals);
            unit_int(name, "fields", n, 2);
            unit_str(name, "verdict", n == 2 ? vals[1] : "", "fail");
        }
    }
    {
        char big[3 * LOG_VALUE_MAX];
        memset(big, '"', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        unit_int("long value", "capped", (long)log_quote(big, out, sizeof out) < LOG_VALUE_MAX, 1);
        unit_int("long value", "ends", strcmp(out + strlen(out) - 4, "...\""), 0);
    }

    /* A line that is full leaves whole fields out and says so. */
    log_start(&l, "Q", "sender");
    for (int i = 0; i < 20; i++)
        log_field(&l, "reason", "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
    unit_int("full line", "truncated", l.truncated, 1);
    n = parse(l.text, keys, vals);
    unit_int("full line", "parses", n > 0, 1);
    return unit_report("test_log");
}
