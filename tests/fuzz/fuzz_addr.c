/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addr - the envelope normalisers (untrusted MAIL FROM / RCPT TO arguments, MTA
 * macros, policy selectors): policy_addr_domain(), policy_addr_normalize() and
 * policy_domain_normalize() on the input as one C string (up to its first NUL, as the MTA
 * hands it over), each with a full-size output and with a small one of the exact size
 * chosen by the input's length, so that a write one byte too far is caught.
 *
 * Checks (policy.h): the output is NUL-terminated and "" on failure; a domain is
 * lowercase [a-z0-9-_] labels joined by dots, at most 253 octets, without a trailing dot,
 * and normalising it again gives it back; a normalised address normalises to itself, and its
 * domain (after the last '@') is what policy_addr_domain() extracts, unless it is an address
 * literal; with the small buffer a call fails where the full one succeeds only if the
 * result does not fit it.
 */
#include "fuzz.h"

/* System. */
#include <strings.h>

/* Core. */
#include "policy.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_text(data, size);
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
    free(in);
    return 0;
}
