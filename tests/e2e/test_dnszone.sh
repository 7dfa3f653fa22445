#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: no-memcheck
# The DNSSEC test DNS of tests/dns (nsd + ldns-signzone on loopback) answers every DANE case as
# designed, seen through libunbound configured the way tlsguard will be (dns_unbound_conf +
# dns_trust_anchor): secure, insecure, bogus (wrong DS, expired, tampered), SERVFAIL and a server
# that never answers. If this fails, every DANE test is meaningless.
# shellcheck disable=SC2086 # $Z, $A and the digests are single words
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../dns/dnslib.sh"
e2e_init
PROBE_PORT=$(free_port)
dns_start "$PROBE_PORT"

Z=$DNS_ZONE
EE=$DNS_EE_SPKI OTHER=$DNS_OTHER_SPKI CA=$DNS_CA_SHA256
A=$DNS_HOST_ADDR

# The published digests are those of the exported certificates.
[ "$(dns_spki_sha256 "$DNS_CERT_EE_CRT")" = "$EE" ] || fail "EE digest"
openssl verify -CAfile "$DNS_CERT_CA_CRT" "$DNS_CERT_TA_CRT" >/dev/null 2>&1 ||
    fail "the TA leaf is not issued by the DANE test CA"
[ "$(grep -c BEGIN "$DNS_CERT_TA_CHAIN")" = 2 ] || fail "TA chain file"
pass "certificates: EE, OTHER, CA, TA leaf and chain"

# ok: secure MX, DANE-EE, for port 25 and the extra port
dns_expect ok.$Z MX status=secure rcode=NOERROR "data=10:mx.ok.$Z."
dns_expect mx.ok.$Z A status=secure data=$A
dns_expect mx.ok.$Z AAAA status=secure havedata=0 nxdomain=0
dns_expect _25._tcp.mx.ok.$Z TLSA status=secure canonname=- "data=3:1:1:$EE"
dns_expect "_$PROBE_PORT._tcp.mx.ok.$Z" TLSA status=secure "data=3:1:1:$EE"

# ta: the TLSA name is a CNAME to a DANE-TA record of the test CA
dns_expect ta.$Z MX status=secure "data=10:mx.ta.$Z."
dns_expect mx.ta.$Z A status=secure data=$A
dns_expect _25._tcp.mx.ta.$Z TLSA status=secure "canonname=tlsa._dane.ta.$Z." "data=2:0:1:$CA"
dns_expect "_$PROBE_PORT._tcp.mx.ta.$Z" TLSA status=secure "canonname=tlsa._dane.ta.$Z." "data=2:0:1:$CA"

# notlsa: secure denial of the TLSA name
dns_expect notlsa.$Z MX status=secure "data=10:mx.notlsa.$Z."
dns_expect mx.notlsa.$Z A status=secure data=$A
dns_expect _25._tcp.mx.notlsa.$Z TLSA status=secure rcode=NXDOMAIN nxdomain=1 havedata=0

# pkix: usages 0 and 1 only
dns_expect pkix.$Z MX status=secure "data=10:mx.pkix.$Z."
dns_expect _25._tcp.mx.pkix.$Z TLSA status=secure "data=*0:0:1:$CA*" "data=*1:1:1:$EE*"
dns_expect _25._tcp.mx.pkix.$Z TLSA "data=[01]:[01]:1:*,[01]:[01]:1:*"

# nomx: secure NODATA for MX, the domain itself has A and TLSA
dns_expect nomx.$Z MX status=secure rcode=NOERROR havedata=0 nxdomain=0
dns_expect nomx.$Z A status=secure data=$A
dns_expect _25._tcp.nomx.$Z TLSA status=secure "data=3:1:1:$EE"

# nullmx
dns_expect nullmx.$Z MX status=secure "data=0:."

# cname: MX target is a CNAME; TLSA at the expanded name, a decoy at the original one
dns_expect cname.$Z MX status=secure "data=10:mx.cname.$Z."
dns_expect mx.cname.$Z A status=secure "canonname=host.cname.$Z." data=$A
dns_expect _25._tcp.host.cname.$Z TLSA status=secure "data=3:1:1:$EE"
dns_expect _25._tcp.mx.cname.$Z TLSA status=secure "data=3:1:1:$OTHER"

# badcert: DANE-EE of a key no server uses
dns_expect _25._tcp.mx.badcert.$Z TLSA status=secure "data=3:1:1:$OTHER"

# tlsabogus / addrbogus: records changed after signing
dns_expect tlsabogus.$Z MX status=secure "data=10:mx.tlsabogus.$Z."
dns_expect mx.tlsabogus.$Z A status=secure data=$A
dns_expect _25._tcp.mx.tlsabogus.$Z TLSA status=bogus "~signature verification failed"
dns_expect addrbogus.$Z MX status=secure "data=10:mx.addrbogus.$Z."
dns_expect mx.addrbogus.$Z A status=bogus "~signature verification failed"
dns_expect _25._tcp.mx.addrbogus.$Z TLSA status=secure "data=3:1:1:$EE"

