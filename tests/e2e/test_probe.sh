#!/bin/bash
# SPDX-License-Identifier: MIT
# `tlsguard probe` against a real STARTTLS Postfix on loopback, with the DNSSEC test DNS of
# tests/dns publishing TLSA records for its ports. One Postfix, three smtpd listeners:
#   $SMTP_PORT   the DANE-EE certificate ($DNS_CERT_EE_*: the "3 1 1" of ok, cname, nomx)
#   $TA_PORT     the leaf issued by the DANE test CA, with the CA in the chain ("2 0 1" of ta)
#   $NOTLS_PORT  no STARTTLS at all
# and $DEAD_PORT, where nothing listens. Every port gets TLSA records (dns_start), and all the
# zone's mail hosts are 127.0.0.1, so `--port` picks the server. Checks exit status, the
# matched record and depth, the reasons, and that --json parses with the same facts.
# shellcheck disable=SC2086 # $Z is a single word
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../dns/dnslib.sh"
e2e_init
TA_PORT=$(free_port)
NOTLS_PORT=$(free_port)
DEAD_PORT=$(free_port)
# Under valgrind, tlsguard's libunbound answers slowly: it may wait longer for a server.
[ -z "$E2E_VALGRIND" ] || DNS_MAX_RTT=$((1000 * E2E_TIME_FACTOR))
dns_start "$SMTP_PORT" "$TA_PORT" "$NOTLS_PORT" "$DEAD_PORT"
Z=$DNS_ZONE
write_conf "${DNS_TG_CONF[@]}" dns_timeout="$(e2e_secs 2)"

# Later main.cf lines win: the main listener presents the DANE-EE certificate.
start_postfix --no-milter "smtpd_tls_cert_file = $DNS_CERT_EE_CRT" \
    "smtpd_tls_key_file = $DNS_CERT_EE_KEY"
cat >>"$PFDIR/etc/master.cf" <<EOF
127.0.0.1:$TA_PORT inet n - n - - smtpd -o smtpd_tls_cert_file=$DNS_CERT_TA_CHAIN -o smtpd_tls_key_file=$DNS_CERT_TA_KEY
127.0.0.1:$NOTLS_PORT inet n - n - - smtpd -o smtpd_tls_security_level=none
EOF
postfix -c "$PFDIR/etc" reload >>"$PFDIR/start.log" 2>&1 || fail "postfix reload"
wait_port "$TA_PORT" 15 || fail "the DANE-TA smtpd did not listen on $TA_PORT"
wait_port "$NOTLS_PORT" 15 || fail "the plaintext smtpd did not listen on $NOTLS_PORT"
port_used "$DEAD_PORT" && fail "something listens on $DEAD_PORT"
info "smtpd: DANE-EE $SMTP_PORT, DANE-TA $TA_PORT, no STARTTLS $NOTLS_PORT, nothing on $DEAD_PORT"

# probe WANT_STATUS ARGS...: runs the probe; output in $E2E/probe.out (stdout) and
# $E2E/probe.err. Fails on another status or on a sanitizer report.
probe() {
    local want=$1 rc=0
    shift
    "$TLSGUARD" probe "$@" >"$E2E/probe.out" 2>"$E2E/probe.err" || rc=$?
    {
        printf '\n===== tlsguard probe %s (exit %d)\n' "$*" "$rc"
        cat "$E2E/probe.out" "$E2E/probe.err"
    } >>"$E2E/last.txt"
    if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$E2E/probe.err"; then
        cat "$E2E/probe.err" >&2
        fail "probe $*: sanitizer report"
    fi
    [ "$rc" = "$want" ] || { cat "$E2E/probe.out" "$E2E/probe.err" >&2; fail "probe $*: exit $rc, want $want"; }
}

# has TEXT...: every TEXT is a line (fixed string) somewhere in the last probe's stdout.
has() {
    local t
    for t in "$@"; do
        grep -qF -- "$t" "$E2E/probe.out" || { cat "$E2E/probe.out" >&2; fail "probe output lacks: $t"; }
    done
}

: >"$E2E/last.txt"

# ok: DANE-EE 3 1 1 at the end entity.
probe 0 -c "$CONF" ok.$Z --port "$SMTP_PORT"
has "mx: secure, 1 host(s)" "host mx.ok.$Z preference 10" "address 127.0.0.1 secure" \
    "tlsa _$SMTP_PORT._tcp.mx.ok.$Z: secure, 1 record(s), 1 usable" "tlsa 3 1 1 $DNS_EE_SPKI usable" \
    "banner: 220 mx.tlsguard.test ESMTP test" "starttls: offered" "matched: TLSA 3 1 1 at depth 0" \
    "result: verified" "verdict: verified: all 1 MX host(s) verified"
grep -qE '^    tls: TLSv1\.[23] [A-Z0-9_-]+$' "$E2E/probe.out" || fail "ok: no TLS version and cipher line"
pass "ok: exit 0, TLSA 3 1 1 matched at depth 0, TLS version and cipher shown"

