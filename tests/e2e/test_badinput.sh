#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input from the MTA side: tlsguard is driven directly over the
# milter protocol by milter_client.pl, so that it sees what Postfix would never send: macros
# missing, empty, huge, non-numeric or in an unknown format; CR/LF, control characters and
# 8-bit bytes in the connect name, HELO, macros and envelope addresses; odd but valid addresses
# (case, trailing dot, quoted local part, source route, null sender, A-labels); commands out of
# order; IPv6, AF_UNIX and unknown client families. Every case has a defined outcome (the reply
# the policy gives, or libmilter dropping a malformed connection), tlsguard stays up, and what
# reaches the database and the log is sanitised.
. "$(dirname "$0")/lib.sh"
MC=$E2E_LIB_DIR/milter_client.pl
e2e_init
write_policy <<'EOF'
from:bank.example encrypt protocols=>=TLSv1.2
from:bits.example encrypt min_bits=128
rcpt:partner.example verify match=.partner.example action=reject
client:192.0.2.0/24 encrypt
client:2001:db8:bad::/48 encrypt
EOF
write_conf
start_tlsguard

NOTLS_BANK="451 4.7.0 TLS required for mail from bank.example (rule from:bank.example): session was not encrypted"
NOTLS_PARTNER="530 5.7.0 TLS with a trusted client certificate required for mail to partner.example (rule rcpt:partner.example): session was not encrypted"
CERT_PARTNER="550 5.7.1 TLS with a trusted client certificate required for mail to partner.example (rule rcpt:partner.example)"
NCONN=0 # connections that reach tlsguard's connect callback (one sessions row each)

# mc [-t SECONDS] COMMAND...: one milter connection; the replies (without the OPTNEG lines)
# are in $E2E/last.txt. Counts the connection in NCONN when it announces one.
mc() {
    local t=5
    if [ "$1" = -t ]; then
        t=$2
        shift 2
    fi
    case "$1" in connect\ *) NCONN=$((NCONN + 1)) ;; esac
    perl "$MC" -p "$TG_PORT" -t "$(e2e_secs "$t")" "$@" >"$E2E/mc.out" 2>&1 || {
        cat "$E2E/mc.out" >"$E2E/last.txt"
        fail "milter_client.pl failed: $*"
    }
    # The transcript names the wait the test asked for, also when e2e_secs stretched it.
    sed -i "s/(no reply within $(e2e_secs "$t")s)/(no reply within ${t}s)/" "$E2E/mc.out"
    grep -v '^OPTNEG: ' "$E2E/mc.out" >"$E2E/last.txt" || true
    {
        printf '\n===== milter_client %s\n' "$*"
        cat "$E2E/mc.out"
    } >>"$E2E/transcripts.txt"
}

# mc_is DESC WANT COMMAND...: the replies are exactly WANT (lines); tlsguard is still running.
mc_is() {
    local desc=$1 want=$2
    shift 2
    mc "$@"
    if [ "$(cat "$E2E/last.txt")" != "$want" ]; then
        printf 'want:\n%s\ngot:\n%s\n' "$want" "$(cat "$E2E/last.txt")" >&2
        fail "$desc"
    fi
    alive "$desc"
}

# mc_dropped DESC COMMAND...: libmilter closes the connection (when exactly depends on how far
# the client got writing), no command is answered, tlsguard is still running.
mc_dropped() {
    local desc=$1
    shift
    mc "$@"
    if grep -qv 'connection closed)$' "$E2E/last.txt" || ! grep -q 'connection closed)$' "$E2E/last.txt"; then
        fail "$desc: want the connection closed without a reply, got: $(cat "$E2E/last.txt")"
    fi
    alive "$desc"
}

alive() {
    kill -0 "$TG_PID" 2>/dev/null || fail "$1: tlsguard died"
    pass "$1"
}

# session_is NAME COLUMNS WANT: the sessions row of the connection named NAME.
session_is() {
    sql_is "SELECT $2 FROM sessions WHERE client_name = '$1'" "$3" "$1: sessions($2) = $3"
}

