/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_PEERS_H
#define TLSGUARD_PEERS_H

/*
 * peers - who a sending peer is, and the TLS history of every peer, kept in memory for the
 * downgrade check (the rules are in the core, policy/downgrade.h).
 *
 * Identity (peers_identity): a client whose hostname the MTA verified is
 * "name:<registered domain of that hostname>" (libpsl; the name itself when it has no
 * registrable domain, e.g. "localhost"); any other client is its address block,
 * "net:192.0.2.0/24" or "net:2001:db8:1:2::/64". The sender domain and HELO are not used:
 * the client chooses them, and could poison another domain's history with them.
 *
 * History: a mutex-protected hash map peer -> downgrade_history, filled at start from the
 * database (peers_load, read-only connection) and by peers_learn() at each session's first
 * accepted message over TLS. Peers whose newest TLS delivery left the window are dropped
 * from memory, hourly. All functions are thread-safe.
 *
 * Bounded: the map holds at most peers_max peers (policy/lrumap.h, hashed under a key
 * drawn at random per process, so chosen names cannot crowd one bucket). To make room it
 * forgets the peer least recently seen over TLS among those not learned yet; a learned peer
 * goes only when every peer in memory is learned. A forgotten peer is a first contact again:
 * its next plaintext session is no downgrade (tlsguard(8), Security).
 */

#include <stddef.h>
#include <stdint.h>

#include "policy/downgrade.h"

#define PEER_MAX (POLICY_DOMAIN_MAX + 8) /* "name:" + a domain, or "net:" + a CIDR */

/* Writes the peer of a client. `hostname` is the name the MTA gave at connect ("unknown",
 * "[addr]" or "" if it has none); `resolve` is the MTA's {client_resolve} (Postfix and
 * Sendmail send it when asked): the name counts only when it is "OK"; NULL (not sent) or any
 * other value gives the address block. `addr` is the textual
 * address. Returns 0, or -1 with "" written when there is neither a name nor an address. */
int peers_identity(const char *hostname, const char *resolve, const char *addr, char *out,
                   size_t size);

/* Notes a session of `peer` that delivered over TLS at `now`. `cap` is
 * downgrade_min_sessions, `window` downgrade_window, `max` peers_max (evicting down to it). */
void peers_learn(const char *peer, int64_t now, const char *tls_version, unsigned cap,
                 int64_t window, size_t max);

/* downgrade_decide() with the history of `peer`, under the lock. */
void peers_decide(const char *peer, const downgrade_params *prm, const char *tls_version,
                  const policy_decision *sender, policy_decision *out);

/* Loads the history of the sessions within the window before `now` from the database at
 * `path`: sessions with TLS and at least one accepted, tagged or quarantined message, in
 * time order, keeping at most `max` peers (the most recently seen). Returns the number of
 * sessions learned, or -1 with a message in err. */
long peers_load(const char *path, int64_t now, int64_t window, unsigned cap, size_t max,
                char *err, size_t errsize);

/* Applies peers_max now, forgetting peers down to it (peers_learn() does at its next call). */
void peers_set_max(size_t max);

/* Number of peers in memory. */
size_t peers_count(void);

typedef struct peers_stats {
    size_t n, learned;              /* peers in memory; of them learned when last seen */
    size_t max;                     /* peers_max in force */
    size_t evicted, evicted_learned; /* forgotten for room since start; of them learned */
    size_t longest_chain;           /* the longest hash bucket */
} peers_stats;

/* The state of the map, for the log, tests and the bench. */
void peers_get_stats(peers_stats *st);

/* Frees every history (at shutdown). */
void peers_clear(void);

#endif
