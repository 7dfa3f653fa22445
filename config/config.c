/* SPDX-License-Identifier: MIT */
#include "config.h"

/* System. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Core. */
#include "policy/downgrade.h"
#include "policy/xalloc.h"

/* Daemon. */
#include "util/log.h"

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (64L * 1024 * 1024) /* the configuration or the policy file */

void diag_error(policy_diag *diag, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    policy_diag_add_error(diag, xstrdup(buf));
}

/*
 * The option table: one entry per key with its type, default and bounds. A setter
 * validates one value; nothing touches the output until the whole file has parsed.
 */
typedef int (*setter)(tlsg_config *cfg, const char *value, const char **why);

static int set_str(char **slot, const char *value)
{
    free(*slot);
    *slot = value[0] ? xstrdup(value) : NULL;
    return 0;
}

static int set_socket(tlsg_config *c, const char *v, const char **why)
{
    if (strncmp(v, "inet:", 5) && strncmp(v, "inet6:", 6) && strncmp(v, "unix:", 5) &&
        strncmp(v, "local:", 6)) {
        *why = "expected inet:PORT@HOST, inet6:PORT@HOST, unix:PATH or local:PATH";
        return -1;
    }
    if (!strchr(v, ':')[1]) {
        *why = "missing port or path";
        return -1;
    }
    return set_str(&c->socket, v);
}

static int set_path(char **slot, const char *v, const char **why)
{
    if (v[0] != '/') {
        *why = "expected an absolute path";
        return -1;
    }
    return set_str(slot, v);
}

static int set_database(tlsg_config *c, const char *v, const char **why)
{
    return set_path(&c->database, v, why);
}

static int set_policy(tlsg_config *c, const char *v, const char **why)
{
    return set_path(&c->policy_path, v, why);
}

static int set_user(tlsg_config *c, const char *v, const char **why)
{
    return set_str(&c->user, v);
}

static int yesno(const char *v, int *out, const char *yes, const char *no, const char **why,
                 const char *expect)
{
    if (strcmp(v, yes) == 0)
        *out = 1;
    else if (strcmp(v, no) == 0)
        *out = 0;
    else {
        *why = expect;
        return -1;
    }
    return 0;
}

static int set_mode(tlsg_config *c, const char *v, const char **why)
{
    return yesno(v, &c->monitor, "monitor", "enforce", why, "expected enforce or monitor");
}

static int set_header(tlsg_config *c, const char *v, const char **why)
{
    return yesno(v, &c->header, "yes", "no", why, "expected yes or no");
}

static int set_log(tlsg_config *c, const char *v, const char **why)
{
    return yesno(v, &c->log_stderr, "stderr", "syslog", why, "expected syslog or stderr");
}

static int set_on_db_error(tlsg_config *c, const char *v, const char **why)
{
    int tempfail;

    if (yesno(v, &tempfail, "tempfail", "accept", why, "expected accept or tempfail"))
        return -1;
    c->on_db_error = tempfail ? ON_DB_ERROR_TEMPFAIL : ON_DB_ERROR_ACCEPT;
    return 0;
}

static int set_default_action(tlsg_config *c, const char *v, const char **why)
{
    int reject;

    if (yesno(v, &reject, "reject", "defer", why, "expected defer or reject"))
        return -1;
    c->default_action = reject ? POLICY_ACTION_REJECT : POLICY_ACTION_DEFER;
    return 0;
}

static int set_plaintext_auth(tlsg_config *c, const char *v, const char **why)
{
    policy_action a;

    if (strcmp(v, "off") == 0) {
        c->plaintext_auth = POLICY_ACTION_ACCEPT;
        return 0;
    }
    if (policy_action_from_name(v, &a) != 0 || strcmp(v, policy_action_name(a)) != 0 ||
        (a != POLICY_ACTION_MONITOR && a != POLICY_ACTION_TAG && a != POLICY_ACTION_DEFER &&
         a != POLICY_ACTION_REJECT)) {
        *why = "expected off, monitor, tag, defer or reject";
        return -1;
    }
    c->plaintext_auth = a;
    return 0;
}

static int set_log_level(tlsg_config *c, const char *v, const char **why)
{
    int level = log_level_from_name(v);

    if (level < 0) {
        *why = "expected error, warning, notice, info or debug";
        return -1;
    }
    c->log_level = level;
    return 0;
}

static int set_number(long *slot, const char *v, long min, long max, const char **why)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        *why = "expected a whole number in range";
        return -1;
    }
    *slot = n;
    return 0;
}

static int set_db_queue_max(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->db_queue_max, v, 100, 10000000, why);
}

static int set_drain_timeout(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->drain_timeout, v, 0, 3600, why);
}