# --- the negotiation itself: what tlsguard skips and does not answer
mc -t 2 'connect case-optneg 4 1000 198.51.100.1' quit
grep -qxF 'OPTNEG: O version=6 actions=0x131 protocol=0x33d0' "$E2E/mc.out" ||
    fail "OPTNEG: unexpected reply: $(head -n 1 "$E2E/mc.out")"
grep -qxF 'OPTNEG: symlist mail i {auth_type} {auth_authen} {mail_addr} {tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} {cert_fp} {cert_md5}' \
    "$E2E/mc.out" || fail "OPTNEG: no macro list for MAIL"
pass "OPTNEG: headers/quarantine/symlist actions; body, EOH, DATA, unknown skipped; connect, HELO, headers unanswered; macro lists"

# --- macros missing, empty
mc_is "macros missing: <User@Bank.Example.> without TLS is deferred" "MAIL: y $NOTLS_BANK" \
    'connect case-nomacros 4 1001 198.51.100.1' 'helo client.example' 'mail <User@Bank.Example.>' quit
mc_is "macros empty: treated as missing" "MAIL: y $NOTLS_BANK" \
    'connect case-empty 4 1002 198.51.100.1' 'helo client.example' \
    'macro M i= {tls_version}= {cipher}= {cipher_bits}= {cert_subject}= {cert_issuer}= {verify}=' \
    'mail <u@bank.example>' quit
session_is case-nomacros "tls_version, cipher, cipher_bits, cert_subject, cert_verified" "NULL|NULL|NULL|NULL|NULL"
session_is case-empty "tls_version, cipher, cipher_bits, cert_subject, cert_verified" "NULL|NULL|NULL|NULL|NULL"
sql_is "SELECT m.mail_from, m.queue_id, m.rule, m.verdict, m.action, m.outcome FROM messages m
        JOIN sessions s ON s.id = m.session_id WHERE s.client_name = 'case-nomacros'" \
    "User@bank.example|NULL|from:bank.example|fail|defer|refused" \
    "<User@Bank.Example.>: recorded as User@bank.example, refused by from:bank.example"

# --- an unknown or malicious {tls_version}
mc_is "{tls_version}=TLSv9: protocol not allowed" \
    "MAIL: y 451 4.7.1 TLS required for mail from bank.example (rule from:bank.example): protocol TLSv9 not allowed by protocols=>=TLSv1.2" \
    'connect case-tlsv9 4 1003 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv9 {cipher}=TLS_AES_256_GCM_SHA384 {cipher_bits}=256' 'mail <u@bank.example>' quit
session_is case-tlsv9 "tls_version, cipher, cipher_bits" "TLSv9|TLS_AES_256_GCM_SHA384|256"
mc_is "{tls_version} with CR LF: sanitised in the reply" \
    "MAIL: y 451 4.7.1 TLS required for mail from bank.example (rule from:bank.example): protocol garbage??X-Injected: 1 not allowed by protocols=>=TLSv1.2" \
    'connect case-tlsinject 4 1004 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=garbage\r\nX-Injected:\s1 {cipher}=X\r\nX-Injected:\s1' 'mail <u@bank.example>' quit
session_is case-tlsinject "tls_version, cipher" "garbage??X-Injected: 1|X??X-Injected: 1"
# '%' is doubled for the MTA (the reply goes through smfi_setreply); 8-bit bytes become '?'.
mc_is "{tls_version} with % and 8-bit bytes: % escaped for the MTA" \
    "MAIL: y 451 4.7.1 TLS required for mail from bank.example (rule from:bank.example): protocol TLS%%s%%n?? not allowed by protocols=>=TLSv1.2" \
    'connect case-percent 4 1005 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLS%s%n\xc3\xff' 'mail <u@bank.example>' quit
mc_is "{tls_version}=tlsv1.3 (lower case) meets >=TLSv1.2" "MAIL: c" \
    'connect case-lowercase 4 1006 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=tlsv1.3' 'mail <u@bank.example>' quit

