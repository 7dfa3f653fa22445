/* SPDX-License-Identifier: MIT */
#include "recorder.h"

/* System. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* SQLite. */
#include <sqlite3.h>

/* Core. */
#include "policy/xalloc.h"

/* Daemon. */
#include "util/log.h"
#include "schema.h"

#define BATCH_MAX 5000
#define BACKOFF_MAX_MS 8000
/*
 * Group commit: the writer waits up to LINGER_MS after the oldest queued record, or until
 * LINGER_RECORDS are queued, before one transaction. A commit has a fixed price (WAL frames,
 * locks, a futex wake-up); at a real server's pace the writer would otherwise commit 1-5
 * records at a time, several transactions per message. 100 ms keeps records durable well
 * within the second the header promises.
 */
#define LINGER_MS 100
#define LINGER_RECORDS 1000

enum {
    ST_SESSION, ST_MESSAGE, ST_RCPT, ST_PRUNE_RCPT, ST_PRUNE_MSG, ST_PRUNE_SESSION,
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_COUNT
};

/* Sessions pruned per transaction, so that records waiting to be written never wait long. */
#define PRUNE_BATCH "500"
#define PRUNE_SET "SELECT id FROM sessions WHERE started_at < ?1 ORDER BY started_at LIMIT " PRUNE_BATCH
#define PRUNE_EVERY 3600 /* seconds between two pruning runs */
#define VACUUM_STR "1000" /* pages freed per step */

static const char *const statements[ST_COUNT] = {
    [ST_SESSION] =
        "INSERT INTO sessions(id, started_at, ended_at, client_addr, client_port, client_name,"
        " helo, tls_version, cipher, cipher_bits, cert_subject, cert_issuer, cert_verified,"
        " messages, peer, cert_fp) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
        " ON CONFLICT(id) DO UPDATE SET ended_at = excluded.ended_at,"
        " client_name = excluded.client_name, helo = excluded.helo,"
        " tls_version = excluded.tls_version, cipher = excluded.cipher,"
        " cipher_bits = excluded.cipher_bits, cert_subject = excluded.cert_subject,"
        " cert_issuer = excluded.cert_issuer, cert_verified = excluded.cert_verified,"
        " messages = excluded.messages, cert_fp = excluded.cert_fp",
    [ST_MESSAGE] =
        "INSERT INTO messages(id, session_id, at, queue_id, mail_from, rule, level, verdict,"
        " reason, action, outcome) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
        " ON CONFLICT(id) DO UPDATE SET queue_id = coalesce(excluded.queue_id, queue_id),"
        " outcome = excluded.outcome",
    [ST_RCPT] = "INSERT INTO recipients(message_id, at, rcpt, rule, level, verdict, reason,"
                " action, dane) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    /* The same batch of old sessions, its recipients and messages first. */
    [ST_PRUNE_RCPT] = "DELETE FROM recipients WHERE message_id IN (SELECT id FROM messages"
                      " WHERE session_id IN (" PRUNE_SET "))",
    [ST_PRUNE_MSG] = "DELETE FROM messages WHERE session_id IN (" PRUNE_SET ")",
    [ST_PRUNE_SESSION] = "DELETE FROM sessions WHERE id IN (" PRUNE_SET ")",
    /* Prepared once: sqlite3_exec would parse them for every transaction. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static struct {
    sqlite3 *db; /* writer thread only once started; NULL while closed after an error */
    char path[4096];
    sqlite3_stmt *st[ST_COUNT];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rec *head, *tail; /* guarded by lock */
    long count, max;  /* guarded by lock */
    unsigned long dropped; /* guarded by lock */
    int stop;              /* guarded by lock */
    time_t deadline;       /* guarded by lock */
    struct timespec first_put; /* guarded by lock: when the queue last became non-empty */
    pthread_t thread;
    int running;
    atomic_int healthy;
    atomic_llong next_session, next_message;
    atomic_long retention_days; /* 0: keep everything */
    time_t last_prune;          /* writer thread only, as the two below */
    char prune_cutoff[24];      /* "" unless a pruning run is in progress */
    long prune_total;
    int vacuuming;              /* the run has pruned; free pages are being given back */
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .healthy = 1};

