#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh - what tlsguard costs a Postfix server, measured against Postfix alone and
# against a milter that does nothing.
# See bench/README.md. Run as root on a test machine; everything runs on 127.0.0.0/8 inside
# one temp dir, and every process started here is stopped on exit.
#
#   bash bench/run.sh                 default: 3 rounds, ~12-15 minutes on 2 cores
#   BENCH_QUICK=1 bash bench/run.sh   1 round, small counts, ~2-3 minutes
#
# One private Postfix relays to smtp-sink (which discards) and listens on four ports, one per
# configuration:
#   A  no milter
#   B  bench/nullmilter.c: connect/helo/envfrom/envrcpt/eom, each SMFIS_CONTINUE
#   C  tlsguard, mode = monitor, policy "* may": records every session, message, recipient
#   D  tlsguard, mode = enforce, ~1,000 generated rules (from:, rcpt:, client: v4/v6 CIDRs, a
#      few encrypt/verify, dane/dane-only rcpt: rules for the signed test zone served by nsd
#      on loopback, tests/dns); the test traffic passes them all
# Loads: smtp-source (plaintext) and bench/tlsload.c (STARTTLS: a full handshake per
# session), each at 20 and 200 concurrent sessions, one message per session. For every load,
# the configurations alternate A B C D A B C D ... (BENCH_ROUNDS rounds), the queue drained
# before each run. Then: 1,000 idle SMTP sessions attached to D (VmRSS), and the recorder
# alone (recorder_bench).

set -euo pipefail

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_SRC/.." && pwd)

# ---- Settings ----------------------------------------------------------------------------
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK:-0}" != 0 ]; then
    : "${BENCH_ROUNDS:=1}" "${BENCH_PLAIN_MSGS:=400}" "${BENCH_TLS_MSGS:=300}"
    : "${BENCH_IDLE:=200}" "${BENCH_RECORDER_RECORDS:=100000}" "${BENCH_RECORDER_SECS:=2}"
fi
ROUNDS=${BENCH_ROUNDS:-3}
PLAIN_MSGS=${BENCH_PLAIN_MSGS:-1000}  # messages per plaintext run
TLS_MSGS=${BENCH_TLS_MSGS:-400}       # messages per STARTTLS run
CONCS=${BENCH_CONC:-20 200}           # concurrent sessions
CONFIGS=${BENCH_CONFIGS:-A B C D}
LOADS=${BENCH_LOADS:-plain tls}
IDLE=${BENCH_IDLE:-1000}              # idle sessions for the RSS measurement (0: skip)
DANE_PCT=${BENCH_DANE_PCT:-10}        # share of messages to the DANE test domain
BODY=${BENCH_BODY:-1024}              # message body bytes
RUN_LIMIT=${BENCH_RUN_LIMIT:-180}     # seconds one load may take at most
RULES=${BENCH_RULES:-1000}            # rules in D's policy (about)
TG_LOG_LEVEL=${BENCH_LOG_LEVEL:-info} # tlsguard's log_level (log = stderr, to a file)
RECORDER_RECORDS=${BENCH_RECORDER_RECORDS:-200000}
RECORDER_SECS=${BENCH_RECORDER_SECS:-5}
PROFILE=${BENCH_PROFILE:-0}           # 1: perf-record the milters under one more load of each kind
PROFILE_CONFIGS=${BENCH_PROFILE_CONFIGS:-B C D}
PROFILE_CONC=${BENCH_PROFILE_CONC:-20}
RECORDER=${BENCH_RECORDER:-1}         # 0: skip recorder_bench
BUILD=${BENCH_BUILD:-/tmp/bench-build}
TLSGUARD=${TLSGUARD:-$REPO/build/milter/tlsguard}
OUT=${BENCH_OUT:-}                    # a directory to keep results.tsv, summary.txt, logs in

# ---- Harness functions: tests/e2e/lib.sh (ports, certificates) and tests/dns/dnslib.sh ----
# lib.sh only defines functions when sourced; its reporting is replaced by quiet versions that
# write to the bench log, so nothing of the test harness is printed.
# shellcheck source=../tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
# shellcheck source=../tests/dns/dnslib.sh
. "$REPO/tests/dns/dnslib.sh"

