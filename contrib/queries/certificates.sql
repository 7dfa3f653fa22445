-- SPDX-License-Identifier: MIT
-- Certificates seen per partner domain, last 30 days (UTC).
--
--   sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < certificates.sql
--   sqlite3 -header -column -cmd '.parameter set @days 90' DB < certificates.sql
--
-- For every sender domain that presented a client certificate at least once: per
-- certificate subject, issuer and whether the MTA trusted it (verified yes/no), how many
-- messages over TLS, from how many client addresses, and when last seen. The domain's TLS
-- mail without a certificate is a row with subject and issuer '-', so a partner that
-- presents one only sometimes shows. Use it to write `from:DOMAIN verify match=...` rules.
-- Postfix passes subject and issuer only for a certificate it trusted
-- (smtpd_tls_CAfile): an untrusted certificate looks like none (subject '-', verified no).

.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@days', 30);

WITH tls_mail AS (
    SELECT CASE WHEN coalesce(m.mail_from, '') = '' THEN '<>'
                ELSE lower(substr(m.mail_from, instr(m.mail_from, '@') + 1)) END AS sender_domain,
           m.at, s.client_addr, s.cert_subject, s.cert_issuer, s.cert_verified
      FROM messages m JOIN sessions s ON s.id = m.session_id
     WHERE s.tls_version IS NOT NULL AND m.at >= datetime('now', '-' || @days || ' days'))
SELECT sender_domain, coalesce(cert_subject, '-') AS cert_subject,
       coalesce(cert_issuer, '-') AS cert_issuer,
       CASE WHEN cert_verified = 1 THEN 'yes' ELSE 'no' END AS verified,
       count(*) AS messages, count(DISTINCT client_addr) AS clients, max(at) AS last_seen
  FROM tls_mail
 WHERE sender_domain IN (SELECT sender_domain FROM tls_mail WHERE cert_subject IS NOT NULL)
 GROUP BY 1, 2, 3, 4
 ORDER BY sender_domain, messages DESC, cert_subject, cert_issuer, verified;
