/* SPDX-License-Identifier: MIT */
/*
 * recorder_bench - tlsguard's recorder (store/recorder.c) alone, linked as the daemon links
 * it: how many records per second the single writer thread sustains into SQLite, and how
 * long the callback path spends handing one record over (recorder_put), which must never
 * wait for the disk.
 *
 * Records come in the daemon's pattern, five per one-message SMTP session: session upsert
 * (at MAIL), message insert (at MAIL), recipient insert (at RCPT), message upsert with the
 * outcome (at end of message), session upsert with ended_at (at close); strings shaped like
 * real ones (timestamps, IPv4 address, HELO, TLSv1.3 facts, addresses, rule texts).
 *
 * Phases, each in a child process with a fresh database (WAL, synchronous=NORMAL, as the
 * daemon opens it) in DIR:
 *   writer  N records queued while the database is locked, then released: the writer's
 *           rate alone, records/s from the release until everything is committed.
 *   burst   T threads put N records as fast as they can while the writer runs: records/s
 *           until everything is committed, and put latency under that pressure.
 *   paced   T threads put R records/s in total for S seconds (a busy server's pattern:
 *           the writer often finds the queue empty and is woken): put latency.
 *   slow    as paced at 500 records/s (100 messages/s, what Postfix reaches on 2 cores):
 *           the writer commits small batches; CPU per record (process CPU, ~all writer's).
 * Latency is per recorder_put() call (clock_gettime before/after, ~20 ns of its own), and
 * separately for the whole hand-over the callbacks do (rec_new + strdup of the fields +
 * recorder_put). Each phase checks the row counts in the database afterwards.
 *
 *   recorder_bench [-d DIR] [-n N] [-t T] [-r R] [-s S] [-p writer,burst,paced,slow]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/log.h"
#include "store/recorder.h"
#include "policy/xalloc.h"

static struct {
    const char *dir;
    long n;        /* records per writer/burst phase (a multiple of 5) */
    int threads;
    long rate;     /* paced: records/s in total */
    double secs;   /* paced: duration */
    const char *phases;
} O = {.dir = "/tmp", .n = 500000, .threads = 4, .rate = 25000, .secs = 10,
       .phases = "writer,burst,paced,slow"};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency samples of one thread. */
typedef struct samples {
    uint32_t *put, *handover;
    size_t n, cap;
} samples;

static void sample_add(samples *s, uint64_t put, uint64_t handover)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->put = xrealloc(s->put, s->cap * sizeof *s->put);
        s->handover = xrealloc(s->handover, s->cap * sizeof *s->handover);
    }
    s->put[s->n] = put > UINT32_MAX ? UINT32_MAX : (uint32_t)put;
    s->handover[s->n] = handover > UINT32_MAX ? UINT32_MAX : (uint32_t)handover;
    s->n++;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *phase, const char *what, uint32_t *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, cmp_u32);
    printf("recorder_bench: phase=%s latency=%s samples=%zu median_ns=%u p90_ns=%u p99_ns=%u "
           "p999_ns=%u max_ns=%u\n",
           phase, what, n, v[n / 2], v[n * 90 / 100], v[n * 99 / 100], v[n * 999 / 1000],
           v[n - 1]);
}

/* The five records of a one-message session, built as milter/milter.c builds them; `k` is which
 * one (0..4). Timings go to s if not NULL. */
