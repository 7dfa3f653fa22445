/* SPDX-License-Identifier: MIT */
/*
 * policy - parsing of the policy file, introspection, and rule matching.
 *
 * The parser reads every line and reports every error it finds (with file and line); a
 * policy with any error is discarded as a whole, so a reload never applies half a file.
 * Matching goes through the selector index built here (ruleindex), never through a walk
 * over all rules. Evaluation of a matched rule lives in policy_eval.c.
 */
#include "policy_int.h"
#include "xalloc.h"

/* libc */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A policy line longer than this is an error (the limit keeps error messages and work per
 * line bounded; no real rule comes close). */
#define POLICY_LINE_MAX 4096

/* Keys in the selector index: a tag byte, then the canonical domain or masked address. */
#define KEY_FROM 'F'
#define KEY_FROM_SUB 'f'
#define KEY_RCPT 'R'
#define KEY_RCPT_SUB 'r'
#define KEY_V4 '4'
#define KEY_V6 '6'
#define KEY_MAX (2 + POLICY_DOMAIN_MAX)

typedef struct parser {
    const char *file;
    policy_diag *diag;
    policy *p;
    ruleindex *cipher_specs; /* ciphers= string -> index into p->csets */
    unsigned line;
    int errors;
} parser;

/* ---- diagnostics ------------------------------------------------------------------- */

void policy_diag_free(policy_diag *diag)
{
    if (!diag)
        return;
    for (size_t i = 0; i < diag->n; i++)
        free(diag->msgs[i]);
    free(diag->msgs);
    memset(diag, 0, sizeof(*diag));
}

void policy_diag_add_error(policy_diag *diag, char *msg)
{
    if (diag->n == diag->cap) {
        diag->cap = diag->cap ? diag->cap * 2 : 8;
        diag->msgs = xrealloc(diag->msgs, diag->cap * sizeof(*diag->msgs));
    }
    diag->msgs[diag->n++] = msg;
    diag->errors++;
}

int policy_next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    const char *nl;

    if (!text || *pos >= len)
        return 0;
    *line = text + *pos;
    nl = memchr(*line, '\n', len - *pos);
    *n = nl ? (size_t)(nl - *line) : len - *pos;
    *pos += *n + (nl ? 1 : 0);
    return 1;
}

__attribute__((format(printf, 2, 3))) static void perr(parser *ps, const char *fmt, ...)
{
    char head[512];
    va_list ap;
    int hlen, blen;
    char *msg;

    ps->errors++;
    if (!ps->diag)
        return;
    hlen = snprintf(head, sizeof(head), "%s:%u: error: ", ps->file, ps->line);
    if (hlen < 0)
        hlen = 0;
    if ((size_t)hlen >= sizeof(head))
        hlen = (int)sizeof(head) - 1;
    va_start(ap, fmt);
    blen = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (blen < 0)
        blen = 0;
    msg = xmalloc((size_t)hlen + (size_t)blen + 1);
    memcpy(msg, head, (size_t)hlen);
    va_start(ap, fmt);
    vsnprintf(msg + hlen, (size_t)blen + 1, fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++) /* a selector may hold U-labels: printable messages only */
        if ((unsigned char)*c >= 0x7f)
            *c = '?';
    policy_diag_add_error(ps->diag, msg);
}

/* ---- names ------------------------------------------------------------------------- */

static const char *const level_names[] = {"none", "may",       "encrypt",    "verify",
                                          "dane", "dane-only", "fingerprint"};
static const char *const action_names[] = {"default", "accept",     "reject", "defer",
                                           "tag",     "quarantine", "monitor"};
static const char *const verdict_names[] = {"none", "pass", "fail", "downgrade",
                                            "auth-plaintext", "unreadable"};
static const char *const downgrade_names[] = {"unset", "off", "monitor", "tag", "defer", "reject"};

const char *policy_level_name(policy_level l)
{
    return NAME_OF(level_names, l);
}

const char *policy_action_name(policy_action a)
{
    return NAME_OF(action_names, a);
}