static int set_dns_trust_anchor(tlsg_config *c, const char *v, const char **why)
{
    return set_path(&c->dns_trust_anchor, v, why);
}

static int set_dns_unbound_conf(tlsg_config *c, const char *v, const char **why)
{
    return set_path(&c->dns_unbound_conf, v, why);
}

static int set_dns_forwarder(tlsg_config *c, const char *v, const char **why)
{
    const char *at = strchr(v, '@');
    char addr[64];
    unsigned char buf[16];
    long port = 53;

    if (strlen(v) >= sizeof addr) {
        *why = "too long";
        return -1;
    }
    snprintf(addr, sizeof addr, "%.*s", at ? (int)(at - v) : (int)strlen(v), v);
    if ((inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1) ||
        (at && set_number(&port, at + 1, 1, 65535, why) != 0)) {
        *why = "expected an IP address, optionally @PORT";
        return -1;
    }
    return set_str(&c->dns_forwarder, v);
}

static int set_dns_timeout(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->dns_timeout, v, 1, 25, why);
}

static int set_dns_cache_max(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->dns_cache_max, v, 100, 10000000, why);
}

static int set_retention_days(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->retention_days, v, 0, 36500, why);
}

static int set_downgrade_min_sessions(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->downgrade_min_sessions, v, 1, DOWNGRADE_SESSIONS_MAX, why);
}

static int set_max_sessions(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->max_sessions, v, 1, 100000, why);
}

static int set_socket_group(tlsg_config *c, const char *v, const char **why)
{
    if (!v[0] || strlen(v) > 64 || strpbrk(v, ": /")) {
        *why = "expected a group name";
        return -1;
    }
    return set_str(&c->socket_group, v);
}

#define DOWNGRADE_WINDOW_MAX (3650L * 86400)

static int set_downgrade_window(tlsg_config *c, const char *v, const char **why)
{
    int64_t secs;

    if (downgrade_window_parse(v, DOWNGRADE_WINDOW_MAX, &secs) != 0) {
        *why = "expected a number with unit s, m, h or d, e.g. 30d";
        return -1;
    }
    c->downgrade_window = (long)secs;
    return 0;
}

/* ---- bounded memory ---- */

static int set_peers_max(tlsg_config *c, const char *v, const char **why)
{
    return set_number(&c->peers_max, v, 100, 100000000, why);
}

static const struct option {
    const char *name;
    setter set;
    const char *range; /* for messages */
} options[] = {
    {"socket", set_socket, "inet:PORT@HOST | inet6:PORT@HOST | unix:PATH"},
    {"database", set_database, "absolute path"},
    {"policy", set_policy, "absolute path"},
    {"mode", set_mode, "enforce | monitor"},
    {"default_action", set_default_action, "defer | reject"},
    {"header", set_header, "yes | no"},
    {"plaintext_auth", set_plaintext_auth, "off | monitor | tag | defer | reject"},
    {"user", set_user, "user name"},
    {"log", set_log, "syslog | stderr"},
    {"log_level", set_log_level, "error | warning | notice | info | debug"},
    {"on_db_error", set_on_db_error, "accept | tempfail"},
    {"db_queue_max", set_db_queue_max, "100..10000000"},
    {"drain_timeout", set_drain_timeout, "0..3600 seconds"},
    {"dns_trust_anchor", set_dns_trust_anchor, "absolute path"},
    {"dns_forwarder", set_dns_forwarder, "ADDR[@PORT]"},
    {"dns_unbound_conf", set_dns_unbound_conf, "absolute path"},
    {"dns_timeout", set_dns_timeout, "1..25 seconds"},
    {"dns_cache_max", set_dns_cache_max, "100..10000000"},
    {"retention_days", set_retention_days, "0 (keep everything)..36500"},
    {"downgrade_min_sessions", set_downgrade_min_sessions, "1..100"},
    {"downgrade_window", set_downgrade_window, "1s..3650d"},
    {"peers_max", set_peers_max, "100..100000000"},
    {"max_sessions", set_max_sessions, "1..100000"},
    {"socket_group", set_socket_group, "group name"},
};

static void config_defaults(tlsg_config *c)
{
    memset(c, 0, sizeof *c);
    c->socket = xstrdup(TLSG_DEFAULT_SOCKET);
    c->database = xstrdup(TLSG_DEFAULT_DATABASE);
    c->default_action = POLICY_ACTION_DEFER;
    c->plaintext_auth = POLICY_ACTION_MONITOR; /* record and log; built-in defaults refuse nothing */
    c->header = 1;
    c->log_level = LOG_INFO;
    c->on_db_error = ON_DB_ERROR_ACCEPT;
    c->db_queue_max = 100000;
    c->drain_timeout = 30;
    c->dns_trust_anchor = xstrdup(TLSG_DEFAULT_TRUST_ANCHOR);
    c->dns_timeout = 10;
    c->dns_cache_max = 100000;
    c->retention_days = 365;
    c->downgrade_min_sessions = 3;
    c->downgrade_window = 30L * 86400;
    c->peers_max = 100000;
    c->max_sessions = 1000;
}

