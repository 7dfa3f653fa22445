# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2034 # DNS_* variables are for the tests that source this file
#
# dnslib.sh - a real DNSSEC test DNS on loopback for the DANE tests: nsd serving the signed zone
# dane.example. and its child zones, signed afresh at every start with ldns-signzone, plus two
# dead name servers (one silent, one answering SERVFAIL). See tests/dns/README.md for the names
# and what each one must resolve to.
#
# Source it after tests/e2e/lib.sh and e2e_init, then:
#   dns_start [PORT...]     keys, certificates, zones, nsd; TLSA records are published for port
#                           25 and for each PORT given (for `tlsguard probe --port PORT`)
#   dns_query [-t S] NAME TYPE...  one line per NAME TYPE pair, resolved by tests/dns/dnsq.c with a
#                           fresh libunbound context set up like tlsguard's (all pairs share it)
#   dns_expect [-t SECONDS] NAME TYPE CHECK...
#                           pass if dns_query's line meets every CHECK (KEY=GLOB or ~TEXT)
# After dns_start:
#   DNS_PORT                nsd's port on 127.0.0.1 (UDP and TCP)
#   DNS_TA                  trust-anchor file (DS of dane.example.) for ub_ctx_add_ta_file /
#                           tlsguard's dns_trust_anchor
#   DNS_UNBOUND_CONF        unbound.conf for ub_ctx_config / tlsguard's dns_unbound_conf
#   DNS_TG_CONF             array: "dns_trust_anchor=..." "dns_unbound_conf=..." for write_conf
#   DNS_ZONE                dane.example
#   DNS_MAX_RTT             libunbound's infra-cache-max-rtt in ms (1000; set it before dns_start)
#   DNS_HOST_ADDR           address of every mail host in the zones (set it before dns_start to
#                           change it; default 127.0.0.1)
#   DNS_TLSA_PORTS          ports with TLSA records ("25 PORT...")
#   DNS_CERT_EE_CRT/_KEY    self-signed server certificate whose SPKI is in the 3 1 1 records
#   DNS_CERT_CA_CRT/_KEY    the DANE test CA (2 0 1 of ta.dane.example; 0 0 1 of pkix)
#   DNS_CERT_TA_CRT/_KEY    leaf for mx.ta.dane.example issued by that CA
#   DNS_CERT_TA_CHAIN       the leaf followed by the CA (a server must send the CA for 2 0 1)
#   DNS_CERT_OTHER_CRT/_KEY a certificate no TLSA record of a "good" case matches
#   DNS_EE_SPKI DNS_OTHER_SPKI DNS_CA_SHA256   the hex digests the zones publish
#   DNS_BLACKHOLE_PORT      the silent server; DNS_SERVFAIL_PORT the SERVFAIL server;
#   DNS_CNAMEFAIL_PORT      the relay to nsd that fails CNAME queries (names under cnameq.)
#   DNSQ                    the dnsq binary (built from tests/dns/dnsq.c with cc -lunbound)
# Every process started here is stopped by lib.sh's cleanup (track_pid); all files live in
# $E2E/dns.

DNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DNS_ZONE=dane.example
DNS_HOST_ADDR=${DNS_HOST_ADDR:-127.0.0.1}
DNS_TLSA_PORTS=""
DNS_PORT=""
DNS_TG_CONF=()

# dns_fail MSG: like lib.sh's fail, with the DNS logs first.
dns_fail() {
    local f
    for f in "$DNS_DIR/nsd.log" "$DNS_DIR/build.log" "$DNS_DIR/sign.log"; do
        [ -s "$f" ] || continue
        printf '\n----- %s (last 40 lines) -----\n' "${f#"$E2E"/}" >&2
        tail -n 40 "$f" >&2
    done
    fail "$@"
}

# A port free for both TCP (lib.sh's free_port) and UDP.
dns_free_port() {
    local p hex i
    for ((i = 0; i < 50; i++)); do
        p=$(free_port) || return 1
        hex=$(printf '%04X' "$p")
        awk -v h=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { found = 1 }
            END { exit !found }' /proc/net/udp /proc/net/udp6 2>/dev/null && continue
        echo "$p"
        return 0
    done
    return 1
}

