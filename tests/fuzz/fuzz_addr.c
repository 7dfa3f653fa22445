/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addr - the envelope normalisers (untrusted MAIL FROM / RCPT TO arguments, MTA
 * macros, policy selectors): policy_addr_domain(), policy_addr_normalize() and
 * policy_domain_normalize() on the input as one C string (up to its first NUL, as the MTA
 * hands it over), each with a full-size output and with a small one of the exact size
 * chosen by the input's length, so that a write one byte too far is caught.
 *
 * Checks (policy/policy.h): the output is NUL-terminated and "" on failure; a domain is
 * lowercase [a-z0-9-_] labels joined by dots, at most 253 octets, without a trailing dot,
 * and normalising it again gives it back; a normalised address normalises to itself, and its
 * domain (after the last '@') is what policy_addr_domain() extracts, unless it is an address
 * literal; with the small buffer a call fails where the full one succeeds only if the
 * result does not fit it.
 *
 * The envelope (policy/envelope.c): an optional second field after a NUL is the MTA's
 * {mail_addr}/{rcpt_addr}. Whatever domain the MTA would use, tlsguard gets the same or
 * fails closed:
 * - readable with domain "" only for the null sender at MAIL or <postmaster>; never for
 *   anything a rule could have matched;
 * - the MTA's own forms agree: handing the normalised address back as the MTA's macro (the
 *   form Postfix's quote_821_local gives) leaves one domain, the same;
 * - what both MTAs ignore changes nothing: a comment or whitespace added next to the '@' or
 *   before the closing '>' leaves the domain or fails closed;
 * - for plain addresses (local@domain with RFC 5321 atext and LDH labels, optionally in <>)
 *   the domain is the one a plain split at the last '@' gives, lowercased, trailing dots
 *   dropped: the reference both MTAs follow.
 */
#include "fuzz.h"

/* System. */
#include <strings.h>

/* Core. */
#include "policy/policy.h"

static void check_domain(const char *d)
{
    size_t n = strlen(d);
    char again[POLICY_DOMAIN_MAX];

    FUZZ_CHECK(n > 0 && n <= 253 && d[0] != '.' && d[n - 1] != '.' && !strstr(d, ".."));
    for (const char *s = d; *s; s++)
        FUZZ_CHECK((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                   *s == '_' || *s == '.');
    FUZZ_CHECK(policy_domain_normalize(d, again, sizeof again) == 0 && strcmp(again, d) == 0);
}

typedef int (*normaliser)(const char *in, char *out, size_t size);

/* Runs f with the full buffer and with one of `small` bytes and checks they agree. Returns
 * the result with the full buffer, whose output stays in `full`. */
static int run(normaliser f, const char *in, char *full, size_t fullsize, size_t small)
{
    char *buf = malloc(small);
    int rc = f(in, full, fullsize), rc_small;

    if (!buf)
        abort();
    FUZZ_CHECK(fuzz_terminated(full, fullsize));
    FUZZ_CHECK(rc == 0 || full[0] == '\0');
    rc_small = f(in, buf, small);
    FUZZ_CHECK(fuzz_terminated(buf, small));
    FUZZ_CHECK(rc_small == 0 || buf[0] == '\0');
    if (rc_small == 0)
        FUZZ_CHECK(rc == 0 && strcmp(buf, full) == 0);
    else if (rc == 0)
        FUZZ_CHECK(strlen(full) >= small); /* it failed only for want of room */
    free(buf);
    return rc;
}

/* The plain reference: "local@domain" or "<local@domain>" with atext in the local part and
 * LDH labels; writes the lowercased domain without a trailing dot. 0 if not that shape. */
static int plain_reference(const char *in, char *dom, size_t size)
{
    size_t n = strlen(in), s = 0, e = n, at = 0, j = 0;

    if (n >= 2 && in[0] == '<' && in[n - 1] == '>')
        s = 1, e = n - 1;
    for (size_t i = s; i < e; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '@') {
            if (at)
                return 0;
            at = i;
        } else if (!(c >= 0x21 && c <= 0x7e && !strchr("\"(),:;<>@[\\]", c))) {
            return 0;
        } else if (at && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
            return 0;
        }
    }
    if (!at || at == s || at + 1 == e || e - at > size)
        return 0;
    for (size_t i = at + 1; i < e; i++)
        dom[j++] = (char)((in[i] >= 'A' && in[i] <= 'Z') ? in[i] - 'A' + 'a' : in[i]);
    while (j > 0 && dom[j - 1] == '.') /* Sendmail drops them all */
        j--;
    dom[j] = '\0';
    return 1;
}

/* The domain of `in` read at MAIL with the variant text inserted at position pos. */
static void check_variant(const char *in, size_t pos, const char *insert, const char *want)
{
    size_t n = strlen(in), k = strlen(insert);
    char *v = malloc(n + k + 1);
    policy_envelope env;

    if (!v)
        abort();
    memcpy(v, in, pos);
    memcpy(v + pos, insert, k);
    memcpy(v + pos + k, in + pos, n - pos + 1);
    policy_envelope_read(v, NULL, 0, &env);
    FUZZ_CHECK(!env.readable || strcmp(env.domain, want) == 0);
    free(v);
}

static void check_envelope(const char *in, const char *mta, const char *norm, int have_norm)
{
    policy_envelope env, again;
    char ref[POLICY_DOMAIN_MAX];
    const char *at, *gt;

    for (int rcpt = 0; rcpt <= 1; rcpt++) {
        policy_envelope_read(in, mta, rcpt, &env);
        FUZZ_CHECK(fuzz_terminated(env.domain, sizeof env.domain));
        FUZZ_CHECK(fuzz_terminated(env.mta_domain, sizeof env.mta_domain));
        FUZZ_CHECK(fuzz_terminated(env.why, sizeof env.why));
        if (!env.readable) {
            FUZZ_CHECK(env.why[0] && !env.domain[0] && !env.mta_domain[0]);
            continue;
        }
        if (env.domain[0])
            check_domain(env.domain);
        else
            FUZZ_CHECK((!rcpt && policy_addr_read(in, ref, sizeof ref) == POLICY_ADDR_NULL) ||
                       (have_norm && strcasecmp(norm, "postmaster") == 0));
        if (env.mta_domain[0]) {
            check_domain(env.mta_domain);
            FUZZ_CHECK(env.domain[0] && strcmp(env.mta_domain, env.domain) != 0);
        }
    }
    policy_envelope_read(in, NULL, 0, &env);
    if (!env.readable)
        return;
    if (have_norm && norm[0]) {
        policy_envelope_read(in, norm, 0, &again);
        FUZZ_CHECK(again.readable && strcmp(again.domain, env.domain) == 0 && !again.mta_domain[0]);
    }
    if (plain_reference(in, ref, sizeof ref))
        FUZZ_CHECK(strcmp(env.domain, ref) == 0);
    if (!env.domain[0] || strlen(in) > 900)
        return;
    if ((at = strrchr(in, '@')) != NULL) {
        check_variant(in, (size_t)(at - in), " (c@evil.example) ", env.domain);
        check_variant(in, (size_t)(at - in) + 1, "\t(c) ", env.domain);
    }
    if ((gt = strrchr(in, '>')) != NULL)
        check_variant(in, (size_t)(gt - in), "(x@evil.example)", env.domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_text(data, size);
    const char *field[2];
    char dom[POLICY_DOMAIN_MAX], addr[POLICY_ADDR_MAX], dom2[POLICY_DOMAIN_MAX];
    char again[POLICY_ADDR_MAX];
    size_t small = 1 + size % 40;
    int rc_dom, rc_addr;

    if (run(policy_domain_normalize, in, dom, sizeof dom, small) == 0)
        check_domain(dom);

    rc_dom = run(policy_addr_domain, in, dom, sizeof dom, small);
    if (rc_dom == 0 && dom[0])
        check_domain(dom);

    rc_addr = run(policy_addr_normalize, in, addr, sizeof addr, small);
    if (rc_addr == 0) {
        const char *at = strrchr(addr, '@');

        FUZZ_CHECK(strlen(addr) < POLICY_ADDR_MAX);
        FUZZ_CHECK(policy_addr_normalize(addr, again, sizeof again) == 0 &&
                   strcmp(again, addr) == 0);
        if (!addr[0]) {
            FUZZ_CHECK(rc_dom == 0 && !dom[0]); /* the null sender */
        } else if (!at) {
            FUZZ_CHECK(strcasecmp(addr, "postmaster") == 0);
        } else if (at[1] != '[') {
            FUZZ_CHECK(rc_dom == 0 && strcmp(dom, at + 1) == 0);
            FUZZ_CHECK(policy_addr_domain(addr, dom2, sizeof dom2) == 0 &&
                       strcmp(dom2, dom) == 0);
        }
    }
    fuzz_fields(in, size, field, 2);
    check_envelope(in, field[1], addr, rc_addr == 0);
    free(in);
    return 0;
}
