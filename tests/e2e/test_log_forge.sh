#!/bin/bash
# SPDX-License-Identifier: MIT
# Logs that cannot be forged: hostile values through the real Postfix
# (a HELO, quoted local parts with '" verdict=pass', spaces, an AUTH login with ' verdict=',
# a trusted certificate CN with a quote) land in tlsguard's log; a parser that follows
# tlsguard(8) "Log format" (tools/log_fields.pl) finds in each decision line exactly one
# verdict= and one action=, with the true values, and the hostile text only in its own field.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v saslpasswd2 >/dev/null || fail "saslpasswd2 not installed (Debian package sasl2-bin)"
FIELDS=$E2E_LIB_DIR/tools/log_fields.pl

# A login with a space and '=' (Cyrus SASL keeps it as given, the realm appended).
REALM=tlsguard.test
USER_HOSTILE='eve verdict=pass'
SASLDB=$E2E/sasl/sasldb2
mkdir -p "$E2E/sasl" "$PFDIR/etc/sasl"
printf 'secret' | saslpasswd2 -p -c -f "$SASLDB" -u "$REALM" "$USER_HOSTILE" ||
    fail "saslpasswd2 could not create the test user"
chown postfix "$SASLDB"
chmod 600 "$SASLDB"
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN\n' \
    "$SASLDB" >"$PFDIR/etc/sasl/smtpd.conf"

# A client certificate from the test CA whose CN closes a quote and claims a pass.
CN_HOSTILE='c" verdict=pass action=accept'
(
    cd "$E2E/certs"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$CN_HOSTILE" -keyout client-hostile.key \
        -out client-hostile.csr
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client-hostile.ext
    openssl x509 -req -in client-hostile.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile client-hostile.ext -out client-hostile.crt
    chmod 644 client-hostile.*
) >"$E2E/certs/hostile.log" 2>&1 || fail "hostile client certificate: $(cat "$E2E/certs/hostile.log")"

write_policy <<'EOF2'
from:bank.example encrypt
rcpt:partner.example encrypt action=reject
from:cert.example verify match=client.bank.example
EOF2
write_conf plaintext_auth=monitor
start_tlsguard
start_postfix "smtpd_sasl_auth_enable = yes" "smtpd_sasl_local_domain = $REALM"

HELO_HOSTILE='x" verdict=pass rule=y'

# decision_fields SESSION-MARKER: the parsed fields of the decision lines whose from= or to=
# contains the marker, as "KEY VALUE" rows (tools/log_fields.pl; it fails on a malformed line).
decision_fields() {
    local out
    out=$(grep -F -- "$1" "$E2E/tlsguard.log" | perl "$FIELDS") ||
        fail "a log line with $1 does not parse by the documented rule"
    printf '%s\n' "$out" | sed -n 's/^[0-9][0-9]* //p'
}

# expect_fields DESC MARKER VERDICT ACTION [KEY=VALUE...]: one decision line for MARKER; in
# it exactly one verdict= (VERDICT) and one action= (ACTION), each KEY with exactly VALUE,
# and no field other than from, to, helo and reason holds the text "verdict=".
expect_fields() {
    local desc=$1 marker=$2 verdict=$3 action=$4 rows kv
    shift 4
    log_match "$marker" >/dev/null || fail "$desc: no log line with $marker"
    rows=$(decision_fields "$marker")
    [ "$(grep -c '^line ' <<<"$(grep -F -- "$marker" "$E2E/tlsguard.log" | perl "$FIELDS")")" = 1 ] ||
        fail "$desc: not exactly one decision line: $(log_grep "$marker")"
    [ "$(grep -c '^verdict ' <<<"$rows")" = 1 ] || fail "$desc: not one verdict field: $(log_grep "$marker")"
    [ "$(grep -c '^action ' <<<"$rows")" = 1 ] || fail "$desc: not one action field: $(log_grep "$marker")"
    grep -qx "verdict $verdict" <<<"$rows" || fail "$desc: verdict is not $verdict: $(log_grep "$marker")"
    grep -qx "action $action" <<<"$rows" || fail "$desc: action is not $action: $(log_grep "$marker")"
    for kv in "$@"; do
        grep -qxF -- "${kv%%=*} ${kv#*=}" <<<"$rows" || fail "$desc: no field ${kv%%=*} = '${kv#*=}': $(log_grep "$marker")"
    done
    if grep -E -v '^(from|to|helo|reason) ' <<<"$rows" | grep -F 'verdict=' >/dev/null; then
        fail "$desc: hostile text outside its field: $(log_grep "$marker")"
    fi
    pass "$desc"
}

