#!/bin/bash
# SPDX-License-Identifier: MIT
#
# demo.sh - tlsguard in one minute: a sandbox Postfix on loopback with tlsguard attached,
# the policy "mail from bank.example must use TLSv1.2 or better", one message over STARTTLS
# (accepted) and one in plaintext (deferred), then what tlsguard recorded: `tlsguard stats`
# and the policy_hits rows.
#
#   sudo bash contrib/demo.sh
#
# Needs root (Postfix) and what tests/run.sh installs (postfix, swaks, sqlite3, openssl and
# the build dependencies; run tests/run.sh once, or see its package list). Builds
# build/milter/tlsguard if it is not there (TLSGUARD=/path/to/tlsguard uses another binary).
# Everything runs in a temp dir on random loopback ports with a private Postfix
# configuration; all of it is stopped and removed at the end, also on failure or Ctrl-C. The
# system's Postfix and its configuration are not touched.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() {
    printf '%s\n' "$*"
}

# heading TEXT: a blank line, then TEXT underlined.
heading() {
    printf '\n%s\n%s\n' "$1" "$(printf '%s' "$1" | tr '[:print:]' '-')"
}

die() {
    printf 'demo.sh: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "run as root: it starts a private Postfix (sudo bash contrib/demo.sh)"
for cmd in postfix smtp-sink swaks sqlite3 openssl; do
    command -v "$cmd" >/dev/null ||
        die "$cmd is not installed; tests/run.sh installs everything the demo needs"
done

# --- the binary: TLSGUARD, else build/milter/tlsguard, built first if it is not there
if [ -z "${TLSGUARD:-}" ]; then
    TLSGUARD=$repo/build/milter/tlsguard
    if [ ! -x "$TLSGUARD" ]; then
        say "Building tlsguard in $repo/build ..."
        buildlog=$(mktemp /tmp/tlsguard-demo-build.XXXXXX)
        if ! { [ -f "$repo/build/CMakeCache.txt" ] || cmake -S "$repo" -B "$repo/build"; } \
            >"$buildlog" 2>&1 || ! cmake --build "$repo/build" -j "$(nproc)" >>"$buildlog" 2>&1; then
            tail -n 30 "$buildlog" >&2
            rm -f "$buildlog"
            die "the build failed (output above); tests/run.sh installs the build dependencies"
        fi
        rm -f "$buildlog"
    fi
fi
[ -x "$TLSGUARD" ] || die "no tlsguard binary at $TLSGUARD"
export TLSGUARD

# --- the sandbox: tests/e2e/lib.sh does the setup and the cleanup; the demo talks instead
# of printing test results.
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. "$repo/tests/e2e/lib.sh"
info() { :; }
say "tlsguard demo: a sandbox Postfix with tlsguard attached, on loopback"
e2e_init
# lib.sh's cleanup stops everything and removes the temp dir; its test verdict is not shown.
trap 'e2e_cleanup >/dev/null' EXIT

heading "The policy ($POLICY)"
write_policy <<'EOF'
from:bank.example encrypt protocols=>=TLSv1.2
EOF
sed 's/^/  /' "$POLICY"
say "  Mail from bank.example must come over TLSv1.2 or better; anything else is deferred"
say "  (default_action = defer), so the sender retries. Everything else is only recorded."
start_all log_level=info
say ""
say "Postfix listens on 127.0.0.1:$SMTP_PORT, tlsguard on 127.0.0.1:$TG_PORT, database $DB."

# dialogue: the last swaks run as client (C:) and server (S:) lines; a multi-line reply
# shows its first line, the message text only its size.
dialogue() {
    tr -d '\r' <"$E2E/last.txt" | awk '
        /^=== TLS started with cipher / {
            split($NF, t, ":"); printf "     (TLS started: %s, %s, %s bits)\n", t[1], t[2], t[3]; next }
        /^ *(->|~>) / {
            sub(/^ *(->|~>) +/, "")
            if ($0 ~ /^[0-9]+ lines sent$/) print "  C: [the message, " $1 " lines]"
            else print "  C: " $0
            next }
        /^ *<[-~*]+ +[2-5][0-9][0-9]-/ { if (!more++) first = $0; next }
        /^ *<[-~*]+ +[2-5][0-9][0-9] / {
            if (more) { $0 = first; sub(/^ *<[-~*]+ +/, ""); print "  S: " $0 " [+" more " lines]" }
            else { sub(/^ *<[-~*]+ +/, ""); print "  S: " $0 }
            more = 0 }'
}

heading "1. alice@bank.example sends over STARTTLS"
send_mail --tls --from alice@bank.example --to bob@example.org --suppress-data \
    --header "Subject: tlsguard demo over TLS" || fail "the message over STARTTLS was not accepted"
dialogue
qid=$(last_queue_id)
f=$(wait_for_delivery "tlsguard demo over TLS")
say ""
say "  Accepted as $qid and delivered, with the header tlsguard added:"
say "  X-TLS-Policy: $(header_values "$f" X-TLS-Policy)"

heading "2. alice@bank.example sends in plaintext"
send_mail --from alice@bank.example --to bob@example.org --suppress-data &&
    fail "the plaintext message was accepted"
dialogue
say ""
say "  Deferred at MAIL FROM with the rule and the reason: a real sender would retry later,"
say "  and the message never enters the queue."

# The recorder commits within a second; wait for both sessions and the hit.
sql "SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL HAVING count(*) >= 2" >/dev/null
sql "SELECT 1 FROM policy_hits" >/dev/null

heading "3. tlsguard stats -c $CONF"
"$TLSGUARD" stats -c "$CONF" | sed 's/^/  /'

heading "4. The policy_hits view"
q="SELECT at, client_addr, tls_version, mail_from, rule, reason, action FROM policy_hits"
say "  sqlite3 -header -column $DB \\"
say "    '$q'"
say ""
sqlite3 -header -column "$DB" "$q" | sed 's/^/  /'

say ""
say "More: tlsguard stats --json / --prometheus, the queries in contrib/queries/, and the"
say "roll-out plan in contrib/postfix/README.md. Stopping Postfix and tlsguard, removing $E2E."
