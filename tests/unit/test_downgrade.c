/* SPDX-License-Identifier: MIT */
/* Unit tests for the downgrade history and verdict: each row feeds a peer's TLS deliveries
 * (times relative to a pinned `now`) and checks the decision for the next session. */
#include "policy/downgrade.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <string.h>

#define NOW 1800000000LL /* 2027-01-15 08:00:00 UTC: a pinned clock */
#define DAY 86400LL
#define MAX_DELIVERIES 8

typedef struct delivery {
    int64_t ago;         /* seconds before NOW */
    const char *version; /* NULL ends the list */
} delivery;

typedef struct row {
    const char *name;
    delivery learned[MAX_DELIVERIES];
    const char *now_tls; /* NULL = plaintext */
    unsigned min_sessions;
    int64_t window;
    policy_downgrade mode;
    const char *verdict, *action;
    int code;
    const char *xcode, *reason, *reply;
} row;

#define THREE_13 {{3 * DAY, "TLSv1.3"}, {2 * DAY, "TLSv1.3"}, {1 * DAY, "TLSv1.3"}}
#define REASON_3_PLAIN "peer name:example.net delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now plaintext"

static const row rows[] = {
    {"three TLS sessions then plaintext, defer", THREE_13, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_DEFER,
     "downgrade", "defer", 451, "4.7.0", REASON_3_PLAIN,
     "TLS downgrade: " REASON_3_PLAIN "; try again with STARTTLS"},
    {"reject", THREE_13, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_REJECT, "downgrade", "reject", 550,
     "5.7.0", REASON_3_PLAIN, "TLS downgrade: " REASON_3_PLAIN "; try again with STARTTLS"},
    {"monitor records, refuses nothing", THREE_13, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_MONITOR,
     "downgrade", "monitor", 0, "", REASON_3_PLAIN, ""},
    {"tag", THREE_13, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_TAG, "downgrade", "tag", 0, "",
     REASON_3_PLAIN, ""},
    {"off", THREE_13, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_OFF, "none", "accept", 0, "", "", ""},
    {"first contact in plaintext", {{0, NULL}}, NULL, 3, 30 * DAY, POLICY_DOWNGRADE_REJECT, "none",
     "accept", 0, "", "", ""},
    {"below the count", {{2 * DAY, "TLSv1.3"}, {1 * DAY, "TLSv1.3"}}, NULL, 3, 30 * DAY,
     POLICY_DOWNGRADE_DEFER, "none", "accept", 0, "", "", ""},
    {"one too old: outside the window",
     {{31 * DAY, "TLSv1.3"}, {2 * DAY, "TLSv1.3"}, {1 * DAY, "TLSv1.3"}}, NULL, 3, 30 * DAY,
     POLICY_DOWNGRADE_DEFER, "none", "accept", 0, "", "", ""},
    {"exactly at the window's edge counts",
     {{30 * DAY, "TLSv1.3"}, {2 * DAY, "TLSv1.3"}, {1 * DAY, "TLSv1.3"}}, NULL, 3, 30 * DAY,
     POLICY_DOWNGRADE_DEFER, "downgrade", "defer", 451, "4.7.0", REASON_3_PLAIN, NULL},
    {"all too old", THREE_13, NULL, 3, 12 * 3600, POLICY_DOWNGRADE_DEFER, "none", "accept", 0, "",
     "", ""},
    {"TLS again: no downgrade", THREE_13, "TLSv1.3", 3, 30 * DAY, POLICY_DOWNGRADE_DEFER, "none",
     "accept", 0, "", "", ""},
    {"protocol drop 1.3 -> 1.2", THREE_13, "TLSv1.2", 3, 30 * DAY, POLICY_DOWNGRADE_DEFER,
     "downgrade", "defer", 451, "4.7.0",
     "peer name:example.net delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now TLSv1.2",
     NULL},
    {"best version only counts within the window",
     {{40 * DAY, "TLSv1.3"}, {3 * DAY, "TLSv1.2"}, {2 * DAY, "TLSv1.2"}, {1 * DAY, "TLSv1.2"}},
     "TLSv1.2", 3, 30 * DAY, POLICY_DOWNGRADE_DEFER, "none", "accept", 0, "", "", ""},
    {"mixed versions: best is the highest in the window",
     {{3 * DAY, "TLSv1.2"}, {2 * DAY, "TLSv1.3"}, {1 * DAY, "TLSv1.2"}}, "TLSv1.1", 3, 30 * DAY,
     POLICY_DOWNGRADE_DEFER, "downgrade", "defer", 451, "4.7.0",
     "peer name:example.net delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now TLSv1.1",
     NULL},
    {"unknown current version is no downgrade", THREE_13, "TLSv9", 3, 30 * DAY,
     POLICY_DOWNGRADE_DEFER, "none", "accept", 0, "", "", ""},
    {"min_sessions 1, window in hours",
     {{3600, "TLSv1.2"}}, NULL, 1, 2 * 3600, POLICY_DOWNGRADE_DEFER, "downgrade", "defer", 451,
     "4.7.0",
     "peer name:example.net delivered over TLS in at least 1 sessions within 2h (best TLSv1.2), now plaintext",
     NULL},
    {"ring keeps the newest: many old, then 3 new",
     {{90 * DAY, "TLSv1.3"}, {80 * DAY, "TLSv1.3"}, {70 * DAY, "TLSv1.3"}, {60 * DAY, "TLSv1.3"},
      {3 * DAY, "TLSv1.2"}, {2 * DAY, "TLSv1.2"}, {1 * DAY, "TLSv1.2"}},
     NULL, 3, 30 * DAY, POLICY_DOWNGRADE_DEFER, "downgrade", "defer", 451, "4.7.0",
     "peer name:example.net delivered over TLS in at least 3 sessions within 30d (best TLSv1.2), now plaintext",
     NULL},
};

