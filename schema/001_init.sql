-- SPDX-License-Identifier: MIT
-- tlsguard schema, migration 1. Applied at start when PRAGMA user_version < 1.
-- Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.SSS', usable with sqlite3's date functions.

-- One row per SMTP connection the MTA announced, also those that sent no mail.
-- TLS columns are NULL when the session was not encrypted.
CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,              -- NULL while the connection is open
    client_addr   TEXT,
    client_port   INTEGER,
    client_name   TEXT,
    helo          TEXT,
    tls_version   TEXT,
    cipher        TEXT,
    cipher_bits   INTEGER,
    cert_subject  TEXT,
    cert_issuer   TEXT,
    cert_verified INTEGER,          -- 1 trusted by the MTA, 0 not, NULL without TLS
    messages      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started_at ON sessions(started_at);
CREATE INDEX sessions_client_addr ON sessions(client_addr);

-- One row per transaction (MAIL FROM), with the sender-side decision.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions(id),
    at          TEXT NOT NULL,
    queue_id    TEXT,
    mail_from   TEXT,               -- normalised envelope sender, '' for the null sender
    rule        TEXT,               -- matched sender-side rule, NULL if none
    level       TEXT,
    verdict     TEXT NOT NULL,      -- pass | fail | none
    reason      TEXT,
    action      TEXT NOT NULL,      -- accept | reject | defer | tag | quarantine | monitor
    outcome     TEXT                -- accepted | tagged | quarantined | refused | aborted; NULL until known
);
CREATE INDEX messages_at ON messages(at);
CREATE INDEX messages_session ON messages(session_id);

-- One row per RCPT TO with the recipient-side decision.
CREATE TABLE recipients (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    at          TEXT NOT NULL,
    rcpt        TEXT NOT NULL,
    rule        TEXT,
    level       TEXT,
    verdict     TEXT NOT NULL,
    reason      TEXT,
    action      TEXT NOT NULL
);
CREATE INDEX recipients_message ON recipients(message_id);
CREATE INDEX recipients_at ON recipients(at);

-- One row per failed requirement. rcpt is NULL for a sender-side rule.
CREATE VIEW policy_hits AS
SELECT m.at, m.queue_id, s.client_addr, s.client_name, s.helo, s.tls_version, s.cipher,
       s.cipher_bits, m.mail_from, NULL AS rcpt, m.rule, m.level, m.reason, m.action,
       s.id AS session_id, m.id AS message_id
  FROM messages m JOIN sessions s ON s.id = m.session_id
 WHERE m.verdict = 'fail'
UNION ALL
SELECT r.at, m.queue_id, s.client_addr, s.client_name, s.helo, s.tls_version, s.cipher,
       s.cipher_bits, m.mail_from, r.rcpt, r.rule, r.level, r.reason, r.action,
       s.id AS session_id, m.id AS message_id
  FROM recipients r JOIN messages m ON m.id = r.message_id JOIN sessions s ON s.id = m.session_id
 WHERE r.verdict = 'fail';
