# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib_sendmail.sh - the end-to-end harness with Sendmail 8.17 instead of Postfix: a private
# Sendmail on loopback with tlsguard attached through INPUT_MAIL_FILTER, relaying every message
# to the harness's smtp-sink. Source it after lib.sh and call e2e_init first; then:
#
#   start_sendmail [--no-milter] [--fp ALG] [--sasl DIR] [MC-LINE ...]
#                       smtp-sink + Sendmail listening on 127.0.0.1:$SMTP_PORT, so that
#                       send_mail, smtp_open, expect_reply, wait_for_delivery work unchanged.
#                       --fp ALG sets CertFingerprintAlgorithm (Sendmail then sends {cert_fp}
#                       instead of {cert_md5}); --sasl DIR makes DIR (with a Sendmail.conf)
#                       Cyrus SASL's configuration directory for this Sendmail only;
#                       MC-LINEs are added to the .mc before MAILER().
#   start_all_sendmail [KEY=VALUE ...]   write_conf with these settings, tlsguard, Sendmail
#   stop_sendmail       SIGTERM to the daemon, waits for it
#   sendmail_log_has TEXT   Sendmail's log contains TEXT (fixed string); waits up to 3 s
#
# Sendmail is not installed: sendmail-bin conflicts with postfix. tools/sendmail-prefix.sh
# unpacks Debian's sendmail-bin, sendmail-cf and sendmail-base into a cache directory
# (/var/cache/tlsguard-tests/sendmail, or $TLSGUARD_SENDMAIL_CACHE) once; tests/run.sh does it
# before the suite, and the first test to need it does it otherwise. Everything else - the .cf,
# queue, pid file, certificates, log - lives under $E2E/sendmail and goes with the temp dir.
#
# Sendmail runs in its own UTS and mount namespaces (unshare): the host name is
# mx.tlsguard.test (Sendmail sleeps a minute at start on a host name without a dot), and
# /dev/log is a private socket read by tools/syslog-sink.pl, so that Sendmail's syslog lines
# land in $E2E/sendmail/maillog (no syslog daemon runs on a test machine, and the host's
# /dev is not touched).

SM_DIR=""     # $E2E/sendmail
SM_ROOT=""    # the unpacked packages
SM_PID=""     # the Sendmail daemon (foreground mode, our child)
SM_LOG_PID="" # syslog-sink.pl

# Sendmail's log joins the evidence a failing test prints.
eval "e2e_dump_logs_postfix() $(declare -f dump_logs | tail -n +2)"
dump_logs() {
    e2e_dump_logs_postfix
    [ -n "$SM_DIR" ] && [ -s "$SM_DIR/maillog" ] || return 0
    printf '\n----- sendmail/maillog (last 60 lines) -----\n'
    tail -n 60 "$SM_DIR/maillog"
    printf -- '-----\n'
}

# sendmail_prepare: SM_ROOT, unpacking the packages if no earlier run did.
sendmail_prepare() {
    unshare --uts --mount true 2>"$E2E/unshare.log" ||
        fail "unshare --uts --mount does not work here ($(cat "$E2E/unshare.log")): the Sendmail tests need new UTS and mount namespaces (root with CAP_SYS_ADMIN; in a container, a privileged one)"
    SM_ROOT=$(bash "$E2E_LIB_DIR/tools/sendmail-prefix.sh" 2>"$E2E/sendmail-prefix.log") ||
        { cat "$E2E/sendmail-prefix.log" >&2; fail "no private Sendmail (tools/sendmail-prefix.sh)"; }
    info "sendmail from $SM_ROOT"
}

