#!/bin/bash
# SPDX-License-Identifier: MIT
# Retention: records older than retention_days are pruned by the daemon, in batches off the
# callback path, and the freed pages go back to the file system (incremental vacuum), so the
# database does not grow without bound. The clock is pinned with faketime: tlsguard records
# "old" traffic through the real Postfix while it believes it is 100 days ago, then runs on
# the real clock with retention_days = 30.
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || fail "faketime not installed (tests/run.sh installs it)"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt
EOF2

real=$TLSGUARD
old_day=$(date -u -d '100 days ago' '+%Y-%m-%d')
TLSGUARD=$(faketime_wrapper "$real" "@$old_day 12:00:00" tlsguard-100-days-ago)

# --- 100 days ago: two sessions, one policy hit
start_all retention_days=30
send_mail --from a@x.example --to r@y.example --header "Subject: old-1" || fail "old mail refused"
send_mail --from p@bank.example --to r@y.example && fail "plaintext from bank.example accepted"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard (pinned clock) exited with $TG_RC"
sql_is "SELECT count(*), min(substr(started_at, 1, 10)) FROM sessions" "2|$old_day" \
    "pinned clock: 2 sessions recorded on $old_day"
sql_is "SELECT count(*) FROM policy_hits" 1 "pinned clock: 1 policy hit recorded"

# Bulk: 20000 more old sessions with a message and a recipient each, inserted directly (the
# daemon created the schema), so that pruning has pages to give back.
sqlite3 "$DB" <<EOF2 || fail "bulk insert"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO sessions(id, started_at, ended_at, client_addr, helo, messages)
SELECT 1000 + i, '$old_day 13:00:00.000', '$old_day 13:00:01.000', '192.0.2.1',
       'bulk-' || i || '-' || hex(randomblob(40)), 1 FROM n;
INSERT INTO messages(id, session_id, at, mail_from, verdict, action, outcome)
SELECT id, id, started_at, 'bulk@x.example', 'none', 'accept', 'accepted' FROM sessions WHERE id > 1000;
INSERT INTO recipients(message_id, at, rcpt, verdict, action)
SELECT id, at, 'r@y.example', 'none', 'accept' FROM messages WHERE id > 1000;
EOF2
pages_before=$(sqlite3 "$DB" 'PRAGMA page_count')
info "database: $pages_before pages before pruning"

# --- today, real clock: the daemon prunes at start
TLSGUARD=$real
start_tlsguard
send_mail --from a@x.example --to r@y.example --header "Subject: new-1" || fail "new mail refused"
log_match "retention:" "20002 sessions older than" "retention_days=30" >/dev/null ||
    fail "no retention log line counting 20002 pruned sessions"
pass "retention: the log counts 20002 pruned sessions"
sql_is "SELECT count(*), sum(substr(started_at, 1, 10) = '$old_day') FROM sessions" "1|0" \
    "old sessions pruned, today's kept"
sql_is "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM recipients)" "1|1" \
    "their messages and recipients pruned too"
sql_is "SELECT count(*) FROM policy_hits" 0 "old policy hits gone"
sql_is "PRAGMA freelist_count" 0 "no free pages left in the file (incremental vacuum)"
pages_after=$(sqlite3 "$DB" 'PRAGMA page_count')
[ "$pages_after" -lt $((pages_before / 4)) ] ||
    fail "database did not shrink: $pages_before -> $pages_after pages"
pass "database shrank from $pages_before to $pages_after pages"
sql_is "PRAGMA integrity_check" ok "database intact"

# --- retention_days = 0 keeps everything
stop_tlsguard
sqlite3 "$DB" "INSERT INTO sessions(id, started_at, messages) VALUES (99999, '$old_day 00:00:00.000', 0)"
write_conf retention_days=0
start_tlsguard
sleep 2
sql_is "SELECT count(*) FROM sessions WHERE id = 99999" 1 "retention_days = 0 keeps old records"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with $TG_RC"
pass "SIGTERM: exit 0"
