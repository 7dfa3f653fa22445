#!/bin/bash
# SPDX-License-Identifier: MIT
# ciphers= and min_bits=: a kRSA cipher outside HIGH:!aNULL:!kRSA is refused; ECDHE and the
# TLSv1.3 suites (not governed by cipher strings) pass; 128-bit ciphers fail min_bits=256.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt ciphers=HIGH:!aNULL:!kRSA action=reject
from:bits.example encrypt min_bits=256 action=defer
EOF2
start_all

send_mail --old-tls --tls --tls-protocol tlsv1_2 --tls-cipher AES256-SHA --from krsa@bank.example \
    --to r@y.example && fail "AES256-SHA mail accepted"
grep -qF 'TLS started with cipher TLSv1.2:AES256-SHA:256' "$E2E/last.txt" || fail "AES256-SHA not negotiated"
pass "client negotiated TLSv1.2 AES256-SHA"
expect_reply 550 "5.7.1 TLS required for mail from bank.example (rule from:bank.example): cipher AES256-SHA not allowed by ciphers=HIGH:!aNULL:!kRSA" \
    "AES256-SHA vs HIGH:!aNULL:!kRSA: 550 5.7.1"
sql_is "SELECT rcpt, rule, level, reason, action, tls_version, cipher, cipher_bits FROM policy_hits
        WHERE mail_from = 'krsa@bank.example'" \
    "NULL|from:bank.example|encrypt|cipher AES256-SHA not allowed by ciphers=HIGH:!aNULL:!kRSA|reject|TLSv1.2|AES256-SHA|256" \
    "AES256-SHA: policy_hits row"
sql_is "SELECT tls_version, cipher, cipher_bits FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'krsa@bank.example')" "TLSv1.2|AES256-SHA|256" "AES256-SHA: sessions row"

send_mail --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES256-GCM-SHA384 --from ecdhe@bank.example \
    --to r@y.example --header "Subject: ciphers-ecdhe" || fail "ECDHE mail refused"
f=$(wait_for_delivery ciphers-ecdhe)
expect_header "$f" "pass tls=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 rule=from:bank.example" \
    "ECDHE-RSA-AES256-GCM-SHA384 allowed"

send_mail --tls --tls-protocol tlsv1_3 --from v13@bank.example --to r@y.example \
    --header "Subject: ciphers-v13" || fail "TLSv1.3 mail refused"
f=$(wait_for_delivery ciphers-v13)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example" \
    "TLSv1.3 suite allowed whatever ciphers= says"

send_mail --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES128-GCM-SHA256 --from b128@bits.example \
    --to r@y.example && fail "128-bit mail accepted against min_bits=256"
expect_reply 451 "4.7.1 TLS required for mail from bits.example (rule from:bits.example): cipher bits 128 below min_bits=256" \
    "128-bit cipher vs min_bits=256: 451 4.7.1"
sql_is "SELECT reason, action, cipher, cipher_bits FROM policy_hits WHERE mail_from = 'b128@bits.example'" \
    "cipher bits 128 below min_bits=256|defer|ECDHE-RSA-AES128-GCM-SHA256|128" "min_bits: policy_hits row"

send_mail --tls --tls-protocol tlsv1_2 --tls-cipher ECDHE-RSA-AES256-GCM-SHA384 --from b256@bits.example \
    --to r@y.example --header "Subject: ciphers-b256" || fail "256-bit mail refused"
f=$(wait_for_delivery ciphers-b256)
expect_header "$f" "pass tls=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 rule=from:bits.example" \
    "256-bit cipher meets min_bits=256"
sql_is "SELECT count(*) FROM policy_hits" 2 "policy_hits: 2 rows in all"
