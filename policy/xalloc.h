/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_XALLOC_H
#define TLSGUARD_XALLOC_H

/*
 * xalloc - allocation that either succeeds or does not return (as Postfix mymalloc).
 * Out of memory is one of the two fatal cases in tlsguard: the process logs to stderr and
 * aborts, and the MTA applies milter_default_action. What they return is the caller's, freed
 * with free(). Thread-safe as malloc() is.
 */

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
