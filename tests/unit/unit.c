/* SPDX-License-Identifier: MIT */
#include "unit.h"

/* libc */
#include <stdio.h>
#include <string.h>

static unsigned checks, failures;

/* Prints s with non-printable bytes escaped, and at most 300 bytes of it. */
static void print_escaped(const char *s)
{
    size_t n = 0;

    if (!s) {
        fputs("(null)", stdout);
        return;
    }
    putchar('"');
    for (; *s && n < 300; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    if (*s)
        fputs("...", stdout);
    putchar('"');
}

static void fail_head(const char *row, const char *what)
{
    failures++;
    fputs("FAIL row ", stdout);
    print_escaped(row);
    printf(": %s\n", what);
}

void unit_str(const char *row, const char *what, const char *got, const char *want)
{
    checks++;
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
        fail_head(row, what);
        fputs("   got:  ", stdout);
        print_escaped(got);
        fputs("\n   want: ", stdout);
        print_escaped(want);
        putchar('\n');
    }
}

void unit_int(const char *row, const char *what, long got, long want)
{
    checks++;
    if (got != want) {
        fail_head(row, what);
        printf("   got:  %ld\n   want: %ld\n", got, want);
    }
}

int unit_report(const char *prog)
{
    printf("%s: %u checks, %u failed\n", prog, checks, failures);
    return failures ? 1 : 0;
}
