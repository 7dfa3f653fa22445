/* SPDX-License-Identifier: MIT */
/*
 * stats - `tlsguard stats`: the numbers a postmaster wants before enforcing anything,
 * read from the database through store/query.h (read-only).
 */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Core. */
#include "policy/policy.h"

/* Daemon. */
#include "config/config.h"
#include "store/query.h"
#include "util/json.h"

static const struct section {
    const char *title;
    query_stats_id query;
    const char *columns; /* column names, space-separated, one per result column */
} sections[] = {
    {"sessions", QUERY_TEXT_SESSIONS, "sessions with_tls tls_share messages"},
    {"by protocol version", QUERY_TEXT_VERSIONS, "version sessions share"},
    {"by cipher (top 10)", QUERY_TEXT_CIPHERS, "cipher bits sessions"},
    {"policy hits (top 10)", QUERY_TEXT_HITS, "rule action hits"},
    {"plaintext peers (top 10)", QUERY_TEXT_PLAINTEXT, "client_addr client_name sessions"},
};

#define STATS_COLS 4
#define STATS_ROWS 64
#define STATS_CELL 128

/* A section's table: row 0 the column names, then up to STATS_ROWS rows. */
static struct table {
    char cells[STATS_ROWS + 1][STATS_COLS][STATS_CELL];
    int ncol, nrow, prepared;
} table;

static void print_row(char cells[][STATS_CELL], const int *width, int ncol)
{
    printf(" ");
    for (int i = 0; i < ncol; i++)
        printf(" %-*s", i + 1 < ncol ? width[i] : 0, cells[i]);
    printf("\n");
}

/* Collects a row of the section's query; stops when the table is full. */
static int table_row(void *arg, const query_row *row)
{
    struct table *t = arg;

    if (!row) {
        t->prepared = 1;
        return 0;
    }
    if (t->nrow > STATS_ROWS)
        return 1;
    for (int i = 0; i < t->ncol; i++) {
        policy_sanitize(i < row->ncol ? row->text[i] : NULL, t->cells[t->nrow][i], STATS_CELL);
        if (!t->cells[t->nrow][i][0])
            snprintf(t->cells[t->nrow][i], STATS_CELL, "-");
    }
    t->nrow++;
    return 0;
}

/* Runs one section's query and prints it as an aligned table. */
static int print_section(query_db *db, const struct section *sec, const char *since)
{
    struct table *t = &table;
    int width[STATS_COLS] = {0};
    char *save = NULL, header[256], err[256];
    long n;

    t->ncol = 0;
    t->nrow = 1;
    t->prepared = 0;
    snprintf(header, sizeof header, "%s", sec->columns);
    for (char *w = strtok_r(header, " ", &save); w && t->ncol < STATS_COLS;
         w = strtok_r(NULL, " ", &save))
        snprintf(t->cells[0][t->ncol++], STATS_CELL, "%s", w);
    n = query_stats(db, sec->query, since, table_row, t, err, sizeof err);
    if (!t->prepared) {
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, err);
        return -1;
    }
    for (int r = 0; r < t->nrow; r++)
        for (int i = 0; i < t->ncol; i++)
            if ((int)strlen(t->cells[r][i]) > width[i])
                width[i] = (int)strlen(t->cells[r][i]);
    printf("\n%s:\n", sec->title);
    for (int r = 0; r < t->nrow; r++)
        print_row(t->cells[r], width, t->ncol);
    if (t->nrow == 1)
        printf("  (none)\n");
    if (n < 0)
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, err);
    return n < 0 ? -1 : 0;
}

/*
 * --json and --prometheus: every row of the same numbers (no top-10 cut but for the
 * plaintext peers, whose addresses are unbounded), written to a memory buffer first so that
 * a failing query never leaves half a document on stdout.
 */

typedef void (*row_fn)(const query_row *row, FILE *out, const void *arg);

struct each {
    row_fn fn;
    FILE *out;
    const void *arg;
};