const char *policy_verdict_name(policy_verdict v)
{
    return NAME_OF(verdict_names, v);
}

const char *policy_downgrade_name(policy_downgrade d)
{
    return NAME_OF(downgrade_names, d);
}

int policy_action_from_name(const char *name, policy_action *out)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < COUNT(action_names); i++) {
        if (strcasecmp(name, action_names[i]) == 0) {
            if (out)
                *out = (policy_action)i;
            return 0;
        }
    }
    return -1;
}

static int level_from_name(const char *name, policy_level *out)
{
    for (size_t i = 0; i < COUNT(level_names); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (policy_level)i;
            return 0;
        }
    }
    return -1;
}

/* ---- selector keys (shared by the parser and the matcher) ----------------------------- */

static size_t domain_key(unsigned char *key, char tag, const char *domain)
{
    size_t n = strlen(domain);
    key[0] = (unsigned char)tag;
    memcpy(key + 1, domain, n);
    return n + 1;
}

static size_t addr_key(unsigned char *key, int family, const unsigned char *addr, unsigned prefix)
{
    size_t alen = family == 4 ? 4 : 16;
    key[0] = family == 4 ? KEY_V4 : KEY_V6;
    key[1] = (unsigned char)prefix;
    for (size_t i = 0; i < alen; i++) {
        unsigned bits = prefix > i * 8 ? prefix - (unsigned)(i * 8) : 0;
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff00u >> bits);
        key[2 + i] = addr[i] & mask;
    }
    return 2 + alen;
}

/* Parses a textual IP address into addr (16 bytes). With map_v4, an IPv4-mapped IPv6
 * address (as a dual-stack socket reports an IPv4 peer) counts as IPv4. Returns the family
 * (4 or 6) or 0. */
static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int parse_ip(const char *s, size_t len, unsigned char *addr, int map_v4)
{
    char buf[64];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return 0;
    if (map_v4 && memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
        memmove(addr, addr + 12, 4);
        return 4;
    }
    return 6;
}

/* ---- matching ------------------------------------------------------------------------ */

static void consider(const policy *p, const unsigned char *key, size_t klen, size_t *best)
{
    size_t v;
    if (ruleindex_get(p->index, key, klen, &v) && v < *best)
        *best = v;
}

const policy_rule *policy_match(const policy *p, int rcpt_side, const char *domain,
                                const char *client_addr)
{
    unsigned char key[KEY_MAX];
    char dom[POLICY_DOMAIN_MAX];
    size_t best = NO_RULE;

    if (!p || p->n == 0)
        return NULL;
    if (domain && *domain && policy_domain_normalize(domain, dom, sizeof(dom)) == 0) {
        consider(p, key, domain_key(key, rcpt_side ? KEY_RCPT : KEY_FROM, dom), &best);
        for (const char *s = strchr(dom, '.'); s; s = strchr(s + 1, '.'))
            consider(p, key, domain_key(key, rcpt_side ? KEY_RCPT_SUB : KEY_FROM_SUB, s + 1),
                     &best);
    }
    if (!rcpt_side && client_addr) {
        unsigned char addr[16];
        const char *a = client_addr;
        int fam;

        if (strncasecmp(a, "IPv6:", 5) == 0)
            a += 5;
        fam = parse_ip(a, strnlen(a, 64), addr, 1);
        if (fam == 4) {
            for (unsigned len = 0; len <= 32; len++)
                if (p->v4_prefixes[len])
                    consider(p, key, addr_key(key, 4, addr, len), &best);
        } else if (fam == 6) {
            for (unsigned len = 0; len <= 128; len++)
                if (p->v6_prefixes[len])
                    consider(p, key, addr_key(key, 6, addr, len), &best);
        }
    }
    if (!rcpt_side && p->any_rule < best)
        best = p->any_rule;
    return best == NO_RULE ? NULL : p->rules[best];
}

/* ---- selectors ----------------------------------------------------------------------- */

