/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_PROBE_REPLY_H
#define TLSGUARD_PROBE_REPLY_H

/*
 * probe_reply - the SMTP reply parser of `tlsguard probe` (probe.c, cli_probe() in cli.h).
 *
 * probe_reply_parse() reads one SMTP reply (RFC 5321 4.2) from bytes received from the
 * network: untrusted input, and a fuzz target (tests/fuzz/fuzz_probe_reply.c). It lives
 * apart from probe.c so that the fuzz target can compile it without the command's I/O. It
 * does no I/O and no allocation; it depends only on policy_sanitize() from the core. Errors
 * are a result (PROBE_REPLY_MALFORMED with a static why). Pure and thread-safe.
 */

#include <stddef.h>

#define PROBE_LINE_MAX 1000 /* bytes of one reply line without CRLF (RFC 5321 says 510: lenient) */
#define PROBE_LINES_MAX 64  /* lines of one multi-line reply */
#define PROBE_TEXT_MAX 256  /* the first line's text kept, sanitised */

typedef enum probe_parse {
    PROBE_REPLY_MALFORMED = -1, /* not an SMTP reply, or over the bounds; why says which */
    PROBE_REPLY_INCOMPLETE = 0, /* a valid beginning: read more and call again */
    PROBE_REPLY_COMPLETE = 1    /* one whole reply; *used bytes of the buffer were it */
} probe_parse;

typedef struct probe_reply {
    int code;                  /* 200..599, the same on every line */
    unsigned nlines;
    int starttls;              /* a line after the first is the EHLO keyword STARTTLS */
    char text[PROBE_TEXT_MAX]; /* first line after "NNN " / "NNN-": printable ASCII */
    const char *why;           /* static text for MALFORMED, else "" */
} probe_reply;

/*
 * Parses the reply at the start of buf[0..len). Lines end in LF, with an optional CR
 * before it; each is a three-digit code (first digit 2-5), then "-" (more lines follow),
 * " " or nothing (the last line). Bounds: PROBE_LINE_MAX per line, PROBE_LINES_MAX lines.
 * Never reads past len; the whole of *out is written; *used is 0 unless COMPLETE. Bytes
 * after the reply are left for the caller (after STARTTLS there must be none).
 */
probe_parse probe_reply_parse(const char *buf, size_t len, probe_reply *out, size_t *used);

#endif