static int each_cb(void *arg, const query_row *row)
{
    const struct each *e = arg;

    if (row)
        e->fn(row, e->out, e->arg);
    return 0;
}

/* Runs one statistic with `since` and calls fn for each row. Returns the number of rows, or
 * -1 after printing the error. */
static long each_row(query_db *db, query_stats_id q, const char *since, row_fn fn, FILE *out,
                     const void *arg)
{
    struct each e = {fn, out, arg};
    char err[256];
    long n = query_stats(db, q, since, each_cb, &e, err, sizeof err);

    if (n < 0)
        fprintf(stderr, "tlsguard stats: %s\n", err);
    return n;
}

/*
 * A Prometheus label value: '"', '\' and newline escaped (the only escapes the text format
 * has); bytes that are not UTF-8 (the format requires it) become U+FFFD, as in JSON.
 */
static void prom_label(FILE *out, const char *s)
{
    while (*s) {
        int n = json_utf8_len(s);

        if (n == 0) {
            fputs(JSON_REPLACEMENT, out);
            n = 1;
        } else if (*s == '"' || *s == '\\') {
            fprintf(out, "\\%c", *s);
        } else if (*s == '\n') {
            fputs("\\n", out);
        } else {
            fwrite(s, 1, (size_t)n, out);
        }
        s += n;
    }
}

/* A JSON integer, or null for SQL NULL. */
static void json_int(FILE *out, const query_row *row, int col)
{
    if (!row->text[col])
        fputs("null", out);
    else
        fprintf(out, "%lld", row->num[col]);
}

/* Array elements: {"NAME0": col0, ...}; arg is the NULL-terminated list of names, each
 * "s:NAME" (string) or "i:NAME" (integer). */
static void json_element(const query_row *row, FILE *out, const void *arg)
{
    const char *const *names = arg;

    fprintf(out, "%s\n    {", row->index ? "," : "");
    for (int i = 0; names[i]; i++) {
        fprintf(out, "%s\"%s\": ", i ? ", " : "", names[i] + 2);
        if (names[i][0] == 's')
            json_string(out, row->text[i]);
        else
            json_int(out, row, i);
    }
    putc('}', out);
}

static int json_array(query_db *db, FILE *out, const char *key, query_stats_id q,
                      const char *since, const char *const *names)
{
    long n;

    fprintf(out, ",\n  \"%s\": [", key);
    n = each_row(db, q, since, json_element, out, names);
    fputs(n > 0 ? "\n  ]" : "]", out);
    return n < 0;
}

/* Object members "KEY": count, from rows (KEY, count). */
static void json_member(const query_row *row, FILE *out, const void *arg)
{
    (void)arg;
    if (row->index)
        fputs(", ", out);
    json_string(out, row->text[0]);
    fputs(": ", out);
    json_int(out, row, 1);
}

/* "key": {"sender": {...}, "rcpt": {...}} for col = verdict or action. */
static int json_by_side(query_db *db, FILE *out, const char *key, query_stats_id sender_q,
                        query_stats_id rcpt_q, const char *since)
{
    int rc = 0;

    fprintf(out, ",\n  \"%s\": {\n    \"sender\": {", key);
    rc |= each_row(db, sender_q, since, json_member, out, NULL) < 0;
    fputs("},\n    \"rcpt\": {", out);
    rc |= each_row(db, rcpt_q, since, json_member, out, NULL) < 0;
    fputs("}\n  }", out);
    return rc;
}

struct totals {
    long long sessions, with_tls, messages, plaintext_peers;
};

static void totals_row(const query_row *row, FILE *out, const void *arg)
{
    struct totals *t = (struct totals *)arg;

    (void)out;
    t->sessions = row->num[0];
    t->with_tls = row->num[1];
    t->messages = row->num[2];
    t->plaintext_peers = row->num[3];
}

