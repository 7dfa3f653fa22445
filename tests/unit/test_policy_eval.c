/* SPDX-License-Identifier: MIT */
/* Unit tests for evaluation: which rule applies, verdicts, actions, exact SMTP replies and
 * the X-TLS-Policy header value. */
#include "policy/policy.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- policies under test ----------------------------------------------------------- */

#define FP_MD5 "0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21"
#define FP_MD5_OTHER "F1:ED:81:97:87:EC:1C:2C:1B:0F:9B:6A:F3:F0:80:0C"
#define FP_SHA256 "BB:38:99:1C:D1:97:7B:CC:53:FE:12:78:51:C6:79:B1:9D:6D:20:46:51:50:80:5B:7D:BF:A8:C4:7A:9A:2C:CF"

static const char *const policy_texts[] = {
    /* 0: mixed selectors; the line numbers matter for first-match-in-file-order rows */
    "client:192.0.2.0/24 encrypt\n"                                                            /* 1 */
    "from:bank.example encrypt protocols=>=TLSv1.2\n"                                          /* 2 */
    "from:.bank.example verify match=mx.bank.example:.clients.bank.example action=reject\n"    /* 3 */
    "client:2001:db8::/32 may protocols=!SSLv3:!TLSv1:!TLSv1.1\n"                              /* 4 */
    "from:legacy.example encrypt protocols=TLSv1.2:TLSv1.3 ciphers=HIGH:!aNULL:!kRSA min_bits=128\n" /* 5 */
    "from:strong.example encrypt ciphers=ALL:!aDH:!ADH:!aNULL:!RC4:!IDEA:!MD5:!EXPORT action=tag\n" /* 6 */
    "from:certonly.example verify\n"                                                           /* 7 */
    "from:monitor.example encrypt action=monitor\n"                                            /* 8 */
    "from:quiet.example none\n"                                                                /* 9 */
    "from:qa.example encrypt action=quarantine\n"                                              /* 10 */
    "rcpt:partner.example encrypt action=reject\n"                                             /* 11 */
    "rcpt:.partner.example encrypt protocols=<=TLSv1.2 action=quarantine\n"                    /* 12 */
    "rcpt:open.example none\n"                                                                 /* 13 */
    "rcpt:bank.example may min_bits=128\n"                                                     /* 14 */
    "client:10.0.0.0/8 encrypt\n"                                                              /* 15 */
    "client:10.1.0.0/16 none\n"                                                                /* 16 */
    "client:0.0.0.0/0 may\n"                                                                   /* 17 */
    "client:2001:db8:1::1 none\n"                                                              /* 18 */
    "* encrypt min_bits=256\n",                                                                /* 19 */
    /* 1: "*" first wins over a later from: rule */
    "* may\nfrom:bank.example encrypt\n",
    /* 2: the built-in policy has no rules (parsed from empty text) */
    "",
    /* 3: the dane levels, with every action they accept */
    "rcpt:dane.example dane\n"
    "rcpt:only.example dane-only\n"
    "rcpt:tag.example dane action=tag\n"
    "rcpt:qa.example dane-only action=quarantine\n"
    "rcpt:mon.example dane action=monitor\n"
    "rcpt:def.example dane-only action=defer\n"
    "rcpt:enc.example encrypt\n"
    "* may\n",
    /* 4: level fingerprint (pins in both spellings; a SHA-256 pin; floors; rcpt:) */
    "from:pin.example fingerprint match=0e079412f55b149cff5ba9173f950821,"
    "A9:4A:8F:E5:CC:B1:9B:A6:1C:4C:08:73:D3:91:E9:87:98:2F:BB:D3 action=reject\n"
    "from:sha.example fingerprint protocols=>=TLSv1.3 match=" FP_SHA256 "\n"
    "rcpt:pin.example fingerprint match=0e079412f55b149cff5ba9173f950821 action=tag\n",
    /* 5: an IPv4 network written as IPv4-mapped IPv6 */
    "client:::ffff:198.51.100.0/120 encrypt\n",
};
#define NPOLICIES (sizeof(policy_texts) / sizeof(policy_texts[0]))

/* ---- DNS facts for the dane rows (the decision table itself is in test_dane.c) ---------- */

#define LK_SECURE {DANE_LOOKUP_DATA, 1, ""}
#define ONE_HOST(dom, lk, rrs)                                                               \
    .nhosts = 1, .hosts = {{.name = "mx." dom, .preference = 10, .addr = LK_SECURE,           \
                            .tlsa_base = "mx." dom, .tlsa = lk, rrs}}
#define RR_311 .ntlsa = 1, .tlsa_rr = {{3, 1, 1, 32, {0}, 0}}
#define F_DANE(dom) {.domain = dom, .mx = LK_SECURE, ONE_HOST(dom, LK_SECURE, RR_311)}
#define LK_NODATA {DANE_LOOKUP_NODATA, 1, ""}
#define LK_SERVFAIL {DANE_LOOKUP_FAIL, 0, "SERVFAIL"}
#define F_NOTLSA(dom) {.domain = dom, .mx = LK_SECURE, ONE_HOST(dom, LK_NODATA, .ntlsa = 0)}
#define F_TLSA_FAIL(dom) {.domain = dom, .mx = LK_SECURE, ONE_HOST(dom, LK_SERVFAIL, .ntlsa = 0)}
#define F_INSECURE(dom) {.domain = dom, .mx = {DANE_LOOKUP_DATA, 0, ""}}
#define F_BOGUS(dom) {.domain = dom, .mx = {DANE_LOOKUP_BOGUS, 0, "signature expired"}}
#define F_NULL(dom) {.domain = dom, .mx = LK_SECURE, .null_mx = 1}

static const dane_facts dane_dane = F_DANE("dane.example"), dane_notlsa = F_NOTLSA("dane.example"),
                        dane_insecure = F_INSECURE("dane.example"), dane_bogus = F_BOGUS("dane.example"),
                        dane_tlsa_fail = F_TLSA_FAIL("dane.example"), dane_null = F_NULL("dane.example"),
                        only_dane = F_DANE("only.example"), only_notlsa = F_NOTLSA("only.example"),
                        only_insecure = F_INSECURE("only.example"), only_null = F_NULL("only.example"),
                        only_tlsa_fail = F_TLSA_FAIL("only.example"), tag_bogus = F_BOGUS("tag.example"),
                        tag_null = F_NULL("tag.example"), qa_insecure = F_INSECURE("qa.example"),
                        mon_bogus = F_BOGUS("mon.example"), def_null = F_NULL("def.example"),
                        def_insecure = F_INSECURE("def.example"), enc_dane = F_DANE("enc.example");

/* ---- rows ---------------------------------------------------------------------------- */

