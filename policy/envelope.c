/* SPDX-License-Identifier: MIT */
/*
 * envelope - which domain an envelope address has as the MTA will use it, and the decision
 * when tlsguard cannot tell: an address tlsguard cannot read must never make a from: or
 * rcpt: rule quietly stop applying.
 *
 * Two readings are compared: the command argument the MTA hands the milter (argv[0], as the
 * client wrote it) read by addr.c, and the MTA's own parsed address ({mail_addr} at MAIL,
 * {rcpt_addr} at RCPT). Neither alone is enough: Postfix's macro is the address after
 * trivial-rewrite (so "<ceo>" arrives as ceo@$myorigin), Sendmail's is the resolved delivery
 * address (its local mailer's has no domain; a virtusertable's is the target). So the
 * argument's domain is kept, the MTA's is added where it differs, and anything either side
 * cannot read fails closed. Pure: no I/O.
 */
#include "policy.h"

/* libc */
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void unreadable(policy_envelope *out, const char *why)
{
    out->readable = 0;
    out->domain[0] = out->mta_domain[0] = '\0';
    snprintf(out->why, sizeof out->why, "%s", why);
}

static int is_postmaster(const char *arg)
{
    char norm[POLICY_ADDR_MAX];

    return policy_addr_normalize(arg, norm, sizeof norm) == 0 &&
           strcasecmp(norm, "postmaster") == 0;
}

void policy_envelope_read(const char *arg, const char *mta_addr, int rcpt, policy_envelope *out)
{
    char mta[POLICY_DOMAIN_MAX];
    policy_addr_kind a, m = POLICY_ADDR_NULL;

    memset(out, 0, sizeof *out);
    out->readable = 1;
    a = policy_addr_read(arg, out->domain, sizeof out->domain);
    if (mta_addr && *mta_addr && strcmp(mta_addr, "<>") != 0)
        m = policy_addr_read(mta_addr, mta, sizeof mta);
    if (a == POLICY_ADDR_NULL) {
        /* A null sender by tlsguard's reading must be one by the MTA's too. */
        if (rcpt)
            unreadable(out, "empty recipient address");
        else if (m == POLICY_ADDR_DOMAIN)
            snprintf(out->domain, sizeof out->domain, "%s", mta);
        else if (m == POLICY_ADDR_BAD || m == POLICY_ADDR_LITERAL)
            unreadable(out, "the MTA's address has no readable domain");
    } else if (a == POLICY_ADDR_BAD) {
        unreadable(out, "address syntax not understood");
    } else if (a == POLICY_ADDR_LITERAL) {
        unreadable(out, "an address literal names no domain");
    } else if (m == POLICY_ADDR_BAD || m == POLICY_ADDR_LITERAL) {
        unreadable(out, "the MTA's address has no readable domain");
    } else if (a == POLICY_ADDR_LOCAL) {
        if (m == POLICY_ADDR_DOMAIN)
            snprintf(out->domain, sizeof out->domain, "%s", mta);
        else if (!is_postmaster(arg))
            unreadable(out, "a local part without a domain");
    } else if (m == POLICY_ADDR_DOMAIN && strcmp(mta, out->domain) != 0) {
        snprintf(out->mta_domain, sizeof out->mta_domain, "%s", mta);
    }
}

/* 1 if some rule of the policy reads this kind of address. */
static int has_rules(const policy *p, policy_selector_kind kind)
{
    size_t n = policy_rule_count(p);

    for (size_t i = 0; i < n; i++)
        if (policy_rule_kind(policy_rule_at(p, i)) == kind)
            return 1;
    return 0;
}

void policy_eval_unreadable(const policy *p, const policy_opts *opts, int rcpt,
                            const policy_envelope *env, policy_decision *out)
{
    const char *who = rcpt ? "recipient" : "sender";
    char why[sizeof env->why];

    memset(out, 0, sizeof *out);
    out->level = POLICY_LEVEL_NONE;
    out->verdict = POLICY_VERDICT_UNREADABLE;
    policy_sanitize(env->why, why, sizeof why);
    snprintf(out->reason, sizeof out->reason, "%s address unreadable: %s", who, why);
    if ((opts && opts->monitor) || !p || !has_rules(p, rcpt ? POLICY_SEL_RCPT : POLICY_SEL_FROM)) {
        out->action = POLICY_ACTION_MONITOR;
        return;
    }
    out->action = POLICY_ACTION_DEFER;
    out->code = 451;
    snprintf(out->xcode, sizeof out->xcode, "%s", rcpt ? "4.1.3" : "4.1.7");
    snprintf(out->reply, sizeof out->reply, "tlsguard cannot read the %s address: %s", who, why);
}