dns_start() {
    [ -n "${E2E:-}" ] || { echo "dnslib.sh: call e2e_init first" >&2; exit 1; }
    local t
    for t in nsd ldns-keygen ldns-signzone openssl cc; do
        command -v "$t" >/dev/null || fail "dnslib.sh: $t not installed (packages: nsd ldnsutils openssl gcc libunbound-dev)"
    done
    DNS_DIR=$E2E/dns
    mkdir -p "$DNS_DIR/zones" "$DNS_DIR/keys" "$DNS_DIR/certs"
    DNS_TLSA_PORTS="25"
    local p
    for p in "$@"; do
        case " $DNS_TLSA_PORTS " in *" $p "*) ;; *) DNS_TLSA_PORTS="$DNS_TLSA_PORTS $p" ;; esac
    done
    DNS_PORT=$(dns_free_port) || fail "no free port for nsd"

    DNSQ=$DNS_DIR/dnsq
    cc -O1 -Wall -o "$DNSQ" "$DNS_LIB_DIR/dnsq.c" -lunbound >"$DNS_DIR/build.log" 2>&1 ||
        dns_fail "cannot build tests/dns/dnsq.c (gcc, libunbound-dev)"

    dns_make_certs
    dns_make_zones
    dns_start_servers
    dns_write_unbound_conf # the servers' ports are known now
    dns_wait_ready
    info "dns: nsd 127.0.0.1:$DNS_PORT (zone $DNS_ZONE, TLSA ports $DNS_TLSA_PORTS)," \
        "silent 127.0.0.1:$DNS_BLACKHOLE_PORT, servfail 127.0.0.1:$DNS_SERVFAIL_PORT"
}

