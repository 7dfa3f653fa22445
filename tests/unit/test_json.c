/* SPDX-License-Identifier: MIT */
/* Unit tests for JSON string escaping (util/json.c): what each kind of byte becomes, and that
 * the output is valid JSON (RFC 8259) whatever bytes come in. */
#include "util/json.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *in, *want;
} rows[] = {
    {"NULL", NULL, "null"},
    {"empty", "", "\"\""},
    {"plain", "TLS_AES_256_GCM_SHA384", "\"TLS_AES_256_GCM_SHA384\""},
    {"quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\""},
    {"newline", "a\nb", "\"a\\nb\""},
    {"other controls", "\x01\t\r\x1f", "\"\\u0001\\u0009\\u000d\\u001f\""},
    {"space, slash and DEL", " /\x7f", "\" /\x7f\""},
    {"2-byte UTF-8", "caf\xc3\xa9", "\"caf\xc3\xa9\""},
    {"3-byte UTF-8", "\xe2\x82\xac", "\"\xe2\x82\xac\""},
    {"4-byte UTF-8", "\xf0\x9f\x94\x92", "\"\xf0\x9f\x94\x92\""},
    {"U+0080 and U+10FFFF", "\xc2\x80\xf4\x8f\xbf\xbf", "\"\xc2\x80\xf4\x8f\xbf\xbf\""},
    {"Latin-1 byte", "caf\xe9", "\"caf" JSON_REPLACEMENT "\""},
    {"stray continuation", "\x80x", "\"" JSON_REPLACEMENT "x\""},
    {"overlong slash", "\xc0\xaf", "\"" JSON_REPLACEMENT JSON_REPLACEMENT "\""},
    {"overlong 3-byte", "\xe0\x80\xaf", "\"" JSON_REPLACEMENT JSON_REPLACEMENT JSON_REPLACEMENT "\""},
    {"surrogate", "\xed\xa0\x80", "\"" JSON_REPLACEMENT JSON_REPLACEMENT JSON_REPLACEMENT "\""},
    {"above U+10FFFF", "\xf4\x90\x80\x80",
     "\"" JSON_REPLACEMENT JSON_REPLACEMENT JSON_REPLACEMENT JSON_REPLACEMENT "\""},
    {"cut at the end", "a\xe2\x82", "\"a" JSON_REPLACEMENT JSON_REPLACEMENT "\""},
    {"cut before a quote", "\xe2\"", "\"" JSON_REPLACEMENT "\\\"\""},
    {"0xff", "\xff", "\"" JSON_REPLACEMENT "\""},
};

/* json_string(s) as a string (caller frees). */
static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    if (!out)
        abort();
    json_string(out, s);
    fclose(out);
    return buf;
}

/* The length of the UTF-8 sequence at p by the table of RFC 3629 section 4, or 0. Written
 * apart from json_utf8_len() so that the two check each other. */
static int rfc3629_len(const unsigned char *p)
{
    static const struct {
        unsigned char lo[4], hi[4];
    } forms[] = {
        {{0x00}, {0x7f}},
        {{0xc2, 0x80}, {0xdf, 0xbf}},
        {{0xe0, 0xa0, 0x80}, {0xe0, 0xbf, 0xbf}},
        {{0xe1, 0x80, 0x80}, {0xec, 0xbf, 0xbf}},
        {{0xed, 0x80, 0x80}, {0xed, 0x9f, 0xbf}},
        {{0xee, 0x80, 0x80}, {0xef, 0xbf, 0xbf}},
        {{0xf0, 0x90, 0x80, 0x80}, {0xf0, 0xbf, 0xbf, 0xbf}},
        {{0xf1, 0x80, 0x80, 0x80}, {0xf3, 0xbf, 0xbf, 0xbf}},
        {{0xf4, 0x80, 0x80, 0x80}, {0xf4, 0x8f, 0xbf, 0xbf}},
    };

    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        int n = f == 0 ? 1 : f == 1 ? 2 : f < 6 ? 3 : 4, i;

        for (i = 0; i < n && p[i] >= forms[f].lo[i] && p[i] <= forms[f].hi[i]; i++)
            ;
        if (i == n && (n > 1 || p[0]))
            return n;
    }
    return 0;
}

/* 1 if s is one JSON string: quoted, valid UTF-8, no raw control character, valid escapes. */
static int valid_json_string(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);

    if (len < 2 || p[0] != '"' || p[len - 1] != '"')
        return 0;
    for (size_t i = 1; i < len - 1;) {
        int n = rfc3629_len(p + i);

        if (n == 0 || p[i] < 0x20 || (p[i] == '"'))
            return 0;
        if (p[i] == '\\') {
            if (i + 1 >= len - 1)
                return 0;
            if (strchr("\"\\/bfnrt", p[i + 1]) && p[i + 1])
                n = 2;
            else if (p[i + 1] == 'u' && i + 6 <= len - 1 &&
                     strspn((const char *)p + i + 2, "0123456789abcdefABCDEF") >= 4)
                n = 6;
            else
                return 0;
        }
        i += (size_t)n;
    }
    return 1;
}

int main(void)
{
    char name[64];

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *got = escaped(rows[i].in);

        unit_str(rows[i].name, "escaped", got, rows[i].want);
        if (rows[i].in)
            unit_int(rows[i].name, "valid JSON", valid_json_string(got), 1);
        free(got);
    }
    /* Every string of up to two bytes, and every lead byte before each awkward follower:
     * the output is valid JSON, and exactly the well-formed sequences are kept as they are. */
    for (unsigned a = 1; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            unsigned char in[4] = {(unsigned char)a, (unsigned char)b, 0, 0};
            char *got = escaped((const char *)in);

            snprintf(name, sizeof name, "bytes %02x %02x", a, b);
            if (!valid_json_string(got))
                unit_int(name, "valid JSON", 0, 1);
            if (json_utf8_len((const char *)in) != rfc3629_len(in))
                unit_int(name, "UTF-8 length", json_utf8_len((const char *)in), rfc3629_len(in));
            free(got);
        }
    }
    for (unsigned a = 0xe0; a < 0xf5; a++) {
        for (unsigned b = 0x80; b < 0xc0; b++) {
            unsigned char in[5] = {(unsigned char)a, (unsigned char)b, 0x80, 0x80, 0};

            snprintf(name, sizeof name, "bytes %02x %02x 80 80", a, b);
            if (json_utf8_len((const char *)in) != rfc3629_len(in))
                unit_int(name, "UTF-8 length", json_utf8_len((const char *)in), rfc3629_len(in));
        }
    }
    return unit_report("test_json");
}
