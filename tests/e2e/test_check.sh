#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: quick
# tlsguard check: a good configuration prints what was understood and "configuration OK"
# (exit 0); broken files give every error as FILE:LINE: error: ... on stderr (exit 1). Also the
# exit codes of version, usage errors and serve with a missing file.
. "$(dirname "$0")/lib.sh"
e2e_init
[ -x "$TLSGUARD" ] || fail "tlsguard binary not found: $TLSGUARD"

run() { # CMD...: sets out, err, rc
    rc=0
    "$@" >"$E2E/out" 2>"$E2E/err" || rc=$?
    out=$(cat "$E2E/out")
    err=$(cat "$E2E/err")
}
has() { # TEXT WHERE DESC
    grep -qF -- "$1" <<<"$2" || fail "$3: '$1' not in: $2"
}

# --- good
write_policy <<'EOF2'
# partners
from:bank.example encrypt protocols=>=TLSv1.2 ciphers=HIGH:!aNULL:!kRSA min_bits=128 action=reject
from:.bank.example verify match=bank.example:.bank.example
rcpt:secure.example encrypt action=quarantine
client:192.0.2.0/24 may
client:2001:db8::/32 encrypt action=tag
*  none
EOF2
write_conf mode=monitor default_action=reject header=no
run "$TLSGUARD" check -c "$CONF"
[ "$rc" = 0 ] || fail "check of a good configuration: exit $rc: $err"
pass "good configuration: exit 0"
[ "$(printf '%s\n' "$out" | tail -n 1)" = "configuration OK" ] || fail "last line is not 'configuration OK': $out"
pass "good configuration: 'configuration OK'"
for kv in "mode = monitor" "default_action = reject" "header = no" "database = $DB" "on_db_error = accept"; do
    has "$kv" "$out" "check prints the configuration as understood"
done
pass "check prints every key as understood, defaults included"
for r in "from:bank.example encrypt" "protocols=>=TLSv1.2" "ciphers=HIGH:!aNULL:!kRSA" "min_bits=128" \
    "from:.bank.example verify" "match=bank.example:.bank.example" "rcpt:secure.example encrypt" \
    "action=quarantine" "client:192.0.2.0/24 may" "client:2001:db8::/32 encrypt" "* none"; do
    has "$r" "$out" "check prints each rule as understood"
done
pass "check prints each rule as understood"

# --- no -c: built-in defaults
run "$TLSGUARD" check
[ "$rc" = 0 ] || fail "check without -c: exit $rc: $err"
has "configuration OK" "$out" "built-in defaults"
pass "check without -c: built-in defaults, configuration OK"

# --- broken policy: every error, with file and line
write_policy <<'EOF2'
# line 1 is a comment
from:bank.example encrypt protocols=>=TLSv1.2
frm:bank.example encrypt
from:x.example strict
from:y.example encrypt colour=blue
from:z.example encrypt match=z.example
from:w.example may action=reject
from:bank.example may
client:10.0.0.0/33 encrypt
from:c.example encrypt ciphers=NOSUCHCIPHER
from:b.example encrypt min_bits=0
from:d.example encrypt min_bits=128 min_bits=256
from:bad..example encrypt
from:e.example none protocols=>=TLSv1.2
from:f.example encrypt action=bounce
from:ok.example encrypt
EOF2
write_conf
run "$TLSGUARD" check -c "$CONF"
[ "$rc" = 1 ] || fail "broken policy: exit $rc, want 1"
pass "broken policy: exit 1"
grep -qx "configuration OK" <<<"$out" && fail "broken policy: 'configuration OK' printed"
pass "broken policy: no 'configuration OK'"
for l in 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    grep -qF "$POLICY:$l: error:" <<<"$err" || fail "broken policy: no error for line $l in: $err"
done
pass "broken policy: one FILE:LINE: error: for each of the 13 bad lines"
for l in 1 2 16; do
    grep -qF "$POLICY:$l: error:" <<<"$err" && fail "broken policy: error reported for good line $l"
done
pass "broken policy: no error for the good lines"
grep -qxF "$POLICY:8: error: duplicate selector from:bank.example (first at line 2)" <<<"$err" ||
    fail "duplicate selector: the error does not name the first line (2): $err"
pass "duplicate selector: error names both lines"
grep -F "$POLICY:9: error:" <<<"$err" | grep -qF "10.0.0.0/33" || fail "bad CIDR not quoted: $err"
grep -F "$POLICY:10: error:" <<<"$err" | grep -qF "NOSUCHCIPHER" || fail "bad cipher string not quoted: $err"
pass "errors quote the offending text"

# --- broken config
write_policy <<'EOF2'
from:bank.example encrypt
EOF2
cat >"$CONF" <<EOF2
socket = inet:$TG_PORT@127.0.0.1
database = $DB
colour = blue
mode = enforcing
header = maybe
policy = $POLICY
default_action = bounce
this line has no equals sign
user = $(printf 'mail\033[2J')
EOF2
run "$TLSGUARD" check -c "$CONF"
[ "$rc" = 1 ] || fail "broken config: exit $rc, want 1"
for l in 3 4 5 7 8 9; do
    grep -qF "$CONF:$l: error:" <<<"$err" || fail "broken config: no error for line $l in: $err"
done
grep -F "$CONF:3: error:" <<<"$err" | grep -qF colour || fail "unknown key not named: $err"
grep -F "$CONF:9: error:" <<<"$err" | grep -qF "control character" ||
    fail "a control byte in a value is not named: $err"
grep -q "$(printf '\033')" <<<"$err" && fail "check echoes a control byte of the file: $err"
pass "broken config: exit 1, every error with file:line, unknown key named, control bytes refused and not echoed"

# --- missing files
run "$TLSGUARD" check -c "$E2E/no-such.conf"
[ "$rc" = 1 ] || fail "check -c missing file: exit $rc, want 1"
has "$E2E/no-such.conf" "$err" "missing config"
pass "check -c missing file: exit 1, names the file"
write_conf policy="$E2E/no-such.policy"
run "$TLSGUARD" check -c "$CONF"
[ "$rc" = 1 ] || fail "missing policy file: exit $rc, want 1"
has "$E2E/no-such.policy" "$err" "missing policy"
pass "missing policy file: exit 1, names the file"
run timeout "$(e2e_secs 20)" "$TLSGUARD" serve -c "$E2E/no-such.conf"
[ "$rc" = 1 ] || fail "serve -c missing file: exit $rc, want 1"
pass "serve -c missing file: exit 1"

write_conf database=/nonexistent-dir/tlsguard.db
run timeout "$(e2e_secs 20)" "$TLSGUARD" serve -c "$CONF"
[ "$rc" = 2 ] || fail "serve with a database that cannot be opened: exit $rc, want 2"
pass "serve, database cannot be opened: exit 2"

# --- version and usage
run "$TLSGUARD" version
[ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | head -n 1)" = "tlsguard 0.1.0" ] ||
    fail "version: exit $rc, first line '$(printf '%s\n' "$out" | head -n 1)'"
pass "version: tlsguard 0.1.0"
run "$TLSGUARD" no-such-command
[ "$rc" = 1 ] || fail "unknown subcommand: exit $rc, want 1"
pass "unknown subcommand: exit 1"
run "$TLSGUARD" explain -c "$CONF"
[ "$rc" = 1 ] || fail "explain without --from/--rcpt: exit $rc, want 1"
pass "explain usage error: exit 1"
