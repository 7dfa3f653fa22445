/* SPDX-License-Identifier: MIT */
/*
 * addr - normalisers for envelope addresses and domain names.
 *
 * Everything here reads untrusted text (MAIL FROM / RCPT TO arguments, MTA macros, policy
 * selectors). Input is bounded before it is parsed, control characters other than TAB are
 * refused, and no output is written past `size`. On failure the output is "" (if size > 0).
 *
 * Envelope arguments are read the way Postfix 3.7 (smtpd.c extract_addr() with tok822 and
 * strict_rfc821_envelopes = no, then the internal form's last '@') and Sendmail 8.17
 * (parseaddr(), prescan()) read them, so that tlsguard's domain is the MTA's. What each MTA
 * accepts and hands the milter, tried live with both (tests/e2e/test_addr_forms.sh and
 * test_sendmail_addr.sh):
 *
 *   form (after MAIL FROM: / RCPT TO:)   Postfix      Sendmail   {mail_addr}/{rcpt_addr}   here
 *   <x@bank.example (c)>, <(c)x@...>,    accepts      accepts    x@bank.example (both)     bank.example
 *     <x(@evil.example)@bank.example>                            (comments dropped)
 *   <x @ bank . example>, < x@b.example > accepts     accepts    x@bank.example (both)     bank.example
 *   <"x@evil.example"@bank.example>      accepts      accepts    kept quoted (both)        bank.example
 *   <x\@evil.example@bank.example>       accepts      accepts    PF "x@evil..."@b, SM as is bank.example
 *   <@a.example,@b.example:x@bank.ex>    accepts      accepts    route dropped (both)      bank.example
 *   <x@bank.example.>                    accepts      accepts    dot dropped (both)        bank.example
 *   <x@bank.example..>                   501 5.1.7    accepts    SM: x@bank.example        bank.example
 *   <x@BANK.Example>                     accepts      accepts    PF lowercases, SM keeps   bank.example
 *   x@bank.example (no <>), x@b.ex(c)    accepts      accepts    x@bank.example (both)     bank.example
 *   <x@bank.example>(c), (c)<x@...>      accepts      accepts    x@bank.example (both)     bank.example
 *   <<x@bank.example>>                   accepts      accepts    x@bank.example (both)     bank.example
 *   <x@bank.example>junk                 501 5.1.7    accepts    SM: x@bank.example        bank.example
 *   <x@bank.example;>                    accepts      accepts    x@bank.example (both)     bank.example
 *   <x@bank.example\t(tab)>              accepts      accepts    x@bank.example (both)     bank.example
 *   <x@bank.example@evil.example>        accepts      553 5.1.3  PF "x@bank.example"@evil  evil.example
 *   <bank.example!x> (bang path)         accepts      accepts    x@bank.example (both)     bank.example
 *   <x%bank.example@evil.example>        accepts      accepts    as is (evil not local)    evil.example
 *   <x@"bank.example">, <x@bank\.example> accepts     accepts    PF x@bank.example, SM     bank.example
 *                                                                as written
 *   <x@b\xc3\xa4nk.example>              only with    accepts    UTF-8 as sent (both)      xn--bnk-qla.example
 *                                        SMTPUTF8     (not 0x80-0x9f: 501 5.1.7)
 *   <x@[192.0.2.1]>, <x@[IPv6:...]>      accepts      accepts    literal (PF lowercases)   literal: no domain
 *   <x@[bank.example]>                   501 5.1.7    accepts    SM as written             literal: no domain
 *   <ceo>, <postmaster>                  accepts      accepts    PF ceo@$myorigin; SM ceo  local: no domain
 *                                                                ({mail_mailer} local)
 *   <x@bank.example(unclosed>            accepts      553 5.0.0  PF x@bank.example         refused
 *   <x@bank..example>, <x@b.ex,y@c.ex>,  501          553        -                         refused
 *     <x@bank.example:y>, <x@b.ex)>, <"x@b.ex>
 *
 * Postfix's {mail_addr}/{rcpt_addr} is the address after its trivial-rewrite (myorigin
 * appended, bang path swapped, percent hack for local domains) and quote_821_local();
 * Sendmail's is the $: part that ruleset 0 resolved, so for its local mailer it has no domain
 * and after a virtusertable it is the target. Neither has canonical or virtual alias maps
 * applied. envelope.c combines the argument and the macro.
 */
#include "policy.h"

/* libc */
#include <string.h>
#include <strings.h>

/* IDNA (pure, no I/O): 8-bit domains compare as A-labels. */
#include <idn2.h>

/* Raw input longer than this is refused before parsing: RFC 5321 limits a path to 256
 * octets, so anything this long is garbage or an attack. */
