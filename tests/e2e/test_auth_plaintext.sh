#!/bin/bash
# SPDX-License-Identifier: MIT
# Plaintext SMTP AUTH: Postfix with Cyrus SASL and a private sasldb. A client that
# authenticates without TLS gets the verdict auth-plaintext with the action of plaintext_auth:
# monitor by default (accepted, recorded with the login), defer (451 4.7.11), reject (530
# 5.7.11), tag (header), off. AUTH after STARTTLS, no AUTH, and a failed AUTH give none. The
# stronger of a rule's decision and this one wins; mode=monitor refuses nothing.
. "$(dirname "$0")/lib.sh"
e2e_init
command -v saslpasswd2 >/dev/null || fail "saslpasswd2 not installed (Debian package sasl2-bin)"

# Cyrus SASL for Postfix's smtpd: a private sasldb read through the auxprop plugin, which
# appends the realm to the login. Debian's Postfix reads smtpd.conf from
# $config_directory/sasl (its patch 07_sasl_config ignores cyrus_sasl_config_path); smtpd runs
# as the postfix user here.
REALM=tlsguard.test
LOGIN=alice@$REALM
SASLDB=$E2E/sasl/sasldb2
mkdir -p "$E2E/sasl" "$PFDIR/etc/sasl"
printf 'secret' | saslpasswd2 -p -c -f "$SASLDB" -u "$REALM" alice ||
    fail "saslpasswd2 could not create the test user"
chown postfix "$SASLDB"
chmod 600 "$SASLDB"
cat >"$PFDIR/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDB
mech_list: PLAIN LOGIN CRAM-MD5
EOF

write_policy <<'EOF2'
from:may.example may
from:tag.example encrypt action=tag
from:strict.example encrypt action=reject
EOF2
write_conf
start_tlsguard
start_postfix "smtpd_sasl_auth_enable = yes" "smtpd_sasl_local_domain = $REALM"

auth() { # MECH [PASSWORD]: swaks arguments for AUTH as alice
    echo --auth "$1" --auth-user alice --auth-password "${2:-secret}"
}
message_is() { # MAIL-FROM WANT DESC: verdict|reason|action|outcome of that sender's message
    sql_is "SELECT verdict, reason, action, outcome FROM messages WHERE mail_from = '$1'" "$2" "$3"
}
reconf() { # KEY=VALUE...: new configuration, reloaded
    write_conf "$@"
    reload_tlsguard
}
PLAIN_REASON="client authenticated as $LOGIN (PLAIN) without TLS; the password crossed the network in clear"
LOGIN_REASON="client authenticated as $LOGIN (LOGIN) without TLS; the password crossed the network in clear"
reply_text() { # MECH WHAT
    echo "Encryption required for requested authentication mechanism: AUTH $1 was used without TLS, so $2 crossed the network in clear; use STARTTLS before AUTH"
}

# --- the configuration as understood
out=$("$TLSGUARD" check -c "$CONF" 2>&1) || fail "tlsguard check: $out"
grep -qx "plaintext_auth = monitor" <<<"$out" || fail "check does not show plaintext_auth = monitor: $out"
pass "check: plaintext_auth = monitor by default"
for v in off tag defer reject; do
    write_conf "plaintext_auth=$v"
    out=$("$TLSGUARD" check -c "$CONF" 2>&1) || fail "tlsguard check with plaintext_auth=$v: $out"
    grep -qx "plaintext_auth = $v" <<<"$out" || fail "check does not show plaintext_auth = $v: $out"
