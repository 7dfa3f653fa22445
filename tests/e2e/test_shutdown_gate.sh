#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGTERM under load with callbacks still running. After drain_timeout
# tlsguard tears down its recorder, resolver, peer map and policy snapshot while libmilter's
# threads may still be inside a callback, or call one for a session still open. The gate
# (milter/gate.h) refuses new callbacks and waits for those in flight before the teardown.
#
# The DNS forwarder is a black hole (a UDP socket nobody reads), so that a RCPT under a
# dane-only rule stays in its callback for dns_timeout seconds. With drain_timeout = 1:
#  1. 20 messages accepted before the signal: each recorded exactly once;
#  2. 6 sessions whose RCPT is in a DNS lookup when SIGTERM comes, and 6 sessions held open
#     after RCPT across the drain, then SIGTERM;
# then tlsguard logs that it waits for the callbacks in flight, exits 0 with no sanitizer or
# memcheck report, and every message of part 2 got a 4xx (never a 5xx, never silence).
# Run it in the ASan build (TLSGUARD=build-asan/milter/tlsguard): a callback that outlived the
# teardown shows there as a use-after-free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init

# The black hole: binds a UDP port and never reads it (no ICMP unreachable, no answer).
BH_PORT=$(free_port)
perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Proto => "udp")
        or die "bind: $!\n";
    sleep 600;' "$BH_PORT" >>"$E2E/blackhole.log" 2>&1 &
track_pid $!
DNS_TIMEOUT=$(e2e_secs 6)
[ "$DNS_TIMEOUT" -le 25 ] || DNS_TIMEOUT=25 # dns_timeout is at most 25
write_policy <<'EOF'
rcpt:.slow.example dane-only
EOF
start_all drain_timeout=1 dns_forwarder="127.0.0.1@$BH_PORT" dns_timeout="$DNS_TIMEOUT"

# --- 1. accepted before the signal
load before --count 20 --concurrency 4 --prefix gate-ok
[ "$(load_count before accepted)" = 20 ] || fail "before SIGTERM: $(load_count before accepted) of 20 accepted"
check_recorded before accepted
pass "20 messages accepted before SIGTERM, each recorded once"

# --- 2. callbacks in flight and sessions held open when SIGTERM comes
MARK=$(log_lines)
load_bg held --count 6 --first 101 --concurrency 6 --hold "$(e2e_secs 20)" --hold-at rcpt --prefix gate-held \
    --deadline 90
HELD_PID=$LOAD_PID
load_bg slow --count 6 --first 201 --concurrency 6 --prefix gate-slow \
    --from "slow%d@x.example" --to "r%d@d%d.slow.example,p%d@y.example" --deadline 90
SLOW_PID=$LOAD_PID
# Every slow session has passed MAIL: its RCPT, sent right after, waits for the DNS.
for ((i = 0; i < $(e2e_secs 20) * 10; i++)); do
    n=$(tail -n "+$((MARK + 1))" "$E2E/tlsguard.log" | grep -c 'sender from=<slow2[0-9][0-9]@x.example>' || true)
    [ "$n" -ge 6 ] && break
    sleep 0.1
done
[ "$n" -ge 6 ] || fail "only $n of the 6 slow sessions reached MAIL"
sleep "$(e2e_secs 1)"
kill -TERM "$TG_PID"
for ((i = 0; i < $(e2e_secs 60) * 10; i++)); do
    kill -0 "$TG_PID" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$TG_PID" 2>/dev/null && fail "tlsguard did not exit within $(e2e_secs 60) s of SIGTERM"
TG_RC=0
wait "$TG_PID" || TG_RC=$?
TG_PID=""
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC after SIGTERM under load"
pass "SIGTERM under load: exit status 0"
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$E2E/tlsguard.log"; then
    fail "a sanitizer report in tlsguard's log"
fi
line=$(log_match "waiting for" "milter callbacks to return") ||
    fail "tlsguard did not wait for the callbacks in flight (none were running at the teardown?)"
pass "the teardown waited for the callbacks in flight: ${line#*: }"
log_match "stopping with" "SMTP sessions still open after 1s" >/dev/null ||
    fail "no sessions were still open after the drain: the test did not test the gate"
pass "sessions were still open after drain_timeout"

wait "$HELD_PID" || fail "load held: the driver failed"
wait "$SLOW_PID" || fail "load slow: the driver failed"
LOAD_PID=""
for name in held slow; do
    expect_load "$name" 6
    [ "$(load_count "$name" deferred)" = 6 ] ||
        fail "load $name: not every message deferred: $(cut -f2-4,9 "$E2E/$name.log" | sort | uniq -c)"
done
pass "every message cut off by the shutdown got a 4xx: $(cut -f4 "$E2E/held.log" "$E2E/slow.log" | sort | uniq -c | xargs)"
[ -z "$(sink_markers gate-held)$(sink_markers gate-slow)" ] || fail "a deferred message was delivered"
pass "no deferred message delivered"

# The database, after tlsguard's exit: intact, nothing of part 1 lost or doubled.
check_recorded before accepted
sql_is "PRAGMA integrity_check" ok "database intact"
pass "after the shutdown: the 20 accepted messages still recorded exactly once"