#define ADDR_INPUT_MAX 1024

#define DOMAIN_NAME_MAX 253
#define DOMAIN_LABEL_MAX 63

/* The address part of an envelope argument: comments and whitespace dropped, quoted strings,
 * domain literals and backslash pairs as written, in buf[s..e). */
typedef struct addr_parts {
    char buf[ADDR_INPUT_MAX + 1];
    size_t s, e;
    size_t at; /* the last '@' outside quotes in [s, e), or e if none */
} addr_parts;

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int is_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* RFC 822 specials around which whitespace carries no meaning. */
static int is_sep(unsigned char c)
{
    return c != '\0' && strchr("<>@,;:.", c) != NULL;
}

/* Normalises an ASCII domain in[0..len) into out. Writing position i from position i keeps
 * in == out safe. `dots`: how many trailing dots may be dropped. */
static int domain_norm_ascii(const char *in, size_t len, char *out, size_t size, size_t dots)
{
    size_t label = 0;

    while (dots-- > 0 && len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0 || len > DOMAIN_NAME_MAX || len >= size)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = ascii_lower((unsigned char)in[i]);
        if (c == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if (!is_label_char(c) || ++label > DOMAIN_LABEL_MAX) {
            return -1;
        }
        out[i] = (char)c;
    }
    if (label == 0)
        return -1;
    out[len] = '\0';
    return 0;
}

/* As domain_norm_ascii(), and a name with 8-bit octets (UTF-8 U-labels, as SMTPUTF8 sends
 * them) becomes its A-labels (IDNA2008 with UTS #46 non-transitional mapping, libidn2), so
 * that "b\xc3\xa4nk.example" and "xn--bnk-qla.example" are the same domain. Invalid UTF-8 or
 * a name IDNA refuses fails. */