# bogus: the parent's DS is not that of the child's key
dns_expect bogus.$Z MX status=bogus "~no keys have a DS"
dns_expect mx.bogus.$Z A status=bogus
dns_expect _25._tcp.mx.bogus.$Z TLSA status=bogus

# expired: signatures of 2020
dns_expect expired.$Z MX status=bogus "~signature expired"
dns_expect mx.expired.$Z A status=bogus
dns_expect _25._tcp.mx.expired.$Z TLSA status=bogus

# insecure: unsigned delegation; its TLSA record is there but insecure
dns_expect insecure.$Z MX status=insecure rcode=NOERROR "data=10:mx.insecure.$Z."
dns_expect mx.insecure.$Z A status=insecure data=$A
dns_expect _25._tcp.mx.insecure.$Z TLSA status=insecure "data=3:1:1:$EE"
dns_expect insecuremx.$Z MX status=secure "data=10:mx.insecure.$Z."

# two MX hosts
dns_expect mixed.$Z MX status=secure "data=*10:mx.tlsabogus.$Z.*" "data=*20:mx.ok.$Z.*"
dns_expect twomx.$Z MX status=secure "data=*10:mx.notlsa.$Z.*" "data=*20:mx.ok.$Z.*"

# nonexistent name: secure NXDOMAIN
dns_expect nosuch.$Z MX status=secure rcode=NXDOMAIN nxdomain=1

# servfail: the delegated server answers SERVFAIL at once
dns_expect servfail.$Z MX status=insecure rcode=SERVFAIL havedata=0 "elapsed=0.*"

# timeout: the delegated server never answers. Cut short by the caller (as tlsguard's
# dns_timeout does), or, given time, libunbound's own SERVFAIL after 2-4 s (infra-cache-max-rtt).
start=$SECONDS
dns_expect -t 1 timeout.$Z MX status=timeout
dns_expect -t 15 timeout.$Z MX rcode=SERVFAIL havedata=0 "elapsed=[1-9]*"
[ $((SECONDS - start)) -lt 12 ] || fail "timeout cases took $((SECONDS - start)) s"
pass "timeout cases took $((SECONDS - start)) s"

# tlsatimeout: MX and address fine, the TLSA lookup never answered
dns_expect tlsatimeout.$Z MX status=secure "data=10:mx.tlsatimeout.$Z."
dns_expect mx.tlsatimeout.$Z A status=secure data=$A
dns_expect -t 1 _25._tcp.mx.tlsatimeout.$Z TLSA status=timeout

# One context for a sequence, as in tlsguard: a dead server holds up nothing else, and the
# child zones (whose NS records name port 53) keep resolving through the stubs.
out=$(dns_query -t 1 ok.$Z MX timeout.$Z MX _25._tcp.mx.ok.$Z TLSA insecure.$Z MX \
    mx.insecure.$Z A bogus.$Z MX mx.ok.$Z A)
want='status=secure
status=timeout
status=secure
status=insecure
status=insecure
status=bogus
status=secure'
got=$(printf '%s\n' "$out" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "shared context: got
$out"
pass "shared context: secure, timeout, secure, insecure, insecure, bogus, secure"

# The trust anchor is what makes answers secure: another key's DS makes them bogus, and a
# context without an anchor sees them as insecure.
other_ta=$E2E/dns/other-ta.ds
awk '{ print "dane.example. 3600 IN DS " $5 " " $6 " " $7 " " "0000000000000000000000000000000000000000000000000000000000000000" }' \
    "$DNS_TA" >"$other_ta"
line=$("$DNSQ" -c "$DNS_UNBOUND_CONF" -a "$other_ta" ok.$Z MX)
case "$line" in status=bogus*) pass "wrong trust anchor: bogus" ;; *) fail "wrong trust anchor: $line" ;; esac
line=$("$DNSQ" -c "$DNS_UNBOUND_CONF" ok.$Z MX)
case "$line" in status=insecure*) pass "no trust anchor: insecure" ;; *) fail "no trust anchor: $line" ;; esac

# tlsguard's configuration lines
if [ "${DNS_TG_CONF[0]}" != "dns_trust_anchor=$DNS_TA" ] ||
    [ "${DNS_TG_CONF[1]}" != "dns_unbound_conf=$DNS_UNBOUND_CONF" ]; then
    fail "DNS_TG_CONF: ${DNS_TG_CONF[*]}"
fi
pass "DNS_TG_CONF: ${DNS_TG_CONF[*]}"
