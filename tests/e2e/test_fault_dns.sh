#!/bin/bash
# SPDX-License-Identifier: MIT
# The DNS server stops mid-run. tlsguard resolves
# against the signed test DNS of tests/dns (nsd on loopback), with one rule,
# `rcpt:.dane.example dane-only`, and dns_timeout = 2. Every message has a recipient under that
# rule and one at y.example (no rule).
#  1. DNS up: 40 messages to ok.dane.example: both recipients accepted (ok's answers cached).
#  2. A load of 240 messages to ok.dane.example (cached, TTL 300 s) runs while nsd is stopped
#     in its middle: all accepted for both recipients (cached answers are used as they are).
#  3. With nsd down, 30 messages whose dane-only recipient is at a domain not looked up before
#     (ta, nomx, cname: DANE-valid when the DNS answers): that recipient gets 451 4.7.5 naming
#     the domain, the rule and the DNS failure (timed out or SERVFAIL), within dns_timeout; the
#     y.example recipient is accepted and only it is delivered; recipients rows say defer with
#     the reason and the dane summary. 30 messages to y.example alone flow meanwhile without
#     delay.
#  4. nsd back: the deferred recipients, sent again (the sender still has them), are accepted
#     within 30 s; in the end every recipient is delivered exactly once.
# shellcheck disable=SC2086 # $Z is one word
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../dns/dnslib.sh"
. "$(dirname "$0")/tools/faultlib.sh"
e2e_init
T0=$SECONDS
# Under valgrind, tlsguard's libunbound answers slowly: it may wait longer for a server, and the
# time bounds below (dns_timeout and what is measured against it) scale with e2e_secs.
[ -z "$E2E_VALGRIND" ] || DNS_MAX_RTT=$((1000 * E2E_TIME_FACTOR))
DNS_TIMEOUT=$(e2e_secs 2)
dns_start
Z=$DNS_ZONE
write_policy <<EOF
rcpt:.$Z dane-only
EOF
start_all "${DNS_TG_CONF[@]}" dns_timeout="$DNS_TIMEOUT"

# rcpt_replies NAME: "N ADDR CODE REST" for every RCPT of load NAME.
rcpt_replies() {
    awk -F'\t' '{ n = split($8, r, ";"); for (i = 1; i <= n; i++) { a = r[i]; sub(/=.*/, "", a); v = r[i]; sub(/^[^=]*=/, "", v); print $1, a, v } }' "$E2E/$1.log"
}

# delivered_to PREFIX: "ADDR COPIES" for every envelope recipient of the sink's PREFIX messages.
delivered_to() {
    grep -rlE "^Subject: $1-[0-9]+" "$SINKDIR" 2>/dev/null | xargs -r grep -hiE '^X-Rcpt-Args: ' |
        sed -E 's/^X-Rcpt-Args: *(TO:)?<([^>]*)>.*/\2/I' | sort | uniq -c | awk '{ print $2, $1 }'
}

stop_nsd() {
    local pid i
    pid=$(tr -dc 0-9 <"$DNS_DIR/nsd.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || fail "cannot stop nsd (pidfile $DNS_DIR/nsd.pid)"
    for ((i = 0; i < 50; i++)); do
        port_used "$DNS_PORT" || return 0
        sleep 0.1
    done
    fail "nsd still listens on $DNS_PORT"
}

# --- 1. DNS up
load up --count 40 --concurrency 5 --prefix dnsup --from "up%d@x.example" --to "u%d@ok.$Z,p%d@y.example"
[ "$(load_count up accepted)" = 40 ] || fail "DNS up: $(load_count up accepted) of 40 accepted: $(head -n 3 "$E2E/up.log")"
[ "$(rcpt_replies up | awk '$3 != 250' | wc -l)" = 0 ] ||
    fail "DNS up: recipients refused: $(rcpt_replies up | awk '$3 != 250' | head -n 3)"
pass "DNS up: 40 messages, both recipients accepted (ok.$Z passes dane-only)"

# --- 2. nsd stopped in the middle of a load to the cached domain
load_bg mid --count 240 --first 1001 --concurrency 6 --per-session 4 --rate 40 --prefix dnsmid \
    --from "mid%d@x.example" --to "u%d@ok.$Z,p%d@y.example" --deadline 60
mid_pid=$LOAD_PID
for ((i = 0; i < $(e2e_secs 10) * 10; i++)); do
    [ "$(load_count mid accepted)" -ge 60 ] && break
    sleep 0.1
done
[ "$i" -lt "$(e2e_secs 10)0" ] || fail "the load to the cached domain did not get going"
stop_nsd
STOP_AT=$(epoch)
line=$(dns_query -t 1 ta.$Z MX 2>&1 || true)
case "$line" in status=secure*) fail "nsd stopped but ta.$Z MX still resolves: $line" ;; esac
pass "nsd stopped after $(load_count mid accepted) messages of the load: a fresh resolver gets ${line%% *}"

