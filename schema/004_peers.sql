-- SPDX-License-Identifier: MIT
-- tlsguard schema, migration 4: the sending peer of a session, for learned downgrade
-- detection. 'name:<registered domain>' when the MTA verified the client's
-- hostname, else 'net:<address block>' (/24 for IPv4, /64 for IPv6); see tlsguard(8).
ALTER TABLE sessions ADD COLUMN peer TEXT;
CREATE INDEX sessions_peer ON sessions(peer, started_at);

-- One row per peer over the retained records. A TLS session counts when it delivered (at
-- least one message accepted, tagged or quarantined), as tlsguard learns it; a plaintext
-- session counts when it sent MAIL at all. Versions compare as text, which orders SSLv3 <
-- TLSv1 < TLSv1.1 < TLSv1.2 < TLSv1.3.
CREATE VIEW peers AS
SELECT peer,
       count(CASE WHEN tls_version IS NOT NULL AND delivered THEN 1 END) AS tls_sessions,
       count(CASE WHEN tls_version IS NULL AND messages > 0 THEN 1 END) AS plaintext_sessions,
       max(CASE WHEN tls_version IS NOT NULL AND delivered THEN tls_version END) AS best_tls_version,
       min(started_at) AS first_seen,
       max(started_at) AS last_seen,
       max(CASE WHEN tls_version IS NOT NULL AND delivered THEN started_at END) AS last_tls_at,
       max(CASE WHEN tls_version IS NULL AND messages > 0 THEN started_at END) AS last_plaintext_at
  FROM (SELECT s.peer, s.tls_version, s.messages, s.started_at,
               EXISTS (SELECT 1 FROM messages m WHERE m.session_id = s.id
                          AND m.outcome IN ('accepted', 'tagged', 'quarantined')) AS delivered
          FROM sessions s WHERE s.peer IS NOT NULL)
 GROUP BY peer;
