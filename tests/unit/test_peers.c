/* SPDX-License-Identifier: MIT */
/* Unit tests for the daemon's peer identity (milter/peers.c, with libpsl) and its in-memory
 * history: who a client is for downgrade detection, row by row. */
#include "peers.h"
#include "unit.h"

/* libc */
#include <stddef.h>

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
    peers_learn("name:a.example", 1000000 - 300, "TLSv1.3", 2, 3600);
    peers_learn("name:a.example", 1000000 - 200, "TLSv1.3", 2, 3600);
    peers_learn("net:192.0.2.0/24", 1000000 - 100, "TLSv1.2", 2, 3600);
    unit_int("map", "peers", (long)peers_count(), 2);
    peers_decide("name:a.example", &prm, NULL, NULL, &d);
    unit_str("map", "learned peer in plaintext", policy_verdict_name(d.verdict), "downgrade");
    peers_decide("net:192.0.2.0/24", &prm, NULL, NULL, &d);
    unit_str("map", "one session only", policy_verdict_name(d.verdict), "none");
    peers_decide("name:never.example", &prm, NULL, NULL, &d);
    unit_str("map", "unknown peer", policy_verdict_name(d.verdict), "none");
    peers_learn("name:b.example", 1000000 + 3600 - 150, "TLSv1.3", 2, 3600);
    unit_int("map", "after the sweep", (long)peers_count(), 2); /* a.example left the window */
    peers_clear();
    unit_int("map", "cleared", (long)peers_count(), 0);
    return unit_report("test_peers");
}
