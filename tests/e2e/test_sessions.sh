#!/bin/bash
# SPDX-License-Identifier: MIT
# Built-in defaults (no policy file): everything is recorded, nothing refused. One sessions row
# per connection with the TLS facts (NULLs without TLS), also for a connection that sent no
# mail; messages/recipients rows; the X-TLS-Policy header; schema version and WAL mode.
. "$(dirname "$0")/lib.sh"
e2e_init
start_all policy=-

# session_row HELO: the TLS columns of the session that used HELO.
tls_cols="tls_version, cipher, cipher_bits, cert_subject, cert_issuer, cert_verified, messages"
session_is() {
    sql_is "SELECT $tls_cols FROM sessions WHERE helo = '$1'" "$2" "$1: sessions row ($2)"
}

# --- plaintext
send_mail --helo plain.tlsguard.test --from plain@x.example --to r@y.example \
    --header "Subject: sessions-plain" || fail "plaintext mail refused"
expect_reply 250 "queued as" "plaintext: accepted"
qid=$(last_queue_id)
f=$(wait_for_delivery sessions-plain)
[ "$(header_values "$f" X-TLS-Policy)" = "none tls=none rule=-" ] ||
    fail "plaintext: X-TLS-Policy is '$(header_values "$f" X-TLS-Policy)', want 'none tls=none rule=-'"
pass "plaintext: delivered with X-TLS-Policy: none tls=none rule=-"
session_is plain.tlsguard.test "NULL|NULL|NULL|NULL|NULL|NULL|1"
sql_is "SELECT client_addr, client_port > 0, client_name, ended_at IS NOT NULL FROM sessions
        WHERE helo = 'plain.tlsguard.test'" "127.0.0.1|1|localhost|1" \
    "plaintext: client address, port, name and end time recorded"
sql_is "SELECT queue_id, mail_from, rule, level, verdict, reason, action, outcome FROM messages
        WHERE mail_from = 'plain@x.example'" "$qid|plain@x.example|NULL|NULL|none|NULL|accept|accepted" \
    "plaintext: messages row (queue id $qid, verdict none, action accept, outcome accepted)"
sql_is "SELECT r.rcpt, r.rule, r.verdict, r.action FROM recipients r JOIN messages m ON m.id = r.message_id
        WHERE m.mail_from = 'plain@x.example'" "r@y.example|NULL|none|accept" \
    "plaintext: recipients row"
expect_log "plaintext: decision logged" "from=<plain@x.example>" "tls=none" "verdict=none" "action=accept"

# --- STARTTLS, TLSv1.3 and TLSv1.2
send_mail --helo tls13.tlsguard.test --tls --tls-protocol tlsv1_3 --from tls13@x.example \
    --to r@y.example --header "Subject: sessions-tls13" || fail "TLSv1.3 mail refused"
expect_tls TLSv1.3
f=$(wait_for_delivery sessions-tls13)
want="none tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=-"
[ "$(header_values "$f" X-TLS-Policy)" = "$want" ] ||
    fail "TLSv1.3: X-TLS-Policy is '$(header_values "$f" X-TLS-Policy)', want '$want'"
pass "TLSv1.3: X-TLS-Policy: $want"
session_is tls13.tlsguard.test "TLSv1.3|TLS_AES_256_GCM_SHA384|256|NULL|NULL|0|1"
expect_log "TLSv1.3: decision logged with the TLS facts" "from=<tls13@x.example>" "tls=TLSv1.3" \
    "cipher=TLS_AES_256_GCM_SHA384" "bits=256"

send_mail --helo tls12.tlsguard.test --tls --tls-protocol tlsv1_2 --from tls12@x.example \
    --to r@y.example --header "Subject: sessions-tls12" || fail "TLSv1.2 mail refused"
expect_tls TLSv1.2
wait_for_delivery sessions-tls12 >/dev/null
session_is tls12.tlsguard.test "TLSv1.2|ECDHE-RSA-AES256-GCM-SHA384|256|NULL|NULL|0|1"

# --- a connection that sends no mail still gets its row
send_mail --helo nomail.tlsguard.test --quit-after EHLO || true
session_is nomail.tlsguard.test "NULL|NULL|NULL|NULL|NULL|NULL|0"

# --- whole-table facts
sql_is "SELECT count(*) FROM messages" 3 "exactly one messages row per transaction"
sql_is "SELECT count(*) FROM policy_hits" 0 "no policy hits without a policy"
sql_is "SELECT count(*) FROM sessions WHERE started_at GLOB
        '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9]'
        AND julianday(ended_at) >= julianday(started_at)
        AND julianday('now') - julianday(started_at) < 1.0/24" \
    "$(sql "SELECT count(*) FROM sessions")" "timestamps are UTC 'YYYY-MM-DD HH:MM:SS.SSS' and usable by date functions"
migrations=$(find "$REPO/schema" -name '[0-9]*.sql' | wc -l)
sql_is "PRAGMA user_version" "$migrations" "schema version $migrations (all migrations applied)"
sql_is "PRAGMA journal_mode" wal "database in WAL mode"

# --- stats reads the same database
out=$("$TLSGUARD" stats -c "$CONF" 2>&1) || fail "tlsguard stats failed: $out"
grep -qF TLSv1.3 <<<"$out" || fail "tlsguard stats does not mention TLSv1.3: $out"
pass "tlsguard stats runs and reports protocol versions"

# --- STARTTLS and EHLO, then QUIT: Postfix sent the TLS macros with the second EHLO
send_mail --helo nomailtls.tlsguard.test --tls --quit-after EHLO || true
sql_is "SELECT tls_version, messages, ended_at IS NOT NULL FROM sessions WHERE helo = 'nomailtls.tlsguard.test'" \
    "TLSv1.3|0|1" "STARTTLS, EHLO, QUIT: row with TLS facts and no messages"
