#!/bin/bash
# SPDX-License-Identifier: MIT
# contrib/demo.sh, as a newcomer runs it: exits 0, shows the 250 for the message over
# STARTTLS and the 451 4.7.0 for the plaintext one, `tlsguard stats` and the policy_hits row,
# prints nothing on stderr, and leaves neither its temp dir nor a process behind.
. "$(dirname "$0")/lib.sh"
e2e_init

rc=0
# The demo's tlsguard is this test's $TLSGUARD: under memcheck the wrapper whose logs this test
# checks (the demo's own harness is not told about valgrind).
TLSGUARD=$TLSGUARD TLSGUARD_VALGRIND=0 bash "$REPO/contrib/demo.sh" >"$E2E/demo.out" 2>"$E2E/demo.err" || rc=$?
cp "$E2E/demo.out" "$E2E/last.txt" # shown by fail
[ "$rc" = 0 ] || fail "demo.sh exited with $rc: $(cat "$E2E/demo.err")"
pass "demo.sh exits 0"
[ ! -s "$E2E/demo.err" ] || fail "demo.sh wrote to stderr: $(cat "$E2E/demo.err")"
pass "demo.sh: nothing on stderr"

# expect_line DESC TEXT: some output line contains TEXT (fixed string).
expect_line() {
    grep -qF -- "$2" "$E2E/demo.out" || fail "demo.sh: $1: no line with '$2'"
    pass "demo.sh: $1"
}
expect_line "shows the policy" "  from:bank.example encrypt protocols=>=TLSv1.2"
expect_line "STARTTLS negotiated" "(TLS started: TLSv1.3, TLS_AES_256_GCM_SHA384, 256 bits)"
expect_line "the message over TLS is accepted" "  S: 250 2.0.0 Ok: queued as "
expect_line "the header of the delivered message" \
    "  X-TLS-Policy: pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example"
expect_line "the plaintext message is deferred" \
    "  S: 451 4.7.0 TLS required for mail from bank.example (rule from:bank.example): session was not encrypted"
expect_line "tlsguard stats runs" "  tlsguard statistics from /tmp/tlsguard-e2e."
expect_line "stats: 2 sessions, 1 with TLS, 2 transactions" "    2        1        50.0%     2"
expect_line "stats: the policy hit" "    from:bank.example defer  1"
expect_line "policy_hits: the header" "  at                       client_addr  tls_version  mail_from"
grep -E "^  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{12}  127\.0\.0\.1 +alice@bank\.example  from:bank\.example  session was not encrypted  defer *$" \
    "$E2E/demo.out" >/dev/null || fail "demo.sh: no policy_hits row for the plaintext message"
pass "demo.sh: the policy_hits row (no TLS, from:bank.example, defer)"
[ "$(grep -c '^  S: 250 2.0.0 Ok: queued as' "$E2E/demo.out")" = 1 ] ||
    fail "demo.sh: more than one message accepted"
pass "demo.sh: exactly one message accepted"

dir=$(sed -n -E 's|.* removing (/tmp/tlsguard-e2e\.[A-Za-z0-9]+)\.$|\1|p' "$E2E/demo.out")
[ -n "$dir" ] || fail "demo.sh does not say which temp dir it removes"
[ ! -e "$dir" ] || fail "demo.sh left $dir behind"
pass "demo.sh removed its temp dir $dir"
# Postfix's daemons work in its queue directory, tlsguard and smtp-sink name their files.
left=""
for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    case "$cwd $cmd" in *"$dir/"* | *"$dir "*) left="$left${p#/proc/} $cmd; " ;; esac
done
[ -z "$left" ] || fail "demo.sh left processes behind: $left"
pass "demo.sh left no process behind (tlsguard, Postfix, smtp-sink)"
