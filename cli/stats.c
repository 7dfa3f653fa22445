/* SPDX-License-Identifier: MIT */
/*
 * stats - `tlsguard stats`: the numbers a postmaster wants before enforcing anything,
 * read from the database with prepared statements (read-only).
 */
#include "cli.h"

/* System. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQLite. */
#include <sqlite3.h>

/* Core. */
#include "policy/policy.h"

/* Daemon. */
#include "config/config.h"

/* ?1 is the start of the window: a modifier for datetime('now', ?1), e.g. "-7 days". */
#define SINCE_S "started_at >= datetime('now', ?1)"
#define SINCE_AT "at >= datetime('now', ?1)"

static const struct section {
    const char *title;
    const char *sql;
    const char *columns; /* column names, space-separated, one per result column */
} sections[] = {
    {"sessions", "SELECT count(*), count(tls_version),"
                 " printf('%.1f%%', 100.0 * count(tls_version) / max(count(*), 1)),"
                 " coalesce(sum(messages), 0) FROM sessions WHERE " SINCE_S,
     "sessions with_tls tls_share messages"},
    {"by protocol version", "SELECT coalesce(tls_version, 'none'), count(*),"
                            " printf('%.1f%%', 100.0 * count(*) / (SELECT max(count(*), 1)"
                            " FROM sessions WHERE " SINCE_S "))"
                            " FROM sessions WHERE " SINCE_S " GROUP BY 1 ORDER BY 2 DESC, 1",
     "version sessions share"},
    {"by cipher (top 10)", "SELECT cipher, coalesce(cipher_bits, '?'), count(*) FROM sessions"
                           " WHERE tls_version IS NOT NULL AND " SINCE_S
                           " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
     "cipher bits sessions"},
    {"policy hits (top 10)", "SELECT coalesce(rule, '-'), action, count(*) FROM policy_hits"
                             " WHERE " SINCE_AT " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
     "rule action hits"},
    {"plaintext peers (top 10)", "SELECT coalesce(client_addr, '?'), coalesce(client_name, '?'),"
                                 " count(*) FROM sessions WHERE tls_version IS NULL AND " SINCE_S
                                 " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10",
     "client_addr client_name sessions"},
};

#define STATS_COLS 4
#define STATS_ROWS 64
#define STATS_CELL 128

static void print_row(char cells[][STATS_CELL], const int *width, int ncol)
{
    printf(" ");
    for (int i = 0; i < ncol; i++)
        printf(" %-*s", i + 1 < ncol ? width[i] : 0, cells[i]);
    printf("\n");
}

