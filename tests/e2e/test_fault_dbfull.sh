#!/bin/bash
# SPDX-License-Identifier: MIT
# The database's file system is full. The database lives
# on a tmpfs of 2 MiB mounted for the test; "full" is a filler file written until ENOSPC, after
# the WAL has been checkpointed and truncated (so that the next commit needs new space).
# (Locked by another writer: test_fault_dblocked.sh and test_db_fault.sh; read-only:
# test_fault_dbreadonly.sh.)
#  (a) on_db_error = accept: a load of 100 messages flows and is delivered; the log names the
#      failure (database or disk is full) with the count of records queued; nothing is written
#      while full; once the filler is deleted the log says the database is writable again,
#      with the failed attempts and 0 records dropped, and every queued record is written
#      exactly once: each message with its queue id, outcome and one recipient row, each
#      session closed.
#  (b) on_db_error = tempfail: once the writer has failed, a load of 30 gets 451 4.3.0 at MAIL
#      (deferred: the sender keeps them); after the space is back they are accepted when sent
#      again, and every transaction, refused or accepted, is recorded exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
FS=$E2E/dbfs
mkdir -p "$FS"
mount -t tmpfs -o size=2m,mode=0755 tmpfs "$FS" || fail "cannot mount a tmpfs on $FS"
# Lazily unmounted before lib.sh's cleanup: tlsguard, stopped there, keeps its files open.
trap 'rc=$?; set +e; umount -l "$FS" 2>/dev/null; (exit $rc); e2e_cleanup' EXIT
DB=$FS/tlsguard.db

