/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tlsfacts - the TLS facts an MTA reports in its macros, and every text built from
 * them. The input holds up to twelve NUL-separated fields, taken as the MTA's strings:
 *   tls_version, cipher, cipher_bits, cert_subject, cert_issuer, client_addr,
 *   mail_from_domain, recipient domain, rule list (for the header), auth_type, auth_authen,
 *   cert_fp
 * They are read by policy_tls_version_number(), policy_cipher_bits_parse(),
 * policy_cipher_is_weak(), policy_fingerprint_normalize(), policy_xtext_decode() and
 * policy_sanitize() (with a small buffer too), then evaluated raw, not sanitised first as the
 * milter does, against a fixed policy that uses every floor (protocols=, ciphers=, min_bits=,
 * match=), the fingerprint level and the dane levels, and put in the X-TLS-Policy header
 * value (a short buffer too). The SMTP AUTH fields go to policy_eval_auth().
 *
 * Checks (policy/policy.h): the parsers' ranges; sanitised text is printable, bounded and a prefix
 * in length; decisions keep their promises; reasons, replies and header values are
 * printable ASCII (policy/policy_eval.c sanitises everything taken from the facts).
 */
#include "fuzz.h"

/* Core. */
#include "policy/policy.h"

enum { F_VERSION, F_CIPHER, F_BITS, F_SUBJECT, F_ISSUER, F_CLIENT, F_FROM, F_RCPT, F_RULES,
       F_AUTH_TYPE, F_AUTH_AUTHEN, F_FP, F_COUNT };

static const char policy_text[] =
    "client:192.0.2.0/24 encrypt protocols=>=TLSv1.2\n"
    "client:2001:db8::/32 may protocols=!SSLv3:!TLSv1:!TLSv1.1 min_bits=128\n"
    "from:bank.example verify match=mail.bank.example:.mx.bank.example action=reject\n"
    "from:.bank.example encrypt ciphers=HIGH:!aNULL:!kRSA min_bits=128\n"
    "from:legacy.example encrypt protocols=TLSv1.2:TLSv1.3 ciphers=ALL:!RC4 action=tag\n"
    "from:pin.example fingerprint match=0e079412f55b149cff5ba9173f950821,"
    "A9:4A:8F:E5:CC:B1:9B:A6:1C:4C:08:73:D3:91:E9:87:98:2F:BB:D3 action=reject\n"
    "rcpt:pin.example fingerprint protocols=>=TLSv1.3 match=0e079412f55b149cff5ba9173f950821\n"
    "rcpt:dane.example dane\n"
    "rcpt:only.example dane-only action=quarantine\n"
    "rcpt:.partner.example encrypt protocols=<=TLSv1.2 min_bits=256 action=monitor\n"
    "* may protocols=>=TLSv1.2 ciphers=HIGH min_bits=128\n";

static const policy *fixed_policy(void)
{
    static policy *p;

    if (!p) {
        policy_diag diag = {0};

        p = policy_parse(policy_text, sizeof policy_text - 1, "fixed", &diag);
        FUZZ_CHECK(p != NULL);
        policy_diag_free(&diag);
    }
    return p;
}

static void check_decision(const policy_decision *d)
{
    FUZZ_CHECK(d->action != POLICY_ACTION_DEFAULT);
    FUZZ_CHECK(fuzz_terminated(d->reason, sizeof d->reason) && fuzz_printable(d->reason));
    FUZZ_CHECK(fuzz_terminated(d->reply, sizeof d->reply) && fuzz_printable(d->reply));
    FUZZ_CHECK(fuzz_terminated(d->dane, sizeof d->dane) && fuzz_printable(d->dane));
    FUZZ_CHECK(d->verdict == POLICY_VERDICT_FAIL || d->reason[0] == '\0');
}

/* The plaintext AUTH check: texts that end up in a quoted reason="..." log field and in a
 * reply; the verdict only without TLS and with AUTH; a refusal's codes. */
static void check_auth(const policy_facts *f, policy_action configured)
{
    policy_decision d;
    int tls = f->tls_version && f->tls_version[0];
    int auth = (f->auth_type && f->auth_type[0]) || (f->auth_authen && f->auth_authen[0]);

    policy_eval_auth(NULL, f, configured, &d);
    FUZZ_CHECK(fuzz_terminated(d.reason, sizeof d.reason) && fuzz_printable(d.reason));
    FUZZ_CHECK(fuzz_terminated(d.reply, sizeof d.reply) && fuzz_printable(d.reply));
    FUZZ_CHECK(!strchr(d.reason, '"') && !strchr(d.reply, '"'));
    FUZZ_CHECK(d.rule == NULL && d.rule_text[0] == '\0' && !d.needs_dane);
    if (d.verdict == POLICY_VERDICT_NONE) {
        FUZZ_CHECK(d.action == POLICY_ACTION_ACCEPT && d.reason[0] == '\0' && d.code == 0);
        FUZZ_CHECK(tls || !auth || configured == POLICY_ACTION_ACCEPT);
        return;
    }
    FUZZ_CHECK(d.verdict == POLICY_VERDICT_AUTH_PLAINTEXT && !tls && auth);
    FUZZ_CHECK(d.action == configured && d.reason[0] != '\0');
    if (configured == POLICY_ACTION_REJECT)
        FUZZ_CHECK(d.code == 530 && strcmp(d.xcode, "5.7.11") == 0);
    else if (configured == POLICY_ACTION_DEFER)
        FUZZ_CHECK(d.code == 451 && strcmp(d.xcode, "4.7.11") == 0);
    else
        FUZZ_CHECK(d.code == 0 && d.reply[0] == '\0');
}