info() { [ -z "${E2E:-}" ] || printf '%s\n' "$*" >>"$E2E/bench.log"; }
pass() { info "ok: $*"; }
fail() {
    printf 'bench: FAIL: %s\n' "$*" >&2
    if [ -n "${E2E:-}" ]; then
        local f
        for f in "$E2E/bench.log" "$E2E"/tlsguard-*.log "$E2E/postfix/maillog"; do
            [ -s "$f" ] || continue
            printf '\n----- %s (last 30 lines) -----\n' "${f#"$E2E"/}" >&2
            tail -n 30 "$f" >&2
        done
    fi
    exit 1
}
say() { printf '%s\n' "$*"; info "$*"; }

# ---- Processes -----------------------------------------------------------------------------
NM_PID="" TGC_PID="" TGD_PID="" IDLE_PID="" PERF_PID=""

bench_cleanup() {
    local rc=$? p
    set +e
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
    [ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null && wait "$IDLE_PID" 2>/dev/null
    if [ -n "$PF_STARTED" ]; then
        postfix -c "$PFDIR/etc" stop >/dev/null 2>&1 || postfix -c "$PFDIR/etc" abort >/dev/null 2>&1
        wait_master_gone
    fi
    for p in "$TGC_PID" "$TGD_PID" "$NM_PID" "$SINK_PID" "${E2E_BG_PIDS[@]}"; do
        [ -n "$p" ] || continue
        kill "$p" 2>/dev/null
    done
    for p in "$TGC_PID" "$TGD_PID" "$NM_PID" "$SINK_PID" "${E2E_BG_PIDS[@]}"; do
        [ -n "$p" ] || continue
        wait "$p" 2>/dev/null
    done
    if [ -n "$E2E" ] && [ -n "$OUT" ]; then
        mkdir -p "$OUT"
        cp "$E2E"/results.tsv "$E2E"/summary.txt "$E2E"/bench.log "$E2E"/tlsguard-*.log \
            "$E2E"/policy-D "$E2E"/profile-*.txt "$E2E"/syscalls-*.txt "$E2E"/recorder.log "$E2E"/idle.log "$OUT"/ 2>/dev/null
        cp "$E2E/postfix/maillog" "$OUT/postfix-maillog" 2>/dev/null
    fi
    if [ -n "$E2E" ] && [ -z "${BENCH_KEEP:-}" ]; then
        rm -rf "$E2E"
    elif [ -n "$E2E" ]; then
        echo "bench: kept $E2E" >&2
    fi
    exit "$rc"
}

build_tools() {
    {
        cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTLSGUARD_BENCH=ON &&
            cmake --build "$BUILD" -j 2 --target nullmilter tlsload recorder_bench peers_flood
    } >"$E2E/build.log" 2>&1 || { cat "$E2E/build.log" >&2; fail "building bench/ into $BUILD"; }
    TLSLOAD=$BUILD/bench/tlsload
    NULLMILTER=$BUILD/bench/nullmilter
    RECORDER_BENCH=$BUILD/bench/recorder_bench
}

# /proc helpers. CPU: utime+stime of all threads, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
# Busy CPU ticks of the whole machine (all cores), to see whether a run saturated it.
sys_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
sys_total() { awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }

# The policy of configuration D: about $RULES rules. Sender side first (from: exact and
# subdomain, a few encrypt/verify that only TLS traffic meets or nobody meets), then client:
# CIDRs (IPv4 and IPv6, many prefix lengths; the 127.1.x.0/24 ones match tlsload's source
# addresses), rcpt: rules, the DANE rules, and "*" last.
write_policy_d() {
    local n=$RULES
    local nf=$((n * 30 / 100)) nc=$((n * 35 / 100)) nr=$((n * 30 / 100))
    awk -v nf="$nf" -v nc="$nc" -v nr="$nr" -v zone="$DNS_ZONE" 'BEGIN {
        print "# generated by bench/run.sh: " nf " from:, " nc " client:, " nr " rcpt: rules, DANE, *"
        # from: s0..s(nf-11) may (smtp-source uses s0, tlsload s0..s299), the last ten encrypt;
        # tlsload sends from s%d with TLS, so they pass. Plus subdomain rules.
        for (i = 0; i < nf - 10; i++)
            if (i % 5 == 4) printf "from:.s%d.bench.example may protocols=>=TLSv1.2\n", i
            else printf "from:s%d.bench.example may\n", i
        for (i = nf - 10; i < nf; i++)
            printf "from:s%d.bench.example encrypt protocols=>=TLSv1.2 min_bits=128\n", i
        # verify: nobody sends from these domains.
        print "from:partner1.example verify match=mail.partner1.example:.mx.partner1.example protocols=>=TLSv1.2 action=reject"
        print "from:partner2.example verify action=defer"
        # client: rules. IPv4 documentation and private ranges with prefixes /8../32, IPv6
        # /32../128; 127.1.x.0/24 last (tlsload binds to 127.1.x.y; smtp-source comes from
        # 127.0.0.1 and is matched by its from: rule first).
        for (i = 0; i < nc; i++) {
            k = i % 7
            if (k == 0) printf "client:10.%d.0.0/16 may\n", i % 256
            else if (k == 1) printf "client:172.16.%d.0/24 none\n", i % 256
            else if (k == 2) printf "client:192.0.2.%d may\n", i % 256
            else if (k == 3) printf "client:198.51.%d.0/22 may\n", (i * 4) % 256
            else if (k == 4) printf "client:2001:db8:%x::/48 may\n", i
            else if (k == 5) printf "client:2001:db8:ffff:%x::/64 none\n", i
            else printf "client:2001:db8::%x/128 may\n", i
        }
        for (i = 0; i < 4; i++) printf "client:127.1.%d.0/24 may\n", i
        # rcpt: r0..r(nr-11) may or subdomain none, the last ten encrypt (TLS traffic only).
        for (i = 0; i < nr - 10; i++)
            if (i % 4 == 3) printf "rcpt:.r%d.bench.example none\n", i
            else printf "rcpt:r%d.bench.example may\n", i
        for (i = nr - 10; i < nr; i++)
            printf "rcpt:r%d.bench.example encrypt protocols=>=TLSv1.2\n", i
        # DANE: the traffic goes to ok.; the other rules exist for the index.
        printf "rcpt:ok.%s dane-only\n", zone
        printf "rcpt:nomx.%s dane\n", zone
        printf "rcpt:cname.%s dane\n", zone
        printf "rcpt:ta.%s dane-only\n", zone
        printf "rcpt:.%s dane\n", zone
        print "* may"
    }' >"$E2E/policy-D"
}