# --- {cipher_bits}: non-numeric, negative, overflowing -> unknown (NULL), and min_bits fails
for bits in abc -1 99999999999999999999999 65536 0x80 "1\s28" "128\r\n"; do
    mc_is "{cipher_bits}=$bits: unknown, min_bits=128 not met" \
        "MAIL: y 451 4.7.1 TLS required for mail from bits.example (rule from:bits.example): cipher bits unknown" \
        "connect case-bits 4 1007 198.51.100.1" 'helo client.example' \
        "macro M {tls_version}=TLSv1.2 {cipher}=ECDHE-RSA-AES256-GCM-SHA384 {cipher_bits}=$bits" \
        'mail <u@bits.example>' quit
done
sql_is "SELECT count(*), count(cipher_bits) FROM sessions WHERE client_name = 'case-bits'" "7|0" \
    "{cipher_bits} garbage recorded as NULL"
mc_is "{cipher_bits}=64: below min_bits" \
    "MAIL: y 451 4.7.1 TLS required for mail from bits.example (rule from:bits.example): cipher bits 64 below min_bits=128" \
    'connect case-bits64 4 1008 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.2 {cipher}=ECDHE-RSA-AES256-GCM-SHA384 {cipher_bits}=64' \
    'mail <u@bits.example>' quit
mc_is "{cipher_bits}=256: min_bits met" "MAIL: c" \
    'connect case-bits256 4 1009 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.2 {cipher}=ECDHE-RSA-AES256-GCM-SHA384 {cipher_bits}=256' \
    'mail <u@bits.example>' quit

# --- huge macros. libmilter refuses packets over 64 KB by closing the connection; below that
# tlsguard truncates into its fixed buffers, and a truncated certificate name never matches.
mc_is "60 KB {cipher} and {cert_subject}: truncated, the certificate name does not match" \
    "MAIL: c
RCPT: y $CERT_PARTNER: client certificate CN $(printf 'B%.0s' $(seq 255)) does not match .partner.example" \
    'connect case-huge 4 1010 198.51.100.1' 'helo client.example' \
    'macro H {cert_subject}=\*60000{B}' \
    'macro M {tls_version}=TLSv1.3 {cipher}=\*60000{A} {cipher_bits}=256' \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
session_is case-huge "length(cipher), length(cert_subject), cert_verified" "127|255|1"
# The first 255 bytes of this name end in ".partner.example"; the whole name does not.
long_cn="$(printf 'a%.0s' $(seq 60)).$(printf 'a%.0s' $(seq 60)).$(printf 'a%.0s' $(seq 60)).$(printf 'a%.0s' $(seq 56)).partner.example.attacker.test"
mc -t 5 'connect case-longcn 4 1011 198.51.100.1' 'helo client.example' \
    "macro M {tls_version}=TLSv1.3 {cipher}=TLS_AES_256_GCM_SHA384 {cipher_bits}=256 {cert_subject}=$long_cn" \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
grep -qF "RCPT: y $CERT_PARTNER: client certificate CN aaaa" "$E2E/last.txt" ||
    fail "a certificate name that matches only once truncated was accepted: $(cat "$E2E/last.txt")"
alive "a certificate name truncated to .partner.example does not match"
mc_dropped "100 KB {cipher}/{cert_subject}: libmilter drops the connection" \
    'connect case-huge100k 4 1012 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {cipher}=\*102400{A} {cert_subject}=\*102400{B}' \
    'mail <u@x.example>' quit
session_is case-huge100k "helo, tls_version, messages, ended_at IS NOT NULL" "client.example|NULL|0|1"

# --- Sendmail-style certificate macros: {verify} decides, {cn_subject} is the CN
mc_is "{verify}=OK with {cn_subject}: trusted, name matches" "MAIL: c
RCPT: c" \
    'connect case-verify-ok 4 1013 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=OK {cert_subject}=/C=XX/CN=mx.partner.example {cn_subject}=mx.partner.example' \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
mc_is "{verify}=FAIL: not trusted" "MAIL: c
RCPT: y $CERT_PARTNER: no trusted client certificate" \
    'connect case-verify-fail 4 1014 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=FAIL {cert_subject}=/CN=mx.partner.example {cn_subject}=mx.partner.example' \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
