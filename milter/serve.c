/* SPDX-License-Identifier: MIT */
#include "serve.h"

/* System. */
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* libmilter. */
#include <libmilter/mfapi.h>

/* Daemon. */
#include "config/config.h"
#include "gate.h"
#include "util/diag.h"
#include "util/log.h"
#include "milter.h"
#include "store/peers.h"
#include "store/recorder.h"
#include "dns/resolver.h"
#include "sockdir.h"

/*
 * Signals. libmilter's own signal thread stops the milter on SIGHUP, but we want SIGHUP to
 * reload, and SIGTERM to drain first. The main thread keeps HUP/TERM/INT unblocked, with
 * handlers that never defer (SA_NODEFER) and only write to a pipe; smfi_main runs in another
 * thread with them blocked. Linux prefers the main thread for a process-directed signal, but
 * not while a signal is already pending on it and it is not running: a second SIGHUP close
 * behind the first then goes to a thread that waits for it, and libmilter's signal thread
 * waits for HUP/TERM/INT in sigwait(). So the program defines sigwait() (below), which
 * libmilter's call binds to: it never waits for those three, and only the main thread can
 * take them.
 */
static int sig_pipe[2] = {-1, -1};

/*
 * sigwait(3) for libmilter's signal thread, the only caller in the process: waits for the
 * signals of `set` other than HUP, TERM and INT (those stay blocked in that thread, so the
 * kernel hands them to the main thread); with none left it sleeps for good.
 */
int sigwait(const sigset_t *set, int *sig)
{
    sigset_t rest = *set;
    int n;

    sigdelset(&rest, SIGHUP);
    sigdelset(&rest, SIGTERM);
    sigdelset(&rest, SIGINT);
    if (sigisemptyset(&rest))
        for (;;)
            pause();
    while ((n = sigwaitinfo(&rest, NULL)) < 0)
        if (errno != EINTR)
            return errno;
    *sig = n;
    return 0;
}

static void on_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;

    if (write(sig_pipe[1], &b, 1) < 0) {
        /* The pipe is full: a signal is already pending. */
    }
    errno = saved;
}

