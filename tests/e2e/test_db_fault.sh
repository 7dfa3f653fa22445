#!/bin/bash
# SPDX-License-Identifier: MIT
# The database cannot be written (on_db_error). Another process holds
# SQLite's write lock (BEGIN EXCLUSIVE) for as long as the test wants:
#  (a) on_db_error = accept (the default): mail flows, the log says the write failed and how many
#      records are queued, nothing is written while locked, and once the lock is gone every
#      queued record is written: each session, message and recipient, with its queue id.
#  (b) on_db_error = tempfail: once the writer has seen the failure, MAIL gets 451 4.3.0; after
#      the lock is released and the writer has recovered, mail flows again, and every decision
#      (also the refused transaction) is in the database.
#  (c) a database path in a directory that does not exist: `tlsguard serve` exits 2 naming it.
# Waits are bounded: busy_timeout is 2 s, the writer's back-off grows to 8 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
# wait_log SECONDS TEXT: until tlsguard's log contains TEXT (fixed string).
wait_log() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        grep -qF -- "$2" "$E2E/tlsguard.log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ================================================================================ (a) accept
start_all
send_mail --from before@x.example --to r@y.example || fail "first message refused"
sql_is "SELECT count(*) FROM messages" 1 "database writable: first message recorded"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL" 1 "database writable: first session recorded"

db_lock
pass "another process holds the database's write lock"
qids=""
for i in 1 2 3; do
    send_mail --from "locked$i@x.example" --to "r$i@y.example" --header "Subject: dbfault-$i" ||
        fail "on_db_error=accept: message $i refused while the database is locked"
    qids="$qids $(last_queue_id)"
done
pass "on_db_error=accept: 3 messages accepted while the database is locked"
for i in 1 2 3; do
    wait_for_delivery "dbfault-$i" >/dev/null
done
pass "on_db_error=accept: and delivered"
wait_log 10 "database write failed" || fail "no log line about the failed write within 10 s"
line=$(grep -m1 -F "database write failed" "$E2E/tlsguard.log")
queued=$(printf '%s\n' "$line" | sed -n -E 's/.*database write failed \(database is locked\): ([0-9]+) records queued, retrying.*/\1/p')
[ "${queued:-0}" -gt 0 ] ||
    fail "the write failure is not logged with the reason and a count of queued records: $line"
pass "write failure logged with the reason and $queued queued records"
[ "$(db_count messages)|$(db_count recipients)|$(db_count sessions)" = "1|1|1" ] ||
    fail "rows appeared while the database was locked: messages|recipients|sessions = $(db_count messages)|$(db_count recipients)|$(db_count sessions)"
pass "nothing written while locked"
sleep 3 # a few more failed attempts (and back-off) while the lock is held
db_unlock
wait_log 15 "database writable again" || fail "no recovery log line within 15 s of the release"
pass "recovery logged"
sql_is "SELECT group_concat(mail_from || ':' || outcome, ' ') FROM (SELECT mail_from, outcome FROM messages ORDER BY id)" \
    "before@x.example:accepted locked1@x.example:accepted locked2@x.example:accepted locked3@x.example:accepted" \
    "every queued message written, in order, with its outcome"
sql_is "SELECT group_concat(queue_id, ' ') FROM (SELECT queue_id FROM messages WHERE mail_from LIKE 'locked%' ORDER BY id)" \
    "${qids# }" "queue ids of the messages accepted while locked"
sql_is "SELECT group_concat(rcpt, ' ') FROM (SELECT rcpt FROM recipients ORDER BY id)" \
    "r@y.example r1@y.example r2@y.example r3@y.example" "every recipient decision written"
sql_is "SELECT count(*), sum(ended_at IS NOT NULL), sum(messages) FROM sessions" "4|4|4" \
    "every session written, closed, with its message count"
sql_is "PRAGMA integrity_check" ok "database intact"

# ============================================================================== (b) tempfail
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf on_db_error=tempfail
start_tlsguard
send_mail --from tf-before@x.example --to r@y.example || fail "on_db_error=tempfail: refused while writable"
sql_is "SELECT count(*) FROM messages WHERE mail_from = 'tf-before@x.example'" 1 "tempfail: writable, recorded"
: >>"$E2E/tlsguard.log"
log_lines=$(wc -l <"$E2E/tlsguard.log")

db_lock
pass "another process holds the database's write lock"
# Until the writer has tried and failed, tlsguard cannot know: this transaction is accepted, and
# its records are what the writer fails on.
send_mail --from tf-first@x.example --to r@y.example --header "Subject: dbfault-tf-first" ||
    fail "on_db_error=tempfail: refused before the writer saw any failure"
pass "tempfail: the transaction before the first failed write is accepted"
wait_log_after "$log_lines" 10 "database write failed" >/dev/null ||
    fail "tempfail: no failed write logged within 10 s"
send_mail --from tf-locked@x.example --to r@y.example --header "Subject: dbfault-tf-locked" &&
    fail "on_db_error=tempfail: accepted while the database cannot be written"
expect_reply 451 "4.3.0 tlsguard cannot record this transaction, try again later" \
    "tempfail: MAIL gets 451 4.3.0 while the database cannot be written"
grep -qF "Service unavailable" <<<"$(replies)" && fail "tempfail: Postfix's dead-milter reply instead"
expect_log "tempfail: deferral logged" "deferred: database cannot be written (on_db_error=tempfail)"
sleep 1
db_unlock
# Part (a) logged a recovery too: only a line after this part's start counts.
wait_log_after "$log_lines" 15 "database writable again" >/dev/null || fail "tempfail: no recovery within 15 s of the release"
send_mail --from tf-after@x.example --to r@y.example --header "Subject: dbfault-tf-after" ||
    fail "tempfail: mail still refused after the database recovered"
wait_for_delivery dbfault-tf-after >/dev/null
pass "tempfail: mail flows again after the release"
not_delivered dbfault-tf-locked
sql_is "SELECT group_concat(mail_from || ':' || outcome, ' ') FROM (SELECT mail_from, outcome FROM messages
        WHERE mail_from LIKE 'tf-%' ORDER BY id)" \
    "tf-before@x.example:accepted tf-first@x.example:accepted tf-locked@x.example:refused tf-after@x.example:accepted" \
    "tempfail: every transaction recorded, the deferred one as refused"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "tempfail: every session recorded and closed"

# ====================================================================== (c) no such directory
missing=$E2E/no-such-dir/sub/tlsguard.db
port=$(free_port)
cat >"$E2E/missing.conf" <<EOF
socket = inet:$port@127.0.0.1
database = $missing
log = stderr
EOF
rc=0
out=$(timeout "$(e2e_secs 20)" "$TLSGUARD" serve -c "$E2E/missing.conf" 2>&1) || rc=$?
printf '%s\n' "$out" >>"$E2E/tlsguard.log"
[ "$rc" = 2 ] || fail "database in a missing directory: tlsguard serve exit status $rc, want 2: $out"
grep -qF "$missing" <<<"$out" || fail "database in a missing directory: the message does not name $missing: $out"
pass "database in a missing directory: exit 2, message names the path ($(printf '%s\n' "$out" | grep -m1 -F "$missing"))"
[ ! -e "$E2E/no-such-dir" ] || fail "tlsguard created the missing directory"
pass "and creates nothing"

stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
pass "SIGTERM: exit status 0"
