/* SPDX-License-Identifier: MIT */
/* Unit tests for the policy parser: every error kind with its exact message, and every
 * accepted rule as `tlsguard check` describes it. */
#include "policy/policy.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 8

typedef struct row {
    const char *name;
    const char *text;
    size_t len;                    /* 0: strlen(text) */
    const char *errors[MAX_LINES]; /* exact diagnostics, in order; none = must parse */
    const char *rules[MAX_LINES];  /* policy_rule_describe() of each rule, if it parses */
} row;

static const row rows[] = {
    /* accepted rules, as understood */
    {"empty file", "", 0, {NULL}, {NULL}},
    {"comments and blanks", "# a comment\n\n   \t\n# caf\xc3\xa9 in a comment is fine\n", 0, {NULL}, {NULL}},
    {"case and trailing dot",
     "from:Bank.Example. encrypt protocols=>=TLSv1.2\n",
     0,
     {NULL},
     {"line 1: from:bank.example encrypt protocols=>=TLSv1.2 action=default"}},
    {"every selector kind",
     "# policy\n"
     "rcpt:.Example.ORG may min_bits=128\n"
     "client:[2001:DB8::]/32 verify match=a.example:.B.example action=reject\n"
     "CLIENT:10.0.0.1 none\n"
     "* may\n"
     "client:0.0.0.0/0 ENCRYPT\n"
     "client:::/0 may\n"
     "client:::1/128 may # trailing comment\r\n",
     0,
     {NULL},
     {"line 2: rcpt:.example.org may min_bits=128",
      "line 3: client:2001:db8::/32 verify match=a.example:.B.example action=reject",
      "line 4: client:10.0.0.1 none", "line 5: * may", "line 6: client:0.0.0.0/0 encrypt action=default",
      "line 7: client:::/0 may", "line 8: client:::1/128 may"}},
    {"IPv4-mapped IPv6 networks are read as IPv4",
     "client:::ffff:198.51.100.0/120 encrypt\n"
     "client:[::FFFF:192.0.2.7] may\n"
     "client:::ffff:0.0.0.0/96 may\n"
     "client:::ffff:c000:200/128 none\n",
     0,
     {NULL},
     {"line 1: client:198.51.100.0/24 encrypt action=default", "line 2: client:192.0.2.7 may",
      "line 3: client:0.0.0.0/0 may", "line 4: client:192.0.2.0/32 none"}},
    {"all attributes",
     "from:xn--bcher-kva.example verify protocols=!SSLv2:!SSLv3:!TLSv1:!TLSv1.1 "
     "ciphers=HIGH:!aNULL:!kRSA min_bits=256 match=mx.example action=quarantine\n"
     "rcpt:x.example encrypt protocols=TLSv1.2,TLSv1.3 action=tag\n"
     "from:y.example encrypt protocols=<=TLSv1.2 action=monitor\n"
     "from:z.example encrypt protocols=>=TLSv1:!TLSv1.1 ciphers=HIGH:!aNULL:!kRSA action=defer\n",
     0,
     {NULL},
     {"line 1: from:xn--bcher-kva.example verify protocols=!SSLv2:!SSLv3:!TLSv1:!TLSv1.1 "
      "ciphers=HIGH:!aNULL:!kRSA min_bits=256 match=mx.example action=quarantine",
      "line 2: rcpt:x.example encrypt protocols=TLSv1.2,TLSv1.3 action=tag",
      "line 3: from:y.example encrypt protocols=<=TLSv1.2 action=monitor",
      "line 4: from:z.example encrypt protocols=>=TLSv1:!TLSv1.1 ciphers=HIGH:!aNULL:!kRSA action=defer"}},
    {"same domain in from: and rcpt:, exact and subdomains",
     "from:a.example may\nfrom:.a.example may\nrcpt:a.example may\nrcpt:.a.example may\n",
     0,
     {NULL},
     {"line 1: from:a.example may", "line 2: from:.a.example may", "line 3: rcpt:a.example may",
      "line 4: rcpt:.a.example may"}},

    /* selectors */
    {"unknown selector", "bogus:x may\n", 0,
     {"p.conf:1: error: unknown selector 'bogus:x' (expected from:, rcpt:, client: or *)"}, {NULL}},
    {"bad domain", "from:a..b may\n", 0, {"p.conf:1: error: bad domain in selector 'from:a..b'"}, {NULL}},
    {"wildcard domain", "\n\nfrom:*.x.example may\n", 0,
     {"p.conf:3: error: bad domain in selector 'from:*.x.example' (write .example.com for any subdomain)"},
     {NULL}},
    {"empty domain", "rcpt: may\nfrom:. may\n", 0,
     {"p.conf:1: error: bad domain in selector 'rcpt:'", "p.conf:2: error: bad domain in selector 'from:.'"},
     {NULL}},
    {"comment inside a token is not a comment", "from:x#y may\n", 0,
     {"p.conf:1: error: bad domain in selector 'from:x#y'"}, {NULL}},
    {"bad address", "client:300.1.1.1 may\nclient:example.com may\n", 0,
     {"p.conf:1: error: bad address in selector 'client:300.1.1.1'",
      "p.conf:2: error: bad address in selector 'client:example.com'"},
     {NULL}},
    {"host bits set v4", "client:10.0.0.1/8 may\n", 0,
     {"p.conf:1: error: bad CIDR in selector 'client:10.0.0.1/8': host bits set"}, {NULL}},
    {"host bits set v6", "client:2001:db8::1/64 may\n", 0,
     {"p.conf:1: error: bad CIDR in selector 'client:2001:db8::1/64': host bits set"}, {NULL}},
    {"bad prefix lengths",
     "client:10.0.0.0/33 may\nclient:2001:db8::/129 may\nclient:10.0.0.0/ may\nclient:10.0.0.0/-1 may\n"
     "client:10.0.0.0/8x may\n",
     0,
     {"p.conf:1: error: bad CIDR in selector 'client:10.0.0.0/33': prefix length must be 0..32",
      "p.conf:2: error: bad CIDR in selector 'client:2001:db8::/129': prefix length must be 0..128",
      "p.conf:3: error: bad CIDR in selector 'client:10.0.0.0/': prefix length must be 0..32",
      "p.conf:4: error: bad CIDR in selector 'client:10.0.0.0/-1': prefix length must be 0..32",
      "p.conf:5: error: bad CIDR in selector 'client:10.0.0.0/8x': prefix length must be 0..32"},
     {NULL}},
    {"duplicate selector names both lines", "from:X.example. may\n# comment\nfrom:x.example encrypt\n", 0,
     {"p.conf:3: error: duplicate selector from:x.example (first at line 1)"}, {NULL}},
    {"duplicate *", "* may\n* encrypt\n", 0, {"p.conf:2: error: duplicate selector * (first at line 1)"},
     {NULL}},
    {"IPv4-mapped rule duplicates an IPv4 rule", "client:198.51.100.0/24 may\nclient:::ffff:198.51.100.0/120 encrypt\n", 0,
     {"p.conf:2: error: duplicate selector client:198.51.100.0/24 (first at line 1)"}, {NULL}},
    {"IPv4-mapped with a prefix below /96", "client:::ffff:0.0.0.0/95 may\n", 0,
     {"p.conf:1: error: bad CIDR in selector 'client:::ffff:0.0.0.0/95': host bits set"}, {NULL}},
    {"duplicate client with and without /32", "client:10.0.0.1 may\nclient:10.0.0.1/32 may\n", 0,
     {"p.conf:2: error: duplicate selector client:10.0.0.1/32 (first at line 1)"}, {NULL}},
    {"duplicate v6 spelled differently", "client:2001:DB8:0::/48 may\nclient:[2001:db8::]/48 may\n", 0,
     {"p.conf:2: error: duplicate selector client:2001:db8::/48 (first at line 1)"}, {NULL}},

    /* levels */
    {"unknown level", "from:x.example sometimes\n", 0,
     {"p.conf:1: error: unknown level 'sometimes' (expected none, may, encrypt, verify, fingerprint, dane or dane-only)"}, {NULL}},
    {"missing level", "from:x.example\n", 0, {"p.conf:1: error: missing level after selector 'from:x.example'"},
     {NULL}},

    /* attributes */
    {"unknown attribute", "from:x.example encrypt foo=1\n", 0, {"p.conf:1: error: unknown attribute 'foo'"},
     {NULL}},
    {"attribute without value", "from:x.example encrypt protocols\nfrom:y.example encrypt =x\n", 0,
     {"p.conf:1: error: expected attribute=value, got 'protocols'",
      "p.conf:2: error: expected attribute=value, got '=x'"},
     {NULL}},
    {"empty value", "from:x.example encrypt protocols=\n", 0, {"p.conf:1: error: empty value for protocols="},
     {NULL}},
    {"duplicate attribute", "from:x.example encrypt min_bits=1 min_bits=2\n", 0,
     {"p.conf:1: error: duplicate attribute min_bits="}, {NULL}},
    {"attribute on none", "from:x.example none protocols=>=TLSv1.2\n", 0,
     {"p.conf:1: error: attribute protocols= is not valid for level none"}, {NULL}},
    {"action on may", "from:x.example may action=reject\n", 0,
     {"p.conf:1: error: attribute action= is not valid for level may"}, {NULL}},
    {"match without verify", "from:x.example encrypt match=x.example\nfrom:y.example may match=y.example\n", 0,
     {"p.conf:1: error: attribute match= is not valid for level encrypt",
      "p.conf:2: error: attribute match= is not valid for level may"},
     {NULL}},
    {"unknown protocol", "from:x.example encrypt protocols=TLSv9\nfrom:y.example encrypt protocols=>=\n", 0,
     {"p.conf:1: error: unknown protocol 'TLSv9' in protocols=TLSv9",
      "p.conf:2: error: unknown protocol '>=' in protocols=>="},
     {NULL}},
    {"protocols allowing nothing",
     "from:x.example encrypt protocols=!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.2:!TLSv1.3\n"
     "from:y.example encrypt protocols=<=SSLv2\nfrom:z.example encrypt protocols=SSLv2\n",
     0,
     {"p.conf:1: error: protocols=!SSLv3:!TLSv1:!TLSv1.1:!TLSv1.2:!TLSv1.3 allows no protocol",
      "p.conf:2: error: protocols=<=SSLv2 allows no protocol", "p.conf:3: error: protocols=SSLv2 allows no protocol"},
     {NULL}},
    {"invalid cipher string", "from:x.example encrypt ciphers=NOSUCH\n", 0,
     {"p.conf:1: error: invalid cipher string ciphers=NOSUCH: no cipher match"}, {NULL}},
    {"bad min_bits",
     "from:a.example encrypt min_bits=0\nfrom:b.example encrypt min_bits=65536\n"
     "from:c.example encrypt min_bits=abc\nfrom:d.example encrypt min_bits=-5\n",
     0,
     {"p.conf:1: error: bad min_bits=0 (expected 1..65535)", "p.conf:2: error: bad min_bits=65536 (expected 1..65535)",
      "p.conf:3: error: bad min_bits=abc (expected 1..65535)", "p.conf:4: error: bad min_bits=-5 (expected 1..65535)"},
     {NULL}},
    {"bad match names", "from:a.example verify match=ok.example:bad..name\nfrom:b.example verify match=::\n", 0,
     {"p.conf:1: error: bad name 'bad..name' in match=ok.example:bad..name",
      "p.conf:2: error: match=:: names nothing"},
     {NULL}},
    {"bad action", "from:a.example encrypt action=accept\nfrom:b.example encrypt action=bounce\n", 0,
     {"p.conf:1: error: unknown action 'accept' (expected reject, defer, tag, quarantine or monitor)",
      "p.conf:2: error: unknown action 'bounce' (expected reject, defer, tag, quarantine or monitor)"},
     {NULL}},

    /* downgrade= (sender-side rules only) */
    {"downgrade= on sender-side rules",
     "from:a.example may downgrade=defer\nclient:192.0.2.0/24 none downgrade=REJECT\n"
     "* encrypt action=tag downgrade=off\nfrom:b.example verify downgrade=monitor\n"
     "from:c.example none downgrade=tag\n",
     0,
     {NULL},
     {"line 1: from:a.example may downgrade=defer", "line 2: client:192.0.2.0/24 none downgrade=reject",
      "line 3: * encrypt action=tag downgrade=off",
      "line 4: from:b.example verify action=default downgrade=monitor",
      "line 5: from:c.example none downgrade=tag"}},
    {"bad downgrade=",
     "from:a.example may downgrade=quarantine\nrcpt:x.example may downgrade=defer\n"
     "from:b.example may downgrade=defer downgrade=off\nrcpt:y.example dane downgrade=defer\n",
     0,
     {"p.conf:1: error: unknown downgrade 'quarantine' (expected off, monitor, tag, defer or reject)",
      "p.conf:2: error: attribute downgrade= is only valid for sender-side rules (client:, from:, *)",
      "p.conf:3: error: duplicate attribute downgrade=",
      "p.conf:4: error: attribute downgrade= is not valid for level dane",
      "p.conf:4: error: attribute downgrade= is only valid for sender-side rules (client:, from:, *)"},
     {NULL}},

    /* dane levels */
    {"dane levels on rcpt: rules",
     "rcpt:x.example dane\nrcpt:.y.example DANE-ONLY\nrcpt:z.example dane action=tag\n"
     "rcpt:q.example dane-only action=quarantine\nrcpt:m.example dane action=monitor\n"
     "rcpt:d.example dane-only action=defer\n",
     0,
     {NULL},
     {"line 1: rcpt:x.example dane action=defer", "line 2: rcpt:.y.example dane-only action=defer",
      "line 3: rcpt:z.example dane action=tag", "line 4: rcpt:q.example dane-only action=quarantine",
      "line 5: rcpt:m.example dane action=monitor", "line 6: rcpt:d.example dane-only action=defer"}},
    {"dane levels on sender-side selectors",
     "from:x.example dane\nclient:10.0.0.0/8 dane-only\n* dane\n", 0,
     {"p.conf:1: error: level dane is only valid for rcpt: rules",
      "p.conf:2: error: level dane-only is only valid for rcpt: rules",
      "p.conf:3: error: level dane is only valid for rcpt: rules"},
     {NULL}},
    {"dane: bad selector reported once", "from:a..b dane\n", 0,
     {"p.conf:1: error: bad domain in selector 'from:a..b'"}, {NULL}},
    {"dane: action=reject", "rcpt:x.example dane action=reject\nrcpt:y.example dane-only action=REJECT\n", 0,
     {"p.conf:1: error: action=reject is not valid for level dane: DNS failures are temporary (expected defer, "
      "tag, quarantine or monitor)",
      "p.conf:2: error: action=reject is not valid for level dane-only: DNS failures are temporary (expected "
      "defer, tag, quarantine or monitor)"},
     {NULL}},
    {"dane: unknown action", "rcpt:x.example dane action=bounce\nrcpt:y.example dane action=accept\n", 0,
     {"p.conf:1: error: unknown action 'bounce' (expected defer, tag, quarantine or monitor)",
      "p.conf:2: error: unknown action 'accept' (expected defer, tag, quarantine or monitor)"},
     {NULL}},
    {"dane: floors and match= not valid",
     "rcpt:x.example dane protocols=>=TLSv1.2\nrcpt:y.example dane-only min_bits=128\n"
     "rcpt:z.example dane match=mx.z.example\nrcpt:w.example dane-only ciphers=HIGH\n",
     0,
     {"p.conf:1: error: attribute protocols= is not valid for level dane",
      "p.conf:2: error: attribute min_bits= is not valid for level dane-only",
      "p.conf:3: error: attribute match= is not valid for level dane",
      "p.conf:4: error: attribute ciphers= is not valid for level dane-only"},
     {NULL}},
    {"dane: duplicate selector with another level", "rcpt:x.example encrypt\nrcpt:x.example dane\n", 0,
     {"p.conf:2: error: duplicate selector rcpt:x.example (first at line 1)"}, {NULL}},
    {"dane-ish level names", "rcpt:x.example dane_only\nrcpt:y.example daneonly\n", 0,
     {"p.conf:1: error: unknown level 'dane_only' (expected none, may, encrypt, verify, fingerprint, dane or dane-only)",
      "p.conf:2: error: unknown level 'daneonly' (expected none, may, encrypt, verify, fingerprint, dane or dane-only)"},
     {NULL}},

    /* level fingerprint */
    {"fingerprint rules",
     "from:pin.example fingerprint protocols=>=TLSv1.2 "
     "match=0e079412f55b149cff5ba9173f950821,bb:38:99:1c:d1:97:7b:cc:53:fe:12:78:51:c6:79:b1:9d:6d:20:46:51:50:"
     "80:5b:7d:bf:a8:c4:7a:9a:2c:cf action=reject\n"
     "rcpt:pin.example FINGERPRINT match=,A94A8FE5CCB19BA61C4C0873D391E987982FBBD3, min_bits=128\n"
     "client:192.0.2.1 fingerprint match=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21 action=tag\n",
     0,
     {NULL},
     {"line 1: from:pin.example fingerprint protocols=>=TLSv1.2 "
      "match=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21,BB:38:99:1C:D1:97:7B:CC:53:FE:12:78:51:C6:79:B1:9D:"
      "6D:20:46:51:50:80:5B:7D:BF:A8:C4:7A:9A:2C:CF action=reject",
      "line 2: rcpt:pin.example fingerprint min_bits=128 "
      "match=A9:4A:8F:E5:CC:B1:9B:A6:1C:4C:08:73:D3:91:E9:87:98:2F:BB:D3 action=default",
      "line 3: client:192.0.2.1 fingerprint match=0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21 action=tag"}},
    {"fingerprint without match=", "from:a.example fingerprint\nfrom:b.example fingerprint action=reject\n", 0,
     {"p.conf:1: error: level fingerprint needs match= (the certificate fingerprints to accept)",
      "p.conf:2: error: level fingerprint needs match= (the certificate fingerprints to accept)"},
     {NULL}},
    {"bad fingerprints",
     "from:a.example fingerprint match=0e079412f55b149cff5ba9173f9508\n"
     "from:b.example fingerprint match=0E:07:94:12F55B149CFF5BA9173F950821\n"
     "from:c.example fingerprint match=mx.c.example\n"
     "from:d.example fingerprint match=0e079412f55b149cff5ba9173f950821,0g\n"
     "from:e.example fingerprint match=,,\n",
     0,
     {"p.conf:1: error: bad fingerprint '0e079412f55b149cff5ba9173f9508' in match= (expected the hex digits of an "
      "MD5, SHA-1 or SHA-2 digest, with or without ':' between bytes)",
      "p.conf:2: error: bad fingerprint '0E:07:94:12F55B149CFF5BA9173F950821' in match= (expected the hex digits "
      "of an MD5, SHA-1 or SHA-2 digest, with or without ':' between bytes)",
      "p.conf:3: error: bad fingerprint 'mx.c.example' in match= (expected the hex digits of an MD5, SHA-1 or "
      "SHA-2 digest, with or without ':' between bytes)",
      "p.conf:4: error: bad fingerprint '0g' in match= (expected the hex digits of an MD5, SHA-1 or SHA-2 digest, "
      "with or without ':' between bytes)",
      "p.conf:5: error: match=,, names nothing"},
     {NULL}},
    {"fingerprint too long is cut in the message",
     "from:a.example fingerprint match=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
     0,
     {"p.conf:1: error: bad fingerprint '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff' in "
      "match= (expected the hex digits of an MD5, SHA-1 or SHA-2 digest, with or without ':' between bytes)"},
     {NULL}},
    {"match= names are not fingerprints and the other way round",
     "from:a.example verify match=0e079412f55b149cff5ba9173f950821\nfrom:b.example fingerprint "
     "match=0e079412f55b149cff5ba9173f950821 ciphers=HIGH\nfrom:c.example may match=0e079412f55b149cff5ba9173f950821\n",
     0,
     {"p.conf:3: error: attribute match= is not valid for level may"},
     {NULL}},
    {"fingerprint on a dane-ish typo", "from:a.example finger-print match=0e079412f55b149cff5ba9173f950821\n", 0,
     {"p.conf:1: error: unknown level 'finger-print' (expected none, may, encrypt, verify, fingerprint, dane or "
      "dane-only)"},
     {NULL}},

    /* lines */
    {"NUL byte", "from:x.example may\0junk\nfrom:y.example may\n",
     sizeof("from:x.example may\0junk\nfrom:y.example may\n") - 1, {"p.conf:1: error: NUL byte in line"},
     {NULL}},
    {"control character", "from:x.example\x01 may\n", 0, {"p.conf:1: error: invalid character 0x01 at column 15"},
     {NULL}},
    {"non-ASCII outside a comment and the selector", "from:x.example m\xc3\xa4y\n", 0,
     {"p.conf:1: error: invalid character 0xc3 at column 17"}, {NULL}},
    {"U-labels in a selector: A-labels", "from:b\xc3\xbc" "cher.example may\n", 0, {NULL},
     {"line 1: from:xn--bcher-kva.example may"}},
    {"bad U-labels in a selector", "rcpt:b\xc3" "cher.example may\n", 0,
     {"p.conf:1: error: bad domain in selector 'rcpt:b?cher.example'"}, {NULL}},
    {"CR inside a line", "from:x.example\rmay\n", 0, {"p.conf:1: error: invalid character 0x0d at column 15"},
     {NULL}},

    /* every error reported, not only the first */
    {"several errors on one line", "from:a..b bogus foo=1\n", 0,
     {"p.conf:1: error: bad domain in selector 'from:a..b'",
      "p.conf:1: error: unknown level 'bogus' (expected none, may, encrypt, verify, fingerprint, dane or dane-only)",
      "p.conf:1: error: unknown attribute 'foo'"},
     {NULL}},
    {"errors on several lines with good rules between",
     "from:ok.example encrypt\nfrom:a..b may\n* may\nrcpt:x.example none action=reject\nclient:1.2.3.4/40 may\n",
     0,
     {"p.conf:2: error: bad domain in selector 'from:a..b'",
      "p.conf:4: error: attribute action= is not valid for level none",
      "p.conf:5: error: bad CIDR in selector 'client:1.2.3.4/40': prefix length must be 0..32"},
     {NULL}},
};

