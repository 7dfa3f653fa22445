/* SPDX-License-Identifier: MIT */
/* Unit tests for the daemon's peer identity (store/peers.c, with libpsl) and its in-memory
 * history: who a client is for downgrade detection, row by row; the history stays within
 * peers_max under a million distinct peers and keeps the learned ones. */
#include "store/peers.h"
#include "unit.h"

/* libc */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *hostname, *resolve, *addr;
    const char *want;
} rows[] = {
    {"verified name: registered domain", "mail.example.net", "OK", "192.0.2.7", "name:example.net"},
    {"public suffix of two labels", "mx1.mail.example.co.uk", "OK", "192.0.2.7", "name:example.co.uk"},
    {"case and trailing dot", "MX.Example.ORG.", "OK", "192.0.2.7", "name:example.org"},
    {"no registrable domain: the name", "localhost", "OK", "127.0.0.1", "name:localhost"},
    {"no {client_resolve}: the block", "mx.example.net", NULL, "192.0.2.7", "net:192.0.2.0/24"},
    {"empty {client_resolve}: the block", "mx.example.net", "", "192.0.2.7", "net:192.0.2.0/24"},
    {"forged: the block", "mx.example.net", "FORGED", "192.0.2.7", "net:192.0.2.0/24"},
    {"FAIL: the block", "mx.example.net", "FAIL", "192.0.2.7", "net:192.0.2.0/24"},
    {"TEMP: the block", "mx.example.net", "TEMP", "192.0.2.7", "net:192.0.2.0/24"},
    {"lowercase ok is not OK", "mx.example.net", "ok", "192.0.2.7", "net:192.0.2.0/24"},
    {"Postfix unknown: the block", "unknown", NULL, "198.51.100.200", "net:198.51.100.0/24"},
    {"Sendmail [addr]: the block", "[192.0.2.7]", NULL, "192.0.2.7", "net:192.0.2.0/24"},
    {"no name", "", NULL, "203.0.113.9", "net:203.0.113.0/24"},
    {"IPv6: the /64", "unknown", NULL, "2001:db8:1:2:3:4:5:6", "net:2001:db8:1:2::/64"},
    {"IPv4-mapped IPv6: the /24", NULL, NULL, "::ffff:192.0.2.7", "net:192.0.2.0/24"},
    {"bad name and no address", "bad..name", NULL, NULL, ""},
    {"bad name: the block", "bad name", "OK", "192.0.2.7", "net:192.0.2.0/24"},
};

/* A verdict for `peer` in plaintext at `now`: "downgrade" if its history is in memory and
 * learned. */
static const char *plaintext_verdict(const char *peer, int64_t now, unsigned min_sessions)
{
    downgrade_params prm = {now, min_sessions, 30 * 86400, POLICY_DOWNGRADE_DEFER};
    policy_decision d;

    peers_decide(peer, &prm, NULL, NULL, &d);
    return policy_verdict_name(d.verdict);
}