static int parse_domain_selector(parser *ps, policy_rule *r, const char *sel, const char *rest)
{
    char dom[POLICY_DOMAIN_MAX];
    size_t plen = (size_t)(rest - sel);

    if (*rest == '.') {
        r->subdomains = 1;
        rest++;
    }
    if (policy_domain_normalize(rest, dom, sizeof(dom)) < 0) {
        perr(ps, "bad domain in selector '%.300s'%s", sel,
             strchr(rest, '*') ? " (write .example.com for any subdomain)" : "");
        return -1;
    }
    r->domain = xstrdup(dom);
    r->text = xmalloc(plen + 1 + strlen(dom) + 1);
    sprintf(r->text, "%s%s%s", r->kind == POLICY_SEL_FROM ? "from:" : "rcpt:",
            r->subdomains ? "." : "", dom);
    return 0;
}

static int parse_client_selector(parser *ps, policy_rule *r, const char *sel, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
    unsigned maxlen, prefix;
    unsigned char masked[KEY_MAX];
    char buf[INET6_ADDRSTRLEN];

    /* Postfix writes IPv6 networks as [2001:db8::]/32; accept that spelling too. */
    if (alen >= 2 && rest[0] == '[' && rest[alen - 1] == ']') {
        rest++;
        alen -= 2;
    }
    r->family = parse_ip(rest, alen, r->addr, 0);
    if (r->family == 0) {
        perr(ps, "bad address in selector '%.300s'", sel);
        return -1;
    }
    maxlen = r->family == 4 ? 32 : 128;
    prefix = maxlen;
    if (slash) {
        const char *d = slash + 1;
        size_t n = strlen(d);
        if (n == 0 || n > 3 || strspn(d, "0123456789") != n || (prefix = (unsigned)atoi(d)) > maxlen) {
            perr(ps, "bad CIDR in selector '%.300s': prefix length must be 0..%u", sel, maxlen);
            return -1;
        }
    }
    addr_key(masked, r->family, r->addr, prefix);
    if (memcmp(masked + 2, r->addr, r->family == 4 ? 4 : 16) != 0) {
        perr(ps, "bad CIDR in selector '%.300s': host bits set", sel);
        return -1;
    }
    /* ::ffff:198.51.100.0/120 is an IPv4 network: clients are matched as IPv4 (policy_match
     * maps a dual-stack socket's ::ffff:a.b.c.d), so the rule is read, shown and indexed as
     * 198.51.100.0/24. A shorter prefix cannot reach here: its host bits hold the ffff. */
    if (r->family == 6 && prefix >= 96 && memcmp(r->addr, v4mapped, sizeof(v4mapped)) == 0) {
        memmove(r->addr, r->addr + 12, 4);
        r->family = 4;
        prefix -= 96;
    }
    r->prefix = prefix;
    inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, buf, sizeof(buf));
    r->text = xmalloc(strlen("client:") + strlen(buf) + 5);
    if (slash)
        sprintf(r->text, "client:%s/%u", buf, prefix);
    else
        sprintf(r->text, "client:%s", buf);
    return 0;
}

static int parse_selector(parser *ps, policy_rule *r, const char *sel)
{
    if (strcmp(sel, "*") == 0) {
        r->kind = POLICY_SEL_ANY;
        r->text = xstrdup("*");
        return 0;
    }
    if (strncasecmp(sel, "from:", 5) == 0) {
        r->kind = POLICY_SEL_FROM;
        return parse_domain_selector(ps, r, sel, sel + 5);
    }
    if (strncasecmp(sel, "rcpt:", 5) == 0) {
        r->kind = POLICY_SEL_RCPT;
        return parse_domain_selector(ps, r, sel, sel + 5);
    }
    if (strncasecmp(sel, "client:", 7) == 0) {
        r->kind = POLICY_SEL_CLIENT;
        return parse_client_selector(ps, r, sel, sel + 7);
    }
    perr(ps, "unknown selector '%.300s' (expected from:, rcpt:, client: or *)", sel);
    return -1;
}

