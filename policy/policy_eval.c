/* SPDX-License-Identifier: MIT */
/*
 * policy_eval - turns a matched rule and the facts of a transaction into a decision:
 * verdict, action, reason and the exact SMTP reply; and the X-TLS-Policy header value.
 *
 * Everything taken from the facts is sanitised before it reaches a reason, a reply or a
 * header, because those texts travel to SMTP clients, logs and the database.
 */
#include "policy_int.h"

/* libc */
#include <stdio.h>
#include <string.h>

typedef enum fail_kind {
    FAIL_NONE = 0,
    FAIL_NO_TLS,    /* 530 5.7.0 / 451 4.7.0 */
    FAIL_TLS_FLOOR, /* protocol, cipher, bits, certificate: 550 5.7.1 / 451 4.7.1 */
} fail_kind;

static const policy_facts no_facts = {.cipher_bits = -1};

static fail_kind check_floors(const policy_rule *r, const policy_facts *f, char *reason,
                              size_t size)
{
    char seen[128];

    if (r->attrs & ATTR_PROTOCOLS) {
        /* An unknown version string is never allowed: it cannot be shown to meet a floor. */
        int v = policy_tls_version_number(f->tls_version);
        if (v < 0 || !(r->proto_mask & (1u << (v - 0x0300)))) {
            policy_sanitize(f->tls_version, seen, sizeof(seen));
            snprintf(reason, size, "protocol %s not allowed by protocols=%s", seen, r->protocols);
            return FAIL_TLS_FLOOR;
        }
    }
    if ((r->attrs & ATTR_CIPHERS) && !cipher_set_allows(r->cset, f->cipher)) {
        if (f->cipher && *f->cipher) {
            policy_sanitize(f->cipher, seen, sizeof(seen));
            snprintf(reason, size, "cipher %s not allowed by ciphers=%s", seen, r->ciphers);
        } else {
            snprintf(reason, size, "cipher unknown, not allowed by ciphers=%s", r->ciphers);
        }
        return FAIL_TLS_FLOOR;
    }
    if (r->attrs & ATTR_MIN_BITS) {
        if (f->cipher_bits < 0) {
            snprintf(reason, size, "cipher bits unknown");
            return FAIL_TLS_FLOOR;
        }
        if ((unsigned)f->cipher_bits < r->min_bits) {
            snprintf(reason, size, "cipher bits %d below min_bits=%u", f->cipher_bits, r->min_bits);
            return FAIL_TLS_FLOOR;
        }
    }
    return FAIL_NONE;
}

/* Exact names match the CN itself; ".domain" names match any subdomain, not the domain. */
static int cn_matches(const policy_rule *r, const char *subject)
{
    char cn[POLICY_DOMAIN_MAX];
    size_t cnlen;

    if (policy_domain_normalize(subject, cn, sizeof(cn)) < 0)
        return 0;
    cnlen = strlen(cn);
    for (size_t i = 0; i < r->nnames; i++) {
        const char *name = r->names[i].name;
        size_t n = strlen(name);
        if (!r->names[i].subdomains) {
            if (strcmp(cn, name) == 0)
                return 1;
        } else if (cnlen > n + 1 && cn[cnlen - n - 1] == '.' && strcmp(cn + cnlen - n, name) == 0) {
            return 1;
        }
    }
    return 0;
}

static fail_kind check_cert(const policy_rule *r, const policy_facts *f, char *reason, size_t size)
{
    char cn[POLICY_DOMAIN_MAX];

    if (!f->cert_verified) {
        snprintf(reason, size, "no trusted client certificate");
        return FAIL_TLS_FLOOR;
    }
    if (r->nnames > 0 && !cn_matches(r, f->cert_subject)) {
        if (f->cert_subject && *f->cert_subject) {
            policy_sanitize(f->cert_subject, cn, sizeof(cn));
            snprintf(reason, size, "client certificate CN %s does not match %s", cn, r->match);
        } else {
            snprintf(reason, size, "client certificate without CN does not match %s", r->match);
        }
        return FAIL_TLS_FLOOR;
    }
    return FAIL_NONE;
}