write_tlsguard_conf() { # NAME PORT MODE POLICY EXTRA...
    local name=$1 port=$2 mode=$3 policy=$4 kv
    shift 4
    {
        echo "socket = inet:$port@127.0.0.1"
        echo "database = $E2E/tlsguard-$name.db"
        echo "policy = $policy"
        echo "mode = $mode"
        echo "log = stderr"
        echo "log_level = $TG_LOG_LEVEL"
        for kv in "$@"; do
            echo "${kv%%=*} = ${kv#*=}"
        done
    } >"$E2E/tlsguard-$name.conf"
    "$TLSGUARD" check -c "$E2E/tlsguard-$name.conf" >"$E2E/check-$name.log" 2>&1 ||
        { cat "$E2E/check-$name.log" >&2; fail "tlsguard check of configuration $name"; }
}

start_milters() {
    NM_PORT=$(free_port)
    TGC_PORT=$(free_port)
    TGD_PORT=$(free_port)
    "$NULLMILTER" "inet:$NM_PORT@127.0.0.1" >"$E2E/nullmilter.log" 2>&1 &
    NM_PID=$!
    wait_port "$NM_PORT" 10 "$NM_PID" || fail "nullmilter did not listen"

    printf '* may\n' >"$E2E/policy-C"
    write_tlsguard_conf C "$TGC_PORT" monitor "$E2E/policy-C"
    write_policy_d
    write_tlsguard_conf D "$TGD_PORT" enforce "$E2E/policy-D" "${DNS_TG_CONF[@]}" dns_timeout=5
    "$TLSGUARD" serve -c "$E2E/tlsguard-C.conf" >>"$E2E/tlsguard-C.log" 2>&1 &
    TGC_PID=$!
    "$TLSGUARD" serve -c "$E2E/tlsguard-D.conf" >>"$E2E/tlsguard-D.log" 2>&1 &
    TGD_PID=$!
    wait_port "$TGC_PORT" 15 "$TGC_PID" || fail "tlsguard C did not listen"
    wait_port "$TGD_PORT" 15 "$TGD_PID" || fail "tlsguard D did not listen"
    D_RULES=$(grep -cv '^#' "$E2E/policy-D")
}