/* Records the selector in the index; a second rule with the same selector is an error. */
static int register_selector(parser *ps, policy_rule *r)
{
    policy *p = ps->p;
    unsigned char key[KEY_MAX];
    size_t klen, first;
    char tag;

    switch (r->kind) {
    case POLICY_SEL_ANY:
        if (p->any_rule != NO_RULE) {
            first = p->any_rule;
            goto dup;
        }
        p->any_rule = r->index;
        return 0;
    case POLICY_SEL_FROM:
    case POLICY_SEL_RCPT:
        if (r->kind == POLICY_SEL_FROM)
            tag = r->subdomains ? KEY_FROM_SUB : KEY_FROM;
        else
            tag = r->subdomains ? KEY_RCPT_SUB : KEY_RCPT;
        klen = domain_key(key, tag, r->domain);
        break;
    case POLICY_SEL_CLIENT:
    default:
        klen = addr_key(key, r->family, r->addr, r->prefix);
        if (r->family == 4)
            p->v4_prefixes[r->prefix] = 1;
        else
            p->v6_prefixes[r->prefix] = 1;
        break;
    }
    if (ruleindex_add(p->index, key, klen, r->index, &first))
        return 0;
dup:
    perr(ps, "duplicate selector %s (first at line %u)", r->text, p->rules[first]->line);
    return -1;
}

/* ---- attributes ---------------------------------------------------------------------- */

/* The protocol names Postfix accepts; SSLv2 is accepted but can never be negotiated. */
static int proto_bit(const char *name, size_t len, unsigned *bit)
{
    char buf[16];
    int v;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (strcasecmp(buf, "SSLv2") == 0) {
        *bit = 0;
        return 0;
    }
    v = policy_tls_version_number(buf);
    if (v < 0)
        return -1;
    *bit = 1u << (v - 0x0300);
    return 0;
}

/* Postfix semantics: positive names form the allowed set (all if none), then >= / <=
 * bounds narrow it and !exclusions remove from it. */
static int parse_protocols(parser *ps, policy_rule *r, const char *v)
{
    unsigned positive = 0, excluded = 0, range = PROTO_ALL, bit;
    int have_positive = 0, ok = 0;
    const char *s = v;

    while (*s) {
        size_t n = strcspn(s, ":,");
        const char *item = s;
        s += n;
        if (*s)
            s++;
        if (n == 0)
            continue; /* Postfix tolerates empty list items */
        if (item[0] == '!') {
            if (proto_bit(item + 1, n - 1, &bit) < 0)
                goto bad;
            excluded |= bit;
        } else if (n >= 2 && (item[0] == '>' || item[0] == '<') && item[1] == '=') {
            if (proto_bit(item + 2, n - 2, &bit) < 0)
                goto bad;
            if (bit) /* SSLv2 is below everything: >=SSLv2 is all, <=SSLv2 is nothing */
                range &= item[0] == '>' ? ~(bit - 1) : (bit | (bit - 1));
            else if (item[0] == '<')
                range = 0;
        } else {
            if (proto_bit(item, n, &bit) < 0)
                goto bad;
            positive |= bit;
            have_positive = 1;
        }
        continue;
    bad:
        perr(ps, "unknown protocol '%.*s' in protocols=%.300s", (int)(n > 64 ? 64 : n), item, v);
        ok = -1;
    }
    r->proto_mask = (have_positive ? positive : PROTO_ALL) & range & ~excluded & PROTO_ALL;
    if (ok == 0 && r->proto_mask == 0) {
        perr(ps, "protocols=%.300s allows no protocol", v);
        ok = -1;
    }
    r->protocols = xstrdup(v);
    return ok;
}

