#!/bin/bash
# SPDX-License-Identifier: MIT
# protocols= floors: TLSv1 and TLSv1.1 below the floor are refused with the policy's text;
# TLSv1.2/TLSv1.3 pass; plaintext fails encrypt; level may only flags (action monitor).
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt protocols=>=TLSv1.2 action=reject
from:defer.example encrypt protocols=!SSLv3:!TLSv1:!TLSv1.1
from:may.example may protocols=>=TLSv1.2
EOF2
start_all default_action=defer

# --- TLSv1 against >=TLSv1.2, action=reject: MAIL FROM refused
send_mail --old-tls --tls --tls-protocol tlsv1 --helo v10.tlsguard.test --from v10@bank.example \
    --to r@y.example --header "Subject: proto-v10" && fail "TLSv1 mail accepted"
expect_tls TLSv1
expect_reply 550 "5.7.1 TLS required for mail from bank.example (rule from:bank.example): protocol TLSv1 not allowed by protocols=>=TLSv1.2" \
    "TLSv1 vs >=TLSv1.2: 550 5.7.1 with the policy's text"
expect_no_reply 354 "TLSv1: no DATA"
sql_is "SELECT rule, level, verdict, reason, action, outcome FROM messages WHERE mail_from = 'v10@bank.example'" \
    "from:bank.example|encrypt|fail|protocol TLSv1 not allowed by protocols=>=TLSv1.2|reject|refused" \
    "TLSv1: messages row"
sql_is "SELECT rcpt, rule, level, reason, action, tls_version, cipher, cipher_bits, client_addr, helo
        FROM policy_hits WHERE mail_from = 'v10@bank.example'" \
    "NULL|from:bank.example|encrypt|protocol TLSv1 not allowed by protocols=>=TLSv1.2|reject|TLSv1|ECDHE-RSA-AES256-SHA|256|127.0.0.1|v10.tlsguard.test" \
    "TLSv1: policy_hits row"
expect_log "TLSv1: decision logged" "from=<v10@bank.example>" "tls=TLSv1 " "rule=from:bank.example" \
    "verdict=fail" "action=reject"

# --- TLSv1.1 against an exclusion list, default_action=defer
send_mail --old-tls --tls --tls-protocol tlsv1_1 --helo v11.tlsguard.test --from v11@defer.example \
    --to r@y.example && fail "TLSv1.1 mail accepted"
expect_tls TLSv1.1
expect_reply 451 "4.7.1 TLS required for mail from defer.example (rule from:defer.example): protocol TLSv1.1 not allowed by protocols=!SSLv3:!TLSv1:!TLSv1.1" \
    "TLSv1.1 vs !TLSv1.1: 451 4.7.1 with the policy's text"
grep -qF "Service unavailable" <<<"$(replies)" && fail "TLSv1.1: Postfix's dead-milter reply, not tlsguard's"
pass "TLSv1.1: the 451 is tlsguard's, not Postfix's milter failure reply"
sql_is "SELECT rcpt, rule, action, tls_version FROM policy_hits WHERE mail_from = 'v11@defer.example'" \
    "NULL|from:defer.example|defer|TLSv1.1" "TLSv1.1: policy_hits row"

# --- TLSv1.2 and TLSv1.3 pass the floor
send_mail --tls --tls-protocol tlsv1_2 --from v12@bank.example --to r@y.example \
    --header "Subject: proto-v12" || fail "TLSv1.2 mail refused"
f=$(wait_for_delivery proto-v12)
expect_header "$f" "pass tls=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 rule=from:bank.example" "TLSv1.2"
send_mail --tls --from v13@bank.example --to r@y.example --header "Subject: proto-v13" ||
    fail "TLSv1.3 mail refused"
f=$(wait_for_delivery proto-v13)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example" "TLSv1.3"
sql_is "SELECT mail_from, verdict, action, outcome FROM messages WHERE mail_from IN ('v12@bank.example', 'v13@bank.example') ORDER BY id" \
    "v12@bank.example|pass|accept|accepted
v13@bank.example|pass|accept|accepted" "TLSv1.2/TLSv1.3: messages rows pass/accept/accepted"

# --- plaintext fails encrypt
send_mail --from plain@bank.example --to r@y.example && fail "plaintext mail accepted"
expect_reply 530 "5.7.0 TLS required for mail from bank.example (rule from:bank.example): session was not encrypted" \
    "plaintext vs encrypt: 530 5.7.0"

# --- level may: plaintext passes, an old protocol is only flagged
send_mail --from plain@may.example --to r@y.example --header "Subject: proto-may-plain" ||
    fail "may: plaintext refused"
f=$(wait_for_delivery proto-may-plain)
expect_header "$f" "pass tls=none rule=from:may.example" "may, plaintext"
send_mail --old-tls --tls --tls-protocol tlsv1 --from v10@may.example --to r@y.example \
    --header "Subject: proto-may-v10" || fail "may: TLSv1 refused"
f=$(wait_for_delivery proto-may-v10)
expect_header "$f" "fail tls=TLSv1 cipher=ECDHE-RSA-AES256-SHA bits=256 rule=from:may.example" "may, TLSv1"
sql_is "SELECT mail_from, level, verdict, action, outcome FROM messages WHERE mail_from LIKE '%@may.example' ORDER BY id" \
    "plain@may.example|may|pass|accept|accepted
v10@may.example|may|fail|monitor|accepted" "may: messages rows (plaintext pass; TLSv1 fail, monitor)"
sql_is "SELECT mail_from, reason, action FROM policy_hits WHERE mail_from LIKE '%@may.example'" \
    "v10@may.example|protocol TLSv1 not allowed by protocols=>=TLSv1.2|monitor" "may: one policy hit"
sql_is "SELECT count(*) FROM policy_hits" 4 "policy_hits: 4 rows in all"
