# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh - end-to-end harness: a private Postfix on loopback with tlsguard attached, driven by
# swaks, delivering to smtp-sink, which dumps every message to a file.
#
# Source it from a test script, then:
#   e2e_init                       temp dir, certificates, ports (always first)
#   write_policy <<'EOF' ... EOF   the policy file ($E2E/policy)
#   write_conf [KEY=VALUE ...]     tlsguard.conf with socket/database/policy/log preset
#   start_tlsguard                 `$TLSGUARD serve -c $E2E/tlsguard.conf`, waits for the socket
#   start_tlsguard_unix [COMMAND]  the same on a unix socket, waits for "listening on"
#   start_postfix [--no-milter]    smtp-sink + a private Postfix with smtpd_milters set
#   start_all [KEY=VALUE ...]      write_conf, start_tlsguard, start_postfix
#   send_mail SWAKS-ARGS...        runs swaks against Postfix; transcript in $E2E/last.txt
#   expect_reply CODE TEXT         the last transcript has a server reply CODE containing TEXT
#   sql QUERY / sql_is QUERY WANT  query the tlsguard database (waits for the recorder)
#   wait_for_delivery MARKER       path of the delivered message containing MARKER
#   pass MSG / fail MSG            report; fail dumps the logs and exits 1
#   expect_exit CODE CMD...        CMD exits with CODE, not crashed (output in $E2E/cmd.out/.err)
#   log_mark / log_since_mark      log checks (expect_log, log_has, log_match) see only lines
#                                  logged after the mark; start_tlsguard and reload_tlsguard mark
#
# Each test runs in a network namespace of its own (e2e_init re-runs the script under
# `unshare --net`): its daemons listen on a private loopback, so tests run side by side.
#
# Everything lives in one temp dir that is removed on exit (KEEP_E2E=1 keeps it), and every
# process started here is stopped on exit. Tests run as root: Postfix needs it.
#
# TLSGUARD_VALGRIND=1 runs every tlsguard the test starts through $TLSGUARD (the daemon and the
# commands) under valgrind memcheck; a memcheck error or a definite leak fails the test (exit
# status 99, and the check of the memcheck logs at the end). The harness's waits are then
# E2E_TIME_FACTOR times as long (TLSGUARD_VALGRIND_FACTOR, default 5; 1 without valgrind); a
# test's own waits use e2e_secs.

set -euo pipefail

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_LIB_DIR/../.." && pwd)
TLSGUARD=${TLSGUARD:-$REPO/build/milter/tlsguard}
TLSGUARD_REAL=$TLSGUARD # the binary itself, also when $TLSGUARD is the valgrind wrapper
E2E_VALGRIND=""
E2E_TIME_FACTOR=1
if [ "${TLSGUARD_VALGRIND:-0}" = 1 ]; then
    E2E_VALGRIND=1
    E2E_TIME_FACTOR=${TLSGUARD_VALGRIND_FACTOR:-5}
fi
SWAKS=${SWAKS:-swaks}
# A sanitizer report aborts the program (status 134) instead of exiting 1, which a test could
# take for a refusal or a usage error (expect_exit); tests/run.sh sets the same.
case ":${ASAN_OPTIONS:-}:" in *:abort_on_error=*) ;; *) export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1 ;; esac
case ":${UBSAN_OPTIONS:-}:" in *:abort_on_error=*) ;; *) export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1 ;; esac

E2E=""              # the temp dir
TG_PID=""           # tlsguard
SINK_PID=""         # smtp-sink
PF_STARTED=""       # private Postfix is running
E2E_PORTS=" "       # ports handed out by free_port
E2E_FAILED=0
E2E_CHECKS=0
E2E_BG_PIDS=()      # other background helpers of a test (track_pid), killed on exit
E2E_ARGV=("$@")     # the test script's arguments, for e2e_netns
E2E_LOG_MARK=0      # log_mark: byte offset in tlsguard.log where log checks start

# ---------------------------------------------------------------------------------------------
# Reporting

pass() {
    E2E_CHECKS=$((E2E_CHECKS + 1))
    printf 'ok   %s\n' "$*"
}

# Prints the evidence a failing test needs, then exits 1 (the EXIT trap cleans up).
fail() {
    E2E_FAILED=1
    printf 'FAIL %s\n' "$*" >&2
    dump_logs >&2
    exit 1
}

info() {
    printf '#    %s\n' "$*"
}

# expect_exit CODE CMD...: runs CMD (stdout in $E2E/cmd.out, stderr in $E2E/cmd.err) and fails
# unless it exits with CODE. A crash fails whatever CODE is wanted: killed by a signal (status
# 128 or more; ASan aborts), memcheck's error status 99, or a sanitizer report on stderr. The
# check for "this command must refuse": `cmd && fail` would take a crash for a refusal.
expect_exit() {
    local want=$1 rc=0
    shift
    "$@" >"$E2E/cmd.out" 2>"$E2E/cmd.err" || rc=$?
    if [ "$rc" -ge 128 ] || [ "$rc" = 99 ] ||
        grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$E2E/cmd.err"; then
        fail "$*: crashed (exit status $rc): $(tail -n 30 "$E2E/cmd.err")"
    fi
    [ "$rc" = "$want" ] || fail "$*: exit status $rc, want $want: $(tail -n 5 "$E2E/cmd.err")"
}

