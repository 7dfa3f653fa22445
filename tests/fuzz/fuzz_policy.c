/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy - the policy file parser (operator text): policy_parse() on the input as a
 * whole file. Checks: a NULL policy comes with at least one error and an error-free parse
 * with a policy; every diagnostic is printable and names the file; each rule describes
 * itself in bounds. A policy that parses is then evaluated for a few fixed transactions,
 * sender side and per recipient, with and without DNS facts, so that whatever the parser
 * built is also read by the evaluator; decisions must keep their promises (policy/policy.h).
 */
#include "fuzz.h"

/* Core. */
#include "policy/policy.h"

static const char *const clients[] = {"192.0.2.5", "2001:db8::25", "10.1.2.3", NULL};
static const char *const domains[] = {"bank.example", "mx.bank.example", "", NULL};

static const policy_facts tls_facts[] = {
    {.cipher_bits = -1}, /* no TLS */
    {.tls_version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384", .cipher_bits = 256,
     .cert_subject = "mail.bank.example", .cert_verified = 1},
    {.tls_version = "TLSv1", .cipher = "RC4-MD5", .cipher_bits = 128, .cert_subject = "x",
     .cert_verified = 0},
};

/* A secure MX with one DANE host, and a lookup that timed out. */
static const dane_facts dns[] = {
    {.domain = "bank.example",
     .mx = {DANE_LOOKUP_DATA, 1, ""},
     .nhosts = 1,
     .hosts = {{.name = "mx.bank.example", .preference = 10, .addr = {DANE_LOOKUP_DATA, 1, ""},
                .tlsa_base = "mx.bank.example", .tlsa = {DANE_LOOKUP_DATA, 1, ""}, .ntlsa = 1,
                .tlsa_rr = {{3, 1, 1, 32, {0}, 0}}}}},
    {.domain = "bank.example", .mx = {DANE_LOOKUP_TIMEOUT, 0, "timed out"}},
};

static void check_decision(const policy_decision *d)
{
    FUZZ_CHECK(d->action != POLICY_ACTION_DEFAULT);
    FUZZ_CHECK(fuzz_terminated(d->rule_text, sizeof d->rule_text));
    FUZZ_CHECK(fuzz_terminated(d->reason, sizeof d->reason) && fuzz_printable(d->reason));
    FUZZ_CHECK(fuzz_terminated(d->reply, sizeof d->reply) && fuzz_printable(d->reply));
    FUZZ_CHECK(fuzz_terminated(d->dane, sizeof d->dane) && fuzz_printable(d->dane));
    FUZZ_CHECK((d->rule == NULL) == (d->rule_text[0] == '\0'));
    FUZZ_CHECK(d->verdict == POLICY_VERDICT_FAIL || d->reason[0] == '\0');
    if (d->action == POLICY_ACTION_REJECT)
        FUZZ_CHECK(d->code >= 500 && d->code <= 599 && d->xcode[0] == '5');
    else if (d->action == POLICY_ACTION_DEFER)
        FUZZ_CHECK(d->code >= 400 && d->code <= 499 && d->xcode[0] == '4');
    else
        FUZZ_CHECK(d->code == 0);
}

static void evaluate(const policy *p)
{
    static const policy_opts opts[] = {{POLICY_ACTION_DEFER, 0}, {POLICY_ACTION_REJECT, 1}};
    policy_decision d;
    char header[900];

    for (size_t t = 0; t < sizeof tls_facts / sizeof tls_facts[0]; t++) {
        for (size_t c = 0; c < sizeof clients / sizeof clients[0]; c++) {
            policy_facts f = tls_facts[t];

            f.client_addr = clients[c];
            f.mail_from_domain = domains[c];
            policy_eval_sender(p, &opts[t & 1], &f, &d);
            check_decision(&d);
            policy_header_value(&f, d.verdict, d.rule_text, header, sizeof header);
            FUZZ_CHECK(fuzz_printable(header));
            for (size_t r = 0; domains[r]; r++) {
                policy_eval_rcpt(p, &opts[c & 1], &f, domains[r], &d);
                check_decision(&d);
                if (d.needs_dane) {
                    f.dane = &dns[(t + r) % 2];
                    policy_eval_rcpt(p, &opts[c & 1], &f, domains[r], &d);
                    check_decision(&d);
                    FUZZ_CHECK(!d.needs_dane);
                    f.dane = NULL;
                }
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact size, no NUL after it: the parser is given a length, and must keep to it. */
    char *text = fuzz_copy(data, size);
    policy_diag diag = {0};
    policy *p;

    p = policy_parse(text, size, "fuzz.policy", &diag);
    FUZZ_CHECK((p == NULL) == (diag.errors > 0));
    FUZZ_CHECK(diag.n >= (size_t)diag.errors);
    for (size_t i = 0; i < diag.n; i++) {
        FUZZ_CHECK(strncmp(diag.msgs[i], "fuzz.policy:", 12) == 0);
        FUZZ_CHECK(fuzz_printable(diag.msgs[i]));
    }
    if (p) {
        char line[1024];

        for (size_t i = 0; i < policy_rule_count(p); i++) {
            const policy_rule *r = policy_rule_at(p, i);

            policy_rule_describe(r, line, sizeof line);
            FUZZ_CHECK(fuzz_terminated(line, sizeof line) && fuzz_printable(line));
            policy_rule_describe(r, line, 8); /* a short buffer truncates, never overflows */
            FUZZ_CHECK(strlen(line) < 8);
        }
        evaluate(p);
        p = policy_free(p);
    }
    policy_diag_free(&diag);
    free(text);
    return 0;
}
