#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP every 100 ms during a load: no crash, and no
# message decided under two policies. Two valid policies, swapped in by rename before each
# SIGHUP, give the traffic (plaintext, from sub.x.example to two y.example recipients) different
# rules and actions:
#   A: from:sub.x.example encrypt action=tag      rcpt:y.example encrypt action=tag
#   B: from:.x.example encrypt action=monitor     rcpt:.example encrypt action=monitor
# so the X-TLS-Policy header (rule=...), the messages row (rule, action, outcome tagged or
# accepted) and the recipients rows (rule, action) each tell which policy decided. A load of
# 600 messages, 10 sessions at a time, 2 messages per session, runs while the policy changes
# every 100 ms. Checked: every message accepted and delivered once; for each, its header and
# its rows are those of one policy, the same one (both policies seen in the run); every SIGHUP
# reloaded (no refusal, no error logged); tlsguard alive, and exit status 0 at SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
N=600
# Under valgrind (TLSGUARD_VALGRIND=1) 150 messages: memcheck makes tlsguard many times slower.
[ -z "$E2E_VALGRIND" ] || N=150
TAB=$'\t'

cat >"$E2E/policy.A" <<'EOF'
from:sub.x.example encrypt action=tag
rcpt:y.example encrypt action=tag
EOF
cat >"$E2E/policy.B" <<'EOF'
from:.x.example encrypt action=monitor
rcpt:.example encrypt action=monitor
EOF
# use_policy A|B: the policy file replaced atomically (a reload never reads half a file).
use_policy() {
    cp "$E2E/policy.$1" "$E2E/policy.tmp"
    mv -f "$E2E/policy.tmp" "$POLICY"
}
use_policy A
start_all

# sink_headers PREFIX: "N<TAB>COUNT<TAB>VALUE" per delivered message: its number, how many
# X-TLS-Policy headers it has and the last one's value.
sink_headers() {
    grep -rlE "^Subject: $1-[0-9]+" "$SINKDIR" | xargs -r awk -v p="$1-" '
        FNR == 1 { if (s != "") print s "\t" n "\t" h; s = ""; h = ""; n = 0; body = 0 }
        body { next }
        { sub(/\r$/, "") }
        /^$/ { body = 1; next }
        /^Subject: / { s = substr($0, 10); sub("^" p, "", s) }
        tolower(substr($0, 1, 14)) == "x-tls-policy: " { n++; h = substr($0, 15) }
        END { if (s != "") print s "\t" n "\t" h }' | sort -n
}

# db_rows: "QUEUEID<TAB>sender rule/action/outcome + recipient rule/action..." per message.
db_rows() {
    sqlite3 -batch -noheader -separator "$TAB" -cmd '.timeout 5000' "$DB" \
        "SELECT m.queue_id, m.rule || '/' || m.action || '/' || coalesce(m.outcome, 'NULL') || ' ' ||
                (SELECT count(*) || ':' || group_concat(DISTINCT r.rule || '/' || r.action)
                   FROM recipients r WHERE r.message_id = m.id)
           FROM messages m WHERE m.queue_id IS NOT NULL ORDER BY m.id"
}

# --- the two references: one message under each policy, no reload in between
declare -A REF_HDR REF_DB
for p in A B; do
    use_policy "$p"
    reload_tlsguard
    load "ref$p" --count 1 --first 1 --prefix "ref$p" --from "s%d@sub.x.example" \
        --to "a%d@y.example,b%d@y.example"
    [ "$(load_count "ref$p" accepted)" = 1 ] || fail "policy $p: the reference message was not accepted"
    wait_sink "ref$p" 1 30
    REF_HDR[$p]=$(sink_headers "ref$p" | cut -f2-)
    qid=$(load_field "ref$p" accepted 5)
    sql_is "SELECT count(*) FROM messages WHERE queue_id = '$qid' AND outcome IS NOT NULL" 1 "policy $p: reference recorded"
    REF_DB[$p]=$(db_rows | awk -F'\t' -v q="$qid" '$1 == q { print $2 }')
    info "policy $p: header count<TAB>value '${REF_HDR[$p]}', rows '${REF_DB[$p]}'"
done
[ "${REF_HDR[A]}" != "${REF_HDR[B]}" ] && [ "${REF_DB[A]}" != "${REF_DB[B]}" ] ||
    fail "the two policies are not told apart by header and rows: A '${REF_HDR[A]}' '${REF_DB[A]}', B '${REF_HDR[B]}' '${REF_DB[B]}'"
case "${REF_HDR[A]}|${REF_DB[A]}|${REF_DB[B]}" in
"1${TAB}fail tls=none rule=from:sub.x.example,rcpt:y.example|from:sub.x.example/tag/tagged 2:rcpt:y.example/tag|from:.x.example/monitor/accepted 2:rcpt:.example/monitor") ;;
*) fail "unexpected reference decisions: A '${REF_HDR[A]}' '${REF_DB[A]}', B '${REF_HDR[B]}' '${REF_DB[B]}'" ;;
esac
pass "policy A tags (header rule=from:sub.x.example,rcpt:y.example), policy B monitors (rule=from:.x.example,rcpt:.example)"