session_is case-verify-ok "cert_subject, cert_verified" "mx.partner.example|1"
session_is case-verify-fail "cert_subject, cert_verified" "mx.partner.example|0"
mc_is "{cert_subject} with CR LF: sanitised, does not match" "MAIL: c
RCPT: y $CERT_PARTNER: client certificate CN mx.partner.example??X-Injected: 1 does not match .partner.example" \
    'connect case-cn-inject 4 1015 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {cert_subject}=mx.partner.example\r\nX-Injected:\s1 {cert_issuer}=CA\r\nX-Injected:\s1' \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
# Sendmail xtext-encodes certificate names: what "+0D+0A" decodes to is sanitised like raw bytes.
mc_is "{cn_subject} with xtext-encoded CR LF: decoded, sanitised, does not match" "MAIL: c
RCPT: y $CERT_PARTNER: client certificate CN mx.partner.example??X-Injected: 1 does not match .partner.example" \
    'connect case-xtext-inject 4 1090 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=OK {cn_subject}=mx.partner.example+0D+0AX-Injected:+201 {cn_issuer}=tlsguard+20test+20CA+00+FF' \
    'mail <u@x.example>' 'rcpt <r@partner.example>' quit
session_is case-xtext-inject "cert_subject, cert_issuer, cert_verified" "mx.partner.example??X-Injected: 1|tlsguard test CA??|1"
# Fingerprints: {cert_fp} wins over {cert_md5}; a huge or hostile one is bounded and sanitised.
mc_is "{cert_fp} and {cert_md5}: {cert_fp} recorded" "MAIL: c" \
    'connect case-fp-both 4 1091 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=FAIL {cert_md5}=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21 {cert_fp}=AB:CD' \
    'mail <u@x.example>' quit
session_is case-fp-both "cert_fp, cert_verified" "AB:CD|0"
mc_is "{cert_md5} alone recorded; none without TLS" "MAIL: c" \
    'connect case-fp-md5 4 1092 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=OK {cert_md5}=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21' \
    'mail <u@x.example>' quit
session_is case-fp-md5 "cert_fp" "0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21"
mc_is "60 KB {cert_fp} with CR LF: truncated, sanitised" "MAIL: c" \
    'connect case-fp-huge 4 1093 198.51.100.1' 'helo client.example' \
    'macro M {tls_version}=TLSv1.3 {verify}=OK {cert_fp}=\r\nX\*60000{F}' \
    'mail <u@x.example>' quit
session_is case-fp-huge "length(cert_fp), substr(cert_fp, 1, 4)" "191|??XF"
mc_is "{cert_fp} without {tls_version}: not recorded" "MAIL: y $NOTLS_BANK" \
    'connect case-fp-notls 4 1094 198.51.100.1' 'helo client.example' \
    'macro M {cert_fp}=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21' 'mail <u@bank.example>' quit
session_is case-fp-notls "cert_fp IS NULL, tls_version IS NULL" "1|1"

# --- CR/LF, control characters and 8-bit bytes in connect name, HELO and queue id
mc_is "CR LF and control bytes in connect name, HELO, queue id" "MAIL: y $NOTLS_BANK" \
    'connect ctl\r\nX-Injected:\s1\x01 4 1016 198.51.100.1' 'helo bad\r\nX-Injected:\s1\x01\x7f\xff' \
    'macro M i=Q\r\nX-Injected:\s1' 'mail <u@bank.example>' quit
session_is 'ctl??X-Injected: 1?' "helo" "bad??X-Injected: 1???"
sql_is "SELECT count(*) FROM messages WHERE queue_id = 'Q??X-Injected: 1'" 1 "queue id sanitised"

# --- HELO length
helo255=$(printf 'h%.0s' $(seq 255))
mc_is "HELO of 255 characters" "MAIL: c" \
    'connect case-helo255 4 1017 198.51.100.1' "helo $helo255" 'mail <u@x.example>' quit
session_is case-helo255 "helo" "$helo255"
mc_is "HELO of 65000 characters: truncated" "MAIL: c" \
    'connect case-helo65000 4 1018 198.51.100.1' 'helo \*65000{h}' 'mail <u@x.example>' quit
session_is case-helo65000 "length(helo), helo GLOB 'hhhh*' AND helo NOT GLOB '*[^h]*'" "511|1"
mc_dropped "HELO of 64 KB: libmilter drops the connection" \
    'connect case-helo64k 4 1019 198.51.100.1' 'helo \*65536{h}' 'mail <u@x.example>' quit
