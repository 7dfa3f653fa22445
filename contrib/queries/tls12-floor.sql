-- SPDX-License-Identifier: MIT
-- Which sender domains would a TLSv1.2 floor break? Last 30 days (UTC).
--
--   sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < tls12-floor.sql
--   sqlite3 -header -column -cmd '.parameter set @days 90' DB < tls12-floor.sql
--
-- A rule such as `from:DOMAIN encrypt protocols=>=TLSv1.2` (or `* encrypt ...`) refuses
-- mail that arrives in plaintext or over SSLv3, TLSv1 or TLSv1.1. This lists every sender
-- domain with such messages: how many per protocol, how many in all would have been
-- refused (would_break) out of all its messages, the share, and the last one. Domains
-- whose mail all came over TLSv1.2 or TLSv1.3 are not listed. The null sender (bounces)
-- is shown as <>; only `*` and `client:` rules apply to it.

.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@days', 30);

SELECT sender_domain, plaintext, "SSLv3", "TLSv1", "TLSv1.1", would_break, messages,
       printf('%.1f', 100.0 * would_break / messages) AS pct_break, last_break
  FROM (SELECT CASE WHEN coalesce(m.mail_from, '') = '' THEN '<>'
                    ELSE lower(substr(m.mail_from, instr(m.mail_from, '@') + 1)) END AS sender_domain,
               count(*) FILTER (WHERE s.tls_version IS NULL) AS plaintext,
               count(*) FILTER (WHERE s.tls_version IN ('SSLv2', 'SSLv3')) AS "SSLv3",
               count(*) FILTER (WHERE s.tls_version = 'TLSv1') AS "TLSv1",
               count(*) FILTER (WHERE s.tls_version = 'TLSv1.1') AS "TLSv1.1",
               count(*) FILTER (WHERE weak) AS would_break,
               count(*) AS messages,
               max(m.at) FILTER (WHERE weak) AS last_break
          FROM (SELECT *, tls_version IS NULL
                          OR tls_version IN ('SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1') AS weak
                  FROM sessions) s
          JOIN messages m ON s.id = m.session_id
         WHERE m.at >= datetime('now', '-' || @days || ' days')
         GROUP BY sender_domain)
 WHERE would_break > 0
 ORDER BY would_break DESC, sender_domain;