# --- 3. with nsd down: new dane-only domains defer, y.example flows
load_bg plain --count 30 --first 3001 --concurrency 3 --per-session 2 --rate 10 --prefix dnsplain \
    --from "plain%d@x.example" --to "p%d@y.example" --deadline 60
plain_pid=$LOAD_PID
perl "$SMTPLOAD" --port "$SMTP_PORT" --log "$E2E/down.log" --count 30 --first 2001 \
    --concurrency 10 --prefix dnsdown --from "down%d@x.example" \
    --to "u%d@%{ta|nomx|cname}.$Z,p%d@y.example" --deadline "$(e2e_secs 60)" 2>"$E2E/down.summary" || fail "load down: the driver failed"
info "$(cat "$E2E/down.summary")"
LOAD_PID=$plain_pid
load_wait plain
LOAD_PID=$mid_pid
load_wait mid

expect_load mid 240
[ "$(load_count mid accepted)" = 240 ] || fail "cached domain: $(load_count mid accepted) of 240 accepted"
bad=$(rcpt_replies mid | awk '$3 != 250')
[ -z "$bad" ] || fail "cached domain: recipients refused with nsd down: $(printf '%s\n' "$bad" | head -n 3)"
after=$(awk -F'\t' -v t="$STOP_AT" '$7 > t { n++ } END { print n + 0 }' "$E2E/mid.log")
[ "$after" -gt 0 ] || fail "cached domain: the load ended before nsd was stopped"
pass "cached domain: all 240 accepted for both recipients, $after of them after nsd stopped"

expect_load plain 30
[ "$(load_count plain accepted)" = 30 ] || fail "y.example alone: $(load_count plain accepted) of 30 accepted with nsd down"
slow=$(awk -F'\t' -v s="$DNS_TIMEOUT" '$7 - $6 > s { printf "%d took %.1f s; ", $1, $7 - $6 }' "$E2E/plain.log")
[ -z "$slow" ] || fail "y.example alone: messages slowed down by the DNS outage: $slow"
pass "y.example alone (no DANE rule): all 30 accepted with nsd down, each within $DNS_TIMEOUT s ($(awk -F'\t' '{ d = $7 - $6; if (d > m) m = d } END { printf "slowest %.2f s", m }' "$E2E/plain.log"))"

expect_load down 30
[ "$(load_count down accepted)" = 30 ] || fail "nsd down: $(load_count down accepted) of 30 messages accepted for y.example: $(awk -F'\t' '$2 != "accepted"' "$E2E/down.log" | head -n 3)"
rcpt_replies down >"$E2E/down.rcpts"
bad=$(awk '$2 ~ /@y\.example$/ && $3 != 250' "$E2E/down.rcpts")
[ -z "$bad" ] || fail "nsd down: y.example recipients refused: $(printf '%s\n' "$bad" | head -n 3)"
# 451 4.7.5 DANE required for mail to D (rule rcpt:.dane.example): MX lookup for D: timed out|SERVFAIL...
bad=$(awk -v z="$Z" '$2 !~ /@y\.example$/ {
        split($2, a, "@"); d = a[2]
        want = "^[0-9]+ u[0-9]+@" d " 451 4\\.7\\.5 DANE required for mail to " d " \\(rule rcpt:\\." z "\\): MX lookup for " d ": (timed out|SERVFAIL)"
        if ($0 !~ want) print }' "$E2E/down.rcpts")