# Replaces lib.sh's start_sink, which start_postfix calls: the sink reads and discards (no -d:
# no file per message), with a deep listen backlog.
start_sink() {
    smtp-sink -u postfix -h sink.bench.example "127.0.0.1:$SINK_PORT" 1024 >>"$E2E/sink.log" 2>&1 &
    SINK_PID=$!
    wait_port "$SINK_PORT" 10 "$SINK_PID" || fail "smtp-sink did not listen on $SINK_PORT"
}

# The private Postfix of lib.sh's start_postfix (no chroot, everything under $E2E/postfix,
# relaying to the sink, STARTTLS with the test certificate) with process limits for 1,000
# sessions, and three more smtpd services, one per configuration with a milter: configuration
# A is lib.sh's own smtpd, without a milter.
start_postfix_bench() {
    local procs=$((IDLE > 1000 ? IDLE + 100 : 1100)) c
    declare -gA PORT
    SMTP_PORT=$(free_port)
    SINK_PORT=$(free_port)
    start_postfix --no-milter "default_process_limit = $procs"
    PORT[A]=$SMTP_PORT
    for c in B C D; do
        PORT[$c]=$(free_port)
    done
    {
        printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:%s\n' \
            "${PORT[B]}" "$NM_PORT"
        printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:%s\n' \
            "${PORT[C]}" "$TGC_PORT"
        printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:%s\n' \
            "${PORT[D]}" "$TGD_PORT"
    } >>"$PFDIR/etc/master.cf"
    postfix -c "$PFDIR/etc" reload >>"$PFDIR/start.log" 2>&1 || fail "postfix reload"
    for c in A B C D; do
        wait_port "${PORT[$c]}" 15 || fail "Postfix smtpd did not listen on ${PORT[$c]}"
    done
}

# Waits until Postfix's queue is empty (everything delivered to the sink).
wait_queue_empty() {
    local q=$PFDIR/queue end=$((SECONDS + ${1:-300})) d
    while [ "$SECONDS" -lt "$end" ]; do
        local busy=""
        for d in maildrop incoming active deferred hold; do
            if [ -d "$q/$d" ] && [ -n "$(find "$q/$d" -type f -print -quit 2>/dev/null)" ]; then
                busy=1
                break
            fi
        done
        [ -z "$busy" ] && return 0
        [ -n "$(find "$q/deferred" -type f -print -quit 2>/dev/null)" ] &&
            postqueue -c "$PFDIR/etc" -f >/dev/null 2>&1
        sleep 0.2
    done
    fail "the Postfix queue did not drain within ${1:-300} s ($(find "$q" -path '*/pid' -prune -o -type f -print | wc -l) files)"
}

milter_pid() {
    case "$1" in
    B) echo "$NM_PID" ;;
    C) echo "$TGC_PID" ;;
    D) echo "$TGD_PID" ;;
    *) echo "" ;;
    esac
}

now_s() { date +%s.%N; }

