-- SPDX-License-Identifier: MIT
-- Who still sends in plaintext? Last 30 days (UTC).
--
--   sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < plaintext-senders.sql
--   sqlite3 -header -column -cmd '.parameter set @days 90' DB < plaintext-senders.sql
--
-- First table, the peers: every client that had sessions without TLS, with how many
-- sessions (also those that sent no mail) and how many transactions (MAIL FROM) they
-- carried, most messages first.
-- Second table, the sender domains with mail that came in plaintext: all their messages,
-- those in plaintext and the share, and from how many peers. A domain with a small share
-- usually has one outbound host without TLS, or someone stripped STARTTLS on the path.
-- Refused attempts count too: they are mail the domain tried to send that way.
-- The null sender (bounces) is shown as <>.

.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@days', 30);

.print 'Peers with plaintext sessions:'
SELECT client_addr, coalesce(client_name, '') AS client_name, count(*) AS sessions,
       sum(messages) AS messages, max(started_at) AS last_seen
  FROM sessions
 WHERE tls_version IS NULL AND started_at >= datetime('now', '-' || @days || ' days')
 GROUP BY +client_addr, client_name -- the + keeps SQLite on the started_at index
 ORDER BY messages DESC, sessions DESC, client_addr, client_name;

.print ''
.print 'Sender domains with plaintext mail:'
SELECT sender_domain, messages, plaintext,
       printf('%.1f', 100.0 * plaintext / messages) AS pct_plaintext, plaintext_peers,
       last_plaintext
  FROM (SELECT CASE WHEN coalesce(m.mail_from, '') = '' THEN '<>'
                    ELSE lower(substr(m.mail_from, instr(m.mail_from, '@') + 1)) END AS sender_domain,
               count(*) AS messages,
               count(*) FILTER (WHERE s.tls_version IS NULL) AS plaintext,
               count(DISTINCT s.client_addr) FILTER (WHERE s.tls_version IS NULL) AS plaintext_peers,
               max(m.at) FILTER (WHERE s.tls_version IS NULL) AS last_plaintext
          FROM messages m JOIN sessions s ON s.id = m.session_id
         WHERE m.at >= datetime('now', '-' || @days || ' days')
         GROUP BY sender_domain)
 WHERE plaintext > 0
 ORDER BY plaintext DESC, sender_domain;