done
pass "check: plaintext_auth = off, tag, defer, reject as understood"
write_conf plaintext_auth=quarantine
rc=0
out=$("$TLSGUARD" check -c "$CONF" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "check accepted plaintext_auth = quarantine (exit $rc)"
grep -qF "$CONF:7: error: bad value 'quarantine' for plaintext_auth: expected off, monitor, tag, defer or reject" <<<"$out" ||
    fail "check: no error for plaintext_auth = quarantine: $out"
pass "check: plaintext_auth = quarantine is an error naming file, line and the values"
write_conf

# --- default (monitor): accepted, recorded and logged with the login; the header has no login
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@plain.example --to r@y.example --header "Subject: auth-monitor" ||
    fail "monitor: refused"
expect_reply 235 "Authentication successful" "monitor: AUTH PLAIN without TLS succeeded (the setup works)"
expect_reply 250 "queued as" "monitor: accepted"
f=$(wait_for_delivery auth-monitor)
expect_header "$f" "auth-plaintext tls=none rule=-" "monitor: header (no login in it)"
message_is a@plain.example "auth-plaintext|$PLAIN_REASON|monitor|accepted" "monitor: messages row names the login"
sql_is "SELECT tls_version FROM sessions WHERE id = (SELECT session_id FROM messages WHERE mail_from = 'a@plain.example')" \
    NULL "monitor: the session had no TLS"
expect_log "monitor: log line" "auth from=<a@plain.example>" "verdict=auth-plaintext action=monitor" \
    "reason=\"$PLAIN_REASON\""

# --- defer, with AUTH LOGIN
reconf plaintext_auth=defer
# shellcheck disable=SC2046
send_mail $(auth LOGIN) --from a@login.example --to r@y.example --header "Subject: auth-defer" &&
    fail "defer: accepted"
expect_reply 451 "4.7.11 $(reply_text LOGIN 'the password')" "defer: MAIL refused with 451 4.7.11"
grep -F "451" <<<"$(replies)" | grep -qF alice && fail "defer: the login is in the reply"
pass "defer: the reply does not name the login"
message_is a@login.example "auth-plaintext|$LOGIN_REASON|defer|refused" "defer: messages row"
not_delivered auth-defer

# --- reject; CRAM-MD5 sends no password, but the exchange was still in clear
reconf plaintext_auth=reject
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@reject.example --to r@y.example && fail "reject: accepted"
expect_reply 530 "5.7.11 $(reply_text PLAIN 'the password')" "reject: MAIL refused with 530 5.7.11"
message_is a@reject.example "auth-plaintext|$PLAIN_REASON|reject|refused" "reject: messages row"
# shellcheck disable=SC2046
send_mail $(auth CRAM-MD5) --from a@cram.example --to r@y.example && fail "reject CRAM-MD5: accepted"
expect_reply 530 "5.7.11 $(reply_text CRAM-MD5 'the credentials')" "reject: CRAM-MD5 refused, 'the credentials'"

# --- the stronger decision wins: the rule's 530 5.7.0 over a defer, the auth reject over a tag
reconf plaintext_auth=defer
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@strict.example --to r@y.example && fail "strict rule: accepted"
expect_reply 530 "5.7.0 TLS required for mail from strict.example" "rule's reject beats plaintext_auth=defer"
message_is a@strict.example "fail|session was not encrypted|reject|refused" "strict rule: the rule's decision recorded"
expect_log "strict rule: the auth finding is still logged" "auth from=<a@strict.example>" "verdict=auth-plaintext action=defer"
reconf plaintext_auth=reject
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@tag.example --to r@y.example && fail "tag rule: accepted"
expect_reply 530 "5.7.11" "plaintext_auth=reject beats a rule's tag"
message_is a@tag.example "auth-plaintext|$PLAIN_REASON|reject|refused" "tag rule: the auth decision recorded"

# --- tag (header=no: the header comes from the tag alone); a passing rule still shows in it
reconf plaintext_auth=tag header=no
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@may.example --to r@y.example --header "Subject: auth-tag" || fail "tag: refused"
f=$(wait_for_delivery auth-tag)
expect_header "$f" "auth-plaintext tls=none rule=from:may.example" "tag: header with the rule that passed"
message_is a@may.example "auth-plaintext|$PLAIN_REASON|tag|tagged" "tag: messages row"

# --- mode=monitor refuses nothing
reconf plaintext_auth=reject mode=monitor
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@mode.example --to r@y.example || fail "mode=monitor: refused"
expect_reply 250 "queued as" "mode=monitor: accepted"
message_is a@mode.example "auth-plaintext|$PLAIN_REASON|monitor|accepted" "mode=monitor: action monitor"

# --- off: as before the check existed
reconf plaintext_auth=off
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@off.example --to r@y.example --header "Subject: auth-off" || fail "off: refused"
f=$(wait_for_delivery auth-off)
expect_header "$f" "none tls=none rule=-" "off: header"
message_is a@off.example "none|NULL|accept|accepted" "off: verdict none"
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@may.example --to r@y.example || fail "off, may rule: refused"
sql_is "SELECT verdict, action FROM messages WHERE mail_from = 'a@may.example' ORDER BY id DESC LIMIT 1" \
    "pass|accept" "off: a may rule passes as before"
log_has "auth from=<a@off.example>" && fail "off: an auth decision was logged"
pass "off: no auth decision logged"

# --- no auth-plaintext: AUTH after STARTTLS, no AUTH, a failed AUTH (reject, to be sure)
reconf plaintext_auth=reject
# shellcheck disable=SC2046
send_mail --tls $(auth PLAIN) --from a@tls.example --to r@y.example || fail "AUTH after STARTTLS: refused"
expect_tls TLSv1.3
expect_reply 235 "Authentication successful" "AUTH after STARTTLS succeeded"
message_is a@tls.example "none|NULL|accept|accepted" "AUTH after STARTTLS: verdict none"
send_mail --from a@noauth.example --to r@y.example || fail "no AUTH: refused"
message_is a@noauth.example "none|NULL|accept|accepted" "no AUTH in plaintext: verdict none"
# shellcheck disable=SC2046
send_mail $(auth PLAIN wrong) --from a@wrong.example --to r@y.example && fail "wrong password: accepted"
expect_reply 535 "5.7.8" "wrong password: AUTH fails (swaks stops there)"
# By hand: MAIL after a failed AUTH carries no auth macros.
smtp_open
smtp_cmd "EHLO client.tlsguard.test"
smtp_cmd "AUTH PLAIN $(printf '\0alice\0wrong' | base64)"
expect_reply 535 "5.7.8" "by hand: wrong password refused"
smtp_cmd "MAIL FROM:<a@failed.example>"
expect_reply 250 "Ok" "by hand: MAIL after the failed AUTH accepted (no auth macros)"
smtp_cmd "RSET"
smtp_cmd "QUIT"
smtp_close
message_is a@failed.example "none|NULL|accept|aborted" "failed AUTH: verdict none"
log_has "auth from=<a@failed.example>" && fail "failed AUTH: an auth decision was logged"
pass "failed AUTH: no auth decision logged"

# --- policy_hits lists the auth-plaintext messages, with the reason naming the login
sql_is "SELECT mail_from, rule, level, action, reason FROM policy_hits WHERE reason LIKE 'client authenticated%' ORDER BY message_id" \
    "a@plain.example|NULL|NULL|monitor|$PLAIN_REASON
a@login.example|NULL|NULL|defer|$LOGIN_REASON
a@reject.example|NULL|NULL|reject|$PLAIN_REASON
a@cram.example|NULL|NULL|reject|client authenticated as $LOGIN (CRAM-MD5) without TLS; the credentials crossed the network in clear
a@tag.example|NULL|NULL|reject|$PLAIN_REASON
a@may.example|NULL|NULL|tag|$PLAIN_REASON
a@mode.example|NULL|NULL|monitor|$PLAIN_REASON" "policy_hits lists every auth-plaintext message"
