/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_CONFIG_H
#define TLSGUARD_CONFIG_H

/*
 * config - the tlsguard.conf(5) file and the refcounted configuration snapshot.
 *
 * config_load() reads `key = value` lines into a tlsg_config, validating the whole file
 * against the option table before anything is applied; every problem is reported as
 * "FILE:LINE: error: ..." in the diag list. Without a path it yields the built-in defaults.
 *
 * A snapshot bundles one configuration with its parsed policy. It is immutable and shared:
 * snapshot_current() returns the snapshot in force with a reference the caller gives back
 * with snapshot_release(). snapshot_install() makes a new snapshot current (reload); the
 * old one is freed when its last user releases it, so a transaction that pinned it keeps a
 * consistent policy to its end.
 *
 * Ownership: a tlsg_config owns its strings (config_clear() frees them). Errors are returned
 * (-1) with the messages in the diag list, never printed here. Thread-safe: the snapshot
 * functions lock; config_load() touches only its arguments.
 */

#include "dns/resolver.h"
#include "policy/policy.h"

enum on_db_error { ON_DB_ERROR_ACCEPT, ON_DB_ERROR_TEMPFAIL };

struct tlsg_config {
    char *path;          /* the file read, or NULL for built-in defaults */
    char *socket;
    char *database;
    char *policy_path;   /* NULL: built-in policy */
    char *user;          /* NULL: do not switch user */
    int monitor;
    policy_action default_action;
    policy_action plaintext_auth; /* POLICY_ACTION_ACCEPT: off (see policy_eval_auth) */
    int header;
    int log_stderr;
    int log_level;
    enum on_db_error on_db_error;
    long db_queue_max;
    long drain_timeout;
    char *dns_trust_anchor;  /* NULL: no anchor (no DNSSEC validation) */
    char *dns_forwarder;     /* NULL: full recursion from the root hints */
    char *dns_unbound_conf;  /* NULL: none */
    long dns_timeout;        /* seconds, for all the lookups of one recipient domain */
    long dns_cache_max;
    long retention_days;     /* 0: keep every record */
    long downgrade_min_sessions; /* TLS sessions that make a peer learned, 1..100 */
    long downgrade_window;       /* seconds they must fall within */
    /* Bounded memory. */
    long peers_max;              /* peers whose TLS history is kept in memory */
    /* The daemon's own limits. */
    long max_sessions;           /* concurrent milter sessions served; more are refused at MAIL */
    char *socket_group;          /* NULL: TLSG_DEFAULT_SOCKET_GROUP, or the user's group */
    unsigned socket_group_line;  /* its line in path; 0: not set */
};
typedef struct tlsg_config tlsg_config;

/* Where Debian's chrooted Postfix smtpd can reach it (as unix:/tlsguard/tlsguard.sock). */
#define TLSG_DEFAULT_SOCKET "unix:/var/spool/postfix/tlsguard/tlsguard.sock"
#define TLSG_DEFAULT_SOCKET_GROUP "postfix"
/* TLSG_STATEDIR comes from the build (config/CMakeLists.txt), which also installs the directory. */
#define TLSG_DEFAULT_DATABASE TLSG_STATEDIR "/tlsguard.db"
#define TLSG_DEFAULT_TRUST_ANCHOR "/usr/share/dns/root.key" /* Debian's dns-root-data */

/* Loads `path` (NULL: defaults only). Returns 0, or -1 with errors added to diag. On
 * success the caller frees the strings with config_clear(). */
int config_load(const char *path, tlsg_config *out, policy_diag *diag);
/* Parses configuration text already in memory (config_load reads the file, then calls
 * this), e.g. from a fuzz target: defaults first, then every `key = value` line of
 * text[0..len), which need not be NUL-terminated and may hold any bytes (a line with a NUL
 * byte is an error). `name` (NULL: "(configuration)") names the text in messages; out->path
 * stays NULL. Returns 0, or -1 with errors added to diag and *out cleared. On success the
 * caller frees the strings with config_clear(). */
int config_parse_text(const char *text, size_t len, const char *name, tlsg_config *out,
                      policy_diag *diag);
void config_clear(tlsg_config *cfg);
/* resolver_init() with the dns_* keys of a configuration. */
int config_resolver_init(const tlsg_config *cfg, char *err, size_t errsize);
/* Prints every key as understood, `key = value`, one a line. */
void config_print(const tlsg_config *cfg, void (*emit)(void *arg, const char *line), void *arg);

/* Appends a printf-formatted message to a diag list; counts it as an error. */
void diag_error(policy_diag *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct snapshot {
    tlsg_config cfg;
    policy *pol;
    policy_opts opts;
    int refs; /* guarded by the snapshot lock */
} snapshot;

/* Loads config and its policy file. Returns a snapshot with one reference, or NULL with
 * every error in diag. */
snapshot *snapshot_load(const char *config_path, policy_diag *diag);
/* Installs s as current, taking over the caller's reference. */
void snapshot_install(snapshot *s);
snapshot *snapshot_current(void);
/* Returns NULL. */
snapshot *snapshot_release(snapshot *s);

#endif
