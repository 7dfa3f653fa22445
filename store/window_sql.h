/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_WINDOW_SQL_H
#define TLSGUARD_WINDOW_SQL_H

/*
 * window_sql - which recorded sessions the downgrade check learns a peer from, as one SQL
 * condition shared by the daemon's start (peers_load) and `tlsguard peers` (query_peers),
 * so the listing shows exactly what the daemon learns: sessions `s` that started within the
 * window beginning at ?1 (seconds since the epoch), have a peer, used TLS, and carried at
 * least one accepted, tagged or quarantined message.
 */
#define WINDOW_SESSIONS_WHERE                                                                \
    " s.started_at >= datetime(?1, 'unixepoch') AND s.peer IS NOT NULL"                      \
    " AND s.tls_version IS NOT NULL"                                                         \
    " AND EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id"                        \
    "             AND m.outcome IN ('accepted', 'tagged', 'quarantined'))"

#endif
