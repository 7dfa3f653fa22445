#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: quick
# X-TLS-Policy through a real Sendmail 8.17: the forged copies of a message are all removed,
# however many (up to 100; more are refused with 550 5.7.1) and however spelt, with
# header = yes (tlsguard's own is then the only one) and with header = no (none is left).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
e2e_init
write_policy <<'EOF2'
* may
EOF2
start_all_sendmail

f=$(forged_sent 25 sm-copies25 forged25@x.example)
expect_header "$f" "pass tls=none rule=*" "Sendmail, 25 forged headers, mixed spellings"
[ "$(policy_headers "$f")" = 1 ] || fail "Sendmail, 25 forged: $(policy_headers "$f") X-TLS-Policy delivered"
pass "Sendmail: 25 forged X-TLS-Policy headers removed, tlsguard's the only one"

f=$(forged_sent 100 sm-copies100 forged100@x.example)
[ "$(policy_headers "$f")" = 1 ] || fail "Sendmail, 100 forged: $(policy_headers "$f") X-TLS-Policy delivered"
pass "Sendmail: 100 forged X-TLS-Policy headers (the limit) removed"

forged_message "$E2E/forged-101.txt" sm-copies101 101
send_mail --from forged101@x.example --to r@y.example --data "$E2E/forged-101.txt" &&
    fail "Sendmail: message with 101 forged headers accepted"
expect_reply 550 "5.7.1 too many X-TLS-Policy headers in the message" "Sendmail, 101 forged: refused"
sql_is "SELECT outcome FROM messages WHERE mail_from = 'forged101@x.example'" "refused" \
    "Sendmail, 101 forged: recorded as refused"
not_delivered sm-copies101

info "restarting tlsguard with header = no"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf header=no
start_tlsguard

f=$(forged_sent 25 sm-no-copies25 forged25no@x.example)
[ "$(policy_headers "$f")" = 0 ] || fail "Sendmail, header = no: $(policy_headers "$f") X-TLS-Policy delivered"
pass "Sendmail, header = no: 25 forged X-TLS-Policy headers removed, none delivered"