# --- the load, with a SIGHUP every 100 ms
: >>"$E2E/tlsguard.log"
log_from=$(wc -l <"$E2E/tlsguard.log")
load_bg hup --count "$N" --first 1 --concurrency 10 --per-session 2 --prefix hup \
    --from "s%d@sub.x.example" --to "a%d@y.example,b%d@y.example" --deadline 120
# The SIGHUP loop in one perl process (a shell loop forking cp, mv and sleep cannot keep
# 100 ms on two busy cores): on each 100 ms tick, the other policy renamed into place, SIGHUP.
perl -MTime::HiRes=time,sleep -e '
    my ($tg, $load, $dir, $policy) = @ARGV;
    my ($n, $p, $next) = (0, "A", time);
    while (kill 0, $load) {
        $p = $p eq "A" ? "B" : "A";
        unlink "$dir/policy.tmp";
        link("$dir/policy.$p", "$dir/policy.tmp") && rename("$dir/policy.tmp", $policy)
            or die "policy swap: $!\n";
        kill("HUP", $tg) or do { print "$n dead\n"; exit 1 };
        $n++;
        $next += 0.1;
        my $d = $next - time;
        sleep $d if $d > 0;
    }
    print "$n\n";' "$TG_PID" "$LOAD_PID" "$E2E" "$POLICY" >"$E2E/hups" ||
    fail "tlsguard died after $(cut -d' ' -f1 "$E2E/hups") SIGHUPs"
hups=$(cat "$E2E/hups")
load_wait hup
sleep 1
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died after $hups SIGHUPs"
pass "tlsguard alive after $hups SIGHUPs at 100 ms during the load"

expect_load hup "$N"
[ "$(load_count hup accepted)" = "$N" ] ||
    fail "$(load_count hup accepted) of $N accepted: $(awk -F'\t' '$2 != "accepted"' "$E2E/hup.log" | head -n 3)"
pass "all $N messages accepted"
wait_sink hup "$N" 60
[ -z "$(sink_markers hup | awk '$2 != 1')" ] || fail "messages delivered more than once"
pass "and delivered, once each"

reloads=$(tail -n "+$((log_from + 1))" "$E2E/tlsguard.log" | grep -cF "reload: configuration" || true)
refused=$(tail -n "+$((log_from + 1))" "$E2E/tlsguard.log" | grep -cF "reload refused" || true)
errors=$(tail -n "+$((log_from + 1))" "$E2E/tlsguard.log" | grep -F "[error]" | head -n 3 || true)
[ "$refused" = 0 ] || fail "$refused reloads refused"
[ -z "$errors" ] || fail "errors logged during the reloads: $errors"
[ "$reloads" -ge $((hups * 9 / 10)) ] || fail "only $reloads reloads logged for $hups SIGHUPs"
pass "$reloads reloads logged for $hups SIGHUPs, none refused, no error"

# --- every message decided under one policy
sql_is "SELECT count(*) FROM messages WHERE outcome IS NULL" 0 "every transaction's outcome recorded"
db_rows >"$E2E/db.rows"
sink_headers hup >"$E2E/sink.headers"
awk -F'\t' -v ha="${REF_HDR[A]#*"$TAB"}" -v hb="${REF_HDR[B]#*"$TAB"}" -v da="${REF_DB[A]}" -v db="${REF_DB[B]}" \
    -v out="$E2E/mixed" '
    FILENAME ~ /db.rows$/ { row[$1] = $2; next }
    FILENAME ~ /sink.headers$/ { hn[$1] = $2; hv[$1] = $3; next }
    $2 == "accepted" {
        n = $1; q = $5
        h = (hn[n] == 1 && hv[n] == ha) ? "A" : (hn[n] == 1 && hv[n] == hb) ? "B" : "?"
        d = row[q] == da ? "A" : row[q] == db ? "B" : "?"
        if (h == "?" || d == "?" || h != d) { bad++; print n, q, "header", hn[n], hv[n], "rows", row[q] > out }
        else used[h]++
    }
    END { printf "A=%d B=%d mixed=%d\n", used["A"], used["B"], bad }' \
    "$E2E/db.rows" "$E2E/sink.headers" "$E2E/hup.log" >"$E2E/mix.summary"
summary=$(cat "$E2E/mix.summary")
[ ! -s "$E2E/mixed" ] || fail "messages whose header and rows do not come from one policy ($summary): $(head -n 5 "$E2E/mixed")"
case "$summary" in "A=0 "* | *" B=0 "*) fail "one policy never decided a message: $summary" ;; esac
pass "every message's header and rows come from one policy ($summary)"

stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM after the reloads"
pass "SIGTERM: exit status 0"
info "figures: $N messages, $hups SIGHUPs, $reloads reloads, $summary; took $((SECONDS - T0)) s"
