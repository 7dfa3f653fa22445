/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mx - the MX rdata parser (untrusted bytes from DNS answers): dane_parse_mx() on the
 * input as one rdata, with a full-size name buffer and with a small one of the exact size
 * chosen by the input's length.
 *
 * Checks (policy/dane.h): on failure the name is ""; on success it is "." (null MX) or lowercase
 * labels of [a-z0-9-_] and \DDD escapes joined by dots, no trailing dot, it fits the
 * buffer, the preference is the first two bytes, and encoding the name back to wire form
 * gives the input again (lowercased): nothing is lost or invented.
 */
#include "fuzz.h"

/* Core. */
#include "policy/dane.h"

/* The presentation name back in wire form; returns its length, or 0 if it is malformed. */
static size_t to_wire(const char *name, unsigned char *wire, size_t size)
{
    size_t n = 0, lab = 0;

    if (strcmp(name, ".") == 0) {
        wire[0] = 0;
        return 1;
    }
    for (const char *s = name;; s++) {
        if (*s == '.' || *s == '\0') {
            if (n - lab == 0 || n - lab > 63)
                return 0;
            wire[lab] = (unsigned char)(n - lab);
            lab = ++n;
            if (*s == '\0')
                break;
            continue;
        }
        if (n + 1 >= size)
            return 0;
        if (*s == '\\') {
            FUZZ_CHECK(s[1] >= '0' && s[1] <= '2' && s[2] >= '0' && s[2] <= '9' &&
                       s[3] >= '0' && s[3] <= '9');
            wire[++n] = (unsigned char)((s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
            s += 3;
        } else {
            FUZZ_CHECK((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
                       *s == '_');
            wire[++n] = (unsigned char)*s;
        }
    }
    if (n >= size)
        return 0;
    wire[n] = 0; /* the root label, where the next label's length would go */
    return n + 1;
}

static void check(const uint8_t *data, size_t size, int rc, int pref, const char *name,
                  size_t namesize)
{
    unsigned char wire[300];
    size_t n;

    FUZZ_CHECK(fuzz_terminated(name, namesize));
    if (rc != 0) {
        FUZZ_CHECK(name[0] == '\0');
        return;
    }
    FUZZ_CHECK(size >= 3 && pref == (data[0] << 8 | data[1]));
    FUZZ_CHECK(name[0] != '\0' && (strcmp(name, ".") == 0 || name[strlen(name) - 1] != '.'));
    n = to_wire(name, wire, sizeof wire);
    FUZZ_CHECK(n == size - 2 && n <= 255);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = data[2 + i];

        FUZZ_CHECK(wire[i] == (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[DANE_NAME_MAX * 4]; /* \DDD takes four bytes for one */
    size_t small = 2 + size % 32;
    char *buf = malloc(small);
    int pref = -1, rc;

    if (!buf)
        abort();
    rc = dane_parse_mx(data, size, &pref, name, sizeof name);
    check(data, size, rc, pref, name, sizeof name);
    pref = -1;
    rc = dane_parse_mx(data, size, &pref, buf, small);
    check(data, size, rc, pref, buf, small);
    free(buf);
    return 0;
}