void config_clear(tlsg_config *c)
{
    free(c->path);
    free(c->socket);
    free(c->database);
    free(c->policy_path);
    free(c->user);
    free(c->dns_trust_anchor);
    free(c->dns_forwarder);
    free(c->dns_unbound_conf);
    free(c->socket_group);
    memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static void parse_line(tlsg_config *c, char *line, const char *path, unsigned lineno,
                       unsigned *seen, policy_diag *diag)
{
    char *hash = strchr(line, '#');
    char *eq, *key, *value;
    const char *why = NULL;
    size_t i;

    if (hash)
        *hash = '\0';
    key = trim(line);
    if (!*key)
        return;
    if (!(eq = strchr(key, '='))) {
        diag_error(diag, "%s:%u: error: expected 'key = value'", path, lineno);
        return;
    }
    *eq = '\0';
    key = trim(key);
    value = trim(eq + 1);
    for (i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(options[i].name, key) == 0)
            break;
    if (i == sizeof options / sizeof options[0]) {
        char safe[64];
        policy_sanitize(key, safe, sizeof safe);
        diag_error(diag, "%s:%u: error: unknown key '%s'", path, lineno, safe);
        return;
    }
    if (seen[i]) {
        diag_error(diag, "%s:%u: error: '%s' set twice (first on line %u)", path, lineno, key,
                   seen[i]);
        return;
    }
    seen[i] = lineno;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            why = "contains a control character";
            break;
        }
    if (why || options[i].set(c, value, &why) != 0) {
        char safe[128];
        policy_sanitize(value, safe, sizeof safe);
        diag_error(diag, "%s:%u: error: bad value '%s' for %s: %s (%s)", path, lineno, safe, key,
                   why ? why : "invalid", options[i].range);
    }
}

/* Reads a whole file, the configuration (what "") or the policy (what " policy"), as
 * bytes; returns a malloc'd buffer or NULL with an error in diag. */
