#!/bin/bash
# SPDX-License-Identifier: MIT
# Bounded peer history: with peers_max = 100, a few hundred distinct
# clients that each deliver over TLS (driven over the milter protocol by milter_client.pl,
# which can present any client address) leave at most 100 peers in memory, at run time and
# after a restart (the history loaded from SQLite respects the cap too). The most recent peer
# is still learned: plaintext from it is a downgrade and deferred. The oldest was forgotten to
# make room: plaintext from it is a first contact again and accepted, as tlsguard(8) says.
. "$(dirname "$0")/lib.sh"
MC=$E2E_LIB_DIR/milter_client.pl
e2e_init
write_policy <<'EOF2'
* none downgrade=defer
EOF2
write_conf peers_max=100 downgrade_min_sessions=1 downgrade_window=30d
start_tlsguard

# Fewer under valgrind: the cap only needs to be passed.
PEERS=200
[ -z "$E2E_VALGRIND" ] || PEERS=120
TLS="macro M {tls_version}=TLSv1.3 {cipher}=TLS_AES_256_GCM_SHA384 {cipher_bits}=256"

# session N [tls]: one SMTP session from 10.(N/256).(N%256).1 (its own /24: its own peer)
# that sends one message; the replies are in $E2E/last.txt.
session() {
    local n=$1 addr="10.$(($1 / 256)).$(($1 % 256)).1" tls=
    [ "${2:-}" = tls ] && tls=$TLS
    perl "$MC" -p "$TG_PORT" -t "$(e2e_secs 5)" "connect unknown 4 $((20000 + n)) $addr" \
        'helo client.example' ${tls:+"$tls"} 'mail <a@x.example>' 'rcpt <r@y.example>' eom quit \
        >"$E2E/last.txt" 2>&1 || fail "milter_client.pl failed for $addr: $(cat "$E2E/last.txt")"
}

for ((i = 0; i < PEERS; i++)); do
    session "$i" tls
    grep -q '^EOM: c' "$E2E/last.txt" || fail "TLS session $i not accepted: $(cat "$E2E/last.txt")"
done
pass "$PEERS peers delivered over TLS"
sql_is "SELECT count(DISTINCT peer) FROM sessions WHERE tls_version = 'TLSv1.3'" "$PEERS" \
    "the database records all $PEERS peers"

expect_log "the cap is announced once reached" "downgrade: peers_max = 100 reached"
# The count in memory, from the line tlsguard logs at each reload.
reload_tlsguard
forgotten=$((PEERS - 100))
expect_log "at most peers_max peers in memory" \
    "downgrade: 100 peers in memory, 100 learned (peers_max = 100); $forgotten forgotten for room since start, $forgotten of them learned"

last=$((PEERS - 1))
newest="net:10.$((last / 256)).$((last % 256)).0/24"
session "$last"
grep -qF "MAIL: y 451 4.7.0 TLS downgrade: peer $newest delivered over TLS" "$E2E/last.txt" ||
    fail "plaintext from the newest peer not deferred: $(cat "$E2E/last.txt")"
pass "the newest peer is still learned: plaintext deferred as a downgrade"
session 0
grep -q '^MAIL: c' "$E2E/last.txt" || fail "plaintext from the oldest peer: $(cat "$E2E/last.txt")"
grep -q '^EOM: c' "$E2E/last.txt" || fail "plaintext from the oldest peer not accepted: $(cat "$E2E/last.txt")"
pass "the oldest peer was forgotten: plaintext is a first contact again"

# A restart loads the history from SQLite, keeping only the 100 most recent peers.
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with $TG_RC"
start_tlsguard
expect_log "history loaded within the cap" "downgrade: TLS history of 100 peers loaded ($PEERS sessions)"
session "$last"
grep -qF "MAIL: y 451 4.7.0 TLS downgrade: peer $newest" "$E2E/last.txt" ||
    fail "after a restart, plaintext from the newest peer not deferred: $(cat "$E2E/last.txt")"
pass "after a restart the newest peer is still learned"
session 0
grep -q '^EOM: c' "$E2E/last.txt" || fail "after a restart, the oldest peer: $(cat "$E2E/last.txt")"
pass "after a restart the oldest peer is still forgotten"

"$TLSGUARD" check -c "$CONF" >"$E2E/check.txt" 2>&1 || fail "check: $(cat "$E2E/check.txt")"
grep -q "peers_max = 100$" "$E2E/check.txt" || fail "check does not print peers_max: $(cat "$E2E/check.txt")"
pass "tlsguard check prints peers_max"
write_conf peers_max=100x downgrade_min_sessions=1 downgrade_window=30d
expect_exit 1 "$TLSGUARD" check -c "$CONF"
grep -qF "bad value '100x' for peers_max" "$E2E/cmd.err" || fail "check: $(cat "$E2E/cmd.err")"
pass "tlsguard check refuses a bad peers_max"
