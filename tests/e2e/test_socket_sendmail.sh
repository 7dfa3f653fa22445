#!/bin/bash
# SPDX-License-Identifier: MIT
# Sendmail on tlsguard's built-in unix socket: the INPUT_MAIL_FILTER line
# of contrib/sendmail/tlsguard.mc as shipped (S=local:/var/spool/postfix/tlsguard/...), with
# the spool moved under the test's temp dir so that the machine's /var/spool/postfix is not
# touched. tlsguard (root, user nobody) creates the directory; Sendmail, running as root
# and not chrooted, connects through the real path; the message is accepted and recorded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
e2e_init
write_policy </dev/null

SOCK=$E2E/spool/postfix/tlsguard/tlsguard.sock
install -d -o nobody -g nogroup -m 0700 "$E2E/db"
DB=$E2E/db/tlsguard.db
write_conf socket="unix:$SOCK" user=nobody database="$DB"
start_tlsguard_unix
[ "$(stat -c '%F %a %U %G' "$SOCK")" = "socket 660 nobody postfix" ] ||
    fail "socket: $(stat -c '%F %a %U %G' "$SOCK"), want socket 660 nobody postfix"
pass "tlsguard created its directory and listens on $SOCK (0660 nobody:postfix)"

line=$(grep '^INPUT_MAIL_FILTER' "$REPO/contrib/sendmail/tlsguard.mc")
grep -qF 'S=local:/var/spool/postfix/tlsguard/tlsguard.sock,' <<<"$line" ||
    fail "tlsguard.mc does not name the built-in socket: $line"
start_sendmail --no-milter "${line//\/var\/spool\/postfix/$E2E/spool/postfix}"
send_mail --from s@x.example --to r@y.example || fail "Sendmail refused a message through the unix socket"
expect_reply 250 "Message accepted for delivery" "Sendmail accepted the message (tlsguard.mc's S=local: line)"
sql_is "SELECT count(*) FROM messages WHERE mail_from = 's@x.example'" 1 \
    "tlsguard recorded it: Sendmail reached the socket by its real path"
