#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon's own attack surface, driven over the milter protocol by
# milter_client.pl:
#  1. A symbolic link planted at the unix socket's path (to a file the test owns, and dangling)
#     is not followed: tlsguard refuses to start with a clear error, the target keeps its
#     mode, owner and content, and nothing is created through the link.
#  2. A stale socket from an earlier run is replaced; started as root with `user = nobody`, the
#     socket ends 0660 nobody:postfix (socket_group's default) (bound as that user, never chmod/chown'ed by path), the
#     database 0600 (umask 077); no "running as root" warning.
#  3. max_sessions = 3: three sessions held open are served, the fourth is refused at MAIL
#     with 421 4.3.2 and logged; once one of the three closes, a new session is served.
#  4. Serving as root without `user` logs a warning.
#  5. The built-in socket's setup (unix:/var/spool/postfix/tlsguard/tlsguard.sock), exercised
#     under $E2E/spool/postfix so that the machine's own spool is not touched: started as root,
#     tlsguard creates the missing directories (parents root:root 0755, its own nobody:postfix
#     0750), binds the socket 0660 nobody:postfix; a local user outside group postfix cannot
#     connect, one in it can; a real Postfix delivers through it. Refused: a symbolic link on
#     the path, a directory writable by others, a missing socket_group set explicitly
#     (file:line), and, not root, a missing directory (clear error, nothing created).
. "$(dirname "$0")/lib.sh"
MC=$E2E_LIB_DIR/milter_client.pl
e2e_init
write_policy </dev/null

RUN=$E2E/run # the socket's directory, as systemd's RuntimeDirectory: the daemon user's
install -d -o nobody -g nogroup -m 0750 "$RUN"
SOCK=$RUN/tlsguard.sock
UDB=$RUN/tlsguard.db

# serve_once: tlsguard in the foreground (it must refuse to start); status in RC.
serve_once() {
    RC=0
    timeout "$(e2e_secs 20)" "$TLSGUARD" serve -c "$CONF" >"$E2E/once.log" 2>&1 || RC=$?
    cat "$E2E/once.log" >>"$E2E/tlsguard.log"
}

# --- 1. links at the socket path
VICTIM=$E2E/victim
echo "the test's own file" >"$VICTIM"
chmod 0604 "$VICTIM"
before=$(stat -c '%a %U %G %s %Y' "$VICTIM")
write_conf socket="unix:$SOCK" user=nobody database="$UDB"
ln -s "$VICTIM" "$SOCK"
serve_once
[ "$RC" = 2 ] || fail "a link at the socket path: exit status $RC, want 2 (refused)"
grep -qF "socket $SOCK: the path exists and is not a socket (a symbolic link); tlsguard does not remove it" "$E2E/once.log" ||
    fail "a link at the socket path: no clear error: $(cat "$E2E/once.log")"
[ "$(stat -c '%a %U %G %s %Y' "$VICTIM")" = "$before" ] || fail "the link's target changed: $(stat -c '%a %U %G %s %Y' "$VICTIM"), was $before"
[ -L "$SOCK" ] && [ "$(readlink "$SOCK")" = "$VICTIM" ] || fail "the planted link was removed or changed"
pass "a link at the socket path to the test's file: refused with a clear error, the file untouched"
rm -f "$SOCK"
ln -s "$E2E/made-through-link" "$SOCK"
serve_once
[ "$RC" = 2 ] || fail "a dangling link at the socket path: exit status $RC, want 2"
[ ! -e "$E2E/made-through-link" ] || fail "something was created through the dangling link"
pass "a dangling link at the socket path: refused, nothing created through it"
rm -f "$SOCK"

# --- 2. a stale socket is replaced; mode and owner as documented
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!\n"' "$SOCK" ||
    fail "cannot make a stale socket"
[ -S "$SOCK" ] || fail "the stale socket is not there"
[ "$(stat -c %U "$SOCK")" = root ] || fail "the stale socket is not root's"
write_conf socket="unix:$SOCK" user=nobody database="$UDB" max_sessions=3

# start_unix: tlsguard in the background on the unix socket, a fresh log.
start_unix() {
    : >"$E2E/tlsguard.log"
    start_tlsguard_unix
}
start_unix
[ "$(stat -c '%F %a %U %G' "$SOCK")" = "socket 660 nobody postfix" ] ||
    fail "socket: $(stat -c '%F %a %U %G' "$SOCK"), want socket 660 nobody postfix"
pass "the stale socket (root's) replaced; the new one is 0660 nobody:postfix"
sql_db() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$UDB" "$@"; }
sql_db 'SELECT 1' >/dev/null || fail "no database at $UDB"
[ "$(stat -c '%a %U' "$UDB")" = "600 nobody" ] || fail "database: $(stat -c '%a %U' "$UDB"), want 600 nobody (umask 077)"
pass "the database is 0600 nobody (umask 077)"
! grep -q "running as root" "$E2E/tlsguard.log" || fail "a 'running as root' warning although user is set"
pass "no root warning with user set"