static int parse_ciphers(parser *ps, policy_rule *r, const char *v)
{
    policy *p = ps->p;
    size_t i, n = strlen(v);
    char err[256];
    cipher_set *set;

    r->ciphers = xstrdup(v);
    /* Expanding a string costs an OpenSSL context; rules usually repeat a few strings. */
    if (ruleindex_get(ps->cipher_specs, v, n, &i)) {
        r->cset = p->csets[i];
        return 0;
    }
    set = cipher_set_new(v, err, sizeof(err));
    if (!set) {
        perr(ps, "invalid cipher string ciphers=%.300s: %s", v, err);
        return -1;
    }
    p->csets = xrealloc(p->csets, (p->ncsets + 1) * sizeof(*p->csets));
    p->csets[p->ncsets] = set;
    ruleindex_add(ps->cipher_specs, v, n, p->ncsets, NULL);
    p->ncsets++;
    r->cset = set;
    return 0;
}

static int parse_min_bits(parser *ps, policy_rule *r, const char *v)
{
    int bits = policy_cipher_bits_parse(v);
    if (bits < 1) {
        perr(ps, "bad min_bits=%.64s (expected 1..65535)", v);
        return -1;
    }
    r->min_bits = (unsigned)bits;
    return 0;
}

/* match= of level fingerprint: comma-separated fingerprints, kept normalised in r->names. */
static int parse_fingerprints(parser *ps, policy_rule *r, const char *v)
{
    const char *s = v;
    char fp[POLICY_FP_MAX], buf[POLICY_FP_MAX + 1];
    int ok = 0;

    while (*s) {
        size_t n = strcspn(s, ",");
        const char *item = s;

        s += n;
        if (*s)
            s++;
        if (n == 0)
            continue;
        if (n < sizeof(buf)) {
            memcpy(buf, item, n);
            buf[n] = '\0';
        }
        if (n >= sizeof(buf) || policy_fingerprint_normalize(buf, fp, sizeof(fp)) < 0) {
            perr(ps, "bad fingerprint '%.*s' in match= (expected the hex digits of an MD5, SHA-1 or "
                 "SHA-2 digest, with or without ':' between bytes)", (int)(n > 64 ? 64 : n), item);
            ok = -1;
            continue;
        }
        r->names = xrealloc(r->names, (r->nnames + 1) * sizeof(*r->names));
        r->names[r->nnames].name = xstrdup(fp);
        r->names[r->nnames].subdomains = 0;
        r->nnames++;
    }
    if (ok == 0 && r->nnames == 0) {
        perr(ps, "match=%.300s names nothing", v);
        ok = -1;
    }
    return ok;
}

static int parse_match(parser *ps, policy_rule *r, const char *v)
{
    const char *s = v;
    char dom[POLICY_DOMAIN_MAX];
    int ok = 0;

    r->match = xstrdup(v);
    if (r->level == POLICY_LEVEL_FINGERPRINT)
        return parse_fingerprints(ps, r, v);
    while (*s) {
        size_t n = strcspn(s, ":,");
        const char *item = s;
        int sub = 0;
        char buf[POLICY_DOMAIN_MAX + 2];

        s += n;
        if (*s)
            s++;
        if (n == 0)
            continue;
        if (item[0] == '.') {
            sub = 1;
            item++;
            n--;
        }
        if (n < sizeof(buf)) {
            memcpy(buf, item, n);
            buf[n] = '\0';
        }
        if (n >= sizeof(buf) || policy_domain_normalize(buf, dom, sizeof(dom)) < 0) {
            perr(ps, "bad name '%s%.*s' in match=%.300s", sub ? "." : "", (int)(n > 64 ? 64 : n),
                 item, v);
            ok = -1;
            continue;
        }
        r->names = xrealloc(r->names, (r->nnames + 1) * sizeof(*r->names));
        r->names[r->nnames].name = xstrdup(dom);
        r->names[r->nnames].subdomains = sub;
        r->nnames++;
    }
    if (ok == 0 && r->nnames == 0) {
        perr(ps, "match=%.300s names nothing", v);
        ok = -1;
    }
    return ok;
}

static int is_dane_level(policy_level l)
{
    return l == POLICY_LEVEL_DANE || l == POLICY_LEVEL_DANE_ONLY;
}

