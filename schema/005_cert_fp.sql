-- SPDX-License-Identifier: MIT
-- tlsguard schema, migration 5: the client certificate's fingerprint (Sendmail).

-- As the MTA passed it: Sendmail's {cert_fp} (digest set by CertFingerprintAlgorithm) or
-- {cert_md5}, uppercase hex bytes separated by ':'. NULL without TLS, without a client
-- certificate, and always with Postfix, which passes no fingerprint.
ALTER TABLE sessions ADD COLUMN cert_fp TEXT;
