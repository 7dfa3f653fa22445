/* SPDX-License-Identifier: MIT */
/*
 * tlsload - a STARTTLS SMTP load generator for the benchmark (bench/run.sh).
 *
 * Load mode (default): C threads, each running SMTP sessions back to back until N messages
 * have been claimed in total or the time limit has passed. One session is
 *   connect, banner, EHLO, STARTTLS, TLS handshake, EHLO, then M times
 *   (MAIL FROM, RCPT TO, DATA, message, "."), QUIT
 * with a fresh TCP connection and a fresh TLS session each time: no session cache, no
 * tickets, nothing reused across sessions but the SSL_CTX (configuration only). -P leaves
 * STARTTLS out (plaintext, for comparison with smtp-source). At the end it prints one line:
 *   tlsload: mode=starttls conc=20 messages=2000 failed=0 seconds=7.812 rate=256.0 ...
 * "messages" counts messages the server accepted (250 after the final dot); "rate" is
 * messages/seconds, seconds from the start to the last session's end.
 *
 * Idle mode (-I): C threads each open a session, read the banner, send EHLO and then idle;
 * they are started 50 at a time, each 50 once the previous ones are established. Once all are
 * established it prints "tlsload: idle established=N failed=F" and waits for
 * SIGTERM/SIGINT (or -T seconds), then every session sends QUIT.
 *
 * Envelope variety, so that a policy's rules are hit in many places:
 *   -f PATTERN -F K   sender: PATTERN with %d replaced by (message number mod K)
 *   -t PATTERN -R K   recipient: the same with its own K
 *   -d ADDR -D PCT    PCT per cent of the messages go to ADDR instead (e.g. a DANE domain)
 *   -b K              bind each session to one of K source addresses 127.1.x.y (0: none)
 *
 * Everything is bounded: -n messages, -T seconds, and 60 s socket timeouts. Loopback only
 * (the host must be in 127.0.0.0/8).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define LINE_MAX_ 1024
#define ERRORS_SHOWN 5
#define IDLE_STEP 50 /* idle mode: sessions opened at a time */

static struct {
    const char *host;
    int port;
    int conc;
    long total;
    double time_limit;
    int plain;
    int idle;
    int per_session;
    int body_len;
    const char *from_pat, *rcpt_pat, *dane_addr;
    int from_k, rcpt_k, dane_pct;
    int bind_k;
    int verbose;
} O = {
    .host = "127.0.0.1",
    .conc = 20,
    .total = 1000,
    .time_limit = 120,
    .per_session = 1,
    .body_len = 1024,
    .from_pat = "bench@tlsload.example",
    .rcpt_pat = "rcpt@sink.example",
    .from_k = 1,
    .rcpt_k = 1,
};

static SSL_CTX *ssl_ctx;
static struct sockaddr_in server;
static char *body; /* the message body, CRLF lines, without the final dot */
static size_t body_size;
static double t_start, t_deadline;

static atomic_long next_msg;       /* messages claimed */
static atomic_long accepted;       /* 250 after the final dot */
static atomic_long failed;         /* messages claimed but not accepted */
static atomic_long sessions_done;  /* sessions that ended with QUIT/221 */
static atomic_long handshakes;     /* TLS handshakes completed */
static atomic_int errors_shown;
static atomic_long established, idle_failed; /* idle mode */
static pthread_mutex_t idle_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cond = PTHREAD_COND_INITIALIZER;
static int idle_stop; /* guarded by idle_lock */
static double t_last_end; /* guarded by end_lock */
static pthread_mutex_t end_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report_error(const char *fmt, ...)
{
    va_list ap;

    if (atomic_fetch_add(&errors_shown, 1) >= ERRORS_SHOWN)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "tlsload: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

typedef struct conn {
    int fd;
    SSL *ssl;
    char buf[4096];
    size_t len, off;
    char last[LINE_MAX_]; /* last reply line, for error messages */
} conn;

static int conn_write(conn *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w;

        if (c->ssl) {
            int r = SSL_write(c->ssl, data, (int)(n > 1 << 30 ? 1 << 30 : n));
            w = r > 0 ? r : -1;
        } else {
            w = send(c->fd, data, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
        }
        if (w <= 0)
            return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int conn_fill(conn *c)
{
    ssize_t r;

    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof c->buf)
        return -1;
    for (;;) {
        if (c->ssl) {
            int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len));
            r = n > 0 ? n : -1;
        } else {
            r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (r < 0 && errno == EINTR)
                continue;
        }
        break;
    }
    if (r <= 0)
        return -1;
    c->len += (size_t)r;
    return 0;
}

