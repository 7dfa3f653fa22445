#!/bin/bash
# SPDX-License-Identifier: MIT
# rcpt: rules apply per recipient at RCPT TO: in a transaction with two recipients only the one
# whose domain requires TLS is refused; the message goes to the other one.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
rcpt:secure.example encrypt action=reject
rcpt:.defer.example encrypt
EOF2
start_all

# --- plaintext: a@secure.example refused, b@open.example accepted
send_mail --from two@x.example --to a@secure.example,b@open.example --header "Subject: rcpt-two" || true
expect_reply 530 "5.7.0 TLS required for mail to secure.example (rule rcpt:secure.example): session was not encrypted" \
    "plaintext: RCPT a@secure.example refused with 530 5.7.0"
expect_reply 250 "queued as" "plaintext: message accepted for the other recipient"
f=$(wait_for_delivery rcpt-two)
expect_rcpts "$f" "b@open.example" "delivered to b@open.example only"
expect_header "$f" "none tls=none rule=-" "plaintext, accepted recipient without a rule"
sql_is "SELECT r.rcpt, r.rule, r.level, r.verdict, r.reason, r.action FROM recipients r
        JOIN messages m ON m.id = r.message_id WHERE m.mail_from = 'two@x.example' ORDER BY r.id" \
    "a@secure.example|rcpt:secure.example|encrypt|fail|session was not encrypted|reject
b@open.example|NULL|NULL|none|NULL|accept" "recipients rows: one refused, one accepted"
sql_is "SELECT verdict, action, outcome FROM messages WHERE mail_from = 'two@x.example'" \
    "none|accept|accepted" "messages row: sender side none/accept, outcome accepted"
sql_is "SELECT rcpt, rule, level, reason, action, tls_version FROM policy_hits WHERE mail_from = 'two@x.example'" \
    "a@secure.example|rcpt:secure.example|encrypt|session was not encrypted|reject|NULL" \
    "policy_hits: one row, for the refused recipient"
expect_log "refused recipient logged" "a@secure.example" "rule=rcpt:secure.example" "action=reject"

# --- .defer.example matches subdomains only; default_action defer
send_mail --from sub@x.example --to c@mx.defer.example,d@defer.example --header "Subject: rcpt-sub" || true
expect_reply 451 "(rule rcpt:.defer.example): session was not encrypted" \
    "plaintext: RCPT c@mx.defer.example deferred by rcpt:.defer.example"
expect_reply 451 "4.7.0 TLS required for mail to " "deferral text says mail to ..."
f=$(wait_for_delivery rcpt-sub)
expect_rcpts "$f" "d@defer.example" "rcpt:.defer.example does not match defer.example itself"

# --- with TLS both recipients pass
send_mail --tls --from tls@x.example --to a@secure.example,b@open.example --header "Subject: rcpt-tls" ||
    fail "TLS mail refused"
f=$(wait_for_delivery rcpt-tls)
expect_rcpts "$f" "a@secure.example b@open.example" "TLS: delivered to both recipients"
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=rcpt:secure.example" \
    "TLS: verdict pass from the rcpt rule"
sql_is "SELECT r.rcpt, r.verdict, r.action FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE m.mail_from = 'tls@x.example' ORDER BY r.id" \
    "a@secure.example|pass|accept
b@open.example|none|accept" "TLS: recipients rows"

# --- every recipient refused: nothing delivered, hit recorded
send_mail --from only@x.example --to z@secure.example --header "Subject: rcpt-only" && fail "accepted"
expect_reply 530 "(rule rcpt:secure.example): session was not encrypted" "sole recipient refused"
not_delivered rcpt-only
sql_is "SELECT rcpt, action FROM policy_hits WHERE mail_from = 'only@x.example'" "z@secure.example|reject" \
    "sole recipient: policy_hits row"
