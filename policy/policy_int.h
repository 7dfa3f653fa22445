/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_POLICY_INT_H
#define TLSGUARD_POLICY_INT_H

/*
 * policy_int - the representation of a parsed policy, shared by the parser (policy.c) and
 * the evaluator (policy_eval.c). Internal to policy/; adapters see only policy.h.
 */

#include "cipher.h"
#include "policy.h"
#include "ruleindex.h"

/* Attributes a rule can carry (bits of policy_rule.attrs). */
enum {
    ATTR_PROTOCOLS = 1u << 0,
    ATTR_CIPHERS = 1u << 1,
    ATTR_MIN_BITS = 1u << 2,
    ATTR_MATCH = 1u << 3,
    ATTR_ACTION = 1u << 4,
    ATTR_DOWNGRADE = 1u << 5
};

/* Protocol masks: bit i stands for version 0x0300 + i (SSLv3 .. TLSv1.3). */
#define PROTO_BITS 5
#define PROTO_ALL ((1u << PROTO_BITS) - 1)

#define NO_RULE ((size_t)-1)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* The name of enum value v in a table of names, or "unknown" for a value outside it. */
#define NAME_OF(table, v) ((unsigned)(v) < COUNT(table) ? (table)[v] : "unknown")

typedef struct match_name {
    char *name;     /* canonical domain, without the leading dot */
    int subdomains; /* written as ".domain": any subdomain, not the domain itself */
} match_name;

struct policy_rule {
    size_t index; /* position in file order; lower wins */
    unsigned line;
    policy_selector_kind kind;
    char *text; /* canonical selector, e.g. "from:.bank.example", "client:10.0.0.0/8" */

    char *domain;   /* from:/rcpt: canonical domain, without the leading dot */
    int subdomains; /* from:.DOMAIN / rcpt:.DOMAIN */

    int family;             /* client: 4 or 6 */
    unsigned char addr[16]; /* client: network address (host bits are zero) */
    unsigned prefix;        /* client: prefix length */

    policy_level level;
    unsigned attrs;         /* ATTR_* written in the file */
    char *protocols;        /* as written */
    unsigned proto_mask;    /* versions allowed */
    char *ciphers;          /* as written */
    const cipher_set *cset; /* owned by the policy */
    unsigned min_bits;
    char *match; /* as written */
    match_name *names; /* verify: names; fingerprint: normalised fingerprints */
    size_t nnames;
    policy_action action; /* POLICY_ACTION_DEFAULT unless action= was written */
    policy_downgrade downgrade; /* POLICY_DOWNGRADE_UNSET unless downgrade= was written */
};

struct policy {
    policy_rule **rules; /* file order */
    size_t n, cap;
    ruleindex *index;      /* selector keys -> rule index */
    size_t any_rule;       /* the "*" rule, or NO_RULE */
    unsigned char v4_prefixes[33];  /* prefix lengths used by client: rules */
    unsigned char v6_prefixes[129];
    cipher_set **csets; /* one per distinct ciphers= string */
    size_t ncsets;
};

/*
 * The one place that decides which rule applies: the lowest rule index among all the rules
 * whose selector matches. rcpt_side selects rcpt: rules (by domain) or the sender-side
 * rules (from: by domain, client: by address, "*"). Returns NULL if none matches.
 */
const policy_rule *policy_match(const policy *p, int rcpt_side, const char *domain,
                                const char *client_addr);

/* Appends printf output to buf (size bytes, NUL-terminated) at *used, truncating; *used never
 * exceeds size - 1 and counts the bytes written. */
__attribute__((format(printf, 4, 5))) void policy_append(char *buf, size_t size, size_t *used,
                                                         const char *fmt, ...);

#endif