/* Reads one line (without CRLF) into c->last. */
static int read_line(conn *c)
{
    for (;;) {
        char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);

        if (nl) {
            size_t n = (size_t)(nl - (c->buf + c->off));
            if (n > 0 && nl[-1] == '\r')
                n--;
            if (n >= sizeof c->last)
                n = sizeof c->last - 1;
            memcpy(c->last, c->buf + c->off, n);
            c->last[n] = '\0';
            c->off = (size_t)(nl - c->buf) + 1;
            return 0;
        }
        if (conn_fill(c) != 0)
            return -1;
    }
}

/* Reads a (multi-line) reply; returns its code, or -1. */
static int read_reply(conn *c)
{
    for (;;) {
        if (read_line(c) != 0)
            return -1;
        if (strlen(c->last) < 3)
            return -1;
        if (c->last[3] != '-')
            return atoi(c->last);
    }
}

/* Sends a command and expects a reply with the given code. */
static int cmd(conn *c, const char *line, int want)
{
    char out[LINE_MAX_ + 2];
    int n = snprintf(out, sizeof out, "%s\r\n", line), code;

    if (n < 0 || (size_t)n >= sizeof out || conn_write(c, out, (size_t)n) != 0) {
        report_error("%s: write failed", line);
        return -1;
    }
    if ((code = read_reply(c)) != want) {
        report_error("%s: got %s (want %d)", line, code < 0 ? "no reply" : c->last, want);
        return -1;
    }
    return 0;
}

static void conn_close(conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* sends close_notify, does not wait for the peer's */
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int conn_open(conn *c, long seq)
{
    struct timeval tv = {60, 0};
    int one = 1;

    memset(c, 0, sizeof *c);
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
        report_error("socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (O.bind_k > 0) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        long i = seq % O.bind_k;

        src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((unsigned)(i / 250) << 8) |
                                    (unsigned)(i % 250 + 1));
        setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            report_error("bind: %s", strerror(errno));
            close(c->fd);
            return -1;
        }
    }
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) != 0) {
        report_error("connect: %s", strerror(errno));
        close(c->fd);
        return -1;
    }
    if (read_reply(c) != 220) {
        report_error("banner: %s", c->last[0] ? c->last : "none");
        conn_close(c);
        return -1;
    }
    return 0;
}