# --- 3. max_sessions
# hold N: a session that connects, passes MAIL and stays open until killed.
HOLD_PIDS=()
hold() {
    perl "$MC" -U "$SOCK" -t "$(e2e_secs 10)" "connect hold$1.example 4 2500 192.0.2.$1" \
        "helo hold$1.example" "mail <h$1@x.example>" "sleep 600" quit >"$E2E/hold$1.out" 2>&1 &
    HOLD_PIDS[$1]=$!
    track_pid $!
}
# mail_reply N: one session's reply to MAIL.
mail_reply() {
    perl "$MC" -U "$SOCK" -t "$(e2e_secs 10)" "connect new$1.example 4 2600 192.0.2.$((100 + $1))" \
        "helo new$1.example" "mail <n$1@x.example>" quit 2>&1 | grep '^MAIL: ' || true
}
for n in 1 2 3; do
    hold "$n"
done
for n in 1 2 3; do
    for ((i = 0; i < $(e2e_secs 10) * 10; i++)); do
        grep -q '^MAIL: ' "$E2E/hold$n.out" && break
        sleep 0.1
    done
    [ "$(grep '^MAIL: ' "$E2E/hold$n.out")" = "MAIL: c" ] || fail "held session $n not served: $(cat "$E2E/hold$n.out")"
done
pass "three sessions open at once (max_sessions = 3) are served"
got=$(mail_reply 4)
[ "$got" = "MAIL: y 421 4.3.2 tlsguard is busy, try again later" ] || fail "session 4 beyond max_sessions: got '$got'"
pass "the fourth session is refused at MAIL: $got"
expect_log "the refusal is logged" "NOQUEUE: session refused: max_sessions=3 reached (1 sessions refused so far)"
kill "${HOLD_PIDS[1]}"
wait "${HOLD_PIDS[1]}" 2>/dev/null || true
for ((i = 0; i < $(e2e_secs 10) * 10; i++)); do
    got=$(mail_reply 5)
    [ "$got" = "MAIL: c" ] && break
    sleep 0.2
done
[ "$got" = "MAIL: c" ] || fail "after one session closed, a new one is still refused: '$got'"
pass "after one of the three closed, a new session is served"
kill "${HOLD_PIDS[2]}" "${HOLD_PIDS[3]}"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC"
# tlsguard has exited: every session is recorded, the refused one without a message.
[ "$(sql_db "SELECT count(*) FROM sessions WHERE helo LIKE 'hold%' OR helo LIKE 'new%'")" -ge 5 ] ||
    fail "sessions not recorded: $(sql_db 'SELECT id, helo, messages FROM sessions')"
[ "$(sql_db "SELECT count(*) FROM messages WHERE mail_from = 'n4@x.example'")" = 0 ] ||
    fail "the refused session's MAIL was recorded as a message"
pass "sessions recorded; the refused MAIL is not a message"

# --- 4. root without user: a warning
write_conf
start_tlsguard
expect_log "serving as root without user: warned" "running as root: set \`user\` in $CONF"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC"

# --- 5. the built-in socket's directory and who may connect
SPOOL=$E2E/spool/postfix # stands for /var/spool/postfix: the same code creates both
SOCK=$SPOOL/tlsguard/tlsguard.sock
install -d -o nobody -g nogroup -m 0700 "$E2E/db"
DB=$E2E/db/tlsguard.db
write_conf socket="unix:$SOCK" user=nobody database="$DB"
[ ! -e "$E2E/spool" ] || fail "$E2E/spool exists before the test"
start_unix
for d in "$E2E/spool 755 root root" "$SPOOL 755 root root" "$SPOOL/tlsguard 750 nobody postfix"; do
    set -- $d
    [ "$(stat -c '%F %a %U %G' "$1")" = "directory $2 $3 $4" ] ||
        fail "$1: $(stat -c '%F %a %U %G' "$1"), want directory $2 $3 $4"
done
pass "missing directories created: spool, spool/postfix root:root 0755, spool/postfix/tlsguard nobody:postfix 0750"
[ "$(stat -c '%F %a %U %G' "$SOCK")" = "socket 660 nobody postfix" ] ||
    fail "socket: $(stat -c '%F %a %U %G' "$SOCK"), want socket 660 nobody postfix"