static char *read_file(const char *path, const char *what, size_t *len, policy_diag *diag)
{
    FILE *fp = fopen(path, "r");
    size_t cap = 8192, n = 0, got;
    char *buf;

    if (!fp) {
        diag_error(diag, "%s: error: cannot open%s: %s", path, what, strerror(errno));
        return NULL;
    }
    buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= (size_t)CONFIG_FILE_MAX) {
                diag_error(diag, "%s: error:%s file larger than %ld bytes", path, what,
                           CONFIG_FILE_MAX);
                fclose(fp);
                free(buf);
                return NULL;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    if (ferror(fp)) {
        diag_error(diag, "%s: error: read error: %s", path, strerror(errno));
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

int config_parse_text(const char *text, size_t len, const char *name, tlsg_config *out,
                      policy_diag *diag)
{
    unsigned seen[sizeof options / sizeof options[0]] = {0};
    char line[CONFIG_LINE_MAX];
    unsigned lineno = 0;
    int before = diag->errors;
    const char *s;
    size_t pos = 0, n;

    config_defaults(out);
    if (!name)
        name = "(configuration)";
    while (policy_next_line(text, len, &pos, &s, &n)) {
        lineno++;
        /* The limit is that of a line, its newline and a NUL in line[] (the file was read
         * with fgets() into it): files that loaded before still load. */
        if (n > CONFIG_LINE_MAX - 2) {
            diag_error(diag, "%s:%u: error: line longer than %d bytes", name, lineno,
                       CONFIG_LINE_MAX - 2);
            continue;
        }
        if (memchr(s, '\0', n)) {
            diag_error(diag, "%s:%u: error: NUL byte in line", name, lineno);
            continue;
        }
        memcpy(line, s, n);
        line[n] = '\0';
        parse_line(out, line, name, lineno, seen, diag);
    }
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (options[i].set == set_socket_group)
            out->socket_group_line = seen[i];
    if (diag->errors > before) {
        config_clear(out);
        return -1;
    }
    return 0;
}

int config_load(const char *path, tlsg_config *out, policy_diag *diag)
{
    size_t len = 0;
    char *text;
    int rc;

    if (!path) {
        config_defaults(out);
        return 0;
    }
    if (!(text = read_file(path, "", &len, diag))) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    rc = config_parse_text(text, len, path, out, diag);
    free(text);
    if (rc == 0)
        out->path = xstrdup(path);
    return rc;
}

void config_print(const tlsg_config *c, void (*emit)(void *, const char *), void *arg)
{
    char line[1200];

#define EMIT(...) (snprintf(line, sizeof line, __VA_ARGS__), emit(arg, line))
    EMIT("socket = %s", c->socket);
    EMIT("database = %s", c->database);
    EMIT("policy = %s", c->policy_path ? c->policy_path : "(built-in: no rules, refuses nothing)");
    EMIT("mode = %s", c->monitor ? "monitor" : "enforce");
    EMIT("default_action = %s", policy_action_name(c->default_action));
    EMIT("header = %s", c->header ? "yes" : "no");
    EMIT("plaintext_auth = %s", c->plaintext_auth == POLICY_ACTION_ACCEPT
                                    ? "off"
                                    : policy_action_name(c->plaintext_auth));
    EMIT("user = %s", c->user ? c->user : "(unchanged)");
    EMIT("log = %s", c->log_stderr ? "stderr" : "syslog");
    EMIT("log_level = %s", log_level_name(c->log_level));
    EMIT("on_db_error = %s", c->on_db_error == ON_DB_ERROR_TEMPFAIL ? "tempfail" : "accept");
    EMIT("db_queue_max = %ld", c->db_queue_max);
    EMIT("drain_timeout = %ld", c->drain_timeout);
    EMIT("dns_trust_anchor = %s", c->dns_trust_anchor ? c->dns_trust_anchor : "(none)");
    EMIT("dns_forwarder = %s", c->dns_forwarder ? c->dns_forwarder : "(none: full recursion)");
    EMIT("dns_unbound_conf = %s", c->dns_unbound_conf ? c->dns_unbound_conf : "(none)");
    EMIT("dns_timeout = %ld", c->dns_timeout);
    EMIT("dns_cache_max = %ld", c->dns_cache_max);
    EMIT("retention_days = %ld%s", c->retention_days, c->retention_days ? "" : " (keep everything)");
    EMIT("downgrade_min_sessions = %ld", c->downgrade_min_sessions);
    {
        char w[32];
        downgrade_window_format(c->downgrade_window, w, sizeof w);
        EMIT("downgrade_window = %s", w);
    }
    EMIT("peers_max = %ld", c->peers_max);
    EMIT("max_sessions = %ld", c->max_sessions);
    EMIT("socket_group = %s", c->socket_group ? c->socket_group : TLSG_DEFAULT_SOCKET_GROUP);
#undef EMIT
}

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static snapshot *snap_current;

snapshot *snapshot_load(const char *config_path, policy_diag *diag)
{
    snapshot *s = xcalloc(1, sizeof *s);
    size_t len = 0;
    char *text;

    if (config_load(config_path, &s->cfg, diag) != 0) {
        free(s);
        return NULL;
    }
    if (s->cfg.policy_path) {
        if ((text = read_file(s->cfg.policy_path, " policy", &len, diag)) != NULL) {
            s->pol = policy_parse(text, len, s->cfg.policy_path, diag);
            free(text);
        }
    } else {
        s->pol = policy_builtin();
    }
    if (!s->pol) {
        config_clear(&s->cfg);
        free(s);
        return NULL;
    }
    s->opts.default_action = s->cfg.default_action;
    s->opts.monitor = s->cfg.monitor;
    s->refs = 1;
    return s;
}

static void snapshot_destroy(snapshot *s)
{
    s->pol = policy_free(s->pol);
    config_clear(&s->cfg);
    free(s);
}

void snapshot_install(snapshot *s)
{
    snapshot *old;

    pthread_mutex_lock(&snap_lock);
    old = snap_current;
    snap_current = s;
    pthread_mutex_unlock(&snap_lock);
    if (old)
        snapshot_release(old);
}

snapshot *snapshot_current(void)
{
    snapshot *s;

    pthread_mutex_lock(&snap_lock);
    if ((s = snap_current) != NULL)
        s->refs++;
    pthread_mutex_unlock(&snap_lock);
    return s;
}

snapshot *snapshot_release(snapshot *s)
{
    int last;

    if (!s)
        return NULL;
    pthread_mutex_lock(&snap_lock);
    last = --s->refs == 0;
    pthread_mutex_unlock(&snap_lock);
    if (last)
        snapshot_destroy(s);
    return NULL;
}

int config_resolver_init(const tlsg_config *c, char *err, size_t errsize)
{
    resolver_config rc = {
        .trust_anchor = c->dns_trust_anchor,
        .forwarder = c->dns_forwarder,
        .unbound_conf = c->dns_unbound_conf,
        .cache_max = c->dns_cache_max,
    };

    return resolver_init(&rc, err, errsize);
}
