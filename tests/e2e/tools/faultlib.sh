# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# faultlib.sh - what the fault tests (test_fault_*.sh) share on top of lib.sh: a load of
# numbered messages through the test Postfix (tools/smtpload.pl, one log line per message), and
# the counts a test asserts on: what the driver was told, what the sink received, what Postfix
# still holds, what tlsguard recorded. Source it after lib.sh, after e2e_init.
#
#   load NAME [SMTPLOAD-OPTIONS...]     runs the driver; log $E2E/NAME.log, summary printed
#   load_bg NAME [SMTPLOAD-OPTIONS...]  the same in the background; LOAD_PID (load_wait NAME)
#   load_count NAME STATUS              messages of that run with STATUS (accepted, deferred, ...)
#   load_field NAME STATUS FIELD        one field (1-based, see smtpload.pl) of those lines
#   sink_markers PREFIX                 "N COPIES" for every message "PREFIX-N" in the sink
#   wait_sink PREFIX COUNT [SECONDS]    (SECONDS scaled by e2e_secs) until COUNT distinct PREFIX messages are in the sink and
#                                       Postfix's queue is empty (fails otherwise)
#   queue_size                          messages in the test Postfix's queue
#   tg_mem                              "rss=... hwm=... threads=..." of tlsguard (KiB)
#   now_utc                             the time as tlsguard writes it in the database

SMTPLOAD=$E2E_LIB_DIR/tools/smtpload.pl
LOAD_PID=""
LOAD_ARGS=()

# load_args SMTPLOAD-OPTIONS...: the options in LOAD_ARGS, with the driver's waits (--timeout,
# --deadline, --hold-wait, and the defaults of the first two) scaled by e2e_secs.
load_args() {
    LOAD_ARGS=()
    [ "$E2E_TIME_FACTOR" = 1 ] || LOAD_ARGS=(--timeout "$(e2e_secs 60)" --deadline "$(e2e_secs 170)")
    while [ $# -gt 0 ]; do
        case "$1" in
        --timeout | --deadline | --hold-wait)
            LOAD_ARGS+=("$1" "$(e2e_secs "$2")")
            shift 2
            ;;
        *)
            LOAD_ARGS+=("$1")
            shift
            ;;
        esac
    done
}

load() {
    local name=$1
    shift
    load_args "$@"
    perl "$SMTPLOAD" --port "$SMTP_PORT" --log "$E2E/$name.log" "${LOAD_ARGS[@]}" 2>"$E2E/$name.summary" ||
        fail "load $name: the driver failed: $(cat "$E2E/$name.summary")"
    info "$(tail -n 1 "$E2E/$name.summary")"
}

load_bg() {
    local name=$1
    shift
    load_args "$@"
    perl "$SMTPLOAD" --port "$SMTP_PORT" --log "$E2E/$name.log" "${LOAD_ARGS[@]}" 2>"$E2E/$name.summary" &
    LOAD_PID=$!
    track_pid "$LOAD_PID"
}

# load_wait NAME: waits for the background driver (it stops itself at its --deadline).
load_wait() {
    wait "$LOAD_PID" || fail "load $1: the driver failed: $(cat "$E2E/$1.summary")"
    LOAD_PID=""
    info "$(tail -n 1 "$E2E/$1.summary")"
}

load_count() {
    awk -F'\t' -v s="$2" '$2 == s { n++ } END { print n + 0 }' "$E2E/$1.log" 2>/dev/null || echo 0
}

load_field() {
    awk -F'\t' -v s="$2" -v f="$3" '$2 == s { print $f }' "$E2E/$1.log"
}

# expect_load NAME TOTAL: the log has one line per message, TOTAL in all, each number once.
expect_load() {
    local lines uniq
    lines=$(wc -l <"$E2E/$1.log")
    uniq=$(cut -f1 "$E2E/$1.log" | sort -u | wc -l)
    [ "$lines" = "$2" ] && [ "$uniq" = "$2" ] ||
        fail "load $1: $lines log lines for $uniq distinct messages, want $2"
}

sink_markers() {
    grep -rhoE "^Subject: $1-[0-9]+" "$SINKDIR" 2>/dev/null | sed "s/^Subject: $1-//" |
        sort -n | uniq -c | awk '{ print $2, $1 }'
}

queue_size() {
    postqueue -c "$PFDIR/etc" -j 2>/dev/null | grep -c . || true
}

wait_sink() {
    local prefix=$1 want=$2 secs i got=0 q=0
    secs=$(e2e_secs "${3:-60}")
    for ((i = 0; i < secs * 5; i++)); do
        got=$(sink_markers "$prefix" | wc -l)
        q=$(queue_size)
        [ "$got" -ge "$want" ] && [ "$q" = 0 ] && return 0
        [ $((i % 25)) = 24 ] && postqueue -c "$PFDIR/etc" -f >/dev/null 2>&1
        sleep 0.2
    done
    fail "after $secs s the sink has $got distinct $prefix messages (want $want), Postfix's queue $q"
}

tg_mem() {
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } /^Threads:/ { t = $2 }
         END { printf "rss=%d KiB hwm=%d KiB threads=%d\n", r, h, t }' "/proc/$TG_PID/status"
}

now_utc() {
    date -u '+%Y-%m-%d %H:%M:%S.%3N'
}

# epoch: seconds since the epoch with milliseconds (the driver's T0/T1 clock).
epoch() {
    date '+%s.%3N'
}
