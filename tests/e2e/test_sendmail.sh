#!/bin/bash
# SPDX-License-Identifier: MIT
# tlsguard attached to a real Sendmail 8.17 (lib_sendmail.sh) with the lines of
# contrib/sendmail/tlsguard.mc: plaintext and STARTTLS sessions recorded, protocol floors
# (TLSv1.2 against >=TLSv1.3, a legacy TLSv1.1 client against >=TLSv1.2), level verify from
# Sendmail's {verify} with a trusted, an untrusted, a wrong and no client certificate, reject
# and defer replies exactly as swaks sees them, a rcpt: rule per recipient, a learned downgrade,
# the rows in SQLite, and F=T when tlsguard is down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
e2e_init
write_policy <<'EOF2'
from:enc.example encrypt action=reject
from:floor.example encrypt protocols=>=TLSv1.3
from:floor12.example encrypt protocols=>=TLSv1.2 action=reject
from:bank.example verify match=.bank.example action=reject
from:defer.example verify
rcpt:secure.example encrypt action=reject
* may
EOF2
start_all_sendmail

tls13="tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256"
session_of() { # MAIL_FROM: the session row's TLS and certificate columns
    echo "SELECT tls_version, cipher, cipher_bits, cert_subject, cert_issuer, cert_verified
          FROM sessions WHERE id = (SELECT session_id FROM messages WHERE mail_from = '$1')"
}
message_of() { # MAIL_FROM: the message row's decision
    echo "SELECT level, verdict, action, outcome FROM messages WHERE mail_from = '$1'"
}

# --- plaintext and STARTTLS, recorded
send_mail --from a@plain.example --to r@y.example --header "Subject: sm-plain" ||
    fail "plaintext mail refused under * may"
f=$(wait_for_delivery sm-plain)
expect_header "$f" "pass tls=none rule=*" "plaintext through Sendmail: header"
sql_is "$(session_of a@plain.example)" "NULL|NULL|NULL|NULL|NULL|NULL" "plaintext: sessions row without TLS"
sql_is "$(message_of a@plain.example)" "may|pass|accept|accepted" "plaintext: messages row"

send_mail --tls --from a@tls.example --to r@y.example --header "Subject: sm-tls13" ||
    fail "STARTTLS mail refused under * may"
expect_tls TLSv1.3
f=$(wait_for_delivery sm-tls13)
expect_header "$f" "pass $tls13 rule=*" "STARTTLS through Sendmail: header"
sql_is "$(session_of a@tls.example)" "TLSv1.3|TLS_AES_256_GCM_SHA384|256|NULL|NULL|0" \
    "STARTTLS without a client certificate: TLS columns, no certificate, verified 0"
sql_is "SELECT count(*) FROM sessions WHERE tls_version IS NULL" "1" "one plaintext session so far"

# --- encrypt, reject: 530 at MAIL
send_mail --from x@enc.example --to r@y.example --header "Subject: sm-enc-plain" &&
    fail "plaintext accepted by an encrypt rule"
expect_reply 530 "5.7.0 TLS required for mail from enc.example (rule from:enc.example): session was not encrypted" \
    "encrypt, plaintext: 530 5.7.0 with the policy's text"
not_delivered sm-enc-plain
sendmail_log_has "reject=530 5.7.0 TLS required for mail from enc.example" ||
    fail "Sendmail's log does not show the milter's 530"
pass "Sendmail logged the milter's 530"

# --- a protocol floor: TLSv1.2 deferred, TLSv1.3 accepted
send_mail --tls --tls-protocol tlsv1_2 --from x@floor.example --to r@y.example &&
    fail "TLSv1.2 accepted by protocols=>=TLSv1.3"
expect_tls TLSv1.2
expect_reply 451 "4.7.1 TLS required for mail from floor.example (rule from:floor.example): protocol TLSv1.2 not allowed by protocols=>=TLSv1.3" \
    "floor, TLSv1.2: 451 4.7.1 (default_action defer)"