static int domain_norm_n(const char *in, size_t len, char *out, size_t size, size_t dots)
{
    char u[DOMAIN_NAME_MAX * 4 + 2];
    char *a = NULL;
    int rc = -1, wide = 0;

    for (size_t i = 0; i < len; i++)
        wide |= (unsigned char)in[i] >= 0x80;
    if (!wide)
        return domain_norm_ascii(in, len, out, size, dots);
    if (len >= sizeof u)
        return -1;
    memcpy(u, in, len);
    u[len] = '\0';
    while (dots-- > 0 && len > 0 && u[len - 1] == '.')
        u[--len] = '\0';
    if (idn2_to_ascii_8z(u, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK && a)
        rc = domain_norm_ascii(a, strlen(a), out, size, 0);
    idn2_free(a);
    return rc;
}

int policy_domain_normalize(const char *in, char *out, size_t size)
{
    size_t len;

    if (!out || size == 0)
        return -1;
    if (!in) {
        out[0] = '\0';
        return -1;
    }
    len = strnlen(in, DOMAIN_NAME_MAX * 4 + 2);
    if (domain_norm_n(in, len, out, size, 1) < 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Copies a quoted string or domain literal starting at in[*i] (the opening '"' or '[') to
 * out[*j], backslash pairs included; -1 if it is not closed. */
static int copy_quoted(const char *in, size_t n, size_t *i, char *out, size_t *j, char close)
{
    out[(*j)++] = in[(*i)++];
    while (*i < n && in[*i] != close) {
        if (in[*i] == '\\') {
            if (*i + 1 >= n)
                return -1;
            out[(*j)++] = in[(*i)++];
        }
        out[(*j)++] = in[(*i)++];
    }
    if (*i >= n)
        return -1;
    out[(*j)++] = in[(*i)++];
    return 0;
}

/* Skips an RFC 822 comment (nested, with backslash pairs) starting at in[*i] == '('. */
static int skip_comment(const char *in, size_t n, size_t *i)
{
    unsigned depth = 0;

    do {
        if (in[*i] == '\\') {
            if (++*i >= n)
                return -1;
        } else if (in[*i] == '(') {
            depth++;
        } else if (in[*i] == ')') {
            depth--;
        }
        ++*i;
    } while (*i < n && depth > 0);
    return depth == 0 ? 0 : -1;
}

/* Drops comments and whitespace; whitespace between two words stays as one space (a domain
 * written "exa mple.com" is not "example.com"). */
static int addr_clean(const char *in, size_t n, addr_parts *ap, size_t *len)
{
    size_t i = 0, j = 0;
    int gap = 0;

    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        if (c == ' ' || c == '\t') {
            gap = 1;
            i++;
            continue;
        }
        if (c == '(') {
            if (skip_comment(in, n, &i) < 0)
                return -1;
            gap = 1;
            continue;
        }
        if (c == ')')
            return -1;
        if (gap && j > 0 && !is_sep((unsigned char)ap->buf[j - 1]) && !is_sep(c))
            ap->buf[j++] = ' ';
        gap = 0;
        if (c == '"' || c == '[') {
            if (copy_quoted(in, n, &i, ap->buf, &j, c == '"' ? '"' : ']') < 0)
                return -1;
        } else if (c == '\\') {
            if (i + 1 >= n)
                return -1;
            ap->buf[j++] = in[i++];
            ap->buf[j++] = in[i++];
        } else {
            ap->buf[j++] = in[i++];
        }
    }
    ap->buf[j] = '\0';
    *len = j;
    return 0;
}

/* Index of the next character at or after i that is outside quoted strings, domain literals
 * and backslash pairs; b is a cleaned buffer (every quote closed). */
static size_t next_plain(const char *b, size_t i, size_t e)
{
    if (i < e && b[i] == '\\')
        return i + 2;
    if (i < e && (b[i] == '"' || b[i] == '[')) {
        char close = b[i] == '"' ? '"' : ']';
        for (i++; i < e && b[i] != close; i++)
            if (b[i] == '\\')
                i++;
        return i + 1;
    }
    return i + 1;
}

/* Unquotes b[s..e) into out (quotes and backslashes dropped); -1 if it does not fit. */
static int unquote(const char *b, size_t s, size_t e, char *out, size_t size)
{
    size_t j = 0;

    for (size_t i = s; i < e; i++) {
        if (b[i] == '"')
            continue;
        if (b[i] == '\\' && i + 1 < e)
            i++;
        if (j + 1 >= size)
            return -1;
        out[j++] = b[i];
    }
    out[j] = '\0';
    return 0;
}

/* Finds the address in a cleaned argument: inside the first <...> (the innermost '<' before
 * the first '>'), else the whole; drops a source route and a trailing ';'. */
static policy_addr_kind addr_select(addr_parts *ap, size_t len)
{
    const char *b = ap->buf;
    size_t lt = len, gt = len, colon = len;

    for (size_t i = 0; i < len; i = next_plain(b, i, len)) {
        if (b[i] == '<' && gt == len)
            lt = i;
        else if (b[i] == '>' && gt == len)
            gt = i;
    }
    if ((lt == len) != (gt == len) || (gt < len && lt > gt))
        return POLICY_ADDR_BAD;
    ap->s = lt < len ? lt + 1 : 0;
    ap->e = gt < len ? gt : len;
    while (ap->e > ap->s && b[ap->e - 1] == ';')
        ap->e--;
    if (ap->s == ap->e)
        return POLICY_ADDR_NULL;
    if (b[ap->s] == '@') { /* "@a.example,@b.example:" is obsolete and ignored (RFC 5321 4.1.2) */
        for (size_t i = ap->s; i < ap->e && colon == len; i = next_plain(b, i, ap->e))
            if (b[i] == ':')
                colon = i;
        if (colon == len || colon + 1 == ap->e)
            return POLICY_ADDR_BAD;
        ap->s = colon + 1;
    }
    ap->at = ap->e;
    for (size_t i = ap->s; i < ap->e; i = next_plain(b, i, ap->e)) {
        if (b[i] == '@')
            ap->at = i;
        else if (strchr("<>,:;]", b[i]))
            return POLICY_ADDR_BAD;
    }
    if (ap->at == ap->s || b[ap->s] == '@')
        return POLICY_ADDR_BAD; /* no local part, or a second route */
    for (size_t i = ap->s; i < ap->at; i = next_plain(b, i, ap->at))
        if (b[i] == '[')
            return POLICY_ADDR_BAD; /* a literal belongs after '@' only */
    return POLICY_ADDR_DOMAIN; /* or local: the caller looks at ap->at */
}

/* A domain literal "[192.0.2.1]" or "[IPv6:2001:db8::1]" as the whole domain: kept,
 * lowercased. */
static int domain_literal_norm(const char *in, size_t len, char *out, size_t size)
{
    if (len < 3 || in[0] != '[' || in[len - 1] != ']' || len >= size)
        return -1;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = ascii_lower((unsigned char)in[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == ':'))
            return -1;
        out[i] = (char)c;
    }
    out[0] = '[';
    out[len - 1] = ']';
    out[len] = '\0';
    return 0;
}

/* A local part without '@domain' that the MTA routes to a domain all the same: a quoted
 * "x@bank.example" (Postfix unquotes it, then splits at the last '@'), a bang path
 * "bank.example!x" (both MTAs swap it to x@bank.example) or "x%bank.example" (the percent
 * hack, Postfix for local domains, Sendmail always). Returns the domain's [s, e) in u. */
static int local_route(const char *u, size_t *s, size_t *e)
{
    const char *p;

    if ((p = strrchr(u, '@')) != NULL) {
        *s = (size_t)(p + 1 - u);
        *e = strlen(u);
    } else if ((p = strchr(u, '!')) != NULL) {
        *s = 0;
        *e = (size_t)(p - u);
    } else if ((p = strrchr(u, '%')) != NULL) {
        *s = (size_t)(p + 1 - u);
        *e = strlen(u);
    } else {
        return 0;
    }
    return 1;
}

static policy_addr_kind addr_parse(const char *addr, addr_parts *ap)
{
    size_t n, len;

    if (!addr)
        return POLICY_ADDR_BAD;
    n = strnlen(addr, ADDR_INPUT_MAX + 1);
    if (n > ADDR_INPUT_MAX)
        return POLICY_ADDR_BAD;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return POLICY_ADDR_BAD;
    }
    if (addr_clean(addr, n, ap, &len) < 0)
        return POLICY_ADDR_BAD;
    return addr_select(ap, len);
}

