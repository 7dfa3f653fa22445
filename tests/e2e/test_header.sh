#!/bin/bash
# SPDX-License-Identifier: MIT
# X-TLS-Policy: exactly one header, tlsguard's; forged copies in the input are removed. With
# header = no only action=tag adds it.
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
grep -i 'x-tls-policy' "$f" | grep -qi 'forged' && fail "a forged X-TLS-Policy survived"
pass "forged X-TLS-Policy headers removed"

# tlsguard does not see the headers (SMFIP_NOHDRS): it deletes indexes 10..1 blindly. Ten
# copies, spread between other headers, are all removed and nothing else is touched.
many=()
for i in $(seq 1 10); do
    many+=(--add-header "X-TLS-Policy: pass forged-$i" --add-header "X-Other-$i: kept-$i")
done
send_mail "${many[@]}" --from forged10@x.example --to r@y.example --header "Subject: hdr-forged10" ||
    fail "message with ten forged headers refused"
f=$(wait_for_delivery hdr-forged10)
expect_header "$f" "none tls=none rule=-" "ten forged headers in the input"
grep -i 'x-tls-policy' "$f" | grep -qi 'forged' && fail "one of ten forged X-TLS-Policy survived"
[ "$(grep -c '^X-Other-[0-9]*: kept-' "$f")" = 10 ] || fail "other headers lost with the forged ones"
pass "ten forged X-TLS-Policy headers removed, the ten other headers kept"

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

# The spec says what header = no adds, not whether forged copies stay. The issue's reason for
# removing them ("a sender must not be able to forge it") holds whatever header says.
send_mail "${forged[@]}" --from forged2@x.example --to r@y.example --header "Subject: hdr-no-forged" ||
    fail "refused"
f=$(wait_for_delivery hdr-no-forged)
expect_no_header "$f" "header = no, forged headers in the input"

send_mail "${forged[@]}" --from a@tag.example --to r@y.example --header "Subject: hdr-tag" || fail "tag: refused"
f=$(wait_for_delivery hdr-tag)
expect_header "$f" "fail tls=none rule=from:tag.example" "header = no, action=tag, forged input"