# run_load LOAD CONC CONFIG MSGS: one measured run; prints "msgs seconds".
run_load() {
    local load=$1 conc=$2 cfg=$3 msgs=$4 port=${PORT[$3]} t0 t1 rc=0
    local log=$E2E/load.log
    : >"$log"
    if [ "$load" = plain ]; then
        # smtp-source, one message per session. DANE_PCT per cent of the sessions and messages
        # in a second smtp-source to the DANE test domain (the same sender).
        local s2=$(((conc * DANE_PCT + 50) / 100)) m2=$(((msgs * DANE_PCT + 50) / 100))
        local s1=$((conc - s2)) m1=$((msgs - m2)) p1 p2=""
        t0=$(now_s)
        timeout "$RUN_LIMIT" smtp-source -s "$s1" -m "$m1" -l "$BODY" -M client.bench.example \
            -f bench@s0.bench.example -t rcpt@r0.bench.example "127.0.0.1:$port" >>"$log" 2>&1 &
        p1=$!
        if [ "$m2" -gt 0 ] && [ "$s2" -gt 0 ]; then
            timeout "$RUN_LIMIT" smtp-source -s "$s2" -m "$m2" -l "$BODY" -M client.bench.example \
                -f bench@s0.bench.example -t "rcpt@ok.$DNS_ZONE" "127.0.0.1:$port" >>"$log" 2>&1 &
            p2=$!
        fi
        wait "$p1" || rc=$?
        [ -z "$p2" ] || wait "$p2" || rc=$?
        t1=$(now_s)
        [ "$rc" = 0 ] || { cat "$log" >&2; fail "smtp-source ($load $conc $cfg) exited with $rc"; }
        awk -v m="$msgs" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d %.3f\n", m, b - a }'
    else
        timeout "$((RUN_LIMIT + 30))" "$TLSLOAD" -p "$port" -c "$conc" -n "$msgs" -T "$RUN_LIMIT" \
            -l "$BODY" -f 'bench@s%d.bench.example' -F 300 -t 'rcpt@r%d.bench.example' -R 300 \
            -d "rcpt@ok.$DNS_ZONE" -D "$DANE_PCT" -b 200 >>"$log" 2>&1 || rc=$?
        [ "$rc" = 0 ] || { cat "$log" >&2; fail "tlsload ($load $conc $cfg) exited with $rc"; }
        sed -n -E 's/^tlsload: .* messages=([0-9]+) .* seconds=([0-9.]+) .*/\1 \2/p' "$log"
    fi
}

# measure LOAD CONC CONFIG ROUND: a run between queue drains, one line in results.tsv.
measure() {
    local load=$1 conc=$2 cfg=$3 round=$4 msgs pid c0=0 c1=0 b0 b1 t0 t1 res n secs rate
    [ "$load" = plain ] && msgs=$PLAIN_MSGS || msgs=$TLS_MSGS
    wait_queue_empty
    pid=$(milter_pid "$cfg")
    [ -z "$pid" ] || c0=$(cpu_ticks "$pid")
    b0=$(sys_busy) t0=$(sys_total)
    res=$(run_load "$load" "$conc" "$cfg" "$msgs")
    b1=$(sys_busy) t1=$(sys_total)
    [ -z "$pid" ] || c1=$(cpu_ticks "$pid")
    read -r n secs <<<"$res"
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "no messages accepted in $load/$conc/$cfg"
    rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
    # round load conc config messages seconds rate milter_cpu_s machine_busy_pct
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$load" "$conc" "$cfg" "$n" "$secs" \
        "$rate" "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')" \
        "$(awk -v a="$b0" -v b="$b1" -v c="$t0" -v d="$t1" 'BEGIN { printf "%.0f", (d > c ? 100 * (b - a) / (d - c) : 0) }')" \
        >>"$E2E/results.tsv"
    printf '  round %s  %-5s %3s  %s  %5d msgs  %7.2f s  %7.1f msg/s\n' "$round" "$load" "$conc" \
        "$cfg" "$n" "$secs" "$rate"
    info "round $round $load $conc $cfg: $n msgs $secs s $rate msg/s"
}

