#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP: a broken policy (or config) is refused and logged with file:line, and the old policy
# stays in force; a fixed policy then takes effect. default_action is reloadable too.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt action=reject
EOF2
start_all default_action=defer

try_bank() { # N: plaintext mail from bank.example
    send_mail --from "r$1@bank.example" --to r@y.example --header "Subject: reload-$1" || true
}

try_bank 1
expect_reply 530 "5.7.0 TLS required for mail from bank.example (rule from:bank.example)" \
    "initial policy: plaintext from bank.example rejected"

# --- broken policy: two errors; the old policy must stay
write_policy <<'EOF2'
from:bank.example may
from:bank.example encrypt colour=blue
frm:other.example encrypt
EOF2
reload_tlsguard
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died on SIGHUP with a broken policy"
pass "tlsguard survives SIGHUP with a broken policy"
expect_log "broken policy: error logged with file:line (line 2)" "$POLICY:2:" "error"
expect_log "broken policy: every error logged (line 3)" "$POLICY:3:" "error"
try_bank 2
expect_reply 530 "5.7.0 TLS required for mail from bank.example (rule from:bank.example)" \
    "broken policy: old policy still in force"

# --- fixed policy
write_policy <<'EOF2'
from:bank.example may
EOF2
reload_tlsguard
try_bank 3
expect_reply 250 "queued as" "fixed policy: plaintext from bank.example accepted"
f=$(wait_for_delivery reload-3)
expect_header "$f" "pass tls=none rule=from:bank.example" "fixed policy in force"

# --- a rule without action= follows default_action, which a reload changes
write_policy <<'EOF2'
from:bank.example encrypt
EOF2
reload_tlsguard
try_bank 4
expect_reply 451 "4.7.0 TLS required for mail from bank.example (rule from:bank.example): session was not encrypted" \
    "default_action = defer after reload"
write_conf default_action=reject
reload_tlsguard
try_bank 5
expect_reply 530 "5.7.0 TLS required for mail from bank.example (rule from:bank.example): session was not encrypted" \
    "default_action = reject after reload"

# --- broken config: refused, old config and policy kept
write_conf default_action=defer nosuchkey=1
reload_tlsguard
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died on SIGHUP with a broken config"
expect_log "broken config: error logged with file:line" "$CONF:" "nosuchkey"
try_bank 6
expect_reply 530 "5.7.0" "broken config: old default_action (reject) still in force"

# --- policy file gone: refused, old policy kept
write_conf default_action=reject
rm -f "$POLICY"
reload_tlsguard
try_bank 7
expect_reply 530 "5.7.0" "missing policy file: old policy still in force"
expect_log "missing policy file: error logged" "$POLICY" "error"

sql_is "SELECT mail_from, action FROM messages ORDER BY id" \
    "r1@bank.example|reject
r2@bank.example|reject
r3@bank.example|accept
r4@bank.example|defer
r5@bank.example|reject
r6@bank.example|reject
r7@bank.example|reject" "every decision recorded with the policy in force at the time"
