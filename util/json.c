/* SPDX-License-Identifier: MIT */
/*
 * json - JSON string escaping (contract in json.h).
 */
#include "json.h"

int json_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned min, cp;
    int n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, min = 0x80, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, min = 0x800, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    /* A NUL (end of string) is no continuation byte: a cut sequence stops here. */
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void json_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    while (*s) {
        unsigned char c = (unsigned char)*s;
        int n = json_utf8_len(s);

        if (n == 0) {
            fputs(JSON_REPLACEMENT, out);
            n = 1;
        } else if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c < 0x20) {
            fprintf(out, "\\u%04x", c);
        } else {
            fwrite(s, 1, (size_t)n, out);
        }
        s += n;
    }
    putc('"', out);
}
