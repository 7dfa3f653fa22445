#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of tlsguard in the middle of a load: 1,000
# numbered messages, 10 sessions at a time, 4 messages each, at most 100 a second, through
# Postfix with milter_default_action = tempfail. tlsguard is killed with SIGKILL once 300 are
# accepted, and started again 2 s later on the same database. Then:
#  - every message got either 250 (accepted) or a 4xx (deferred: the sender still has it), never
#    a 5xx and never silence; the two add up to 1,000; some of each, also after the restart;
#  - the sink received every accepted message exactly once and no deferred one, and Postfix's
#    queue is empty; sent again, the deferred ones are accepted, so that all 1,000 are
#    delivered, each exactly once;
#  - the database is intact (PRAGMA integrity_check), every message accepted after the restart
#    is recorded once, with its queue id and outcome, one recipient row each, and every session
#    after the restart is closed. Before the kill, the daemon's contract is "committed within
#    1 s of the decision": a message accepted in the last second before SIGKILL may be missing
#    (counted and reported), every older one must be there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
N=1000
KILL_AFTER=300
RATE=100
# Under valgrind (TLSGUARD_VALGRIND=1) 300 messages at 10 a second, killed after 60: memcheck
# makes tlsguard many times slower (its restart takes seconds), and the count is not what this
# test is about; the slower rate leaves messages for after the restart.
[ -z "$E2E_VALGRIND" ] || { N=300; KILL_AFTER=60; RATE=10; }

start_all
grep -q '^milter_default_action = tempfail' "$PFDIR/etc/main.cf" ||
    fail "the test Postfix must run with milter_default_action = tempfail"

load_bg run --count "$N" --concurrency 10 --per-session 4 --rate "$RATE" --prefix kill9 --deadline 150
for ((i = 0; i < $(e2e_secs 60) * 10; i++)); do
    [ "$(load_count run accepted)" -ge "$KILL_AFTER" ] && break
    kill -0 "$LOAD_PID" 2>/dev/null || fail "the load ended before $KILL_AFTER messages were accepted"
    sleep 0.1
done
[ "$i" -lt "$(e2e_secs 60)0" ] || fail "fewer than $KILL_AFTER messages accepted within $(e2e_secs 60) s"
kill -KILL "$TG_PID"
KILL_AT=$(epoch)
wait "$TG_PID" 2>/dev/null || true
TG_PID=""
pass "tlsguard killed with SIGKILL after $(load_count run accepted) accepted messages"
sleep 2
! port_used "$TG_PORT" || fail "something still listens on tlsguard's port after SIGKILL"
# Sessions that SIGKILL left open in the database: the restart closes them.
stale=$(sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "SELECT count(*) FROM sessions WHERE ended_at IS NULL") ||
    fail "cannot read the database after SIGKILL"
info "sessions left open in the database by SIGKILL: $stale"
RESTART_UTC=$(now_utc)
start_tlsguard
RESTART_AT=$(epoch)
expect_log "restarted on the same database" "listening on inet:$TG_PORT@127.0.0.1"
if [ "$stale" -gt 0 ]; then
    expect_log "the restart closes the $stale sessions SIGKILL left open" \
        "closed $stale sessions left open by an earlier run that did not stop cleanly"
    sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL AND started_at < '$RESTART_UTC'" 0 \
        "no session from before the restart is still open in the database"
fi
load_wait run

# --- what the sender was told
expect_load run "$N"
accepted=$(load_count run accepted)
deferred=$(load_count run deferred)
other=$((N - accepted - deferred))
[ "$other" = 0 ] || fail "$other messages neither accepted nor deferred: $(awk -F'\t' '$2 != "accepted" && $2 != "deferred"' "$E2E/run.log" | head -n 5)"
pass "every message got 250 or a 4xx: $accepted accepted + $deferred deferred = $N"
[ "$deferred" -gt 0 ] || fail "no message was deferred while tlsguard was down"
after=$(awk -F'\t' -v t="$RESTART_AT" '$2 == "accepted" && $7 > t { n++ } END { print n + 0 }' "$E2E/run.log")
[ "$after" -gt 0 ] || fail "no message accepted after the restart: the load was over too soon"
pass "$after messages accepted after the restart"
info "deferral replies: $(load_field run deferred 4 | sort | uniq -c | tr -s ' \n' ' ')/ $(load_field run deferred 9 | sort | uniq -c | sort -rn | head -n 3 | tr -s ' \n' ' ')"
# Postfix defers the rest of a session whose milter failed: a deferral may come after the
# restart, but only in a session that connected before it.
late=$(awk -F'\t' -v k="$KILL_AT" -v r="$RESTART_AT" '$2 == "deferred" && ($7 < k - 0.5 || $11 > r)' "$E2E/run.log")
[ -z "$late" ] || fail "messages deferred while tlsguard was up (kill at $KILL_AT, restart at $RESTART_AT): $(printf '%s\n' "$late" | head -n 5)"
pass "every deferral came after the kill, in a session that connected before the restart"