# ta: DANE-TA 2 0 1 through a CNAME'd TLSA name; the CA sits at depth 1 of the served chain,
# and the leaf's name is the MX host (a reference identifier).
probe 0 -c "$CONF" ta.$Z --port "$TA_PORT"
has "tlsa 2 0 1 $DNS_CA_SHA256 usable" "matched: TLSA 2 0 1 at depth 1" \
    "verdict: verified: all 1 MX host(s) verified"
pass "ta: exit 0, TLSA 2 0 1 matched at depth 1"

# The same 2 0 1 record against the self-signed DANE-EE server: no match.
probe 1 -c "$CONF" ta.$Z --port "$SMTP_PORT"
has "result: fail" "verdict: fail: mx.ta.$Z: 127.0.0.1: no TLSA record matched"
pass "ta against a certificate outside the CA: exit 1"

# cname: TLSA base is the CNAME target (its 3 1 1 matches; the decoy at the original name
# would not).
probe 0 -c "$CONF" cname.$Z --port "$SMTP_PORT"
has "tlsa _$SMTP_PORT._tcp.host.cname.$Z: secure" "matched: TLSA 3 1 1 at depth 0"
pass "cname: exit 0 with the TLSA base host.cname"

# nomx: the domain itself is the host.
probe 0 -c "$CONF" nomx.$Z --port "$SMTP_PORT"
has "no MX records: the domain itself is the host" "host nomx.$Z preference 0" "result: verified"
pass "nomx: implicit MX verified"

# badcert: the published key is not the server's.
probe 1 -c "$CONF" badcert.$Z --port "$SMTP_PORT"
has "tlsa 3 1 1 $DNS_OTHER_SPKI usable" "result: fail" \
    "error: no TLSA record matched: verify error 65 (no matching DANE TLSA records)" \
    "verdict: fail: mx.badcert.$Z: 127.0.0.1: no TLSA record matched: verify error 65"
grep -qE '^    tls: TLSv1\.[23] ' "$E2E/probe.out" || fail "badcert: TLS facts missing"
pass "badcert: exit 1, the verify error named, TLS facts shown"

# notlsa: no DANE, but the TLS facts.
probe 1 -c "$CONF" notlsa.$Z --port "$SMTP_PORT"
has "tlsa _$SMTP_PORT._tcp.mx.notlsa.$Z: secure NXDOMAIN" "dane: no" "starttls: offered" \
    "result: no-dane" "verdict: no-dane: no DANE: no MX host has usable TLSA records"
grep -qE '^    tls: TLSv1\.[23] ' "$E2E/probe.out" || fail "notlsa: TLS facts missing"
grep -qF 'matched:' "$E2E/probe.out" && fail "notlsa: a match reported"
pass "notlsa: exit 1 \"no DANE\", TLS facts shown"

# pkix: PKIX-TA/EE only: unusable, never handed to OpenSSL.
probe 1 -c "$CONF" pkix.$Z --port "$SMTP_PORT"
has "tlsa 0 0 1 $DNS_CA_SHA256 unusable" "tlsa 1 1 1 $DNS_EE_SPKI unusable" "dane: no" \
    "verdict: no-dane:"
pass "pkix: exit 1, records unusable"

# twomx: one host without TLSA, one verified: partial.
probe 1 -c "$CONF" twomx.$Z --port "$SMTP_PORT"
has "host mx.notlsa.$Z preference 10" "host mx.ok.$Z preference 20" \
    "verdict: partial: 1 of 2 MX hosts verified"
pass "twomx: exit 1, partial"

# mixed: a bogus TLSA RRset on the preferred host is a temporary failure, never a downgrade.
probe 2 -c "$CONF" mixed.$Z --port "$SMTP_PORT"
has "verdict: tempfail: mx.tlsabogus.$Z: TLSA lookup _$SMTP_PORT._tcp.mx.tlsabogus.$Z: DNSSEC bogus"
pass "mixed: exit 2, TLSA bogus named"

# bogus: the MX lookup itself is bogus.
probe 2 -c "$CONF" bogus.$Z --port "$SMTP_PORT"
has "mx: bogus (" "verdict: tempfail: MX lookup for bogus.$Z: bogus ("
pass "bogus: exit 2"

# insecure: unsigned delegation: no DANE, TLS facts only.
probe 1 -c "$CONF" insecure.$Z --port "$SMTP_PORT"
has "mx: insecure, 1 host(s)" "address 127.0.0.1 insecure" "tlsa: not looked up" "result: no-dane" \
    "verdict: no-dane: no DANE: no MX host has usable TLSA records (mx.insecure.$Z: MX RRset not DNSSEC-signed)"
pass "insecure: exit 1, no DANE"

# addrbogus: a bogus address is never connected to.
probe 2 -c "$CONF" addrbogus.$Z --port "$SMTP_PORT"
has "verdict: tempfail: mx.addrbogus.$Z: address lookup of mx.addrbogus.$Z: DNSSEC bogus"
grep -qF 'connection ' "$E2E/probe.out" && fail "addrbogus: connected to a bogus address"
pass "addrbogus: exit 2, no connection"

# timeout: the MX lookup gets no answer within dns_timeout.
probe 2 -c "$CONF" timeout.$Z --port "$SMTP_PORT"
has "verdict: tempfail: MX lookup for timeout.$Z: error ("
pass "timeout: exit 2"

