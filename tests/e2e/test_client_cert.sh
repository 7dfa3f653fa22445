#!/bin/bash
# SPDX-License-Identifier: MIT
# Level verify (Domain Security): a client certificate that Postfix trusts, with a CN that
# match= accepts. Trusted+right name passes; trusted+wrong name, untrusted, absent and
# plaintext are refused with the policy's text. Level fingerprint fails closed: Postfix passes
# no certificate fingerprint.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example verify match=bank.example:.bank.example action=reject
from:any.example verify
from:pin.example fingerprint match=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21 action=reject
EOF2
start_all

cert_cols="cert_subject, cert_issuer, cert_verified"
session_certs_are() { # MAIL_FROM WANT DESC
    sql_is "SELECT $cert_cols FROM sessions WHERE id = (SELECT session_id FROM messages
            WHERE mail_from = '$1')" "$2" "$3"
}
need="TLS with a trusted client certificate required for mail from bank.example (rule from:bank.example)"

# --- trusted, right name
send_mail --cert good --from good@bank.example --to r@y.example --header "Subject: cert-good" ||
    fail "trusted certificate with the right CN refused"
f=$(wait_for_delivery cert-good)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example" \
    "trusted, CN client.bank.example matches .bank.example"
session_certs_are good@bank.example "client.bank.example|tlsguard test CA|1" "trusted: certificate columns"
sql_is "SELECT level, verdict, action, outcome FROM messages WHERE mail_from = 'good@bank.example'" \
    "verify|pass|accept|accepted" "trusted: messages row"

# --- trusted, wrong name
send_mail --cert wrong --from wrong@bank.example --to r@y.example && fail "wrong CN accepted"
expect_reply 550 "5.7.1 $need: client certificate CN other.example.net does not match bank.example:.bank.example" \
    "trusted, CN other.example.net: 550 5.7.1"
session_certs_are wrong@bank.example "other.example.net|tlsguard test CA|1" "wrong CN: certificate columns"

# --- untrusted (self-signed, CN would match)
send_mail --cert untrusted --from untrusted@bank.example --to r@y.example && fail "untrusted certificate accepted"
expect_reply 550 "5.7.1 $need: no trusted client certificate" "untrusted certificate: 550 5.7.1"
session_certs_are untrusted@bank.example "NULL|NULL|0" "untrusted: no subject/issuer (Postfix hides them), verified 0"

# --- no certificate
send_mail --tls --from nocert@bank.example --to r@y.example && fail "TLS without certificate accepted"
expect_reply 550 "5.7.1 $need: no trusted client certificate" "no certificate: 550 5.7.1"
session_certs_are nocert@bank.example "NULL|NULL|0" "no certificate: certificate columns"

# --- no TLS at all
send_mail --from plain@bank.example --to r@y.example && fail "plaintext accepted by verify"
expect_reply 530 "5.7.0 $need: session was not encrypted" "plaintext: 530 5.7.0"
session_certs_are plain@bank.example "NULL|NULL|NULL" "plaintext: certificate columns NULL"

# --- verify without match=: any trusted certificate; default_action (defer) otherwise
send_mail --cert wrong --from wrong@any.example --to r@y.example --header "Subject: cert-any" ||
    fail "verify without match= refused a trusted certificate"
f=$(wait_for_delivery cert-any)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:any.example" \
    "verify without match=: any trusted certificate"
send_mail --cert untrusted --from untrusted@any.example --to r@y.example && fail "untrusted accepted"
expect_reply 451 "4.7.1 TLS with a trusted client certificate required for mail from any.example (rule from:any.example): no trusted client certificate" \
    "verify without match=, untrusted: 451 4.7.1 (default_action defer)"

sql_is "SELECT mail_from, level, reason, action FROM policy_hits ORDER BY message_id" \
    "wrong@bank.example|verify|client certificate CN other.example.net does not match bank.example:.bank.example|reject
untrusted@bank.example|verify|no trusted client certificate|reject
nocert@bank.example|verify|no trusted client certificate|reject
plain@bank.example|verify|session was not encrypted|reject
untrusted@any.example|verify|no trusted client certificate|defer" "policy_hits: one row per refusal"

# --- fingerprint: Postfix passes no fingerprint, so the rule refuses even a trusted certificate
send_mail --cert good --from pin@pin.example --to r@y.example && fail "fingerprint rule passed with Postfix"
expect_reply 550 "5.7.1 TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): the MTA passed no certificate fingerprint ({cert_fp} or {cert_md5}); Postfix does not send one" \
    "fingerprint with Postfix: 550 5.7.1, fails closed with the reason"
sql_is "SELECT cert_subject, cert_verified, cert_fp FROM sessions WHERE id = (SELECT session_id
        FROM messages WHERE mail_from = 'pin@pin.example')" "client.bank.example|1|NULL" \
    "fingerprint with Postfix: trusted certificate recorded, cert_fp NULL"