/* Level fingerprint: the certificate is pinned, so the MTA need not trust it. */
static fail_kind check_fingerprint(const policy_rule *r, const policy_facts *f, char *reason,
                                   size_t size)
{
    char fp[POLICY_FP_MAX], seen[POLICY_FP_MAX];
    int bytes, same_digest = 0;

    if (!f->cert_fp || !*f->cert_fp) {
        if (f->cert_none)
            snprintf(reason, size, "no client certificate");
        else
            snprintf(reason, size, "the MTA passed no certificate fingerprint ({cert_fp} or "
                     "{cert_md5}); Postfix does not send one");
        return FAIL_TLS_FLOOR;
    }
    bytes = policy_fingerprint_normalize(f->cert_fp, fp, sizeof(fp));
    if (bytes < 0) {
        policy_sanitize(f->cert_fp, seen, sizeof(seen));
        snprintf(reason, size, "the MTA passed a malformed certificate fingerprint %s", seen);
        return FAIL_TLS_FLOOR;
    }
    for (size_t i = 0; i < r->nnames; i++) {
        if (strcmp(fp, r->names[i].name) == 0)
            return FAIL_NONE;
        same_digest |= strlen(r->names[i].name) == strlen(fp);
    }
    /* Sendmail passes MD5 ({cert_md5}) unless CertFingerprintAlgorithm names another digest. */
    snprintf(reason, size, "client certificate %s fingerprint %s is not in match=%s%s%s",
             policy_fingerprint_digest(bytes), fp, same_digest ? "" : " (it lists no ",
             same_digest ? "" : policy_fingerprint_digest(bytes),
             same_digest ? "" : " fingerprint; see Sendmail's CertFingerprintAlgorithm)");
    return FAIL_TLS_FLOOR;
}

static policy_action fail_action(const policy_rule *r, const policy_opts *opts)
{
    policy_action a;

    /* `may` only flags; monitor mode never refuses. */
    if (r->level == POLICY_LEVEL_MAY || (opts && opts->monitor))
        return POLICY_ACTION_MONITOR;
    a = r->action;
    if (a == POLICY_ACTION_DEFAULT)
        a = opts ? opts->default_action : POLICY_ACTION_DEFER;
    if (a == POLICY_ACTION_DEFAULT || a == POLICY_ACTION_ACCEPT || a > POLICY_ACTION_MONITOR)
        a = POLICY_ACTION_DEFER; /* a configuration that names no refusal still refuses safely */
    return a;
}

static void set_reply(policy_decision *out, fail_kind kind, const char *subject)
{
    int reject = out->action == POLICY_ACTION_REJECT;
    const char *requirement = out->level == POLICY_LEVEL_VERIFY
                                  ? "TLS with a trusted client certificate required"
                              : out->level == POLICY_LEVEL_FINGERPRINT
                                  ? "TLS with a pinned client certificate required"
                                  : "TLS required";

    if (out->action != POLICY_ACTION_REJECT && out->action != POLICY_ACTION_DEFER)
        return;
    if (kind == FAIL_NO_TLS) {
        out->code = reject ? 530 : 451;
        snprintf(out->xcode, sizeof(out->xcode), "%s", reject ? "5.7.0" : "4.7.0");
    } else {
        out->code = reject ? 550 : 451;
        snprintf(out->xcode, sizeof(out->xcode), "%s", reject ? "5.7.1" : "4.7.1");
    }
    snprintf(out->reply, sizeof(out->reply), "%s for %s (rule %s): %s", requirement, subject,
             out->rule_text, out->reason);
}

/* A failing dane rule: `refusal` (defer, or reject for a null MX) unless the rule or the mode
 * asks only to mark or record. Never default_action: see parse_action. */
static policy_action dane_action(const policy_rule *r, const policy_opts *opts, policy_action refusal)
{
    if (opts && opts->monitor)
        return POLICY_ACTION_MONITOR;
    if (r->action == POLICY_ACTION_TAG || r->action == POLICY_ACTION_QUARANTINE ||
        r->action == POLICY_ACTION_MONITOR)
        return r->action;
    return refusal;
}

