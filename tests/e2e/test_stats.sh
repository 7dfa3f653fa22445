#!/bin/bash
# SPDX-License-Identifier: MIT
# `tlsguard stats`: the plain text, --json and --prometheus outputs, each compared to the
# character on a database with known content, with and without --since.
#
# The content: five sessions through the real Postfix and tlsguard (plaintext accepted,
# plaintext deferred by a from: rule, TLSv1.3, TLSv1.2 with a rcpt: rule passing, plaintext
# with a rcpt: rule refusing), then rows inserted with sqlite3 into tlsguard's schema for
# what Postfix cannot produce: sessions 2 and 40 days ago (the --since window), and text
# that must be escaped - a rule with '"', '\' and a newline, a cipher with a control
# character and a byte that is not UTF-8, a client name with a tab.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt protocols=>=TLSv1.2
rcpt:legal.example encrypt action=reject
EOF2
start_all default_action=defer

send_mail --from a@plain.example --to r@y.example || fail "plaintext mail refused"
send_mail --from b@bank.example --to r@y.example && fail "plaintext from bank.example accepted"
expect_reply 451 "4.7.0 TLS required for mail from bank.example" "plaintext from bank.example: 451 4.7.0"
send_mail --tls --tls-protocol tlsv1_3 --from c@bank.example --to r@y.example || fail "TLSv1.3 refused"
expect_tls TLSv1.3
send_mail --tls --tls-protocol tlsv1_2 --from d@plain.example --to x@legal.example,r@y.example ||
    fail "TLSv1.2 to legal.example refused"
expect_tls TLSv1.2
send_mail --from e@plain.example --to x@legal.example && fail "plaintext to legal.example accepted"
expect_reply 530 "5.7.0 TLS required for mail to legal.example" "plaintext to legal.example: 530 5.7.0"
sql_is "SELECT count(*), count(ended_at), sum(messages) FROM sessions" "5|5|5" "live traffic recorded"
sql_is "SELECT count(*) FROM recipients" 5 "recipients recorded"
# Everything written: stop tlsguard, so the inserted rows cannot race the recorder.
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with $TG_RC"

sqlite3 -bail "$DB" <<'EOF' || fail "inserting rows"
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo,
                      tls_version, cipher, cipher_bits, cert_verified, messages)
VALUES (datetime('now', '-2 days'), datetime('now', '-2 days'), '192.0.2.1', 40001, 'mx.weird.example',
        'weird', 'TLSv1', 'ODD"CIPHER\' || char(1) || CAST(x'ff' AS TEXT), NULL, 0, 1);
INSERT INTO messages (session_id, at, mail_from, rule, level, verdict, reason, action, outcome)
VALUES (last_insert_rowid(), datetime('now', '-2 days'), 'q@weird.example',
        'from:we"ird\' || char(10) || 'x', 'may', 'fail', 'protocol TLSv1 not allowed', 'monitor',
        'accepted');
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES (datetime('now', '-2 days'), datetime('now', '-2 days'), '192.0.2.2', 40002,
        'tab' || char(9) || 'name', 'tab', 0);
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES (datetime('now', '-40 days'), datetime('now', '-40 days'), '203.0.113.5', 40003,
        'mail.old.example', 'old', 1);
INSERT INTO messages (session_id, at, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), datetime('now', '-40 days'), 'o@old.example', 'none', 'accept', 'accepted');
INSERT INTO recipients (message_id, at, rcpt, verdict, action)
VALUES (last_insert_rowid(), datetime('now', '-40 days'), 'r@y.example', 'none', 'accept');
EOF
pass "rows 2 and 40 days ago and text to escape inserted"

# run_stats ARGS...: `tlsguard stats -c CONF ARGS...` into $E2E/stats.out and .err; returns
# its exit status.
run_stats() {
    local rc=0
    "$TLSGUARD" stats -c "$CONF" "$@" >"$E2E/stats.out" 2>"$E2E/stats.err" || rc=$?
    return "$rc"
}

