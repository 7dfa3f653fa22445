-- SPDX-License-Identifier: MIT
-- tlsguard schema, migration 3: verdicts beyond pass/fail/none. messages.verdict
-- may now also be 'downgrade' (a peer that used TLS came without it, or with an older
-- protocol) or 'auth-plaintext' (SMTP AUTH without TLS). Both are policy hits.

DROP VIEW policy_hits;
CREATE VIEW policy_hits AS
SELECT m.at, m.queue_id, s.client_addr, s.client_name, s.helo, s.tls_version, s.cipher,
       s.cipher_bits, m.mail_from, NULL AS rcpt, m.rule, m.level, m.reason, m.action,
       s.id AS session_id, m.id AS message_id, NULL AS dane
  FROM messages m JOIN sessions s ON s.id = m.session_id
 WHERE m.verdict NOT IN ('pass', 'none')
UNION ALL
SELECT r.at, m.queue_id, s.client_addr, s.client_name, s.helo, s.tls_version, s.cipher,
       s.cipher_bits, m.mail_from, r.rcpt, r.rule, r.level, r.reason, r.action,
       s.id AS session_id, m.id AS message_id, r.dane
  FROM recipients r JOIN messages m ON m.id = r.message_id JOIN sessions s ON s.id = m.session_id
 WHERE r.verdict NOT IN ('pass', 'none');