static void put_record(int k, int64_t session, int64_t message, samples *s)
{
    static const char at[] = "2026-11-23 15:10:42.123";
    uint64_t t0 = now_ns(), t1, t2;
    rec *r;

    switch (k) {
    case 0:
    case 4:
        r = rec_new(REC_SESSION);
        r->id = session;
        r->at = xstrdup(at);
        if (k == 4)
            r->ended_at = xstrdup(at);
        r->client_addr = xstrdup("192.0.2.25");
        r->client_port = 40000 + (int)(session % 20000);
        r->client_name = xstrdup("mail-relay.sender.example");
        r->helo = xstrdup("mail-relay.sender.example");
        r->tls_version = xstrdup("TLSv1.3");
        r->cipher = xstrdup("TLS_AES_256_GCM_SHA384");
        r->cipher_bits = 256;
        r->cert_verified = 0;
        r->messages = 1;
        break;
    case 1:
    case 3:
        r = rec_new(REC_MESSAGE);
        r->id = message;
        r->parent = session;
        r->at = xstrdup(at);
        r->queue_id = xstrdup("4Ld8yB0Zq3z9kKx");
        r->addr = xstrdup("newsletter-bounces@s123.bench.example");
        r->rule = xstrdup("from:s123.bench.example may");
        r->level = xstrdup("may");
        r->verdict = xstrdup("pass");
        r->action = xstrdup("none");
        if (k == 3)
            r->outcome = xstrdup("accepted");
        break;
    default:
        r = rec_new(REC_RCPT);
        r->id = message;
        r->at = xstrdup(at);
        r->addr = xstrdup("postmaster@r42.bench.example");
        r->rule = xstrdup("rcpt:ok.dane.example dane-only");
        r->level = xstrdup("dane-only");
        r->verdict = xstrdup("pass");
        r->action = xstrdup("none");
        r->dane = xstrdup("mx=secure hosts=mx.ok.dane.example:dane");
        break;
    }
    t1 = now_ns();
    recorder_put(r);
    t2 = now_ns();
    if (s)
        sample_add(s, t2 - t1, t2 - t0);
}

static void put_session(samples *s)
{
    int64_t session = recorder_next_session_id(), message = recorder_next_message_id();

    for (int k = 0; k < 5; k++)
        put_record(k, session, message, s);
}

