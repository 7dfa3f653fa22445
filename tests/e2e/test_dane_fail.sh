#!/bin/bash
# SPDX-License-Identifier: MIT
# DNS failures are never a pass: the real Postfix, tlsguard's resolver on
# the signed test DNS of tests/dns, `rcpt:DOMAIN dane` rules. A lookup that fails behind a CNAME
# (the MX host's name, the TLSA name) defers the recipient with 451 4.7.5 and the recipients row
# says which lookup failed; an MX RRset with more hosts than tlsguard considers (16) is sorted
# before it is cut, so its two most preferred hosts, listed last in the answer and failing, are
# the ones that count. `tlsguard explain` and `tlsguard probe` say the same.
# cnamelookup: an MX host whose address answer is insecure and came through a CNAME; whether its
# TLSA records apply depends on that CNAME being secure, and the lookup of the CNAME fails
# (libunbound's cache no longer holds it, as under load; the server answers it SERVFAIL).
# shellcheck disable=SC2086 # $Z is one word
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../dns/dnslib.sh"
e2e_init
T0=$SECONDS
[ -z "$E2E_VALGRIND" ] || DNS_MAX_RTT=$((1000 * E2E_TIME_FACTOR))
dns_start
Z=$DNS_ZONE

# The test DNS answers as the cases need (else the checks below prove nothing).
dns_expect mx.cnamefail.$Z A rcode=SERVFAIL havedata=0
dns_expect mx.cnamefail.$Z CNAME status=secure "data=host.servfail.$Z."
dns_expect mx.cnamebogus.$Z A status=bogus "canonname=mx.bogus.$Z."
dns_expect _25._tcp.mx.tlsacnamefail.$Z TLSA rcode=SERVFAIL havedata=0
dns_expect _25._tcp.mx.tlsacnamebogus.$Z TLSA status=bogus "canonname=_25._tcp.mx.bogus.$Z."
dns_expect mx.cnamenx.$Z A status=secure rcode=NXDOMAIN "canonname=nothere.cnamenx.$Z."
dns_expect mx.cnameinsecure.$Z A status=insecure "canonname=mx.insecure.$Z."
dns_expect _25._tcp.mx.cnameinsecure.$Z TLSA status=secure "data=3:1:1:$DNS_EE_SPKI"
# libunbound without a cache (else it answers the CNAME query from the address lookup's answer).
NOCACHE=$E2E/unbound-nocache.conf
sed 's/^server:$/server:\n    rrset-cache-size: 0\n    msg-cache-size: 0/' "$DNS_UNBOUND_CONF" >"$NOCACHE"
line=$("$DNSQ" -c "$NOCACHE" -a "$DNS_TA" mx.cnameq.$Z A mx.cnameq.$Z CNAME | tr '\n' '~')
[[ "$line" == "status=insecure rcode=NOERROR havedata=1 nxdomain=0 canonname=mx.insecure.$Z. "*"~status=insecure rcode=SERVFAIL "* ]] ||
    fail "mx.cnameq.$Z: want an address through the CNAME, then SERVFAIL for the CNAME: $line"
pass "mx.cnameq.$Z: A insecure through a CNAME, CNAME lookup SERVFAIL (resolver without cache)"
# 20 hosts; the answer lists the 18 of preference 50 first, the two most preferred last.
dns_expect manymx.$Z MX status=secure "data=50:h18.manymx.$Z.,50:h17.manymx.$Z.,*,50:h01.manymx.$Z.,2:mx.tlsabogus.$Z.,1:mx.cnamefail.$Z."

CASES="cnamefail cnamebogus cnamelookup tlsacnamefail tlsacnamebogus manymx cnameinsecure cnamenx"
for c in $CASES; do
    printf 'rcpt:%s.%s dane\n' "$c" "$Z"
done | write_policy
write_conf dns_trust_anchor="$DNS_TA" dns_unbound_conf="$NOCACHE" dns_timeout="$(e2e_secs 1)"
start_tlsguard
start_postfix

# What each recipient must get: the reason (a glob; the validator's text varies), and the
# recipients.dane summary (a glob).
BOGUS_WHY="DNSSEC bogus (validation failure <*>: *no keys have a DS*"
declare -A WHY=(
    [cnamefail]="address lookup for mx.cnamefail.$Z: SERVFAIL (rcode 2)"
    [cnamebogus]="address lookup for mx.cnamebogus.$Z: $BOGUS_WHY"
    [cnamelookup]="CNAME lookup for mx.cnameq.$Z: SERVFAIL (rcode 2)"
    [tlsacnamefail]="TLSA lookup _25._tcp.mx.tlsacnamefail.$Z: SERVFAIL (rcode 2)"
    [tlsacnamebogus]="TLSA lookup _25._tcp.mx.tlsacnamebogus.$Z: $BOGUS_WHY"
    [manymx]="address lookup for mx.cnamefail.$Z: SERVFAIL (rcode 2)"
    [cnameinsecure]=""
    [cnamenx]="" # a secure denial is no lookup failure: a host without address, no TLSA
)
MANY="mx=secure hosts=mx.cnamefail.$Z:addr-error,mx.tlsabogus.$Z:tlsa-bogus"
for i in 01 02 03 04 05 06 07 08 09 10 11; do # as many as fit; the list is cut to fit 512 bytes
    MANY="$MANY,h$i.manymx.$Z:no-tlsa"