/* The share of sessions with TLS, 0..1 (printed with 4 places); 0 without sessions. */
static double tls_share(const struct totals *t)
{
    return t->sessions ? (double)t->with_tls / (double)t->sessions : 0.0;
}

static int write_json(query_db *db, FILE *out, const char *path, const char *since, long days)
{
    static const char *const versions[] = {"s:version", "i:sessions", NULL};
    static const char *const ciphers[] = {"s:cipher", "i:bits", "i:sessions", NULL};
    static const char *const hits[] = {"s:rule", "s:action", "i:hits", NULL};
    static const char *const peers[] = {"s:client_addr", "s:client_name", "i:sessions", NULL};
    struct totals t = {0};
    int rc = 0;

    rc |= each_row(db, QUERY_TOTALS, since, totals_row, out, &t) < 0;
    fputs("{\n  \"database\": ", out);
    json_string(out, path);
    fputs(",\n  \"since_days\": ", out);
    if (days)
        fprintf(out, "%ld", days);
    else
        fputs("null", out);
    fprintf(out, ",\n  \"sessions\": %lld,\n  \"with_tls\": %lld,\n  \"tls_share\": %.4f,"
                 "\n  \"messages\": %lld,\n  \"plaintext_peer_count\": %lld",
            t.sessions, t.with_tls, tls_share(&t), t.messages, t.plaintext_peers);
    rc |= json_array(db, out, "by_version", QUERY_VERSIONS, since, versions);
    rc |= json_array(db, out, "by_cipher", QUERY_CIPHERS, since, ciphers);
    rc |= json_array(db, out, "policy_hits", QUERY_HITS, since, hits);
    rc |= json_array(db, out, "plaintext_peers", QUERY_PLAINTEXT, since, peers);
    rc |= json_by_side(db, out, "verdicts", QUERY_SENDER_VERDICTS, QUERY_RCPT_VERDICTS, since);
    rc |= json_by_side(db, out, "actions", QUERY_SENDER_ACTIONS, QUERY_RCPT_ACTIONS, since);
    fputs("\n}\n", out);
    return rc;
}

/* Prometheus: "# HELP"/"# TYPE" lines, then one sample per row. */
static void prom_head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample per row: the metric name, labels from the first columns (arg: the metric name,
 * then the label names, NULL-terminated), the value from the column after them. NULL
 * labels are "unknown". */
static void prom_sample(const query_row *row, FILE *out, const void *arg)
{
    const char *const *names = arg;
    int i;

    fputs(names[0], out);
    for (i = 1; names[i]; i++) {
        const char *v = row->text[i - 1];

        fprintf(out, "%s%s=\"", i == 1 ? "{" : ",", names[i]);
        prom_label(out, v ? v : "unknown");
        putc('"', out);
    }
    fprintf(out, "%s %lld\n", i > 1 ? "}" : "", row->num[i - 1]);
}

