#!/bin/bash
# SPDX-License-Identifier: MIT
# Another process holds the database's write lock: an
# sqlite3 in BEGIN EXCLUSIVE. tlsguard waits up to its busy_timeout (2 s) for the lock, then
# the write fails and on_db_error decides.
#  (a) a short lock (1 s) is waited out: with on_db_error=tempfail, the 20 messages sent while
#      it is held are all accepted, no failure is logged, every one is recorded exactly once.
#  (b) a long lock, on_db_error=tempfail: the write fails after the busy timeout and the log
#      says so with the count of records queued; then MAIL gets 451 4.3.0 with the text for
#      all 20 messages of a load; once released, the log says the database is writable again
#      and how many queued records it wrote (all 65: 5 for the message accepted before the
#      failure, 3 for each deferred one); sent again, the 20 are accepted; every transaction
#      is recorded once.
#  (c) a long lock, on_db_error=accept: a load of 30 is accepted and delivered, nothing is
#      written while locked, and after the release all 150 queued records (5 per message) are
#      written: each message once with its queue id, outcome and recipient, each session closed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS

# =========================================================== (a) short lock, waited out
start_all on_db_error=tempfail
load pre --count 2 --prefix lk-pre --from pre%d@x.example
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL" 2 "writable: first 2 sessions recorded and closed"
mark=$(log_lines)
db_lock
t_lock=$(epoch)
load_bg short --count 20 --concurrency 5 --prefix lk-short --from short%d@x.example --deadline 60
sleep 1
db_unlock
held=$(awk -v a="$t_lock" -v b="$(epoch)" 'BEGIN { printf "%.1f", b - a }')
load_wait short
pass "a lock held for $held s (busy_timeout 2 s) while 20 messages were sent"
expect_load short 20
[ "$(load_count short accepted)" = 20 ] ||
    fail "short lock: $(load_count short accepted) of 20 accepted: $(awk -F'\t' '$2 != "accepted"' "$E2E/short.log" | head -n 3)"
pass "short lock, on_db_error=tempfail: all 20 accepted"
sql_is "SELECT count(*) FROM messages WHERE mail_from LIKE 'short%'" 20 "short lock: the 20 messages written after it"
check_recorded short accepted
pass "short lock: each recorded exactly once with its queue id, outcome and recipient"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "short lock: every session closed"
line=$(tail -n "+$((mark + 1))" "$E2E/tlsguard.log" | grep -m1 -E "database write failed|deferred: database" || true)
[ -z "$line" ] || fail "short lock: a failure was logged although the lock was shorter than busy_timeout: $line"
pass "short lock: no write failure, no deferral logged"

# ========================================================= (b) long lock, tempfail
mark=$(log_lines)
db_lock
load tf-first --count 1 --prefix lk-tf-first --from tffirst%d@x.example
[ "$(load_count tf-first accepted)" = 1 ] ||
    fail "tempfail: the message before the first failed write was not accepted"
pass "tempfail: the message sent before the writer has failed is accepted"
line=$(wait_log_after "$mark" 15 "database write failed") || fail "tempfail: no failed write logged within 15 s"
queued=$(printf '%s\n' "$line" | sed -n -E 's/.*database write failed \(database is locked\): ([0-9]+) records queued, retrying.*/\1/p')
[ "${queued:-0}" = 5 ] || fail "tempfail: the failure is not logged as 'database is locked' with its 5 records queued: $line"
pass "tempfail: failure logged after the busy timeout: ${line#*: }"
load tf --count 20 --concurrency 5 --prefix lk-tf --from tf%d@x.example --deadline 60
MARK=$mark expect_deferred_at_mail tf 20
[ "$(db_count messages)" = 22 ] || fail "tempfail: rows written while locked: $(db_count messages) messages, want 22"
sleep 4 # every attempt now running started after the last record was queued
mark=$(log_lines)
db_unlock
wait_recovered "$mark" 20
[ "$WRITTEN|$MORE" = "65|0" ] ||
    fail "tempfail: recovery wrote '$WRITTEN' queued records with '$MORE' more queued, want 65 (5 + 20 x 3) and 0"
pass "tempfail: the 65 queued records written at once"
load_field tf deferred 1 >"$E2E/tf.nums"
load tf-again --only "$E2E/tf.nums" --concurrency 5 --prefix lk-tf --from tf%d@x.example --deadline 60
[ "$(load_count tf-again accepted)" = 20 ] ||
    fail "tempfail: $(load_count tf-again accepted) of 20 accepted after the release"
pass "tempfail: the 20 deferred messages, sent again, are accepted"
wait_sink lk-tf 20 60
[ -z "$(sink_markers lk-tf | awk '$2 != 1')" ] || fail "tempfail: a message delivered twice"
sql_is "SELECT outcome, count(*), count(DISTINCT mail_from) FROM messages WHERE mail_from LIKE 'tf%'
        GROUP BY outcome ORDER BY outcome" "accepted|21|21
refused|20|20" "tempfail: every transaction recorded once: 20 refused, then 20 accepted (+ the first)"
sql_is "SELECT count(*) FROM recipients r JOIN messages m ON m.id = r.message_id WHERE m.mail_from LIKE 'tf%'" 21 \
    "tempfail: one recipient row per accepted message, none for the refused ones"
check_recorded tf-again accepted
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "tempfail: every session closed"

# =========================================================== (c) long lock, accept
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
write_conf on_db_error=accept
start_tlsguard
before="$(db_count messages)|$(db_count recipients)|$(db_count sessions)"
mark=$(log_lines)
db_lock
load acc --count 30 --concurrency 5 --prefix lk-acc --from acc%d@x.example --deadline 100
expect_load acc 30
[ "$(load_count acc accepted)" = 30 ] ||
    fail "accept: $(load_count acc accepted) of 30 accepted while locked: $(awk -F'\t' '$2 != "accepted"' "$E2E/acc.log" | head -n 3)"
pass "on_db_error=accept: all 30 accepted while locked"
wait_sink lk-acc 30 60
pass "accept: and delivered"
line=$(wait_log_after "$mark" 15 "database write failed (database is locked)") ||
    fail "accept: no failed write logged within 15 s"
queued=$(printf '%s\n' "$line" | sed -n -E 's/.*: ([0-9]+) records queued, retrying.*/\1/p')
[ "${queued:-0}" -gt 0 ] || fail "accept: no count of queued records in: $line"
pass "accept: failure logged: ${line#*: }"
[ "$(db_count messages)|$(db_count recipients)|$(db_count sessions)" = "$before" ] ||
    fail "accept: rows written while locked"
pass "accept: nothing written while locked"
sleep 4
mark=$(log_lines)
db_unlock
wait_recovered "$mark" 20
[ "$WRITTEN|$MORE" = "150|0" ] ||
    fail "accept: recovery wrote '$WRITTEN' queued records with '$MORE' more queued, want 150 (30 x 5) and 0"
pass "accept: the 150 queued records written at once"
check_recorded acc accepted
pass "accept: each of the 30 messages recorded exactly once with its queue id, outcome and recipient"
sql_is "SELECT count(*), sum(ended_at IS NOT NULL), sum(messages) FROM sessions WHERE id IN
        (SELECT session_id FROM messages WHERE mail_from LIKE 'acc%')" "30|30|30" \
    "accept: every session written once, closed, with its message count"
sql_is "PRAGMA integrity_check" ok "database intact"
info "took $((SECONDS - T0)) s"
