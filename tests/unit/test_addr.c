/* SPDX-License-Identifier: MIT */
/* Unit tests for policy/addr.c: envelope addresses and domain names from untrusted input. */
#include "policy/policy.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <string.h>

typedef struct row {
    const char *in;
    int rc;
    const char *want;
} row;

static const row domain_rows[] = {
    {"<User@Example.COM.>", 0, "example.com"},
    {"user@example.com", 0, "example.com"},
    {"<>", 0, ""},
    {"", 0, ""},
    {"<postmaster>", -1, ""},
    {"postmaster", -1, ""},
    {"<\"a b@c\"@x.example>", 0, "x.example"},
    {"<\"a\\\"b\"@x.example>", 0, "x.example"},
    {"<@a.example,@b.example:u@c.example>", 0, "c.example"},
    {"<@a.example:u@C.Example.>", 0, "c.example"},
    {"u@XN--BCHER-KVA.example", 0, "xn--bcher-kva.example"},
    {"u@x_y.example", 0, "x_y.example"},
    {"<user@example.com", -1, ""},
    {"user@example.com>", -1, ""},
    {"<", -1, ""},
    {"user@", -1, ""},
    {"<@x.example>", -1, ""},
    {"<@a.example:>", -1, ""},
    {"@x.example", -1, ""},
    {"u@a..b", -1, ""},
    {"u@.a", -1, ""},
    {"u@a.b..", 0, "a.b"}, /* Sendmail drops every trailing dot */
    {"u@.", -1, ""},
    {"u\r\n@x.example", -1, ""},
    {"u@x.example\n", -1, ""},
    {"u@x.example\x7f", -1, ""},
    {"u\t@x.example", 0, "x.example"}, /* TAB is whitespace to both MTAs */
    {"u@x.example\x01", -1, ""},
    {"\"unterminated@x.example", -1, ""},
    {"\"q\"x@y.example", 0, "y.example"},
    {"\"q\\", -1, ""},
    {"u@[192.0.2.1]", -1, ""},
    {"u@exa mple.com", -1, ""},
    {"u v@x.example", 0, "x.example"},
    {"a@b@c.example", 0, "c.example"}, /* Postfix: "a@b"@c.example */
    {"u@b\xc3\xbc" "cher.example", 0, "xn--bcher-kva.example"},
};

static const row normalize_rows[] = {
    {"<User@Example.COM.>", 0, "User@example.com"},
    {"<>", 0, ""},
    {"", 0, ""},
    {"<\"a b@c\"@X.example>", 0, "\"a b@c\"@x.example"},
    {"<@a.example,@b.example:u@c.example>", 0, "u@c.example"},
    {"<Postmaster>", 0, "Postmaster"},
    {"postmaster", 0, "postmaster"},
    {"<root>", -1, ""},
    {"u@[IPv6:2001:DB8::1]", 0, "u@[ipv6:2001:db8::1]"},
    {"u@[192.0.2.1]", 0, "u@[192.0.2.1]"},
    {"u@[a b]", -1, ""},
    {"u@[]", -1, ""},
    {"j\xc3\xb6" "e@X.example", 0, "j\xc3\xb6" "e@x.example"},
    {"u@x.example\r", -1, ""},
    {"u@a..b", -1, ""},
};

static const row domain_normalize_rows[] = {
    {"Example.COM.", 0, "example.com"},
    {"example.com", 0, "example.com"},
    {"xn--bcher-kva.EXAMPLE", 0, "xn--bcher-kva.example"},
    {"example.com..", -1, ""},
    {"", -1, ""},
    {".", -1, ""},
    {".example.com", -1, ""},
    {"a..b", -1, ""},
    {"a b", -1, ""},
    {"a*b", -1, ""},
    {"a/b", -1, ""},
    {"b\xc3\xbc" "cher", 0, "xn--bcher-kva"},
    {"B\xc3\x9c" "CHER.Example.", 0, "xn--bcher-kva.example"}, /* UTS #46 maps case */
    {"b\xc3" "cher", -1, ""},                                    /* invalid UTF-8 */
    {"b\xc3\xbc" "cher..", -1, ""},
};

/*
 * Every form of the table in addr.c, as a client writes it after MAIL FROM: or RCPT TO:, with
 * the kind and the domain Postfix 3.7 and Sendmail 8.17 use for it (tried live: their
 * {mail_addr}/{rcpt_addr} in tests/e2e/test_addr_forms.sh and test_sendmail_addr.sh).
 */
typedef struct form_row {
    const char *in;
    policy_addr_kind kind;
    const char *domain;
} form_row;