# One message through D to the DANE domain, so that its answers are cached before measuring;
# one through every configuration, so that each path is known to work.
warm_up() {
    local c
    for c in $CONFIGS; do
        "$TLSLOAD" -p "${PORT[$c]}" -c 1 -n 2 -T 30 -f bench@s0.bench.example \
            -t rcpt@r0.bench.example -d "rcpt@ok.$DNS_ZONE" -D 50 >>"$E2E/warmup.log" 2>&1 ||
            { cat "$E2E/warmup.log" >&2; fail "warm-up message through configuration $c"; }
    done
    case "$TG_LOG_LEVEL $CONFIGS " in
    info*" D "* | debug*" D "*)
        grep -q 'dane="mx=secure hosts=mx.ok' "$E2E/tlsguard-D.log" ||
            fail "the DANE rule did not see a secure answer for ok.$DNS_ZONE (tlsguard-D.log)"
        ;;
    esac
    wait_queue_empty
}

summarize() {
    local hwm_c hwm_d
    hwm_c=$(vm_kib "$TGC_PID" VmHWM)
    hwm_d=$(vm_kib "$TGD_PID" VmHWM)
    awk -F '\t' -v hwm_c="$hwm_c" -v hwm_d="$hwm_d" -v configs="$CONFIGS" '
        function median(list,   a, n, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            if (n == 0) return ""
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        {
            k = $2 " " $3 " " $4
            rate[k] = rate[k] " " $7
            if (!(($2 " " $3) in seen)) { seen[$2 " " $3] = 1; order[++no] = $2 " " $3 }
            if ($8 > 0 || $4 != "A") { cpu[$4] += $8; msgs[$4] += $5; cpuk[k] += $8; msgk[k] += $5 }
            busy[k] = busy[k] " " $9
        }
        END {
            nc = split(configs, cf, " ")
            printf "Throughput, median messages/s over the rounds (ratio to A, to B)\n"
            printf "%-12s", "load"
            for (c = 1; c <= nc; c++) printf "  %-22s", cf[c]
            printf "\n"
            for (i = 1; i <= no; i++) {
                printf "%-12s", order[i]
                a = median(rate[order[i] " A"]); b = median(rate[order[i] " B"])
                for (c = 1; c <= nc; c++) {
                    m = median(rate[order[i] " " cf[c]])
                    s = sprintf("%.1f", m)
                    if (cf[c] != "A" && a > 0) s = s sprintf(" %.2fxA", m / a)
                    if (cf[c] != "A" && cf[c] != "B" && b > 0) s = s sprintf(" %.2fxB", m / b)
                    printf "  %-22s", s
                }
                printf "\n"
            }
            printf "\nMilter CPU (utime+stime of the milter process), ms per message\n"
            printf "%-12s", "load"
            for (c = 1; c <= nc; c++) if (cf[c] != "A") printf "  %-8s", cf[c]
            printf "\n"
            for (i = 1; i <= no; i++) {
                printf "%-12s", order[i]
                for (c = 1; c <= nc; c++) if (cf[c] != "A") {
                    k = order[i] " " cf[c]
                    printf "  %-8s", (msgk[k] > 0 ? sprintf("%.3f", 1000 * cpuk[k] / msgk[k]) : "-")
                }
                printf "\n"
            }
            printf "%-12s", "all loads"
            for (c = 1; c <= nc; c++) if (cf[c] != "A")
                printf "  %-8s", (msgs[cf[c]] > 0 ? sprintf("%.3f", 1000 * cpu[cf[c]] / msgs[cf[c]]) : "-")
            printf "\n"
            printf "CPU seconds per 10,000 messages (all loads):"
            for (c = 1; c <= nc; c++) if (cf[c] != "A" && msgs[cf[c]] > 0)
                printf "  %s %.1f", cf[c], 10000 * cpu[cf[c]] / msgs[cf[c]]
            printf "\n\nPeak RSS (VmHWM) after the throughput runs: tlsguard C %.1f MiB, D %.1f MiB\n",
                hwm_c / 1024, hwm_d / 1024
        }' "$E2E/results.tsv"
}

idle_sessions() {
    local n=$IDLE cfg=D pid=$TGD_PID before line hwm rss
    [ "$n" -gt 0 ] || return 0
    wait_queue_empty
    before=$(vm_kib "$pid" VmRSS)
    "$TLSLOAD" -I -p "${PORT[$cfg]}" -c "$n" -T 300 >"$E2E/idle.log" 2>&1 &
    IDLE_PID=$!
    local end=$((SECONDS + 310))
    while [ "$SECONDS" -lt "$end" ] && ! grep -q 'idle established' "$E2E/idle.log"; do
        kill -0 "$IDLE_PID" 2>/dev/null || break
        sleep 0.5
    done
    line=$(grep 'idle established' "$E2E/idle.log" || true)
    [ -n "$line" ] || { cat "$E2E/idle.log" >&2; fail "idle sessions were not established"; }
    # Every established session went through connect and EHLO in the milter: its thread and
    # state exist now.
    sleep 2
    rss=$(vm_kib "$pid" VmRSS)
    hwm=$(vm_kib "$pid" VmHWM)
    local threads
    threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
    kill "$IDLE_PID" 2>/dev/null
    wait "$IDLE_PID" 2>/dev/null || true
    IDLE_PID=""
    {
        printf '\nIdle sessions: %s (%s)\n' "$n" "${line#tlsload: idle }"
        awk -v c="$cfg" -v b="$before" -v r="$rss" -v t="$threads" -v h="$hwm" 'BEGIN {
            printf "tlsguard %s: VmRSS %.1f MiB before, %.1f MiB with them attached (%d threads), VmHWM %.1f MiB\n",
                c, b / 1024, r / 1024, t, h / 1024 }'
    } | tee -a "$E2E/summary.txt"
}

