/* SPDX-License-Identifier: MIT */
/*
 * tlsfacts - interpretation of the TLS facts an MTA reports (version, cipher, bits, certificate
 * fingerprint, Sendmail's xtext-encoded names) and sanitising of any text taken from them.
 */
#include "cipher.h"
#include "policy.h"

/* libc */
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int number;
} tls_versions[] = {
    {"SSLv3", 0x0300}, {"TLSv1", 0x0301}, {"TLSv1.1", 0x0302}, {"TLSv1.2", 0x0303}, {"TLSv1.3", 0x0304},
};

int policy_tls_version_number(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < sizeof(tls_versions) / sizeof(tls_versions[0]); i++)
        if (strcasecmp(name, tls_versions[i].name) == 0)
            return tls_versions[i].number;
    return -1;
}

const char *policy_tls_version_name(int number)
{
    for (size_t i = 0; i < sizeof(tls_versions) / sizeof(tls_versions[0]); i++)
        if (tls_versions[i].number == number)
            return tls_versions[i].name;
    return NULL;
}

int policy_cipher_bits_parse(const char *s)
{
    long v = 0;
    size_t i;

    if (!s || !*s)
        return -1;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 65535)
            return -1;
    }
    return (int)v;
}

/* Keywords that mark a cipher as weak. Debian's OpenSSL does not even build most of them
 * (they are not in its cipher list), so a name lookup cannot tell "weak" from "unknown":
 * classify by name. */
static const char *const weak_keywords[] = {
    "RC4", "MD5", "3DES", "DES-CBC3", "DES-CBC-", "IDEA", "NULL", "EXP", "ADH", "AECDH",
};

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

int policy_cipher_is_weak(const char *name)
{
    if (!name || !*name)
        return 1;
    for (size_t i = 0; i < sizeof(weak_keywords) / sizeof(weak_keywords[0]); i++)
        if (contains_nocase(name, weak_keywords[i]))
            return 1;
    return !cipher_known(name);
}

void policy_sanitize(const char *in, char *out, size_t size)
{
    size_t i = 0;

    if (!out || size == 0)
        return;
    if (in) {
        for (; in[i] && i + 1 < size; i++) {
            unsigned char c = (unsigned char)in[i];
            out[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
        }
    }
    out[i] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const struct {
    int bytes;
    const char *name;
} digests[] = {
    {16, "MD5"}, {20, "SHA-1"}, {28, "SHA-224"}, {32, "SHA-256"}, {48, "SHA-384"}, {64, "SHA-512"},
};

const char *policy_fingerprint_digest(int bytes)
{
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++)
        if (digests[i].bytes == bytes)
            return digests[i].name;
    return "unknown";
}

int policy_fingerprint_normalize(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    int bytes = 0, colons = -1; /* -1: not known yet whether bytes are separated */

    if (!in || !out || size == 0)
        return -1;
    for (const char *s = in; *s;) {
        int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);

        if (lo < 0 || bytes == 64)
            return -1;
        s += 2;
        if (*s == ':') {
            if (colons == 0 || !s[1])
                return -1;
            colons = 1;
            s++;
        } else if (*s) {
            if (colons == 1)
                return -1;
            colons = 0;
        }
        if (j + (bytes ? 3 : 2) >= size)
            return -1;
        if (bytes)
            out[j++] = ':';
        out[j++] = hex[hi];
        out[j++] = hex[lo];
        bytes++;
    }
    out[j] = '\0';
    if (strcmp(policy_fingerprint_digest(bytes), "unknown") == 0)
        return -1;
    return bytes;
}

void policy_xtext_decode(const char *in, char *out, size_t size)
{
    size_t j = 0;

    if (!out || size == 0)
        return;
    for (const char *s = in; s && *s && j + 1 < size; s++) {
        unsigned char c = (unsigned char)*s;
        int hi, lo;

        if (c == '+' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            c = (unsigned char)(hi * 16 + lo);
            s += 2;
        }
        out[j++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
    }
    out[j] = '\0';
}
