#!/bin/bash
# SPDX-License-Identifier: MIT
# on_db_error: while another process holds the database's write lock, on_db_error = accept lets
# mail flow and writes the queued records once the lock is gone; on_db_error = tempfail answers
# new transactions with 451 4.3.0 until the database is writable again.
. "$(dirname "$0")/lib.sh"
e2e_init
LOCK_PID=""

# lock_db SECONDS: holds the write lock (BEGIN EXCLUSIVE) in the background.
lock_db() {
    { printf 'BEGIN EXCLUSIVE;\n'; sleep "$1"; printf 'COMMIT;\n'; } | sqlite3 "$DB" &
    LOCK_PID=$!
    track_pid "$LOCK_PID"
    sleep 0.5
}
unlock_wait() {
    wait "$LOCK_PID" || true
    LOCK_PID=""
}

# --- accept (the default)
start_all
send_mail --from before@x.example --to r@y.example || fail "first message refused"
sql_is "SELECT count(*) FROM messages" 1 "database writable: first message recorded"
lock_db 8
for i in 1 2 3; do
    send_mail --from "locked$i@x.example" --to r@y.example --header "Subject: dberr-$i" ||
        fail "on_db_error=accept: message $i refused while the database is locked"
    sleep 1
done
pass "on_db_error=accept: mail flows while the database is locked"
expect_log "write failure logged" "database write failed"
unlock_wait
for ((i = 0; i < 100; i++)); do
    [ "$(sql "SELECT count(*) FROM messages")" = 4 ] && break
    sleep 0.1
done
sql_is "SELECT group_concat(mail_from, ' ') FROM (SELECT mail_from FROM messages ORDER BY id)" \
    "before@x.example locked1@x.example locked2@x.example locked3@x.example" \
    "queued records written once the lock is gone, in order"
expect_log "recovery logged" "database writable again"

# --- tempfail
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC"
write_conf on_db_error=tempfail
start_tlsguard
lock_db 12
got=""
for i in 1 2 3 4 5 6 7 8; do
    send_mail --from "tf$i@x.example" --to r@y.example || true
    if replies | grep -qE '^451 '; then
        got=$i
        break
    fi
    sleep 1
done
[ -n "$got" ] || fail "on_db_error=tempfail: no 451 while the database stayed locked"
expect_reply 451 "4.3.0 tlsguard cannot record this transaction, try again later" \
    "on_db_error=tempfail: 451 4.3.0 with the spec's text (attempt $got)"
replies | grep -qF "Service unavailable" && fail "tempfail: Postfix's dead-milter reply"
unlock_wait
ok=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    if send_mail --from "after$i@x.example" --to r@y.example; then
        ok=$i
        break
    fi
    sleep 1
done
[ -n "$ok" ] || fail "on_db_error=tempfail: mail still refused after the lock was released"
pass "on_db_error=tempfail: mail accepted again once the database is writable"
sql_is "SELECT outcome FROM messages WHERE mail_from = 'tf$got@x.example'" refused \
    "the tempfailed transaction itself is recorded (outcome refused) after recovery"
