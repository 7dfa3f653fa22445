-- SPDX-License-Identifier: MIT
-- Policy hits by rule this week: the last 7 days (UTC), not the calendar week.
--
--   sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < policy-hits-week.sql
--   sqlite3 -header -column -cmd '.parameter set @days 1' DB < policy-hits-week.sql
--
-- One row per rule and action from the policy_hits view (one row per failed requirement:
-- sender-side rules once per transaction, rcpt: rules once per recipient): how many hits,
-- of how many transactions, sender domains and client addresses, and the first and last.
-- Action monitor means the hit was only recorded (level may, or mode = monitor).

.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@days', 7);

SELECT coalesce(rule, '-') AS rule, action, count(*) AS hits,
       count(DISTINCT message_id) AS messages,
       count(DISTINCT CASE WHEN coalesce(mail_from, '') = '' THEN '<>'
                           ELSE lower(substr(mail_from, instr(mail_from, '@') + 1)) END)
           AS sender_domains,
       count(DISTINCT client_addr) AS clients, min(at) AS first_hit, max(at) AS last_hit
  FROM policy_hits
 WHERE at >= datetime('now', '-' || @days || ' days')
 GROUP BY 1, 2
 ORDER BY hits DESC, rule, action;
