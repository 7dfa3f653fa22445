#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: no-memcheck
# The harness itself, without tlsguard: a private Postfix delivers plaintext and STARTTLS mail
# (TLSv1.3, TLSv1.2, TLSv1 through the old-TLS recipe, a kRSA cipher, a client certificate)
# to smtp-sink. If this fails, every other e2e test is meaningless.
. "$(dirname "$0")/lib.sh"
e2e_init
start_postfix --no-milter \
    "smtpd_recipient_restrictions = check_recipient_access inline:{ hold@x.example=HOLD }"

send_mail --from a@bank.example --to b@x.example --header "Subject: harness-plain" ||
    fail "plaintext mail refused"
expect_reply 250 "queued as" "plaintext: queued"
f=$(wait_for_delivery harness-plain)
pass "plaintext: delivered to the sink"
[ "$(header_values "$f" Subject)" = harness-plain ] || fail "plaintext: Subject header not found in $f"
pass "plaintext: headers readable from the dump"

for v in 1_3:TLSv1.3 1_2:TLSv1.2; do
    send_mail --tls --tls-protocol "tlsv${v%%:*}" --from a@bank.example --to b@x.example \
        --header "Subject: harness-${v#*:}" || fail "${v#*:} mail refused"
    expect_tls "${v#*:}"
    wait_for_delivery "harness-${v#*:}" >/dev/null
    pass "${v#*:}: delivered"
done

send_mail --old-tls --tls --tls-protocol tlsv1 --from a@bank.example --to b@x.example \
    --header "Subject: harness-TLSv1" || fail "TLSv1 mail refused"
expect_tls TLSv1
wait_for_delivery harness-TLSv1 >/dev/null
pass "TLSv1: delivered"

send_mail --old-tls --tls --tls-protocol tlsv1_2 --tls-cipher AES256-SHA --from a@bank.example \
    --to b@x.example --header "Subject: harness-kRSA" || fail "AES256-SHA mail refused"
grep -qF 'TLS started with cipher TLSv1.2:AES256-SHA:256' "$E2E/last.txt" ||
    fail "AES256-SHA not negotiated"
pass "TLSv1.2 AES256-SHA negotiated"

# Postfix records what it made of a client certificate in its Received: header.
for c in 'good|(verified OK)' 'untrusted|(not verified)'; do
    cert=${c%%|*} seen=${c#*|}
    send_mail --cert "$cert" --from a@bank.example --to b@x.example --header "Subject: harness-$cert" ||
        fail "mail with the $cert client certificate refused"
    f=$(wait_for_delivery "harness-$cert")
    grep -qF "Client CN \"client.bank.example\", Issuer " <<<"$(header_values "$f" Received)" ||
        fail "Postfix did not see the $cert client certificate"
    grep -qF "$seen" <<<"$(header_values "$f" Received)" || fail "$cert client certificate not $seen"
    pass "$cert client certificate seen by Postfix $seen"
done

# The hold queue helper, with Postfix's own HOLD action (tlsguard's quarantine lands there too).
send_mail --from a@bank.example --to hold@x.example --header "Subject: harness-hold" ||
    fail "mail to hold@ refused"
qid=$(last_queue_id)
[ -n "$qid" ] || fail "no queue id in the transcript"
grep -qx "$qid" <<<"$(held_ids)" || fail "$qid not in the hold queue: $(postqueue -c "$PFDIR/etc" -p 2>&1)"
pass "message $qid found in the hold queue"

send_mail --quit-after EHLO >/dev/null || true
expect_reply 250 "STARTTLS" "EHLO offers STARTTLS"
