/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_FUZZ_H
#define TLSGUARD_FUZZ_H

/*
 * fuzz - what the libFuzzer targets of tests/fuzz share (header only).
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput(). Built with -DTLSGUARD_FUZZ=ON and clang,
 * libFuzzer supplies main(); in every other build regress_main.c does, and runs the target
 * over its seed corpus (ctest fuzz_regress_*). A target checks the contract its parser's
 * header promises, not only that nothing crashes: FUZZ_CHECK aborts with the broken promise,
 * which libFuzzer reports as a crash and saves the input.
 *
 * Texts handed to the parsers are copied into heap blocks of the exact size, so that
 * AddressSanitizer sees a read one byte too far. Fields: an input that carries several
 * strings (TLS macros, say) separates them with NUL bytes, as a C string cannot hold one.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* An exact-size copy of data[0..size), nothing after it (as libFuzzer passes its input);
 * caller frees. */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    return s;
}

/* A NUL-terminated copy of data[0..size) (which may hold NULs of its own); caller frees. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits a fuzz_text() copy at its NUL bytes into at most max fields; missing ones are
 * NULL. Returns how many there were. The fields point into text. */
static inline size_t fuzz_fields(char *text, size_t size, const char **fields, size_t max)
{
    size_t n = 0, pos = 0;

    for (size_t i = 0; i < max; i++)
        fields[i] = NULL;
    while (n < max && pos <= size) {
        fields[n++] = text + pos;
        pos += strlen(text + pos) + 1;
    }
    return n;
}

/* 1 if s is printable ASCII (0x20-0x7e) up to its NUL. */
static inline int fuzz_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* 1 if a NUL ends s within size bytes. */
static inline int fuzz_terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

#endif