done
declare -A SUMMARY=(
    [cnamefail]="mx=secure hosts=mx.cnamefail.$Z:addr-error"
    [cnamebogus]="mx=secure hosts=mx.cnamebogus.$Z:addr-error"
    [cnamelookup]="mx=secure hosts=mx.cnameq.$Z:cname-error"
    [tlsacnamefail]="mx=secure hosts=mx.tlsacnamefail.$Z:tlsa-error"
    [tlsacnamebogus]="mx=secure hosts=mx.tlsacnamebogus.$Z:tlsa-bogus"
    [manymx]="$MANY,* dropped=4"
    [cnameinsecure]="mx=secure hosts=mx.cnameinsecure.$Z:dane"
    [cnamenx]="mx=secure hosts=mx.cnamenx.$Z:no-tlsa"
)

# One transaction, every case a recipient (swaks goes on after a refused RCPT).
to=$(printf 'u@%s.'"$Z"',' $CASES)
send_mail --from f@x.example --to "${to%,}" --header "Subject: dane-fail" || true
for c in $CASES; do
    reply=$(sed -n -E "/^ *-> RCPT TO:<u@$c.$Z>/{n;s/^ *<[-~*]+ +//p}" "$E2E/last.txt" | tr -d '\r')
    row=$(sql "SELECT r.verdict, r.action, r.reason, r.dane FROM recipients r
               JOIN messages m ON m.id = r.message_id WHERE m.mail_from = 'f@x.example'
               AND r.rcpt = 'u@$c.$Z'")
    IFS='|' read -r verdict action reason dane <<<"$row"
    # shellcheck disable=SC2053 # globs on purpose
    if [ -n "${WHY[$c]}" ]; then
        [[ "$reply" == "451 4.7.5 DNSSEC-valid DNS required for mail to $c.$Z (rule rcpt:$c.$Z): "${WHY[$c]} ]] ||
            fail "$c: RCPT reply '$reply', want '451 4.7.5 ... ${WHY[$c]}'"
        [ "$verdict|$action" = "fail|defer" ] || fail "$c: recipients row '$row', want fail|defer"
        [[ "$reason" == ${WHY[$c]} ]] || fail "$c: recipients.reason '$reason', want '${WHY[$c]}'"
    else
        [ "$reply" = "250 2.1.5 Ok" ] || fail "$c: RCPT reply '$reply', want 250 2.1.5 Ok"
        [ "$verdict|$action|$reason" = "pass|accept|NULL" ] || fail "$c: recipients row '$row'"
    fi
    [[ "$dane" == ${SUMMARY[$c]} ]] || fail "$c: recipients.dane '$dane', want '${SUMMARY[$c]}'"
    pass "$c: ${reply:0:150} / dane=\"${dane:0:90}$([ ${#dane} -le 90 ] || echo ...)\""
done
f=$(wait_for_delivery dane-fail)
expect_rcpts "$f" "u@cnameinsecure.$Z u@cnamenx.$Z" "delivered to cnameinsecure and cnamenx only"

# explain: the daemon's decision, from the same code and DNS.
out=$("$TLSGUARD" explain -c "$CONF" --from a@x.example --rcpt u@manymx.$Z --rcpt u@cnamefail.$Z \
    --rcpt u@cnamelookup.$Z --rcpt u@tlsacnamefail.$Z 2>"$E2E/explain.err") || true
! grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$E2E/explain.err" || fail "explain: sanitizer report"
for c in manymx cnamefail cnamelookup tlsacnamefail; do
    line=$(printf '%s\n' "$out" | grep -F "rcpt <u@$c.$Z>: ") || fail "explain: no line for $c: $out"
    [[ "$line" == *"verdict=fail action=defer reason=\"${WHY[$c]}\""* ]] ||
        fail "explain $c: $line"
    pass "explain $c: defer, ${WHY[$c]}"
done

# probe: the most preferred hosts are the ones probed, their errors named; exit 2 (tempfail).
rc=0
"$TLSGUARD" probe -c "$CONF" manymx.$Z >"$E2E/probe.out" 2>"$E2E/probe.err" || rc=$?
cat "$E2E/probe.out" "$E2E/probe.err" >>"$E2E/last.txt"
[ "$rc" = 2 ] || fail "probe manymx: exit $rc, want 2: $(cat "$E2E/probe.out" "$E2E/probe.err")"
for want in "mx: secure, 16 host(s)" "mx: 4 less preferred host(s) beyond the limit of 16 not considered" \
    "host mx.cnamefail.$Z preference 1" "host mx.tlsabogus.$Z preference 2" \
    "verdict: tempfail: mx.cnamefail.$Z: "; do
    grep -qF -- "$want" "$E2E/probe.out" || fail "probe manymx: no '$want': $(cat "$E2E/probe.out")"
done
! grep -q "host h1[5-8].manymx" "$E2E/probe.out" || fail "probe manymx: a dropped host was probed"
pass "probe manymx: exit 2, the two most preferred hosts probed and their error named"

rc=0
"$TLSGUARD" probe -c "$CONF" cnamelookup.$Z >"$E2E/probe.out" 2>"$E2E/probe.err" || rc=$?
cat "$E2E/probe.out" "$E2E/probe.err" >>"$E2E/last.txt"
[ "$rc" = 2 ] || fail "probe cnamelookup: exit $rc, want 2: $(cat "$E2E/probe.out" "$E2E/probe.err")"
want="verdict: tempfail: mx.cnameq.$Z: CNAME lookup of mx.cnameq.$Z: SERVFAIL (rcode 2)"
grep -qF -- "$want" "$E2E/probe.out" || fail "probe cnamelookup: no '$want': $(cat "$E2E/probe.out")"
pass "probe cnamelookup: exit 2, the failed CNAME lookup named"

kill -0 "$TG_PID" 2>/dev/null || fail "tlsguard died"
info "took $((SECONDS - T0)) s"