session_is case-helo64k "helo, messages, ended_at IS NOT NULL" "NULL|0|1"

# --- envelope addresses (no TLS: from:bank.example defers whatever matches it)
addr_case() { # DESC MAIL-ARG WANT-REPLY WANT-mail_from
    local name="case-addr-$((NCONN + 1))"
    mc_is "MAIL FROM:$2: $1" "MAIL: $3" "connect $name 4 1020 198.51.100.1" \
        'helo client.example' "mail $2" quit
    session_is "$name" "(SELECT mail_from FROM messages WHERE session_id = sessions.id)" "$4"
}
addr_case "upper case, trailing dot" '<User@Bank.Example.>' "y $NOTLS_BANK" "User@bank.example"
addr_case "quoted local part" '<"a\sb"@BANK.example>' "y $NOTLS_BANK" '"a b"@bank.example'
addr_case "quoted local part with a quoted quote" '<"a\\"b"@bank.example>' "y $NOTLS_BANK" '"a\"b"@bank.example'
addr_case "empty quoted local part" '<""@bank.example>' "y $NOTLS_BANK" '""@bank.example'
addr_case "source route" '<@a.example,@b.example:u@bank.example>' "y $NOTLS_BANK" "u@bank.example"
addr_case "without angle brackets" 'u@bank.example' "y $NOTLS_BANK" "u@bank.example"
addr_case "with ESMTP parameters" '<u@bank.example> SIZE=1000 BODY=8BITMIME' "y $NOTLS_BANK" "u@bank.example"
addr_case "null sender" '<>' c ""
addr_case "A-label domain" '<u@xn--bcher-kva.example>' c "u@xn--bcher-kva.example"
addr_case "A-label domain, upper case, trailing dot" '<U@XN--BCHER-KVA.EXAMPLE.>' c "U@xn--bcher-kva.example"
addr_case "subdomain (from:bank.example is the domain only)" '<u@sub.bank.example>' c "u@sub.bank.example"
addr_case "comment (Postfix's strict_rfc821_envelopes = no takes it)" '<u@bank.example\s(c)>' \
    "y $NOTLS_BANK" "u@bank.example"
# No readable domain while a from: rule exists: deferred, never "no rule matched".
UNREADABLE="451 4.1.7 tlsguard cannot read the sender address"
addr_case "address literal" '<u@[192.0.2.1]>' "y $UNREADABLE: an address literal names no domain" "u@[192.0.2.1]"
addr_case "no domain, no {mail_addr}" '<nodomain>' "y $UNREADABLE: a local part without a domain" "<nodomain>"
addr_case "postmaster" '<Postmaster>' c "Postmaster"
addr_case "empty domain" '<u@>' "y $UNREADABLE: address syntax not understood" "<u@>"
addr_case "empty label" '<u@bank..example>' "y $UNREADABLE: address syntax not understood" "<u@bank..example>"
addr_case "garbage: the innermost <> is the null sender" '<<<>>>' c "<<<>>>"
addr_case "CR LF inside" '<u\r\nX-Injected:\s1@bank.example>' "y $UNREADABLE: address syntax not understood" \
    "<u??X-Injected: 1@bank.example>"

# recipients: the first matching rcpt: rule per recipient; others in the transaction unaffected
mc_is "RCPT: case, trailing dot, odd and broken addresses" "MAIL: c
RCPT: y $NOTLS_PARTNER
RCPT: y $NOTLS_PARTNER
RCPT: c
RCPT: c
RCPT: y 451 4.1.3 tlsguard cannot read the recipient address: address syntax not understood
RCPT: y 451 4.1.3 tlsguard cannot read the recipient address: address syntax not understood
RCPT: y 451 4.1.3 tlsguard cannot read the recipient address: empty recipient address" \
    'connect case-rcpt 4 1021 198.51.100.1' 'helo client.example' 'mail <u@x.example>' \
    'rcpt <R@Partner.Example.>' 'rcpt <"q\su"@partner.example>' 'rcpt <Postmaster>' \
    'rcpt <r@xn--bcher-kva.example>' 'rcpt <r@partner.example\r\nX-Injected:\s1>' \
    'rcpt <r@b\xffad.example>' 'rcpt <<<>>>' quit
