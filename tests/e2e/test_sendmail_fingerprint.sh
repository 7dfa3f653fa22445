#!/bin/bash
# SPDX-License-Identifier: MIT
# Level fingerprint with a real Sendmail 8.17: client certificates pinned by fingerprint,
# trusted by Sendmail or not. With CertFingerprintAlgorithm=sha256 Sendmail passes {cert_fp};
# without it {cert_md5}. A pinned certificate passes, any other certificate, none, plaintext
# and a protocol below the rule's floor are refused with the policy's text; the fingerprint is
# recorded in sessions.cert_fp; `tlsguard check` warns that the level needs Sendmail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
e2e_init

fp() { # CERT DIGEST [colons|bare]: the certificate's fingerprint as openssl prints it
    local v
    v=$(openssl x509 -in "$E2E/certs/client-$1.crt" -noout -fingerprint "-$2" | sed 's/^.*=//')
    if [ "${3:-colons}" = bare ]; then
        printf '%s' "$v" | tr -d : | tr 'A-F' 'a-f'
    else
        printf '%s' "$v"
    fi
}
untrusted256=$(fp untrusted sha256)
wrong256=$(fp wrong sha256)
good256=$(fp good sha256)
good_md5=$(fp good md5)

# The untrusted (self-signed) certificate is pinned in lowercase without colons, the wrong one
# as openssl prints it: both spellings must match what Sendmail passes.
write_policy <<EOF2
from:pin.example fingerprint match=$(fp untrusted sha256 bare),$wrong256 action=reject
from:floor.example fingerprint protocols=>=TLSv1.3 match=$good256
from:md5.example fingerprint match=$good_md5
* may
EOF2
write_conf

# --- tlsguard check: the level needs Sendmail's macros
rc=0
"$TLSGUARD" check -c "$CONF" >"$E2E/check.out" 2>"$E2E/check.err" || rc=$?
[ "$rc" = 0 ] || fail "tlsguard check exited $rc: $(cat "$E2E/check.err")"
for line in 1 2 3; do
    grep -qxF "$POLICY:$line: warning: level fingerprint needs the client certificate's fingerprint from the MTA, Sendmail's {cert_fp} or {cert_md5}; Postfix passes none, and there the rule fails every time" "$E2E/check.err" ||
        fail "tlsguard check: no warning for the fingerprint rule on line $line: $(cat "$E2E/check.err")"
done
[ "$(grep -c warning "$E2E/check.err")" = 3 ] || fail "tlsguard check: warnings other than the three: $(cat "$E2E/check.err")"
grep -qxF "line 1: from:pin.example fingerprint match=$untrusted256,$wrong256 action=reject" "$E2E/check.out" ||
    fail "tlsguard check does not show the pins normalised: $(cat "$E2E/check.out")"
grep -qxF "configuration OK" "$E2E/check.out" || fail "tlsguard check: not OK"
pass "tlsguard check: a warning per fingerprint rule, pins normalised, configuration OK"

start_tlsguard
start_sendmail --fp sha256

need="TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example)"

# --- pinned, though no CA vouches for it
send_mail --cert untrusted --from a@pin.example --to r@y.example --header "Subject: fp-untrusted" ||
    fail "pinned self-signed certificate refused"
f=$(wait_for_delivery fp-untrusted)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:pin.example" \
    "pinned self-signed certificate (lowercase pin without colons)"
sql_is "SELECT cert_fp, cert_verified FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'a@pin.example')" "$untrusted256|0" \
    "sessions.cert_fp: Sendmail's {cert_fp} (SHA-256), not verified"

send_mail --cert wrong --from b@pin.example --to r@y.example --header "Subject: fp-wrong" ||
    fail "pinned CA-issued certificate refused"
wait_for_delivery fp-wrong >/dev/null
pass "pinned CA-issued certificate (pin with colons)"

# --- refusals
send_mail --cert good --from c@pin.example --to r@y.example && fail "certificate not pinned accepted"
expect_reply 550 "5.7.1 <c@pin.example>... $need: client certificate SHA-256 fingerprint $good256 is not in match=" \
    "trusted but not pinned: 550 5.7.1"

send_mail --tls --from d@pin.example --to r@y.example && fail "no certificate accepted"
expect_reply 550 "5.7.1 <d@pin.example>... $need: no client certificate" "no certificate: 550 5.7.1"
sql_is "SELECT cert_fp IS NULL, cert_verified FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'd@pin.example')" "1|0" "no certificate: cert_fp NULL"

send_mail --from e@pin.example --to r@y.example && fail "plaintext accepted"
expect_reply 530 "5.7.0 $need: session was not encrypted" "plaintext: 530 5.7.0"

send_mail --cert good --tls-protocol tlsv1_2 --from f@floor.example --to r@y.example &&
    fail "TLSv1.2 accepted by protocols=>=TLSv1.3"
expect_tls TLSv1.2
expect_reply 451 "4.7.1 TLS with a pinned client certificate required for mail from floor.example (rule from:floor.example): protocol TLSv1.2 not allowed by protocols=>=TLSv1.3" \
    "pinned, below the floor: 451 4.7.1 (default_action defer)"
send_mail --cert good --from g@floor.example --to r@y.example --header "Subject: fp-floor13" ||
    fail "pinned TLSv1.3 refused"
wait_for_delivery fp-floor13 >/dev/null
pass "pinned, TLSv1.3: accepted"

# An MD5 pin never matches while Sendmail passes SHA-256: the reason says what to change.
send_mail --cert good --from h@md5.example --to r@y.example && fail "MD5 pin matched a SHA-256 fingerprint"
expect_reply 451 "4.7.1 TLS with a pinned client certificate required for mail from md5.example (rule from:md5.example): client certificate SHA-256 fingerprint $good256 is not in match= (it lists no SHA-256 fingerprint; see Sendmail's CertFingerprintAlgorithm)" \
    "MD5 pin, SHA-256 from Sendmail: 451 with the hint"

# --- Sendmail's default: {cert_md5}
stop_sendmail
start_sendmail
send_mail --cert good --from i@md5.example --to r@y.example --header "Subject: fp-md5" ||
    fail "MD5 pin refused with {cert_md5}"
wait_for_delivery fp-md5 >/dev/null
pass "MD5 pin, Sendmail without CertFingerprintAlgorithm ({cert_md5}): accepted"
sql_is "SELECT cert_fp, cert_verified FROM sessions WHERE id = (SELECT session_id FROM messages
        WHERE mail_from = 'i@md5.example')" "$good_md5|1" "sessions.cert_fp: {cert_md5}"

sql_is "SELECT mail_from, level, action FROM policy_hits ORDER BY message_id" \
    "c@pin.example|fingerprint|reject
d@pin.example|fingerprint|reject
e@pin.example|fingerprint|reject
f@floor.example|fingerprint|defer
h@md5.example|fingerprint|defer" "policy_hits: one row per refusal"
sql_is "SELECT count(*) FROM sessions WHERE cert_fp IS NOT NULL" "7" \
    "cert_fp recorded for every session with a client certificate"
