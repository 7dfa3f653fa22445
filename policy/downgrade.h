/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_DOWNGRADE_H
#define TLSGUARD_DOWNGRADE_H

/*
 * downgrade - learned TLS downgrade detection: the TLS history of one sending
 * peer and the verdict it gives for a new session.
 *
 * STARTTLS stripping leaves no trace at the receiver except that a peer which always used
 * TLS suddenly does not. A history remembers, per peer, the times of its last `cap` TLS
 * deliveries (a ring, newest last) and, per protocol version SSLv3..TLSv1.3, the last time
 * that version delivered. A peer is "learned" when it delivered over TLS at least
 * min_sessions times within the window, i.e. when its min_sessions-th newest delivery is
 * within the window; a learned peer that comes in plaintext, or with a version below the
 * best one it used within the window, gets the verdict downgrade. A peer with fewer
 * deliveries - a first contact above all - never does.
 *
 * What identifies a peer is the adapter's business (store/peers.c); here a peer is an
 * opaque printable string used in texts. Nothing here does I/O or reads a clock: times are
 * seconds since the epoch passed in by the caller.
 *
 * Ownership: downgrade_history_new() returns a history the caller frees with
 * downgrade_history_free(). Out of memory aborts (xalloc.h). Not thread-safe: a history
 * is the caller's to lock (store/peers.c does); functions without a history keep no state.
 */

#include "policy.h"

#include <stdint.h>

#define DOWNGRADE_SESSIONS_MAX 100 /* the largest downgrade_min_sessions */
#define DOWNGRADE_VERSIONS 5       /* SSLv3 (0x0300) .. TLSv1.3 (0x0304) */

typedef struct downgrade_history {
    int64_t version_last[DOWNGRADE_VERSIONS]; /* last delivery per version; 0 = never */
    unsigned cap;                             /* ring size, 1..DOWNGRADE_SESSIONS_MAX */
    unsigned n;                               /* deliveries in the ring, <= cap */
    unsigned next;                            /* ring slot the next delivery goes to */
    int64_t ring[];                           /* delivery times, oldest at next when full */
} downgrade_history;

/* Parameters of one decision. */
typedef struct downgrade_params {
    int64_t now;           /* seconds since the epoch */
    unsigned min_sessions; /* downgrade_min_sessions, 1..DOWNGRADE_SESSIONS_MAX */
    int64_t window;        /* downgrade_window in seconds, > 0 */
    policy_downgrade mode; /* as given by downgrade_mode_for(); never UNSET */
} downgrade_params;

/* A history remembering up to `cap` deliveries (clamped to 1..DOWNGRADE_SESSIONS_MAX). */
downgrade_history *downgrade_history_new(unsigned cap);
/* Returns NULL. */
downgrade_history *downgrade_history_free(downgrade_history *h);
/* The same history with room for `cap` deliveries, keeping the newest; h is consumed. */
downgrade_history *downgrade_history_resize(downgrade_history *h, unsigned cap);

/* Notes one session that delivered over TLS at time `now` with protocol `tls_version`
 * (a name, see policy_tls_version_number; an unknown one counts the session only).
 * Deliveries are expected in time order; an older one than the newest is still counted. */
void downgrade_learn(downgrade_history *h, int64_t now, const char *tls_version);

/* Deliveries in the ring at or after now - window (at most h->cap). */
unsigned downgrade_sessions_within(const downgrade_history *h, int64_t now, int64_t window);
/* The best version (0x0300..0x0304) that delivered at or after now - window, or -1. */
int downgrade_best_within(const downgrade_history *h, int64_t now, int64_t window);
/* The newest delivery time, or 0 if none. */
int64_t downgrade_last(const downgrade_history *h);

/* The mode for a message whose sender-side decision came from `sender_rule` (NULL if no
 * rule matched): the rule's downgrade=, monitor when it has none, and monitor for anything
 * but off when opts->monitor (mode = monitor). */
policy_downgrade downgrade_mode_for(const policy_rule *sender_rule, const policy_opts *opts);

/*
 * Decides for a session of `peer` with protocol `tls_version` (NULL or "" = plaintext).
 * `h` may be NULL (a peer never seen over TLS). `sender` (may be NULL) is the message's
 * sender-side decision: its rule, rule text and level are copied so that a downgrade is
 * recorded under the rule that set its mode. Without a downgrade, or with mode off: verdict
 * none, action accept, no reply. With one: verdict downgrade, a reason such as
 * "peer name:example.net delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now
 * plaintext", and the action of the mode; defer gives 451 4.7.0, reject 550 5.7.0, both
 * with the reason in the reply. A TLS session whose version is unknown is no downgrade.
 */
void downgrade_decide(const downgrade_history *h, const downgrade_params *prm, const char *peer,
                      const char *tls_version, const policy_decision *sender,
                      policy_decision *out);

/* "30d", "12h", "90m" or "45s": the largest unit that divides `seconds` exactly. */
void downgrade_window_format(int64_t seconds, char *buf, size_t size);
/* Parses a window "N" + one of s, m, h, d (e.g. "30d") into seconds; returns 0, or -1 if
 * the text is not such a number or the result is outside 1..max seconds. */
int downgrade_window_parse(const char *text, int64_t max, int64_t *seconds);

#endif