send_mail --tls --from y@floor.example --to r@y.example --header "Subject: sm-floor13" ||
    fail "TLSv1.3 refused by protocols=>=TLSv1.3"
f=$(wait_for_delivery sm-floor13)
expect_header "$f" "pass $tls13 rule=from:floor.example" "floor, TLSv1.3: accepted"
sql_is "SELECT tls_version, cipher FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'x@floor.example')" "TLSv1.2|ECDHE-RSA-AES256-GCM-SHA384" \
    "floor: the refused session's protocol and cipher recorded"

# TLSv1.1 from a legacy client (OPENSSL_CONF recipe on both sides)
send_mail --old-tls --tls --tls-protocol tlsv1_1 --from x@floor12.example --to r@y.example &&
    fail "TLSv1.1 accepted by protocols=>=TLSv1.2"
expect_tls TLSv1.1
expect_reply 550 "5.7.1 <x@floor12.example>... TLS required for mail from floor12.example (rule from:floor12.example): protocol TLSv1.1 not allowed by protocols=>=TLSv1.2" \
    "floor, TLSv1.1: 550 5.7.1"
sql_is "SELECT tls_version FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'x@floor12.example')" "TLSv1.1" "floor: TLSv1.1 recorded"

# --- verify: Sendmail's {verify} decides, {cn_subject} is the name
need="TLS with a trusted client certificate required for mail from bank.example (rule from:bank.example)"
send_mail --cert good --from good@bank.example --to r@y.example --header "Subject: sm-cert-good" ||
    fail "verified certificate with the right CN refused"
f=$(wait_for_delivery sm-cert-good)
expect_header "$f" "pass $tls13 rule=from:bank.example" "verified certificate, CN client.bank.example: accepted"
sql_is "$(session_of good@bank.example)" \
    "TLSv1.3|TLS_AES_256_GCM_SHA384|256|client.bank.example|tlsguard test CA|1" \
    "verified: CN and issuer CN decoded from Sendmail's xtext, verified 1"

send_mail --cert untrusted --from untrusted@bank.example --to r@y.example &&
    fail "untrusted certificate accepted"
# Sendmail puts the address before the text of a 550 (and 450) reply, not of a 530 or 451.
expect_reply 550 "5.7.1 <untrusted@bank.example>... $need: no trusted client certificate" \
    "untrusted certificate ({verify}=FAIL): 550 5.7.1"
sql_is "$(session_of untrusted@bank.example)" \
    "TLSv1.3|TLS_AES_256_GCM_SHA384|256|client.bank.example|client.bank.example|0" \
    "untrusted: Sendmail names the certificate anyway, verified 0"

send_mail --cert wrong --from wrong@bank.example --to r@y.example && fail "wrong CN accepted"
expect_reply 550 "5.7.1 <wrong@bank.example>... $need: client certificate CN other.example.net does not match .bank.example" \
    "verified certificate, wrong CN: 550 5.7.1"

send_mail --tls --from nocert@bank.example --to r@y.example && fail "no certificate accepted"
expect_reply 550 "5.7.1 <nocert@bank.example>... $need: no trusted client certificate" \
    "no certificate ({verify}=NO): 550 5.7.1"

send_mail --from plain@bank.example --to r@y.example && fail "plaintext accepted by verify"
expect_reply 530 "5.7.0 $need: session was not encrypted" "verify, plaintext: 530 5.7.0"

# --- defer: verify without action= takes default_action (defer)
send_mail --cert untrusted --from u@defer.example --to r@y.example && fail "untrusted accepted"
expect_reply 451 "4.7.1 TLS with a trusted client certificate required for mail from defer.example (rule from:defer.example): no trusted client certificate" \
    "verify, untrusted, default_action: 451 4.7.1"
send_mail --cert good --from g@defer.example --to r@y.example --header "Subject: sm-defer-good" ||
    fail "verified certificate refused by verify without match="
wait_for_delivery sm-defer-good >/dev/null
pass "verify without match=: any verified certificate"

