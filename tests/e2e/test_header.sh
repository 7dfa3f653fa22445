#!/bin/bash
# SPDX-License-Identifier: MIT
# X-TLS-Policy: exactly one header, tlsguard's; forged copies in the input are removed, however
# many (up to 100; more are refused) and however spelt. With header = no only action=tag adds it.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:tag.example encrypt action=tag
from:bank.example encrypt
EOF2
start_all

forged=(--add-header "X-TLS-Policy: pass tls=TLSv1.3 cipher=FORGED bits=256 rule=from:bank.example"
    --add-header "x-tls-policy: pass forged-lowercase")

send_mail "${forged[@]}" --from forged@x.example --to r@y.example --header "Subject: hdr-forged" ||
    fail "message with forged headers refused"
f=$(wait_for_delivery hdr-forged)
expect_header "$f" "none tls=none rule=-" "two forged headers in the input"
grep -qiE '^x-tls-policy[[:blank:]]*:.*forged' <<<"$(message_headers "$f")" && fail "a forged X-TLS-Policy survived"
pass "forged X-TLS-Policy headers removed"

# Whatever the count and spelling (case, blanks before the colon, empty, folded): all deleted,
# the other headers kept, tlsguard's own the only one delivered.
f=$(forged_sent 25 hdr-copies25 forged25@x.example)
expect_header "$f" "none tls=none rule=-" "25 forged headers, mixed spellings"
[ "$(policy_headers "$f")" = 1 ] || fail "25 forged: $(policy_headers "$f") X-TLS-Policy delivered"
pass "25 forged X-TLS-Policy headers removed, the 25 other headers kept"

f=$(forged_sent 100 hdr-copies100 forged100@x.example)
[ "$(policy_headers "$f")" = 1 ] || fail "100 forged: $(policy_headers "$f") X-TLS-Policy delivered"
pass "100 forged X-TLS-Policy headers (the limit) removed"

# Above the limit the message is refused: deleting copies one by one costs the MTA a scan of
# the headers each.
forged_message "$E2E/forged-101.txt" hdr-copies101 101
send_mail --from forged101@x.example --to r@y.example --data "$E2E/forged-101.txt" &&
    fail "message with 101 forged headers accepted"
expect_reply 550 "5.7.1 too many X-TLS-Policy headers in the message" "101 forged: refused at end of data"
expect_log "101 forged: logged" "refused: more than 100 X-TLS-Policy headers in the message"
sql_is "SELECT outcome FROM messages WHERE mail_from = 'forged101@x.example'" "refused" \
    "101 forged: recorded as refused"
not_delivered hdr-copies101

# The same at the protocol level (milter_client.pl, as Postfix negotiates): the deletions name
# exactly the copies counted, last first; an MTA that does not let the milter change headers
# gets 451 when a copy must go, and the message through when none came.
mc() { perl "$E2E_LIB_DIR/milter_client.pl" -p "$TG_PORT" -t "$(e2e_secs 10)" "$@" | grep '^EOM: '; }
txn=("connect h 4 1 127.0.0.1" "helo x" "mail <mc@x.example>" "rcpt <r@y.example>")
got=$(mc "${txn[@]}" "header x-TLS-policy forged" "header Subject s" "header X-TLS-Policy \e" eom)
[ "$got" = "$(printf 'EOM: m 2 X-TLS-Policy: \nEOM: m 1 X-TLS-Policy: \nEOM: i 0 X-TLS-Policy: none tls=none rule=-\nEOM: c')" ] ||
    fail "milter protocol, two copies: end of message answered: $got"
pass "milter protocol: copies 2 and 1 deleted, then tlsguard's header inserted"
got=$(mc "optneg 6 0x1ef 0x1fffff" "${txn[@]}" "header X-TLS-Policy forged" eom)
[ "$got" = "EOM: y 451 4.7.0 forged X-TLS-Policy header cannot be removed" ] ||
    fail "milter protocol, no SMFIF_CHGHDRS: end of message answered: $got"
got=$(mc "optneg 6 0x1ef 0x1fffff" "${txn[@]}" "header Subject s" eom)
[ "$got" = "$(printf 'EOM: i 0 X-TLS-Policy: none tls=none rule=-\nEOM: c')" ] ||
    fail "milter protocol, no SMFIF_CHGHDRS, no copy: end of message answered: $got"
pass "milter protocol: an MTA that forbids header changes gets 451 only when a copy must go"

send_mail --tls "${forged[@]}" --from tls@bank.example --to r@y.example --header "Subject: hdr-bank" ||
    fail "TLS mail refused"
f=$(wait_for_delivery hdr-bank)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example" \
    "forged pass replaced by the real verdict"

info "restarting tlsguard with header = no"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf header=no
start_tlsguard

send_mail --from plain@x.example --to r@y.example --header "Subject: hdr-no" || fail "refused"
f=$(wait_for_delivery hdr-no)
expect_no_header "$f" "header = no"
sql_is "SELECT verdict, action, outcome FROM messages WHERE mail_from = 'plain@x.example'" \
    "none|accept|accepted" "header = no: still recorded"

# header = no adds no header, and forged copies are removed all the same: a sender must not be
# able to forge the header whatever `header` says.
send_mail "${forged[@]}" --from forged2@x.example --to r@y.example --header "Subject: hdr-no-forged" ||
    fail "refused"
f=$(wait_for_delivery hdr-no-forged)
expect_no_header "$f" "header = no, forged headers in the input"
f=$(forged_sent 25 hdr-no-copies25 forged25no@x.example)
[ "$(policy_headers "$f")" = 0 ] || fail "header = no, 25 forged: $(policy_headers "$f") delivered"
pass "header = no: 25 forged X-TLS-Policy headers removed, none delivered"

send_mail "${forged[@]}" --from a@tag.example --to r@y.example --header "Subject: hdr-tag" || fail "tag: refused"
f=$(wait_for_delivery hdr-tag)
expect_header "$f" "fail tls=none rule=from:tag.example" "header = no, action=tag, forged input"