static int install_signals(void)
{
    struct sigaction sa;
    int sigs[] = {SIGHUP, SIGTERM, SIGINT};

    if (pipe(sig_pipe) != 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int drop_privileges(const char *user)
{
    struct passwd *pw;

    if (!user || geteuid() != 0)
        return 0;
    if (!(pw = getpwnam(user))) {
        log_msg(LOG_ERR, "user %s: no such user", user);
        return -1;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        log_msg(LOG_ERR, "cannot switch to user %s: %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * How long libmilter waits for the MTA's next command on a session (its default is 7210 s).
 * With headers and body negotiated away, the longest silence is the DATA phase: Postfix
 * bounds each read by smtpd_timeout (300 s) but not the whole message, so this leaves room
 * for a 10 MB message (Postfix's message_size_limit) at 100 kbit/s. A session that stays
 * silent longer is closed; the MTA then applies its milter default action (tempfail).
 */
#define SESSION_TIMEOUT 1200

/* The path of a unix socket address, or NULL for inet and inet6. */
static const char *unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    return NULL;
}

/*
 * Removes the socket an earlier run left at `path`, and nothing else: lstat() does not follow
 * a symbolic link, and a link, a file or a directory in its place is refused. (libmilter's own
 * removal stat()s through links; it is not used.)
 */
static int clear_stale_socket(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        log_msg(LOG_ERR, "socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        log_msg(LOG_ERR, "socket %s: the path exists and is not a socket (%s); tlsguard "
                         "does not remove it: remove it or choose another socket path",
                path, S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a directory"
                                                                                 : "a file");
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        log_msg(LOG_ERR, "socket %s: cannot remove the old socket: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The group of a unix socket and of the directory tlsguard creates for it: socket_group;
 * by default postfix, or, when there is no such group, `user`'s primary group (root's
 * without `user`), logged. A socket_group that was set and does not exist is an error.
 */
static int socket_gid(const tlsg_config *cfg, const struct passwd *pw, gid_t *gid)
{
    const char *name = cfg->socket_group ? cfg->socket_group : TLSG_DEFAULT_SOCKET_GROUP;
    struct group *gr = getgrnam(name);

    if (gr) {
        *gid = gr->gr_gid;
        return 0;
    }
    if (cfg->socket_group) {
        log_msg(LOG_ERR, "%s:%u: error: socket_group %s: no such group",
                cfg->path ? cfg->path : "tlsguard.conf", cfg->socket_group_line, name);
        return -1;
    }
    *gid = pw ? pw->pw_gid : 0;
    log_msg(LOG_NOTICE, "socket: there is no group %s: the socket and its directory get "
                        "group %u instead (%s's primary group); set socket_group to the "
                        "MTA's group", name, (unsigned)*gid, pw ? pw->pw_name : "root");
    return 0;
}

/* Not root: tlsguard creates nothing; a missing directory is said plainly. */
static int socket_dir_exists(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    struct stat st;

    if (!slash || slash == path)
        return 0;
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    log_msg(LOG_ERR, "socket %s: the directory %s does not exist; tlsguard creates it only "
                     "when started as root: create it (0750, owned by this user, group of "
                     "the MTA) or choose another socket",
            path, dir);
    return -1;
}

/*
 * Binds the milter socket. A unix socket gets its mode and owner as bind() creates it,
 * never by chmod/chown on the path (which a user who can write the directory could have
 * replaced by a link in between): under umask 0117 it is 0660. Started as root, tlsguard
 * first makes its directory safe (sockdir.h: created 0750 `user`:socket_group when missing),
 * then bind() runs with the effective gid socket_group and, with `user`, that user's
 * effective uid, so the socket is `user`:socket_group. bind() never follows a link at the
 * last component: a link planted after the check makes it fail. The caller's umask and
 * effective ids are restored.
 */
static int open_socket(const tlsg_config *cfg)
{
    const char *spec = cfg->socket, *user = cfg->user;
    const char *path = unix_path(spec);
    struct passwd *pw = NULL;
    uid_t uid = geteuid();
    gid_t gid = getegid(), group = 0;
    int as_root = path && uid == 0;
    char err[600];
    mode_t mask;
    int rc;

    if (smfi_setconn((char *)spec) != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot listen on %s: bad address", spec);
        return -1;
    }
    if (as_root && user && !(pw = getpwnam(user))) {
        log_msg(LOG_ERR, "user %s: no such user", user);
        return -1;
    }
    if (as_root && socket_gid(cfg, pw, &group) != 0)
        return -1;
    if (as_root && sockdir_prepare(path, pw ? pw->pw_uid : 0, group, err, sizeof err) != 0) {
        log_msg(LOG_ERR, "%s", err);
        return -1;
    }
    if (path && !as_root && socket_dir_exists(path) != 0)
        return -1;
    if (path && clear_stale_socket(path) != 0)
        return -1;
    if (as_root && ((pw && initgroups(pw->pw_name, pw->pw_gid) != 0) || setegid(group) != 0 ||
                    (pw && seteuid(pw->pw_uid) != 0))) {
        log_msg(LOG_ERR, "cannot bind %s as user %s: %s", path, user ? user : "root",
                strerror(errno));
        return -1;
    }
    mask = umask(path ? 0117 : 0077);
    rc = smfi_opensocket(0);
    umask(mask);
    if (as_root && (seteuid(uid) != 0 || setegid(gid) != 0)) {
        log_msg(LOG_ERR, "cannot return to root after binding %s: %s", path, strerror(errno));
        return -1;
    }
    if (rc != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot listen on %s%s", spec,
                pw ? " (the socket is created as `user`, who must be able to write its "
                     "directory)"
                   : "");
        return -1;
    }
    if (!path)
        log_msg(LOG_NOTICE, "socket %s: every local user can connect to a TCP socket and feed "
                            "tlsguard sessions; a unix socket keeps them out (socket in "
                            "tlsguard.conf(5))", spec);
    return 0;
}

/*
 * Each session holds one descriptor; the database, the log and the resolver a few more.
 * libmilter polls (no FD_SETSIZE bound), so the soft limit is raised to fit max_sessions
 * when the hard limit allows; otherwise sessions may fail before the cap: logged.
 */
static void fit_fd_limit(long max_sessions)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_sessions + 64;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return;
    }
    log_msg(LOG_WARNING, "open file limit %llu is below max_sessions=%ld plus 64: sessions may "
                         "fail before the cap (raise LimitNOFILE or ulimit -n)",
            (unsigned long long)rl.rlim_cur, max_sessions);
}

/*
 * TCP_NODELAY on libmilter's listening TCP socket, which Linux passes on to every accepted
 * connection. At end of message tlsguard sends several replies in a row (the header edits,
 * then the verdict) and the MTA answers none of them before the last: with Nagle's
 * algorithm the second one waits for the MTA's delayed ACK of the first, about 40 ms per
 * message. libmilter keeps the socket to itself, so it is found among the process's
 * descriptors: at this point of the start the only one that accepts connections. Failure
 * only costs that latency, so it is logged, never fatal.
 */
static void listen_nodelay(void)
{
    long max = sysconf(_SC_OPEN_MAX);

    for (int fd = 0; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
        int acc = 0, proto = 0, one = 1;
        socklen_t len = sizeof acc, plen = sizeof proto;

        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc ||
            getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) != 0 || proto != IPPROTO_TCP)
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
            log_msg(LOG_WARNING, "TCP_NODELAY on the listening socket: %s", strerror(errno));
    }
}

static void *milter_thread(void *arg)
{
    int *rc = arg;

    unsigned char wake = 0;

    *rc = smfi_main();
    /* Wake the main thread if libmilter stopped on its own. */
    if (write(sig_pipe[1], &wake, 1) < 0) {
        /* The pipe is full: the main thread is waking up anyway. */
    }
    return NULL;
}

static int differ(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) != 0 : a != b;
}

