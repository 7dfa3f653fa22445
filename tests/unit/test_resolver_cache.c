/* SPDX-License-Identifier: MIT */
/* Unit test of the DNS cache's bound (dns/resolver.c) with a real libunbound context that
 * answers from a local zone only (nothing leaves the machine): thousands of distinct names
 * keep the cache at dns_cache_max, the most recently asked stay cached, the oldest go. */
#include "dns/resolver.h"
#include "unit.h"

/* libc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAMES 20000
#define CACHE_MAX 100

static const resolver_answer *ask(const char *name)
{
    struct timespec d = resolver_deadline(5000);

    return resolver_query(name, RR_A, &d);
}

int main(void)
{
    char conf[] = "/tmp/test_resolver_cache.XXXXXX", name[64], err[600];
    resolver_config cfg = {.unbound_conf = conf, .forwarder = "127.0.0.1@1", .cache_max = CACHE_MAX};
    const resolver_answer *first, *last = NULL, *again;
    long over = 0, bad = 0;
    FILE *fp;
    int fd;

    /* Every name under test. has an A record with a TTL of an hour, answered locally. */
    if ((fd = mkstemp(conf)) < 0 || !(fp = fdopen(fd, "w"))) {
        perror("mkstemp");
        return 1;
    }
    fputs("server:\n  local-zone: \"test.\" redirect\n"
          "  local-data: \"test. 3600 IN A 192.0.2.1\"\n", fp);
    fclose(fp);
    if (resolver_init(&cfg, err, sizeof err) != 0) {
        unit_str("init", "error", err, "");
        unlink(conf);
        return unit_report("test_resolver_cache");
    }

    first = ask("n0.test");
    unit_int("first name", "answered with data", first->lk.status, DANE_LOOKUP_DATA);
    for (int i = 1; i < NAMES; i++) {
        snprintf(name, sizeof name, "n%d.test", i);
        resolver_release(last);
        last = ask(name);
        bad += last->lk.status != DANE_LOOKUP_DATA;
        over += resolver_cache_count() > CACHE_MAX;
    }
    unit_int("20,000 names", "answers without data", bad, 0);
    unit_int("20,000 names", "times above dns_cache_max", over, 0);
    unit_int("20,000 names", "cached entries", (long)resolver_cache_count(), CACHE_MAX);
    /* An answer still cached comes back as the same answer; we hold `first` and `last`, so a
     * new answer cannot reuse their memory. */
    again = ask(name);
    unit_int("the newest name", "served from the cache", again == last, 1);
    resolver_release(again);
    again = ask("N0.TEST");
    unit_int("the first name", "forgotten: asked again", again != first, 1);
    unit_int("the first name", "answered with data", again->lk.status, DANE_LOOKUP_DATA);
    resolver_release(again);
    resolver_release(first);
    resolver_release(last);
    resolver_shutdown();
    unlink(conf);
    return unit_report("test_resolver_cache");
}