static int parse_action(parser *ps, policy_rule *r, const char *v)
{
    int dane = is_dane_level(r->level);
    policy_action a;

    if (policy_action_from_name(v, &a) < 0 || a == POLICY_ACTION_DEFAULT ||
        a == POLICY_ACTION_ACCEPT) {
        perr(ps, "unknown action '%.64s' (expected %sdefer, tag, quarantine or monitor)", v,
             dane ? "" : "reject, ");
        return -1;
    }
    /* A failing dane rule is a DNS error or a missing DANE record: both can change, so the
     * sender must try again rather than bounce. */
    if (dane && a == POLICY_ACTION_REJECT) {
        perr(ps, "action=reject is not valid for level %s: DNS failures are temporary (expected "
             "defer, tag, quarantine or monitor)", policy_level_name(r->level));
        return -1;
    }
    r->action = a;
    return 0;
}

/* downgrade= is about the sending peer, so it belongs to the rules evaluated at MAIL. */
static int parse_downgrade(parser *ps, policy_rule *r, const char *v)
{
    if (r->kind == POLICY_SEL_RCPT) {
        perr(ps, "attribute downgrade= is only valid for sender-side rules (client:, from:, *)");
        return -1;
    }
    for (size_t i = POLICY_DOWNGRADE_OFF; i < COUNT(downgrade_names); i++) {
        if (strcasecmp(v, downgrade_names[i]) == 0) {
            r->downgrade = (policy_downgrade)i;
            return 0;
        }
    }
    perr(ps, "unknown downgrade '%.64s' (expected off, monitor, tag, defer or reject)", v);
    return -1;
}

#define LEVELS_FLOORS                                                                          \
    ((1u << POLICY_LEVEL_MAY) | (1u << POLICY_LEVEL_ENCRYPT) | (1u << POLICY_LEVEL_VERIFY) |     \
     (1u << POLICY_LEVEL_FINGERPRINT))
#define LEVELS_ACTION                                                                          \
    ((1u << POLICY_LEVEL_ENCRYPT) | (1u << POLICY_LEVEL_VERIFY) | (1u << POLICY_LEVEL_DANE) |   \
     (1u << POLICY_LEVEL_DANE_ONLY) | (1u << POLICY_LEVEL_FINGERPRINT))
#define LEVELS_MATCH ((1u << POLICY_LEVEL_VERIFY) | (1u << POLICY_LEVEL_FINGERPRINT))
#define LEVELS_DOWNGRADE                                                                       \
    ((1u << POLICY_LEVEL_NONE) | (1u << POLICY_LEVEL_MAY) | (1u << POLICY_LEVEL_ENCRYPT) |       \
     (1u << POLICY_LEVEL_VERIFY) | (1u << POLICY_LEVEL_FINGERPRINT))

static const struct attr_def {
    const char *name;
    unsigned bit;
    unsigned levels; /* bit (1 << level) set where the attribute is valid */
    int (*parse)(parser *ps, policy_rule *r, const char *value);
} attr_defs[] = {
    {"protocols", ATTR_PROTOCOLS, LEVELS_FLOORS, parse_protocols},
    {"ciphers", ATTR_CIPHERS, LEVELS_FLOORS, parse_ciphers},
    {"min_bits", ATTR_MIN_BITS, LEVELS_FLOORS, parse_min_bits},
    {"match", ATTR_MATCH, LEVELS_MATCH, parse_match},
    {"action", ATTR_ACTION, LEVELS_ACTION, parse_action},
    {"downgrade", ATTR_DOWNGRADE, LEVELS_DOWNGRADE, parse_downgrade},
};

