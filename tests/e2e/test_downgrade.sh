#!/bin/bash
# SPDX-License-Identifier: MIT
# Learned downgrade detection through the real Postfix: a peer that delivered over
# STARTTLS three times and then comes in plaintext is deferred, also after a restart (the
# history is reloaded from SQLite); a first contact, a peer below the count and a peer whose
# TLS sessions left the window (clock shifted with faketime) are accepted; a drop from TLSv1.3
# to TLSv1.2 is a downgrade too. Without downgrade= the verdict is only recorded (monitor).
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
* none downgrade=defer
EOF2
start_all downgrade_min_sessions=3 downgrade_window=30d

last_msg="SELECT verdict, action, coalesce(outcome, 'NULL') FROM messages ORDER BY id DESC LIMIT 1"
plain() { send_mail --from "a@x.example" --to r@y.example --header "Subject: $1"; }
tls13() {
    send_mail --tls --from "a@x.example" --to r@y.example --header "Subject: $1" ||
        fail "$1: TLS mail refused"
    expect_tls TLSv1.3
}

# --- a first contact in plaintext is accepted
plain first-contact || fail "first contact in plaintext refused"
pass "first contact in plaintext accepted"
sql_is "SELECT count(*) FROM sessions WHERE peer IS NOT NULL" 1 "the session has a peer"
peer=$(sql "SELECT peer FROM sessions ORDER BY id DESC LIMIT 1")
# Postfix names 127.0.0.1 "localhost" when /etc/hosts confirms it both ways; else the block.
case "$peer" in
name:localhost | net:127.0.0.0/24) pass "peer of 127.0.0.1 is $peer" ;;
*) fail "unexpected peer '$peer' for 127.0.0.1" ;;
esac
sql_is "$last_msg" "none|accept|accepted" "first contact: verdict none"

# --- two TLS deliveries are below downgrade_min_sessions = 3: plaintext still accepted
tls13 tls-1
tls13 tls-2
plain below-count || fail "plaintext after 2 TLS sessions refused"
pass "plaintext after only 2 TLS sessions accepted"
sql_is "$last_msg" "none|accept|accepted" "below the count: verdict none"

# --- the third TLS delivery makes the peer learned: plaintext is deferred
tls13 tls-3
reason="peer $peer delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now plaintext"
plain downgraded && fail "plaintext after 3 TLS sessions accepted"
expect_reply 451 "4.7.0 TLS downgrade: $reason; try again with STARTTLS" \
    "plaintext after 3 STARTTLS sessions: 451 4.7.0 with the reason"
not_delivered downgraded
sql_is "$last_msg" "downgrade|defer|refused" "recorded: verdict downgrade, action defer, refused"
sql_is "SELECT rule, reason, action, client_addr, tls_version FROM policy_hits ORDER BY at DESC LIMIT 1" \
    "*|$reason|defer|127.0.0.1|NULL" "policy_hits lists the downgrade"
expect_log "log line for the downgrade" "downgrade from=<a@x.example>" "verdict=downgrade" \
    "action=defer" "reason=\"$reason\""

# --- the history survives a restart
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with $TG_RC"
start_tlsguard
expect_log "history reloaded at start" "downgrade: TLS history of 1 peers loaded (3 sessions)"
plain after-restart && fail "plaintext accepted after a restart"
expect_reply 451 "4.7.0 TLS downgrade: $reason" "after a restart: still deferred"

# --- a protocol version drop: TLSv1.3 x3, now TLSv1.2
send_mail --tls --tls-protocol tlsv1_2 --from a@x.example --to r@y.example \
    --header "Subject: tls12" && fail "TLSv1.2 after TLSv1.3 accepted"
expect_tls TLSv1.2
expect_reply 451 "4.7.0 TLS downgrade: peer $peer delivered over TLS in at least 3 sessions within 30d (best TLSv1.3), now TLSv1.2" \
    "TLSv1.3 x3 then TLSv1.2: deferred"
sql_is "SELECT tls_version FROM policy_hits ORDER BY at DESC LIMIT 1" TLSv1.2 \
    "the version drop is a policy hit with its version"
tls13 tls-4
pass "TLSv1.3 again: accepted"

# --- what a postmaster sees: the peers view and `tlsguard peers`
# Plaintext sessions that sent MAIL: first-contact, below-count, downgraded, after-restart.
sql_is "SELECT tls_sessions, plaintext_sessions, best_tls_version, last_tls_at >= last_plaintext_at FROM peers WHERE peer = '$peer'" \
    "4|4|TLSv1.3|1" "peers view: 4 TLS deliveries, 4 plaintext sessions, best TLSv1.3"