# --- rcpt: rules at RCPT TO, per recipient, as under Postfix
send_mail --from two@x.example --to a@secure.example,b@open.example --header "Subject: sm-rcpt-two" ||
    fail "plaintext message with one open recipient refused as a whole"
expect_reply 530 "5.7.0 TLS required for mail to secure.example (rule rcpt:secure.example): session was not encrypted" \
    "rcpt:, plaintext: RCPT a@secure.example refused with 530 5.7.0"
f=$(wait_for_delivery sm-rcpt-two)
expect_rcpts "$f" "b@open.example" "rcpt:, plaintext: delivered to the other recipient only"
sql_is "SELECT r.rcpt, r.rule, r.verdict, r.action FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE m.mail_from = 'two@x.example' AND r.rcpt = 'a@secure.example'" \
    "a@secure.example|rcpt:secure.example|fail|reject" "rcpt:, plaintext: the refused recipient's row"
# The peer (every swaks run comes from 127.0.0.1) has used TLS more than
# downgrade_min_sessions times by now: plaintext from it is a learned downgrade (default monitor).
sql_is "SELECT verdict, action, outcome FROM messages WHERE mail_from = 'two@x.example'" \
    "downgrade|monitor|accepted" "downgrade detection under Sendmail: plaintext after TLS, monitored"
send_mail --tls --from tls2@x.example --to a@secure.example,b@open.example --header "Subject: sm-rcpt-tls" ||
    fail "rcpt:, STARTTLS: refused"
f=$(wait_for_delivery sm-rcpt-tls)
expect_rcpts "$f" "a@secure.example b@open.example" "rcpt:, STARTTLS: delivered to both recipients"

# --- the records
# Sendmail sends {client_resolve}=OK for 127.0.0.1 = localhost when tlsguard asks at connect:
# the verified name is the peer (a name without it would be the address block).
sql_is "SELECT DISTINCT peer FROM sessions" "name:localhost" "Sendmail: {client_resolve}=OK, the peer keeps its name"
sql_is "SELECT mail_from, level, verdict, action, outcome FROM messages
        WHERE verdict != 'pass' ORDER BY id" \
    "x@enc.example|encrypt|fail|reject|refused
x@floor.example|encrypt|fail|defer|refused
x@floor12.example|encrypt|fail|reject|refused
untrusted@bank.example|verify|fail|reject|refused
wrong@bank.example|verify|fail|reject|refused
nocert@bank.example|verify|fail|reject|refused
plain@bank.example|verify|fail|reject|refused
u@defer.example|verify|fail|defer|refused
two@x.example|may|downgrade|monitor|accepted" "messages: every refusal, and the downgrade"
sql_is "SELECT count(*) FROM policy_hits" "10" "policy_hits: 8 refused senders, 1 downgrade, 1 refused recipient"
sql_is "SELECT count(*), count(ended_at), sum(messages) FROM sessions" "15|15|15" \
    "sessions: one per swaks run, all closed, one message each"
sql_is "SELECT count(*) FROM messages WHERE queue_id IS NULL OR queue_id = ''" "0" \
    "messages: Sendmail's queue id ({i}) recorded for each"

# --- tlsguard down: F=T tempfails
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
send_mail --tls --from a@tls.example --to r@y.example --header "Subject: sm-down-tls" &&
    fail "mail accepted while tlsguard was down"
expect_reply 454 "4.7.0 Please try again later" "tlsguard down, F=T: STARTTLS refused with 454 4.7.0"
send_mail --from a@plain.example --to r@y.example --header "Subject: sm-down-plain" &&
    fail "mail accepted while tlsguard was down"
expect_reply 451 "4.3.2 Please try again later" "tlsguard down, F=T: MAIL refused with 451 4.3.2"
not_delivered sm-down
sendmail_log_has "Milter: initialization failed, temp failing commands" ||
    fail "Sendmail's log does not say why it tempfails"
pass "Sendmail logged the milter failure"
