/* SPDX-License-Identifier: MIT */
/*
 * addr - normalisers for envelope addresses and domain names.
 *
 * Everything here reads untrusted text (MAIL FROM / RCPT TO arguments, MTA macros, policy
 * selectors). Input is bounded before it is parsed, control characters are refused, and no
 * output is written past `size`. On failure the output is "" (if size > 0).
 */
#include "policy.h"

/* libc */
#include <string.h>
#include <strings.h>

/* Raw input longer than this is refused before parsing: RFC 5321 limits a path to 256
 * octets, so anything this long is garbage or an attack. */
#define ADDR_INPUT_MAX 1024

#define DOMAIN_NAME_MAX 253
#define DOMAIN_LABEL_MAX 63

typedef enum addr_shape {
    ADDR_INVALID = -1,
    ADDR_NULL_SENDER = 0, /* "<>" or "" */
    ADDR_LOCAL_ONLY,      /* no "@domain", e.g. "<postmaster>" */
    ADDR_WITH_DOMAIN
} addr_shape;

typedef struct addr_parts {
    const char *local;
    size_t local_len;
    const char *domain;
    size_t domain_len;
} addr_parts;

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int is_label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Specials that may not appear unquoted in a local part (RFC 5321 atext excludes them). */
static int is_local_special(unsigned char c)
{
    return c == ' ' || c == '"' || c == '(' || c == ')' || c == '<' || c == '>' || c == '[' ||
           c == ']' || c == ':' || c == ';' || c == '@' || c == '\\' || c == ',';
}

/* Normalises in[0..len) into out. Writing position i from position i keeps in == out safe. */
static int domain_norm_n(const char *in, size_t len, char *out, size_t size)
{
    size_t label = 0;

    if (len > 0 && in[len - 1] == '.')
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

int policy_domain_normalize(const char *in, char *out, size_t size)
{
    size_t len;

    if (!out || size == 0)
        return -1;
    if (!in) {
        out[0] = '\0';
        return -1;
    }
    len = strnlen(in, DOMAIN_NAME_MAX + 2);
    if (domain_norm_n(in, len, out, size) < 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Splits an envelope address into local part and domain without copying. */
static addr_shape addr_split(const char *addr, addr_parts *ap)
{
    const char *s, *e, *p;
    size_t n;

    memset(ap, 0, sizeof(*ap));
    if (!addr)
        return ADDR_INVALID;
    n = strnlen(addr, ADDR_INPUT_MAX + 1);
    if (n > ADDR_INPUT_MAX)
        return ADDR_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c < 0x20 || c == 0x7f)
            return ADDR_INVALID;
    }
    s = addr;
    e = addr + n;
    if (s < e && *s == '<') {
        if (n < 2 || e[-1] != '>')
            return ADDR_INVALID;
        s++;
        e--;
    }
    if (s == e)
        return ADDR_NULL_SENDER;

    /* A source route "@a.example,@b.example:" is obsolete and ignored (RFC 5321 4.1.2). */
    if (*s == '@') {
        p = memchr(s, ':', (size_t)(e - s));
        if (!p)
            return ADDR_INVALID;
        s = p + 1;
        if (s == e)
            return ADDR_INVALID;
    }

    if (*s == '"') {
        p = s + 1;
        while (p < e && *p != '"') {
            if (*p == '\\' && ++p == e)
                return ADDR_INVALID;
            p++;
        }
        if (p == e)
            return ADDR_INVALID; /* unterminated quote */
        p++;
    } else {
        for (p = s; p < e && *p != '@'; p++)
            if (is_local_special((unsigned char)*p))
                return ADDR_INVALID;
    }
    ap->local = s;
    ap->local_len = (size_t)(p - s);
    if (ap->local_len == 0)
        return ADDR_INVALID;
    if (p == e)
        return ADDR_LOCAL_ONLY;
    if (*p != '@')
        return ADDR_INVALID; /* text after a closing quote */
    ap->domain = p + 1;
    ap->domain_len = (size_t)(e - ap->domain);
    return ap->domain_len > 0 ? ADDR_WITH_DOMAIN : ADDR_INVALID;
}

int policy_addr_domain(const char *addr, char *domain, size_t size)
{
    addr_parts ap;

    if (!domain || size == 0)
        return -1;
    domain[0] = '\0';
    switch (addr_split(addr, &ap)) {
    case ADDR_NULL_SENDER:
        return 0;
    case ADDR_WITH_DOMAIN:
        if (domain_norm_n(ap.domain, ap.domain_len, domain, size) == 0)
            return 0;
        domain[0] = '\0';
        return -1;
    default:
        return -1;
    }
}

/* An address literal "[192.0.2.1]" or "[IPv6:2001:db8::1]": kept, lowercased. */
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

int policy_addr_normalize(const char *addr, char *out, size_t size)
{
    addr_parts ap;
    char dom[POLICY_DOMAIN_MAX];
    size_t dlen;

    if (!out || size == 0)
        return -1;
    out[0] = '\0';
    switch (addr_split(addr, &ap)) {
    case ADDR_NULL_SENDER:
        return 0;
    case ADDR_LOCAL_ONLY:
        /* RFC 5321 4.5.1: RCPT TO:<Postmaster> without a domain must be accepted. */
        if (ap.local_len != 10 || strncasecmp(ap.local, "postmaster", 10) != 0 || size <= 10)
            return -1;
        memcpy(out, ap.local, 10);
        out[10] = '\0';
        return 0;
    case ADDR_WITH_DOMAIN:
        break;
    default:
        return -1;
    }
    if (domain_norm_n(ap.domain, ap.domain_len, dom, sizeof(dom)) < 0 &&
        domain_literal_norm(ap.domain, ap.domain_len, dom, sizeof(dom)) < 0)
        return -1;
    dlen = strlen(dom);
    if (ap.local_len + 1 + dlen >= size || ap.local_len + 1 + dlen >= POLICY_ADDR_MAX)
        return -1;
    memcpy(out, ap.local, ap.local_len);
    out[ap.local_len] = '@';
    memcpy(out + ap.local_len + 1, dom, dlen + 1);
    return 0;
}