typedef struct erow {
    const char *name;
    unsigned policy;
    int rcpt; /* 0: sender side; 1: recipient rcpt_domain */
    const char *rcpt_domain;
    policy_facts facts;
    policy_opts opts;
    const char *rule;
    policy_level level;
    policy_verdict verdict;
    policy_action action;
    int code;
    const char *xcode;
    const char *reply;
    const char *reason;
} erow;

/* A row for the dane levels: what the decision records beyond an erow. */
typedef struct drow {
    erow e;
    int needs_dane;
    const char *dane; /* the summary recorded */
} drow;

#define SENDER(from, client) .mail_from_domain = (from), .client_addr = (client)
#define NOTLS .tls_version = NULL, .cipher_bits = -1
#define TLS(v, c, b) .tls_version = (v), .cipher = (c), .cipher_bits = (b)
#define CERT(cn, ok) .cert_subject = (cn), .cert_verified = (ok)
#define FP(fp) .cert_fp = (fp)

#define DEFER {POLICY_ACTION_DEFER, 0}
#define REJECT {POLICY_ACTION_REJECT, 0}
#define MONITOR {POLICY_ACTION_DEFER, 1}

#define L_NONE POLICY_LEVEL_NONE
#define L_MAY POLICY_LEVEL_MAY
#define L_ENC POLICY_LEVEL_ENCRYPT
#define L_VER POLICY_LEVEL_VERIFY
#define L_DANE POLICY_LEVEL_DANE
#define L_DONLY POLICY_LEVEL_DANE_ONLY
#define L_FP POLICY_LEVEL_FINGERPRINT
#define V_NONE POLICY_VERDICT_NONE
#define V_PASS POLICY_VERDICT_PASS
#define V_FAIL POLICY_VERDICT_FAIL
#define A_ACC POLICY_ACTION_ACCEPT
#define A_REJ POLICY_ACTION_REJECT
#define A_DEF POLICY_ACTION_DEFER
#define A_TAG POLICY_ACTION_TAG
#define A_QUA POLICY_ACTION_QUARANTINE
#define A_MON POLICY_ACTION_MONITOR

/* A passing or neutral decision: no code, no reply, no reason. */
#define OK(rule, level, verdict) rule, level, verdict, A_ACC, 0, "", "", ""

#define HIGH_NOKRSA "ciphers=HIGH:!aNULL:!kRSA"
#define BANK_MATCH "mx.bank.example:.clients.bank.example"
#define STRONG "ciphers=ALL:!aDH:!ADH:!aNULL:!RC4:!IDEA:!MD5:!EXPORT"