[ -z "$bad" ] || fail "nsd down: dane-only recipients not deferred with the DNS failure as the reason: $(printf '%s\n' "$bad" | head -n 3)"
pass "nsd down: 30 dane-only recipients at ta/nomx/cname got 451 4.7.5 with the reason, the y.example ones 250"
info "reasons: $(awk '$2 !~ /@y\.example$/ { sub(/.*: /, ""); print }' "$E2E/down.rcpts" | sort | uniq -c | tr -s ' \n' ' ')"
slowest=$(awk -F'\t' '{ d = $7 - $6; if (d > m) m = d } END { printf "%.1f", m }' "$E2E/down.log")
awk -v s="$slowest" -v t="$DNS_TIMEOUT" 'BEGIN { exit !(s <= 2 * t) }' ||
    fail "nsd down: a message took $slowest s (dns_timeout is $DNS_TIMEOUT s)"
pass "nsd down: no transaction waited much beyond dns_timeout (slowest $slowest s)"

wait_sink dnsdown 30 60
delivered_to dnsdown >"$E2E/down.delivered"
want=$(for ((n = 2001; n <= 2030; n++)); do echo "p$n@y.example 1"; done | sort)
[ "$(sort "$E2E/down.delivered")" = "$want" ] ||
    fail "nsd down: the sink got other recipients than the 30 y.example ones once each: $(head -n 5 "$E2E/down.delivered")"
pass "nsd down: only the y.example recipients delivered, once each"

sql_is "SELECT count(*), group_concat(DISTINCT r.level || ' ' || r.verdict || ' ' || r.action)
          FROM recipients r JOIN messages m ON m.id = r.message_id
         WHERE m.mail_from LIKE 'down%' AND r.rcpt LIKE '%.$Z'
           AND (r.reason LIKE '%: timed out' OR r.reason LIKE '%: SERVFAIL%')
           AND (r.dane = 'mx=timeout' OR r.dane = 'mx=fail')" "30|dane-only fail defer" \
    "nsd down: the 30 deferrals recorded with level, verdict, action, reason and dane summary"
sql_is "SELECT count(*), group_concat(DISTINCT coalesce(r.rule, '-') || ' ' || r.action)
          FROM recipients r JOIN messages m ON m.id = r.message_id
         WHERE m.mail_from LIKE 'down%' AND r.rcpt LIKE '%@y.example'" "30|- accept" \
    "nsd down: the y.example recipients recorded as accepted, no rule"
expect_log "nsd down: a deferral logged with its reason" "level=dane-only" "action=defer" "MX lookup for"

# --- 4. nsd back: the deferred recipients go through when the sender tries again
dns_spawn "$DNS_PORT" nsd nsd -d -c "$DNS_DIR/nsd.conf"
awk -F'\t' '{ print $1 }' "$E2E/down.log" >"$E2E/retry.nums"
for ((try = 1; try <= 15; try++)); do
    perl "$SMTPLOAD" --port "$SMTP_PORT" --log "$E2E/retry$try.log" --only "$E2E/retry.nums" \
        --concurrency 10 --prefix dnsdown --from "down%d@x.example" --to "u%d@%{ta|nomx|cname}.$Z" \
        --deadline "$(e2e_secs 30)" \
        2>"$E2E/retry$try.summary" || fail "retry: the driver failed"
    awk -F'\t' '$2 != "accepted" { print $1 }' "$E2E/retry$try.log" >"$E2E/retry.nums"
    [ -s "$E2E/retry.nums" ] || break
    # only deferrals are worth another try
    [ -z "$(awk -F'\t' '$2 != "accepted" && $2 != "deferred"' "$E2E/retry$try.log")" ] || break
    sleep 2
done
[ ! -s "$E2E/retry.nums" ] ||
    fail "nsd back: $(wc -l <"$E2E/retry.nums") recipients still not accepted after $try tries: $(awk -F'\t' '$2 != "accepted"' "$E2E/retry$try.log" | head -n 3)"
pass "nsd back: the 30 deferred dane-only recipients accepted when sent again ($try tries)"
wait_sink dnsdown 30 60
delivered_to dnsdown >"$E2E/all.delivered"
want=$( (for ((n = 2001; n <= 2030; n++)); do
    echo "p$n@y.example 1"
    case $(((n) % 3)) in 0) d=ta ;; 1) d=nomx ;; 2) d=cname ;; esac
    echo "u$n@$d.$Z 1"
done) | sort)
[ "$(sort "$E2E/all.delivered")" = "$want" ] ||
    fail "in the end not every recipient was delivered exactly once: $(diff <(printf '%s\n' "$want") <(sort "$E2E/all.delivered") | head -n 10)"
pass "in the end all 60 recipients of the 30 messages delivered, each exactly once"
kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died"
info "took $((SECONDS - T0)) s"