/* The dane and dane-only levels: the verdict comes from the DNS facts alone. */
static void decide_dane(const policy_rule *r, const policy_opts *opts, const policy_facts *f,
                        const char *domain, policy_decision *out)
{
    dane_decision dd;
    int no_dest;

    if (!f->dane) {
        out->needs_dane = 1;
        return;
    }
    dane_decide(f->dane, r->level == POLICY_LEVEL_DANE_ONLY, &dd);
    snprintf(out->dane, sizeof(out->dane), "%s", dd.summary);
    if (dd.pass) {
        out->verdict = POLICY_VERDICT_PASS;
        return;
    }
    no_dest = dd.result == DANE_RESULT_NO_DEST;
    out->verdict = POLICY_VERDICT_FAIL;
    snprintf(out->reason, sizeof(out->reason), "%s", dd.reason);
    out->action = dane_action(r, opts, no_dest ? POLICY_ACTION_REJECT : POLICY_ACTION_DEFER);
    if (no_dest && out->action == POLICY_ACTION_REJECT) {
        out->code = 556;
        snprintf(out->xcode, sizeof(out->xcode), "5.1.10");
        snprintf(out->reply, sizeof(out->reply), "no mail exchanger for %s (rule %s): %s", domain,
                 out->rule_text, out->reason);
    } else if (!no_dest && out->action == POLICY_ACTION_DEFER) {
        out->code = 451;
        snprintf(out->xcode, sizeof(out->xcode), "4.7.5");
        snprintf(out->reply, sizeof(out->reply), "%s for mail to %s (rule %s): %s",
                 r->level == POLICY_LEVEL_DANE_ONLY ? "DANE required" : "DNSSEC-valid DNS required",
                 domain, out->rule_text, out->reason);
    }
}

/* `domain` is the recipient domain for rcpt: rules, NULL on the sender side. */
static void decide(const policy_rule *r, const policy_opts *opts, const policy_facts *f,
                   const char *subject, const char *domain, policy_decision *out)
{
    fail_kind kind = FAIL_NONE;

    memset(out, 0, sizeof(*out));
    out->level = POLICY_LEVEL_NONE;
    out->verdict = POLICY_VERDICT_NONE;
    out->action = POLICY_ACTION_ACCEPT;
    if (!r)
        return;
    out->rule = r;
    policy_sanitize(r->text, out->rule_text, sizeof(out->rule_text));
    out->level = r->level;
    if (r->level == POLICY_LEVEL_NONE)
        return;
    if (r->level == POLICY_LEVEL_DANE || r->level == POLICY_LEVEL_DANE_ONLY) {
        /* The parser allows these levels on rcpt: rules only, so domain is known. */
        decide_dane(r, opts, f, domain ? domain : "", out);
        return;
    }

    if (!f->tls_version || !*f->tls_version) {
        if (r->level == POLICY_LEVEL_MAY) {
            out->verdict = POLICY_VERDICT_PASS;
            return;
        }
        kind = FAIL_NO_TLS;
        snprintf(out->reason, sizeof(out->reason), "session was not encrypted");
    } else {
        kind = check_floors(r, f, out->reason, sizeof(out->reason));
        if (kind == FAIL_NONE && r->level == POLICY_LEVEL_VERIFY)
            kind = check_cert(r, f, out->reason, sizeof(out->reason));
        if (kind == FAIL_NONE && r->level == POLICY_LEVEL_FINGERPRINT)
            kind = check_fingerprint(r, f, out->reason, sizeof(out->reason));
    }
    if (kind == FAIL_NONE) {
        out->verdict = POLICY_VERDICT_PASS;
        return;
    }
    out->verdict = POLICY_VERDICT_FAIL;
    out->action = fail_action(r, opts);
    set_reply(out, kind, subject);
}

void policy_eval_sender(const policy *p, const policy_opts *opts, const policy_facts *facts,
                        policy_decision *out)
{
    const policy_facts *f = facts ? facts : &no_facts;
    const policy_rule *r;
    char dom[POLICY_DOMAIN_MAX];
    char subject[POLICY_DOMAIN_MAX + 32];

    if (!out)
        return;
    r = policy_match(p, 0, f->mail_from_domain, f->client_addr);
    subject[0] = '\0';
    if (r && r->kind == POLICY_SEL_FROM) {
        /* It matched, so the domain normalises. */
        policy_domain_normalize(f->mail_from_domain, dom, sizeof(dom));
        snprintf(subject, sizeof(subject), "mail from %s", dom);
    } else if (r && r->kind == POLICY_SEL_CLIENT) {
        char addr[64];
        policy_sanitize(f->client_addr, addr, sizeof(addr));
        snprintf(subject, sizeof(subject), "client %s", addr);
    } else {
        snprintf(subject, sizeof(subject), "all mail");
    }
    decide(r, opts, f, subject, NULL, out);
}