static const erow rows[] = {
    /* first match in file order among client:, from: and * */
    {"client rule before from rule", 0, 0, NULL, {SENDER("bank.example", "192.0.2.5"), NOTLS}, DEFER,
     "client:192.0.2.0/24", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client 192.0.2.5 (rule client:192.0.2.0/24): session was not encrypted",
     "session was not encrypted"},
    {"from rule, no TLS, defer", 0, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS}, DEFER,
     "from:bank.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for mail from bank.example (rule from:bank.example): session was not encrypted",
     "session was not encrypted"},
    {"from rule, no TLS, default_action reject", 0, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS},
     REJECT, "from:bank.example", L_ENC, V_FAIL, A_REJ, 530, "5.7.0",
     "TLS required for mail from bank.example (rule from:bank.example): session was not encrypted",
     "session was not encrypted"},
    {"protocol below floor, defer", 0, 0, NULL,
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1", "AES256-SHA", 256)}, DEFER, "from:bank.example",
     L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from bank.example (rule from:bank.example): protocol TLSv1 not allowed by "
     "protocols=>=TLSv1.2",
     "protocol TLSv1 not allowed by protocols=>=TLSv1.2"},
    {"protocol below floor, reject", 0, 0, NULL,
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1.1", "AES256-SHA", 256)}, REJECT,
     "from:bank.example", L_ENC, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS required for mail from bank.example (rule from:bank.example): protocol TLSv1.1 not allowed by "
     "protocols=>=TLSv1.2",
     "protocol TLSv1.1 not allowed by protocols=>=TLSv1.2"},
    {"protocol at floor", 0, 0, NULL,
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256)}, DEFER,
     OK("from:bank.example", L_ENC, V_PASS)},
    {"case and trailing dot in sender domain", 0, 0, NULL,
     {SENDER("BANK.Example.", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     OK("from:bank.example", L_ENC, V_PASS)},
    {"from rule before v6 client rule", 0, 0, NULL, {SENDER("bank.example", "2001:db8::5"), NOTLS}, DEFER,
     "from:bank.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for mail from bank.example (rule from:bank.example): session was not encrypted",
     "session was not encrypted"},
    {"may: floor violated is flagged, never refused", 0, 0, NULL,
     {SENDER("other.example", "2001:db8::5"), TLS("TLSv1", "AES256-SHA", 256)}, REJECT,
     "client:2001:db8::/32", L_MAY, V_FAIL, A_MON, 0, "", "",
     "protocol TLSv1 not allowed by protocols=!SSLv3:!TLSv1:!TLSv1.1"},
    {"may: no TLS passes", 0, 0, NULL, {SENDER("other.example", "2001:db8::5"), NOTLS}, DEFER,
     OK("client:2001:db8::/32", L_MAY, V_PASS)},
    {"may: floor met", 0, 0, NULL, {SENDER("other.example", "2001:DB8::5"), TLS("TLSv1.2", "AES256-SHA", 256)},
     DEFER, OK("client:2001:db8::/32", L_MAY, V_PASS)},
    {"earlier /32 beats later /128", 0, 0, NULL, {SENDER("other.example", "2001:db8:1::1"), NOTLS}, DEFER,
     OK("client:2001:db8::/32", L_MAY, V_PASS)},
    {"earlier /8 beats later /16", 0, 0, NULL, {SENDER("other.example", "10.1.2.3"), NOTLS}, DEFER,
     "client:10.0.0.0/8", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client 10.1.2.3 (rule client:10.0.0.0/8): session was not encrypted",
     "session was not encrypted"},
    {"v4 /0 matches any v4 client", 0, 0, NULL, {SENDER("other.example", "203.0.113.9"), NOTLS}, DEFER,
     OK("client:0.0.0.0/0", L_MAY, V_PASS)},
    {"* with min_bits", 0, 0, NULL,
     {SENDER("other.example", "2001:db9::1"), TLS("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128)}, DEFER, "*",
     L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for all mail (rule *): cipher bits 128 below min_bits=256",
     "cipher bits 128 below min_bits=256"},
    {"null sender falls to *", 0, 0, NULL, {SENDER("", NULL), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)},
     DEFER, OK("*", L_ENC, V_PASS)},
    {"v4-mapped v6 client counts as v4", 0, 0, NULL, {SENDER("other.example", "::ffff:192.0.2.7"), NOTLS},
     DEFER, "client:192.0.2.0/24", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client ::ffff:192.0.2.7 (rule client:192.0.2.0/24): session was not encrypted",
     "session was not encrypted"},
    {"IPv6: prefix tolerated", 0, 0, NULL, {SENDER("other.example", "IPv6:2001:db8::9"), NOTLS}, DEFER,
     OK("client:2001:db8::/32", L_MAY, V_PASS)},
    {".domain does not match a longer name ending the same", 0, 0, NULL,
     {SENDER("xbank.example", "not-an-ip"), NOTLS}, DEFER, "*", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for all mail (rule *): session was not encrypted", "session was not encrypted"},

    /* verify */
    {"verify: no TLS", 0, 0, NULL, {SENDER("a.bank.example", "198.51.100.1"), NOTLS}, DEFER,
     "from:.bank.example", L_VER, V_FAIL, A_REJ, 530, "5.7.0",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "session was not encrypted",
     "session was not encrypted"},
    {"verify: no certificate", 0, 0, NULL,
     {SENDER("deep.a.bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from deep.a.bank.example (rule "
     "from:.bank.example): no trusted client certificate",
     "no trusted client certificate"},
    {"verify: certificate not trusted", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("mx.bank.example", 0)},
     DEFER, "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "no trusted client certificate",
     "no trusted client certificate"},
    {"verify: wrong CN", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("evil.example", 1)},
     DEFER, "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "client certificate CN evil.example does not match " BANK_MATCH,
     "client certificate CN evil.example does not match " BANK_MATCH},
    {"verify: exact CN, case and dot", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("MX.Bank.Example.", 1)},
     DEFER, OK("from:.bank.example", L_VER, V_PASS)},
    {"verify: .domain CN", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256), CERT("x.clients.bank.example", 1)},
     DEFER, OK("from:.bank.example", L_VER, V_PASS)},
    {"verify: .domain does not match the domain itself", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256), CERT("clients.bank.example", 1)},
     DEFER, "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "client certificate CN clients.bank.example does not match " BANK_MATCH,
     "client certificate CN clients.bank.example does not match " BANK_MATCH},
    {"verify: control characters in CN are sanitised", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256), CERT("evil\r\nexample", 1)},
     DEFER, "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "client certificate CN evil??example does not match " BANK_MATCH,
     "client certificate CN evil??example does not match " BANK_MATCH},
    {"verify: trusted but no CN", 0, 0, NULL,
     {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256), CERT(NULL, 1)}, DEFER,
     "from:.bank.example", L_VER, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a trusted client certificate required for mail from a.bank.example (rule from:.bank.example): "
     "client certificate without CN does not match " BANK_MATCH,
     "client certificate without CN does not match " BANK_MATCH},
    {"verify without match=: any trusted certificate", 0, 0, NULL,
     {SENDER("certonly.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("whatever.example", 1)},
     DEFER, OK("from:certonly.example", L_VER, V_PASS)},
    {"verify without match=: untrusted, default defer", 0, 0, NULL,
     {SENDER("certonly.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     "from:certonly.example", L_VER, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS with a trusted client certificate required for mail from certonly.example (rule "
     "from:certonly.example): no trusted client certificate",
     "no trusted client certificate"},

    /* fingerprint: pinned certificates, trusted by the MTA or not */
    {"fingerprint: MD5 pin, untrusted certificate", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("client.bank.example", 0), FP(FP_MD5)},
     DEFER, OK("from:pin.example", L_FP, V_PASS)},
    {"fingerprint: second pin, lowercase without colons from the MTA", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256),
      FP("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")},
     DEFER, OK("from:pin.example", L_FP, V_PASS)},
    {"fingerprint: SHA-256 pin", 4, 0, NULL,
     {SENDER("sha.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), CERT("x", 1),
      FP(FP_SHA256)},
     DEFER, OK("from:sha.example", L_FP, V_PASS)},
    {"fingerprint: another certificate", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("client.bank.example", 1), FP(FP_MD5_OTHER)},
     DEFER, "from:pin.example", L_FP, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): "
     "client certificate MD5 fingerprint " FP_MD5_OTHER " is not in match=",
     "client certificate MD5 fingerprint " FP_MD5_OTHER " is not in match="},
    {"fingerprint: MD5 from the MTA, only a SHA-256 pin", 4, 0, NULL,
     {SENDER("sha.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), FP(FP_MD5)},
     DEFER, "from:sha.example", L_FP, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS with a pinned client certificate required for mail from sha.example (rule from:sha.example): "
     "client certificate MD5 fingerprint " FP_MD5 " is not in match= (it lists no MD5 fingerprint; see "
     "Sendmail's CertFingerprintAlgorithm)",
     "client certificate MD5 fingerprint " FP_MD5 " is not in match= (it lists no MD5 fingerprint; see "
     "Sendmail's CertFingerprintAlgorithm)"},
    {"fingerprint: the client sent no certificate", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), .cert_none = 1},
     DEFER, "from:pin.example", L_FP, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): "
     "no client certificate",
     "no client certificate"},
    {"fingerprint: the MTA passes none (Postfix), trusted certificate", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256),
      CERT("client.bank.example", 1)},
     DEFER, "from:pin.example", L_FP, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): "
     "the MTA passed no certificate fingerprint ({cert_fp} or {cert_md5}); Postfix does not send one",
     "the MTA passed no certificate fingerprint ({cert_fp} or {cert_md5}); Postfix does not send one"},
    {"fingerprint: malformed from the MTA, sanitised", 4, 0, NULL,
     {SENDER("pin.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), FP("0E:07\r\n")},
     DEFER, "from:pin.example", L_FP, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): "
     "the MTA passed a malformed certificate fingerprint 0E:07??",
     "the MTA passed a malformed certificate fingerprint 0E:07??"},
    {"fingerprint: no TLS", 4, 0, NULL, {SENDER("pin.example", "198.51.100.1"), NOTLS, FP(FP_MD5)}, DEFER,
     "from:pin.example", L_FP, V_FAIL, A_REJ, 530, "5.7.0",
     "TLS with a pinned client certificate required for mail from pin.example (rule from:pin.example): "
     "session was not encrypted",
     "session was not encrypted"},
    {"fingerprint: the protocol floor comes first", 4, 0, NULL,
     {SENDER("sha.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256), FP(FP_SHA256)},
     DEFER, "from:sha.example", L_FP, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS with a pinned client certificate required for mail from sha.example (rule from:sha.example): "
     "protocol TLSv1.2 not allowed by protocols=>=TLSv1.3",
     "protocol TLSv1.2 not allowed by protocols=>=TLSv1.3"},
    {"fingerprint: rcpt rule, action tag", 4, 1, "pin.example",
     {SENDER("x.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256), FP(FP_SHA256)}, DEFER,
     "rcpt:pin.example", L_FP, V_FAIL, A_TAG, 0, "", "",
     "client certificate SHA-256 fingerprint " FP_SHA256 " is not in match= (it lists no SHA-256 fingerprint; "
     "see Sendmail's CertFingerprintAlgorithm)"},
    {"fingerprint: monitor mode", 4, 0, NULL, {SENDER("pin.example", "198.51.100.1"), NOTLS}, MONITOR,
     "from:pin.example", L_FP, V_FAIL, A_MON, 0, "", "", "session was not encrypted"},

    /* ciphers=HIGH:!aNULL:!kRSA with protocols= and min_bits= */
    {"kRSA cipher not allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256)}, DEFER,
     "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher AES256-SHA not allowed by "
     HIGH_NOKRSA,
     "cipher AES256-SHA not allowed by " HIGH_NOKRSA},
    {"ECDHE-RSA-AES256-GCM-SHA384 allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256)}, DEFER,
     OK("from:legacy.example", L_ENC, V_PASS)},
    {"TLSv1.3 suite always allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     OK("from:legacy.example", L_ENC, V_PASS)},
    {"cipher unknown to OpenSSL not allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "RC4-MD5", 128)}, DEFER, "from:legacy.example",
     L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher RC4-MD5 not allowed by "
     HIGH_NOKRSA,
     "cipher RC4-MD5 not allowed by " HIGH_NOKRSA},
    {"made-up TLSv1.3 suite not allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_MADE_UP_SHA256", 256)}, REJECT,
     "from:legacy.example", L_ENC, V_FAIL, A_REJ, 550, "5.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher TLS_MADE_UP_SHA256 not "
     "allowed by " HIGH_NOKRSA,
     "cipher TLS_MADE_UP_SHA256 not allowed by " HIGH_NOKRSA},
    {"cipher not reported", 0, 0, NULL, {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", NULL, 256)},
     DEFER, "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher unknown, not allowed by "
     HIGH_NOKRSA,
     "cipher unknown, not allowed by " HIGH_NOKRSA},
    {"positive protocol list", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.1", "ECDHE-RSA-AES256-SHA", 256)}, DEFER,
     "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): protocol TLSv1.1 not allowed by "
     "protocols=TLSv1.2:TLSv1.3",
     "protocol TLSv1.1 not allowed by protocols=TLSv1.2:TLSv1.3"},
    {"unknown protocol version not allowed", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.4", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): protocol TLSv1.4 not allowed by "
     "protocols=TLSv1.2:TLSv1.3",
     "protocol TLSv1.4 not allowed by protocols=TLSv1.2:TLSv1.3"},
    {"hostile version string sanitised", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2\r\n250 OK", "ECDHE-RSA-AES256-GCM-SHA384", 256)},
     DEFER, "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): protocol TLSv1.2??250 OK not allowed "
     "by protocols=TLSv1.2:TLSv1.3",
     "protocol TLSv1.2??250 OK not allowed by protocols=TLSv1.2:TLSv1.3"},
    {"bits below min_bits", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 112)}, DEFER,
     "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher bits 112 below min_bits=128",
     "cipher bits 112 below min_bits=128"},
    {"bits unknown with min_bits", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", -1)}, DEFER,
     "from:legacy.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.1",
     "TLS required for mail from legacy.example (rule from:legacy.example): cipher bits unknown",
     "cipher bits unknown"},
    {"bits at min_bits", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128)}, DEFER,
     OK("from:legacy.example", L_ENC, V_PASS)},
    {"monitor mode: failure recorded as monitor", 0, 0, NULL,
     {SENDER("legacy.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256)}, MONITOR,
     "from:legacy.example", L_ENC, V_FAIL, A_MON, 0, "", "", "cipher AES256-SHA not allowed by " HIGH_NOKRSA},

    /* ciphers=ALL:!aDH:!ADH:!aNULL:!RC4:!IDEA:!MD5:!EXPORT, action=tag */
    {"ALL string allows kRSA", 0, 0, NULL,
     {SENDER("strong.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256)}, DEFER,
     OK("from:strong.example", L_ENC, V_PASS)},
    {"ALL string allows ECDHE", 0, 0, NULL,
     {SENDER("strong.example", "198.51.100.1"), TLS("TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384", 256)}, DEFER,
     OK("from:strong.example", L_ENC, V_PASS)},
    {"ALL string: TLSv1.3 CCM suite allowed", 0, 0, NULL,
     {SENDER("strong.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_128_CCM_SHA256", 128)}, DEFER,
     OK("from:strong.example", L_ENC, V_PASS)},
    {"ALL string: RC4-MD5 tagged", 0, 0, NULL,
     {SENDER("strong.example", "198.51.100.1"), TLS("TLSv1.2", "RC4-MD5", 128)}, REJECT, "from:strong.example",
     L_ENC, V_FAIL, A_TAG, 0, "", "", "cipher RC4-MD5 not allowed by " STRONG},

    /* actions */
    {"action=monitor", 0, 0, NULL, {SENDER("monitor.example", "198.51.100.1"), NOTLS}, REJECT,
     "from:monitor.example", L_ENC, V_FAIL, A_MON, 0, "", "", "session was not encrypted"},
    {"action=quarantine", 0, 0, NULL, {SENDER("qa.example", "198.51.100.1"), NOTLS}, REJECT, "from:qa.example",
     L_ENC, V_FAIL, A_QUA, 0, "", "", "session was not encrypted"},
    {"level none", 0, 0, NULL, {SENDER("quiet.example", "198.51.100.1"), NOTLS}, DEFER,
     OK("from:quiet.example", L_NONE, V_NONE)},
    {"monitor mode beats default_action", 0, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS},
     {POLICY_ACTION_REJECT, 1}, "from:bank.example", L_ENC, V_FAIL, A_MON, 0, "", "",
     "session was not encrypted"},
    {"monitor mode beats action=reject", 0, 0, NULL, {SENDER("a.bank.example", "198.51.100.1"), NOTLS}, MONITOR,
     "from:.bank.example", L_VER, V_FAIL, A_MON, 0, "", "", "session was not encrypted"},
    {"default_action unset means defer", 0, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS},
     {POLICY_ACTION_DEFAULT, 0}, "from:bank.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for mail from bank.example (rule from:bank.example): session was not encrypted",
     "session was not encrypted"},

    /* recipients */
    {"rcpt exact, reject", 0, 1, "partner.example", {SENDER("bank.example", "198.51.100.1"), NOTLS}, DEFER,
     "rcpt:partner.example", L_ENC, V_FAIL, A_REJ, 530, "5.7.0",
     "TLS required for mail to partner.example (rule rcpt:partner.example): session was not encrypted",
     "session was not encrypted"},
    {"rcpt case and dot", 0, 1, "Partner.EXAMPLE.", {SENDER("bank.example", "198.51.100.1"), NOTLS}, DEFER,
     "rcpt:partner.example", L_ENC, V_FAIL, A_REJ, 530, "5.7.0",
     "TLS required for mail to partner.example (rule rcpt:partner.example): session was not encrypted",
     "session was not encrypted"},
    {"rcpt .domain, <=TLSv1.2", 0, 1, "mx.partner.example",
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     "rcpt:.partner.example", L_ENC, V_FAIL, A_QUA, 0, "", "", "protocol TLSv1.3 not allowed by protocols=<=TLSv1.2"},
    {"rcpt .domain passes", 0, 1, "mx.partner.example",
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 256)}, DEFER,
     OK("rcpt:.partner.example", L_ENC, V_PASS)},
    {"rcpt none", 0, 1, "open.example", {SENDER("bank.example", "198.51.100.1"), NOTLS}, DEFER,
     OK("rcpt:open.example", L_NONE, V_NONE)},
    {"rcpt may floor", 0, 1, "bank.example",
     {SENDER("bank.example", "198.51.100.1"), TLS("TLSv1.2", "AES256-SHA", 64)}, REJECT, "rcpt:bank.example",
     L_MAY, V_FAIL, A_MON, 0, "", "", "cipher bits 64 below min_bits=128"},
    /* IPv4-mapped addresses, in the rule or from a dual-stack socket, are IPv4 */
    {"mapped client, IPv4 rule", 0, 0, NULL, {SENDER("other.example", "::ffff:192.0.2.5"), NOTLS}, DEFER,
     "client:192.0.2.0/24", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client ::ffff:192.0.2.5 (rule client:192.0.2.0/24): session was not encrypted",
     "session was not encrypted"},
    {"IPv4 client, mapped rule", 5, 0, NULL, {SENDER("other.example", "198.51.100.7"), NOTLS}, DEFER,
     "client:198.51.100.0/24", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client 198.51.100.7 (rule client:198.51.100.0/24): session was not encrypted",
     "session was not encrypted"},
    {"mapped client, mapped rule", 5, 0, NULL, {SENDER("other.example", "::FFFF:198.51.100.9"), NOTLS}, DEFER,
     "client:198.51.100.0/24", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
     "TLS required for client ::FFFF:198.51.100.9 (rule client:198.51.100.0/24): session was not encrypted",
     "session was not encrypted"},
    {"mapped rule, client outside", 5, 0, NULL, {SENDER("other.example", "198.51.101.1"), NOTLS}, DEFER,
     OK("", L_NONE, V_NONE)},
    {"rcpt no rule", 0, 1, "nowhere.example", {SENDER("bank.example", "198.51.100.1"), NOTLS}, DEFER,
     OK("", L_NONE, V_NONE)},
    {"from: rules never apply to recipients", 0, 1, "legacy.example", {SENDER("x", "192.0.2.1"), NOTLS}, DEFER,
     OK("", L_NONE, V_NONE)},
    {"rcpt domain NULL", 0, 1, NULL, {NOTLS}, DEFER, OK("", L_NONE, V_NONE)},
    {"rcpt domain invalid", 0, 1, "partner..example", {NOTLS}, DEFER, OK("", L_NONE, V_NONE)},
    {"rcpt: rules never apply to the sender", 0, 0, NULL,
     {SENDER("partner.example", "2001:db9::1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, DEFER,
     OK("*", L_ENC, V_PASS)},

    /* other policies */
    {"* first wins over a later from:", 1, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS}, REJECT,
     OK("*", L_MAY, V_PASS)},
    {"no rules: sender", 2, 0, NULL, {SENDER("bank.example", "198.51.100.1"), NOTLS}, REJECT, OK("", L_NONE, V_NONE)},
    {"no rules: rcpt", 2, 1, "bank.example", {NOTLS}, REJECT, OK("", L_NONE, V_NONE)},
};

/* The dane levels: first without DNS facts (the caller must look up), then with them. */
static const drow dane_rows[] = {
    {{"dane: no DNS facts yet", 3, 1, "dane.example", {NOTLS}, REJECT, OK("rcpt:dane.example", L_DANE, V_NONE)},
     1, NULL},
    {{"dane-only: no DNS facts yet", 3, 1, "only.example", {TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)},
      MONITOR, OK("rcpt:only.example", L_DONLY, V_NONE)},
     1, NULL},
    {{"dane: secure with 3 1 1", 3, 1, "dane.example", {NOTLS, .dane = &dane_dane}, DEFER,
      OK("rcpt:dane.example", L_DANE, V_PASS)},
     0, "mx=secure hosts=mx.dane.example:dane"},
    {{"dane: secure, no TLSA", 3, 1, "dane.example", {NOTLS, .dane = &dane_notlsa}, DEFER,
      OK("rcpt:dane.example", L_DANE, V_PASS)},
     0, "mx=secure hosts=mx.dane.example:no-tlsa"},
    {{"dane: insecure MX", 3, 1, "dane.example", {NOTLS, .dane = &dane_insecure}, DEFER,
      OK("rcpt:dane.example", L_DANE, V_PASS)},
     0, "mx=insecure"},
    {{"dane: MX bogus defers, default_action reject notwithstanding", 3, 1, "DANE.Example.",
      {NOTLS, .dane = &dane_bogus}, REJECT, "rcpt:dane.example", L_DANE, V_FAIL, A_DEF, 451, "4.7.5",
      "DNSSEC-valid DNS required for mail to dane.example (rule rcpt:dane.example): MX lookup for dane.example: "
      "DNSSEC bogus (signature expired)",
      "MX lookup for dane.example: DNSSEC bogus (signature expired)"},
     0, "mx=bogus"},
    {{"dane: TLSA SERVFAIL defers", 3, 1, "dane.example", {NOTLS, .dane = &dane_tlsa_fail}, DEFER,
      "rcpt:dane.example", L_DANE, V_FAIL, A_DEF, 451, "4.7.5",
      "DNSSEC-valid DNS required for mail to dane.example (rule rcpt:dane.example): TLSA lookup "
      "_25._tcp.mx.dane.example: SERVFAIL",
      "TLSA lookup _25._tcp.mx.dane.example: SERVFAIL"},
     0, "mx=secure hosts=mx.dane.example:tlsa-error"},
    {{"dane: null MX rejects", 3, 1, "dane.example", {NOTLS, .dane = &dane_null}, DEFER, "rcpt:dane.example",
      L_DANE, V_FAIL, A_REJ, 556, "5.1.10", "no mail exchanger for dane.example (rule rcpt:dane.example): null MX",
      "null MX"},
     0, "mx=null"},
    {{"dane-only: secure with 3 1 1", 3, 1, "only.example", {NOTLS, .dane = &only_dane}, REJECT,
      OK("rcpt:only.example", L_DONLY, V_PASS)},
     0, "mx=secure hosts=mx.only.example:dane"},
    {{"dane-only: insecure MX defers", 3, 1, "only.example", {NOTLS, .dane = &only_insecure}, REJECT,
      "rcpt:only.example", L_DONLY, V_FAIL, A_DEF, 451, "4.7.5",
      "DANE required for mail to only.example (rule rcpt:only.example): MX RRset of only.example is not "
      "DNSSEC-signed",
      "MX RRset of only.example is not DNSSEC-signed"},
     0, "mx=insecure"},
    {{"dane-only: no TLSA defers", 3, 1, "only.example", {NOTLS, .dane = &only_notlsa}, DEFER, "rcpt:only.example",
      L_DONLY, V_FAIL, A_DEF, 451, "4.7.5",
      "DANE required for mail to only.example (rule rcpt:only.example): no MX host of only.example has usable "
      "TLSA records (mx.only.example: no TLSA records)",
      "no MX host of only.example has usable TLSA records (mx.only.example: no TLSA records)"},
     0, "mx=secure hosts=mx.only.example:no-tlsa"},
    {{"dane-only: TLSA SERVFAIL defers", 3, 1, "only.example", {NOTLS, .dane = &only_tlsa_fail}, DEFER,
      "rcpt:only.example", L_DONLY, V_FAIL, A_DEF, 451, "4.7.5",
      "DANE required for mail to only.example (rule rcpt:only.example): TLSA lookup _25._tcp.mx.only.example: "
      "SERVFAIL",
      "TLSA lookup _25._tcp.mx.only.example: SERVFAIL"},
     0, "mx=secure hosts=mx.only.example:tlsa-error"},
    {{"dane-only: null MX rejects", 3, 1, "only.example", {NOTLS, .dane = &only_null}, DEFER, "rcpt:only.example",
      L_DONLY, V_FAIL, A_REJ, 556, "5.1.10", "no mail exchanger for only.example (rule rcpt:only.example): null MX",
      "null MX"},
     0, "mx=null"},

    /* modes and actions */
    {{"dane: monitor mode", 3, 1, "dane.example", {NOTLS, .dane = &dane_bogus}, MONITOR, "rcpt:dane.example",
      L_DANE, V_FAIL, A_MON, 0, "", "", "MX lookup for dane.example: DNSSEC bogus (signature expired)"},
     0, "mx=bogus"},
    {{"dane-only: monitor mode, null MX", 3, 1, "only.example", {NOTLS, .dane = &only_null}, MONITOR,
      "rcpt:only.example", L_DONLY, V_FAIL, A_MON, 0, "", "", "null MX"},
     0, "mx=null"},
    {{"dane action=tag: bogus", 3, 1, "tag.example", {NOTLS, .dane = &tag_bogus}, DEFER, "rcpt:tag.example", L_DANE,
      V_FAIL, A_TAG, 0, "", "", "MX lookup for tag.example: DNSSEC bogus (signature expired)"},
     0, "mx=bogus"},
    {{"dane action=tag: null MX", 3, 1, "tag.example", {NOTLS, .dane = &tag_null}, DEFER, "rcpt:tag.example",
      L_DANE, V_FAIL, A_TAG, 0, "", "", "null MX"},
     0, "mx=null"},
    {{"dane-only action=quarantine: insecure", 3, 1, "qa.example", {NOTLS, .dane = &qa_insecure}, DEFER,
      "rcpt:qa.example", L_DONLY, V_FAIL, A_QUA, 0, "", "", "MX RRset of qa.example is not DNSSEC-signed"},
     0, "mx=insecure"},
    {{"dane action=monitor: bogus", 3, 1, "mon.example", {NOTLS, .dane = &mon_bogus}, REJECT, "rcpt:mon.example",
      L_DANE, V_FAIL, A_MON, 0, "", "", "MX lookup for mon.example: DNSSEC bogus (signature expired)"},
     0, "mx=bogus"},
    {{"dane-only action=defer: null MX still rejects", 3, 1, "def.example", {NOTLS, .dane = &def_null}, DEFER,
      "rcpt:def.example", L_DONLY, V_FAIL, A_REJ, 556, "5.1.10",
      "no mail exchanger for def.example (rule rcpt:def.example): null MX", "null MX"},
     0, "mx=null"},
    {{"dane-only action=defer: insecure defers", 3, 1, "def.example", {NOTLS, .dane = &def_insecure}, REJECT,
      "rcpt:def.example", L_DONLY, V_FAIL, A_DEF, 451, "4.7.5",
      "DANE required for mail to def.example (rule rcpt:def.example): MX RRset of def.example is not DNSSEC-signed",
      "MX RRset of def.example is not DNSSEC-signed"},
     0, "mx=insecure"},

    /* DNS facts change nothing elsewhere */
    {{"DNS facts do not touch an encrypt rule", 3, 1, "enc.example", {NOTLS, .dane = &enc_dane}, DEFER,
      "rcpt:enc.example", L_ENC, V_FAIL, A_DEF, 451, "4.7.0",
      "TLS required for mail to enc.example (rule rcpt:enc.example): session was not encrypted",
      "session was not encrypted"},
     0, NULL},
    {{"DNS facts do not touch the sender side", 3, 0, NULL,
      {SENDER("dane.example", "192.0.2.1"), NOTLS, .dane = &dane_bogus}, REJECT, OK("*", L_MAY, V_PASS)},
     0, NULL},
    {{"no rcpt rule: no lookup asked", 3, 1, "other.example", {NOTLS}, DEFER, OK("", L_NONE, V_NONE)}, 0, NULL},
};