# The .mc: STARTTLS with the test CA (a client certificate is requested and checked against
# it), tlsguard as the only milter, everything relayed to smtp-sink, no DNS, no port 587.
write_sendmail_mc() {
    local milter=$1 fp=$2
    shift 2
    cat <<EOF
divert(-1)
# written by lib_sendmail.sh for $(basename "$0")
divert(0)dnl
VERSIONID(\`tlsguard e2e')dnl
OSTYPE(\`linux')dnl
define(\`MAIL_SETTINGS_DIR', \`$SM_DIR/')dnl
define(\`QUEUE_DIR', \`$SM_DIR/queue')dnl
define(\`STATUS_FILE', \`$SM_DIR/statistics')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`confEBINDIR', \`$SM_ROOT/usr/libexec/sendmail')dnl
define(\`confDOMAIN_NAME', \`mx.tlsguard.test')dnl
define(\`confSMTP_LOGIN_MSG', \`\$j Sendmail test')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confTO_IDENT', \`0s')dnl
dnl A busy test machine must not make Sendmail refuse connections or only queue mail.
define(\`confREFUSE_LA', \`10000')dnl
define(\`confQUEUE_LA', \`10000')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confDELIVERY_MODE', \`background')dnl
define(\`confCACERT_PATH', \`$SM_DIR/certs')dnl
define(\`confCACERT', \`$SM_DIR/certs/ca.crt')dnl
define(\`confSERVER_CERT', \`$SM_DIR/certs/server.crt')dnl
define(\`confSERVER_KEY', \`$SM_DIR/certs/server.key')dnl
dnl Old protocols and ciphers on purpose, as for the test Postfix: with OPENSSL_CONF (see
dnl start_sendmail) lowering MinProtocol, this lets TLSv1 and TLSv1.1 clients in.
define(\`confCIPHER_LIST', \`ALL:@SECLEVEL=0')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
DAEMON_OPTIONS(\`Port=$SMTP_PORT, Addr=127.0.0.1, Name=MTA')dnl
EOF
    [ -n "$fp" ] && echo "define(\`confCERT_FINGERPRINT_ALGORITHM', \`$fp')dnl"
    if [ "$milter" = yes ]; then
        # The lines contrib/sendmail/tlsguard.mc documents, on the test's port.
        sed -n -E "/^INPUT_MAIL_FILTER/{s|S=[^,]*|S=inet:$TG_PORT@127.0.0.1|;p}" \
            "$REPO/contrib/sendmail/tlsguard.mc"
    fi
    local l
    for l in "$@"; do
        printf '%s\n' "$l"
    done
    echo "MAILER(\`smtp')dnl"
}

# Sendmail's syslog lines go to $SM_DIR/maillog (one receiver for every Sendmail of a test).
start_syslog_sink() {
    local i
    : >"$SM_DIR/maillog"
    perl "$E2E_LIB_DIR/tools/syslog-sink.pl" "$SM_DIR/log.sock" "$SM_DIR/maillog" \
        2>>"$SM_DIR/stdout.log" &
    SM_LOG_PID=$!
    track_pid "$SM_LOG_PID"
    for ((i = 0; i < 50; i++)); do
        [ -S "$SM_DIR/log.sock" ] && return 0
        sleep 0.1
    done
    fail "syslog-sink.pl did not create its socket"
}

# start_sendmail [--no-milter] [--fp ALG] [--sasl DIR] [MC-LINE ...]
# shellcheck disable=SC2120 # the tests pass the options
start_sendmail() {
    local milter=yes fp="" sasl="" extra=()
    while [ $# -gt 0 ]; do
        case "$1" in
        --no-milter) milter=no ;;
        --fp) fp=$2 && shift ;;
        --sasl) sasl=$2 && shift ;;
        *) extra+=("$1") ;;
        esac
        shift
    done
    [ -n "$SM_ROOT" ] || sendmail_prepare
    [ -n "$SINK_PID" ] || start_sink
    SM_DIR=$E2E/sendmail
    mkdir -p "$SM_DIR/queue" "$SM_DIR/certs"
    chmod 700 "$SM_DIR/queue"
    # Sendmail refuses a key file others can read (and then silently offers no STARTTLS).
    cp "$E2E/certs/ca.crt" "$E2E/certs/server.crt" "$E2E/certs/server.key" "$SM_DIR/certs/"
    chmod 600 "$SM_DIR/certs/server.key"
    : >"$SM_DIR/aliases"
    : >"$SM_DIR/helpfile"
    : >"$SM_DIR/local-host-names"
    : >"$SM_DIR/statistics"
    printf 'hosts files\naliases files\n' >"$SM_DIR/service.switch"
    write_sendmail_mc "$milter" "$fp" "${extra[@]}" >"$SM_DIR/sendmail.mc"
    local cf=$SM_ROOT/usr/share/sendmail/cf
    m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$SM_DIR/sendmail.mc" >"$SM_DIR/sendmail.cf" 2>"$SM_DIR/m4.log" ||
        { cat "$SM_DIR/m4.log" >&2; fail "m4 could not build sendmail.cf"; }
    [ ! -s "$SM_DIR/m4.log" ] || { cat "$SM_DIR/m4.log" >&2; fail "m4 warnings building sendmail.cf"; }

    [ -n "$SM_LOG_PID" ] || start_syslog_sink

    # Debian's openssl.cnf sets MinProtocol = TLSv1.2; Sendmail has no option for it, but
    # OpenSSL reads the file OPENSSL_CONF names.
    cp "$E2E/client-openssl.cnf" "$SM_DIR/openssl.cnf"
    # Cyrus SASL reads Sendmail.conf from a fixed path list (/etc/sasl2:...:/usr/lib/sasl2) and
    # Sendmail clears its environment: the test's directory is mounted over /usr/lib/sasl2
    # (sasl2-bin's) in Sendmail's mount namespace only.
    if [ -n "$sasl" ]; then
        [ -d /usr/lib/sasl2 ] || fail "/usr/lib/sasl2 missing (Debian package sasl2-bin): no place for Sendmail.conf"
    fi
    # -bD: the daemon in the foreground, so that it is our child and its pid is $!.
    # shellcheck disable=SC2016 # expanded by the inner shell
    OPENSSL_CONF=$SM_DIR/openssl.cnf SM_SASL_DIR=$sasl unshare --uts --mount /bin/sh -c '
        set -e
        hostname mx.tlsguard.test
        [ -z "$SM_SASL_DIR" ] || mount --bind "$SM_SASL_DIR" /usr/lib/sasl2
        mkdir -p "$1/dev"
        mount --rbind /dev "$1/dev"
        mount -t tmpfs -o mode=755 tmpfs /dev
        for n in null zero full random urandom tty; do
            [ -e "$1/dev/$n" ] || continue
            touch "/dev/$n"
            mount --bind "$1/dev/$n" "/dev/$n"
        done
        ln -s "$1/log.sock" /dev/log
        shift
        exec "$@"' sh "$SM_DIR" \
        "$SM_ROOT/usr/libexec/sendmail/sendmail" -bD -C "$SM_DIR/sendmail.cf" \
        >>"$SM_DIR/stdout.log" 2>&1 &
    SM_PID=$!
    track_pid "$SM_PID"
    wait_port "$SMTP_PORT" 20 "$SM_PID" || {
        cat "$SM_DIR/stdout.log" >&2
        fail "Sendmail did not listen on 127.0.0.1:$SMTP_PORT"
    }
    info "sendmail pid $SM_PID (milter=$milter)"
}

start_all_sendmail() {
    write_conf "$@"
    start_tlsguard
    # shellcheck disable=SC2119 # Sendmail's defaults
    start_sendmail
}

stop_sendmail() {
    local i
    [ -n "$SM_PID" ] || return 0
    kill -TERM "$SM_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$SM_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SM_PID" 2>/dev/null || true
    wait "$SM_PID" 2>/dev/null || true
    SM_PID=""
}

sendmail_log_has() {
    local i
    for ((i = 0; i < 30; i++)); do
        grep -qF -- "$1" "$SM_DIR/maillog" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
