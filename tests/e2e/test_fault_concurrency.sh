#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: serial
# 1,000 concurrent SMTP sessions: Postfix may run 1,100
# smtpd processes (default_process_limit), the file descriptor limit is raised to 8192, and
# the driver opens 1,000 sessions at once, spread over 40 smtpd services on as many ports,
# each with a cleanup service of its own (Postfix's master starts a service's processes one
# after the other, each once the last one is ready: through one service 1,000 sessions take
# minutes to start on a busy 2-core machine). Each session sends EHLO and MAIL, then waits
# until all 1,000 have got that far: tlsguard then has 1,000 milter connections, each with a
# transaction open (sender decided, snapshot pinned, records queued). tlsguard's RSS and
# threads are reported at that point; then every session sends RCPT and its message.
# Checked: all 1,000 accepted and delivered once, tlsguard alive and attached to every
# session at the peak, and every session, message (with queue id and outcome) and recipient
# recorded exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
N=1000
# Under valgrind (TLSGUARD_VALGRIND=1) 100 sessions: memcheck runs tlsguard's threads one at a
# time, many times slower, and 1,000 held sessions would take most of the run's time.
[ -z "$E2E_VALGRIND" ] || N=100
SERVICES=40
ulimit -n 8192 || fail "cannot raise the file descriptor limit to 8192"

write_conf
start_tlsguard
# No TLS in this Postfix: an smtpd process starts several times faster without loading
# OpenSSL's context, and 1,000 of them must start.
start_postfix "default_process_limit = 1100" "smtpd_tls_security_level = none" \
    "smtpd_tls_ask_ccert = no"
PORTS=$SMTP_PORT
for ((i = 1; i < SERVICES; i++)); do
    p=$(free_port)
    printf '127.0.0.1:%s inet n - n - - smtpd -o cleanup_service_name=cleanup%s\n' "$p" "$i" >>"$PFDIR/etc/master.cf"
    printf 'cleanup%s unix n - n - 0 cleanup\n' "$i" >>"$PFDIR/etc/master.cf"
    PORTS="$PORTS,$p"
done
postfix -c "$PFDIR/etc" reload >>"$PFDIR/start.log" 2>&1 || fail "postfix reload"
for p in ${PORTS//,/ }; do
    wait_port "$p" 15 || fail "Postfix smtpd did not listen on $p"
done
info "tlsguard idle: $(tg_mem)"

load_bg conc --port "$PORTS" --count "$N" --concurrency "$N" --prefix conc --hold 5 --hold-at mail --hold-wait 150 \
    --hold-file "$E2E/held" --timeout 150 --deadline 240
# At the peak: every session past MAIL, waiting.
for ((i = 0; i < $(e2e_secs 160) * 10; i++)); do
    grep -q '^held' "$E2E/held" 2>/dev/null && break
    kill -0 "$LOAD_PID" 2>/dev/null || fail "the driver ended before holding the sessions"
    sleep 0.1
done
held=$(sed -n -E 's/^held ([0-9]+) sessions.*/\1/p' "$E2E/held")
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died while 1,000 sessions connected"
PEAK_MEM=$(tg_mem)
fds=$(find "/proc/$TG_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
smtpds=$(pgrep -c -P "$(tr -dc 0-9 <"$PFDIR/queue/pid/master.pid")" smtpd || true)
info "peak: $(head -n 1 "$E2E/held"); tlsguard $PEAK_MEM, $fds open files; $smtpds smtpd processes"
[ "${held:-0}" = "$N" ] || fail "only ${held:-0} of $N sessions got past MAIL together: $(cut -f2,3,4,9 "$E2E/conc.log" | sort | uniq -c | head -n 5)"
pass "$N SMTP sessions open at once, each with a transaction past MAIL"
[ "$fds" -ge "$N" ] || fail "tlsguard has $fds open files: not attached to all $N sessions"
pass "tlsguard attached to all of them ($fds open files)"
load_wait conc

expect_load conc "$N"
[ "$(load_count conc accepted)" = "$N" ] ||
    fail "$(load_count conc accepted) of $N accepted: $(awk -F'\t' '$2 != "accepted"' "$E2E/conc.log" | cut -f2,3,4,9 | sort | uniq -c | head -n 5)"
pass "all $N messages accepted"
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died"
wait_sink conc "$N" 120
[ -z "$(sink_markers conc | awk '$2 != 1')" ] || fail "messages delivered more than once"
pass "all $N delivered, once each"

sql_is "SELECT count(*), sum(ended_at IS NOT NULL), sum(messages) FROM sessions" "$N|$N|$N" \
    "$N sessions recorded, closed, one message each"
sql_is "SELECT count(*), count(DISTINCT queue_id), sum(outcome = 'accepted') FROM messages" "$N|$N|$N" \
    "$N messages recorded with distinct queue ids, all accepted"
sql_is "SELECT count(*), count(DISTINCT message_id) FROM recipients" "$N|$N" "$N recipients recorded"
load_field conc accepted 5 | sort >"$E2E/driver.qids"
sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "SELECT queue_id FROM messages" | sort >"$E2E/db.qids"
diff "$E2E/driver.qids" "$E2E/db.qids" >"$E2E/qids.diff" ||
    fail "recorded queue ids differ from those the driver was given: $(head -n 5 "$E2E/qids.diff")"
pass "the recorded queue ids are the $N the sender was given"
sql_is "PRAGMA integrity_check" ok "database intact"
info "figures: $N sessions held at once; tlsguard at the peak $PEAK_MEM; after $(tg_mem); took $((SECONDS - T0)) s"