# e2e_secs SECONDS: a wait of a test, scaled for slow runs (valgrind): SECONDS * E2E_TIME_FACTOR.
e2e_secs() {
    echo $(($1 * E2E_TIME_FACTOR))
}

dump_logs() {
    [ -n "$E2E" ] || return 0
    local f
    for f in "$E2E/last.txt" "$E2E/tlsguard.log" "$E2E/postfix/maillog"; do
        [ -s "$f" ] || continue
        printf '\n----- %s (last 80 lines) -----\n' "${f#"$E2E"/}"
        tail -n 80 "$f"
    done
    printf -- '-----\n'
}

# ---------------------------------------------------------------------------------------------
# Setup and teardown

e2e_init() {
    command -v "$SWAKS" >/dev/null || { echo "swaks not installed" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "e2e tests run as root (Postfix)" >&2; exit 1; }
    e2e_netns
    E2E=$(mktemp -d /tmp/tlsguard-e2e.XXXXXX)
    # Postfix daemons run as the postfix user and must traverse into the queue directory.
    chmod 755 "$E2E"
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
    make_certs
    TG_PORT=$(free_port)
    SMTP_PORT=$(free_port)
    SINK_PORT=$(free_port)
    DB=$E2E/tlsguard.db
    POLICY=$E2E/policy
    CONF=$E2E/tlsguard.conf
    PFDIR=$E2E/postfix
    SINKDIR=$E2E/sink
    : >"$POLICY"
    [ -z "$E2E_VALGRIND" ] || valgrind_wrap
    info "temp dir $E2E; tlsguard 127.0.0.1:$TG_PORT postfix 127.0.0.1:$SMTP_PORT sink 127.0.0.1:$SINK_PORT"
}

# e2e_netns: unless this shell already runs in the network namespace it made for itself,
# starts the test script again in a new one (unshare --net) with its loopback up. Every
# Postfix, Sendmail, nsd, smtp-sink and tlsguard of the test so listens on a loopback of its
# own: tests running side by side (ctest -j) cannot take each other's ports, and a probe
# connection cannot reach another test's daemon.
e2e_netns() {
    local ns
    ns=$(readlink /proc/self/ns/net)
    [ "${E2E_NETNS:-}" != "$ns" ] || return 0
    if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
        echo "e2e tests need unshare (util-linux) and ip (iproute2)" >&2
        exit 1
    fi
    # shellcheck disable=SC2016 # expanded by the inner shell
    exec unshare --net -- "$BASH" -c '
        ip link set lo up || exit 1
        E2E_NETNS=$(readlink /proc/self/ns/net) && export E2E_NETNS
        exec "$BASH" "$@"' bash "$0" "${E2E_ARGV[@]}"
}

# Every transaction recorded in $DB, decided again by `tlsguard explain` with the same facts and
# the test's config, must get the daemon's decisions (tools/golden_explain.pl; a test that cannot
# be replayed sets GOLDEN_EXPLAIN_SKIP to the reason). Runs while the test's DNS still answers.
# Opt-in (GOLDEN_EXPLAIN=1) until every test that reloads its config sets GOLDEN_EXPLAIN_SKIP.
golden_explain() {
    [ "${GOLDEN_EXPLAIN:-0}" = 1 ] && [ -n "$E2E" ] && [ -f "${DB:-}" ] && [ -f "${CONF:-}" ] || return 0
    perl "$E2E_LIB_DIR/tools/golden_explain.pl" "$TLSGUARD_REAL" "$CONF" "$DB" >"$E2E/golden.out" 2>&1 &&
        tail -n 1 "$E2E/golden.out" && return 0
    cat "$E2E/golden.out" >&2
    printf 'FAIL golden explain\n' >&2
    return 1
}