# nullmx: no destination.
probe 1 -c "$CONF" nullmx.$Z --port "$SMTP_PORT"
has "null MX" "verdict: null-mx: null MX (RFC 7505): nullmx.$Z accepts no mail"
pass "nullmx: exit 1"

# Nothing listens: connection refused is temporary.
probe 2 -c "$CONF" ok.$Z --port "$DEAD_PORT"
has "error: connect: Connection refused" "result: tempfail" "verdict: tempfail: mx.ok.$Z: 127.0.0.1: connect:"
pass "refused: exit 2"

# DANE required, STARTTLS not offered: failure.
probe 1 -c "$CONF" ok.$Z --port "$NOTLS_PORT"
has "starttls: not offered" "error: STARTTLS not offered" "result: fail"
pass "no STARTTLS with DANE: exit 1"

# --json: one object, parsed by perl's core JSON::PP, with the same facts.
# json_check CODE [ARG...]: perl CODE sees the decoded $E2E/probe.out as $j, the ARGs as @ARGV,
# and the helpers t(X) (X is JSON true) and f(X) (X is JSON false); it dies when a check fails.
json_check() {
    local code=$1
    shift
    perl -MJSON::PP -e '
        local $/;
        open(my $fh, "<", shift @ARGV) or die "$!\n";
        our $j = JSON::PP->new->decode(<$fh>);
        sub t { JSON::PP::is_bool($_[0]) && $_[0] }
        sub f { JSON::PP::is_bool($_[0]) && !$_[0] }
        sub check { $_[0] or die "check failed: $_[1]\n" }
        eval "$ARGV[0]; 1" or die $@;' "$E2E/probe.out" "$code" "$@"
}
probe 0 -c "$CONF" ok.$Z --port "$SMTP_PORT" --json
# shellcheck disable=SC2016 # perl code
json_check '
    my ($port, $spki) = @ARGV[1, 2];
    check($j->{domain} eq "ok.dane.example" && $j->{port} == $port, "domain, port");
    check($j->{verdict} eq "verified" && $j->{exit} == 0, "verdict, exit");
    check($j->{mx}{status} eq "data" && t($j->{mx}{secure}), "mx");
    my $h = $j->{hosts}[0];
    check($h->{name} eq "mx.ok.dane.example" && $h->{preference} == 10 && t($h->{dane}), "host");
    check(t($h->{a}{secure}) && t($h->{tlsa_lookup}{secure}), "host a, tlsa_lookup");
    check(@{$h->{tlsa}} == 1, "one TLSA record");
    my $r = $h->{tlsa}[0];
    check(join(",", sort keys %$r) eq "data,length,mtype,selector,usable,usage", "TLSA keys");
    check($r->{usage} == 3 && $r->{selector} == 1 && $r->{mtype} == 1 && $r->{length} == 32 &&
          $r->{data} eq $spki && t($r->{usable}), "TLSA record");
    my $c = $h->{connections}[0];
    check($c->{address} eq "127.0.0.1" && $c->{dnssec} eq "secure" && t($c->{starttls}), "connection");
    check($c->{tls_version} =~ /^TLSv1\./ && $c->{cipher} ne "", "TLS facts");
    my $m = $c->{matched};
    check(join(",", sort keys %$m) eq "depth,mtype,selector,usage" && $m->{usage} == 3 &&
          $m->{selector} == 1 && $m->{mtype} == 1 && $m->{depth} == 0, "matched");
    check($c->{verify} == 0 && $c->{result} eq "verified" && $h->{verdict} eq "verified", "result");
' "$SMTP_PORT" "$DNS_EE_SPKI" || fail "ok --json: $(cat "$E2E/probe.out")"
pass "ok --json: parses, verdict, TLSA, TLS facts and the match"

probe 1 -c "$CONF" badcert.$Z --port "$SMTP_PORT" --json
# shellcheck disable=SC2016 # perl code
json_check '
    my $c = $j->{hosts}[0]{connections}[0];
    check($j->{verdict} eq "fail" && $j->{exit} == 1, "verdict, exit");
    check(!defined $c->{matched} && $c->{verify} == 65 && $c->{result} eq "fail", "connection");
    check(index($c->{error}, "no TLSA record matched") >= 0 && $c->{banner} =~ /^220 /, "error, banner");
' || fail "badcert --json: $(cat "$E2E/probe.out")"
probe 2 -c "$CONF" bogus.$Z --port "$SMTP_PORT" --json
# shellcheck disable=SC2016 # perl code
json_check '
    check($j->{verdict} eq "tempfail" && $j->{mx}{status} eq "bogus" &&
          ref $j->{hosts} eq "ARRAY" && !@{$j->{hosts}}, "bogus");
' || fail "bogus --json: $(cat "$E2E/probe.out")"
pass "badcert and bogus --json: parse, verdicts fail and tempfail"

# Usage errors are not verdicts.
probe 3 -c "$CONF"
probe 3 -c "$CONF" ok.$Z --port 0
probe 3 -c "$CONF" 'bad..name'
pass "usage errors: exit 3"