static int parse_attr(parser *ps, policy_rule *r, const char *tok, int level_known)
{
    const char *eq = strchr(tok, '=');
    const struct attr_def *def = NULL;
    size_t nlen;
    int ok = 0;

    if (!eq || eq == tok) {
        perr(ps, "expected attribute=value, got '%.300s'", tok);
        return -1;
    }
    nlen = (size_t)(eq - tok);
    for (size_t i = 0; i < COUNT(attr_defs); i++)
        if (strlen(attr_defs[i].name) == nlen && strncasecmp(tok, attr_defs[i].name, nlen) == 0)
            def = &attr_defs[i];
    if (!def) {
        perr(ps, "unknown attribute '%.*s'", (int)(nlen > 64 ? 64 : nlen), tok);
        return -1;
    }
    if (r->attrs & def->bit) {
        perr(ps, "duplicate attribute %s=", def->name);
        return -1;
    }
    r->attrs |= def->bit;
    if (level_known && !(def->levels & (1u << r->level))) {
        perr(ps, "attribute %s= is not valid for level %s", def->name, policy_level_name(r->level));
        ok = -1;
    }
    if (eq[1] == '\0') {
        perr(ps, "empty value for %s=", def->name);
        return -1;
    }
    return def->parse(ps, r, eq + 1) < 0 ? -1 : ok;
}

/* ---- rules and lines ----------------------------------------------------------------- */

static void rule_free(policy_rule *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->domain);
    free(r->protocols);
    free(r->ciphers);
    free(r->match);
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i].name);
    free(r->names);
    free(r);
}

static char *next_token(char **cursor)
{
    char *s = *cursor, *t;
    s += strspn(s, " \t");
    if (!*s)
        return NULL;
    t = s + strcspn(s, " \t");
    if (*t)
        *t++ = '\0';
    *cursor = t;
    return s;
}

/* Parses one rule from a NUL-terminated, comment-free, printable line. The rule is kept
 * even when it has errors: the policy is then discarded anyway, and later lines can still
 * be checked against its selector. */
static void parse_rule(parser *ps, char *line)
{
    char *cursor = line, *tok, *sel;
    policy *p = ps->p;
    policy_rule *r;
    int level_known = 0, selector_known;

    sel = next_token(&cursor);
    if (!sel)
        return;
    r = xcalloc(1, sizeof(*r));
    r->line = ps->line;
    r->index = p->n;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->rules = xrealloc(p->rules, p->cap * sizeof(*p->rules));
    }
    p->rules[p->n++] = r;

    selector_known = parse_selector(ps, r, sel) == 0;
    if (selector_known)
        register_selector(ps, r);
    tok = next_token(&cursor);
    if (!tok)
        perr(ps, "missing level after selector '%.300s'", sel);
    else if (level_from_name(tok, &r->level) < 0)
        perr(ps, "unknown level '%.64s' (expected none, may, encrypt, verify, fingerprint, dane or "
             "dane-only)", tok);
    else
        level_known = 1;
    /* DANE is about where mail goes (the recipient domain's MX hosts), not where it came from. */
    if (level_known && selector_known && is_dane_level(r->level) && r->kind != POLICY_SEL_RCPT)
        perr(ps, "level %s is only valid for rcpt: rules", policy_level_name(r->level));
    while ((tok = next_token(&cursor)) != NULL)
        parse_attr(ps, r, tok, level_known);
    if (level_known && r->level == POLICY_LEVEL_FINGERPRINT && !(r->attrs & ATTR_MATCH))
        perr(ps, "level fingerprint needs match= (the certificate fingerprints to accept)");
}

static void parse_line(parser *ps, const char *s, size_t n, char *buf)
{
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n > POLICY_LINE_MAX) {
        perr(ps, "line too long (%zu bytes, at most %d)", n, POLICY_LINE_MAX);
        return;
    }
    if (memchr(s, '\0', n)) {
        perr(ps, "NUL byte in line");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
            n = i;
            break;
        }
    }
    for (size_t i = 0, sel = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        sel = sel && c != ' ' && c != '\t';
        if (sel && c >= 0x80)
            continue; /* a selector's U-labels: A-labels after policy_domain_normalize() */
        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            perr(ps, "invalid character 0x%02x at column %zu", c, i + 1);
            return;
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    parse_rule(ps, buf);
}