static int starttls(conn *c)
{
    if (cmd(c, "STARTTLS", 220) != 0)
        return -1;
    if (c->len != c->off) {
        report_error("data after the STARTTLS reply");
        return -1;
    }
    c->len = c->off = 0;
    if (!(c->ssl = SSL_new(ssl_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_connect(c->ssl) != 1) {
        char e[256];
        ERR_error_string_n(ERR_get_error(), e, sizeof e);
        report_error("TLS handshake: %s", e);
        return -1;
    }
    atomic_fetch_add(&handshakes, 1);
    return 0;
}

static void fmt_addr(char *out, size_t size, const char *pat, long k)
{
    /* The pattern is ours (command line), with at most one %d. */
    if (strstr(pat, "%d"))
        snprintf(out, size, pat, (int)k);
    else
        snprintf(out, size, "%s", pat);
}

/* One message on an open session; 0 if accepted. */
static int send_message(conn *c, long msg)
{
    char from[256], rcpt[256], line[LINE_MAX_], hdr[1024];
    int n;

    fmt_addr(from, sizeof from, O.from_pat, msg % O.from_k);
    if (O.dane_addr && O.dane_pct > 0 && msg % 100 < O.dane_pct)
        snprintf(rcpt, sizeof rcpt, "%s", O.dane_addr);
    else
        fmt_addr(rcpt, sizeof rcpt, O.rcpt_pat, msg % O.rcpt_k);
    snprintf(line, sizeof line, "MAIL FROM:<%s>", from);
    if (cmd(c, line, 250) != 0)
        return -1;
    snprintf(line, sizeof line, "RCPT TO:<%s>", rcpt);
    if (cmd(c, line, 250) != 0)
        return -1;
    if (cmd(c, "DATA", 354) != 0)
        return -1;
    n = snprintf(hdr, sizeof hdr,
                 "From: <%s>\r\nTo: <%s>\r\nSubject: tlsload message %ld\r\n"
                 "Message-ID: <%ld.%ld@tlsload.example>\r\n\r\n",
                 from, rcpt, msg, msg, (long)t_start);
    if (conn_write(c, hdr, (size_t)n) != 0 || conn_write(c, body, body_size) != 0) {
        report_error("message text: write failed");
        return -1;
    }
    if (cmd(c, ".", 250) != 0)
        return -1;
    return 0;
}

static void mark_end(void)
{
    double t = now();

    pthread_mutex_lock(&end_lock);
    if (t > t_last_end)
        t_last_end = t;
    pthread_mutex_unlock(&end_lock);
}

static void *load_worker(void *arg)
{
    long seq = (long)(intptr_t)arg;

    for (;;) {
        conn c;
        long first, claimed = 0;
        int ok = 1;

        if (now() >= t_deadline)
            break;
        first = atomic_fetch_add(&next_msg, O.per_session);
        if (first >= O.total)
            break;
        claimed = O.total - first < O.per_session ? O.total - first : O.per_session;
        if (conn_open(&c, seq) != 0) {
            atomic_fetch_add(&failed, claimed);
            mark_end();
            seq += O.conc;
            continue;
        }
        if (cmd(&c, "EHLO tlsload.example", 250) != 0 || (!O.plain && starttls(&c) != 0) ||
            (!O.plain && cmd(&c, "EHLO tlsload.example", 250) != 0))
            ok = 0;
        for (long i = 0; i < claimed; i++) {
            if (ok && send_message(&c, first + i) == 0) {
                atomic_fetch_add(&accepted, 1);
            } else {
                ok = 0;
                atomic_fetch_add(&failed, 1);
            }
        }
        if (ok && cmd(&c, "QUIT", 221) == 0)
            atomic_fetch_add(&sessions_done, 1);
        conn_close(&c);
        mark_end();
        seq += O.conc;
    }
    return NULL;
}

static void *idle_worker(void *arg)
{
    long seq = (long)(intptr_t)arg;
    conn c;

    if (conn_open(&c, seq) != 0 || cmd(&c, "EHLO tlsload.example", 250) != 0) {
        conn_close(&c);
        atomic_fetch_add(&idle_failed, 1);
        return NULL;
    }
    atomic_fetch_add(&established, 1);
    pthread_mutex_lock(&idle_lock);
    while (!idle_stop)
        pthread_cond_wait(&idle_cond, &idle_lock);
    pthread_mutex_unlock(&idle_lock);
    cmd(&c, "QUIT", 221);
    conn_close(&c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: tlsload -p PORT [-H 127.0.0.1] [-c CONC] [-n MSGS] [-T SECS] [-m PER_SESSION]\n"
            "               [-l BODY_BYTES] [-P] [-f FROM_PAT -F K] [-t RCPT_PAT -R K]\n"
            "               [-d DANE_ADDR -D PCT] [-b K] [-v]\n"
            "       tlsload -I -p PORT -c SESSIONS [-T SECS]     (idle sessions after EHLO)\n");
    exit(2);
}

static void build_body(void)
{
    size_t line = 78; /* 76 characters + CRLF */
    size_t lines = (size_t)O.body_len / line + 1;

    body_size = lines * line;
    body = malloc(body_size + 1);
    if (!body) {
        perror("malloc");
        exit(1);
    }
    for (size_t i = 0; i < lines; i++) {
        memset(body + i * line, 'a' + (int)(i % 26), 76);
        body[i * line + 76] = '\r';
        body[i * line + 77] = '\n';
    }
}

static int run_idle(pthread_attr_t *attr)
{
    pthread_t *t = calloc((size_t)O.conc, sizeof *t);
    sigset_t set;
    struct timespec limit = {(time_t)O.time_limit, 0};
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the workers */
    /* In steps of IDLE_STEP sessions, each step once the previous one has its banners and
     * EHLO replies: the MTA forks one smtpd per session, and a thousand at once on a small
     * machine would leave many waiting longer than the socket timeout for their banner. */
    for (int i = 0; i < O.conc; i++) {
        if (pthread_create(&t[i], attr, idle_worker, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "tlsload: cannot create thread %d\n", i);
            exit(1);
        }
        if ((i + 1) % IDLE_STEP != 0 && i + 1 != O.conc)
            continue;
        while (atomic_load(&established) + atomic_load(&idle_failed) < i + 1 &&
               now() < t_deadline) {
            struct timespec tick = {0, 20 * 1000000L};
            nanosleep(&tick, NULL);
        }
    }
    printf("tlsload: idle established=%ld failed=%ld seconds=%.3f\n", atomic_load(&established),
           atomic_load(&idle_failed), now() - t_start);
    fflush(stdout);
    do
        sig = sigtimedwait(&set, NULL, &limit);
    while (sig < 0 && errno == EINTR);
    pthread_mutex_lock(&idle_lock);
    idle_stop = 1;
    pthread_cond_broadcast(&idle_cond);
    pthread_mutex_unlock(&idle_lock);
    for (int i = 0; i < O.conc; i++)
        pthread_join(t[i], NULL);
    free(t);
    return atomic_load(&idle_failed) ? 1 : 0;
}

int main(int argc, char **argv)
{
    pthread_attr_t attr;
    pthread_t *t;
    double secs;
    int opt;

    while ((opt = getopt(argc, argv, "H:p:c:n:T:m:l:Pf:F:t:R:d:D:b:Iv")) != -1) {
        switch (opt) {
        case 'H': O.host = optarg; break;
        case 'p': O.port = atoi(optarg); break;
        case 'c': O.conc = atoi(optarg); break;
        case 'n': O.total = atol(optarg); break;
        case 'T': O.time_limit = atof(optarg); break;
        case 'm': O.per_session = atoi(optarg); break;
        case 'l': O.body_len = atoi(optarg); break;
        case 'P': O.plain = 1; break;
        case 'f': O.from_pat = optarg; break;
        case 'F': O.from_k = atoi(optarg); break;
        case 't': O.rcpt_pat = optarg; break;
        case 'R': O.rcpt_k = atoi(optarg); break;
        case 'd': O.dane_addr = optarg; break;
        case 'D': O.dane_pct = atoi(optarg); break;
        case 'b': O.bind_k = atoi(optarg); break;
        case 'I': O.idle = 1; break;
        case 'v': O.verbose = 1; break;
        default: usage();
        }
    }
    if (O.port <= 0 || O.conc <= 0 || O.total < 0 || O.per_session <= 0 || O.from_k <= 0 ||
        O.rcpt_k <= 0 || O.dane_pct < 0 || O.dane_pct > 100 || O.bind_k < 0 ||
        O.bind_k > 250 * 250 || O.time_limit <= 0 || O.body_len < 0)
        usage();
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((unsigned short)O.port);
    if (inet_pton(AF_INET, O.host, &server.sin_addr) != 1 ||
        (ntohl(server.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "tlsload: %s: only loopback (127.0.0.0/8) addresses\n", O.host);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(ssl_ctx = SSL_CTX_new(TLS_client_method()))) {
        fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
        return 1;
    }
    /* Nothing reused across sessions: no client session cache, no tickets. The server's
     * certificate is not checked (a benchmark, not a probe). */
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
    build_body();

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    t_start = now();
    t_deadline = t_start + O.time_limit;
    if (O.idle)
        return run_idle(&attr);

    t = calloc((size_t)O.conc, sizeof *t);
    for (int i = 0; i < O.conc; i++)
        if (pthread_create(&t[i], &attr, load_worker, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "tlsload: cannot create thread %d\n", i);
            return 1;
        }
    for (int i = 0; i < O.conc; i++)
        pthread_join(t[i], NULL);
    secs = (t_last_end > t_start ? t_last_end : now()) - t_start;
    printf("tlsload: mode=%s conc=%d messages=%ld failed=%ld sessions=%ld handshakes=%ld "
           "seconds=%.3f rate=%.1f%s\n",
           O.plain ? "plain" : "starttls", O.conc, atomic_load(&accepted), atomic_load(&failed),
           atomic_load(&sessions_done), atomic_load(&handshakes), secs,
           secs > 0 ? atomic_load(&accepted) / secs : 0.0,
           now() >= t_deadline ? " (time limit reached)" : "");
    free(t);
    SSL_CTX_free(ssl_ctx);
    free(body);
    return atomic_load(&failed) ? 1 : 0;
}