# Certificates for the probe tests, and the digests the zones publish.
dns_make_certs() {
    local d=$DNS_DIR/certs
    (
        set -e
        cd "$d"
        # DANE-EE: self-signed, names irrelevant (RFC 7672 3.1.1).
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mx.ok.dane.example" \
            -addext "subjectAltName=DNS:mx.ok.dane.example,DNS:nomx.dane.example,DNS:host.cname.dane.example" \
            -keyout ee.key -out ee.crt
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mx.ok.dane.example" \
            -keyout other.key -out other.crt
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tlsguard DANE test CA" \
            -keyout ca.key -out ca.crt -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey rsa:2048 -nodes -subj "/CN=mx.ta.dane.example" -keyout ta.key -out ta.csr
        printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mx.ta.dane.example\n' >ta.ext
        openssl x509 -req -in ta.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
            -extfile ta.ext -out ta.crt
        cat ta.crt ca.crt >ta-chain.crt
        chmod 644 ./*.crt ./*.key
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; dns_fail "dns: certificate generation"; }
    DNS_CERT_EE_CRT=$d/ee.crt DNS_CERT_EE_KEY=$d/ee.key
    DNS_CERT_OTHER_CRT=$d/other.crt DNS_CERT_OTHER_KEY=$d/other.key
    DNS_CERT_CA_CRT=$d/ca.crt DNS_CERT_CA_KEY=$d/ca.key
    DNS_CERT_TA_CRT=$d/ta.crt DNS_CERT_TA_KEY=$d/ta.key DNS_CERT_TA_CHAIN=$d/ta-chain.crt
    DNS_EE_SPKI=$(dns_spki_sha256 "$DNS_CERT_EE_CRT")
    DNS_OTHER_SPKI=$(dns_spki_sha256 "$DNS_CERT_OTHER_CRT")
    DNS_CA_SHA256=$(openssl x509 -in "$DNS_CERT_CA_CRT" -outform DER | sha256sum | cut -d' ' -f1)
    if [ ${#DNS_EE_SPKI} != 64 ] || [ ${#DNS_OTHER_SPKI} != 64 ] || [ ${#DNS_CA_SHA256} != 64 ]; then
        dns_fail "dns: certificate digests"
    fi
}

# dns_spki_sha256 CERT: the hex sha256 of the certificate's DER SubjectPublicKeyInfo (selector 1,
# matching type 1).
dns_spki_sha256() {
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

# dns_keygen ZONE: a new ECDSAP256SHA256 key (flags 257) in $DNS_DIR/keys; prints its base name.
dns_keygen() {
    local k
    k=$(cd "$DNS_DIR/keys" && ldns-keygen -a ECDSAP256SHA256 -k "$1") || return 1
    echo "$DNS_DIR/keys/$k"
}

# dns_ds_rdata KEYBASE: "tag alg 2 digest" of KEYBASE.ds.
dns_ds_rdata() {
    awk '$3 == "DS" || $4 == "DS" { sub(/^.*DS[ \t]+/, ""); print; exit }' "$1.ds"
}

# dns_expand TEMPLATE ORIGIN > ZONE: placeholders filled, @PORT@ lines repeated per TLSA port.
# Writes the owners of ;TAMPER lines (absolute) to TAMPERFILE, of ;REVERSE lines to REVERSEFILE.
dns_expand() { # TEMPLATE ORIGIN TAMPERFILE REVERSEFILE
    awk -v ports="$DNS_TLSA_PORTS" -v origin="$2" -v tamper="$3" -v reverse="$4" \
        -v addr="$DNS_HOST_ADDR" -v ee="$DNS_EE_SPKI" -v other="$DNS_OTHER_SPKI" \
        -v ca="$DNS_CA_SHA256" -v dsb="$DNS_DS_BOGUS" -v dse="$DNS_DS_EXPIRED" '
        function fill(s) {
            gsub(/@ADDR@/, addr, s); gsub(/@EE_SPKI@/, ee, s); gsub(/@OTHER_SPKI@/, other, s)
            gsub(/@CA_SHA256@/, ca, s); gsub(/@DS_BOGUS@/, dsb, s); gsub(/@DS_EXPIRED@/, dse, s)
            return s
        }
        function owner(s, o) {
            split(s, f, /[ \t]+/); o = f[1]
            if (o == "@") o = origin; else if (o !~ /\.$/) o = o "." origin
            return o
        }
        function emit(s) {
            print s
            if (s ~ /;TAMPER/) print owner(s) >> tamper
            if (s ~ /;REVERSE/) print owner(s) >> reverse
        }
        BEGIN { np = split(ports, pl, " ") }
        {
            line = fill($0)
            if (line ~ /@PORT@/) {
                for (i = 1; i <= np; i++) { l = line; gsub(/@PORT@/, pl[i], l); emit(l) }
            } else emit(line)
        }' "$1"
}

# dns_reverse SIGNED REVERSEFILE: reverses, after signing, the order of the MX records owned by the
# names in REVERSEFILE (ldns-signzone sorts an RRset by rdata, so by preference for MX; nsd answers
# in file order; the signatures do not depend on the order).
dns_reverse() {
    [ -s "$2" ] || return 0
    # Three passes: the owners, the MX records to reverse, then the file with them reversed.
    awk 'FNR == 1 { pass++ }
        pass == 1 { t[tolower($1)] = 1; next }
        { mx = (tolower($1) in t) && $4 == "MX" }
        pass == 2 { if (mx) held[++n] = $0; next }
        mx { print held[n--]; k++; next }
        { print }
        END { if (k < 2) { print "dns_reverse: fewer than 2 MX records" > "/dev/stderr"; exit 1 } }' \
        "$2" "$1" "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# dns_tamper SIGNED TAMPERFILE: changes the rdata of the (non-DNSSEC) records owned by the names
# in TAMPERFILE, after signing: their RRSIGs stop verifying. TLSA: last hex digit; A: last octet.
dns_tamper() {
    [ -s "$2" ] || return 0
    awk 'NR == FNR { t[tolower($1)] = 1; next }
        (tolower($1) in t) && $4 == "TLSA" {
            c = substr($NF, length($NF)); $NF = substr($NF, 1, length($NF) - 1) (c == "0" ? "1" : "0")
            n++
        }
        (tolower($1) in t) && $4 == "A" { split($5, o, "."); $5 = o[1] "." o[2] "." o[3] "." (o[4] + 1) % 256; n++ }
        { print }
        END { if (n == 0) { print "dns_tamper: nothing tampered" > "/dev/stderr"; exit 1 } }' \
        "$2" "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

dns_make_zones() {
    local zd=$DNS_DIR/zones tpl=$DNS_LIB_DIR/zones
    local k_top k_bogus k_wrong k_expired z
    : >"$DNS_DIR/sign.log"
    k_top=$(dns_keygen dane.example.) || dns_fail "ldns-keygen"
    k_bogus=$(dns_keygen bogus.dane.example.) || dns_fail "ldns-keygen"
    k_wrong=$(dns_keygen bogus.dane.example.) || dns_fail "ldns-keygen"
    k_expired=$(dns_keygen expired.dane.example.) || dns_fail "ldns-keygen"
    # The parent publishes the DS of k_wrong, the child is signed with k_bogus only.
    DNS_DS_BOGUS=$(dns_ds_rdata "$k_wrong")
    DNS_DS_EXPIRED=$(dns_ds_rdata "$k_expired")
    if [ -z "$DNS_DS_BOGUS" ] || [ -z "$DNS_DS_EXPIRED" ]; then
        dns_fail "dns: no DS in $k_wrong.ds or $k_expired.ds"
    fi

    for z in dane.example bogus.dane.example expired.dane.example insecure.dane.example; do
        rm -f "$zd/$z.tamper" "$zd/$z.reverse"
        dns_expand "$tpl/$z.zone" "$z." "$zd/$z.tamper" "$zd/$z.reverse" >"$zd/$z.zone" ||
            dns_fail "dns: expand $z"
    done
    {
        ldns-signzone -o dane.example. -f "$zd/dane.example.signed" "$zd/dane.example.zone" "$k_top" &&
            ldns-signzone -o bogus.dane.example. -f "$zd/bogus.dane.example.signed" \
                "$zd/bogus.dane.example.zone" "$k_bogus" &&
            ldns-signzone -o expired.dane.example. -i 20200101000000 -e 20200201000000 \
                -f "$zd/expired.dane.example.signed" "$zd/expired.dane.example.zone" "$k_expired" &&
            cp "$zd/insecure.dane.example.zone" "$zd/insecure.dane.example.signed"
    } >>"$DNS_DIR/sign.log" 2>&1 || dns_fail "ldns-signzone"
    dns_tamper "$zd/dane.example.signed" "$zd/dane.example.tamper" 2>>"$DNS_DIR/sign.log" ||
        dns_fail "dns: tampering"
    dns_reverse "$zd/dane.example.signed" "$zd/dane.example.reverse" 2>>"$DNS_DIR/sign.log" ||
        dns_fail "dns: reversing an RRset"

    DNS_TA=$DNS_DIR/trust-anchor.ds
    awk '{ sub(/^.*DS[ \t]+/, ""); print "dane.example. 3600 IN DS " $0; exit }' "$k_top.ds" >"$DNS_TA"
    grep -q ' DS [0-9]' "$DNS_TA" || dns_fail "dns: trust anchor"
}

dns_write_unbound_conf() {
    DNS_UNBOUND_CONF=$DNS_DIR/unbound.conf
    local z
    {
        cat <<EOF
# libunbound settings for the test DNS (dnslib.sh). Applied with ub_ctx_config().
server:
    # The test servers are on 127.0.0.1; unbound refuses to query localhost by default.
    do-not-query-localhost: no
    # A server that does not answer: libunbound retries with a timeout that doubles up to
    # infra-cache-max-rtt (default 120000 ms: about 17 s before it gives up with SERVFAIL);
    # 1000 ms makes it give up after 2-4 s (DNS_MAX_RTT, in ms: more for a slow tlsguard).
    infra-cache-max-rtt: ${DNS_MAX_RTT:-1000}
    # ...and then marks the server down for infra-host-ttl seconds (default 900): later lookups
    # fail at once. 1 s lets it be probed (and time out) again once the SERVFAIL that libunbound
    # caches for 5 s has expired.
    infra-host-ttl: 1
    # Answers keep the order nsd sends (the zone file's): a test can put an RRset's records in
    # the order it needs (manymx: the most preferred MX hosts last).
    rrset-roundrobin: no
EOF
        # nsd serves the top zone and the child zones on one port. The stub for dane.example.
        # alone was enough with libunbound 1.17.1 (stubs win over the NS records it learns, which
        # point at port 53); the children's own stubs keep it so with other versions.
        for z in dane.example bogus.dane.example expired.dane.example insecure.dane.example; do
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: 127.0.0.1@%s\n' "$z" "$DNS_PORT"
        done
        for z in timeout.dane.example _tcp.mx.tlsatimeout.dane.example; do
            printf 'stub-zone:\n    name: "%s."\n    stub-addr: 127.0.0.1@%s\n' "$z" "$DNS_BLACKHOLE_PORT"
        done
        printf 'stub-zone:\n    name: "%s."\n    stub-addr: 127.0.0.1@%s\n' servfail.dane.example "$DNS_SERVFAIL_PORT"
        # Names under cnameq. (no zone cut) are asked through a relay to nsd that answers
        # queries of type CNAME with SERVFAIL.
        printf 'stub-zone:\n    name: "%s."\n    stub-addr: 127.0.0.1@%s\n' cnameq.dane.example "$DNS_CNAMEFAIL_PORT"
    } >"$DNS_UNBOUND_CONF"
    DNS_TG_CONF=("dns_trust_anchor=$DNS_TA" "dns_unbound_conf=$DNS_UNBOUND_CONF")
}

# dns_spawn PORT DESC COMMAND...: runs COMMAND in the background (log in $DNS_DIR/DESC.log),
# stopped at exit, and waits until it listens on 127.0.0.1:PORT (TCP).
dns_spawn() {
    local port=$1 desc=$2 pid
    shift 2
    "$@" >>"$DNS_DIR/${desc// /-}.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    wait_port "$port" 10 "$pid" || dns_fail "dns: $desc did not listen on 127.0.0.1:$port"
}

dns_start_servers() {
    local z
    {
        cat <<EOF
server:
    ip-address: 127.0.0.1@$DNS_PORT
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$DNS_DIR/zones"
    pidfile: "$DNS_DIR/nsd.pid"
    database: ""
    zonelistfile: "$DNS_DIR/zone.list"
    xfrdfile: "$DNS_DIR/xfrd.state"
    xfrdir: "$DNS_DIR"
    logfile: "$DNS_DIR/nsd.log"
    verbosity: 1
    hide-version: yes
remote-control:
    control-enable: no
EOF
        for z in dane.example bogus.dane.example expired.dane.example insecure.dane.example; do
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.signed"\n' "$z" "$z"
        done
    } >"$DNS_DIR/nsd.conf"
    nsd-checkconf "$DNS_DIR/nsd.conf" >>"$DNS_DIR/nsd.log" 2>&1 || dns_fail "nsd-checkconf"
    # -d: stays in the foreground, so this shell can stop it (lib.sh's cleanup kills tracked pids).
    dns_spawn "$DNS_PORT" nsd nsd -d -c "$DNS_DIR/nsd.conf"
    dns_spawn_dnsq DNS_BLACKHOLE_PORT "silent server" blackhole
    dns_spawn_dnsq DNS_SERVFAIL_PORT "SERVFAIL server" servfail
    dns_spawn_dnsq DNS_CNAMEFAIL_PORT "CNAME SERVFAIL relay" cnamefail "$DNS_PORT"
}

# dns_spawn_dnsq VAR DESC MODE [ARG...]: `dnsq MODE PORT ARG...` on a free port, stored in VAR.
# A port is checked free, then bound: when a resolver's random source port came in between, the
# server exits, and another port is tried.
dns_spawn_dnsq() {
    local var=$1 desc=$2 mode=$3 port pid i
    shift 3
    for ((i = 0; i < 5; i++)); do
        port=$(dns_free_port) || fail "no free port"
        "$DNSQ" "$mode" "$port" "$@" >>"$DNS_DIR/${desc// /-}.log" 2>&1 &
        pid=$!
        track_pid "$pid"
        if wait_port "$port" 10 "$pid"; then
            printf -v "$var" '%s' "$port"
            return 0
        fi
    done
    dns_fail "dns: $desc did not listen: $(tail -n 3 "$DNS_DIR/${desc// /-}.log")"
}

# nsd listens before it has loaded every zone: wait until the top zone answers.
dns_wait_ready() {
    local end=$((SECONDS + 10)) out=""
    while [ "$SECONDS" -lt "$end" ]; do
        out=$("$DNSQ" -c "$DNS_UNBOUND_CONF" -a "$DNS_TA" -t 2 "$DNS_ZONE" SOA 2>&1) || true
        case "$out" in *status=secure*) return 0 ;; esac
        sleep 0.1
    done
    dns_fail "dns: $DNS_ZONE SOA is not secure: $out"
}

# dns_query [-t SECONDS] NAME TYPE [NAME TYPE...]: dnsq's lines (one context for all pairs).
dns_query() {
    local t=()
    if [ "${1:-}" = -t ]; then
        t=(-t "$2")
        shift 2
    fi
    "$DNSQ" -c "$DNS_UNBOUND_CONF" -a "$DNS_TA" "${t[@]}" "$@"
}

# dns_expect [-t SECONDS] NAME TYPE CHECK...: passes if dns_query's line meets every CHECK:
#   KEY=VALUE  a field of the line is KEY=VALUE, VALUE being a glob (data=*10:mx.ok.*,
#              elapsed=[1-9]*)
#   ~TEXT      the line contains TEXT (for why_bogus="...", which has spaces)
# Fails (dns_fail) otherwise.
dns_expect() {
    local t=() name type line check field fields ok
    if [ "$1" = -t ]; then
        t=(-t "$2")
        shift 2
    fi
    name=$1 type=$2
    shift 2
    line=$(dns_query "${t[@]}" "$name" "$type" 2>&1) || dns_fail "dnsq $name $type failed: $line"
    for check in "$@"; do
        ok=""
        if [ "${check#\~}" != "$check" ]; then
            case "$line" in *"${check#\~}"*) ok=1 ;; esac
        else
            read -ra fields <<<"$line"
            for field in "${fields[@]}"; do
                # shellcheck disable=SC2053 # VALUE is a glob on purpose
                [[ "$field" == ${check%%=*}=${check#*=} ]] && ok=1 && break
            done
        fi
        [ -n "$ok" ] || dns_fail "$name $type: want $check, got: $line"
    done
    # Digests shortened for the report.
    pass "$name $type: $(printf '%s' "$*" | sed -E 's/([0-9a-f]{8})[0-9a-f]{56}/\1.../g')"
}
