/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config - the tlsguard.conf parser (operator text): config_parse_text() on the input
 * as a whole file, then config_print() of what was understood. Checks: the result agrees
 * with the error count; every diagnostic is printable (values are sanitised before they
 * are quoted) and names the file; a configuration that loads keeps every value in the range
 * of the option table (config/config.c) and prints as `key = value` lines.
 */
#include "fuzz.h"

/* Daemon. */
#include "config/config.h"

static void emit(void *arg, const char *line)
{
    unsigned *lines = arg;

    FUZZ_CHECK(strstr(line, " = ") != NULL);
    ++*lines;
}

static void check_ranges(const tlsg_config *c)
{
    FUZZ_CHECK(c->socket && c->database && c->path == NULL);
    FUZZ_CHECK(c->monitor == 0 || c->monitor == 1);
    FUZZ_CHECK(c->default_action == POLICY_ACTION_DEFER ||
               c->default_action == POLICY_ACTION_REJECT);
    FUZZ_CHECK(c->db_queue_max >= 100 && c->db_queue_max <= 10000000);
    FUZZ_CHECK(c->drain_timeout >= 0 && c->drain_timeout <= 3600);
    FUZZ_CHECK(c->dns_timeout >= 1 && c->dns_timeout <= 25);
    FUZZ_CHECK(c->dns_cache_max >= 100 && c->dns_cache_max <= 10000000);
    FUZZ_CHECK(c->retention_days >= 0 && c->retention_days <= 36500);
    FUZZ_CHECK(c->downgrade_min_sessions >= 1 && c->downgrade_min_sessions <= 100);
    FUZZ_CHECK(c->downgrade_window >= 1 && c->downgrade_window <= 3650L * 86400);
    FUZZ_CHECK(c->peers_max >= 100 && c->peers_max <= 100000000);
    FUZZ_CHECK(c->max_sessions >= 1 && c->max_sessions <= 100000);
    FUZZ_CHECK(c->database[0] == '/');
    FUZZ_CHECK(!c->policy_path || c->policy_path[0] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exact size, no NUL after it: the parser is given a length, and must keep to it. */
    char *text = fuzz_copy(data, size);
    policy_diag diag = {0};
    tlsg_config cfg;
    int rc;

    rc = config_parse_text(text, size, "fuzz.conf", &cfg, &diag);
    FUZZ_CHECK((rc == 0) == (diag.errors == 0));
    for (size_t i = 0; i < diag.n; i++) {
        FUZZ_CHECK(strncmp(diag.msgs[i], "fuzz.conf:", 10) == 0);
        FUZZ_CHECK(fuzz_printable(diag.msgs[i]));
    }
    if (rc == 0) {
        unsigned lines = 0;

        check_ranges(&cfg);
        config_print(&cfg, emit, &lines);
        FUZZ_CHECK(lines > 0);
        config_clear(&cfg);
    } else {
        FUZZ_CHECK(cfg.socket == NULL && cfg.database == NULL); /* cleared on failure */
    }
    policy_diag_free(&diag);
    free(text);
    return 0;
}
