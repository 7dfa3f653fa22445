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
#   log_lines                           lines in tlsguard's log now (a mark for wait_log_after)
#   wait_log_after LINE SECONDS TEXT    a log line after line LINE contains TEXT; prints it
#   db_count TABLE                      rows in TABLE now, without waiting for any to appear
#   check_recorded NAME OUTCOME         every accepted message of load NAME has exactly one
#                                       messages row (its queue id, OUTCOME) and one recipient
#   db_lock / db_unlock                 another process holds SQLite's write lock on $DB
#   wait_recovered LINE SECONDS         the "database writable again" line after line LINE;
#                                       sets WRITTEN and MORE (queued records it wrote, left)
#   expect_deferred_at_mail NAME N      all N messages of load NAME got tlsguard's 451 4.3.0
#                                       at MAIL, and the log (after line $MARK) has N deferrals

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
    # grep finds nothing before the first delivery: not an error (pipefail, set -e).
    { grep -rhoE "^Subject: $1-[0-9]+" "$SINKDIR" 2>/dev/null || true; } | sed "s/^Subject: $1-//" |
        sort -n | uniq -c | awk '{ print $2, $1 }'
}

queue_size() {
    local out
    out=$(postqueue -c "$PFDIR/etc" -j 2>"$E2E/postqueue.err") ||
        fail "postqueue -j failed: $(cat "$E2E/postqueue.err")"
    [ -n "$out" ] || { echo 0; return 0; }
    grep -c . <<<"$out"
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

log_lines() {
    : >>"$E2E/tlsguard.log"
    wc -l <"$E2E/tlsguard.log"
}

wait_log_after() {
    local from=$1 secs=$2 text=$3 i line
    for ((i = 0; i < secs * 10; i++)); do
        line=$(tail -n "+$((from + 1))" "$E2E/tlsguard.log" | grep -m1 -F -- "$text" || true)
        [ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
        sleep 0.1
    done
    return 1
}

db_count() {
    sqlite3 -batch -noheader -cmd '.timeout 2000' "$DB" "SELECT count(*) FROM $1"
}

# Retried for a few seconds: while tlsguard runs, its writer commits in batches (up to about
# 200 ms after the message), so a check right after a load can come before the last commit.
check_recorded() {
    local name=$1 bad i
    for ((i = 0; i < $(e2e_secs 5) * 10; i++)); do
        sqlite3 -batch -noheader -separator ' ' -cmd '.timeout 5000' "$DB" \
            "SELECT m.queue_id, count(*), group_concat(m.outcome),
                    (SELECT count(*) FROM recipients r WHERE r.message_id = max(m.id))
               FROM messages m WHERE m.queue_id IS NOT NULL GROUP BY m.queue_id" >"$E2E/db.qids"
        bad=$(load_field "$name" accepted 5 | awk -v want="$2" 'NR == FNR { r[$1] = $2 " " $3 " " $4; next }
            !($1 in r) { print $1 " not recorded"; next }
            r[$1] != "1 " want " 1" { print $1 " rows/outcome/recipients " r[$1] }' "$E2E/db.qids" -)
        [ -n "$bad" ] || return 0
        sleep 0.1
    done
    fail "load $name: accepted messages not recorded exactly once: $(printf '%s\n' "$bad" | head -n 10)"
}

# The lock holder: sqlite3 reading SQL from a fifo that this shell keeps open on fd 7, so that
# the lock lasts exactly until db_unlock. Returns once a writer with no patience is refused.
DB_LOCK_PID=""
db_lock() {
    local i
    rm -f "$E2E/lock.fifo"
    mkfifo "$E2E/lock.fifo"
    sqlite3 "$DB" <"$E2E/lock.fifo" >"$E2E/lock.log" 2>&1 &
    DB_LOCK_PID=$!
    track_pid "$DB_LOCK_PID"
    exec 7>"$E2E/lock.fifo"
    printf '.timeout 5000\nBEGIN EXCLUSIVE;\n' >&7
    for ((i = 0; i < 60; i++)); do
        sqlite3 -cmd '.timeout 0' "$DB" 'BEGIN IMMEDIATE; ROLLBACK;' >/dev/null 2>&1 || break
        sleep 0.1
    done
    [ "$i" -lt 60 ] || fail "the database is not locked: $(cat "$E2E/lock.log")"
}

db_unlock() {
    [ -n "$DB_LOCK_PID" ] || return 0
    printf 'COMMIT;\n' >&7
    exec 7>&-
    wait "$DB_LOCK_PID" || true
    DB_LOCK_PID=""
}

wait_recovered() {
    local line
    line=$(wait_log_after "$1" "$2" "database writable again") ||
        fail "no 'database writable again' within $2 s"
    pass "recovery logged: ${line#*: }"
    read -r WRITTEN MORE <<<"$(printf '%s\n' "$line" | sed -n -E 's/.*after [0-9]+ failed attempts; ([0-9]+) queued records written, ([0-9]+) more queued; 0 records dropped in total.*/\1 \2/p')"
}

expect_deferred_at_mail() {
    local name=$1 want=$2 text="4.3.0 tlsguard cannot record this transaction, try again later" bad n
    expect_load "$name" "$want"
    bad=$(awk -F'\t' -v t="$text" '$2 != "deferred" || $3 != "mail" || $4 != 451 || index($9, t) != 1' "$E2E/$name.log")
    [ -z "$bad" ] || fail "load $name: not all $want deferred at MAIL with 451 $text: $(printf '%s\n' "$bad" | head -n 3)"
    pass "load $name: all $want got '451 $text' at MAIL"
    n=$(tail -n "+$((MARK + 1))" "$E2E/tlsguard.log" | grep -c "deferred: database cannot be written (on_db_error=tempfail)" || true)
    [ "$n" = "$want" ] || fail "load $name: $n deferrals logged, want $want"
    pass "load $name: $want deferrals logged"
}