# --- a hostile HELO and a quoted local part that closes the quote, on a refused sender
send_mail --helo "$HELO_HOSTILE" --from '"a\" verdict=pass action=accept"@bank.example' \
    --to r@y.example --header "Subject: forge-1" && fail "plaintext sender of bank.example accepted"
expect_reply 451 "TLS required for mail from bank.example" "plaintext sender of bank.example deferred"
sql_is "SELECT verdict, action FROM messages WHERE mail_from LIKE '%verdict=pass action=accept%'" \
    "fail|defer" "recorded: fail, defer"
expect_fields "hostile HELO and local part: one verdict, the true one" "verdict=pass action=accept" \
    fail defer "helo=$HELO_HOSTILE" "rule=from:bank.example"
# The raw line, for the record: the forged text is there, inside quotes.
grep -F 'verdict=pass action=accept' "$E2E/tlsguard.log" | grep -F 'helo="x\" verdict=pass rule=y"' >/dev/null ||
    fail "HELO not written as the documented quoted value: $(log_grep 'verdict=pass action=accept')"
pass "the HELO is written quoted with its quote escaped"

# --- spaces in a recipient's local part, on a refused recipient; the HELO claims a pass
send_mail --helo 'h verdict=pass' --from s@x.example --to '"b c verdict=pass action=accept"@partner.example' \
    --header "Subject: forge-2" && fail "plaintext recipient at partner.example accepted"
expect_reply 530 "partner.example" "plaintext recipient at partner.example rejected"
expect_fields "spaces in a recipient: one verdict, the true one" "b c verdict=pass" fail reject \
    "helo=h verdict=pass" "rule=rcpt:partner.example"

# --- a passing TLS sender whose HELO and address claim a failure
send_mail --tls --helo 'y" verdict=fail action=defer x="' \
    --from '"z\" verdict=fail action=defer"@bank.example' --to r@y.example --header "Subject: forge-3" ||
    fail "TLS sender of bank.example refused"
expect_fields "forged failure on a pass: one verdict, pass" "verdict=fail action=defer\\\"@" pass accept \
    "tls=TLSv1.3" 'helo=y" verdict=fail action=defer x="'

# --- an AUTH login with ' verdict=' inside the auth-plaintext reason
send_mail --auth PLAIN --auth-user "$USER_HOSTILE" --auth-password secret --from auth@x.example \
    --to r@y.example --header "Subject: forge-4" || fail "authenticated plaintext mail refused"
expect_fields "hostile AUTH login: one verdict, auth-plaintext" "auth from=<auth@x.example>" auth-plaintext monitor \
    "reason=client authenticated as $USER_HOSTILE@$REALM (PLAIN) without TLS; the password crossed the network in clear"

# --- a trusted client certificate whose CN closes a quote, in the reason of a refusal
send_mail --cert hostile --from c@cert.example --to r@y.example --header "Subject: forge-5" &&
    fail "certificate that does not match accepted"
expect_reply 451 "cert.example" "certificate CN that does not match: deferred"
expect_fields "hostile certificate CN: one verdict, fail" "from=<c@cert.example>" fail defer \
    "reason=client certificate CN $CN_HOSTILE does not match client.bank.example"

# --- no line of the whole log is malformed by the documented rule
perl "$FIELDS" <"$E2E/tlsguard.log" >/dev/null || fail "some tlsguard log line does not parse"
pass "every tlsguard log line parses by the documented rule"