/* Runs one section's query and prints it as an aligned table. */
static int print_section(sqlite3 *db, const struct section *sec, const char *since)
{
    static char cells[STATS_ROWS + 1][STATS_COLS][STATS_CELL];
    int width[STATS_COLS] = {0}, ncol = 0, nrow = 1, rc;
    sqlite3_stmt *st;
    char *save = NULL, header[256];

    if (sqlite3_prepare_v2(db, sec->sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    snprintf(header, sizeof header, "%s", sec->columns);
    for (char *t = strtok_r(header, " ", &save); t && ncol < STATS_COLS; t = strtok_r(NULL, " ", &save))
        snprintf(cells[0][ncol++], STATS_CELL, "%s", t);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && nrow <= STATS_ROWS) {
        for (int i = 0; i < ncol; i++) {
            policy_sanitize((const char *)sqlite3_column_text(st, i), cells[nrow][i], STATS_CELL);
            if (!cells[nrow][i][0])
                snprintf(cells[nrow][i], STATS_CELL, "-");
        }
        nrow++;
    }
    for (int r = 0; r < nrow; r++)
        for (int i = 0; i < ncol; i++)
            if ((int)strlen(cells[r][i]) > width[i])
                width[i] = (int)strlen(cells[r][i]);
    printf("\n%s:\n", sec->title);
    for (int r = 0; r < nrow; r++)
        print_row(cells[r], width, ncol);
    if (nrow == 1)
        printf("  (none)\n");
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        fprintf(stderr, "tlsguard stats: %s: %s\n", sec->title, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * --json and --prometheus: every row of the same numbers (no top-10 cut but for the
 * plaintext peers, whose addresses are unbounded), written to a memory buffer first so that
 * a failing query never leaves half a document on stdout.
 */

/* The same windows; the rows are ordered completely, so equal data gives equal output. */
#define Q_TOTALS "SELECT count(*), count(tls_version), coalesce(sum(messages), 0)," \
                 " (SELECT count(DISTINCT client_addr) FROM sessions" \
                 "   WHERE tls_version IS NULL AND " SINCE_S ")" \
                 " FROM sessions WHERE " SINCE_S
#define Q_VERSIONS "SELECT coalesce(tls_version, 'none'), count(*) FROM sessions" \
                   " WHERE " SINCE_S " GROUP BY 1 ORDER BY 2 DESC, 1"
#define Q_CIPHERS "SELECT cipher, cipher_bits, count(*) FROM sessions" \
                  " WHERE tls_version IS NOT NULL AND " SINCE_S \
                  " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
#define Q_HITS "SELECT coalesce(rule, '-'), action, count(*) FROM policy_hits" \
               " WHERE " SINCE_AT " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
#define Q_PEERS "SELECT client_addr, client_name, count(*) FROM sessions" \
                " WHERE tls_version IS NULL AND " SINCE_S \
                " GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 10"
/* Rows (side, verdict, action, count), sender side first. */
#define Q_DECISIONS "SELECT 'sender', verdict, action, count(*) FROM messages" \
                    " WHERE " SINCE_AT " GROUP BY 2, 3" \
                    " UNION ALL SELECT 'rcpt', verdict, action, count(*) FROM recipients" \
                    " WHERE " SINCE_AT " GROUP BY 2, 3 ORDER BY 1 DESC, 2, 3"
/* Rows (KEY, count) of one side: messages (sender) or recipients (rcpt), KEY = verdict or
 * action. */
#define Q_COUNT(table, col) "SELECT coalesce(" col ", '-'), count(*) FROM " table \
                            " WHERE " SINCE_AT " GROUP BY 1 ORDER BY 1"

typedef void (*row_fn)(sqlite3_stmt *st, FILE *out, void *arg, int row);

/* Runs one query with ?1 = since and calls fn for each row (row counts from 0). Returns the
 * number of rows, or -1 after printing the error. */
static int each_row(sqlite3 *db, const char *sql, const char *since, row_fn fn, FILE *out,
                    void *arg)
{
    sqlite3_stmt *st;
    int rc, row = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "tlsguard stats: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_text(st, 1, since, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(st, out, arg, row++);
    if (rc != SQLITE_DONE)
        fprintf(stderr, "tlsguard stats: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? row : -1;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if there is none. */
static int utf8_len(const unsigned char *p)
{
    int n;
    unsigned min;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, min = 0x80, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, min = 0x800, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, min = 0x10000, cp = p[0] & 0x07;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/*
 * Writes s with the escapes of the format: in JSON '"', '\' and every control character;
 * in a Prometheus label value '"', '\' and newline (the only escapes the text format has).
 * Bytes that are not UTF-8 (both formats require it) become U+FFFD.
 */
static void put_escaped(FILE *out, const char *s, int json)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        int n = utf8_len(p);

        if (n == 0) {
            fputs("\xef\xbf\xbd", out);
            p++;
        } else if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p++);
        } else if (*p == '\n') {
            fputs("\\n", out);
            p++;
        } else if (json && *p < 0x20) {
            fprintf(out, "\\u%04x", *p++);
        } else {
            fwrite(p, 1, (size_t)n, out);
            p += n;
        }
    }
}

/* A JSON string, or null for SQL NULL. */
static void json_str(FILE *out, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    put_escaped(out, (const char *)sqlite3_column_text(st, col), 1);
    putc('"', out);
}

/* A JSON integer, or null for SQL NULL. */
static void json_int(FILE *out, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        fputs("null", out);
    else
        fprintf(out, "%lld", (long long)sqlite3_column_int64(st, col));
}

/* Array elements: {"NAME0": col0, ...}; arg is the NULL-terminated list of names, each
 * "s:NAME" (string) or "i:NAME" (integer). */
static void json_element(sqlite3_stmt *st, FILE *out, void *arg, int row)
{
    const char *const *names = arg;

    fprintf(out, "%s\n    {", row ? "," : "");
    for (int i = 0; names[i]; i++) {
        fprintf(out, "%s\"%s\": ", i ? ", " : "", names[i] + 2);
        if (names[i][0] == 's')
            json_str(out, st, i);
        else
            json_int(out, st, i);
    }
    putc('}', out);
}

static int json_array(sqlite3 *db, FILE *out, const char *key, const char *sql,
                      const char *since, const char *const *names)
{
    int n;

    fprintf(out, ",\n  \"%s\": [", key);
    n = each_row(db, sql, since, json_element, out, (void *)names);
    fputs(n > 0 ? "\n  ]" : "]", out);
    return n < 0;
}

/* Object members "KEY": count, from rows (KEY, count). */
static void json_member(sqlite3_stmt *st, FILE *out, void *arg, int row)
{
    if (row)
        fputs(", ", out);
    json_str(out, st, 0);
    fputs(": ", out);
    json_int(out, st, 1);
}

/* "key": {"sender": {...}, "rcpt": {...}} for col = verdict or action. */
static int json_by_side(sqlite3 *db, FILE *out, const char *key, const char *sender_sql,
                        const char *rcpt_sql, const char *since)
{
    int rc = 0;

    fprintf(out, ",\n  \"%s\": {\n    \"sender\": {", key);
    rc |= each_row(db, sender_sql, since, json_member, out, NULL) < 0;
    fputs("},\n    \"rcpt\": {", out);
    rc |= each_row(db, rcpt_sql, since, json_member, out, NULL) < 0;
    fputs("}\n  }", out);
    return rc;
}

struct totals {
    long long sessions, with_tls, messages, plaintext_peers;
};

static void totals_row(sqlite3_stmt *st, FILE *out, void *arg, int row)
{
    struct totals *t = arg;

    t->sessions = sqlite3_column_int64(st, 0);
    t->with_tls = sqlite3_column_int64(st, 1);
    t->messages = sqlite3_column_int64(st, 2);
    t->plaintext_peers = sqlite3_column_int64(st, 3);
}

/* The share of sessions with TLS, 0..1 (printed with 4 places); 0 without sessions. */
static double tls_share(const struct totals *t)
{
    return t->sessions ? (double)t->with_tls / (double)t->sessions : 0.0;
}

static int write_json(sqlite3 *db, FILE *out, const char *path, const char *since, long days)
{
    static const char *const versions[] = {"s:version", "i:sessions", NULL};
    static const char *const ciphers[] = {"s:cipher", "i:bits", "i:sessions", NULL};
    static const char *const hits[] = {"s:rule", "s:action", "i:hits", NULL};
    static const char *const peers[] = {"s:client_addr", "s:client_name", "i:sessions", NULL};
    struct totals t = {0};
    int rc = 0;

    rc |= each_row(db, Q_TOTALS, since, totals_row, out, &t) < 0;
    fputs("{\n  \"database\": \"", out);
    put_escaped(out, path, 1);
    fputs("\",\n  \"since_days\": ", out);
    if (days)
        fprintf(out, "%ld", days);
    else
        fputs("null", out);
    fprintf(out, ",\n  \"sessions\": %lld,\n  \"with_tls\": %lld,\n  \"tls_share\": %.4f,"
                 "\n  \"messages\": %lld,\n  \"plaintext_peer_count\": %lld",
            t.sessions, t.with_tls, tls_share(&t), t.messages, t.plaintext_peers);
    rc |= json_array(db, out, "by_version", Q_VERSIONS, since, versions);
    rc |= json_array(db, out, "by_cipher", Q_CIPHERS, since, ciphers);
    rc |= json_array(db, out, "policy_hits", Q_HITS, since, hits);
    rc |= json_array(db, out, "plaintext_peers", Q_PEERS, since, peers);
    rc |= json_by_side(db, out, "verdicts", Q_COUNT("messages", "verdict"),
                       Q_COUNT("recipients", "verdict"), since);
    rc |= json_by_side(db, out, "actions", Q_COUNT("messages", "action"),
                       Q_COUNT("recipients", "action"), since);
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
static void prom_sample(sqlite3_stmt *st, FILE *out, void *arg, int row)
{
    const char *const *names = arg;
    int i;

    fputs(names[0], out);
    for (i = 1; names[i]; i++) {
        const char *v = (const char *)sqlite3_column_text(st, i - 1);

        fprintf(out, "%s%s=\"", i == 1 ? "{" : ",", names[i]);
        put_escaped(out, v ? v : "unknown", 0);
        putc('"', out);
    }
    fprintf(out, "%s %lld\n", i > 1 ? "}" : "", (long long)sqlite3_column_int64(st, i - 1));
}

static int write_prometheus(sqlite3 *db, FILE *out, const char *since, int monotonic)
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

    rc |= each_row(db, Q_TOTALS, since, totals_row, out, &t) < 0;
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
    rc |= each_row(db, Q_VERSIONS, since, prom_sample, out, (void *)versions) < 0;
    prom_head(out, ciphers[0], counter, "SMTP sessions with TLS by cipher and key size.");
    rc |= each_row(db, Q_CIPHERS, since, prom_sample, out, (void *)ciphers) < 0;
    prom_head(out, decisions[0], counter,
              "Policy decisions by side (sender: per transaction, rcpt: per recipient), "
              "verdict and action.");
    rc |= each_row(db, Q_DECISIONS, since, prom_sample, out, (void *)decisions) < 0;
    prom_head(out, hits[0], counter, "Failed requirements by rule and action.");
    rc |= each_row(db, Q_HITS, since, prom_sample, out, (void *)hits) < 0;
    return rc;
}

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

/* Writes the JSON or Prometheus document to stdout if every query succeeded. */
static int print_machine(sqlite3 *db, enum format fmt, const char *path, const char *since,
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
    sqlite3 *db = NULL;
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
    sqlite3_close(db);
    config_clear(&cfg);
    return rc;

usage:
    fprintf(stderr, "usage: tlsguard stats [-c FILE] [--since DAYS] [--json | --prometheus]\n");
    return 1;
}
