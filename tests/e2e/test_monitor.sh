#!/bin/bash
# SPDX-License-Identifier: MIT
# mode = monitor: every rule is evaluated and recorded, nothing is refused or held, and the
# recorded action of a failed requirement is monitor.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt protocols=>=TLSv1.2 action=reject
from:hold.example encrypt action=quarantine
rcpt:secure.example encrypt action=defer
EOF2
start_all mode=monitor

send_mail --from plain@bank.example --to r@y.example --header "Subject: mon-plain" ||
    fail "monitor: plaintext refused"
f=$(wait_for_delivery mon-plain)
pass "plaintext from bank.example accepted and delivered"
expect_header "$f" "fail tls=none rule=from:bank.example" "monitor, plaintext"
sql_is "SELECT rule, level, verdict, reason, action, outcome FROM messages WHERE mail_from = 'plain@bank.example'" \
    "from:bank.example|encrypt|fail|session was not encrypted|monitor|accepted" "messages row: fail, action monitor"

send_mail --old-tls --tls --tls-protocol tlsv1 --from v10@bank.example --to r@y.example \
    --header "Subject: mon-v10" || fail "monitor: TLSv1 refused"
f=$(wait_for_delivery mon-v10)
expect_header "$f" "fail tls=TLSv1 cipher=ECDHE-RSA-AES256-SHA bits=256 rule=from:bank.example" "monitor, TLSv1"

send_mail --from a@hold.example --to r@y.example --header "Subject: mon-hold" || fail "monitor: refused"
qid=$(last_queue_id)
wait_for_delivery mon-hold >/dev/null
grep -qx "$qid" <<<"$(held_ids)" && fail "monitor mode held $qid"
pass "action=quarantine in monitor mode: delivered, not held"

send_mail --from rc@x.example --to a@secure.example,b@open.example --header "Subject: mon-rcpt" ||
    fail "monitor: recipient refused"
f=$(wait_for_delivery mon-rcpt)
expect_rcpts "$f" "a@secure.example b@open.example" "rcpt rule in monitor mode: both recipients accepted"
expect_header "$f" "fail tls=none rule=rcpt:secure.example" "monitor, failed rcpt rule"

sql_is "SELECT mail_from, rcpt, rule, reason, action FROM policy_hits ORDER BY message_id, rcpt" \
    "plain@bank.example|NULL|from:bank.example|session was not encrypted|monitor
v10@bank.example|NULL|from:bank.example|protocol TLSv1 not allowed by protocols=>=TLSv1.2|monitor
a@hold.example|NULL|from:hold.example|session was not encrypted|monitor
rc@x.example|a@secure.example|rcpt:secure.example|session was not encrypted|monitor" \
    "policy_hits: every failure recorded with action monitor"
sql_is "SELECT count(*) FROM messages WHERE outcome <> 'accepted'" 0 "every message accepted"
expect_log "monitor decision logged" "from=<plain@bank.example>" "verdict=fail" "action=monitor"
