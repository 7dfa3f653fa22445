/* SPDX-License-Identifier: MIT */
/* Unit tests for addr.c: envelope addresses and domain names from untrusted input. */
#include "policy.h"
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
    {"u@a.b..", -1, ""},
    {"u@.", -1, ""},
    {"u\r\n@x.example", -1, ""},
    {"u@x.example\n", -1, ""},
    {"u@x.example\x7f", -1, ""},
    {"u\t@x.example", -1, ""},
    {"\"unterminated@x.example", -1, ""},
    {"\"q\"x@y.example", -1, ""},
    {"\"q\\", -1, ""},
    {"u@[192.0.2.1]", -1, ""},
    {"u@exa mple.com", -1, ""},
    {"u v@x.example", -1, ""},
    {"a@b@c.example", -1, ""},
    {"u@b\xc3\xbc" "cher.example", -1, ""},
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
    {"b\xc3\xbc" "cher", -1, ""},
};

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
    test_lengths();
    test_edges();
    return unit_report("test_addr");
}
