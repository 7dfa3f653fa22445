#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGTERM drains: tlsguard exits 0 and every decision already made is in the database, also
# for a session still open when the signal arrived (which may finish its transaction).
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt action=reject
EOF2
start_all drain_timeout=20

# --- a burst of sessions, then SIGTERM at once: nothing may be lost
for i in 1 2 3 4 5; do
    send_mail --from "m$i@x.example" --to r@y.example --header "Subject: term-$i" || fail "message $i refused"
done
send_mail --from plain@bank.example --to r@y.example && fail "plaintext from bank.example accepted"
send_mail --helo quiet.tlsguard.test --quit-after EHLO || true
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
pass "SIGTERM: exit status 0"
# tlsguard has exited: what is in the database now is all there will be.
sql_is "SELECT count(*), sum(ended_at IS NOT NULL) FROM sessions" "7|7" "all 7 sessions recorded and closed"
sql_is "SELECT count(*) FROM messages" 6 "all 6 transactions recorded"
sql_is "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM messages ORDER BY id)" \
    "accepted,accepted,accepted,accepted,accepted,refused" "every outcome recorded"
sql_is "SELECT count(*) FROM recipients" 5 "all 5 recipient decisions recorded"
sql_is "SELECT mail_from, action FROM policy_hits" "plain@bank.example|reject" "the policy hit recorded"
sql_is "PRAGMA integrity_check" ok "database intact"

# --- a session open across SIGTERM
start_tlsguard
smtp_open
smtp_cmd "EHLO open.tlsguard.test"
smtp_cmd "MAIL FROM:<open@x.example>"
expect_reply 250 "2.1.0" "open session: MAIL accepted before SIGTERM"
kill -TERM "$TG_PID"
sleep 1
# tlsguard(8): sessions that connect while it drains get 421 4.3.2 at MAIL FROM.
cp "$E2E/last.txt" "$E2E/open-session.txt"
send_mail --from late@x.example --to r@y.example && fail "a session opened during the drain was accepted"
expect_reply 421 "4.3.2 tlsguard is shutting down, try again later" "new session during the drain: 421 4.3.2"
cp "$E2E/open-session.txt" "$E2E/last.txt"
smtp_cmd "RCPT TO:<r@y.example>"
smtp_cmd "DATA"
smtp_send "Subject: term-open"
smtp_send ""
smtp_send "sent while tlsguard drains"
smtp_cmd "."
expect_reply 250 "queued as" "open session: message accepted while tlsguard drains"
grep -qF "Service unavailable" <<<"$(replies)" && fail "open session: Postfix lost the milter during the drain"
smtp_cmd "QUIT"
smtp_close
wait_for_delivery term-open >/dev/null
pass "open session: delivered"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC after draining"
pass "drained and exited 0"
sql_is "SELECT m.outcome, s.ended_at IS NOT NULL FROM messages m JOIN sessions s ON s.id = m.session_id
        WHERE m.mail_from = 'open@x.example'" "accepted|1" "open session: message and session end recorded"