static void run_row(const row *r)
{
    policy_diag diag = {0};
    size_t len = r->len ? r->len : strlen(r->text);
    policy *p = policy_parse(r->text, len, "p.conf", &diag);
    size_t nerr = 0, nrules = 0;

    while (nerr < MAX_LINES && r->errors[nerr])
        nerr++;
    while (nrules < MAX_LINES && r->rules[nrules])
        nrules++;
    unit_int(r->name, "parsed (1) or refused (0)", p != NULL, nerr == 0);
    unit_int(r->name, "diag.errors", diag.errors, (long)nerr);
    unit_int(r->name, "diag.n", (long)diag.n, (long)nerr);
    for (size_t i = 0; i < diag.n && i < nerr; i++)
        unit_str(r->name, "diagnostic", diag.msgs[i], r->errors[i]);
    if (p) {
        unit_int(r->name, "rule count", (long)policy_rule_count(p), (long)nrules);
        for (size_t i = 0; i < policy_rule_count(p) && i < nrules; i++) {
            char buf[1024];
            policy_rule_describe(policy_rule_at(p, i), buf, sizeof(buf));
            unit_str(r->name, "describe", buf, r->rules[i]);
        }
    }
    policy_free(p);
    policy_diag_free(&diag);
}

/* A line over the limit is an error; one at the limit is parsed. */
static void test_long_lines(void)
{
    policy_diag diag = {0};
    size_t n = 5000;
    char *text = malloc(n + 64);
    policy *p;

    memset(text, 'a', n);
    text[n] = '\n';
    strcpy(text + n + 1, "from:ok.example may\n");
    p = policy_parse(text, strlen(text), "long.conf", &diag);
    unit_int("5000-byte line", "refused", p == NULL, 1);
    unit_int("5000-byte line", "diag.n", (long)diag.n, 1);
    if (diag.n >= 1)
        unit_str("5000-byte line", "diagnostic", diag.msgs[0],
                 "long.conf:1: error: line too long (5000 bytes, at most 4096)");
    policy_diag_free(&diag);

    /* 4096 bytes: a rule padded with a comment. */
    memset(text, ' ', 4096);
    memcpy(text, "from:ok.example may #", 21);
    text[4096] = '\0';
    p = policy_parse(text, 4096, "long.conf", &diag);
    unit_int("4096-byte line", "parsed", p != NULL, 1);
    unit_int("4096-byte line", "rules", (long)policy_rule_count(p), 1);
    p = policy_free(p);
    policy_diag_free(&diag);

    /* A file with no final newline and NULL text. */
    p = policy_parse("* may", 5, NULL, &diag);
    unit_int("no final newline", "rules", (long)policy_rule_count(p), 1);
    p = policy_free(p);
    p = policy_parse(NULL, 0, NULL, &diag);
    unit_int("NULL text", "parsed", p != NULL, 1);
    p = policy_free(p);
    p = policy_parse("from:a..b may", 13, NULL, &diag);
    unit_int("NULL filename", "diag.n", (long)diag.n, 1);
    if (diag.n >= 1)
        unit_str("NULL filename", "diagnostic", diag.msgs[0], "(policy):1: error: bad domain in selector 'from:a..b'");
    policy_diag_free(&diag);
    p = policy_parse("from:a..b may", 13, "x", NULL);
    unit_int("NULL diag", "refused", p == NULL, 1);
    free(text);
}

