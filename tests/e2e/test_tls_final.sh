#!/bin/bash
# SPDX-License-Identifier: MIT
# TLS facts are final only at MAIL: a client may send MAIL right after STARTTLS without a second
# EHLO. tlsguard must still see the session as encrypted.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt action=reject
EOF2
start_all

# openssl s_client sends EHLO and STARTTLS itself; after the handshake we go straight to MAIL.
{
    sleep 1.5
    printf 'MAIL FROM:<noehlo@bank.example>\r\n'
    sleep 0.5
    printf 'RCPT TO:<r@y.example>\r\n'
    sleep 0.5
    printf 'DATA\r\n'
    sleep 0.5
    printf 'Subject: tls-final-noehlo\r\n\r\nbody\r\n.\r\n'
    sleep 0.5
    printf 'QUIT\r\n'
    sleep 0.5
} | timeout 30 openssl s_client -connect "127.0.0.1:$SMTP_PORT" -starttls smtp -quiet \
    -name client.tlsguard.test -tls1_3 >"$E2E/last.txt" 2>&1 || true
cp "$E2E/last.txt" "$E2E/s_client.txt"
# s_client prints the server's lines as they are; make them look like swaks' for replies().
sed -i -E 's/^([2-5][0-9][0-9][ -])/<~  \1/' "$E2E/last.txt"
expect_reply 250 "queued as" "MAIL without a second EHLO after STARTTLS: accepted as encrypted"
wait_for_delivery tls-final-noehlo >/dev/null
pass "delivered"
sql_is "SELECT s.tls_version, s.cipher, m.verdict, m.action, m.outcome FROM messages m
        JOIN sessions s ON s.id = m.session_id WHERE m.mail_from = 'noehlo@bank.example'" \
    "TLSv1.3|TLS_AES_256_GCM_SHA384|pass|accept|accepted" "session and message rows carry the TLS facts"
