#!/bin/bash
# SPDX-License-Identifier: MIT
# Envelope addresses in every form Postfix 3.7 accepts (strict_rfc821_envelopes = no: RFC 822
# comments, whitespace, quoted local parts, source routes, trailing dots, case, no angle
# brackets, bang paths, UTF-8 with SMTPUTF8): the from: or rcpt: rule of the domain Postfix
# uses applies, at MAIL and at RCPT. What tlsguard cannot read (an unclosed comment Postfix
# tolerates, an address literal) is deferred with 451 4.1.7 / 4.1.3 where such a rule exists,
# recorded as verdict unreadable, and only recorded in mode = monitor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_addr_forms.sh"
e2e_init
# Selectors as U-label and as A-label: both match both forms.
write_policy <<'EOF2'
from:bank.example encrypt action=reject
from:bänk.example encrypt action=reject
from:mx.tlsguard.test encrypt action=reject
rcpt:secure.example encrypt action=reject
rcpt:xn--scure-bsa.example encrypt action=reject
* may
EOF2
write_conf
start_tlsguard
start_postfix "mydestination = local.tlsguard.test"

mail_text="TLS required for mail from bank.example (rule from:bank.example)"
check_forms MAIL bank.example 530 5.7.0 "$mail_text" "${ADDR_FORMS_BOTH[@]}" \
    '<"x@DOM">' '<x@"DOM">' '<x@bank\.example>'
sql_is "SELECT count(*) FROM messages WHERE rule = 'from:bank.example' AND verdict = 'fail'
        AND action = 'reject' AND outcome = 'refused'" "$((${#ADDR_FORMS_BOTH[@]} + 3))" \
    "one refused messages row for each form, with the rule of bank.example"

rcpt_text="TLS required for mail to secure.example (rule rcpt:secure.example)"
check_forms RCPT secure.example 530 5.7.0 "$rcpt_text" "${ADDR_FORMS_BOTH[@]}" '<"x@DOM">'
sql_is "SELECT count(*) FROM recipients WHERE rule = 'rcpt:secure.example' AND verdict = 'fail'
        AND action = 'reject'" "$((${#ADDR_FORMS_BOTH[@]} + 1))" \
    "one recipients row for each form, with the rule of secure.example"

# Postfix hands the milter ceo@$myorigin for <ceo>: tlsguard uses that domain.
mail_form '<ceo>'
expect_refusal 530 5.7.0 "mail from mx.tlsguard.test (rule from:mx.tlsguard.test)" \
    "MAIL <ceo>: Postfix's {mail_addr} supplies \$myorigin"
# Percent hack: Postfix reads x%bank.example (no '@') and x%bank.example@local.tlsguard.test (a
# local domain) as x@bank.example. In the second the argument names local.tlsguard.test, which
# has no rule: both domains are checked and bank.example's rule refuses.
for arg in '<x%bank.example>' '<x%bank.example@local.tlsguard.test>'; do
    mail_form "$arg"
    expect_refusal 530 5.7.0 "$mail_text" "MAIL $arg: the percent hack's domain is checked"
done
expect_log "both readings logged" "envelope address=sender mta_domain=bank.example command_domain=local.tlsguard.test checked=both"
# Two '@': Postfix routes to the last one; so does tlsguard (no rule: accepted).
mail_form '<x@bank.example@evil.example>'
expect_reply 250 "2.1.0" "MAIL <x@bank.example@evil.example>: evil.example, as Postfix reads it"

# UTF-8 domains (SMTPUTF8) compare as A-labels, whichever form the rule or the client wrote.
for arg in '<x@bänk.example>' '<x@BÄNK.example (c)>' '<x@xn--bnk-qla.example>'; do
    mail_form "$arg" SMTPUTF8
    expect_refusal 530 5.7.0 "mail from xn--bnk-qla.example (rule from:xn--bnk-qla.example)" \
        "MAIL $arg: the U-label rule applies"
done
rcpt_form '<x@sécure.example>'
expect_refusal 501 5.1.3 "Bad recipient address syntax" "RCPT UTF-8 without SMTPUTF8: Postfix refuses it itself"
smtp_open
smtp_cmd "EHLO client.tlsguard.test"
smtp_cmd "MAIL FROM:<s@plain.example> SMTPUTF8"
smtp_cmd "RCPT TO:<x@sécure.example>"
smtp_cmd QUIT
smtp_close
expect_refusal 530 5.7.0 "mail to xn--scure-bsa.example (rule rcpt:xn--scure-bsa.example)" \
    "RCPT <x@sécure.example>: the A-label rule applies"

# Unreadable: deferred where a rule could apply, recorded, logged.
mail_form '<x@bank.example(unclosed>'
expect_refusal 451 4.1.7 "tlsguard cannot read the sender address: address syntax not understood" \
    "MAIL with an unclosed comment (Postfix takes it): 451 4.1.7"
mail_form '<x@[192.0.2.1]>'
expect_refusal 451 4.1.7 "tlsguard cannot read the sender address: an address literal names no domain" \
    "MAIL from an address literal: 451 4.1.7"
sql_is "SELECT verdict, action, reason, outcome FROM messages WHERE mail_from = 'x@[192.0.2.1]'" \
    "unreadable|defer|sender address unreadable: an address literal names no domain|refused" \
    "the messages row says why"
expect_log "the log says why" "verdict=unreadable" "action=defer" "sender address unreadable: an address literal"
rcpt_form '<x@[192.0.2.1]>'
expect_refusal 451 4.1.3 "tlsguard cannot read the recipient address: an address literal names no domain" \
    "RCPT to an address literal: 451 4.1.3"
rcpt_form '<x@secure.example(unclosed>'
expect_refusal 451 4.1.3 "tlsguard cannot read the recipient address" "RCPT with an unclosed comment: 451 4.1.3"
sql_is "SELECT count(*) FROM recipients WHERE verdict = 'unreadable' AND action = 'defer'" 2 \
    "the recipients rows say why"

info "restarting tlsguard with mode = monitor"
stop_tlsguard
write_conf mode=monitor
start_tlsguard
send_mail --from 'x@[192.0.2.1]' --to r@y.example --header "Subject: addr-monitor" ||
    fail "mode monitor: unreadable sender refused"
f=$(wait_for_delivery addr-monitor)
sql_is "SELECT verdict, action, outcome FROM messages WHERE id = (SELECT max(id) FROM messages)" \
    "unreadable|monitor|accepted" "mode monitor: recorded as unreadable, not refused"
