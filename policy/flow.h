/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_FLOW_H
#define TLSGUARD_FLOW_H

/*
 * flow - one SMTP transaction, MAIL to end of message, as the daemon and `tlsguard explain`
 * both decide it. The adapter gathers facts (macros, flags), the flow asks the policy core
 * in a fixed order and keeps what the end of the message needs.
 *
 * At MAIL (flow_mail), in this order, each later decision kept if it weighs more
 * (policy_decision_stronger) and the other still counting for the header:
 *   1. the sender rule for the sender's domain as the MTA will use it (policy_envelope_read:
 *      the MAIL argument and the MTA's own reading), both domains where they differ;
 *   2. the learned downgrade, in the mode downgrade_mode_for() gives the rule of 1, as the
 *      `downgrade` hook answers it from the peer's history;
 *   3. SMTP AUTH without TLS (policy_eval_auth, the facts' auth_type and auth_authen);
 *   4. an unreadable sender address (policy_eval_unreadable).
 * The kept decision answers MAIL: refused when its action is reject or defer.
 * At each RCPT (flow_rcpt): the rcpt: rule for the recipient's domain(s), DNS facts asked of
 * the `dane` hook when a dane rule applies; an accepted recipient counts for the header.
 * At the end (flow_end): the combined verdict, the rules that applied, the X-TLS-Policy value
 * and whether to add it (header = yes, or an action tag), and the quarantine reason.
 *
 * No I/O: DNS facts and the peer's history come through the hooks, and every decision made is
 * shown to the `decided` hook in order (the daemon logs them). Hooks may be NULL: no DNS facts
 * (a dane rule then decides as without them), no downgrade, nothing shown.
 *
 * Ownership: a flow is a plain struct the caller owns (large: allocate it, not on a small
 * thread stack); it borrows the policy and options for its lifetime. Facts are borrowed for
 * one call. Out of memory aborts (xalloc.h).
 */

#include "policy.h"

#define FLOW_RULES_MAX 1024

typedef struct flow_hooks {
    /* Fills *out with the DNS facts of `domain` (normalised). */
    void (*dane)(void *arg, const char *domain, dane_facts *out);
    /* Decides the learned downgrade in `mode` (never off) for this session (downgrade_decide
     * with the peer's history); returns 0 when it cannot (peer unknown): no decision. */
    int (*downgrade)(void *arg, policy_downgrade mode, const policy_decision *sender,
                     policy_decision *out);
    /* One decision as made: what is "sender", "downgrade", "auth" or "rcpt"; `two` is not NULL
     * when the decision is for the MTA's domain of an address that names two (two->domain,
     * two->mta_domain). */
    void (*decided)(void *arg, const char *what, const policy_envelope *two,
                    const policy_decision *d);
    void *arg;
} flow_hooks;

typedef struct flow {
    /* Settings, borrowed. */
    const policy *pol;
    const policy_opts *opts;
    policy_action plaintext_auth;
    flow_hooks hooks;
    /* The transaction. */
    policy_envelope from_env;
    char from_domain[POLICY_DOMAIN_MAX];
    policy_decision sender;  /* the decision that answers MAIL */
    policy_verdict verdict;  /* combined over the sender side and accepted recipients */
    char rules[FLOW_RULES_MAX];
    int tag, quarantine;
    char why_held[POLICY_REASON_MAX + 16];
    unsigned accepted; /* recipients accepted */
} flow;

/* Starts a transaction: *fl is reset. */
void flow_start(flow *fl, const policy *pol, const policy_opts *opts,
                policy_action plaintext_auth, const flow_hooks *hooks);

/* MAIL: `arg` is the command's argument, `mta_addr` the MTA's reading ({mail_addr}; NULL if
 * none); facts as at MAIL, auth_type/auth_authen included (mail_from_domain is ignored).
 * Returns the decision that answers MAIL (owned by *fl); refused if flow_refuses(). An
 * accepted MAIL counts for the header. */
const policy_decision *flow_mail(flow *fl, const policy_facts *facts, const char *arg,
                                 const char *mta_addr);

/* RCPT: `arg` and `mta_addr` ({rcpt_addr}) as at MAIL. Fills *d with the recipient's
 * decision; an accepted recipient counts for the header. */
void flow_rcpt(flow *fl, const policy_facts *facts, const char *arg, const char *mta_addr,
               policy_decision *d);

/* End of message: the X-TLS-Policy value in buf; returns 1 if it is to be added (`header`:
 * the header setting), else 0. */
int flow_end(const flow *fl, const policy_facts *facts, int header, char *buf, size_t size);

/* 1 if the decision refuses (action reject or defer). */
int flow_refuses(const policy_decision *d);

#endif