e2e_cleanup() {
    local rc=$?
    set +e
    # tlsguard must survive every test and exit 0 on SIGTERM; under ASan/UBSan its log must be
    # free of sanitizer reports (leaks are reported at exit, hence after stopping it).
    if [ -n "$TG_PID" ]; then
        stop_tlsguard
        if [ "$TG_RC" != 0 ]; then
            printf 'FAIL tlsguard exited with status %s on SIGTERM at the end of the test\n' "$TG_RC" >&2
            rc=1
        fi
    fi
    if [ -n "$E2E" ] && grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$E2E/tlsguard.log" 2>/dev/null; then
        printf 'FAIL sanitizer report in the tlsguard log\n' >&2
        rc=1
    fi
    [ -z "$E2E_VALGRIND" ] || valgrind_check || rc=1
    golden_explain || rc=1
    if [ "$rc" != 0 ] && [ "$E2E_FAILED" = 0 ]; then
        E2E_FAILED=2
    fi
    if [ -n "$PF_STARTED" ]; then
        postfix -c "$PFDIR/etc" stop >/dev/null 2>&1 || postfix -c "$PFDIR/etc" abort >/dev/null 2>&1
        wait_master_gone
    fi
    local p
    for p in "${E2E_BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "$SINK_PID" ]; then
        kill "$SINK_PID" 2>/dev/null
        wait "$SINK_PID" 2>/dev/null
    fi
    if [ "$rc" = 0 ] && [ "$E2E_FAILED" = 0 ]; then
        printf 'PASS %s (%d checks)\n' "$(basename "$0")" "$E2E_CHECKS"
    elif [ "$E2E_FAILED" != 1 ]; then
        printf 'FAIL %s: exit status %d\n' "$(basename "$0")" "$rc" >&2
        dump_logs >&2
    fi
    if [ -n "$E2E" ] && [ -z "${KEEP_E2E:-}" ]; then
        rm -rf "$E2E"
    elif [ -n "$E2E" ]; then
        echo "kept $E2E" >&2
    fi
    exit "$rc"
}

# track_pid PID: kill this background helper when the test exits.
track_pid() {
    E2E_BG_PIDS+=("$1")
}

# A loopback TCP port no socket uses, not handed out before in this test.
free_port() {
    local p tries=0
    while :; do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] || { echo "no free port" >&2; return 1; }
        case "$E2E_PORTS" in *" $p "*) continue ;; esac
        port_used "$p" any && continue
        E2E_PORTS="$E2E_PORTS$p "
        echo "$p"
        return 0
    done
}

# valgrind_wrap: $TLSGUARD becomes a script that runs the binary under memcheck, one log per
# process in $E2E/memcheck.PID.log. Valgrind runs the program in its own process (exec), so
# $! and signals reach tlsguard as without it.
valgrind_wrap() {
    command -v valgrind >/dev/null || fail "TLSGUARD_VALGRIND=1 but valgrind is not installed"
    case "$TLSGUARD_REAL" in
    *asan*) fail "TLSGUARD_VALGRIND=1: valgrind does not run sanitizer builds ($TLSGUARD_REAL)" ;;
    esac
    TLSGUARD=$E2E/tlsguard-memcheck
    cat >"$TLSGUARD" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \\
    --errors-for-leak-kinds=definite --num-callers=30 --log-file=$E2E/memcheck.%p.log \\
    "$TLSGUARD_REAL" "\$@"
EOF
    chmod 755 "$TLSGUARD"
}

# valgrind_check: every memcheck log that has a summary says 0 errors (definite leaks count as
# errors), and at least one has a summary: a test run under memcheck that ran no tlsguard
# through valgrind checked nothing. A process killed with SIGKILL leaves a log without a
# summary: nothing to check in that one.
valgrind_check() {
    local f bad=0 n=0
    for f in "$E2E"/memcheck.*.log; do
        [ -f "$f" ] || continue
        grep -q 'ERROR SUMMARY:' "$f" || continue
        n=$((n + 1))
        if grep -q 'ERROR SUMMARY: [1-9]' "$f"; then
            printf 'FAIL memcheck reported errors or definite leaks (%s):\n' "${f#"$E2E"/}" >&2
            cat "$f" >&2
            bad=1
        fi
    done
    if [ "$n" = 0 ]; then
        printf 'FAIL memcheck: no tlsguard process ran to its end under valgrind\n' >&2
        return 1
    fi
    [ "$bad" = 0 ] && info "memcheck: no errors, no definite leaks ($n tlsguard processes)"
    return "$bad"
}