void policy_eval_rcpt(const policy *p, const policy_opts *opts, const policy_facts *facts,
                      const char *rcpt_domain, policy_decision *out)
{
    const policy_facts *f = facts ? facts : &no_facts;
    const policy_rule *r;
    char dom[POLICY_DOMAIN_MAX];
    char subject[POLICY_DOMAIN_MAX + 32];

    if (!out)
        return;
    r = policy_match(p, 1, rcpt_domain, NULL);
    subject[0] = '\0';
    dom[0] = '\0';
    if (r) {
        policy_domain_normalize(rcpt_domain, dom, sizeof(dom));
        snprintf(subject, sizeof(subject), "mail to %s", dom);
    }
    decide(r, opts, f, subject, dom, out);
}

void policy_rules_add(char *rules, size_t size, const char *rule)
{
    size_t len = strlen(rules), n = rule ? strlen(rule) : 0;

    if (!n)
        return;
    for (const char *p = rules; *p;) {
        const char *end = strchr(p, ',');
        size_t elen = end ? (size_t)(end - p) : strlen(p);

        if (elen == n && memcmp(p, rule, n) == 0)
            return;
        p += elen + (end ? 1 : 0);
    }
    if (len + (len ? 1 : 0) + n + 1 > size)
        return;
    snprintf(rules + len, size - len, "%s%s", len ? "," : "", rule);
}

/* Weight of a verdict in policy_verdict_combine(). */
static int verdict_weight(policy_verdict v)
{
    switch (v) {
    case POLICY_VERDICT_UNREADABLE:
        return 5;
    case POLICY_VERDICT_FAIL:
        return 4;
    case POLICY_VERDICT_DOWNGRADE:
        return 3;
    case POLICY_VERDICT_AUTH_PLAINTEXT:
        return 2;
    case POLICY_VERDICT_PASS:
        return 1;
    default:
        return 0;
    }
}

policy_verdict policy_verdict_combine(policy_verdict a, policy_verdict b)
{
    return verdict_weight(b) > verdict_weight(a) ? b : a;
}

/* Weight of an action in policy_decision_stronger(). */
static int action_weight(policy_action a)
{
    switch (a) {
    case POLICY_ACTION_REJECT:
        return 5;
    case POLICY_ACTION_DEFER:
        return 4;
    case POLICY_ACTION_QUARANTINE:
        return 3;
    case POLICY_ACTION_TAG:
        return 2;
    case POLICY_ACTION_MONITOR:
        return 1;
    default:
        return 0;
    }
}

const policy_decision *policy_decision_stronger(const policy_decision *a,
                                                const policy_decision *b)
{
    return action_weight(b->action) > action_weight(a->action) ? b : a;
}

/* A header token: printable ASCII without spaces, so that key=value fields stay parseable. */
static void header_token(const char *in, char *out, size_t size)
{
    policy_sanitize(in, out, size);
    for (char *s = out; *s; s++)
        if (*s == ' ')
            *s = '?';
}

void policy_header_value(const policy_facts *facts, policy_verdict v, const char *rules,
                         char *buf, size_t size)
{
    const policy_facts *f = facts ? facts : &no_facts;
    char version[64], cipher[128], bits[24] = "", rulebuf[POLICY_REPLY_MAX];
    int tls = f->tls_version && *f->tls_version;

    if (!buf || size == 0)
        return;
    header_token(tls ? f->tls_version : "none", version, sizeof(version));
    header_token(rules && *rules ? rules : "-", rulebuf, sizeof(rulebuf));
    cipher[0] = '\0';
    /* Unknown cipher or bits are left out rather than invented. */
    if (tls && f->cipher && *f->cipher) {
        char name[100];
        header_token(f->cipher, name, sizeof(name));
        snprintf(cipher, sizeof(cipher), " cipher=%s", name);
    }
    if (tls && f->cipher_bits >= 0)
        snprintf(bits, sizeof(bits), " bits=%d", f->cipher_bits);
    snprintf(buf, size, "%s tls=%s%s%s rule=%s", policy_verdict_name(v), version, cipher, bits,
             rulebuf);
}
