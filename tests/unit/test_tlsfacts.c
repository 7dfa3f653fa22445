/* SPDX-License-Identifier: MIT */
/* Unit tests for tlsfacts.c: versions, cipher bits, weak ciphers, sanitising. */
#include "policy.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int want;
} version_rows[] = {
    {"SSLv3", 0x0300},   {"TLSv1", 0x0301}, {"TLSv1.1", 0x0302}, {"TLSv1.2", 0x0303},
    {"TLSv1.3", 0x0304}, {"tlsv1.3", 0x0304}, {"SSLv2", -1},     {"TLSv1.4", -1},
    {"TLSv1.2 ", -1},    {"", -1},          {NULL, -1},          {"TLSv1\n", -1},
};

static const struct {
    const char *in;
    int want;
} bits_rows[] = {
    {"128", 128},  {"0", 0},   {"65535", 65535}, {"65536", -1}, {"", -1},
    {NULL, -1},    {"abc", -1}, {"-1", -1},       {" 128", -1},  {"12a", -1},
    {"+12", -1},   {"99999999999999999999999", -1}, {"000256", 256},
};

static const struct {
    const char *name;
    int want;
} weak_rows[] = {
    {"RC4-MD5", 1},
    {"RC4-SHA", 1},
    {"DES-CBC3-SHA", 1},
    {"EDH-RSA-DES-CBC3-SHA", 1},
    {"EDH-RSA-DES-CBC-SHA", 1},
    {"IDEA-CBC-SHA", 1},
    {"ADH-AES128-SHA", 1},
    {"AECDH-AES128-SHA", 1},
    {"NULL-SHA256", 1},
    {"ECDHE-RSA-NULL-SHA", 1},
    {"EXP-RC4-MD5", 1},
    {"NOSUCH-CIPHER", 1},
    {"", 1},
    {NULL, 1},
    {"ECDHE-RSA-AES256-GCM-SHA384", 0},
    {"AES256-SHA", 0},
    {"DHE-RSA-AES128-GCM-SHA256", 0},
    {"TLS_AES_256_GCM_SHA384", 0},
    {"TLS_AES_128_CCM_8_SHA256", 0},
    {"TLS_CHACHA20_POLY1305_SHA256", 0},
};

static const struct {
    const char *in;
    size_t size;
    const char *want;
} sanitize_rows[] = {
    {"plain text", 64, "plain text"},
    {"a\r\nb", 64, "a??b"},
    {"tab\there", 64, "tab?here"},
    {"del\x7f", 64, "del?"},
    {"caf\xc3\xa9", 64, "caf??"},
    {"abcdef", 4, "abc"},
    {"abcdef", 1, ""},
    {NULL, 8, ""},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(version_rows) / sizeof(version_rows[0]); i++)
        unit_int(version_rows[i].name ? version_rows[i].name : "(null)", "version number",
                 policy_tls_version_number(version_rows[i].name), version_rows[i].want);
    for (size_t i = 0; i < sizeof(bits_rows) / sizeof(bits_rows[0]); i++)
        unit_int(bits_rows[i].in ? bits_rows[i].in : "(null)", "cipher bits",
                 policy_cipher_bits_parse(bits_rows[i].in), bits_rows[i].want);
    for (size_t i = 0; i < sizeof(weak_rows) / sizeof(weak_rows[0]); i++)
        unit_int(weak_rows[i].name ? weak_rows[i].name : "(null)", "weak",
                 policy_cipher_is_weak(weak_rows[i].name), weak_rows[i].want);
    for (size_t i = 0; i < sizeof(sanitize_rows) / sizeof(sanitize_rows[0]); i++) {
        char out[64];
        char row[80];
        memset(out, 'X', sizeof(out));
        snprintf(row, sizeof(row), "%s (size %zu)", sanitize_rows[i].in ? sanitize_rows[i].in : "(null)",
                 sanitize_rows[i].size);
        policy_sanitize(sanitize_rows[i].in, out, sanitize_rows[i].size);
        unit_str(row, "sanitized", out, sanitize_rows[i].want);
    }
    /* size 0 must not write at all */
    {
        char out[2] = "Z";
        policy_sanitize("abc", out, 0);
        unit_str("size 0", "untouched", out, "Z");
    }
    return unit_report("test_tlsfacts");
}
