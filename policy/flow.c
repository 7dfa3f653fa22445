/* SPDX-License-Identifier: MIT */
#include "flow.h"

/* System. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Core. */
#include "downgrade.h"
#include "xalloc.h"

void flow_start(flow *fl, const policy *pol, const policy_opts *opts,
                policy_action plaintext_auth, const flow_hooks *hooks)
{
    memset(fl, 0, sizeof *fl);
    fl->pol = pol;
    fl->opts = opts;
    fl->plaintext_auth = plaintext_auth;
    if (hooks)
        fl->hooks = *hooks;
}

int flow_refuses(const policy_decision *d)
{
    return d->action == POLICY_ACTION_REJECT || d->action == POLICY_ACTION_DEFER;
}

static void decided(const flow *fl, const char *what, const policy_envelope *two,
                    const policy_decision *d)
{
    if (fl->hooks.decided)
        fl->hooks.decided(fl->hooks.arg, what, two, d);
}

/* The facts as the rules see them: the sender's domain as read, AUTH only for its check. */
static void facts_for(const flow *fl, const policy_facts *in, policy_facts *f)
{
    *f = *in;
    f->mail_from_domain = fl->from_domain;
    f->auth_type = f->auth_authen = NULL;
    f->dane = NULL;
}

/* Notes an accepted decision for the header and the end-of-message actions. */
static void note_accepted(flow *fl, const policy_decision *d)
{
    fl->verdict = policy_verdict_combine(fl->verdict, d->verdict);
    policy_rules_add(fl->rules, sizeof fl->rules, d->rule_text);
    if (d->action == POLICY_ACTION_TAG)
        fl->tag = 1;
    if (d->action == POLICY_ACTION_QUARANTINE && !fl->quarantine) {
        fl->quarantine = 1;
        snprintf(fl->why_held, sizeof fl->why_held, "tlsguard: %s", d->reason);
    }
}

/*
 * A further decision about the message (the MTA's domain, downgrade, auth-plaintext,
 * unreadable): of it and the message's decision so far, the stronger becomes the message's;
 * the other still counts for the header. Harmless if the message is then refused: a refused
 * transaction has no end of message.
 */
static void keep_stronger(flow *fl, const policy_decision *d)
{
    if (policy_decision_stronger(&fl->sender, d) == d) {
        note_accepted(fl, &fl->sender);
        fl->sender = *d;
    } else {
        note_accepted(fl, d);
    }
}

static void mail_sender(flow *fl, const policy_facts *f, const char *arg, const char *mta_addr)
{
    policy_envelope *env = &fl->from_env;
    policy_facts mta = *f;
    policy_decision *d;

    policy_envelope_read(arg, mta_addr, 0, env);
    snprintf(fl->from_domain, sizeof fl->from_domain, "%s", env->domain);
    policy_eval_sender(fl->pol, fl->opts, f, &fl->sender);
    decided(fl, "sender", NULL, &fl->sender);
    if (!env->mta_domain[0])
        return;
    d = xmalloc(sizeof *d); /* large: callers run on small thread stacks */
    mta.mail_from_domain = env->mta_domain;
    policy_eval_sender(fl->pol, fl->opts, &mta, d);
    decided(fl, "sender", env, d);
    keep_stronger(fl, d);
    free(d);
}

/* A rule that passes with a downgrade in monitor mode records verdict downgrade, action
 * monitor (downgrade_mode_for). */
static void mail_downgrade(flow *fl)
{
    policy_downgrade mode = downgrade_mode_for(fl->sender.rule, fl->opts);
    policy_decision *d;

    if (mode == POLICY_DOWNGRADE_OFF || !fl->hooks.downgrade)
        return;
    d = xmalloc(sizeof *d);
    if (fl->hooks.downgrade(fl->hooks.arg, mode, &fl->sender, d) &&
        d->verdict == POLICY_VERDICT_DOWNGRADE) {
        decided(fl, "downgrade", NULL, d);
        keep_stronger(fl, d);
    }
    free(d);
}

static void mail_auth(flow *fl, const policy_facts *in)
{
    policy_facts f = *in;
    policy_decision *d = xmalloc(sizeof *d);

    f.mail_from_domain = fl->from_domain;
    f.dane = NULL;
    policy_eval_auth(fl->opts, &f, fl->plaintext_auth, d);
    if (d->verdict != POLICY_VERDICT_NONE) {
        decided(fl, "auth", NULL, d);
        keep_stronger(fl, d);
    }
    free(d);
}

/* A sender address whose domain cannot be read: 451 4.1.7 where a from: rule could apply. */
static void mail_unreadable(flow *fl)
{
    policy_decision *d;

    if (fl->from_env.readable)
        return;
    d = xmalloc(sizeof *d);
    policy_eval_unreadable(fl->pol, fl->opts, 0, &fl->from_env, d);
    decided(fl, "sender", NULL, d);
    keep_stronger(fl, d);
    free(d);
}

const policy_decision *flow_mail(flow *fl, const policy_facts *facts, const char *arg,
                                 const char *mta_addr)
{
    policy_facts f;

    facts_for(fl, facts, &f);
    mail_sender(fl, &f, arg, mta_addr);
    mail_downgrade(fl);
    mail_auth(fl, facts);
    mail_unreadable(fl);
    if (!flow_refuses(&fl->sender))
        note_accepted(fl, &fl->sender);
    return &fl->sender;
}

/* The rcpt: rules for one domain, with DNS facts when a dane rule asks for them. */
static void rcpt_domain(const flow *fl, policy_facts *f, const char *domain, policy_decision *d)
{
    dane_facts *df;

    policy_eval_rcpt(fl->pol, fl->opts, f, domain, d);
    if (!d->needs_dane || !fl->hooks.dane)
        return;
    df = xmalloc(sizeof *df);
    fl->hooks.dane(fl->hooks.arg, domain, df);
    f->dane = df;
    policy_eval_rcpt(fl->pol, fl->opts, f, domain, d);
    f->dane = NULL;
    free(df);
}

/* Both domains where the RCPT argument and the MTA's reading differ, the stronger decision
 * wins; an unreadable address gets 451 4.1.3 where a rcpt: rule could apply. */
void flow_rcpt(flow *fl, const policy_facts *facts, const char *arg, const char *mta_addr,
               policy_decision *d)
{
    policy_envelope env;
    policy_decision *d2;
    policy_facts f;

    facts_for(fl, facts, &f);
    policy_envelope_read(arg, mta_addr, 1, &env);
    if (!env.readable)
        policy_eval_unreadable(fl->pol, fl->opts, 1, &env, d);
    else
        rcpt_domain(fl, &f, env.domain, d);
    decided(fl, "rcpt", NULL, d);
    if (env.readable && env.mta_domain[0]) {
        d2 = xmalloc(sizeof *d2);
        rcpt_domain(fl, &f, env.mta_domain, d2);
        decided(fl, "rcpt", &env, d2);
        if (policy_decision_stronger(d, d2) == d2)
            *d = *d2;
        free(d2);
    }
    if (!flow_refuses(d)) {
        fl->accepted++;
        note_accepted(fl, d);
    }
}

int flow_end(const flow *fl, const policy_facts *facts, int header, char *buf, size_t size)
{
    policy_facts f;

    facts_for(fl, facts, &f);
    policy_header_value(&f, fl->verdict, fl->rules, buf, size);
    return header || fl->tag;
}
