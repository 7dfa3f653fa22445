/* SPDX-License-Identifier: MIT */
/* Unit tests for the transaction flow (policy/flow.c): the order of the decisions at MAIL and
 * which one answers it, both domains of an address, unreadable addresses, recipients with DNS
 * facts from the hook, monitor mode, and what the end of message adds (verdict, rules, header,
 * quarantine). */
#include "policy/downgrade.h"
#include "policy/flow.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_TEXT                                                                             \
    "from:bank.example encrypt\n"                                                               \
    "from:mta.example encrypt action=reject\n"                                                  \
    "from:tag.example encrypt action=tag\n"                                                     \
    "from:learned.example may downgrade=defer\n"                                                \
    "rcpt:secure.example encrypt action=reject\n"                                               \
    "rcpt:qa.example encrypt action=quarantine\n"                                               \
    "rcpt:dane.example dane\n"                                                                  \
    "* may\n"

#define TLS13 "TLSv1.3"
#define A_REJ POLICY_ACTION_REJECT
#define A_DEF POLICY_ACTION_DEFER
#define A_MON POLICY_ACTION_MONITOR

static const struct frow {
    const char *name;
    int monitor;
    policy_action plaintext_auth;
    const char *tls;       /* NULL: plaintext */
    const char *from, *mail_addr, *auth;
    int peer;              /* the peer is known and learned over TLS */
    const char *rcpt[2], *rcpt_addr[2];
    /* expected */
    const char *decided;   /* the decisions shown, in order */
    const char *mail;      /* verdict/action/code of the decision that answers MAIL */
    const char *rcpts;     /* the same per recipient, ";"-separated */
    const char *header;    /* flow_end's value, "-" if not to be added */
    int quarantine;
} rows[] = {
    {"pass with TLS", 0, A_MON, TLS13, "<a@bank.example>", NULL, NULL, 0, {"<b@x.example>"}, {NULL},
     "sender rcpt", "pass/accept/0", "none/accept/0;", "-", 0},
    {"sender refused: no recipient", 0, A_MON, NULL, "<a@bank.example>", NULL, NULL, 0, {NULL}, {NULL},
     "sender", "fail/defer/451", "", "-", 0},
    {"monitor mode never refuses", 1, A_MON, NULL, "<a@bank.example>", NULL, NULL, 0, {"<b@secure.example>"},
     {NULL}, "sender rcpt", "fail/monitor/0", "fail/monitor/0;", "-", 0},
    {"tag adds the header", 0, A_MON, NULL, "<a@tag.example>", NULL, NULL, 0, {"<b@x.example>"}, {NULL},
     "sender rcpt", "fail/tag/0", "none/accept/0;", "fail tls=none rule=from:tag.example", 0},
    {"the MTA's domain is checked too and the stronger wins", 0, A_MON, NULL, "<a@x.example>", "a@mta.example",
     NULL, 0, {NULL}, {NULL}, "sender sender(x.example|mta.example)", "fail/reject/530", "", "-", 0},
    {"a recipient's two domains", 0, A_MON, NULL, "<a@x.example>", NULL, NULL, 0, {"<b@x.example>"},
     {"b@secure.example"}, "sender rcpt rcpt(x.example|secure.example)", "pass/accept/0",
     "fail/reject/530;", "-", 0},
    {"unreadable sender with a from: rule", 0, A_MON, TLS13, "<a@[192.0.2.1]>", NULL, NULL, 0, {NULL}, {NULL},
     "sender sender", "unreadable/defer/451", "", "-", 0},
    {"unreadable recipient", 0, A_MON, TLS13, "<a@bank.example>", NULL, NULL, 0, {"<>", "<c@x.example>"},
     {NULL}, "sender rcpt rcpt", "pass/accept/0", "unreadable/defer/451;none/accept/0;", "-", 0},
    {"learned downgrade defers", 0, A_MON, NULL, "<a@learned.example>", NULL, NULL, 1, {NULL}, {NULL},
     "sender downgrade", "downgrade/defer/451", "", "-", 0},
    {"downgrade in monitor mode is recorded", 1, A_MON, NULL, "<a@learned.example>", NULL, NULL, 1,
     {"<b@x.example>"}, {NULL}, "sender downgrade rcpt", "downgrade/monitor/0", "none/accept/0;", "-", 0},
    {"no downgrade over TLS", 0, A_MON, TLS13, "<a@learned.example>", NULL, NULL, 1, {"<b@x.example>"},
     {NULL}, "sender rcpt", "pass/accept/0", "none/accept/0;", "-", 0},
    {"plaintext AUTH rejected, after the downgrade", 0, A_REJ, NULL, "<a@learned.example>", NULL, "PLAIN", 1,
     {NULL}, {NULL}, "sender downgrade auth", "auth-plaintext/reject/530", "", "-", 0},
    {"plaintext AUTH monitored", 0, A_MON, NULL, "<a@x.example>", NULL, "PLAIN", 0, {"<b@x.example>"}, {NULL},
     "sender auth rcpt", "auth-plaintext/monitor/0", "none/accept/0;", "-", 0},
    {"quarantine from a recipient", 0, A_MON, NULL, "<a@x.example>", NULL, NULL, 0,
     {"<b@qa.example>", "<c@secure.example>"}, {NULL}, "sender rcpt rcpt", "pass/accept/0",
     "fail/quarantine/0;fail/reject/530;", "-", 1},
    {"dane facts from the hook", 0, A_MON, TLS13, "<a@x.example>", NULL, NULL, 0, {"<b@dane.example>"}, {NULL},
     "sender dns(dane.example) rcpt", "pass/accept/0", "fail/defer/451;", "-", 0},
};

