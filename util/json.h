/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_JSON_H
#define TLSGUARD_JSON_H

/*
 * json - writing text as a JSON string (RFC 8259), for every command that prints JSON.
 *
 * json_string() always writes valid JSON, whatever bytes it is given: '"' and '\' are
 * escaped with a backslash, newline as \n, every other control character (0x00-0x1f) as
 * \u00XX (lower-case hex); well-formed UTF-8 (DEL and U+0080 on included) is copied as it
 * is, and each byte that does not start a well-formed UTF-8 sequence (a stray continuation
 * byte, an overlong form, a surrogate, a code point above U+10FFFF, a sequence cut short)
 * becomes U+FFFD, so a decoder reads back exactly the text that was valid. Nothing is
 * allocated; write errors are left to the stream (ferror).
 */

#include <stdio.h>

/* Writes s as a quoted JSON string to out, or null when s is NULL. */
void json_string(FILE *out, const char *s);

/* The length (1-4) of the well-formed UTF-8 sequence at p, or 0 if there is none (also for
 * other text formats that require UTF-8, like Prometheus label values). */
int json_utf8_len(const char *p);

/* U+FFFD REPLACEMENT CHARACTER in UTF-8, written in place of a byte json_utf8_len() rejects. */
#define JSON_REPLACEMENT "\xef\xbf\xbd"

#endif
