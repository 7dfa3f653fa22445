-- SPDX-License-Identifier: MIT
-- TLS version share per day, last 30 days (UTC days), oldest first.
--
--   sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < tls-versions-daily.sql
--   sqlite3 -header -column -cmd '.parameter set @days 90' DB < tls-versions-daily.sql
--
-- One row per day with sessions: all SMTP sessions of that day (also those without mail),
-- then the percentage of them per protocol: plaintext (no TLS), SSLv3 (and SSLv2), TLSv1,
-- TLSv1.1, TLSv1.2, TLSv1.3 and other (anything the MTA reported otherwise). A row adds up
-- to 100 give or take rounding.

.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@days', 30);

SELECT day, sessions,
       printf('%.1f', 100.0 * plaintext / sessions) AS plaintext,
       printf('%.1f', 100.0 * ssl3 / sessions) AS "SSLv3",
       printf('%.1f', 100.0 * tls10 / sessions) AS "TLSv1",
       printf('%.1f', 100.0 * tls11 / sessions) AS "TLSv1.1",
       printf('%.1f', 100.0 * tls12 / sessions) AS "TLSv1.2",
       printf('%.1f', 100.0 * tls13 / sessions) AS "TLSv1.3",
       printf('%.1f', 100.0 * (sessions - plaintext - ssl3 - tls10 - tls11 - tls12 - tls13)
                      / sessions) AS other
  FROM (SELECT date(started_at) AS day, count(*) AS sessions,
               count(*) FILTER (WHERE tls_version IS NULL) AS plaintext,
               count(*) FILTER (WHERE tls_version IN ('SSLv2', 'SSLv3')) AS ssl3,
               count(*) FILTER (WHERE tls_version = 'TLSv1') AS tls10,
               count(*) FILTER (WHERE tls_version = 'TLSv1.1') AS tls11,
               count(*) FILTER (WHERE tls_version = 'TLSv1.2') AS tls12,
               count(*) FILTER (WHERE tls_version = 'TLSv1.3') AS tls13
          FROM sessions
         WHERE started_at >= datetime('now', '-' || @days || ' days')
         GROUP BY day)
 ORDER BY day;