/* ---- runners ------------------------------------------------------------------------- */

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static void check_decision(const char *row, const policy_decision *d, const erow *want)
{
    unit_str(row, "rule_text", d->rule_text, want->rule);
    unit_int(row, "rule set", d->rule != NULL, *want->rule != '\0');
    unit_int(row, "level", d->level, want->level);
    unit_int(row, "verdict", d->verdict, want->verdict);
    unit_int(row, "action", d->action, want->action);
    unit_int(row, "code", d->code, want->code);
    unit_str(row, "xcode", d->xcode, want->xcode);
    unit_str(row, "reply", d->reply, want->reply);
    unit_str(row, "reason", d->reason, want->reason);
    unit_int(row, "reply printable", printable(d->reply), 1);
    unit_int(row, "reason printable", printable(d->reason), 1);
}

static void run_row(policy **pols, const erow *r, int needs_dane, const char *dane)
{
    policy_decision d;

    memset(&d, 0x5a, sizeof(d)); /* garbage in: every field must be written */
    if (r->rcpt)
        policy_eval_rcpt(pols[r->policy], &r->opts, &r->facts, r->rcpt_domain, &d);
    else
        policy_eval_sender(pols[r->policy], &r->opts, &r->facts, &d);
    check_decision(r->name, &d, r);
    unit_int(r->name, "needs_dane", d.needs_dane, needs_dane);
    unit_str(r->name, "dane", d.dane, dane ? dane : "");
}