pass "socket 0660 nobody:postfix"
# can_connect UID [GROUPS]: whether that user (group 23456, supplementary GROUPS) can connect.
can_connect() {
    local g=(--clear-groups)
    [ -z "${2:-}" ] || g=(--groups "$2")
    setpriv --reuid "$1" --regid 23456 "${g[@]}" \
        perl -MIO::Socket::UNIX -e 'exit(IO::Socket::UNIX->new(Peer => $ARGV[0]) ? 0 : 3)' "$SOCK"
}
rc=0
can_connect 23456 || rc=$?
[ "$rc" = 3 ] || fail "a local user outside group postfix: connect exit $rc, want 3 (refused)"
pass "a local user (uid 23456) outside group postfix cannot connect"
can_connect 23456 "$(getent group postfix | cut -d: -f3)" ||
    fail "a local user in group postfix cannot connect: the refusal above proves nothing"
pass "the same user in group postfix can connect"
start_postfix --no-milter "smtpd_milters = unix:$SOCK"
send_mail --from a@x.example --to b@y.example || fail "a message through the unix socket was refused"
expect_reply 250 "Ok: queued as" "a message through the unix socket: 250 queued"
sql_is "SELECT count(*) FROM messages WHERE mail_from = 'a@x.example'" 1 \
    "Postfix (smtpd_milters = unix:$SOCK, not chrooted) delivered through the socket; recorded"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC"

# The same start refuses unsafe directories, with a clear error (exit status 2).
chmod 0770 "$SPOOL/tlsguard"
serve_once
[ "$RC" = 2 ] && grep -qF "socket directory: $SPOOL/tlsguard (mode 0770, uid 65534) must be owned by root or tlsguard's user and writable by its owner only" "$E2E/once.log" ||
    fail "a group-writable socket directory: exit $RC: $(cat "$E2E/once.log")"
pass "a socket directory writable by its group: refused"
chmod 0750 "$SPOOL/tlsguard"
mv "$E2E/spool" "$E2E/spool.real"
ln -s spool.real "$E2E/spool"
serve_once
[ "$RC" = 2 ] && grep -qF "socket directory: $E2E/spool is a symbolic link; tlsguard follows no link" "$E2E/once.log" ||
    fail "a link on the socket path: exit $RC: $(cat "$E2E/once.log")"
pass "a symbolic link on the socket's path: refused"
rm "$E2E/spool"
mv "$E2E/spool.real" "$E2E/spool"
write_conf socket="unix:$SOCK" user=nobody database="$DB" socket_group=no-such-group
line=$(grep -n '^socket_group' "$CONF" | cut -d: -f1)
serve_once
[ "$RC" = 2 ] && grep -qF "$CONF:$line: error: socket_group no-such-group: no such group" "$E2E/once.log" ||
    fail "socket_group of a missing group: exit $RC: $(cat "$E2E/once.log")"
expect_exit 1 "$TLSGUARD" check -c "$CONF"
grep -qF "$CONF:$line: error: socket_group no-such-group: no such group" "$E2E/cmd.err" ||
    fail "check: no file:line error for the missing socket_group: $(cat "$E2E/cmd.err")"
pass "socket_group naming a missing group: serve and check refuse it with file:line"
# Not root: nothing is created. (The binary itself: the memcheck wrapper logs to $E2E, which
# nobody cannot write.)
rm -rf "$E2E/spool"
write_conf socket="unix:$SOCK" database="$DB"
chmod 0644 "$CONF" "$POLICY"
RC=0
setpriv --reuid nobody --regid nogroup --clear-groups "$TLSGUARD_REAL" serve -c "$CONF" >"$E2E/once.log" 2>&1 || RC=$?
[ "$RC" = 2 ] && grep -qF "socket $SOCK: the directory $SPOOL/tlsguard does not exist; tlsguard creates it only when started as root" "$E2E/once.log" ||
    fail "not root, missing directory: exit $RC: $(cat "$E2E/once.log")"
[ ! -e "$E2E/spool" ] || fail "not root, tlsguard created $E2E/spool"
pass "not root: a missing socket directory is a clear error, nothing created"
# Not root, as the systemd unit runs it: in a set-group-ID directory 2750 nobody:postfix (what
# tlsguard.tmpfiles creates), the socket gets group postfix.
install -d -m 0755 "$E2E/spool" "$SPOOL"
install -d -o nobody -g postfix -m 2750 "$SPOOL/tlsguard"
start_tlsguard_unix setpriv --reuid nobody --regid nogroup --clear-groups "$TLSGUARD_REAL"
[ "$(stat -c '%F %a %U %G' "$SOCK")" = "socket 660 nobody postfix" ] ||
    fail "not root, set-group-ID directory: socket $(stat -c '%F %a %U %G' "$SOCK"), want socket 660 nobody postfix"
pass "not root, in a set-group-ID directory nobody:postfix: the socket is 0660 nobody:postfix"
stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard (not root) exited with status $TG_RC"
