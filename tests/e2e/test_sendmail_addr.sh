#!/bin/bash
# SPDX-License-Identifier: MIT
# Envelope addresses in every form Sendmail 8.17 accepts (RFC 822 comments, whitespace, quoted
# local parts, source routes, trailing dots, case, no angle brackets, junk after '>', bang
# paths, 8-bit domains): the from: or rcpt: rule of the domain Sendmail uses applies, at MAIL
# and at RCPT. What tlsguard cannot read - address literals, which Sendmail takes even with a
# host name inside, and a local part alone that Sendmail's local mailer gets - is deferred
# with 451 4.1.7 / 4.1.3 where such a rule exists and recorded as verdict unreadable.
# (the same forms against Postfix: test_addr_forms.sh)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sendmail.sh"
. "$(dirname "$0")/lib_addr_forms.sh"
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt action=reject
from:bänk.example encrypt action=reject
rcpt:secure.example encrypt action=reject
rcpt:xn--scure-bsa.example encrypt action=reject
* may
EOF2
start_all_sendmail

sendmail_only=('<x@DOM..>' '<x@DOM>junk' '<"x@DOM">' '<x%DOM>')
mail_text="TLS required for mail from bank.example (rule from:bank.example)"
check_forms MAIL bank.example 530 5.7.0 "$mail_text" "${ADDR_FORMS_BOTH[@]}" "${sendmail_only[@]}"
n=$((${#ADDR_FORMS_BOTH[@]} + ${#sendmail_only[@]}))
sql_is "SELECT count(*) FROM messages WHERE rule = 'from:bank.example' AND verdict = 'fail'
        AND action = 'reject' AND outcome = 'refused'" "$n" \
    "one refused messages row for each form, with the rule of bank.example"

rcpt_text="TLS required for mail to secure.example (rule rcpt:secure.example)"
check_forms RCPT secure.example 530 5.7.0 "$rcpt_text" "${ADDR_FORMS_BOTH[@]}" "${sendmail_only[@]}"
sql_is "SELECT count(*) FROM recipients WHERE rule = 'rcpt:secure.example' AND verdict = 'fail'
        AND action = 'reject'" "$n" "one recipients row for each form, with the rule of secure.example"

# 8-bit domains (Sendmail takes them without SMTPUTF8) compare as A-labels. Sendmail refuses
# octets 0x80-0x9f ("501 5.1.7 8-bit character in mailbox address"; its internal
# metacharacters), so the upper-case U+00C4 (0xc3 0x84) of test_addr_forms.sh is left out.
for arg in '<x@bänk.example>' '<x@bänk.example (c)>' '<x@xn--bnk-qla.example>'; do
    mail_form "$arg"
    expect_refusal 530 5.7.0 "mail from xn--bnk-qla.example (rule from:xn--bnk-qla.example)" \
        "MAIL $arg: the U-label rule applies"
done
rcpt_form '<x@sécure.example>'
expect_refusal 530 5.7.0 "mail to xn--scure-bsa.example (rule rcpt:xn--scure-bsa.example)" \
    "RCPT <x@sécure.example>: the A-label rule applies"

# Unreadable: deferred, recorded, logged.
for arg in '<x@[192.0.2.1]>' '<x@[bank.example]>'; do
    mail_form "$arg"
    expect_refusal 451 4.1.7 "tlsguard cannot read the sender address: an address literal names no domain" \
        "MAIL $arg: 451 4.1.7"
    rcpt_form "$(form_of "$arg" secure.example)"
    expect_refusal 451 4.1.3 "tlsguard cannot read the recipient address: an address literal names no domain" \
        "RCPT $arg: 451 4.1.3"
done
# Sendmail's {mail_addr} for <ceo> is "ceo" (local mailer): no domain to match a rule against.
mail_form '<ceo>'
expect_refusal 451 4.1.7 "tlsguard cannot read the sender address: a local part without a domain" \
    "MAIL <ceo>: 451 4.1.7"
mail_form '<Postmaster>'
expect_reply 250 "2.1.0" "MAIL <Postmaster>: accepted (RFC 5321 4.5.1)"
sql_is "SELECT verdict, action, outcome FROM messages WHERE mail_from = 'x@[bank.example]'" \
    "unreadable|defer|refused" "the messages row says why"
sql_is "SELECT count(*) FROM recipients WHERE verdict = 'unreadable' AND action = 'defer'
        AND reason = 'recipient address unreadable: an address literal names no domain'" 2 \
    "the recipients rows say why"
expect_log "the log says why" "verdict=unreadable" "action=defer" "sender address unreadable: a local part without a domain"
sendmail_log_has "451 4.1.7" || fail "Sendmail's log does not show the milter's 451 4.1.7"
pass "Sendmail logged the milter's 451 4.1.7"