# port_used PORT [any]: a socket listens on PORT (with "any": uses it in any state). Reads
# /proc/net/tcp instead of connecting, because a probe connection to Postfix would reach
# tlsguard and count as an SMTP session in its database.
port_used() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v h=":$hex" -v any="${2:-}" '
        FNR > 1 && substr($2, length($2) - 4) == h && (any != "" || $4 == "0A") { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_port PORT [SECONDS] [PID]: until something listens (SECONDS scaled by e2e_secs); gives
# up early if PID dies.
wait_port() {
    local port=$1 secs pid=${3:-} i
    secs=$(e2e_secs "${2:-10}")
    for ((i = 0; i < secs * 10; i++)); do
        port_used "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

wait_master_gone() {
    local pidf=$PFDIR/queue/pid/master.pid pid i
    [ -f "$pidf" ] || return 0
    pid=$(tr -dc 0-9 <"$pidf")
    [ -n "$pid" ] || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------------------------------------
# Certificates: a test CA, an RSA server certificate (so kRSA ciphers such as AES256-SHA can be
# negotiated), client certificates issued by the CA with CN client.bank.example and with
# CN other.example.net, and a self-signed client certificate the CA does not know.

make_certs() {
    local d=$E2E/certs
    mkdir -p "$d"
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tlsguard test CA" \
            -keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
        issue() { # NAME CN EKU
            openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr"
            printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\nsubjectAltName=DNS:%s\n' \
                "$3" "$2" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
                -extfile "$1.ext" -out "$1.crt"
        }
        issue server mx.tlsguard.test serverAuth
        issue client-good client.bank.example clientAuth
        issue client-wrong other.example.net clientAuth
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=client.bank.example" \
            -keyout client-untrusted.key -out client-untrusted.crt
        chmod 644 ./*.crt ./*.key
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; fail "certificate generation"; }
    CA_CRT=$d/ca.crt
    # Client side OpenSSL config for TLSv1/TLSv1.1: without it swaks fails with
    # "legacy sigalg disallowed or unsupported".
    cat >"$E2E/client-openssl.cnf" <<'EOF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1
CipherString = ALL:@SECLEVEL=0
EOF
}

# ---------------------------------------------------------------------------------------------
# tlsguard

# write_policy: the policy file from stdin.
write_policy() {
    cat >"$POLICY"
}

# write_conf [KEY=VALUE ...]: the config file; extra pairs are appended (later lines are the
# test's own choices: mode, header, default_action, ...).
write_conf() {
    local kv seen=" "
    for kv in "$@"; do
        seen="$seen${kv%%=*} "
    done
    {
        echo "# written by $(basename "$0")"
        for kv in "socket=inet:$TG_PORT@127.0.0.1" "database=$DB" "policy=$POLICY" \
            "log=stderr" "log_level=debug"; do
            case "$seen" in *" ${kv%%=*} "*) continue ;; esac
            echo "${kv%%=*} = ${kv#*=}"
        done
        # The test's own pairs; KEY=- leaves a preset key out (e.g. policy=- for the built-in).
        for kv in "$@"; do
            [ "${kv#*=}" = - ] || echo "${kv%%=*} = ${kv#*=}"
        done
    } >"$CONF"
}

# faketime_wrapper PROGRAM FAKETIME NAME: writes $E2E/NAME, a script that runs PROGRAM with
# the clock of libfaketime's FAKETIME ("@2026-01-01 12:00:00" pinned, "+31d" shifted) and
# prints its path. The faketime command forks and would not pass SIGTERM on: the library is
# preloaded directly. It comes after the sanitizer runtime in the list: ASan is told so.
faketime_wrapper() {
    local lib
    lib=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketimeMT\.so' | head -n 1)
    [ -n "$lib" ] || fail "libfaketime not installed (tests/run.sh installs faketime)"
    cat >"$E2E/$3" <<EOF2
#!/bin/sh
export LD_PRELOAD=$lib FAKETIME="$2"
export ASAN_OPTIONS="\${ASAN_OPTIONS:-}:verify_asan_link_order=0"
exec "$1" "\$@"
EOF2
    chmod +x "$E2E/$3"
    printf '%s\n' "$E2E/$3"
}

start_tlsguard() {
    [ -x "$TLSGUARD" ] || fail "tlsguard binary not found: $TLSGUARD (build first, or set TLSGUARD)"
    [ -f "$CONF" ] || write_conf
    local before i
    log_mark
    before=$(grep -c 'listening on' "$E2E/tlsguard.log" 2>/dev/null || true)
    "$TLSGUARD" serve -c "$CONF" >>"$E2E/tlsguard.log" 2>&1 &
    TG_PID=$!
    wait_port "$TG_PORT" 15 "$TG_PID" || fail "tlsguard did not listen on 127.0.0.1:$TG_PORT"
    # tlsguard listens before it opens the database and starts the resolver, and answers once it
    # logs "listening on": seconds later under valgrind. Then wait for that line (if it logs
    # to the file), so that a test's first milter exchange is not timed from too early.
    if [ -n "$E2E_VALGRIND" ]; then
        for ((i = 0; i < $(e2e_secs 15) * 10; i++)); do
            [ "$(grep -c 'listening on' "$E2E/tlsguard.log" 2>/dev/null || true)" -gt "${before:-0}" ] && break
            kill -0 "$TG_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    info "tlsguard pid $TG_PID"
}

# start_tlsguard_unix [COMMAND ...]: tlsguard on the unix socket of $CONF (no port to wait
# for): runs COMMAND (default $TLSGUARD; e.g. setpriv ... "$TLSGUARD_REAL" for another user)
# with serve -c $CONF in the background and waits for a new "listening on" line in the log.
start_tlsguard_unix() {
    local before i
    [ $# -gt 0 ] || set -- "$TLSGUARD"
    log_mark
    before=$(grep -c 'listening on' "$E2E/tlsguard.log" 2>/dev/null || true)
    "$@" serve -c "$CONF" >>"$E2E/tlsguard.log" 2>&1 &
    TG_PID=$!
    for ((i = 0; i < $(e2e_secs 15) * 10; i++)); do
        [ "$(grep -c 'listening on' "$E2E/tlsguard.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
        kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard did not start: $(tail -n 5 "$E2E/tlsguard.log")"
        sleep 0.1
    done
    fail "tlsguard did not log 'listening on'"
}

# stop_tlsguard: SIGTERM and wait; sets TG_RC to the exit status. (Not in $(...): only this
# shell can wait for its child.)
stop_tlsguard() {
    local i
    TG_RC=0
    [ -n "$TG_PID" ] || return 0
    kill -TERM "$TG_PID" 2>/dev/null || true
    for ((i = 0; i < $(e2e_secs 40) * 10; i++)); do
        kill -0 "$TG_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$TG_PID" 2>/dev/null; then
        kill -9 "$TG_PID" 2>/dev/null || true
        echo "tlsguard did not exit within $(e2e_secs 40) s of SIGTERM" >>"$E2E/tlsguard.log"
    fi
    wait "$TG_PID" 2>/dev/null || TG_RC=$?
    TG_PID=""
}

# reload_tlsguard: SIGHUP, then waits until tlsguard logs that it loaded the new configuration
# or refused it. Log checks after it see only what tlsguard logged from the signal on
# (log_mark).
reload_tlsguard() {
    local i
    log_mark
    kill -HUP "$TG_PID" || fail "tlsguard is not running"
    for ((i = 0; i < $(e2e_secs 10) * 10; i++)); do
        grep -qE 'reload: configuration .* loaded|reload refused' <<<"$(log_since_mark)" && return 0
        kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died on SIGHUP"
        sleep 0.1
    done
    fail "tlsguard logged neither a reload nor a refusal within $(e2e_secs 10) s of SIGHUP"
}

# log_mark: the log checks below (log_match, expect_log, log_has, log_since_mark) see only the
# lines tlsguard logs from now on, not those an earlier step already wrote. start_tlsguard,
# start_tlsguard_unix and reload_tlsguard set the mark themselves.
log_mark() {
    E2E_LOG_MARK=0
    [ ! -f "$E2E/tlsguard.log" ] || E2E_LOG_MARK=$(wc -l <"$E2E/tlsguard.log")
}

# log_since_mark: the lines of tlsguard's log written after the last log_mark.
log_since_mark() {
    tail -n "+$((E2E_LOG_MARK + 1))" "$E2E/tlsguard.log" 2>/dev/null || true
}

# log_match TEXT...: some line of tlsguard's log (since log_mark) contains every TEXT (fixed strings); waits up
# to 3 s (e2e_secs). Prints the line.
log_match() {
    local i line
    for ((i = 0; i < $(e2e_secs 3) * 10; i++)); do
        line=$(log_grep "$@" | head -n 1)
        [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
        sleep 0.1
    done
    return 1
}

log_grep() {
    local lines
    lines=$(log_since_mark)
    while [ $# -gt 0 ]; do
        lines=$(printf '%s\n' "$lines" | grep -F -- "$1") || return 0
        shift
    done
    printf '%s\n' "$lines"
}

# expect_log DESC TEXT...: log_match or fail.
expect_log() {
    local desc=$1
    shift
    log_match "$@" >/dev/null || fail "$desc: no tlsguard log line with: $*"
    pass "$desc"
}

# log_has TEXT: tlsguard's log (since log_mark) contains TEXT (fixed string); waits up to 3 s
# (e2e_secs).
log_has() {
    local i
    for ((i = 0; i < $(e2e_secs 3) * 10; i++)); do
        grep -qF -- "$1" <<<"$(log_since_mark)" && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Postfix and smtp-sink

start_sink() {
    mkdir -p "$SINKDIR"
    chown postfix "$SINKDIR"
    # -d: one file per message under $SINKDIR; -u: smtp-sink refuses to keep root privileges.
    smtp-sink -u postfix -h sink.tlsguard.test -d "$SINKDIR/%Y%m%d%H%M%S." \
        "127.0.0.1:$SINK_PORT" 64 >>"$E2E/sink.log" 2>&1 &
    SINK_PID=$!
    wait_port "$SINK_PORT" 10 "$SINK_PID" || fail "smtp-sink did not listen on $SINK_PORT"
}

# start_postfix [--no-milter] [MAIN.CF-LINE ...]
start_postfix() {
    local milter=yes extra=()
    while [ $# -gt 0 ]; do
        case "$1" in
        --no-milter) milter=no ;;
        *) extra+=("$1") ;;
        esac
        shift
    done
    start_sink
    local etc=$PFDIR/etc
    mkdir -p "$etc" "$PFDIR/queue" "$PFDIR/data"
    chown postfix "$PFDIR/data"
    # Old protocols and ciphers on purpose: the tests need TLSv1 and kRSA.
    cat >"$etc/openssl.cnf" <<'EOF'
postfix = postfix_settings
[postfix_settings]
ssl_conf = postfix_ssl_settings
[postfix_ssl_settings]
system_default = baseline_postfix_settings
[baseline_postfix_settings]
MinProtocol = TLSv1
CipherString = ALL:@SECLEVEL=0
EOF
    cat >"$etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PFDIR/queue
data_directory = $PFDIR/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PFDIR/maillog
maillog_file_prefixes = $PFDIR
myhostname = mx.tlsguard.test
mydomain = tlsguard.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
smtp_dns_support_level = disabled
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP test
message_size_limit = 10240000
smtpd_tls_cert_file = $E2E/certs/server.crt
smtpd_tls_key_file = $E2E/certs/server.key
smtpd_tls_CAfile = $CA_CRT
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_protocols = >=TLSv1
smtpd_tls_mandatory_protocols = >=TLSv1
smtpd_tls_ciphers = low
smtpd_tls_mandatory_ciphers = low
tls_low_cipherlist = ALL:@SECLEVEL=0
tls_config_file = $etc/openssl.cnf
tls_config_name = postfix
smtpd_tls_session_cache_database =
smtpd_tls_session_cache_timeout = 0s
milter_default_action = tempfail
EOF
    # Under valgrind, tlsguard answers slower: Postfix waits as many times longer for it.
    if [ "$E2E_TIME_FACTOR" != 1 ]; then
        printf 'milter_%s_timeout = %ss\n' connect "$(e2e_secs 30)" command "$(e2e_secs 30)" \
            content "$(e2e_secs 300)" >>"$etc/main.cf"
    fi
    if [ "$milter" = yes ]; then
        echo "smtpd_milters = inet:127.0.0.1:$TG_PORT" >>"$etc/main.cf"
    fi
    local l
    for l in "${extra[@]}"; do
        echo "$l" >>"$etc/main.cf"
    done
    # A minimal master.cf without chroot: the paths above are outside any chroot.
    cat >"$etc/master.cf" <<EOF
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    postfix -c "$etc" check >"$PFDIR/check.log" 2>&1 ||
        { cat "$PFDIR/check.log" >&2; fail "postfix check"; }
    postfix -c "$etc" start >"$PFDIR/start.log" 2>&1 ||
        { cat "$PFDIR/start.log" >&2; fail "postfix start"; }
    PF_STARTED=1
    wait_port "$SMTP_PORT" 15 || fail "Postfix smtpd did not listen on $SMTP_PORT"
    info "postfix started (milter=$milter)"
}

# start_all [KEY=VALUE ...]: write_conf with these settings, start tlsguard, then Postfix.
start_all() {
    write_conf "$@"
    start_tlsguard
    start_postfix
}

# ---------------------------------------------------------------------------------------------
# Driving mail

# send_mail [OPTIONS] [SWAKS-ARGS...]: runs swaks against the test Postfix. Options of ours:
#   --cert good|wrong|untrusted   present that client certificate (implies --tls)
#   --old-tls                     allow TLSv1/TLSv1.1 and weak ciphers on the client side
# Everything else goes to swaks (--tls, --tls-protocol tlsv1_2, --tls-cipher AES256-SHA,
# --from, --to a,b, --quit-after EHLO, --add-header ...). The transcript is printed to
# $E2E/last.txt; the return value is swaks' exit status (non-zero when a command was refused).
send_mail() {
    local args=() env=() cert helo=(--helo client.tlsguard.test)
    while [ $# -gt 0 ]; do
        case "$1" in
        --helo | --ehlo) helo=() && args+=(--helo "$2") && shift ;;
        --cert)
            cert=$2
            shift
            args+=(--tls --tls-cert "$E2E/certs/client-$cert.crt" --tls-key "$E2E/certs/client-$cert.key")
            ;;
        --old-tls) env+=("OPENSSL_CONF=$E2E/client-openssl.cnf") ;;
        *) args+=("$1") ;;
        esac
        shift
    done
    local rc=0
    env "${env[@]}" "$SWAKS" --server 127.0.0.1 --port "$SMTP_PORT" "${helo[@]}" \
        --timeout "$(e2e_secs 60)" "${args[@]}" >"$E2E/last.txt" 2>&1 || rc=$?
    {
        printf '\n===== swaks %s (exit %d)\n' "${args[*]}" "$rc"
        cat "$E2E/last.txt"
    } >>"$E2E/transcripts.txt"
    return "$rc"
}

# The server replies of the last transcript, one per line, without swaks' arrows.
replies() {
    sed -n -E 's/^ *<[-~*]+ +([2-5][0-9][0-9][ -].*)$/\1/p' "$E2E/last.txt" | tr -d '\r'
}

# expect_reply CODE TEXT [DESC]: some reply line starts with CODE and contains TEXT.
expect_reply() {
    local code=$1 text=$2 desc=${3:-reply $1 ...$2...}
    if grep -E "^$code[ -]" <<<"$(replies)" | grep -qF -- "$text"; then
        pass "$desc"
    else
        fail "$desc: no reply '$code ...$text...' in the transcript"
    fi
}

# expect_no_reply CODE [DESC]: no reply line starts with CODE.
expect_no_reply() {
    local code=$1 desc=${2:-no reply $1}
    if grep -qE "^$code[ -]" <<<"$(replies)"; then
        fail "$desc: found $(replies | grep -E "^$code[ -]" | head -1)"
    fi
    pass "$desc"
}

# expect_tls VERSION: swaks reports the negotiated protocol (guards the test setup itself).
expect_tls() {
    if grep -qF "TLS started with cipher $1:" "$E2E/last.txt"; then
        pass "client negotiated $1"
    else
        fail "client did not negotiate $1: $(grep -m1 -E 'TLS started|TLS|SSL' "$E2E/last.txt" || true)"
    fi
}

# The queue id from "250 2.0.0 Ok: queued as XXXX" in the last transcript.
last_queue_id() {
    replies | sed -n -E 's/^250 .*queued as ([0-9A-Za-z]+).*/\1/p' | tail -n 1
}

# wait_for_delivery MARKER [SECONDS]: prints the path of the sink file holding MARKER (SECONDS
# scaled by e2e_secs).
wait_for_delivery() {
    local marker=$1 secs i f
    secs=$(e2e_secs "${2:-20}")
    for ((i = 0; i < secs * 10; i++)); do
        f=$(grep -lrF -- "$marker" "$SINKDIR" 2>/dev/null | head -n 1 || true)
        if [ -n "$f" ]; then
            echo "$f"
            return 0
        fi
        [ $((i % 20)) = 19 ] && postqueue -c "$PFDIR/etc" -f >/dev/null 2>&1 || true
        sleep 0.1
    done
    fail "no delivered message containing '$marker' within $secs s"
}

# not_delivered MARKER: after a short wait, no sink file holds MARKER.
not_delivered() {
    sleep "$(e2e_secs 15)e-1"
    if grep -qrF -- "$1" "$SINKDIR" 2>/dev/null; then
        fail "a message containing '$1' was delivered"
    fi
    pass "no message containing '$1' delivered"
}

# The header block of a delivered (dumped) message, unfolded: one header per line. smtp-sink
# writes its own X-Client-Addr/X-Mail-Args/... and Received: lines right before the message's
# headers, so the block ends at the first empty line.
message_headers() {
    awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$1" |
        awk '/^[ \t]/ { sub(/^[ \t]+/, " "); line = line $0; next }
             { if (line != "") print line; line = $0 }
             END { if (line != "") print line }'
}

# header_values FILE NAME: every value of header NAME (case-insensitive), one per line.
header_values() {
    message_headers "$1" | awk -v n="$2" 'BEGIN { n = tolower(n) ": " }
        tolower(substr($0, 1, length(n))) == n { print substr($0, length(n) + 1) }'
}

# delivered_rcpts FILE: the envelope recipients smtp-sink received, sorted, space-separated.
delivered_rcpts() {
    header_values "$1" X-Rcpt-Args | sed -E 's/^(TO:)?<([^>]*)>.*/\2/' | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect_rcpts FILE "A B ..." [DESC]: delivered to exactly these recipients (sorted).
expect_rcpts() {
    local got
    got=$(delivered_rcpts "$1")
    [ "$got" = "$2" ] || fail "${3:-delivery}: delivered to '$got', want '$2'"
    pass "${3:-delivery}: delivered to $2"
}

# expect_header FILE VALUE [DESC]: the delivered message has exactly one X-TLS-Policy header,
# with VALUE.
expect_header() {
    local got n
    got=$(header_values "$1" X-TLS-Policy)
    n=$(printf '%s' "$got" | grep -c '' || true)
    [ "$n" = 1 ] || fail "${3:-header}: $n X-TLS-Policy headers delivered, want 1: $got"
    [ "$got" = "$2" ] || fail "${3:-header}: X-TLS-Policy: '$got', want '$2'"
    pass "${3:-header}: X-TLS-Policy: $2"
}

# expect_no_header FILE [DESC]: the delivered message has no X-TLS-Policy header.
expect_no_header() {
    local got
    got=$(header_values "$1" X-TLS-Policy)
    [ -z "$got" ] || fail "${2:-header}: unexpected X-TLS-Policy: $got"
    pass "${2:-header}: no X-TLS-Policy header"
}

# forged_message FILE SUBJECT N: writes a message for swaks --data with N forged X-TLS-Policy
# headers in every spelling the MTAs accept (any case, blanks before the colon, empty, folded
# over several lines), each followed by an X-Other-I header that must survive.
forged_message() {
    local i
    {
        printf 'From: <forged@x.example>\nTo: <r@y.example>\nSubject: %s\n' "$2"
        for ((i = 1; i <= $3; i++)); do
            case $((i % 6)) in
            0) printf 'X-TLS-Policy: pass tls=TLSv1.3 rule=forged-%d\n' "$i" ;;
            1) printf 'x-tls-policy: pass forged-%d\n' "$i" ;;
            2) printf 'X-TLS-POLICY: pass\n\ttls=TLSv1.3\n forged-%d\n' "$i" ;;
            3) printf 'X-Tls-Policy :pass forged-%d\n' "$i" ;;
            4) printf 'X-TLS-Policy:\n forged-%d\n' "$i" ;;
            5) printf 'X-TLS-Policy:\n' ;;
            esac
            printf 'X-Other-%d: kept-%d\n' "$i" "$i"
        done
        printf '\nend-of-%s\n' "$2" # waited for: smtp-sink writes the file as it reads
    } >"$1"
}