/* A million distinct /64s and names through a map of 100,000 (the default peers_max). */
static void flood(void)
{
    const int64_t t0 = 2000000000;
    const size_t max = 100000;
    char peer[PEER_MAX];
    long over = 0, missing = 0;
    peers_stats st;

    /* Every peer learned at once (downgrade_min_sessions = 1): plain least-recently-seen. */
    for (long i = 0; i < 1000000; i++) {
        if (i % 2)
            snprintf(peer, sizeof peer, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        else
            snprintf(peer, sizeof peer, "name:n%ld.example", i);
        peers_learn(peer, t0 + i / 100, "TLSv1.3", 1, 30 * 86400, max);
        over += peers_count() > max;
    }
    peers_get_stats(&st);
    unit_int("flood of 1,000,000", "times above peers_max", over, 0);
    unit_int("flood of 1,000,000", "peers in memory", (long)st.n, (long)max);
    unit_int("flood of 1,000,000", "forgotten", (long)st.evicted, 900000);
    unit_int("flood of 1,000,000", "longest chain <= 16", st.longest_chain <= 16, 1);
    for (long i = 1000000 - (long)max; i < 1000000; i++) {
        if (i % 2)
            snprintf(peer, sizeof peer, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        else
            snprintf(peer, sizeof peer, "name:n%ld.example", i);
        missing += strcmp(plaintext_verdict(peer, t0 + 10000, 1), "downgrade") != 0;
    }
    unit_int("flood of 1,000,000", "newest 100,000 without their history", missing, 0);
    unit_str("flood of 1,000,000", "oldest forgotten: not learned",
             plaintext_verdict("name:n0.example", t0 + 10000, 1), "none");
    peers_clear();

    /* Learned peers (3 TLS sessions) survive a flood of one-session peers: only peers not yet
     * learned make room. */
    for (int s = 0; s < 3; s++) {
        peers_learn("name:partner.example", t0 + s, "TLSv1.3", 3, 30 * 86400, 1000);
        peers_learn("net:2001:db8:beef:1::/64", t0 + s, "TLSv1.3", 3, 30 * 86400, 1000);
    }
    for (long i = 0; i < 1000000; i++) {
        snprintf(peer, sizeof peer, "net:2001:db8:%lx:%lx::/64", i >> 16, i & 0xffff);
        peers_learn(peer, t0 + 10 + i / 100, "TLSv1.3", 3, 30 * 86400, 1000);
        over += peers_count() > 1000;
    }
    peers_get_stats(&st);
    unit_int("learned vs flood", "times above peers_max", over, 0);
    unit_int("learned vs flood", "peers in memory", (long)st.n, 1000);
    unit_int("learned vs flood", "learned forgotten", (long)st.evicted_learned, 0);
    unit_str("learned vs flood", "name:partner.example still learned",
             plaintext_verdict("name:partner.example", t0 + 20000, 3), "downgrade");
    unit_str("learned vs flood", "its /64 still learned",
             plaintext_verdict("net:2001:db8:beef:1::/64", t0 + 20000, 3), "downgrade");
    /* A smaller peers_max at reload applies at once. */
    peers_set_max(100);
    unit_int("peers_set_max(100)", "peers in memory", (long)peers_count(), 100);
    unit_str("peers_set_max(100)", "learned kept",
             plaintext_verdict("name:partner.example", t0 + 20000, 3), "downgrade");
    peers_clear();
}

int main(void)
{
    char out[PEER_MAX];
    downgrade_params prm = {1000000, 2, 3600, POLICY_DOWNGRADE_DEFER};
    policy_decision d;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int rc = peers_identity(rows[i].hostname, rows[i].resolve, rows[i].addr, out, sizeof out);
        unit_str(rows[i].name, "peer", out, rows[i].want);
        unit_int(rows[i].name, "rc", rc, rows[i].want[0] ? 0 : -1);
    }

    /* The map: two peers, one learned; a sweep an hour later drops the stale one. */
    peers_learn("name:a.example", 1000000 - 300, "TLSv1.3", 2, 3600, 1000);
    peers_learn("name:a.example", 1000000 - 200, "TLSv1.3", 2, 3600, 1000);
    peers_learn("net:192.0.2.0/24", 1000000 - 100, "TLSv1.2", 2, 3600, 1000);
    unit_int("map", "peers", (long)peers_count(), 2);
    peers_decide("name:a.example", &prm, NULL, NULL, &d);
    unit_str("map", "learned peer in plaintext", policy_verdict_name(d.verdict), "downgrade");
    peers_decide("net:192.0.2.0/24", &prm, NULL, NULL, &d);
    unit_str("map", "one session only", policy_verdict_name(d.verdict), "none");
    peers_decide("name:never.example", &prm, NULL, NULL, &d);
    unit_str("map", "unknown peer", policy_verdict_name(d.verdict), "none");
    peers_learn("name:b.example", 1000000 + 3600 - 150, "TLSv1.3", 2, 3600, 1000);
    unit_int("map", "after the sweep", (long)peers_count(), 2); /* a.example left the window */
    peers_clear();
    unit_int("map", "cleared", (long)peers_count(), 0);
    flood();
    return unit_report("test_peers");
}