out=$("$TLSGUARD" peers -c "$CONF") || fail "tlsguard peers exited with $?"
grep -qE "^$peer +yes +4 +TLSv1\.3 +4 +4 " <<<"$out" ||
    fail "tlsguard peers: no learned row for $peer: $out"
grep -qx "1 peers, 1 learned" <<<"$out" || fail "tlsguard peers: summary: $out"
pass "tlsguard peers: $peer learned, 4 TLS sessions in the window, best TLSv1.3"
expect_exit 1 "$TLSGUARD" peers -c "$CONF" extra
grep -qF "usage: tlsguard peers" "$E2E/cmd.err" || fail "tlsguard peers extra: no usage line: $(cat "$E2E/cmd.err")"
pass "tlsguard peers: usage error exits 1 with the usage line"

# --- without downgrade= the default is monitor: recorded, accepted, in the header
write_policy <<'EOF2'
* none
EOF2
reload_tlsguard
plain monitored || fail "plaintext refused under a rule without downgrade="
f=$(wait_for_delivery monitored)
pass "no downgrade=: plaintext accepted"
sql_is "$last_msg" "downgrade|monitor|accepted" "no downgrade=: verdict downgrade, action monitor"
expect_header "$f" "downgrade tls=none rule=*" "no downgrade=: the header says downgrade"

# --- downgrade=tag: accepted and marked
write_policy <<'EOF2'
* none downgrade=tag
EOF2
reload_tlsguard
plain tagged || fail "plaintext refused with downgrade=tag"
f=$(wait_for_delivery tagged)
sql_is "$last_msg" "downgrade|tag|tagged" "downgrade=tag: verdict downgrade, outcome tagged"
expect_header "$f" "downgrade tls=none rule=*" "downgrade=tag: the header says downgrade"

# --- mode = monitor refuses nothing, whatever downgrade= says
write_policy <<'EOF2'
* none downgrade=reject
EOF2
write_conf downgrade_min_sessions=3 downgrade_window=30d mode=monitor
reload_tlsguard
plain monitor-mode || fail "plaintext refused in mode = monitor"
pass "mode = monitor: plaintext accepted despite downgrade=reject"
sql_is "$last_msg" "downgrade|monitor|accepted" "mode = monitor: verdict downgrade, action monitor"
write_conf downgrade_min_sessions=3 downgrade_window=30d

# --- downgrade=off skips the check
write_policy <<'EOF2'
* none downgrade=off
EOF2
reload_tlsguard
plain off || fail "plaintext refused with downgrade=off"
sql_is "$last_msg" "none|accept|accepted" "downgrade=off: no verdict"

# --- outside the window: the same history, 31 days later, is not learned
stop_tlsguard
write_policy <<'EOF2'
* none downgrade=reject
EOF2
real=$TLSGUARD
TLSGUARD=$(faketime_wrapper "$real" +31d tlsguard-31-days-later)
start_tlsguard
expect_log "31 days later: nothing in the window" "downgrade: TLS history of 0 peers loaded (0 sessions)"
out=$("$TLSGUARD" peers -c "$CONF") || fail "tlsguard peers (31 days later) exited with $?"
grep -qE "^$peer +no +0 +- +" <<<"$out" ||
    fail "tlsguard peers 31 days later: $peer should not be learned: $out"
pass "tlsguard peers 31 days later: $peer not learned"
plain outside-window || fail "plaintext refused although the TLS sessions left the window"
pass "31 days later: plaintext accepted (history outside the window)"
sql_is "$last_msg" "none|accept|accepted" "outside the window: verdict none"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard (shifted clock) exited with $TG_RC"
TLSGUARD=$real

# --- tlsguard check warns when retention is shorter than the window
write_conf retention_days=7 downgrade_window=30d
out=$("$TLSGUARD" check -c "$CONF" 2>&1) || fail "tlsguard check failed: $out"
grep -qF "warning: retention_days = 7 is shorter than downgrade_window = 30d" <<<"$out" ||
    fail "tlsguard check: no retention warning: $out"
pass "tlsguard check warns: retention_days shorter than downgrade_window"
write_conf downgrade_window=30
expect_exit 1 "$TLSGUARD" check -c "$CONF"
grep -qF "$CONF:7: error: bad value '30' for downgrade_window: expected a number with unit s, m, h or d, e.g. 30d" "$E2E/cmd.err" ||
    fail "downgrade_window without unit: $(cat "$E2E/cmd.err")"
pass "downgrade_window without a unit refused with file:line"