policy_addr_kind policy_addr_read(const char *addr, char *domain, size_t size)
{
    addr_parts parts, *ap = &parts;
    char u[ADDR_INPUT_MAX + 1];
    size_t ds, de;
    policy_addr_kind k;

    if (!domain || size == 0)
        return POLICY_ADDR_BAD;
    domain[0] = '\0';
    k = addr_parse(addr, ap);
    if (k != POLICY_ADDR_DOMAIN)
        goto out;
    if (ap->at == ap->e) {
        if (unquote(ap->buf, ap->s, ap->e, u, sizeof u) < 0)
            k = POLICY_ADDR_BAD;
        else if (!local_route(u, &ds, &de))
            k = POLICY_ADDR_LOCAL;
        else if (domain_norm_n(u + ds, de - ds, domain, size, ADDR_INPUT_MAX) < 0)
            k = POLICY_ADDR_BAD;
        goto out;
    }
    if (ap->buf[ap->at + 1] == '[') {
        k = domain_literal_norm(ap->buf + ap->at + 1, ap->e - ap->at - 1, domain, size) == 0
                ? POLICY_ADDR_LITERAL
                : POLICY_ADDR_BAD;
        goto out;
    }
    /* Postfix strips any number of trailing dots; so does Sendmail. */
    if (unquote(ap->buf, ap->at + 1, ap->e, u, sizeof u) < 0 ||
        domain_norm_n(u, strlen(u), domain, size, ADDR_INPUT_MAX) < 0)
        k = POLICY_ADDR_BAD;
out:
    if (k == POLICY_ADDR_BAD || k == POLICY_ADDR_NULL || k == POLICY_ADDR_LOCAL)
        domain[0] = '\0';
    return k;
}

int policy_addr_domain(const char *addr, char *domain, size_t size)
{
    switch (policy_addr_read(addr, domain, size)) {
    case POLICY_ADDR_NULL:
    case POLICY_ADDR_DOMAIN:
        return 0;
    default:
        if (domain && size > 0)
            domain[0] = '\0';
        return -1;
    }
}

int policy_addr_normalize(const char *addr, char *out, size_t size)
{
    addr_parts parts, *ap = &parts;
    char dom[POLICY_DOMAIN_MAX];
    size_t dlen, llen;
    policy_addr_kind k;

    if (!out || size == 0)
        return -1;
    out[0] = '\0';
    k = policy_addr_read(addr, dom, sizeof dom);
    if (k == POLICY_ADDR_NULL)
        return 0;
    if (k == POLICY_ADDR_BAD)
        return -1;
    addr_parse(addr, ap);
    if (ap->at == ap->e) {
        /* RFC 5321 4.5.1: RCPT TO:<Postmaster> without a domain must be accepted. */
        llen = ap->e - ap->s;
        if (k == POLICY_ADDR_LOCAL && llen == 10 &&
            strncasecmp(ap->buf + ap->s, "postmaster", 10) == 0 && size > 10) {
            memcpy(out, ap->buf + ap->s, 10);
            out[10] = '\0';
            return 0;
        }
        return -1;
    }
    dlen = strlen(dom);
    llen = ap->at - ap->s;
    if (llen + 1 + dlen >= size || llen + 1 + dlen >= POLICY_ADDR_MAX)
        return -1;
    memcpy(out, ap->buf + ap->s, llen);
    out[llen] = '@';
    memcpy(out + llen + 1, dom, dlen + 1);
    return 0;
}