sql_is "SELECT group_concat(rcpt || ':' || action, ' ') FROM (SELECT r.rcpt, r.action FROM recipients r
        JOIN messages m ON m.id = r.message_id JOIN sessions s ON s.id = m.session_id
        WHERE s.client_name = 'case-rcpt' ORDER BY r.id)" \
    'R@partner.example:reject "q u"@partner.example:reject Postmaster:accept r@xn--bcher-kva.example:accept <r@partner.example??X-Injected: 1>:defer <r@b?ad.example>:defer <<<>>>:defer' \
    "recipients recorded normalised or sanitised"

# --- client addresses and families
mc_is "client:192.0.2.0/24 without TLS" \
    "MAIL: y 451 4.7.0 TLS required for client 192.0.2.7 (rule client:192.0.2.0/24): session was not encrypted" \
    'connect case-v4 4 1022 192.0.2.7' 'helo client.example' 'mail <u@x.example>' quit
mc_is "IPv6 client in client:2001:db8:bad::/48 (written long, upper case)" \
    "MAIL: y 451 4.7.0 TLS required for client 2001:db8:bad::25 (rule client:2001:db8:bad::/48): session was not encrypted" \
    'connect case-v6 6 1023 2001:DB8:BAD:0:0:0:0:25' 'helo client.example' 'mail <u@x.example>' quit
session_is case-v6 "client_addr, client_port" "2001:db8:bad::25|1023"
mc_is "IPv6 client outside the rules" "MAIL: c" \
    'connect case-v6-other 6 1024 2001:db8:1::1' 'helo client.example' 'mail <u@x.example>' quit
mc_is "AF_UNIX client: no address, no client rule" "MAIL: c" \
    'connect case-unix L 0 /run/client.sock' 'helo client.example' 'mail <u@x.example>' quit
session_is case-unix "client_addr, client_port, messages" "NULL|NULL|1"
mc_is "unknown family: no address, the sender rule still applies" "MAIL: y $NOTLS_BANK" \
    'connect case-unknown U' 'helo client.example' 'mail <u@bank.example>' quit
session_is case-unknown "client_addr, client_port, messages" "NULL|NULL|1"
mc_dropped "unparsable IPv4 address: libmilter drops the connection" \
    'connect case-badv4 4 1025 999.1.1.1' 'helo client.example' 'mail <u@x.example>' quit
NCONN=$((NCONN - 1)) # libmilter refused the address: tlsguard never saw this connection

# --- commands out of order (libmilter ignores them without a reply) and odd sequences
mc_is "MAIL without HELO" "MAIL: y $NOTLS_BANK" \
    'connect case-nohelo 4 1026 198.51.100.1' 'mail <u@bank.example>' quit
session_is case-nohelo "helo, messages" "NULL|1"
mc_is "RCPT before MAIL, EOM without MAIL: ignored; the session goes on" \
    "RCPT: (no reply within 2s)
EOM: (no reply within 2s)
MAIL: y $NOTLS_BANK
MAIL: c
RCPT: c" \
    -t 2 'connect case-order 4 1027 198.51.100.1' 'helo client.example' 'rcpt <r@partner.example>' \
    'eom' 'mail <u@bank.example>' 'mail <u@x.example>' 'rcpt <r@y.example>' quit
sql_is "SELECT count(*) FROM recipients r JOIN messages m ON m.id = r.message_id
        JOIN sessions s ON s.id = m.session_id WHERE s.client_name = 'case-order'" 1 \
    "ignored RCPT not recorded"
mc_dropped "MAIL without an argument: libmilter drops the connection" \
    'connect case-mail-noarg 4 1028 198.51.100.1' 'helo client.example' 'mail' quit
# Headers come without a reply: tlsguard counts X-TLS-Policy and deletes that many at EOM.
mc_is "forged X-TLS-Policy headers removed, ours added; ABORT; close without QUIT" \
    "MAIL: c