static const form_row form_rows[] = {
    {"<x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example (c)>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example(c)>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<(c)x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@(c)bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x(@evil.example)@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example(nested (c) x)>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example(\\)@evil.example)>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x @ bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank . example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"< x@bank.example >", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example\t(tab)>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"x y\"@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"x@evil.example\"@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"x\"@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"a\\\"b\"@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"x>\"@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x\\@evil.example@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<@relay.example:x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<@a.example,@b.example:x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example.>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example..>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@BANK.Example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"x@bank.example", POLICY_ADDR_DOMAIN, "bank.example"},
    {"x@bank.example(c)", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example>(c)", POLICY_ADDR_DOMAIN, "bank.example"},
    {"(c)<x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<<x@bank.example>>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example>junk", POLICY_ADDR_DOMAIN, "bank.example"},
    {"Name <x@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example;>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank.example@evil.example>", POLICY_ADDR_DOMAIN, "evil.example"},
    {"<x%bank.example@evil.example>", POLICY_ADDR_DOMAIN, "evil.example"},
    {"<bank.example!x@evil.example>", POLICY_ADDR_DOMAIN, "evil.example"},
    {"<bank.example!x>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x%bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<\"x@bank.example\">", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@\"bank.example\">", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@bank\\.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@b\xc3\xa4nk.example>", POLICY_ADDR_DOMAIN, "xn--bnk-qla.example"},
    {"<x@B\xc3\x84NK.example>", POLICY_ADDR_DOMAIN, "xn--bnk-qla.example"},
    {"<x@xn--bnk-qla.example>", POLICY_ADDR_DOMAIN, "xn--bnk-qla.example"},
    {"<x@bank_x.example>", POLICY_ADDR_DOMAIN, "bank_x.example"},
    {"<x@-bank.example>", POLICY_ADDR_DOMAIN, "-bank.example"},
    {"<x.@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x..y@bank.example>", POLICY_ADDR_DOMAIN, "bank.example"},
    {"<x@[192.0.2.1]>", POLICY_ADDR_LITERAL, "[192.0.2.1]"},
    {"<x@[IPv6:2001:db8::1]>", POLICY_ADDR_LITERAL, "[ipv6:2001:db8::1]"},
    {"<x@[1.2.3.4](c)>", POLICY_ADDR_LITERAL, "[1.2.3.4]"},
    {"<x@[bank.example]>", POLICY_ADDR_LITERAL, "[bank.example]"},
    {"<ceo>", POLICY_ADDR_LOCAL, ""},
    {"<postmaster>", POLICY_ADDR_LOCAL, ""},
    {"<Postmaster>", POLICY_ADDR_LOCAL, ""},
    {"<>", POLICY_ADDR_NULL, ""},
    {"<(c)>", POLICY_ADDR_NULL, ""},
    {"< >", POLICY_ADDR_NULL, ""},
    /* refused by both MTAs, or garbage: tlsguard fails closed */
    {"<x@bank.example(unclosed>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example)>", POLICY_ADDR_BAD, ""},
    {"<\"unclosed@bank.example>", POLICY_ADDR_BAD, ""},
    {"<x@[1.2.3.4>", POLICY_ADDR_BAD, ""},
    {"<x@bank..example>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example,y@evil.example>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example:y>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example", POLICY_ADDR_BAD, ""},
    {"x@bank.example>", POLICY_ADDR_BAD, ""},
    {">x@bank.example<", POLICY_ADDR_BAD, ""},
    {"<x@ba nk.example>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example\\>", POLICY_ADDR_BAD, ""},
    {"<x@bank\\@evil.example>", POLICY_ADDR_BAD, ""},
    {"<x@[1.2.3.4]x>", POLICY_ADDR_BAD, ""},
    {"<[1.2.3.4]@bank.example>", POLICY_ADDR_BAD, ""},
    {"<x@>", POLICY_ADDR_BAD, ""},
    {"<@bank.example>", POLICY_ADDR_BAD, ""},
    {"<x@b\xc3nk.example>", POLICY_ADDR_BAD, ""},
    {"<x@bank.example\r>", POLICY_ADDR_BAD, ""},
};

static void test_forms(void)
{
    for (size_t i = 0; i < sizeof form_rows / sizeof form_rows[0]; i++) {
        char out[POLICY_DOMAIN_MAX];
        memset(out, 'X', sizeof out);
        unit_int(form_rows[i].in, "policy_addr_read kind",
                 (long)policy_addr_read(form_rows[i].in, out, sizeof out), (long)form_rows[i].kind);
        unit_str(form_rows[i].in, "policy_addr_read domain", out, form_rows[i].domain);
    }
}

/* The command argument against the MTA's macro, with what each MTA really sent. */
typedef struct env_row {
    const char *arg, *mta;
    int rcpt, readable;
    const char *domain, *mta_domain;
} env_row;

static const env_row env_rows[] = {
    {"<x@bank.example (c)>", "x@bank.example", 0, 1, "bank.example", ""},
    {"<x@bank.example (c)>", NULL, 0, 1, "bank.example", ""},
    {"<x@BANK.Example.>", "x@BANK.Example", 0, 1, "bank.example", ""}, /* Sendmail keeps case */
    {"<ceo>", "ceo@mx.tlsguard.test", 0, 1, "mx.tlsguard.test", ""},   /* Postfix: $myorigin */
    {"<ceo>", "ceo", 0, 0, "", ""},                                    /* Sendmail: local mailer */
    {"<ceo>", NULL, 1, 0, "", ""},
    {"<postmaster>", "postmaster", 1, 1, "", ""},
    {"<Postmaster>", NULL, 1, 1, "", ""},
    {"<x@bank.example>", "x", 1, 1, "bank.example", ""},  /* Sendmail: local delivery */
    {"<info@hosted.example>", "info@elsewhere.example", 1, 1, "hosted.example",
     "elsewhere.example"},                                 /* Sendmail: virtusertable */
    {"<x%bank.example@mx.example>", "x@bank.example", 0, 1, "mx.example", "bank.example"},
    {"<x@bank\\.example>", "x@bank\\.example", 0, 1, "bank.example", ""},
    {"<x@b\xc3\xa4nk.example>", "x@b\xc3\xa4nk.example", 1, 1, "xn--bnk-qla.example", ""},
    {"<>", "<>", 0, 1, "", ""},
    {"<>", NULL, 0, 1, "", ""},
    {"<>", NULL, 1, 0, "", ""},
    {"<>", "x@bank.example", 0, 1, "bank.example", ""}, /* the MTA's reading is not null */
    {"<>", "x@[192.0.2.1]", 0, 0, "", ""},
    {"<x@bank.example(unclosed>", "x@bank.example", 0, 0, "", ""},
    {"<x@[192.0.2.1]>", "x@[192.0.2.1]", 1, 0, "", ""},
    {"<x@bank.example>", "x@[192.0.2.1]", 1, 0, "", ""},
    {"<x@bank.example>", "x@bank..example", 0, 0, "", ""},
};

static void test_envelope(void)
{
    for (size_t i = 0; i < sizeof env_rows / sizeof env_rows[0]; i++) {
        const env_row *r = &env_rows[i];
        policy_envelope env;
        char what[300];
        snprintf(what, sizeof what, "%s / %s at %s", r->arg, r->mta ? r->mta : "(none)",
                 r->rcpt ? "RCPT" : "MAIL");
        policy_envelope_read(r->arg, r->mta, r->rcpt, &env);
        unit_int(what, "readable", env.readable, r->readable);
        unit_str(what, "domain", env.domain, r->domain);
        unit_str(what, "mta_domain", env.mta_domain, r->mta_domain);
        unit_int(what, "why given", env.why[0] != '\0', !r->readable);
    }
}

/* Deferred only where a rule reads that address and mode is not monitor. */
static void test_unreadable(void)
{
    const char *text = "from:bank.example encrypt\nrcpt:secure.example encrypt\n";
    policy_diag diag = {0};
    policy *both = policy_parse(text, strlen(text), "both", &diag), *none = policy_builtin();
    policy_opts enforce = {.default_action = POLICY_ACTION_REJECT}, monitor = enforce;
    policy_envelope env;
    policy_decision d;

    monitor.monitor = 1;
    policy_envelope_read("<x@bank.example(unclosed>", NULL, 0, &env);
    policy_eval_unreadable(both, &enforce, 0, &env, &d);
    unit_str("unreadable sender", "verdict", policy_verdict_name(d.verdict), "unreadable");
    unit_str("unreadable sender", "action", policy_action_name(d.action), "defer");
    unit_int("unreadable sender", "code", d.code, 451);
    unit_str("unreadable sender", "xcode", d.xcode, "4.1.7");
    unit_str("unreadable sender", "reply", d.reply,
             "tlsguard cannot read the sender address: address syntax not understood");
    unit_str("unreadable sender", "reason", d.reason,
             "sender address unreadable: address syntax not understood");
    policy_envelope_read("<x@[192.0.2.1]>", NULL, 1, &env);
    policy_eval_unreadable(both, &enforce, 1, &env, &d);
    unit_str("literal recipient", "xcode", d.xcode, "4.1.3");
    unit_str("literal recipient", "reply", d.reply,
             "tlsguard cannot read the recipient address: an address literal names no domain");
    policy_eval_unreadable(both, &monitor, 1, &env, &d);
    unit_str("mode monitor", "action", policy_action_name(d.action), "monitor");
    unit_int("mode monitor", "code", d.code, 0);
    policy_eval_unreadable(none, &enforce, 1, &env, &d);
    unit_str("no rcpt: rule", "action", policy_action_name(d.action), "monitor");
    unit_str("no rcpt: rule", "verdict", policy_verdict_name(d.verdict), "unreadable");
    unit_str("header", "combine", policy_verdict_name(policy_verdict_combine(POLICY_VERDICT_FAIL,
             POLICY_VERDICT_UNREADABLE)), "unreadable");
    policy_free(both);
    policy_free(none);
    policy_diag_free(&diag);
}

static void run_rows(const char *fn, const row *rows, size_t n,
                     int (*f)(const char *, char *, size_t))
{
    for (size_t i = 0; i < n; i++) {
        char out[POLICY_ADDR_MAX];
        char what[64];
        memset(out, 'X', sizeof(out));
        snprintf(what, sizeof(what), "%s rc", fn);
        unit_int(rows[i].in, what, f(rows[i].in, out, sizeof(out)), rows[i].rc);
        snprintf(what, sizeof(what), "%s output", fn);
        unit_str(rows[i].in, what, out, rows[i].want);
    }
}

/* Names built at run time: lengths right at and past the limits. */
static void test_lengths(void)
{
    char in[3000], out[POLICY_ADDR_MAX];
    char label63[64], label64[65];

    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    unit_int("label of 63", "rc", policy_domain_normalize(label63, out, sizeof(out)), 0);
    unit_int("label of 64", "rc", policy_domain_normalize(label64, out, sizeof(out)), -1);

    /* 4 * 63 + 3 dots = 255 > 253; trim to exactly 253 and 254. */
    snprintf(in, sizeof(in), "%s.%s.%s.%s", label63, label63, label63, label63);
    in[253] = '\0';
    unit_int("name of 253", "rc", policy_domain_normalize(in, out, sizeof(out)), 0);
    unit_int("name of 253", "length", (long)strlen(out), 253);
    snprintf(in, sizeof(in), "%s.%s.%s.%s", label63, label63, label63, label63);
    in[254] = '\0';
    unit_int("name of 254", "rc", policy_domain_normalize(in, out, sizeof(out)), -1);
    /* 253 octets plus the one trailing dot that is dropped. */
    snprintf(in, sizeof(in), "%s.%s.%s.%s", label63, label63, label63, label63);
    in[253] = '.';
    in[254] = '\0';
    unit_int("name of 253 + dot", "rc", policy_domain_normalize(in, out, sizeof(out)), 0);

    memset(in, 'a', 2000);
    strcpy(in + 2000, "@x.example");
    unit_int("local part of 2000", "addr_domain rc", policy_addr_domain(in, out, sizeof(out)), -1);
    unit_str("local part of 2000", "addr_domain output", out, "");
    memset(in, 'a', 600);
    strcpy(in + 600, "@x.example");
    unit_int("local part of 600", "addr_domain rc", policy_addr_domain(in, out, sizeof(out)), 0);
    unit_int("local part of 600", "addr_normalize rc",
             policy_addr_normalize(in, out, sizeof(out)), -1);
}

/* Output buffers too small, NULL input, and normalising in place. */
static void test_edges(void)
{
    char small[5], buf[64];

    unit_int("small domain buffer", "rc", policy_addr_domain("u@example.com", small, sizeof(small)), -1);
    unit_str("small domain buffer", "output", small, "");
    unit_int("small addr buffer", "rc", policy_addr_normalize("u@example.com", small, sizeof(small)), -1);
    unit_str("small addr buffer", "output", small, "");
    unit_int("exact fit", "rc", policy_addr_domain("u@abcd", small, sizeof(small)), 0);
    unit_str("exact fit", "output", small, "abcd");
    unit_int("NULL addr", "addr_domain rc", policy_addr_domain(NULL, buf, sizeof(buf)), -1);
    unit_int("NULL addr", "addr_normalize rc", policy_addr_normalize(NULL, buf, sizeof(buf)), -1);
    unit_int("NULL domain", "domain_normalize rc", policy_domain_normalize(NULL, buf, sizeof(buf)), -1);
    unit_int("size 0", "addr_domain rc", policy_addr_domain("u@x.example", buf, 0), -1);
    strcpy(buf, "Mixed.Case.Example.");
    unit_int("in place", "rc", policy_domain_normalize(buf, buf, sizeof(buf)), 0);
    unit_str("in place", "output", buf, "mixed.case.example");
}

int main(void)
{
    run_rows("policy_addr_domain", domain_rows, sizeof(domain_rows) / sizeof(domain_rows[0]),
             policy_addr_domain);
    run_rows("policy_addr_normalize", normalize_rows,
             sizeof(normalize_rows) / sizeof(normalize_rows[0]), policy_addr_normalize);
    run_rows("policy_domain_normalize", domain_normalize_rows,
             sizeof(domain_normalize_rows) / sizeof(domain_normalize_rows[0]),
             policy_domain_normalize);
    test_forms();
    test_envelope();
    test_unreadable();
    test_lengths();
    test_edges();
    return unit_report("test_addr");
}