/* Diagnostics accumulate across calls (config and policy errors in one list). */
static void test_diag_accumulates(void)
{
    policy_diag diag = {0};
    policy *p;

    p = policy_parse("bogus may\n", 10, "a.conf", &diag);
    p = policy_free(p);
    p = policy_parse("* may\n* may\n", 12, "b.conf", &diag);
    unit_int("two files", "refused", p == NULL, 1);
    unit_int("two files", "diag.errors", diag.errors, 2);
    if (diag.n == 2)
        unit_str("two files", "second", diag.msgs[1], "b.conf:2: error: duplicate selector * (first at line 1)");
    policy_diag_free(&diag);
    unit_int("diag freed", "n", (long)diag.n, 0);
}

static void test_introspection(void)
{
    const char *text = "\nfrom:a.example may\nrcpt:b.example encrypt\nclient:10.0.0.0/8 none\n* verify\n";
    policy *p = policy_parse(text, strlen(text), "i.conf", NULL);
    static const policy_selector_kind kinds[] = {POLICY_SEL_FROM, POLICY_SEL_RCPT, POLICY_SEL_CLIENT,
                                                 POLICY_SEL_ANY};
    char buf[16];

    unit_int("introspection", "count", (long)policy_rule_count(p), 4);
    for (size_t i = 0; i < 4; i++) {
        unit_int("introspection", "kind", policy_rule_kind(policy_rule_at(p, i)), kinds[i]);
        unit_int("introspection", "line", policy_rule_line(policy_rule_at(p, i)), (long)i + 2);
    }
    unit_int("introspection", "out of range", policy_rule_at(p, 4) == NULL, 1);
    policy_rule_describe(policy_rule_at(p, 0), buf, sizeof(buf));
    unit_str("introspection", "describe truncated", buf, "line 2: from:a.");
    policy_free(p);

    p = policy_builtin();
    unit_int("builtin", "count", (long)policy_rule_count(p), 0);
    policy_free(p);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(&rows[i]);
    test_long_lines();
    test_diag_accumulates();
    test_introspection();
    return unit_report("test_policy_parse");
}