# --- what the sink received
wait_sink kill9 "$accepted" 90
sink_markers kill9 >"$E2E/sink.markers"
dups=$(awk '$2 != 1' "$E2E/sink.markers")
[ -z "$dups" ] || fail "messages delivered more than once (number copies): $(printf '%s\n' "$dups" | head -n 10)"
load_field run accepted 1 | sort -n >"$E2E/accepted.nums"
cut -d' ' -f1 "$E2E/sink.markers" | sort -n >"$E2E/sink.nums"
diff "$E2E/accepted.nums" "$E2E/sink.nums" >"$E2E/sink.diff" ||
    fail "the sink's messages are not the accepted ones (< accepted only, > delivered only): $(head -n 10 "$E2E/sink.diff")"
pass "the sink received each of the $accepted accepted messages exactly once and no deferred one; queue empty"

# --- the sender tries the deferred ones again
load_field run deferred 1 >"$E2E/deferred.nums"
load retry --only "$E2E/deferred.nums" --concurrency 10 --per-session 4 --prefix kill9 --deadline 100
expect_load retry "$deferred"
[ "$(load_count retry accepted)" = "$deferred" ] ||
    fail "retry: $(load_count retry accepted) of $deferred accepted: $(awk -F'\t' '$2 != "accepted"' "$E2E/retry.log" | head -n 3)"
pass "the $deferred deferred messages, sent again, are accepted"
wait_sink kill9 "$N" 90
dups=$(sink_markers kill9 | awk '$2 != 1')
[ -z "$dups" ] || fail "after the retry, messages delivered more than once: $(printf '%s\n' "$dups" | head -n 10)"
[ "$(sink_markers kill9 | wc -l)" = "$N" ] || fail "after the retry, $(sink_markers kill9 | wc -l) distinct messages delivered, want $N"
pass "all $N messages delivered, each exactly once"

# --- what tlsguard recorded
kill -0 "$TG_PID" 2>/dev/null || fail "the restarted tlsguard died"
sql_is "PRAGMA integrity_check" ok "database intact after SIGKILL"
# Each accepted queue id: its rows in messages (outcome) and recipients; read once the writer
# has caught up (within 1 s) and all sessions have ended.
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL AND started_at >= '$RESTART_UTC'" 0 \
    "every session since the restart recorded as closed"
sqlite3 -batch -noheader -separator ' ' -cmd '.timeout 5000' "$DB" \
    "SELECT m.queue_id, count(DISTINCT m.id), group_concat(DISTINCT m.outcome),
            (SELECT count(*) FROM recipients r WHERE r.message_id IN
                (SELECT id FROM messages WHERE queue_id = m.queue_id))
       FROM messages m WHERE m.queue_id IS NOT NULL GROUP BY m.queue_id" >"$E2E/db.qids" ||
    fail "cannot read the database"
cat "$E2E/run.log" "$E2E/retry.log" | awk -F'\t' '$2 == "accepted"' >"$E2E/all-accepted.log"
awk -v k="$KILL_AT" -v r="$RESTART_AT" -v out="$E2E/db.check" '
    NR == FNR { rows[$1] = $2; outcome[$1] = $3; rcpts[$1] = $4; next }
    {
        q = $5; t = $7
        when = t > r ? "after" : (t >= k - 1.0 ? "last-second" : "before")
        if (!(q in rows)) { missing[when]++; if (when != "last-second") print "missing " when, $1, q > out; next }
        if (rows[q] != 1 || outcome[q] != "accepted" || rcpts[q] != 1) {
            bad++; print "bad", $1, q, rows[q], outcome[q], rcpts[q] > out
        }
        ok[when]++
    }
    END {
        printf "recorded before=%d last-second=%d after=%d; missing before=%d last-second=%d after=%d; bad=%d\n",
            ok["before"], ok["last-second"], ok["after"], missing["before"], missing["last-second"],
            missing["after"], bad
    }' "$E2E/db.qids" FS='\t' "$E2E/all-accepted.log" >"$E2E/db.summary"
summary=$(cat "$E2E/db.summary")
info "database: $summary"
if [ -s "$E2E/db.check" ]; then
    fail "accepted messages not recorded as they should be (missing WHEN N QID / bad N QID ROWS OUTCOME RECIPIENTS): $(head -n 10 "$E2E/db.check")"
fi
pass "every accepted message recorded exactly once with outcome accepted and its recipient, except the last second before SIGKILL ($summary)"
lost=$(printf '%s\n' "$summary" | sed -n -E 's/.*missing before=[0-9]+ last-second=([0-9]+).*/\1/p')
info "records lost to SIGKILL (accepted in the last second before it): ${lost:-?}"
dupq=$(sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" \
    "SELECT count(*) FROM (SELECT queue_id FROM messages WHERE queue_id IS NOT NULL GROUP BY queue_id HAVING count(*) > 1)")
[ "$dupq" = 0 ] || fail "$dupq queue ids recorded in more than one messages row"
pass "no queue id recorded twice"
info "figures: $N messages, $accepted accepted + $deferred deferred in the first run ($after after the restart), $deferred retried and accepted, $N delivered once; took $((SECONDS - T0)) s"
