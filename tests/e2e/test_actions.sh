#!/bin/bash
# SPDX-License-Identifier: MIT
# ctest: quick
# Every action for a failed encrypt rule, driven by plaintext mail: reject (530 5.7.0), defer
# (451 4.7.0 with tlsguard's text, not Postfix's dead-milter reply), default_action, tag
# (header in the delivered message), quarantine (Postfix hold queue), monitor.
. "$(dirname "$0")/lib.sh"
e2e_init
write_policy <<'EOF2'
from:reject.example encrypt action=reject
from:defer.example encrypt action=defer
from:default.example encrypt
from:tag.example encrypt action=tag
from:quarantine.example encrypt action=quarantine
from:monitor.example encrypt action=monitor
EOF2
start_all default_action=defer

text() { echo "TLS required for mail from $1.example (rule from:$1.example): session was not encrypted"; }
message_is() { # LOCALPART@DOMAIN WANT DESC
    sql_is "SELECT rule, verdict, reason, action, outcome FROM messages WHERE mail_from = '$1'" "$2" "$3"
}

# --- reject
send_mail --from a@reject.example --to r@y.example --header "Subject: act-reject" && fail "reject: accepted"
expect_reply 530 "5.7.0 $(text reject)" "reject: MAIL refused with 530 5.7.0"
expect_no_reply 354 "reject: no DATA"
message_is a@reject.example "from:reject.example|fail|session was not encrypted|reject|refused" "reject: messages row"

# --- defer
send_mail --from a@defer.example --to r@y.example --header "Subject: act-defer" && fail "defer: accepted"
expect_reply 451 "4.7.0 $(text defer)" "defer: MAIL refused with 451 4.7.0"
grep -qF "Service unavailable" <<<"$(replies)" && fail "defer: Postfix's dead-milter text instead of tlsguard's"
pass "defer: the text is tlsguard's, not 'Service unavailable'"
message_is a@defer.example "from:defer.example|fail|session was not encrypted|defer|refused" "defer: messages row"

# --- no action=: default_action = defer
send_mail --from a@default.example --to r@y.example && fail "default: accepted"
expect_reply 451 "4.7.0 $(text default)" "default_action defer: 451 4.7.0"
message_is a@default.example "from:default.example|fail|session was not encrypted|defer|refused" \
    "default: messages row records the action applied (defer)"

# --- tag
send_mail --from a@tag.example --to r@y.example --header "Subject: act-tag" || fail "tag: refused"
f=$(wait_for_delivery act-tag)
expect_header "$f" "fail tls=none rule=from:tag.example" "tag"
message_is a@tag.example "from:tag.example|fail|session was not encrypted|tag|tagged" "tag: messages row"
send_mail --tls --from b@tag.example --to r@y.example --header "Subject: act-tag-tls" || fail "tag+TLS: refused"
f=$(wait_for_delivery act-tag-tls)
expect_header "$f" "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:tag.example" \
    "tag rule met"
message_is b@tag.example "from:tag.example|pass|NULL|accept|accepted" "tag rule met: messages row"

# --- quarantine
send_mail --from a@quarantine.example --to r@y.example --header "Subject: act-quarantine" ||
    fail "quarantine: refused"
expect_reply 250 "queued as" "quarantine: accepted"
qid=$(last_queue_id)
grep -qx "$qid" <<<"$(held_ids)" || fail "quarantine: $qid not in the hold queue: $(postqueue -c "$PFDIR/etc" -p 2>&1)"
pass "quarantine: $qid is in Postfix's hold queue"
# Postfix 3.7 logs that a milter asked for HOLD, not the reason given to smfi_quarantine.
grep -qF "$qid: milter-hold: END-OF-MESSAGE" "$PFDIR/maillog" ||
    fail "quarantine: Postfix did not log a milter hold for $qid"
pass "quarantine: Postfix logged the milter hold"
not_delivered act-quarantine
message_is a@quarantine.example "from:quarantine.example|fail|session was not encrypted|quarantine|quarantined" \
    "quarantine: messages row"
sql_is "SELECT queue_id FROM messages WHERE mail_from = 'a@quarantine.example'" "$qid" "quarantine: queue id recorded"

# --- monitor
send_mail --from a@monitor.example --to r@y.example --header "Subject: act-monitor" || fail "monitor: refused"
f=$(wait_for_delivery act-monitor)
expect_header "$f" "fail tls=none rule=from:monitor.example" "monitor"
message_is a@monitor.example "from:monitor.example|fail|session was not encrypted|monitor|accepted" \
    "monitor: messages row"

sql_is "SELECT mail_from, rcpt, rule, level, action FROM policy_hits ORDER BY message_id" \
    "a@reject.example|NULL|from:reject.example|encrypt|reject
a@defer.example|NULL|from:defer.example|encrypt|defer
a@default.example|NULL|from:default.example|encrypt|defer
a@tag.example|NULL|from:tag.example|encrypt|tag
a@quarantine.example|NULL|from:quarantine.example|encrypt|quarantine
a@monitor.example|NULL|from:monitor.example|encrypt|monitor" "policy_hits: one row per failed requirement"
for a in reject defer tag quarantine monitor; do
    expect_log "$a: decision logged" "from=<a@$a.example>" "tls=none" "rule=from:$a.example" \
        "level=encrypt" "verdict=fail" "action=$a"
done