static int restart_only_changed(const tlsg_config *a, const tlsg_config *b)
{
    return differ(a->dns_trust_anchor, b->dns_trust_anchor) ||
           differ(a->dns_forwarder, b->dns_forwarder) ||
           differ(a->dns_unbound_conf, b->dns_unbound_conf) || a->dns_cache_max != b->dns_cache_max ||
           a->db_queue_max != b->db_queue_max || differ(a->socket_group, b->socket_group);
}

static void reload(const char *path)
{
    policy_diag diag = {0};
    snapshot *old = snapshot_current(), *s;

    if (!(s = snapshot_load(path, &diag))) {
        diag_report(&diag, NULL, "reload: ");
        log_msg(LOG_ERR, "reload refused: %d error(s); the previous configuration and policy "
                         "stay in force", diag.errors);
    } else {
        if (strcmp(s->cfg.socket, old->cfg.socket) || strcmp(s->cfg.database, old->cfg.database) ||
            differ(s->cfg.user, old->cfg.user) ||
            s->cfg.log_stderr != old->cfg.log_stderr || restart_only_changed(&s->cfg, &old->cfg))
            log_msg(LOG_WARNING, "reload: socket, socket_group, database, user, log, db_queue_max "
                                 "and dns_* settings (but dns_timeout) take effect at restart");
        log_set_level(s->cfg.log_level);
        recorder_set_retention(s->cfg.retention_days);
        log_msg(LOG_INFO, "reload: configuration %s and policy %s loaded (%zu rules)",
                path ? path : "(built-in)", s->cfg.policy_path ? s->cfg.policy_path : "(built-in)",
                policy_rule_count(s->pol));
        snapshot_install(s);
    }
    snapshot_release(old);
    policy_diag_free(&diag);
}

/* The resolver serves dane rules only: without it they defer (DNS errors never downgrade),
 * so a broken DNS setup is logged loudly but does not stop the recording of TLS. */
static void start_resolver(const tlsg_config *cfg)
{
    char err[600];

    if (config_resolver_init(cfg, err, sizeof err) != 0)
        log_msg(LOG_ERR, "%s; recipients under dane rules will be deferred", err);
}

/* The peer map against its cap (peers_max applies at once), at start and at each reload. */
static void log_peers(void)
{
    snapshot *s = snapshot_current();
    peers_stats st;

    if (s)
        peers_set_max((size_t)s->cfg.peers_max);
    snapshot_release(s);
    peers_get_stats(&st);
    log_msg(LOG_INFO, "downgrade: %zu peers in memory, %zu learned (peers_max = %zu); %zu "
                      "forgotten for room since start, %zu of them learned",
            st.n, st.learned, st.max, st.evicted, st.evicted_learned);
}

/* The TLS history of the peers, from the database the recorder has just migrated. Without it
 * every peer is a first contact: logged, not fatal. */
static void load_peers(const tlsg_config *cfg)
{
    char err[600];
    long n = peers_load(cfg->database, time(NULL), cfg->downgrade_window,
                        (unsigned)cfg->downgrade_min_sessions, (size_t)cfg->peers_max, err,
                        sizeof err);

    if (n < 0)
        log_msg(LOG_ERR, "downgrade: %s; every peer starts without a TLS history", err);
    else
        log_msg(LOG_INFO, "downgrade: TLS history of %zu peers loaded (%ld sessions)",
                peers_count(), n);
    log_peers();
}