typedef struct trace {
    char text[512];
    const char *tls;
    int peer;
} trace;

static void add(trace *t, const char *s)
{
    size_t n = strlen(t->text);

    snprintf(t->text + n, sizeof t->text - n, "%s%s", n ? " " : "", s);
}

static void hook_dane(void *arg, const char *domain, dane_facts *out)
{
    char s[300];

    memset(out, 0, sizeof *out);
    snprintf(out->domain, sizeof out->domain, "%s", domain);
    out->mx.status = DANE_LOOKUP_TIMEOUT;
    snprintf(s, sizeof s, "dns(%s)", domain);
    add(arg, s);
}

/* A peer that delivered over TLSv1.3 three times in the last hour. */
static int hook_downgrade(void *arg, policy_downgrade mode, const policy_decision *sender,
                          policy_decision *out)
{
    const trace *t = arg;
    downgrade_params prm = {.now = 100000, .min_sessions = 3, .window = 3600, .mode = mode};
    downgrade_history *h;

    if (!t->peer)
        return 0;
    h = downgrade_history_new(3);
    for (int i = 0; i < 3; i++)
        downgrade_learn(h, 99000 + i, "TLSv1.3");
    downgrade_decide(h, &prm, "name:peer.example", t->tls, sender, out);
    downgrade_history_free(h);
    return 1;
}

static void hook_decided(void *arg, const char *what, const policy_envelope *two,
                         const policy_decision *d)
{
    char s[600];

    (void)d;
    if (two)
        snprintf(s, sizeof s, "%s(%s|%s)", what, two->domain, two->mta_domain);
    add(arg, two ? s : what);
}

static void outcome(const policy_decision *d, char *buf, size_t size)
{
    size_t n = strlen(buf);

    snprintf(buf + n, size - n, "%s/%s/%d", policy_verdict_name(d->verdict),
             policy_action_name(d->action), d->code);
}

static void run_row(const policy *pol, const struct frow *r)
{
    policy_opts opts = {.default_action = POLICY_ACTION_DEFER, .monitor = r->monitor};
    trace t = {.tls = r->tls, .peer = r->peer};
    flow_hooks hooks = {hook_dane, hook_downgrade, hook_decided, &t};
    policy_facts f = {.client_addr = "192.0.2.9", .tls_version = r->tls,
                      .cipher = r->tls ? "TLS_AES_256_GCM_SHA384" : NULL,
                      .cipher_bits = r->tls ? 256 : -1, .auth_type = r->auth,
                      .auth_authen = r->auth ? "alice" : NULL};
    flow *fl = malloc(sizeof *fl);
    char mail[64] = "", rcpts[256] = "", header[900];
    policy_decision d;
    const policy_decision *m;

    flow_start(fl, pol, &opts, r->plaintext_auth, &hooks);
    m = flow_mail(fl, &f, r->from, r->mail_addr);
    outcome(m, mail, sizeof mail);
    for (int i = 0; i < 2 && r->rcpt[i] && !flow_refuses(m); i++) {
        flow_rcpt(fl, &f, r->rcpt[i], r->rcpt_addr[i], &d);
        outcome(&d, rcpts, sizeof rcpts);
        strcat(rcpts, ";");
    }
    unit_str(r->name, "decided", t.text, r->decided);
    unit_str(r->name, "mail", mail, r->mail);
    unit_str(r->name, "rcpts", rcpts, r->rcpts);
    if (!flow_end(fl, &f, 0, header, sizeof header))
        snprintf(header, sizeof header, "-");
    unit_str(r->name, "header", header, r->header);
    unit_int(r->name, "quarantine", fl->quarantine, r->quarantine);
    if (r->quarantine)
        unit_int(r->name, "why held", strncmp(fl->why_held, "tlsguard: ", 10), 0);
    free(fl);
}

/* header = yes adds the header whatever the actions; the value combines the accepted only. */
static void test_header_setting(const policy *pol)
{
    policy_opts opts = {.default_action = POLICY_ACTION_DEFER};
    policy_facts f = {.cipher_bits = -1};
    flow *fl = malloc(sizeof *fl);
    policy_decision d;
    char header[900];

    flow_start(fl, pol, &opts, POLICY_ACTION_MONITOR, NULL);
    flow_mail(fl, &f, "<a@x.example>", NULL);
    flow_rcpt(fl, &f, "<b@secure.example>", NULL, &d);
    flow_rcpt(fl, &f, "<c@x.example>", NULL, &d);
    unit_int("header = yes", "added", flow_end(fl, &f, 1, header, sizeof header), 1);
    unit_str("header = yes", "value", header, "pass tls=none rule=*");
    unit_int("header = yes", "accepted", (long)fl->accepted, 1);
    free(fl);
}

int main(void)
{
    policy_diag diag = {0};
    policy *pol = policy_parse(POLICY_TEXT, strlen(POLICY_TEXT), "flow.policy", &diag);

    unit_int("policy", "parsed", pol != NULL, 1);
    if (!pol)
        return unit_report("test_flow");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(pol, &rows[i]);
    test_header_setting(pol);
    policy_free(pol);
    policy_diag_free(&diag);
    return unit_report("test_flow");
}