static void run_rows(policy **pols)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(pols, &rows[i], 0, NULL);
    for (size_t i = 0; i < sizeof(dane_rows) / sizeof(dane_rows[0]); i++)
        run_row(pols, &dane_rows[i].e, dane_rows[i].needs_dane, dane_rows[i].dane);
}

/* NULL facts and opts, and facts far larger than any buffer. */
static void test_hostile_and_null(policy *p)
{
    policy_decision d;
    char *huge = malloc(5001);
    policy_facts f = {SENDER("a.bank.example", "198.51.100.1"), TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)};

    policy_eval_sender(p, NULL, NULL, &d);
    unit_str("NULL facts and opts", "rule", d.rule_text, "*");
    unit_int("NULL facts and opts", "action", d.action, A_DEF);
    unit_str("NULL facts and opts", "reply", d.reply, "TLS required for all mail (rule *): session was not encrypted");
    policy_eval_rcpt(p, NULL, NULL, "partner.example", &d);
    unit_int("NULL facts, rcpt", "code", d.code, 530);
    policy_eval_sender(NULL, NULL, NULL, &d);
    unit_int("NULL policy", "verdict", d.verdict, V_NONE);
    unit_int("NULL policy", "action", d.action, A_ACC);

    memset(huge, 'a', 5000);
    huge[5000] = '\0';
    huge[10] = '\n';
    f.cert_subject = huge;
    f.cert_verified = 1;
    policy_eval_sender(p, NULL, &f, &d);
    unit_int("5000-byte CN", "verdict", d.verdict, V_FAIL);
    unit_int("5000-byte CN", "reply fits", strlen(d.reply) < POLICY_REPLY_MAX, 1);
    unit_int("5000-byte CN", "reason fits", strlen(d.reason) < POLICY_REASON_MAX, 1);
    unit_int("5000-byte CN", "reply printable", printable(d.reply), 1);
    {
        static const char start[] = "TLS with a trusted client certificate required for mail from a.bank.example "
                                    "(rule from:.bank.example): client certificate CN aaaaaaaaaa?aaa";
        unit_int("5000-byte CN", "reply starts", strncmp(d.reply, start, sizeof(start) - 1) == 0, 1);
    }
    f.cert_subject = NULL;
    f.tls_version = huge;
    f.mail_from_domain = "legacy.example";
    policy_eval_sender(p, NULL, &f, &d);
    unit_int("5000-byte version", "reply printable", printable(d.reply), 1);
    unit_int("5000-byte version", "code", d.code, 451);
    f.mail_from_domain = huge;
    f.client_addr = huge;
    f.tls_version = NULL;
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("5000-byte sender and client", "rule", d.rule_text, "*");
    free(huge);
}