# forged_sent N SUBJECT FROM: sends a forged_message with N copies and prints the delivered
# file; fails unless it was accepted, no copy survived and the other headers were kept.
forged_sent() {
    local f
    forged_message "$E2E/forged-$1.txt" "$2" "$1"
    send_mail --from "$3" --to r@y.example --data "$E2E/forged-$1.txt" ||
        fail "message with $1 forged headers refused"
    f=$(wait_for_delivery "end-of-$2")
    [ "$(message_headers "$f" | grep -c '^X-Other-[0-9]*: kept-')" = "$1" ] ||
        fail "$1 forged: other headers lost with the forged ones"
    message_headers "$f" | grep -i 'forged-' >&2 && fail "$1 forged: a forged copy survived"
    echo "$f"
}

# policy_headers FILE: how many headers of the delivered message are named X-TLS-Policy in
# any case, with or without blanks before the colon.
policy_headers() {
    message_headers "$1" | grep -ciE '^x-tls-policy[[:blank:]]*:' || true
}

# held_ids: queue ids in Postfix's hold queue ('!' after the id in postqueue -p).
held_ids() {
    local out
    out=$(postqueue -c "$PFDIR/etc" -p 2>"$E2E/postqueue.err") ||
        fail "postqueue -p failed: $(cat "$E2E/postqueue.err")"
    sed -n -E 's/^([0-9A-F]+)!.*/\1/p' <<<"$out"
}

