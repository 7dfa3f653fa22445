/* SPDX-License-Identifier: MIT */
/*
 * probe_reply - the SMTP reply parser of `tlsguard probe` (see probe_reply.h). A file of its
 * own so that the fuzz target compiles exactly the code the command runs, without its I/O.
 */
#include "probe_reply.h"

/* System. */
#include <string.h>
#include <strings.h>

/* Core. */
#include "policy/policy.h"

/* Network text into out: bounded, NUL bytes included, as printable ASCII. */
static void net_text(const char *in, size_t len, char *out, size_t size)
{
    char tmp[PROBE_LINE_MAX + 1];

    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    for (size_t i = 0; i < len; i++)
        tmp[i] = in[i] ? in[i] : '?';
    tmp[len] = '\0';
    policy_sanitize(tmp, out, size);
}

static probe_parse malformed(probe_reply *out, const char *why)
{
    out->why = why;
    return PROBE_REPLY_MALFORMED;
}

/* An EHLO line's keyword (RFC 5321 4.1.1.1: keyword, then parameters after a space). */
static int ehlo_keyword(const char *text, size_t len, const char *kw)
{
    size_t k = strlen(kw);

    return len >= k && strncasecmp(text, kw, k) == 0 && (len == k || text[k] == ' ');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

probe_parse probe_reply_parse(const char *buf, size_t len, probe_reply *out, size_t *used)
{
    size_t pos = 0;

    memset(out, 0, sizeof *out);
    out->why = "";
    *used = 0;
    if (!buf)
        return PROBE_REPLY_INCOMPLETE;
    for (;;) {
        const char *line = buf + pos, *nl;
        size_t rest = len - pos, n;
        int code;

        n = rest < PROBE_LINE_MAX + 2 ? rest : PROBE_LINE_MAX + 2;
        nl = n ? memchr(line, '\n', n) : NULL;
        if (!nl)
            return rest < PROBE_LINE_MAX + 2 ? PROBE_REPLY_INCOMPLETE
                                             : malformed(out, "reply line too long");
        n = (size_t)(nl - line);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n > PROBE_LINE_MAX)
            return malformed(out, "reply line too long");
        if (n < 3 || line[0] < '2' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2]))
            return malformed(out, "reply line without a reply code");
        if (n > 3 && line[3] != ' ' && line[3] != '-')
            return malformed(out, "reply code not followed by a space or a hyphen");
        code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (out->nlines > 0 && code != out->code)
            return malformed(out, "reply code changes within a multi-line reply");
        if (out->nlines == PROBE_LINES_MAX)
            return malformed(out, "too many reply lines");
        out->code = code;
        if (++out->nlines == 1)
            net_text(line + 4, n > 3 ? n - 4 : 0, out->text, sizeof out->text);
        else if (n > 3 && ehlo_keyword(line + 4, n - 4, "STARTTLS"))
            out->starttls = 1;
        pos += (size_t)(nl - line) + 1;
        if (n == 3 || line[3] == ' ') {
            *used = pos;
            return PROBE_REPLY_COMPLETE;
        }
    }
}