/* Many rules: matching goes through the index and still honours file order. */
static void test_many_rules(void)
{
    size_t n = 20000, cap = n * 80 + 256, used = 0;
    char *text = malloc(cap);
    policy_diag diag = {0};
    policy_decision d;
    policy_facts f = {NOTLS};
    policy *p;

    used += (size_t)snprintf(text + used, cap - used, "from:.d7.example may\n");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "from:d%zu.example encrypt\nclient:10.%zu.%zu.0/24 may\n",
                                 i, i / 256 % 256, i % 256);
    used += (size_t)snprintf(text + used, cap - used, "from:.example none\n* may\n");
    p = policy_parse(text, used, "many.conf", &diag);
    unit_int("20000 rules", "parsed", p != NULL, 1);
    unit_int("20000 rules", "diag.n", (long)diag.n, 0);
    f.mail_from_domain = "d12345.example";
    f.client_addr = "192.0.2.1";
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "exact", d.rule_text, "from:d12345.example");
    unit_int("20000 rules", "line", policy_rule_line(d.rule), 2 + 12345 * 2);
    f.client_addr = "10.48.57.9"; /* 10.48.57.0/24 is rule 12345's client twin, one line later */
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "from before its client twin", d.rule_text, "from:d12345.example");
    f.mail_from_domain = "d19999.example";
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "earlier client wins", d.rule_text, "client:10.48.57.0/24");
    f.mail_from_domain = "mx.d7.example";
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "first line .domain", d.rule_text, "from:.d7.example");
    f.mail_from_domain = "mx.d8.example";
    f.client_addr = NULL;
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "last .domain", d.rule_text, "from:.example");
    f.mail_from_domain = "example.org";
    policy_eval_sender(p, NULL, &f, &d);
    unit_str("20000 rules", "*", d.rule_text, "*");
    policy_free(p);
    policy_diag_free(&diag);
    free(text);
}