RCPT: c
EOM: m 2 X-TLS-Policy: 
EOM: m 1 X-TLS-Policy: 
EOM: i 0 X-TLS-Policy: none tls=none rule=-
EOM: c
MAIL: c
MAIL: c" \
    'connect case-seq 4 1029 198.51.100.1' 'helo client.example' 'mail <a@x.example>' \
    'rcpt <r@y.example>' 'header X-TLS-Policy pass\r\nX-Injected:\s1' 'header x-tls-policy pass' 'eom' \
    'mail <b@x.example>' 'abort' 'mail <c@x.example>' close
sql_is "SELECT group_concat(mail_from || ':' || outcome, ' ') FROM (SELECT m.mail_from, m.outcome
        FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.client_name = 'case-seq' ORDER BY m.id)" \
    "a@x.example:accepted b@x.example:aborted c@x.example:aborted" "outcomes: accepted, aborted, aborted"
session_is case-seq "messages, ended_at IS NOT NULL" "3|1"

# --- what reached the database and the log
sql_is "SELECT count(*) FROM sessions" "$NCONN" "one sessions row per connection that reached tlsguard ($NCONN)"
sql_is "SELECT count(*) FROM sessions WHERE ended_at IS NULL" 0 "every session closed"
# db_printable DESC: every text column of every table holds printable ASCII only.
db_printable() {
    local bad="" tc n
    for tc in sessions:client_addr sessions:client_name sessions:helo sessions:tls_version sessions:cipher \
        sessions:cert_subject sessions:cert_issuer messages:queue_id messages:mail_from messages:rule \
        messages:reason recipients:rcpt recipients:rule recipients:reason; do
        n=$(sql "SELECT count(*) FROM ${tc%%:*} WHERE ${tc#*:} GLOB '*[^ -~]*'")
        [ "$n" = 0 ] || bad="$bad ${tc/:/.}($n rows, e.g. $(sql "SELECT quote(CAST(${tc#*:} AS BLOB)) FROM ${tc%%:*} WHERE ${tc#*:} GLOB '*[^ -~]*' LIMIT 1"))"
    done
    [ -z "$bad" ] || fail "$1: database columns with bytes outside printable ASCII:$bad"
    pass "$1"
}
db_printable "database: every text column printable ASCII"
# log_clean DESC: no line of tlsguard's log was injected or holds control or 8-bit bytes.
log_clean() {
    if grep -q '^X-Injected' "$E2E/tlsguard.log" || grep -q $'\r' "$E2E/tlsguard.log" ||
        LC_ALL=C grep -q '[^[:print:]]' "$E2E/tlsguard.log"; then
        fail "$1: unsanitised line in the tlsguard log: $(LC_ALL=C grep -n -m1 -e '^X-Injected' -e '[^[:print:]]' "$E2E/tlsguard.log" | cat -v)"
    fi
    pass "$1"
}
log_clean "log: no injected line, no control or 8-bit bytes"
expect_log "log: the injected TLS version is logged sanitised, quoted" "tls=\"garbage??X-Injected: 1\""

# --- 8-bit bytes in a local part (last: a failure here must not hide the checks above). The
# domain still decides; what is stored must be sanitised like every other network text.
addr_case "8-bit local part" '<\xc3\xa9l\xe8ve\xff@Bank.Example>' "y $NOTLS_BANK" "??l?ve?@bank.example"
mc_is "RCPT with an 8-bit local part" "MAIL: c
RCPT: c" \
    'connect case-rcpt8 4 1030 198.51.100.1' 'helo client.example' 'mail <u@x.example>' \
    'rcpt <r\xff@x.partner.example>' quit
sql_is "SELECT r.rcpt FROM recipients r JOIN messages m ON m.id = r.message_id
        JOIN sessions s ON s.id = m.session_id WHERE s.client_name = 'case-rcpt8'" \
    "r?@x.partner.example" "8-bit recipient local part recorded sanitised"

db_printable "database: still printable ASCII after 8-bit addresses"
log_clean "log: still clean after 8-bit addresses"

stop_tlsguard
[ "$TG_RC" = 0 ] || fail "tlsguard exited with status $TG_RC on SIGTERM"
pass "SIGTERM: exit status 0"