static void check_sanitize(const char *in)
{
    char big[1100], small[7];

    policy_sanitize(in, big, sizeof big);
    FUZZ_CHECK(fuzz_printable(big));
    FUZZ_CHECK(strlen(big) == (in ? strnlen(in, sizeof big - 1) : 0));
    policy_sanitize(in, small, sizeof small);
    FUZZ_CHECK(fuzz_printable(small) && strncmp(small, big, sizeof small - 1) == 0);
}

/* Sendmail's xtext names: decoded text is printable and bounded, a short buffer a prefix. */
static void check_xtext(const char *in)
{
    char big[300], small[5];

    policy_xtext_decode(in, big, sizeof big);
    FUZZ_CHECK(fuzz_terminated(big, sizeof big) && fuzz_printable(big));
    FUZZ_CHECK(strlen(big) <= (in ? strlen(in) : 0));
    policy_xtext_decode(in, small, sizeof small);
    FUZZ_CHECK(fuzz_printable(small) && strncmp(small, big, sizeof small - 1) == 0);
}

/* A fingerprint normalises to a digest length and "XX:XX:..." uppercase, and stays the same
 * when normalised again. */
static void check_fingerprint(const char *in)
{
    char out[POLICY_FP_MAX], again[POLICY_FP_MAX];
    int n = policy_fingerprint_normalize(in, out, sizeof out);

    if (n < 0)
        return;
    FUZZ_CHECK(strcmp(policy_fingerprint_digest(n), "unknown") != 0);
    FUZZ_CHECK(strlen(out) == (size_t)(3 * n - 1));
    for (int i = 0; out[i]; i++)
        FUZZ_CHECK(i % 3 == 2 ? out[i] == ':' : strchr("0123456789ABCDEF", out[i]) != NULL);
    FUZZ_CHECK(policy_fingerprint_normalize(out, again, sizeof again) == n && strcmp(out, again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const dane_facts dns = {.domain = "dane.example", .mx = {DANE_LOOKUP_BOGUS, 0,
                                                                     "signature expired"}};
    static const policy_opts opts = {POLICY_ACTION_DEFER, 0};
    char *text = fuzz_text(data, size);
    const char *f[F_COUNT];
    policy_facts facts = {0};
    policy_decision d;
    char header[900], tiny[12];
    int v, bits;

    fuzz_fields(text, size, f, F_COUNT);
    v = policy_tls_version_number(f[F_VERSION]);
    FUZZ_CHECK(v == -1 || (v >= 0x0300 && v <= 0x0304));
    bits = policy_cipher_bits_parse(f[F_BITS]);
    FUZZ_CHECK(bits >= -1 && bits <= 65535);
    FUZZ_CHECK(policy_cipher_is_weak(f[F_CIPHER]) == 0 || policy_cipher_is_weak(f[F_CIPHER]) == 1);
    for (size_t i = 0; i < F_COUNT; i++)
        check_sanitize(f[i]);
    check_xtext(f[F_SUBJECT]);
    check_fingerprint(f[F_FP]);

    facts.tls_version = f[F_VERSION];
    facts.cipher = f[F_CIPHER];
    facts.cipher_bits = bits;
    facts.cert_subject = f[F_SUBJECT];
    facts.cert_issuer = f[F_ISSUER];
    facts.cert_verified = f[F_SUBJECT] && f[F_SUBJECT][0] != '\0';
    facts.cert_fp = f[F_FP];
    facts.cert_none = f[F_ISSUER] && f[F_ISSUER][0] == 'N';
    facts.client_addr = f[F_CLIENT];
    facts.mail_from_domain = f[F_FROM];
    policy_eval_sender(fixed_policy(), &opts, &facts, &d);
    check_decision(&d);
    policy_header_value(&facts, d.verdict, f[F_RULES], header, sizeof header);
    FUZZ_CHECK(fuzz_printable(header));
    policy_header_value(&facts, d.verdict, f[F_RULES], tiny, sizeof tiny);
    FUZZ_CHECK(fuzz_printable(tiny) && strncmp(tiny, header, sizeof tiny - 1) == 0);

    policy_eval_rcpt(fixed_policy(), &opts, &facts, f[F_RCPT], &d);
    check_decision(&d);
    if (d.needs_dane) {
        facts.dane = &dns;
        policy_eval_rcpt(fixed_policy(), &opts, &facts, f[F_RCPT], &d);
        check_decision(&d);
    }
    facts.auth_type = f[F_AUTH_TYPE];
    facts.auth_authen = f[F_AUTH_AUTHEN];
    check_auth(&facts, POLICY_ACTION_REJECT);
    check_auth(&facts, POLICY_ACTION_DEFER);
    check_auth(&facts, POLICY_ACTION_MONITOR);
    check_auth(&facts, POLICY_ACTION_ACCEPT);
    free(text);
    return 0;
}