# A hand-driven SMTP session, for what swaks cannot do (pausing mid-transaction):
#   smtp_open; smtp_cmd "EHLO x"; ...; smtp_cmd QUIT; smtp_close
# Replies are appended to $E2E/last.txt in swaks' format, so expect_reply works on them.
smtp_open() {
    : >"$E2E/last.txt"
    exec 5<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || fail "cannot connect to Postfix"
    smtp_read
}

smtp_read() {
    local line
    while IFS= read -r -t 60 line <&5; do
        line=${line%$'\r'}
        printf '<-  %s\n' "$line" >>"$E2E/last.txt"
        [[ "$line" =~ ^[0-9]{3}- ]] || return 0
    done
    fail "no SMTP reply within 60 s"
}

# smtp_cmd LINE: sends LINE, reads the reply (none for message text; end it with ".").
smtp_cmd() {
    printf ' -> %s\n' "$1" >>"$E2E/last.txt"
    printf '%s\r\n' "$1" >&5
    smtp_read
}

# smtp_send LINE: sends LINE without waiting for a reply (message text after DATA).
smtp_send() {
    printf ' -> %s\n' "$1" >>"$E2E/last.txt"
    printf '%s\r\n' "$1" >&5
}

smtp_close() {
    exec 5<&- 5>&-
}