policy *policy_parse(const char *text, size_t len, const char *filename, policy_diag *diag)
{
    parser ps;
    char *buf;
    const char *s;
    size_t pos = 0, n;

    memset(&ps, 0, sizeof(ps));
    ps.file = filename ? filename : "(policy)";
    ps.diag = diag;
    ps.p = policy_builtin();
    ps.cipher_specs = ruleindex_new();
    buf = xmalloc(POLICY_LINE_MAX + 1);
    while (policy_next_line(text, len, &pos, &s, &n)) {
        ps.line++;
        parse_line(&ps, s, n, buf);
    }
    free(buf);
    ruleindex_free(ps.cipher_specs);
    if (ps.errors > 0)
        return policy_free(ps.p);
    return ps.p;
}

policy *policy_builtin(void)
{
    policy *p = xcalloc(1, sizeof(*p));
    p->index = ruleindex_new();
    p->any_rule = NO_RULE;
    return p;
}

policy *policy_free(policy *p)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        rule_free(p->rules[i]);
    free(p->rules);
    for (size_t i = 0; i < p->ncsets; i++)
        cipher_set_free(p->csets[i]);
    free(p->csets);
    ruleindex_free(p->index);
    free(p);
    return NULL;
}

/* ---- introspection ------------------------------------------------------------------- */

size_t policy_rule_count(const policy *p)
{
    return p ? p->n : 0;
}

const policy_rule *policy_rule_at(const policy *p, size_t i)
{
    return p && i < p->n ? p->rules[i] : NULL;
}

policy_selector_kind policy_rule_kind(const policy_rule *r)
{
    return r ? r->kind : POLICY_SEL_ANY;
}

policy_level policy_rule_level(const policy_rule *r)
{
    return r->level;
}

unsigned policy_rule_line(const policy_rule *r)
{
    return r ? r->line : 0;
}

policy_downgrade policy_rule_downgrade(const policy_rule *r)
{
    return r ? r->downgrade : POLICY_DOWNGRADE_UNSET;
}

void policy_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*used + 1 >= size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used = (size_t)n >= size - *used ? size - 1 : *used + (size_t)n;
}

void policy_rule_describe(const policy_rule *r, char *buf, size_t size)
{
    size_t used = 0;

    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    if (!r)
        return;
    policy_append(buf, size, &used, "line %u: %s %s", r->line, r->text ? r->text : "?",
           policy_level_name(r->level));
    if (r->attrs & ATTR_PROTOCOLS)
        policy_append(buf, size, &used, " protocols=%s", r->protocols);
    if (r->attrs & ATTR_CIPHERS)
        policy_append(buf, size, &used, " ciphers=%s", r->ciphers);
    if (r->attrs & ATTR_MIN_BITS)
        policy_append(buf, size, &used, " min_bits=%u", r->min_bits);
    if ((r->attrs & ATTR_MATCH) && r->level == POLICY_LEVEL_FINGERPRINT) {
        /* As understood: normalised, so that a typo in the separators shows. */
        for (size_t i = 0; i < r->nnames; i++)
            policy_append(buf, size, &used, "%s%s", i ? "," : " match=", r->names[i].name);
    } else if (r->attrs & ATTR_MATCH) {
        policy_append(buf, size, &used, " match=%s", r->match);
    }
    if (r->level == POLICY_LEVEL_ENCRYPT || r->level == POLICY_LEVEL_VERIFY ||
        r->level == POLICY_LEVEL_FINGERPRINT)
        policy_append(buf, size, &used, " action=%s", policy_action_name(r->action));
    else if (is_dane_level(r->level)) /* not default_action: a dane failure defers unless told */
        policy_append(buf, size, &used, " action=%s",
                      policy_action_name(r->action == POLICY_ACTION_DEFAULT ? POLICY_ACTION_DEFER : r->action));
    if (r->attrs & ATTR_DOWNGRADE)
        policy_append(buf, size, &used, " downgrade=%s", policy_downgrade_name(r->downgrade));
}