/* Waits for open SMTP sessions to finish, up to `seconds`. */
static void drain(long seconds)
{
    struct timespec tick = {0, 50 * 1000000L};
    long ticks = seconds * 20;

    while (milter_active_sessions() > 0 && ticks-- > 0)
        nanosleep(&tick, NULL);
    if (milter_active_sessions() > 0)
        log_msg(LOG_WARNING, "stopping with %d SMTP sessions still open after %lds",
                milter_active_sessions(), seconds);
}

int serve(const char *config_path)
{
    policy_diag diag = {0};
    snapshot *s;
    char err[600];
    pthread_t tid;
    int milter_rc = MI_SUCCESS, stopping = 0;
    sigset_t all, old;

    /* Nothing tlsguard creates is for other users: the database and its journals are 0600
     * (SQLite gives -wal and -shm the database's mode), the socket gets 0660 explicitly. */
    umask(077);
    s = snapshot_load(config_path, &diag);
    if (!s) {
        diag_report(&diag, stderr, NULL);
        policy_diag_free(&diag);
        return 1;
    }
    policy_diag_free(&diag);
    log_open(s->cfg.log_stderr, s->cfg.log_level);
    if (geteuid() == 0 && !s->cfg.user)
        log_msg(LOG_WARNING, "running as root: set `user` in %s so that tlsguard drops root "
                             "after binding its socket", config_path ? config_path : "tlsguard.conf");
    if (install_signals() != 0) {
        log_msg(LOG_ERR, "cannot install signal handlers: %s", strerror(errno));
        goto fail;
    }
    if (smfi_register(gate_wrap(&milter_desc)) != MI_SUCCESS ||
        smfi_settimeout(SESSION_TIMEOUT) != MI_SUCCESS) {
        log_msg(LOG_ERR, "libmilter refused the filter description");
        goto fail;
    }
    if (open_socket(&s->cfg) != 0)
        goto fail;
    listen_nodelay();
    if (drop_privileges(s->cfg.user) != 0)
        goto fail;
    fit_fd_limit(s->cfg.max_sessions);
    if (recorder_open(s->cfg.database, err, sizeof err) != 0) {
        log_msg(LOG_ERR, "%s", err);
        goto fail;
    }
    recorder_set_retention(s->cfg.retention_days);
    load_peers(&s->cfg);
    if (recorder_start(s->cfg.db_queue_max) != 0) {
        recorder_stop(0);
        goto fail;
    }
    start_resolver(&s->cfg);
    log_msg(LOG_INFO, "tlsguard %s listening on %s, database %s, policy %s (%zu rules), mode %s",
            TLSGUARD_VERSION, s->cfg.socket, s->cfg.database,
            s->cfg.policy_path ? s->cfg.policy_path : "(built-in)", policy_rule_count(s->pol),
            s->cfg.monitor ? "monitor" : "enforce");
    snapshot_install(s);

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&tid, NULL, milter_thread, &milter_rc) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        log_msg(LOG_ERR, "cannot start the milter thread");
        recorder_stop(5);
        resolver_shutdown();
        snapshot_install(NULL);
        return 2;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    while (!stopping) {
        unsigned char sig;
        ssize_t n = read(sig_pipe[0], &sig, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (sig == SIGHUP) {
            log_msg(LOG_INFO, "SIGHUP: reloading");
            reload(config_path);
            log_peers();
        } else if (sig == 0) {
            log_msg(milter_rc == MI_SUCCESS ? LOG_INFO : LOG_ERR, "milter loop ended");
            stopping = 1;
        } else {
            log_msg(LOG_INFO, "%s: stopping; draining open sessions",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stopping = 1;
        }
    }
    /*
     * libmilter accepts no session after smfi_stop(): drain first, then stop. Sessions still
     * open after the drain go on calling back into the filter from libmilter's threads: the
     * gate refuses them from now on and waits for the callbacks in flight, so that none runs
     * against the recorder, resolver, peer map or snapshot torn down below.
     */
    milter_drain();
    s = snapshot_current();
    drain(s->cfg.drain_timeout);
    s = snapshot_release(s);
    gate_close();
    smfi_stop();
    pthread_join(tid, NULL);
    recorder_stop(10);
    resolver_shutdown();
    peers_clear();
    snapshot_install(NULL);
    log_msg(LOG_INFO, "stopped");
    return milter_rc == MI_SUCCESS ? 0 : 2;
fail:
    snapshot_release(s);
    return 2;
}