# expect_stats DESC ARGS... <<'EOF': exits 0, nothing on stderr, stdout exactly the text on
# stdin with @DB@ = the database path, @SOH@ = byte 0x01, @FFFD@ = U+FFFD in UTF-8.
expect_stats() {
    local desc=$1 want rc=0
    shift
    want=$(sed -e "s|@DB@|$DB|g" -e "s/@SOH@/$(printf '\001')/g" -e "s/@FFFD@/$(printf '\357\277\275')/g")
    run_stats "$@" || rc=$?
    [ "$rc" = 0 ] || fail "$desc: exit status $rc: $(cat "$E2E/stats.err")"
    [ ! -s "$E2E/stats.err" ] || fail "$desc: stderr: $(cat "$E2E/stats.err")"
    if [ "$(cat "$E2E/stats.out")" != "$want" ]; then
        diff -u <(printf '%s\n' "$want") "$E2E/stats.out" >&2 || true
        fail "$desc"
    fi
    pass "$desc"
}

# Live: sessions 1-5 (127.0.0.1; 1, 2 and 5 plaintext), one transaction each; sender side
# none, fail/defer (bank.example), pass, none, none; recipients none, none, pass + none,
# fail/reject. Inserted: TLSv1 with a monitor hit (2 days ago), plaintext without mail (2 days
# ago), plaintext with one accepted transaction (40 days ago).

# Nothing is ever pruned (retention_days = 0): over all records the Prometheus families are
# counters. (The default retention is checked further down.)
write_conf default_action=defer retention_days=0

# --- plain text: the format as before; text from the database shows '?' for unsafe bytes.
# Ciphers and policy hits are the same with --since 30.
text_middle=$(cat <<'EOF'
by cipher (top 10):
  cipher                      bits sessions
  ECDHE-RSA-AES256-GCM-SHA384 256  1
  ODD"CIPHER\??               ?    1
  TLS_AES_256_GCM_SHA384      256  1

policy hits (top 10):
  rule               action  hits
  from:bank.example  defer   1
  from:we"ird\?x     monitor 1
  rcpt:legal.example reject  1
EOF
)
expect_stats "text, all records" <<EOF
tlsguard statistics from $DB (all records)

sessions:
  sessions with_tls tls_share messages
  8        3        37.5%     7

by protocol version:
  version sessions share
  none    5        62.5%
  TLSv1   1        12.5%
  TLSv1.2 1        12.5%
  TLSv1.3 1        12.5%

$text_middle

plaintext peers (top 10):
  client_addr client_name      sessions
  127.0.0.1   localhost        3
  192.0.2.2   tab?name         1
  203.0.113.5 mail.old.example 1
EOF