void recorder_now(char *buf, unsigned size)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d.%03ld", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

rec *rec_new(rec_kind kind)
{
    rec *r = xcalloc(1, sizeof *r);

    r->kind = kind;
    r->client_port = -1;
    r->cipher_bits = -1;
    r->cert_verified = -1;
    return r;
}

rec *rec_free(rec *r)
{
    if (!r)
        return NULL;
    free(r->at);
    free(r->ended_at);
    free(r->client_addr);
    free(r->client_name);
    free(r->helo);
    free(r->tls_version);
    free(r->cipher);
    free(r->cert_subject);
    free(r->cert_issuer);
    free(r->cert_fp);
    free(r->queue_id);
    free(r->addr);
    free(r->rule);
    free(r->level);
    free(r->verdict);
    free(r->reason);
    free(r->action);
    free(r->outcome);
    free(r->dane);
    free(r->peer);
    free(r);
    return NULL;
}

static int exec_sql(const char *sql, char *err, size_t errsize)
{
    char *msg = NULL;

    if (sqlite3_exec(R.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errsize, "%s", msg ? msg : sqlite3_errmsg(R.db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int64_t max_id(const char *table)
{
    char sql[64];
    sqlite3_stmt *st;
    int64_t id = 0;

    snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) FROM %s", table);
    if (sqlite3_prepare_v2(R.db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return id;
}

static int migrate(const char *path, char *err, size_t errsize)
{
    sqlite3_stmt *st;
    int version = 0;
    char e[512];

    if (sqlite3_prepare_v2(R.db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "%s: %s", path, sqlite3_errmsg(R.db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > schema_version) {
        snprintf(err, errsize, "%s: database schema version %d is newer than this tlsguard (%d)",
                 path, version, schema_version);
        return -1;
    }
    for (; version < schema_version; version++) {
        char bump[64];

        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", version + 1);
        if (exec_sql("BEGIN IMMEDIATE", e, sizeof e) || exec_sql(schema_migrations[version], e, sizeof e) ||
            exec_sql(bump, e, sizeof e) || exec_sql("COMMIT", e, sizeof e)) {
            snprintf(err, errsize, "%s: migration %d failed: %s", path, version + 1, e);
            sqlite3_exec(R.db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        log_msg(LOG_INFO, "database %s migrated to schema version %d", path, version + 1);
    }
    return 0;
}

static void db_close(void)
{
    for (int i = 0; i < ST_COUNT; i++)
        R.st[i] = (sqlite3_finalize(R.st[i]), NULL);
    if (R.db) {
        sqlite3_close(R.db);
        R.db = NULL;
    }
}

/* Opens the database with `flags`, migrates it and prepares the statements. Returns 0, or
 * the SQLite error code with a message in err. */
static int db_open(const char *path, int flags, char *err, size_t errsize)
{
    char e[512];
    int rc;

    if (sqlite3_open_v2(path, &R.db, SQLITE_OPEN_READWRITE | flags, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "cannot open database %s: %s", path,
                 R.db ? sqlite3_errmsg(R.db) : "out of memory");
        rc = R.db ? sqlite3_errcode(R.db) : SQLITE_NOMEM;
        sqlite3_close(R.db);
        R.db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(R.db, 2000);
    /* WAL lets sqlite3 readers work while the daemon writes; NORMAL sync survives a crash
     * of tlsguard (only power loss can cost the last commits). */
    /* Freed pages go back to the file system in small steps after pruning (retention).
     * This takes effect only on a new database, and must come before WAL is chosen. */
    if (exec_sql("PRAGMA auto_vacuum = INCREMENTAL", e, sizeof e) ||
        exec_sql("PRAGMA journal_mode = WAL", e, sizeof e) ||
        exec_sql("PRAGMA synchronous = NORMAL", e, sizeof e)) {
        snprintf(err, errsize, "database %s: %s", path, e);
        goto fail;
    }
    if (migrate(path, err, errsize))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(R.db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &R.st[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errsize, "database %s: %s", path, sqlite3_errmsg(R.db));
            goto fail;
        }
    return 0;
fail:
    rc = sqlite3_errcode(R.db);
    db_close();
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
}

/*
 * Sessions still open in the database at start were open when an earlier run ended
 * without closing them (kill -9, a crash, power loss): no MTA connection of theirs can
 * still be alive, since the session ids are this daemon's own. They are closed with the
 * time of this start, an upper bound of their end. A failure (database locked past the
 * busy timeout, read-only) is logged and leaves them open; it does not stop the start.
 */
static void close_stale_sessions(void)
{
    sqlite3_stmt *st;
    char now[24];
    int rc;

    recorder_now(now, sizeof now);
    if (sqlite3_prepare_v2(R.db, "UPDATE sessions SET ended_at = ?1 WHERE ended_at IS NULL", -1, &st,
                           NULL) != SQLITE_OK) {
        log_msg(LOG_WARNING, "database %s: cannot close sessions left open: %s", R.path,
                sqlite3_errmsg(R.db));
        return;
    }
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        log_msg(LOG_WARNING, "database %s: cannot close sessions left open by an earlier run: %s",
                R.path, sqlite3_errmsg(R.db));
    else if (sqlite3_changes(R.db) > 0)
        log_msg(LOG_NOTICE,
                "database %s: closed %d sessions left open by an earlier run that did not stop "
                "cleanly (ended_at set to %s)",
                R.path, sqlite3_changes(R.db), now);
    sqlite3_finalize(st);
}

int recorder_open(const char *path, char *err, size_t errsize)
{
    if (db_open(path, SQLITE_OPEN_CREATE, err, errsize))
        return -1;
    snprintf(R.path, sizeof R.path, "%s", path);
    atomic_store(&R.next_session, max_id("sessions"));
    atomic_store(&R.next_message, max_id("messages"));
    close_stale_sessions();
    return 0;
}

/*
 * Errors after which the connection itself is suspect: I/O errors (the file system went
 * read-only under it, a disk error), read-only, cannot open. The writer closes it and opens
 * the file again before the next attempt, so that a database made writable again (file
 * system remounted, file replaced) is used: the open descriptors would keep the old state
 * forever. Not for busy, locked or full: those pass on the same connection.
 */
static int needs_reopen(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_IOERR || rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN;
}

/* Opens the database again without creating it (while a file system is being remounted,
 * the path may lead to an empty directory). Returns SQLITE_OK or the error code. */
static int db_reopen(void)
{
    char err[512];
    int rc;

    if (R.db)
        return SQLITE_OK;
    if ((rc = db_open(R.path, 0, err, sizeof err)) == 0)
        log_msg(LOG_DEBUG, "database %s opened again", R.path);
    else
        log_msg(LOG_DEBUG, "reopening the database failed: %s", err);
    return rc;
}

int64_t recorder_next_session_id(void)
{
    return atomic_fetch_add(&R.next_session, 1) + 1;
}

int64_t recorder_next_message_id(void)
{
    return atomic_fetch_add(&R.next_message, 1) + 1;
}

int recorder_healthy(void)
{
    return atomic_load(&R.healthy);
}

void recorder_put(rec *r)
{
    rec *old = NULL;
    unsigned long dropped = 0;
    int wake;

    pthread_mutex_lock(&R.lock);
    if (R.count >= R.max && R.head) {
        old = R.head;
        if (!(R.head = old->next))
            R.tail = NULL;
        R.count--;
        dropped = ++R.dropped;
    }
    r->next = NULL;
    wake = R.head == NULL;
    if (wake)
        clock_gettime(CLOCK_REALTIME, &R.first_put);
    if (R.tail)
        R.tail->next = r;
    else
        R.head = r;
    R.tail = r;
    R.count++;
    if (wake || R.count == LINGER_RECORDS)
        pthread_cond_signal(&R.cond);
    pthread_mutex_unlock(&R.lock);
    if (old) {
        rec_free(old);
        /* Count every loss, but do not flood the log: 1, 2, 4, ... and every 1000th. */
        if ((dropped & (dropped - 1)) == 0 || dropped % 1000 == 0)
            log_msg(LOG_ERR, "record queue full (db_queue_max=%ld): %lu records dropped so far",
                    R.max, dropped);
    }
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, long long v, int present)
{
    if (present)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static sqlite3_stmt *bind_rec(const rec *r)
{
    sqlite3_stmt *st;

    switch (r->kind) {
    case REC_SESSION:
        st = R.st[ST_SESSION];
        sqlite3_bind_int64(st, 1, r->id);
        bind_text(st, 2, r->at);
        bind_text(st, 3, r->ended_at);
        bind_text(st, 4, r->client_addr);
        bind_int(st, 5, r->client_port, r->client_port >= 0);
        bind_text(st, 6, r->client_name);
        bind_text(st, 7, r->helo);
        bind_text(st, 8, r->tls_version);
        bind_text(st, 9, r->cipher);
        bind_int(st, 10, r->cipher_bits, r->cipher_bits >= 0);
        bind_text(st, 11, r->cert_subject);
        bind_text(st, 12, r->cert_issuer);
        bind_int(st, 13, r->cert_verified, r->cert_verified >= 0);
        sqlite3_bind_int(st, 14, r->messages);
        bind_text(st, 15, r->peer);
        bind_text(st, 16, r->cert_fp);
        return st;
    case REC_MESSAGE:
        st = R.st[ST_MESSAGE];
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_int64(st, 2, r->parent);
        bind_text(st, 3, r->at);
        bind_text(st, 4, r->queue_id);
        bind_text(st, 5, r->addr);
        bind_text(st, 6, r->rule);
        bind_text(st, 7, r->level);
        bind_text(st, 8, r->verdict);
        bind_text(st, 9, r->reason);
        bind_text(st, 10, r->action);
        bind_text(st, 11, r->outcome);
        return st;
    case REC_RCPT:
        st = R.st[ST_RCPT];
        sqlite3_bind_int64(st, 1, r->id);
        bind_text(st, 2, r->at);
        bind_text(st, 3, r->addr ? r->addr : "");
        bind_text(st, 4, r->rule);
        bind_text(st, 5, r->level);
        bind_text(st, 6, r->verdict);
        bind_text(st, 7, r->reason);
        bind_text(st, 8, r->action);
        bind_text(st, 9, r->dane);
        return st;
    }
    return NULL;
}

/* Errors that concern one record, not the database: skip that record. */
static int record_error(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH || rc == SQLITE_TOOBIG ||
           rc == SQLITE_RANGE;
}

/* Runs one of the prepared transaction statements. Returns SQLITE_OK or the error code. */
static int step_once(int i)
{
    int rc = sqlite3_step(R.st[i]);

    sqlite3_reset(R.st[i]);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Writes one batch in one transaction. Returns 0, or the SQLite error code. */
static int write_batch(rec *batch, unsigned long *skipped)
{
    int rc;

    if ((rc = step_once(ST_BEGIN)) != SQLITE_OK)
        return rc;
    for (rec *r = batch; r; r = r->next) {
        sqlite3_stmt *st = bind_rec(r);

        rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc == SQLITE_DONE)
            continue;
        if (!record_error(rc)) {
            step_once(ST_ROLLBACK);
            return rc;
        }
        log_msg(LOG_ERR, "record %d/%lld skipped: %s", (int)r->kind, (long long)r->id,
                sqlite3_errstr(rc));
        ++*skipped;
    }
    if ((rc = step_once(ST_COMMIT)) != SQLITE_OK) {
        step_once(ST_ROLLBACK);
        return rc;
    }
    return 0;
}

static unsigned long dropped_total(void)
{
    unsigned long n;

    pthread_mutex_lock(&R.lock);
    n = R.dropped;
    pthread_mutex_unlock(&R.lock);
    return n;
}

static long queued_count(void)
{
    long n;

    pthread_mutex_lock(&R.lock);
    n = R.count;
    pthread_mutex_unlock(&R.lock);
    return n;
}

static void free_list(rec *r)
{
    while (r) {
        rec *next = r->next;
        rec_free(r);
        r = next;
    }
}

void recorder_set_retention(long days)
{
    atomic_store(&R.retention_days, days);
}

/* Deletes one batch of sessions older than the cutoff, with their messages and recipients,
 * in one transaction. Returns the sessions deleted, or -1 on error. */
static int prune_batch(const char *cutoff)
{
    int deleted = 0, rc = SQLITE_OK;

    if (step_once(ST_BEGIN) != SQLITE_OK)
        return -1;
    for (int i = ST_PRUNE_RCPT; i <= ST_PRUNE_SESSION && rc == SQLITE_OK; i++) {
        sqlite3_bind_text(R.st[i], 1, cutoff, -1, SQLITE_STATIC);
        rc = sqlite3_step(R.st[i]) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(R.db);
        sqlite3_reset(R.st[i]);
        sqlite3_clear_bindings(R.st[i]);
        if (i == ST_PRUNE_SESSION)
            deleted = sqlite3_changes(R.db);
    }
    if (rc != SQLITE_OK || (rc = step_once(ST_COMMIT)) != SQLITE_OK) {
        step_once(ST_ROLLBACK);
        log_msg(LOG_ERR, "retention: pruning failed: %s", sqlite3_errstr(rc));
        return -1;
    }
    return deleted;
}

static int freelist_count(void)
{
    sqlite3_stmt *st;
    int n = 0;

    if (sqlite3_prepare_v2(R.db, "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

/*
 * Retention, run by the writer between batches of records: one step per call (a batch of
 * old sessions deleted, or some free pages given back to the file system), so recording
 * is never held up for long. Returns 1 while there is more to do.
 */
static int prune_step(void)
{
    long days = atomic_load(&R.retention_days);
    time_t now = time(NULL);
    int n;

    if (days <= 0)
        return 0;
    if (!R.prune_cutoff[0]) {
        struct tm tm;
        time_t t = now - days * 86400L;

        if (R.last_prune && now - R.last_prune < PRUNE_EVERY)
            return 0;
        gmtime_r(&t, &tm);
        strftime(R.prune_cutoff, sizeof R.prune_cutoff, "%Y-%m-%d %H:%M:%S", &tm);
        R.prune_total = 0;
        R.vacuuming = 0;
    }
    if (!R.vacuuming) {
        if ((n = prune_batch(R.prune_cutoff)) > 0) {
            R.prune_total += n;
            return 1;
        }
        if (R.prune_total)
            log_msg(LOG_INFO, "retention: %ld sessions older than %s (retention_days=%ld) pruned",
                    R.prune_total, R.prune_cutoff, days);
        R.vacuuming = n == 0;
    }
    if (R.vacuuming && freelist_count() > 0 &&
        sqlite3_exec(R.db, "PRAGMA incremental_vacuum(" VACUUM_STR ")", NULL, NULL, NULL) ==
            SQLITE_OK)
        return 1;
    R.prune_cutoff[0] = '\0';
    R.last_prune = now;
    return 0;
}

/* Group commit: with the lock held and records queued, waits until the oldest is LINGER_MS
 * old, LINGER_RECORDS are queued, or the recorder stops. Not while the database fails: the
 * back-off has waited already, and on_db_error=tempfail should learn of recovery at once. */
static void linger(void)
{
    struct timespec until = R.first_put;

    if (!atomic_load(&R.healthy))
        return;
    until.tv_nsec += LINGER_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (R.head && !R.stop && R.count < LINGER_RECORDS)
        if (pthread_cond_timedwait(&R.cond, &R.lock, &until) == ETIMEDOUT)
            break;
}

static void *writer(void *arg)
{
    unsigned backoff = 0, failures = 0;

    for (;;) {
        rec *batch, *last;
        long n = 0, queued;
        unsigned long skipped = 0;
        int rc, stop, more;

        more = R.db && atomic_load(&R.healthy) && prune_step();

        pthread_mutex_lock(&R.lock);
        while (!R.head && !R.stop && !more) {
            struct timespec wake;
            clock_gettime(CLOCK_REALTIME, &wake);
            wake.tv_sec += 60; /* look at retention now and then while idle */
            if (pthread_cond_timedwait(&R.cond, &R.lock, &wake) == ETIMEDOUT)
                break;
        }
        if (!R.head) {
            stop = R.stop;
            pthread_mutex_unlock(&R.lock);
            if (stop)
                break;
            continue;
        }
        linger();
        batch = last = R.head;
        for (n = 1; n < BATCH_MAX && last->next; n++)
            last = last->next;
        if (!(R.head = last->next))
            R.tail = NULL;
        last->next = NULL;
        R.count -= n;
        pthread_mutex_unlock(&R.lock);

        if ((rc = db_reopen()) == SQLITE_OK && (rc = write_batch(batch, &skipped)) == 0) {
            free_list(batch);
            if (!atomic_exchange(&R.healthy, 1))
                log_msg(LOG_WARNING, "database writable again after %u failed attempts; %ld "
                                     "queued records written, %ld more queued; %lu records "
                                     "dropped in total while it was not",
                        failures, n - (long)skipped, queued_count(), dropped_total());
            backoff = failures = 0;
            continue;
        }
        /* Keep the batch at the head, in order, and try again later. */
        pthread_mutex_lock(&R.lock);
        last->next = R.head;
        R.head = batch;
        if (!R.tail)
            R.tail = last;
        R.count += n;
        queued = R.count;
        stop = R.stop;
        if (stop && time(NULL) >= R.deadline) {
            rec *lost = R.head;
            R.head = R.tail = NULL;
            R.count = 0;
            pthread_mutex_unlock(&R.lock);
            free_list(lost);
            log_msg(LOG_ERR, "database write failed at shutdown (%s): %ld records lost",
                    sqlite3_errstr(rc), queued);
            break;
        }
        pthread_mutex_unlock(&R.lock);
        atomic_store(&R.healthy, 0);
        if (needs_reopen(rc))
            db_close();
        failures++;
        if ((failures & (failures - 1)) == 0)
            log_msg(LOG_ERR, "database write failed (%s): %ld records queued, retrying",
                    sqlite3_errstr(rc), queued);
        backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : 100;
        {
            struct timespec ts = {backoff / 1000, (long)(backoff % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int recorder_start(long queue_max)
{
    sigset_t all, old;
    int rc;

    R.max = queue_max;
    /* The writer never handles signals: the main thread does. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&R.thread, NULL, writer, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_msg(LOG_ERR, "cannot start the database writer: %s", strerror(rc));
        return -1;
    }
    R.running = 1;
    return 0;
}

void recorder_stop(int patience)
{
    if (R.running) {
        pthread_mutex_lock(&R.lock);
        R.stop = 1;
        R.deadline = time(NULL) + patience;
        pthread_cond_signal(&R.cond);
        pthread_mutex_unlock(&R.lock);
        pthread_join(R.thread, NULL);
        R.running = 0;
        if (R.dropped)
            log_msg(LOG_ERR, "%lu records were dropped in total because the queue was full "
                             "(db_queue_max=%ld)", R.dropped, R.max);
    }
    db_close();
}