recorder_bench() {
    mkdir -p "$E2E/recorder"
    printf '\nRecorder alone (bench/recorder_bench.c; %s records, 4 producer threads):\n' \
        "$RECORDER_RECORDS" | tee -a "$E2E/summary.txt"
    "$RECORDER_BENCH" -d "$E2E/recorder" -n "$RECORDER_RECORDS" -t 4 -r 25000 \
        -s "$RECORDER_SECS" 2>"$E2E/recorder.log" | sed 's/^recorder_bench: /  /' |
        tee -a "$E2E/summary.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || { cat "$E2E/recorder.log" >&2; fail "recorder_bench"; }
}

# perf (software clock, so no hardware counters are needed) on the milter of each configuration
# in $PROFILE_CONFIGS under one more run of each load at $PROFILE_CONC sessions: self time by
# shared object and symbol, by object alone, and by thread (the recorder's writer is one).
perf_top() { # DATA SORT LINES
    perf report -i "$1" --stdio --no-children --sort "$2" 2>/dev/null |
        awk -v n="$3" '!/^#/ && NF && c++ < n' || true
}

profile_milters() {
    command -v perf >/dev/null || { say "perf not installed: no profile"; return 0; }
    local load cfg pid msgs f
    for cfg in $PROFILE_CONFIGS; do
        pid=$(milter_pid "$cfg")
        [ -n "$pid" ] || continue
        for load in $LOADS; do
            [ "$load" = plain ] && msgs=$PLAIN_MSGS || msgs=$TLS_MSGS
            f=$E2E/profile-$cfg-$load-$PROFILE_CONC.txt
            wait_queue_empty
            perf record -q -F 999 -e cpu-clock -p "$pid" -o "$E2E/perf.data" \
                >"$E2E/perf.log" 2>&1 &
            PERF_PID=$!
            sleep 0.5
            local c0 c1
            c0=$(cpu_ticks "$pid")
            run_load "$load" "$PROFILE_CONC" "$cfg" "$msgs" >/dev/null
            c1=$(cpu_ticks "$pid")
            kill -INT "$PERF_PID"
            wait "$PERF_PID" 2>/dev/null || true
            PERF_PID=""
            {
                printf '# perf record -F 999 -e cpu-clock -p <%s milter>, %s/%s, %s messages, %.2f CPU s\n' \
                    "$cfg" "$load" "$PROFILE_CONC" "$msgs" "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { print (b - a) / t }')"
                printf '\n## by shared object\n'
                perf_top "$E2E/perf.data" dso 15
                printf '\n## by thread (the busiest), and by object within each thread\n'
                perf_top "$E2E/perf.data" pid,dso 16
                printf '\n## by symbol (self)\n'
                perf_top "$E2E/perf.data" dso,sym 40
            } >"$f"
            say "profile of the $cfg milter under $load/$PROFILE_CONC: $f"
        done
    done
}

