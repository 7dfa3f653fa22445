/* SPDX-License-Identifier: MIT */
/*
 * downgrade - a peer's TLS history and the downgrade verdict it gives (see downgrade.h).
 */
#include "downgrade.h"
#include "xalloc.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned clamp_cap(unsigned cap)
{
    return cap < 1 ? 1 : cap > DOWNGRADE_SESSIONS_MAX ? DOWNGRADE_SESSIONS_MAX : cap;
}

downgrade_history *downgrade_history_new(unsigned cap)
{
    downgrade_history *h;

    cap = clamp_cap(cap);
    h = xcalloc(1, sizeof *h + cap * sizeof h->ring[0]);
    h->cap = cap;
    return h;
}

downgrade_history *downgrade_history_free(downgrade_history *h)
{
    free(h);
    return NULL;
}

/* The i-th newest delivery, i = 0 .. n-1. */
static int64_t nth_newest(const downgrade_history *h, unsigned i)
{
    return h->ring[(h->next + h->cap - 1 - i) % h->cap];
}

downgrade_history *downgrade_history_resize(downgrade_history *h, unsigned cap)
{
    downgrade_history *r = downgrade_history_new(cap);
    unsigned keep;

    if (!h)
        return r;
    memcpy(r->version_last, h->version_last, sizeof r->version_last);
    keep = h->n < r->cap ? h->n : r->cap;
    /* Oldest of the kept first, so the ring stays in time order. */
    for (unsigned i = keep; i-- > 0;)
        r->ring[r->next++] = nth_newest(h, i);
    r->n = keep;
    r->next %= r->cap;
    downgrade_history_free(h);
    return r;
}

void downgrade_learn(downgrade_history *h, int64_t now, const char *tls_version)
{
    int v = policy_tls_version_number(tls_version);

    h->ring[h->next] = now;
    h->next = (h->next + 1) % h->cap;
    if (h->n < h->cap)
        h->n++;
    if (v >= 0 && h->version_last[v - 0x0300] < now)
        h->version_last[v - 0x0300] = now;
}

unsigned downgrade_sessions_within(const downgrade_history *h, int64_t now, int64_t window)
{
    unsigned n = 0;

    if (!h)
        return 0;
    for (unsigned i = 0; i < h->n; i++)
        n += nth_newest(h, i) >= now - window;
    return n;
}

int downgrade_best_within(const downgrade_history *h, int64_t now, int64_t window)
{
    if (!h)
        return -1;
    for (int i = DOWNGRADE_VERSIONS - 1; i >= 0; i--)
        if (h->version_last[i] && h->version_last[i] >= now - window)
            return 0x0300 + i;
    return -1;
}

int64_t downgrade_last(const downgrade_history *h)
{
    int64_t last = 0;

    for (unsigned i = 0; h && i < h->n; i++)
        if (h->ring[i] > last)
            last = h->ring[i];
    return last;
}

policy_downgrade downgrade_mode_for(const policy_rule *sender_rule, const policy_opts *opts)
{
    policy_downgrade d = policy_rule_downgrade(sender_rule);

    if (d == POLICY_DOWNGRADE_OFF)
        return d;
    /* Refusing mail because a peer changed is new to postmasters: by default only record. */
    if (d == POLICY_DOWNGRADE_UNSET || (opts && opts->monitor))
        return POLICY_DOWNGRADE_MONITOR;
    return d;
}

void downgrade_window_format(int64_t seconds, char *buf, size_t size)
{
    static const struct {
        int64_t secs;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (seconds % units[i].secs == 0 || units[i].secs == 1) {
            snprintf(buf, size, "%lld%c", (long long)(seconds / units[i].secs), units[i].unit);
            return;
        }
    }
}

int downgrade_window_parse(const char *text, int64_t max, int64_t *seconds)
{
    int64_t n = 0, mult;
    const char *p = text;

    if (!p || *p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > max)
            return -1;
    }
    switch (*p) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return -1;
    }
    if (p[1] != '\0' || n < 1 || n > max / mult)
        return -1;
    *seconds = n * mult;
    return 0;
}

static void set_action(policy_decision *out, policy_downgrade mode)
{
    switch (mode) {
    case POLICY_DOWNGRADE_REJECT:
        out->action = POLICY_ACTION_REJECT;
        out->code = 550;
        snprintf(out->xcode, sizeof out->xcode, "5.7.0");
        break;
    case POLICY_DOWNGRADE_DEFER:
        out->action = POLICY_ACTION_DEFER;
        out->code = 451;
        snprintf(out->xcode, sizeof out->xcode, "4.7.0");
        break;
    case POLICY_DOWNGRADE_TAG:
        out->action = POLICY_ACTION_TAG;
        return;
    default:
        out->action = POLICY_ACTION_MONITOR;
        return;
    }
    snprintf(out->reply, sizeof out->reply, "TLS downgrade: %s; try again with STARTTLS",
             out->reason);
}

void downgrade_decide(const downgrade_history *h, const downgrade_params *prm, const char *peer,
                      const char *tls_version, const policy_decision *sender,
                      policy_decision *out)
{
    int tls = tls_version && *tls_version;
    int cur = policy_tls_version_number(tls_version);
    unsigned n;
    int best;
    char who[POLICY_DOMAIN_MAX + 64], window[32], now_text[64];

    memset(out, 0, sizeof *out);
    out->verdict = POLICY_VERDICT_NONE;
    out->action = POLICY_ACTION_ACCEPT;
    if (sender) {
        out->rule = sender->rule;
        memcpy(out->rule_text, sender->rule_text, sizeof out->rule_text);
        out->level = sender->level;
    }
    if (!h || prm->mode == POLICY_DOWNGRADE_OFF || prm->mode == POLICY_DOWNGRADE_UNSET)
        return;
    if ((n = downgrade_sessions_within(h, prm->now, prm->window)) < prm->min_sessions)
        return; /* not learned: a first contact, or too few or too old deliveries */
    best = downgrade_best_within(h, prm->now, prm->window);
    if (!tls)
        snprintf(now_text, sizeof now_text, "now plaintext");
    else if (cur >= 0 && best > cur)
        snprintf(now_text, sizeof now_text, "now %s", policy_tls_version_name(cur));
    else
        return;
    policy_sanitize(peer, who, sizeof who);
    downgrade_window_format(prm->window, window, sizeof window);
    out->verdict = POLICY_VERDICT_DOWNGRADE;
    snprintf(out->reason, sizeof out->reason,
             "peer %s delivered over TLS in at least %u sessions within %s (best %s), %s", who, n, window,
             best >= 0 ? policy_tls_version_name(best) : "unknown", now_text);
    set_action(out, prm->mode);
}