static const struct {
    const char *name;
    policy_facts facts;
    policy_verdict v;
    const char *rules;
    size_t size;
    const char *want;
} header_rows[] = {
    {"pass TLSv1.3", {TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, V_PASS, "from:bank.example", 256,
     "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example"},
    {"none without TLS", {NOTLS}, V_NONE, NULL, 256, "none tls=none rule=-"},
    {"empty rules", {TLS("", "X", 1)}, V_NONE, "", 256, "none tls=none rule=-"},
    {"fail, several rules", {TLS("TLSv1", "AES256-SHA", 256)}, V_FAIL, "from:a.example,rcpt:b.example", 256,
     "fail tls=TLSv1 cipher=AES256-SHA bits=256 rule=from:a.example,rcpt:b.example"},
    {"unknown cipher and bits left out", {TLS("TLSv1.2", NULL, -1)}, V_PASS, "*", 256, "pass tls=TLSv1.2 rule=*"},
    {"hostile values sanitised", {TLS("TLS v1\r\n", "A B\x01", 7)}, V_PASS, "x y", 256,
     "pass tls=TLS?v1?? cipher=A?B? bits=7 rule=x?y"},
    {"truncated", {TLS("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)}, V_PASS, "*", 10, "pass tls="},
};

static void test_header(void)
{
    for (size_t i = 0; i < sizeof(header_rows) / sizeof(header_rows[0]); i++) {
        char buf[256];
        memset(buf, 'X', sizeof(buf));
        policy_header_value(&header_rows[i].facts, header_rows[i].v, header_rows[i].rules, buf,
                            header_rows[i].size);
        unit_str(header_rows[i].name, "header", buf, header_rows[i].want);
    }
}

/* The rule= list: each rule once, compared as a whole element, never cut in half. */
static const struct {
    const char *name, *before, *rule;
    size_t size;
    const char *want;
} rules_rows[] = {
    {"first rule", "", "from:bank.example", 64, "from:bank.example"},
    {"second rule", "from:bank.example", "rcpt:x.example", 64, "from:bank.example,rcpt:x.example"},
    {"already there", "from:bank.example,rcpt:x.example", "rcpt:x.example", 64,
     "from:bank.example,rcpt:x.example"},
    {"substring of another rule is still added", "rcpt:ba.example", "rcpt:a.example", 64,
     "rcpt:ba.example,rcpt:a.example"},
    {"longer rule containing an existing one", "rcpt:a.example", "rcpt:.a.example", 64,
     "rcpt:a.example,rcpt:.a.example"},
    {"empty rule ignored", "*", "", 64, "*"},
    {"does not fit whole: left out", "*", "rcpt:x.example", 10, "*"},
    {"fits exactly", "*", "rcpt:x", 9, "*,rcpt:x"},
};

static void test_rules_add(void)
{
    for (size_t i = 0; i < sizeof(rules_rows) / sizeof(rules_rows[0]); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", rules_rows[i].before);
        policy_rules_add(buf, rules_rows[i].size, rules_rows[i].rule);
        unit_str(rules_rows[i].name, "rules", buf, rules_rows[i].want);
    }
}

static void test_names_and_combine(void)
{
    static const policy_verdict vs[] = {V_NONE, V_PASS, V_FAIL, POLICY_VERDICT_DOWNGRADE,
                                        POLICY_VERDICT_AUTH_PLAINTEXT};
    static const policy_verdict want[5][5] = {
        {V_NONE, V_PASS, V_FAIL, POLICY_VERDICT_DOWNGRADE, POLICY_VERDICT_AUTH_PLAINTEXT},
        {V_PASS, V_PASS, V_FAIL, POLICY_VERDICT_DOWNGRADE, POLICY_VERDICT_AUTH_PLAINTEXT},
        {V_FAIL, V_FAIL, V_FAIL, V_FAIL, V_FAIL},
        {POLICY_VERDICT_DOWNGRADE, POLICY_VERDICT_DOWNGRADE, V_FAIL, POLICY_VERDICT_DOWNGRADE,
         POLICY_VERDICT_DOWNGRADE},
        {POLICY_VERDICT_AUTH_PLAINTEXT, POLICY_VERDICT_AUTH_PLAINTEXT, V_FAIL,
         POLICY_VERDICT_DOWNGRADE, POLICY_VERDICT_AUTH_PLAINTEXT}};
    static const char *const actions[] = {"default", "accept", "reject", "defer", "tag", "quarantine", "monitor"};
    /* Weight order of policy_decision_stronger(), weakest first. */
    static const policy_action by_weight[] = {POLICY_ACTION_ACCEPT, POLICY_ACTION_MONITOR,
                                              POLICY_ACTION_TAG, POLICY_ACTION_QUARANTINE,
                                              POLICY_ACTION_DEFER, POLICY_ACTION_REJECT};
    policy_decision da, db;
    policy_action a;

    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 6; j++) {
            da.action = by_weight[i];
            db.action = by_weight[j];
            unit_int(policy_action_name(by_weight[i]), policy_action_name(by_weight[j]),
                     policy_decision_stronger(&da, &db) == &db, j > i);
        }
    unit_str("verdicts", "downgrade", policy_verdict_name(POLICY_VERDICT_DOWNGRADE), "downgrade");
    unit_str("verdicts", "auth-plaintext", policy_verdict_name(POLICY_VERDICT_AUTH_PLAINTEXT),
             "auth-plaintext");
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++)
            unit_int(policy_verdict_name(vs[i]), policy_verdict_name(vs[j]), policy_verdict_combine(vs[i], vs[j]),
                     want[i][j]);
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        unit_str(actions[i], "action name", policy_action_name((policy_action)i), actions[i]);
        unit_int(actions[i], "from name rc", policy_action_from_name(actions[i], &a), 0);
        unit_int(actions[i], "from name", a, (long)i);
    }
    unit_int("bounce", "from name rc", policy_action_from_name("bounce", &a), -1);
    unit_int("NULL", "from name rc", policy_action_from_name(NULL, &a), -1);
    unit_str("levels", "none", policy_level_name(L_NONE), "none");
    unit_str("levels", "may", policy_level_name(L_MAY), "may");
    unit_str("levels", "encrypt", policy_level_name(L_ENC), "encrypt");
    unit_str("levels", "verify", policy_level_name(L_VER), "verify");
    unit_str("levels", "dane", policy_level_name(L_DANE), "dane");
    unit_str("levels", "dane-only", policy_level_name(L_DONLY), "dane-only");
    unit_str("levels", "fingerprint", policy_level_name(L_FP), "fingerprint");
    unit_str("verdicts", "pass", policy_verdict_name(V_PASS), "pass");
    unit_str("verdicts", "fail", policy_verdict_name(V_FAIL), "fail");
    unit_str("verdicts", "none", policy_verdict_name(V_NONE), "none");
}

int main(void)
{
    policy *pols[NPOLICIES];

    for (size_t i = 0; i < NPOLICIES; i++) {
        policy_diag diag = {0};
        char row[32];
        pols[i] = policy_parse(policy_texts[i], strlen(policy_texts[i]), "eval.conf", &diag);
        snprintf(row, sizeof(row), "policy %zu", i);
        unit_int(row, "parsed", pols[i] != NULL, 1);
        for (size_t j = 0; j < diag.n; j++)
            unit_str(row, "unexpected diagnostic", diag.msgs[j], NULL);
        policy_diag_free(&diag);
        if (!pols[i])
            return unit_report("test_policy_eval");
    }
    run_rows(pols);
    test_hostile_and_null(pols[0]);
    test_many_rules();
    test_header();
    test_rules_add();
    test_names_and_combine();
    for (size_t i = 0; i < NPOLICIES; i++)
        policy_free(pols[i]);
    return unit_report("test_policy_eval");
}
