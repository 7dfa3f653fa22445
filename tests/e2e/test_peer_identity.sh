#!/bin/bash
# SPDX-License-Identifier: MIT
# Who a client is: a client name counts for the peer identity only when
# the MTA says it verified it ({client_resolve} = OK); a name without that macro, or FORGED,
# FAIL, TEMP, gives the address block, so a fake MTA on the milter socket or a client's own
# DNS cannot pick another peer's TLS history. An IPv4 client on a dual-stack socket
# (::ffff:a.b.c.d) is an IPv4 client: recorded, peered and matched as such, also by a
# client: rule written IPv4-mapped. The real Postfix sends {client_resolve} = OK for
# 127.0.0.1 = localhost, so its clients keep their name.
. "$(dirname "$0")/lib.sh"
MC=$E2E_LIB_DIR/milter_client.pl
e2e_init
write_policy <<'EOF2'
client:::ffff:198.51.100.0/120 encrypt
EOF2
start_all

out=$("$TLSGUARD" check -c "$CONF" 2>&1) || fail "tlsguard check: $out"
grep -qF "line 1: client:198.51.100.0/24 encrypt" <<<"$out" ||
    fail "check does not show the IPv4-mapped rule as IPv4: $out"
pass "check: client:::ffff:198.51.100.0/120 is understood as client:198.51.100.0/24"

# mc COMMAND...: one milter connection; replies without the OPTNEG lines in $E2E/last.txt.
mc() {
    perl "$MC" -p "$TG_PORT" -t "$(e2e_secs 5)" "$@" >"$E2E/mc.out" 2>&1 ||
        fail "milter_client.pl failed: $* $(cat "$E2E/mc.out")"
    grep -v '^OPTNEG: ' "$E2E/mc.out" >"$E2E/last.txt" || true
    { printf '\n===== milter_client %s\n' "$*"; cat "$E2E/mc.out"; } >>"$E2E/transcripts.txt"
}
peer_is() { # CLIENT-NAME WANT DESC
    sql_is "SELECT peer FROM sessions WHERE client_name = '$1'" "$2" "$3"
}

# --- a name without {client_resolve}: the address block
mc 'connect mx.victim.example 4 1001 203.0.113.7' 'helo mx.victim.example' 'mail <a@x.example>' quit
grep -qx "MAIL: c" "$E2E/last.txt" || fail "MAIL not accepted: $(cat "$E2E/last.txt")"
peer_is mx.victim.example "net:203.0.113.0/24" "no {client_resolve}: the peer is the address block"

for r in FORGED FAIL TEMP; do
    mc "macro C {client_resolve}=$r" "connect $r.victim.example 4 1002 203.0.113.8" \
        'helo x' 'mail <a@x.example>' quit
    peer_is "$r.victim.example" "net:203.0.113.0/24" "{client_resolve}=$r: the address block"
done
mc 'macro C {client_resolve}=OK' 'connect mx.verified.example 4 1003 203.0.113.9' 'helo x' \
    'mail <a@x.example>' quit
peer_is mx.verified.example "name:verified.example" "{client_resolve}=OK: the verified name"

# --- an IPv4-mapped client: recorded as IPv4, matched by the mapped rule
mc 'connect mapped.example 6 1004 ::ffff:198.51.100.9' 'helo x' 'mail <a@x.example>' quit
grep -qxF "MAIL: y 451 4.7.0 TLS required for client 198.51.100.9 (rule client:198.51.100.0/24): session was not encrypted" \
    "$E2E/last.txt" || fail "IPv4-mapped client not refused by the mapped rule: $(cat "$E2E/last.txt")"
pass "IPv4-mapped client: refused by client:::ffff:198.51.100.0/120"
sql_is "SELECT client_addr, peer FROM sessions WHERE client_name = 'mapped.example'" \
    "198.51.100.9|net:198.51.100.0/24" "IPv4-mapped client recorded as 198.51.100.9, peer its /24"
mc 'connect plain4.example 4 1005 198.51.100.10' 'helo x' 'mail <a@x.example>' quit
grep -q "^MAIL: y 451 4.7.0 TLS required for client 198.51.100.10 " "$E2E/last.txt" ||
    fail "IPv4 client not refused by the mapped rule: $(cat "$E2E/last.txt")"
pass "IPv4 client: refused by client:::ffff:198.51.100.0/120"
mc 'connect other.example 4 1006 198.51.101.1' 'helo x' 'mail <a@x.example>' quit
grep -qx "MAIL: c" "$E2E/last.txt" || fail "client outside the mapped rule refused: $(cat "$E2E/last.txt")"
pass "client outside 198.51.100.0/24: no rule"

# --- the real Postfix: 127.0.0.1 is verified as localhost
send_mail --from p@x.example --to r@y.example --header "Subject: peer-pf" || fail "mail refused"
peer_is localhost "name:localhost" "Postfix: {client_resolve}=OK arrives, the peer keeps its name"