static long count_rows(const char *path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[64];
    long n = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static int check_rows(const char *phase, const char *path, long sessions)
{
    long s = count_rows(path, "sessions"), m = count_rows(path, "messages"),
         r = count_rows(path, "recipients");

    if (s != sessions || m != sessions || r != sessions) {
        fprintf(stderr, "recorder_bench: %s: rows sessions=%ld messages=%ld recipients=%ld, "
                        "want %ld each\n", phase, s, m, r, sessions);
        return 1;
    }
    return 0;
}

typedef struct worker {
    pthread_t tid;
    long sessions;   /* to put */
    double interval; /* paced: seconds between two sessions of this thread, else 0 */
    double start;
    samples s;
} worker;

static void *producer(void *arg)
{
    worker *w = arg;

    for (long i = 0; i < w->sessions; i++) {
        if (w->interval > 0) {
            double due = w->start + (double)i * w->interval, t = now();
            if (due > t) {
                struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        put_session(&w->s);
    }
    return NULL;
}

static int open_db(const char *path)
{
    char err[600];

    unlink(path);
    for (const char *sfx = "-wal"; sfx; sfx = sfx[1] == 'w' ? "-shm" : NULL) {
        char p[1024];
        snprintf(p, sizeof p, "%s%s", path, sfx);
        unlink(p);
    }
    if (recorder_open(path, err, sizeof err) != 0) {
        fprintf(stderr, "recorder_bench: %s\n", err);
        return -1;
    }
    recorder_set_retention(0);
    return 0;
}

/* The writer alone: the queue is filled while another connection holds the database's
 * write lock (the writer waits in SQLite's busy handler, within its 2 s busy_timeout), then
 * the lock is released and the writer commits everything with the CPU to itself. */
static int phase_writer(const char *path)
{
    long sessions = O.n / 5;
    double t0, t1, t_fill;
    sqlite3 *lock;

    if (open_db(path) != 0 || recorder_start(O.n + 10) != 0)
        return 1;
    if (sqlite3_open_v2(path, &lock, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "recorder_bench: cannot lock %s\n", path);
        return 1;
    }
    t0 = now();
    for (long i = 0; i < sessions; i++)
        put_session(NULL);
    t_fill = now() - t0;
    if (t_fill > 1.5)
        fprintf(stderr, "recorder_bench: filling took %.1f s, the writer may have retried "
                        "(use a smaller -n)\n", t_fill);
    t0 = now();
    sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(lock);
    recorder_stop(600);
    t1 = now();
    printf("recorder_bench: phase=writer records=%ld seconds=%.3f records_per_s=%.0f "
           "(queue filled in %.3f s while the database was locked)\n",
           sessions * 5, t1 - t0, sessions * 5 / (t1 - t0), t_fill);
    return check_rows("writer", path, sessions);
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int run_producers(const char *phase, const char *path, long sessions, double interval)
{
    worker *w = xcalloc((size_t)O.threads, sizeof *w);
    double t0, t_put, t_end, cpu0;
    samples all = {0};
    int rc;

    if (open_db(path) != 0 || recorder_start(sessions * 5 + 10) != 0)
        return 1;
    cpu0 = cpu_seconds();
    t0 = now();
    for (int i = 0; i < O.threads; i++) {
        w[i].sessions = sessions / O.threads + (i < sessions % O.threads);
        w[i].interval = interval;
        w[i].start = t0;
        pthread_create(&w[i].tid, NULL, producer, &w[i]);
    }
    for (int i = 0; i < O.threads; i++)
        pthread_join(w[i].tid, NULL);
    t_put = now();
    recorder_stop(600);
    t_end = now();
    for (int i = 0; i < O.threads; i++) {
        for (size_t j = 0; j < w[i].s.n; j++)
            sample_add(&all, w[i].s.put[j], w[i].s.handover[j]);
        free(w[i].s.put);
        free(w[i].s.handover);
    }
    printf("recorder_bench: phase=%s threads=%d records=%ld put_seconds=%.3f "
           "committed_seconds=%.3f records_per_s=%.0f drain_after_last_put_s=%.3f "
           "cpu_us_per_record=%.1f\n",
           phase, O.threads, sessions * 5, t_put - t0, t_end - t0, sessions * 5 / (t_end - t0),
           t_end - t_put, (cpu_seconds() - cpu0) * 1e6 / (sessions * 5));
    print_latency(phase, "put", all.put, all.n);
    print_latency(phase, "handover", all.handover, all.n);
    rc = check_rows(phase, path, sessions);
    free(all.put);
    free(all.handover);
    free(w);
    return rc;
}

static int run_phase(const char *phase)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/recorder-bench-%s.db", O.dir, phase);
    if (strcmp(phase, "writer") == 0)
        return phase_writer(path);
    if (strcmp(phase, "burst") == 0)
        return run_producers("burst", path, O.n / 5, 0);
    if (strcmp(phase, "paced") == 0 || strcmp(phase, "slow") == 0) {
        /* slow: a server's real pace, 100 messages/s, for which the writer commits nearly
         * every record on its own; its CPU per record is what the daemon pays */
        long rate = strcmp(phase, "slow") == 0 ? 500 : O.rate;
        long sessions = (long)(rate / 5 * O.secs);
        /* each thread puts one session (5 records) every `interval` seconds */
        double interval = O.threads / ((double)rate / 5);
        return run_producers(phase, path, sessions, interval);
    }
    fprintf(stderr, "recorder_bench: unknown phase %s\n", phase);
    return 2;
}

int main(int argc, char **argv)
{
    char phases[256], *save = NULL;
    int opt, rc = 0;

    while ((opt = getopt(argc, argv, "d:n:t:r:s:p:")) != -1) {
        switch (opt) {
        case 'd': O.dir = optarg; break;
        case 'n': O.n = atol(optarg); break;
        case 't': O.threads = atoi(optarg); break;
        case 'r': O.rate = atol(optarg); break;
        case 's': O.secs = atof(optarg); break;
        case 'p': O.phases = optarg; break;
        default:
            fprintf(stderr, "usage: recorder_bench [-d DIR] [-n RECORDS] [-t THREADS] "
                            "[-r RECORDS_PER_S] [-s SECONDS] [-p writer,burst,paced,slow]\n");
            return 2;
        }
    }
    if (O.n < 5 || O.threads < 1 || O.rate < 5 || O.secs <= 0) {
        fprintf(stderr, "recorder_bench: bad arguments\n");
        return 2;
    }
    log_open(1, LOG_WARNING);
    snprintf(phases, sizeof phases, "%s", O.phases);
    for (char *p = strtok_r(phases, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        pid_t pid;
        int st;

        fflush(stdout);
        if ((pid = fork()) < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int r = run_phase(p);
            fflush(stdout);
            _exit(r);
        }
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "recorder_bench: phase %s failed\n", p);
            rc = 1;
        }
    }
    return rc;
}
