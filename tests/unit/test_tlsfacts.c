/* SPDX-License-Identifier: MIT */
/* Unit tests for policy/tlsfacts.c: versions, cipher bits, weak ciphers, sanitising, certificate
 * fingerprints and Sendmail's xtext. */
#include "policy/policy.h"
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

#define MD5_LC "0e079412f55b149cff5ba9173f950821"
#define MD5_UC "0E:07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21"
#define SHA256_UC                                                                            \
    "BB:38:99:1C:D1:97:7B:CC:53:FE:12:78:51:C6:79:B1:9D:6D:20:46:51:50:80:5B:7D:BF:A8:C4:7A:9A:2C:CF"
#define SHA512_HEX                                                                           \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"                         \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const struct {
    const char *name;
    const char *in;
    size_t size;
    int want; /* digest bytes or -1 */
    const char *out;
} fp_rows[] = {
    {"MD5, lowercase, no colons", MD5_LC, POLICY_FP_MAX, 16, MD5_UC},
    {"MD5, Sendmail's form", MD5_UC, POLICY_FP_MAX, 16, MD5_UC},
    {"MD5, mixed case with colons", "0e:07:94:12:F5:5b:14:9C:ff:5B:a9:17:3f:95:08:21", POLICY_FP_MAX, 16, MD5_UC},
    {"SHA-1", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", POLICY_FP_MAX, 20,
     "A9:4A:8F:E5:CC:B1:9B:A6:1C:4C:08:73:D3:91:E9:87:98:2F:BB:D3"},
    {"SHA-256", "bb38991cd1977bcc53fe127851c679b19d6d20465150805b7dbfa8c47a9a2ccf", POLICY_FP_MAX, 32,
     SHA256_UC},
    {"SHA-512 fits POLICY_FP_MAX exactly", SHA512_HEX, POLICY_FP_MAX, 64, NULL},
    {"SHA-512 one byte short of room", SHA512_HEX, POLICY_FP_MAX - 1, -1, NULL},
    {"65 bytes", SHA512_HEX "00", 1024, -1, NULL},
    {"15 bytes: no such digest", "0e079412f55b149cff5ba9173f9508", POLICY_FP_MAX, -1, NULL},
    {"odd number of digits", "0e079412f55b149cff5ba9173f95082", POLICY_FP_MAX, -1, NULL},
    {"not hex", "0g079412f55b149cff5ba9173f950821", POLICY_FP_MAX, -1, NULL},
    {"colons only in part", "0E:07:94:12F55B149CFF5BA9173F950821", POLICY_FP_MAX, -1, NULL},
    {"colons after the first pair missing", "0E07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21", POLICY_FP_MAX, -1,
     NULL},
    {"trailing colon", MD5_UC ":", POLICY_FP_MAX, -1, NULL},
    {"double colon", "0E::07:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21", POLICY_FP_MAX, -1, NULL},
    {"leading colon", ":" MD5_UC, POLICY_FP_MAX, -1, NULL},
    {"single digits between colons", "E:7:94:12:F5:5B:14:9C:FF:5B:A9:17:3F:95:08:21", POLICY_FP_MAX, -1, NULL},
    {"space", MD5_UC " ", POLICY_FP_MAX, -1, NULL},
    {"empty", "", POLICY_FP_MAX, -1, NULL},
    {"NULL", NULL, POLICY_FP_MAX, -1, NULL},
};

static const struct {
    const char *in;
    size_t size;
    const char *want;
} xtext_rows[] = {
    {"tlsguard+20test+20CA", 64, "tlsguard test CA"},
    {"/C=DE/O=Bank+2C+20Inc./CN=mx.bank.example", 64, "/C=DE/O=Bank, Inc./CN=mx.bank.example"},
    {"a+2Bb", 64, "a+b"},
    {"plus+ alone+", 64, "plus+ alone+"},
    {"half+2", 64, "half+2"},
    {"not hex+zz", 64, "not hex+zz"},
    {"control+0D+0Abyte", 64, "control??byte"},
    {"nul+00byte", 64, "nul?byte"},
    {"high+C3+A9", 64, "high??"},
    {"raw\r\n", 64, "raw??"},
    {"tlsguard+20test+20CA", 9, "tlsguard"},
    {"ab+20cd", 4, "ab "},
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
    for (size_t i = 0; i < sizeof(fp_rows) / sizeof(fp_rows[0]); i++) {
        char out[1024] = "";
        int got = policy_fingerprint_normalize(fp_rows[i].in, out, fp_rows[i].size);

        unit_int(fp_rows[i].name, "fingerprint bytes", got, fp_rows[i].want);
        if (fp_rows[i].out)
            unit_str(fp_rows[i].name, "normalised", out, fp_rows[i].out);
        if (got == 64)
            unit_int(fp_rows[i].name, "length", (long)strlen(out), POLICY_FP_MAX - 1);
    }
    unit_str("digest 16", "name", policy_fingerprint_digest(16), "MD5");
    unit_str("digest 32", "name", policy_fingerprint_digest(32), "SHA-256");
    unit_str("digest 17", "name", policy_fingerprint_digest(17), "unknown");
    for (size_t i = 0; i < sizeof(xtext_rows) / sizeof(xtext_rows[0]); i++) {
        char out[64];
        char row[80];
        memset(out, 'X', sizeof(out));
        snprintf(row, sizeof(row), "xtext %s (size %zu)", xtext_rows[i].in ? xtext_rows[i].in : "(null)",
                 xtext_rows[i].size);
        policy_xtext_decode(xtext_rows[i].in, out, xtext_rows[i].size);
        unit_str(row, "decoded", out, xtext_rows[i].want);
    }
    return unit_report("test_tlsfacts");
}
