#!/bin/bash
# SPDX-License-Identifier: MIT
# Plaintext SMTP AUTH under Sendmail (the same semantics as with Postfix, see
# test_auth_plaintext.sh): Sendmail with Cyrus SASL and a private sasldb. AUTH without TLS gets
# the verdict auth-plaintext with the action of plaintext_auth (monitor by default, defer 451
# 4.7.11, reject 530 5.7.11); AUTH after STARTTLS and no AUTH get none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
e2e_init
command -v saslpasswd2 >/dev/null || fail "saslpasswd2 not installed (Debian package sasl2-bin)"

# Sendmail's realm is its host name ($j); unlike Postfix's, its {auth_authen} is the login as
# the client gave it, without the realm.
REALM=mx.tlsguard.test
LOGIN=alice
mkdir -p "$E2E/sasl"
printf 'secret' | saslpasswd2 -p -c -f "$E2E/sasl/sasldb2" -u "$REALM" alice ||
    fail "saslpasswd2 could not create the test user"
chmod 600 "$E2E/sasl/sasldb2"
cat >"$E2E/sasl/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $E2E/sasl/sasldb2
mech_list: PLAIN LOGIN
EOF

write_conf
start_tlsguard
start_sendmail --sasl "$E2E/sasl" "define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl" \
    "TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl"

auth() { # MECH: swaks arguments for AUTH as alice
    echo --auth "$1" --auth-user alice --auth-password secret
}
message_is() { # MAIL-FROM WANT DESC: verdict|reason|action|outcome of that sender's message
    sql_is "SELECT verdict, reason, action, outcome FROM messages WHERE mail_from = '$1'" "$2" "$3"
}
reason() { # MECH
    echo "client authenticated as $LOGIN ($1) without TLS; the password crossed the network in clear"
}
reply_text() { # MECH
    echo "Encryption required for requested authentication mechanism: AUTH $1 was used without TLS, so the password crossed the network in clear; use STARTTLS before AUTH"
}

# --- default (monitor): accepted, recorded with the login
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@plain.example --to r@y.example --header "Subject: sm-auth-monitor" ||
    fail "monitor: refused"
expect_reply 235 "2.0.0 OK Authenticated" "monitor: AUTH PLAIN without TLS succeeded (the setup works)"
f=$(wait_for_delivery sm-auth-monitor)
expect_header "$f" "auth-plaintext tls=none rule=-" "monitor: header (no login in it)"
message_is a@plain.example "auth-plaintext|$(reason PLAIN)|monitor|accepted" \
    "monitor: messages row names the login from Sendmail's {auth_authen}"

# --- defer, with AUTH LOGIN
write_conf plaintext_auth=defer
reload_tlsguard
# shellcheck disable=SC2046
send_mail $(auth LOGIN) --from a@login.example --to r@y.example --header "Subject: sm-auth-defer" &&
    fail "defer: accepted"
expect_reply 451 "4.7.11 $(reply_text LOGIN)" "defer: MAIL refused with 451 4.7.11"
message_is a@login.example "auth-plaintext|$(reason LOGIN)|defer|refused" "defer: messages row"
not_delivered sm-auth-defer

# --- reject
write_conf plaintext_auth=reject
reload_tlsguard
# shellcheck disable=SC2046
send_mail $(auth PLAIN) --from a@reject.example --to r@y.example && fail "reject: accepted"
expect_reply 530 "5.7.11 $(reply_text PLAIN)" "reject: MAIL refused with 530 5.7.11"
message_is a@reject.example "auth-plaintext|$(reason PLAIN)|reject|refused" "reject: messages row"

# --- still reject: AUTH after STARTTLS, and no AUTH, pass
# shellcheck disable=SC2046
send_mail --tls $(auth PLAIN) --from a@tls.example --to r@y.example || fail "AUTH after STARTTLS: refused"
expect_tls TLSv1.3
expect_reply 235 "2.0.0 OK Authenticated" "AUTH after STARTTLS succeeded"
message_is a@tls.example "none|NULL|accept|accepted" "AUTH after STARTTLS: verdict none"
send_mail --from a@noauth.example --to r@y.example || fail "no AUTH: refused"
message_is a@noauth.example "none|NULL|accept|accepted" "no AUTH in plaintext: verdict none"
sendmail_log_has "AUTH=server, relay=localhost [127.0.0.1], authid=alice" ||
    fail "Sendmail's log does not show the SASL login"
pass "Sendmail logged the SASL logins"