static int write_prometheus(query_db *db, FILE *out, const char *since, int monotonic)
{
    static const char *const versions[] = {"tlsguard_sessions_by_version_total", "version", NULL};
    static const char *const ciphers[] = {"tlsguard_sessions_by_cipher_total", "cipher", "bits",
                                          NULL};
    static const char *const decisions[] = {"tlsguard_decisions_total", "side", "verdict",
                                            "action", NULL};
    static const char *const hits[] = {"tlsguard_policy_hits_total", "rule", "action", NULL};
    /* Counters only when the numbers can never fall: over all records with nothing ever
     * pruned. Over a --since window, or with retention pruning old rows, they fall too, and
     * Prometheus would read each fall as a counter reset: gauges. */
    const char *counter = monotonic ? "counter" : "gauge";
    struct totals t = {0};
    int rc = 0;

    rc |= each_row(db, QUERY_TOTALS, since, totals_row, out, &t) < 0;
    prom_head(out, "tlsguard_sessions_total", counter, "SMTP sessions recorded.");
    fprintf(out, "tlsguard_sessions_total %lld\n", t.sessions);
    prom_head(out, "tlsguard_sessions_tls_total", counter, "SMTP sessions that used TLS.");
    fprintf(out, "tlsguard_sessions_tls_total %lld\n", t.with_tls);
    prom_head(out, "tlsguard_sessions_tls_ratio", "gauge",
              "Share of SMTP sessions that used TLS (0 to 1).");
    fprintf(out, "tlsguard_sessions_tls_ratio %.4f\n", tls_share(&t));
    prom_head(out, "tlsguard_messages_total", counter, "Transactions (MAIL FROM) recorded.");
    fprintf(out, "tlsguard_messages_total %lld\n", t.messages);
    prom_head(out, "tlsguard_plaintext_peers", "gauge",
              "Client addresses with SMTP sessions without TLS.");
    fprintf(out, "tlsguard_plaintext_peers %lld\n", t.plaintext_peers);
    prom_head(out, versions[0], counter, "SMTP sessions by TLS protocol version (none: no TLS).");
    rc |= each_row(db, QUERY_VERSIONS, since, prom_sample, out, versions) < 0;
    prom_head(out, ciphers[0], counter, "SMTP sessions with TLS by cipher and key size.");
    rc |= each_row(db, QUERY_CIPHERS, since, prom_sample, out, ciphers) < 0;
    prom_head(out, decisions[0], counter,
              "Policy decisions by side (sender: per transaction, rcpt: per recipient), "
              "verdict and action.");
    rc |= each_row(db, QUERY_DECISIONS, since, prom_sample, out, decisions) < 0;
    prom_head(out, hits[0], counter, "Failed requirements by rule and action.");
    rc |= each_row(db, QUERY_HITS, since, prom_sample, out, hits) < 0;
    return rc;
}

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

/* Writes the JSON or Prometheus document to stdout if every query succeeded. */
static int print_machine(query_db *db, enum format fmt, const char *path, const char *since,
                         long days, int monotonic)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int rc;

    if (!out) {
        perror("tlsguard stats");
        return 2;
    }
    if (fmt == FORMAT_JSON)
        rc = write_json(db, out, path, since, days);
    else
        rc = write_prometheus(db, out, since, monotonic);
    if (fclose(out) != 0)
        rc = -1;
    if (rc == 0)
        fwrite(buf, 1, len, stdout);
    free(buf);
    return rc == 0 ? 0 : 2;
}

int cli_stats(int argc, char **argv)
{
    const char *path = NULL;
    char since[64] = "-100 years", *end;
    long days = 0;
    enum format fmt = FORMAT_TEXT;
    tlsg_config cfg;
    query_db *db = NULL;
    int opt, rc = 0;

    static const struct option longopts[] = {
        {"since", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"prometheus", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:", longopts, NULL)) != -1) {
        if (opt == 'c')
            path = optarg;
        else if (opt == 'd' && (days = strtol(optarg, &end, 10)) > 0 && days <= 36500 && !*end)
            snprintf(since, sizeof since, "-%ld days", days);
        else if ((opt == 'j' || opt == 'p') && fmt == FORMAT_TEXT)
            fmt = opt == 'j' ? FORMAT_JSON : FORMAT_PROMETHEUS;
        else
            goto usage;
    }
    if (optind < argc)
        goto usage;
    if ((rc = cli_open_database("stats", path, &cfg, &db)) != 0)
        return rc;
    if (fmt != FORMAT_TEXT) {
        rc = print_machine(db, fmt, cfg.database, since, days,
                           days == 0 && cfg.retention_days == 0);
    } else {
        printf("tlsguard statistics from %s (%s)\n", cfg.database,
               days ? since + 1 : "all records");
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
            if (print_section(db, &sections[i], since) != 0)
                rc = 2;
    }
    query_close(db);
    config_clear(&cfg);
    return rc;

usage:
    fprintf(stderr, "usage: tlsguard stats [-c FILE] [--since DAYS] [--json | --prometheus]\n");
    return 1;
}
