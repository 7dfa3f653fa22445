# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib_addr_forms.sh - envelope address forms for test_addr_forms.sh (Postfix) and
# test_sendmail_addr.sh (Sendmail): raw MAIL FROM / RCPT TO arguments as a client may write
# them, and helpers that send one on a plaintext session and check the reply and the row.
# Source it after lib.sh. The forms hold DOM where the domain goes and DOMUP for it in upper
# case; the table of what each MTA accepts and hands the milter is at the top of policy/addr.c.

# Forms both MTAs accept and read as DOM.
ADDR_FORMS_BOTH=(
    '<x@DOM (c)>'
    '<x@DOM(c)>'
    '<(c)x@DOM>'
    '<x@(c)DOM>'
    '<x(@evil.example)@DOM>'
    '<x@DOM(nested (c) x)>'
    '<x @ DOM>'
    '< x@DOM >'
    $'<x@DOM\t(tab)>'
    '<"x y"@DOM>'
    '<"x@evil.example"@DOM>'
    '<x\@evil.example@DOM>'
    '<@relay.example,@b.example:x@DOM>'
    '<x@DOM.>'
    '<x@DOMUP>'
    'x@DOM'
    'x@DOM(c)'
    '<x@DOM>(c)'
    '(c)<x@DOM>'
    '<<x@DOM>>'
    '<x@DOM;>'
    '<DOM!x>'
)

# form_of FORM DOMAIN: the form with its domain filled in.
form_of() {
    local f=${1//DOMUP/${2^^}}
    printf '%s' "${f//DOM/$2}"
}

# mail_form ARG [EXTRA]: a plaintext session up to MAIL FROM:ARG [EXTRA]; replies in
# $E2E/last.txt.
mail_form() {
    smtp_open
    smtp_cmd "EHLO client.tlsguard.test"
    smtp_cmd "MAIL FROM:$1${2:+ $2}"
    smtp_cmd QUIT
    smtp_close
}

# rcpt_form ARG: a plaintext session up to RCPT TO:ARG after an ordinary sender.
rcpt_form() {
    smtp_open
    smtp_cmd "EHLO client.tlsguard.test"
    smtp_cmd "MAIL FROM:<s@plain.example>"
    smtp_cmd "RCPT TO:$1"
    smtp_cmd QUIT
    smtp_close
}

# expect_refusal CODE XCODE TEXT DESC: a reply line "CODE XCODE ...TEXT..." (Sendmail puts the
# address between them).
expect_refusal() {
    if grep -E "^$1 $2 " <<<"$(replies)" | grep -qF -- "$3"; then
        pass "$4"
    else
        fail "$4: no reply '$1 $2 ...$3...' in the transcript: $(replies | tail -n 2 | tr '\n' ' ')"
    fi
}

# check_forms MAIL|RCPT DOMAIN CODE XCODE TEXT FORM...: each form, filled in with DOMAIN, is
# refused at that command with that reply (the rule for DOMAIN applies to it).
check_forms() {
    local cmd=$1 dom=$2 code=$3 xcode=$4 text=$5 f arg
    shift 5
    for f in "$@"; do
        arg=$(form_of "$f" "$dom")
        if [ "$cmd" = MAIL ]; then mail_form "$arg"; else rcpt_form "$arg"; fi
        expect_refusal "$code" "$xcode" "$text" "$cmd $arg: the rule for $dom applies"
    done
}