# fill: checkpoint the WAL to zero length, then take every free block of the tmpfs.
fill() {
    local i out=""
    for ((i = 0; i < 20; i++)); do
        out=$(sqlite3 -batch -noheader -cmd '.timeout 2000' "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' 2>&1) || true
        [ "$out" = "0|0|0" ] && break
        sleep 0.2
    done
    [ "$out" = "0|0|0" ] || fail "cannot checkpoint the WAL: $out"
    dd if=/dev/zero of="$FS/filler" bs=4k >/dev/null 2>&1 || true
    [ "$(df --output=avail -k "$FS" | tail -n 1 | tr -d ' ')" = 0 ] ||
        fail "the tmpfs is not full: $(df -k "$FS" | tail -n 1)"
}

unfill() {
    rm -f "$FS/filler"
}

# ===================================================================== (a) on_db_error=accept
start_all
load pre --count 5 --prefix full-pre
sql_is "SELECT count(*) FROM messages" 5 "database on the tmpfs: first 5 messages recorded"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL" 5 "and their sessions closed"
from=$(log_lines)
fill
pass "the database's file system is full ($(df -k --output=size "$FS" | tail -n 1 | tr -d ' ') KiB tmpfs, WAL truncated)"

load full --count 100 --first 1 --concurrency 5 --per-session 2 --prefix full --deadline 100
expect_load full 100
[ "$(load_count full accepted)" = 100 ] ||
    fail "on_db_error=accept: $(load_count full accepted) of 100 accepted with the disk full: $(awk -F'\t' '$2 != "accepted"' "$E2E/full.log" | head -n 3)"
pass "on_db_error=accept: all 100 messages accepted while the disk is full"
wait_sink full 100 60
pass "and delivered"
line=$(wait_log_after "$from" 10 "database write failed") ||
    fail "no log line about the failed write within 10 s"
queued=$(printf '%s\n' "$line" | sed -n -E 's/.*database write failed \(database or disk is full\): ([0-9]+) records queued, retrying.*/\1/p')
[ "${queued:-0}" -gt 0 ] || fail "the failure is not logged as 'database or disk is full' with a count: $line"
pass "failure logged: ${line#*: }"
sleep 2
[ "$(db_count messages)|$(db_count sessions)" = "5|5" ] ||
    fail "rows written while the disk was full: messages|sessions = $(db_count messages)|$(db_count sessions)"
pass "nothing written while full"
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died with the disk full"

from_free=$(log_lines)
unfill
line=$(wait_log_after "$from_free" 15 "database writable again") ||
    fail "no recovery logged within 15 s of freeing the space"
written=$(printf '%s\n' "$line" | sed -n -E 's/.*after [0-9]+ failed attempts; ([0-9]+) queued records written, 0 more queued; 0 records dropped in total.*/\1/p')
[ "${written:-0}" -ge "$queued" ] ||
    fail "the recovery line does not say how many attempts failed, how many queued records were written (>= $queued) and that none was dropped: $line"
pass "recovery logged: ${line#*: }"
sql_is "SELECT count(*) FROM messages" 105 "every message written once the space is back"
# The driver may split a session's two messages when it runs short of work at the end:
# count the sessions it used.
sessions=$(($(cut -f10 "$E2E/full.log" | sort -u | wc -l) + 5))
sql_is "SELECT count(*), sum(ended_at IS NOT NULL), sum(messages) FROM sessions" "$sessions|$sessions|105" \
    "every session written ($sessions, as the driver opened them), closed, with its message count"
check_recorded full accepted
pass "each of the 100 messages recorded exactly once with its queue id, outcome and recipient"
sql_is "SELECT count(*) FROM recipients" 105 "no recipient row written twice"
sql_is "PRAGMA integrity_check" ok "database intact"
failures=$(grep -c "database write failed" "$E2E/tlsguard.log" || true)
info "(a) 100 accepted and delivered while full; first failure: $queued records queued; $failures failure lines (logged at attempts 1, 2, 4, ...)"

# =================================================================== (b) on_db_error=tempfail
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf on_db_error=tempfail
start_tlsguard
load tf-before --count 1 --first 1 --prefix tf-before --from before%d@t.example
sql_is "SELECT count(*) FROM messages WHERE mail_from = 'before1@t.example'" 1 "tempfail: writable, recorded"
# The close of that session is a record too: if it were still queued when the disk fills,
# the writer would fail on it before the next MAIL and that MAIL would already be deferred.
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 \
    "tempfail: every session closed and written before the disk fills"
from=$(log_lines)
fill
# Until the writer has tried and failed, tlsguard cannot know: this one is accepted, and its
# records are what the writer fails on.
load tf-first --count 1 --first 1 --prefix tf-first --from tf%d@x.example
[ "$(load_count tf-first accepted)" = 1 ] || fail "tempfail: the first message after filling was not accepted"
wait_log_after "$from" 10 "database write failed" >/dev/null || fail "tempfail: no failed write logged within 10 s"
load tf --count 30 --first 1 --concurrency 5 --prefix tf --from tf%d@x.example --deadline 60
expect_load tf 30
[ "$(load_count tf deferred)" = 30 ] ||
    fail "tempfail: $(load_count tf deferred) of 30 deferred while the disk is full: $(awk -F'\t' '$2 != "deferred"' "$E2E/tf.log" | head -n 3)"
bad=$(awk -F'\t' '$3 != "mail" || $4 != 451 || $9 !~ /^4\.3\.0 tlsguard cannot record this transaction, try again later/' "$E2E/tf.log")
[ -z "$bad" ] || fail "tempfail: not all deferred at MAIL with 451 4.3.0: $(printf '%s\n' "$bad" | head -n 3)"
pass "on_db_error=tempfail: all 30 got 451 4.3.0 at MAIL while the disk is full"
expect_log "tempfail: deferral logged" "deferred: database cannot be written (on_db_error=tempfail)"
sleep 1
from_free=$(log_lines)
unfill
wait_log_after "$from_free" 15 "database writable again" >/dev/null ||
    fail "tempfail: no recovery within 15 s of freeing the space"
load_field tf deferred 1 >"$E2E/tf.nums"
load tf-again --only "$E2E/tf.nums" --concurrency 5 --prefix tf --from tf%d@x.example --deadline 60
[ "$(load_count tf-again accepted)" = 30 ] ||
    fail "tempfail: $(load_count tf-again accepted) of 30 accepted after the space came back"
pass "tempfail: the 30 deferred messages, sent again, are accepted"
wait_sink tf 30 60
[ -z "$(sink_markers tf | awk '$2 != 1')" ] || fail "tempfail: a message delivered twice"
pass "tempfail: and delivered once each"
sql_is "SELECT outcome, count(*), count(DISTINCT mail_from) FROM messages WHERE mail_from LIKE 'tf%'
        GROUP BY outcome ORDER BY outcome" "accepted|31|30
refused|30|30" "tempfail: every transaction recorded once: 30 refused, then 30 accepted (+ the first)"
check_recorded tf-again accepted
check_recorded tf-first accepted
pass "tempfail: accepted ones recorded with queue id and recipient"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "tempfail: every session recorded and closed"
sql_is "PRAGMA integrity_check" ok "tempfail: database intact"
info "took $((SECONDS - T0)) s"