# ---------------------------------------------------------------------------------------------
# Database

# sql QUERY: rows as a|b|c; retries while the table is busy and, for up to 3 s (e2e_secs), while
# the query returns nothing (the recorder commits within 1 s of a decision).
sql() {
    local out i
    for ((i = 0; i < $(e2e_secs 3) * 10; i++)); do
        if [ -f "$DB" ]; then
            out=$(sqlite3 -batch -noheader -separator '|' -nullvalue NULL -cmd '.timeout 2000' "$DB" "$1" 2>/dev/null) || out=""
            if [ -n "$out" ]; then
                printf '%s\n' "$out"
                return 0
            fi
        fi
        sleep 0.1
    done
    return 0
}

# sql_is QUERY WANT [DESC]: polls up to 3 s (e2e_secs) until the output is exactly WANT.
sql_is() {
    local q=$1 want=$2 desc=${3:-$1} out="" i
    for ((i = 0; i < $(e2e_secs 3) * 10; i++)); do
        if [ -f "$DB" ]; then
            out=$(sqlite3 -batch -noheader -separator '|' -nullvalue NULL -cmd '.timeout 2000' "$DB" "$q" 2>&1) || true
            [ "$out" = "$want" ] && { pass "$desc"; return 0; }
        fi
        sleep 0.1
    done
    printf 'query: %s\nwant:\n%s\ngot:\n%s\n' "$q" "$want" "$out" >&2
    fail "$desc"
}

# An SQL condition selecting the session that the last swaks run used (by its client port is
# not known to swaks; by HELO and order is): the newest session row.
LAST_SESSION="(SELECT max(id) FROM sessions)"