# --- JSON: every string escaped ('"', '\', control characters as \u00XX), non-UTF-8 as U+FFFD
expect_stats "--json, all records" --json <<'EOF'
{
  "database": "@DB@",
  "since_days": null,
  "sessions": 8,
  "with_tls": 3,
  "tls_share": 0.3750,
  "messages": 7,
  "plaintext_peer_count": 3,
  "by_version": [
    {"version": "none", "sessions": 5},
    {"version": "TLSv1", "sessions": 1},
    {"version": "TLSv1.2", "sessions": 1},
    {"version": "TLSv1.3", "sessions": 1}
  ],
  "by_cipher": [
    {"cipher": "ECDHE-RSA-AES256-GCM-SHA384", "bits": 256, "sessions": 1},
    {"cipher": "ODD\"CIPHER\\\u0001@FFFD@", "bits": null, "sessions": 1},
    {"cipher": "TLS_AES_256_GCM_SHA384", "bits": 256, "sessions": 1}
  ],
  "policy_hits": [
    {"rule": "from:bank.example", "action": "defer", "hits": 1},
    {"rule": "from:we\"ird\\\nx", "action": "monitor", "hits": 1},
    {"rule": "rcpt:legal.example", "action": "reject", "hits": 1}
  ],
  "plaintext_peers": [
    {"client_addr": "127.0.0.1", "client_name": "localhost", "sessions": 3},
    {"client_addr": "192.0.2.2", "client_name": "tab\u0009name", "sessions": 1},
    {"client_addr": "203.0.113.5", "client_name": "mail.old.example", "sessions": 1}
  ],
  "verdicts": {
    "sender": {"fail": 2, "none": 4, "pass": 1},
    "rcpt": {"fail": 1, "none": 4, "pass": 1}
  },
  "actions": {
    "sender": {"accept": 5, "defer": 1, "monitor": 1},
    "rcpt": {"accept": 5, "reject": 1}
  }
}
EOF
# A JSON parser (perl's core JSON::PP) reads it and gets the original text back.
perl -MJSON::PP -e '
    local $/;
    my $d = JSON::PP->new->utf8->decode(<STDIN>);
    my %want = (
        cipher => ["ODD\"CIPHER\\\x{1}\x{FFFD}", $d->{by_cipher}[1]{cipher}],
        rule   => ["from:we\"ird\\\nx", $d->{policy_hits}[1]{rule}],
        name   => ["tab\tname", $d->{plaintext_peers}[1]{client_name}],
        share  => [0.375, $d->{tls_share}],
        bits   => ["undef", $d->{by_cipher}[1]{bits} // "undef"],
    );
    for (sort keys %want) {
        my ($w, $g) = @{$want{$_}};
        die "$_: got <$g>, want <$w>\n" unless $g eq $w;
    }' <"$E2E/stats.out" || fail "--json: JSON::PP decodes other values than recorded"
pass "--json: JSON::PP decodes the escaped strings to the recorded text"

# --- Prometheus text format: HELP/TYPE per family; label values escape '\', '"' and newline
# only (the format has no other escapes; 0x01 stays as is)
expect_stats "--prometheus, all records" --prometheus <<'EOF'
# HELP tlsguard_sessions_total SMTP sessions recorded.
# TYPE tlsguard_sessions_total counter
tlsguard_sessions_total 8
# HELP tlsguard_sessions_tls_total SMTP sessions that used TLS.
# TYPE tlsguard_sessions_tls_total counter
tlsguard_sessions_tls_total 3
# HELP tlsguard_sessions_tls_ratio Share of SMTP sessions that used TLS (0 to 1).
# TYPE tlsguard_sessions_tls_ratio gauge
tlsguard_sessions_tls_ratio 0.3750
# HELP tlsguard_messages_total Transactions (MAIL FROM) recorded.
# TYPE tlsguard_messages_total counter
tlsguard_messages_total 7
# HELP tlsguard_plaintext_peers Client addresses with SMTP sessions without TLS.
# TYPE tlsguard_plaintext_peers gauge
tlsguard_plaintext_peers 3
# HELP tlsguard_sessions_by_version_total SMTP sessions by TLS protocol version (none: no TLS).
# TYPE tlsguard_sessions_by_version_total counter
tlsguard_sessions_by_version_total{version="none"} 5
tlsguard_sessions_by_version_total{version="TLSv1"} 1
tlsguard_sessions_by_version_total{version="TLSv1.2"} 1
tlsguard_sessions_by_version_total{version="TLSv1.3"} 1
# HELP tlsguard_sessions_by_cipher_total SMTP sessions with TLS by cipher and key size.
# TYPE tlsguard_sessions_by_cipher_total counter
tlsguard_sessions_by_cipher_total{cipher="ECDHE-RSA-AES256-GCM-SHA384",bits="256"} 1
tlsguard_sessions_by_cipher_total{cipher="ODD\"CIPHER\\@SOH@@FFFD@",bits="unknown"} 1
tlsguard_sessions_by_cipher_total{cipher="TLS_AES_256_GCM_SHA384",bits="256"} 1
# HELP tlsguard_decisions_total Policy decisions by side (sender: per transaction, rcpt: per recipient), verdict and action.
# TYPE tlsguard_decisions_total counter
tlsguard_decisions_total{side="sender",verdict="fail",action="defer"} 1
tlsguard_decisions_total{side="sender",verdict="fail",action="monitor"} 1
tlsguard_decisions_total{side="sender",verdict="none",action="accept"} 4
tlsguard_decisions_total{side="sender",verdict="pass",action="accept"} 1
tlsguard_decisions_total{side="rcpt",verdict="fail",action="reject"} 1
tlsguard_decisions_total{side="rcpt",verdict="none",action="accept"} 4
tlsguard_decisions_total{side="rcpt",verdict="pass",action="accept"} 1
# HELP tlsguard_policy_hits_total Failed requirements by rule and action.
# TYPE tlsguard_policy_hits_total counter
tlsguard_policy_hits_total{rule="from:bank.example",action="defer"} 1
tlsguard_policy_hits_total{rule="from:we\"ird\\\nx",action="monitor"} 1
tlsguard_policy_hits_total{rule="rcpt:legal.example",action="reject"} 1
EOF

# With retention (the default: 365 days) old rows are pruned and the numbers fall: gauges.
cp "$E2E/stats.out" "$E2E/stats.counters"
write_conf default_action=defer
run_stats --prometheus || fail "--prometheus with retention: exit status $?"
sed '/^# TYPE/s/ counter$/ gauge/' "$E2E/stats.counters" | diff -u - "$E2E/stats.out" >&2 ||
    fail "--prometheus with retention_days = 365: not the same values typed gauge"
pass "--prometheus with retention_days = 365: the same values, typed gauge"

# --- --since 30 leaves out the session 40 days ago, in all three outputs
expect_stats "text, --since 30" --since 30 <<EOF
tlsguard statistics from $DB (30 days)

sessions:
  sessions with_tls tls_share messages
  7        3        42.9%     6

by protocol version:
  version sessions share
  none    4        57.1%
  TLSv1   1        14.3%
  TLSv1.2 1        14.3%
  TLSv1.3 1        14.3%

$text_middle

plaintext peers (top 10):
  client_addr client_name sessions
  127.0.0.1   localhost   3
  192.0.2.2   tab?name    1
EOF

run_stats --json --since 30 || fail "--json --since 30: exit status $?"
perl -MJSON::PP -e '
    local $/;
    my $d = JSON::PP->new->utf8->decode(<STDIN>);
    my $got = join " ", map { $_ // "null" } $d->{since_days}, $d->{sessions}, $d->{with_tls},
        $d->{tls_share}, $d->{messages}, $d->{plaintext_peer_count},
        scalar @{$d->{plaintext_peers}}, $d->{by_version}[0]{sessions},
        $d->{verdicts}{sender}{none}, $d->{verdicts}{rcpt}{none},
        $d->{actions}{sender}{accept}, $d->{actions}{rcpt}{accept};
    my $want = "30 7 3 0.4286 6 2 2 4 3 3 4 4";
    die "got $got, want $want\n" unless $got eq $want;' <"$E2E/stats.out" ||
    fail "--json --since 30: $(cat "$E2E/stats.out")"
pass "--json --since 30: since_days 30, 7 sessions, 6 messages, 2 plaintext peers"

# Over a window the numbers also fall: the families become gauges.
run_stats --prometheus --since 30 || fail "--prometheus --since 30: exit status $?"
for line in "# TYPE tlsguard_sessions_total gauge" "tlsguard_sessions_total 7" \
    "tlsguard_sessions_tls_ratio 0.4286" "tlsguard_messages_total 6" "tlsguard_plaintext_peers 2" \
    "# TYPE tlsguard_sessions_by_version_total gauge" \
    'tlsguard_sessions_by_version_total{version="none"} 4' \
    "# TYPE tlsguard_decisions_total gauge" \
    'tlsguard_decisions_total{side="sender",verdict="none",action="accept"} 3' \
    'tlsguard_decisions_total{side="rcpt",verdict="none",action="accept"} 3' \
    "# TYPE tlsguard_policy_hits_total gauge"; do
    grep -qxF -- "$line" "$E2E/stats.out" || fail "--prometheus --since 30: no line '$line'"
done
[ "$(grep -c '^# TYPE .* counter$' "$E2E/stats.out")" = 0 ] ||
    fail "--prometheus --since 30: counters over a sliding window"
pass "--prometheus --since 30: the window's values, typed gauge"

# --- usage errors and failures: exit status, and no partial document on stdout
for args in "--json --prometheus" "--since 0" "--since 7x" "--json extra"; do
    rc=0
    # shellcheck disable=SC2086 # the words are the arguments
    run_stats $args || rc=$?
    [ "$rc" = 1 ] || fail "stats $args: exit status $rc, want 1 (usage)"
    grep -qF "usage: tlsguard stats" "$E2E/stats.err" || fail "stats $args: no usage line"
done
pass "usage errors exit 1: --json with --prometheus, --since 0, --since 7x, extra argument"

sqlite3 "$E2E/other.db" "CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at TEXT)" ||
    fail "creating other.db"
write_conf "database=$E2E/other.db"
for fmt in --json --prometheus; do
    rc=0
    run_stats "$fmt" || rc=$?
    [ "$rc" = 2 ] || fail "stats $fmt on a database without tlsguard's schema: exit $rc, want 2"
    [ ! -s "$E2E/stats.out" ] || fail "stats $fmt: partial output on failure: $(cat "$E2E/stats.out")"
    grep -qF "no such column" "$E2E/stats.err" || fail "stats $fmt: error not shown: $(cat "$E2E/stats.err")"
done
pass "a failing query: exit 2, the error on stderr, nothing on stdout"