static void run_row(const row *r)
{
    downgrade_history *h = downgrade_history_new(r->min_sessions);
    downgrade_params prm = {NOW, r->min_sessions, r->window, r->mode};
    policy_decision d;

    for (size_t i = 0; i < MAX_DELIVERIES && r->learned[i].version; i++)
        downgrade_learn(h, NOW - r->learned[i].ago, r->learned[i].version);
    downgrade_decide(h, &prm, "name:example.net", r->now_tls, NULL, &d);
    unit_str(r->name, "verdict", policy_verdict_name(d.verdict), r->verdict);
    unit_str(r->name, "action", policy_action_name(d.action), r->action);
    unit_int(r->name, "code", d.code, r->code);
    unit_str(r->name, "xcode", d.xcode, r->xcode);
    unit_str(r->name, "reason", d.reason, r->reason);
    if (r->reply)
        unit_str(r->name, "reply", d.reply, r->reply);
    downgrade_history_free(h);
}

/* A never-seen peer (no history at all) and the sender decision's rule carried over. */
static void no_history(void)
{
    downgrade_params prm = {NOW, 1, DAY, POLICY_DOWNGRADE_REJECT};
    policy_decision sender = {0}, d;

    snprintf(sender.rule_text, sizeof sender.rule_text, "from:x.example");
    sender.level = POLICY_LEVEL_MAY;
    downgrade_decide(NULL, &prm, "net:192.0.2.0/24", NULL, &sender, &d);
    unit_str("no history", "verdict", policy_verdict_name(d.verdict), "none");
    unit_str("no history", "rule", d.rule_text, "from:x.example");
    unit_str("no history", "level", policy_level_name(d.level), "may");
}

/* Resizing keeps the newest deliveries in order; shrinking below the count unlearns. */
static void resize(void)
{
    downgrade_history *h = downgrade_history_new(2);

    downgrade_learn(h, NOW - 3 * DAY, "TLSv1.2");
    downgrade_learn(h, NOW - 2 * DAY, "TLSv1.2");
    downgrade_learn(h, NOW - 1 * DAY, "TLSv1.2");
    unit_int("resize", "ring full at 2", downgrade_sessions_within(h, NOW, 30 * DAY), 2);
    h = downgrade_history_resize(h, 5);
    unit_int("resize", "grown keeps 2", downgrade_sessions_within(h, NOW, 30 * DAY), 2);
    downgrade_learn(h, NOW, "TLSv1.3");
    unit_int("resize", "then 3", downgrade_sessions_within(h, NOW, 30 * DAY), 3);
    unit_int("resize", "newest", (long)(downgrade_last(h) - NOW), 0);
    h = downgrade_history_resize(h, 1);
    unit_int("resize", "shrunk to the newest", downgrade_sessions_within(h, NOW, 0), 1);
    unit_int("resize", "best kept", downgrade_best_within(h, NOW, DAY), 0x0304);
    h = downgrade_history_resize(h, 1000);
    unit_int("resize", "cap clamped", h->cap, DOWNGRADE_SESSIONS_MAX);
    downgrade_history_free(h);
}

static void modes(void)
{
    policy_opts monitor = {POLICY_ACTION_DEFER, 1}, enforce = {POLICY_ACTION_DEFER, 0};
    policy_diag diag = {0};
    const char *text = "from:a.example may downgrade=defer\nfrom:b.example may downgrade=off\n"
                       "from:c.example none\n";
    policy *p = policy_parse(text, strlen(text), "t", &diag);

    unit_int("modes", "parsed", p != NULL, 1);
    if (!p)
        return;
    unit_str("modes", "no rule", policy_downgrade_name(downgrade_mode_for(NULL, &enforce)), "monitor");
    unit_str("modes", "rule says defer",
             policy_downgrade_name(downgrade_mode_for(policy_rule_at(p, 0), &enforce)), "defer");
    unit_str("modes", "mode=monitor forces monitor",
             policy_downgrade_name(downgrade_mode_for(policy_rule_at(p, 0), &monitor)), "monitor");
    unit_str("modes", "off stays off in monitor mode",
             policy_downgrade_name(downgrade_mode_for(policy_rule_at(p, 1), &monitor)), "off");
    unit_str("modes", "rule without downgrade=",
             policy_downgrade_name(downgrade_mode_for(policy_rule_at(p, 2), &enforce)), "monitor");
    policy_free(p);
    policy_diag_free(&diag);
}

static void windows(void)
{
    static const struct {
        const char *text;
        int64_t want; /* -1: refused */
        const char *shown;
    } w[] = {
        {"30d", 30 * DAY, "30d"}, {"12h", 12 * 3600, "12h"}, {"90m", 5400, "90m"},
        {"45s", 45, "45s"},       {"120s", 120, "2m"},       {"1d", DAY, "1d"},
        {"30", -1, NULL},         {"d", -1, NULL},           {"0d", -1, NULL},
        {"-1d", -1, NULL},        {"30 d", -1, NULL},        {"30dd", -1, NULL},
        {"3651d", -1, NULL},      {"99999999999999999999d", -1, NULL}, {"", -1, NULL},
    };
    char shown[32];

    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        int64_t secs = -1;
        int rc = downgrade_window_parse(w[i].text, 3650 * DAY, &secs);

        unit_int(w[i].text, "window seconds", rc == 0 ? (long)secs : -1, (long)w[i].want);
        if (rc == 0) {
            downgrade_window_format(secs, shown, sizeof shown);
            unit_str(w[i].text, "window shown", shown, w[i].shown);
        }
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        run_row(&rows[i]);
    no_history();
    resize();
    modes();
    windows();
    return unit_report("test_downgrade");
}