# System calls of each profiled milter per message (strace -c -f), under a short plaintext run
# at $PROFILE_CONC sessions: how many wake-ups (poll, read, write, futex) and thread creations
# (clone3) a message costs. strace slows the milter down; only the counts matter.
syscalls_milters() {
    command -v strace >/dev/null || { say "strace not installed: no system call counts"; return 0; }
    local cfg pid n=300 f
    for cfg in $PROFILE_CONFIGS; do
        pid=$(milter_pid "$cfg")
        [ -n "$pid" ] || continue
        f=$E2E/syscalls-$cfg.txt
        wait_queue_empty
        strace -f -c -p "$pid" -o "$E2E/strace.out" >/dev/null 2>&1 &
        PERF_PID=$!
        sleep 1
        run_load plain "$PROFILE_CONC" "$cfg" "$n" >/dev/null
        sleep 0.5
        kill -INT "$PERF_PID"
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
        {
            printf '# strace -c -f -p <%s milter>, plain/%s, %s messages: calls per message\n' \
                "$cfg" "$PROFILE_CONC" "$n"
            awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
                    calls = $4; name = $NF
                    printf "%-16s %8.2f\n", name, calls / n; total += calls
                }
                END { printf "%-16s %8.2f\n", "total", total / n }' "$E2E/strace.out" | sort -k2 -rn | head -n 16
        } >"$f"
        say "system calls of the $cfg milter per message: $f"
    done
}

main() {
    [ "$(id -u)" = 0 ] || { echo "bench/run.sh runs as root (Postfix)" >&2; exit 1; }
    local t
    for t in postfix smtp-source smtp-sink cmake cc nsd ldns-signzone; do
        command -v "$t" >/dev/null || { echo "bench: $t not installed" >&2; exit 1; }
    done
    [ -x "$TLSGUARD" ] || { echo "bench: $TLSGUARD not found (build first, or set TLSGUARD)" >&2; exit 1; }
    E2E=$(mktemp -d /tmp/tlsguard-bench.XXXXXX)
    chmod 755 "$E2E"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    PFDIR=$E2E/postfix
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    local started=$SECONDS

    say "tlsguard benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -r)"
    say "tlsguard: $TLSGUARD ($("$TLSGUARD" version 2>/dev/null | head -n 1 || true)); Postfix $(postconf -dh mail_version 2>/dev/null)"
    say "rounds $ROUNDS; messages per run: plaintext $PLAIN_MSGS, STARTTLS $TLS_MSGS; sessions $CONCS; DANE share $DANE_PCT%; body $BODY bytes; tlsguard log_level $TG_LOG_LEVEL"
    say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    build_tools
    make_certs
    dns_start
    start_milters
    start_postfix_bench
    say "configuration D: $D_RULES rules; ports A ${PORT[A]} B ${PORT[B]} C ${PORT[C]} D ${PORT[D]}"
    warm_up
    printf 'round\tload\tconc\tconfig\tmessages\tseconds\trate\tmilter_cpu_s\tmachine_busy_pct\n' \
        >"$E2E/results.tsv.head"
    : >"$E2E/results.tsv"

    local round load conc cfg
    for round in $(seq 1 "$ROUNDS"); do
        for load in $LOADS; do
            for conc in $CONCS; do
                for cfg in $CONFIGS; do
                    measure "$load" "$conc" "$cfg" "$round"
                done
            done
        done
    done
    echo
    summarize | tee "$E2E/summary.txt"
    idle_sessions
    [ "$PROFILE" != 1 ] || { profile_milters; syscalls_milters; }
    [ "$RECORDER" = 0 ] || recorder_bench
    cat "$E2E/results.tsv.head" "$E2E/results.tsv" >"$E2E/results.tsv.new" &&
        mv "$E2E/results.tsv.new" "$E2E/results.tsv"
    say ""
    say "load average after: $(cut -d' ' -f1-3 /proc/loadavg); total $((SECONDS - started)) s"
    [ -z "$OUT" ] || say "results, summary and logs: $OUT"
}

main "$@"
