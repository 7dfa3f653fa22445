/* SPDX-License-Identifier: MIT */
#ifndef TLSGUARD_POLICY_H
#define TLSGUARD_POLICY_H

/*
 * policy - the pure TLS policy core of tlsguard.
 *
 * A policy is parsed once from text (the policy file), is immutable afterwards and may be
 * shared by any number of threads. Evaluation takes plain facts gathered by an adapter
 * (the milter, the explain command, a test) and fills a decision: which rule matched, the
 * verdict, the action and the exact SMTP reply. Nothing here does I/O: no files, no
 * sockets, no DNS, no clock. OpenSSL is used only to expand cipher strings in memory.
 *
 * Policy file syntax (tlsguard-policy(5)): one rule a line, `SELECTOR LEVEL [attr=value...]`,
 * `#` starts a comment. Selectors: `from:DOMAIN`, `from:.DOMAIN`, `rcpt:DOMAIN`,
 * `rcpt:.DOMAIN`, `client:IP`, `client:CIDR`, `*`. Levels: none, may, encrypt, verify,
 * fingerprint, and for rcpt: rules only dane and dane-only (RFC 7672, see dane.h).
 * Attributes: protocols=, ciphers=, min_bits=, match= (verify: certificate names;
 * fingerprint: certificate fingerprints, required), action= (dane levels: action= only,
 * one of defer, tag, quarantine, monitor; a failing dane rule defers by default), and on
 * sender-side rules downgrade=off|monitor|tag|defer|reject (see downgrade.h).
 *
 * Sender-side rules (client:, from:, *) are evaluated once per message at MAIL FROM; the
 * first matching one in file order applies. rcpt: rules are evaluated per recipient; the
 * first matching rcpt: rule applies to that recipient.
 *
 * DANE in two steps: when the matching rcpt: rule is dane or dane-only and the facts carry
 * no DNS facts (facts->dane NULL), policy_eval_rcpt() answers needs_dane = 1 and refuses
 * nothing; the caller looks the domain up (the core does no DNS) and evaluates again with
 * facts->dane set.
 *
 * Ownership: policy_parse() returns a policy the caller frees with policy_free(). A
 * decision borrows nothing from the facts; it may point at a rule of the policy it came
 * from (valid while that policy lives). Errors: parse problems are collected in a
 * policy_diag, each message naming file and line; policy_parse() returns NULL if there was
 * at least one error. Out of memory aborts (see xalloc.h).
 */

#include "dane.h"

#include <stddef.h>

/* Bounds used by decisions. Every text copied into them is truncated safely. */
#define POLICY_RULE_TEXT_MAX 300 /* selector text as written, e.g. "from:.bank.example" */
#define POLICY_REASON_MAX 512
#define POLICY_REPLY_MAX 900     /* reply text without code; fits one SMTP reply line */
#define POLICY_DOMAIN_MAX 256    /* a domain name: 253 octets + NUL, with room */
#define POLICY_ADDR_MAX 512      /* a normalised envelope address */

typedef enum policy_level {
    POLICY_LEVEL_NONE = 0, /* nothing checked */
    POLICY_LEVEL_MAY,      /* TLS optional; floors only flagged (action monitor) */
    POLICY_LEVEL_ENCRYPT,  /* TLS required; floors enforced */
    POLICY_LEVEL_VERIFY,   /* encrypt + a trusted client certificate (+ match=) */
    POLICY_LEVEL_DANE,     /* rcpt: only; DNSSEC errors defer, DANE recorded (opportunistic) */
    POLICY_LEVEL_DANE_ONLY, /* rcpt: only; as dane, and defer unless a DANE host exists */
    POLICY_LEVEL_FINGERPRINT /* encrypt + a client certificate whose fingerprint is in match=
                              * (pinning: trust by the MTA not needed); needs an MTA that
                              * passes the fingerprint (Sendmail's {cert_fp} or {cert_md5}) */
} policy_level;

typedef enum policy_action {
    POLICY_ACTION_DEFAULT = 0, /* in a rule: use the configured default_action */
    POLICY_ACTION_ACCEPT,      /* requirement met, or nothing required */
    POLICY_ACTION_REJECT,      /* 5xx with a 5.7.x enhanced code */
    POLICY_ACTION_DEFER,       /* 4xx with a 4.7.x enhanced code */
    POLICY_ACTION_TAG,         /* accept; mark the message header */
    POLICY_ACTION_QUARANTINE,  /* accept into the MTA's hold queue */
    POLICY_ACTION_MONITOR      /* accept; record only */
} policy_action;

typedef enum policy_verdict {
    POLICY_VERDICT_NONE = 0,      /* no rule matched, or level none */
    POLICY_VERDICT_PASS,          /* a requirement was checked and met */
    POLICY_VERDICT_FAIL,          /* a requirement (or, at level may, a floor) was not met */
    POLICY_VERDICT_DOWNGRADE,     /* a peer that used TLS came without it, or with less */
    POLICY_VERDICT_AUTH_PLAINTEXT, /* SMTP AUTH in a session without TLS */
    POLICY_VERDICT_UNREADABLE      /* an envelope address whose domain cannot be read
                                    * (policy_eval_unreadable) */
} policy_verdict;

/* What a learned TLS downgrade of the sending peer leads to (rule attribute downgrade=). */
typedef enum policy_downgrade {
    POLICY_DOWNGRADE_UNSET = 0, /* not written: monitor (see downgrade_mode_for) */
    POLICY_DOWNGRADE_OFF,       /* no check at all */
    POLICY_DOWNGRADE_MONITOR,   /* record the verdict, refuse nothing */
    POLICY_DOWNGRADE_TAG,       /* accept, mark the header */
    POLICY_DOWNGRADE_DEFER,     /* 451 4.7.0 */
    POLICY_DOWNGRADE_REJECT     /* 550 5.7.0 */
} policy_downgrade;

typedef enum policy_selector_kind {
    POLICY_SEL_ANY = 0, /* "*" */
    POLICY_SEL_FROM,
    POLICY_SEL_RCPT,
    POLICY_SEL_CLIENT
} policy_selector_kind;

typedef struct policy policy;           /* opaque, immutable after parse */
typedef struct policy_rule policy_rule; /* opaque, owned by its policy */

/* Facts about one SMTP transaction, as the MTA reported them. All strings are borrowed
 * for the duration of one call and may be NULL (= not known / not present). */
typedef struct policy_facts {
    const char *client_addr;      /* textual IPv4 or IPv6 address */
    const char *mail_from_domain; /* normalised (see policy_addr_domain); "" = null sender */
    const char *tls_version;      /* SSL_get_version() string; NULL or "" = no TLS */
    const char *cipher;           /* SSL_CIPHER_get_name() string */
    int cipher_bits;              /* -1 = unknown */
    const char *cert_fp;          /* client certificate fingerprint as the MTA passed it
                                   * (Sendmail: {cert_fp} or {cert_md5}); NULL = none passed */
    int cert_none;                /* 1 = the MTA said the client sent no certificate (Sendmail:
                                   * {verify} NO or NOT); 0 = sent one, or not known */
    const char *cert_subject;     /* client certificate subject CN */
    const char *cert_issuer;      /* client certificate issuer CN */
    int cert_verified;            /* 1 if the MTA trusted the client certificate */
    const char *auth_type;        /* SMTP AUTH mechanism ({auth_type}); NULL or "" = no AUTH */
    const char *auth_authen;      /* SMTP AUTH login ({auth_authen}); NULL or "" = unknown */
    const dane_facts *dane;       /* DNS facts of the recipient domain; NULL = not looked up */
} policy_facts;

/* Settings from the configuration that shape a decision. */
typedef struct policy_opts {
    policy_action default_action; /* POLICY_ACTION_REJECT or POLICY_ACTION_DEFER */
    int monitor;                  /* mode = monitor: never refuse; failed action is monitor */
} policy_opts;

/* The outcome for the sender side of a message or for one recipient. */
typedef struct policy_decision {
    const policy_rule *rule;                /* matched rule, or NULL */
    char rule_text[POLICY_RULE_TEXT_MAX];   /* selector as written, "" if none matched */
    policy_level level;
    policy_verdict verdict;
    policy_action action;                   /* never POLICY_ACTION_DEFAULT */
    char reason[POLICY_REASON_MAX];         /* what was wrong; "" for pass and none */
    int code;                               /* 4xx/5xx for defer/reject, else 0 */
    char xcode[16];                         /* enhanced status code, e.g. "5.7.0", else "" */
    char reply[POLICY_REPLY_MAX];           /* reply text after the codes; printable ASCII */
    int needs_dane;                         /* 1: dane rule matched, facts->dane was NULL */
    char dane[DANE_SUMMARY_MAX];            /* dane_decision.summary when DNS facts were used */
} policy_decision;

/* Diagnostics collected by policy_parse(): "FILE:LINE: error: ..." / "FILE:LINE: warning: ...". */
typedef struct policy_diag {
    char **msgs;
    size_t n, cap;
    int errors;
    int warnings;
} policy_diag;

void policy_diag_free(policy_diag *diag);

/* Adds an error to diag: msg (from malloc) becomes the diagnostics', freed by
 * policy_diag_free(). */
void policy_diag_add_error(policy_diag *diag, char *msg);

/* Steps through text a line at a time, for the parsers of the policy and the configuration:
 * while *pos < len, points *line at the line at *pos, sets *n to its length without the
 * newline, moves *pos past the newline and returns 1; then returns 0. A last line without a
 * newline counts. */
int policy_next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n);

/* Parses policy text. `filename` is used in messages only. Returns NULL if any error was
 * found (all errors are reported, not just the first). Caller frees with policy_free(). */
policy *policy_parse(const char *text, size_t len, const char *filename, policy_diag *diag);

/* The built-in policy used when no policy file is configured: no rules (records
 * everything, refuses nothing). */
policy *policy_builtin(void);

/* Returns NULL so that `p = policy_free(p)` reads naturally. */
policy *policy_free(policy *p);

/* Introspection for `tlsguard check`. */
size_t policy_rule_count(const policy *p);
const policy_rule *policy_rule_at(const policy *p, size_t i);
/* One line describing the rule as understood, e.g.
 * "line 3: from:bank.example encrypt protocols=>=TLSv1.2 action=default". */
void policy_rule_describe(const policy_rule *r, char *buf, size_t size);
policy_selector_kind policy_rule_kind(const policy_rule *r);
unsigned policy_rule_line(const policy_rule *r);
policy_level policy_rule_level(const policy_rule *r);
/* The rule's downgrade= attribute; POLICY_DOWNGRADE_UNSET if not written or r is NULL. */
policy_downgrade policy_rule_downgrade(const policy_rule *r);
const char *policy_downgrade_name(policy_downgrade d);

/* Evaluates the sender-side rules (client:, from:, *) for one message. */
void policy_eval_sender(const policy *p, const policy_opts *opts, const policy_facts *facts,
                        policy_decision *out);

/* Evaluates the rcpt: rules for one recipient domain (normalised, see policy_addr_domain).
 * A dane/dane-only rule without facts->dane gives needs_dane = 1 (verdict none, action
 * accept, no reply). With facts->dane (see dane_decide): pass or, on failure, 451 4.7.5
 * (DNS errors, dane-only not met; action defer unless the rule says tag, quarantine or
 * monitor) or 556 5.1.10 for a null MX (action reject, same exceptions); mode=monitor gives
 * action monitor. decision.dane records the summary. */
void policy_eval_rcpt(const policy *p, const policy_opts *opts, const policy_facts *facts,
                      const char *rcpt_domain, policy_decision *out);

/* Checks SMTP AUTH in a session without TLS (auth.c). When the facts carry an AUTH
 * mechanism or login and no TLS version, the verdict is auth-plaintext with `action`, the
 * configured plaintext_auth: monitor, tag, quarantine, defer or reject (opts->monitor makes
 * it monitor); POLICY_ACTION_ACCEPT (plaintext_auth = off) skips the check. The reason names
 * the login and the mechanism (sanitised, bounded) for logs and the database; the reply,
 * 530 5.7.11 for reject or 451 4.7.11 for defer, names the mechanism only, because a reply
 * may travel on in a bounce. Otherwise verdict none, action accept. No rule: rule_text "". */
void policy_eval_auth(const policy_opts *opts, const policy_facts *facts, policy_action action,
                      policy_decision *out);

/* Combines verdicts for the X-TLS-Policy header: unreadable beats fail beats downgrade beats
 * auth-plaintext beats pass beats none. */
policy_verdict policy_verdict_combine(policy_verdict a, policy_verdict b);

/* Of two decisions about the same message, the one whose action weighs more: reject, then
 * defer, quarantine, tag, monitor, accept. On a tie `a` wins, so callers pass decisions in
 * order of precedence (the matched rule's own, then downgrade, then auth-plaintext). */
const policy_decision *policy_decision_stronger(const policy_decision *a,
                                                const policy_decision *b);

/* Adds `rule` to the comma-separated list `rules` (for the header's rule=) unless it is
 * already an element of it. A rule that does not fit whole is left out. */
void policy_rules_add(char *rules, size_t size, const char *rule);

/* The X-TLS-Policy header value, e.g.
 * "pass tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 rule=from:bank.example" or
 * "none tls=none rule=-". `rules` is a comma-separated list of rule texts or NULL/"". */
void policy_header_value(const policy_facts *facts, policy_verdict v, const char *rules,
                         char *buf, size_t size);

const char *policy_level_name(policy_level l);
const char *policy_action_name(policy_action a);
const char *policy_verdict_name(policy_verdict v);
/* Returns 0 and sets *out, or -1 if the name is unknown. Accepts the names above. */
int policy_action_from_name(const char *name, policy_action *out);

/*
 * Normalisers for untrusted envelope data (addr.c). They never read past `size` and always
 * NUL-terminate the output on success.
 */

/* What an envelope address (MAIL FROM / RCPT TO argument, or an MTA's {mail_addr} /
 * {rcpt_addr}) is, read as Postfix and Sendmail read it (the table in addr.c): RFC 822
 * comments and whitespace dropped, the first <...> taken, a source route (@a,@b:) and a
 * trailing ';' dropped, the domain after the last '@' outside quotes unquoted, lowercased,
 * trailing dots dropped, U-labels turned into A-labels (libidn2). A local part without
 * '@domain' that the MTAs route to a domain anyway ("x@bank.example" quoted, bank.example!x,
 * x%bank.example) gives that domain. */
typedef enum policy_addr_kind {
    POLICY_ADDR_NULL = 0, /* "<>" or "": domain "" */
    POLICY_ADDR_LOCAL,    /* no domain, e.g. "<postmaster>": domain "" */
    POLICY_ADDR_DOMAIN,   /* domain written */
    POLICY_ADDR_LITERAL,  /* an address literal: "[192.0.2.1]", "[ipv6:2001:db8::1]" written */
    POLICY_ADDR_BAD       /* not an address the MTAs would take: domain "" */
} policy_addr_kind;

policy_addr_kind policy_addr_read(const char *addr, char *domain, size_t size);

/* policy_addr_read() for callers that need a domain: 0 with the domain (or "" for the null
 * sender "<>"), -1 with "" for anything else (local part only, literal, unreadable, too
 * small a buffer). */
int policy_addr_domain(const char *addr, char *domain, size_t size);

/* Normalises a whole address for storage and logs: as above but keeps the local part as
 * sent (quotes and backslashes kept, comments and whitespace around words dropped) and
 * normalises only the domain (or a literal, lowercased). "<>" gives "", a local part alone
 * only "postmaster" (any case). Returns 0 or -1. */
int policy_addr_normalize(const char *addr, char *out, size_t size);

/* Normalises a domain as written by an operator or an MTA: lowercase, U-labels to
 * A-labels, one trailing dot dropped; rejects empty labels, characters outside [a-z0-9-_] in
 * labels, and names over 253 octets. Returns 0 or -1. */
int policy_domain_normalize(const char *in, char *out, size_t size);

/*
 * Envelope domains as the MTA uses them (envelope.c).
 */

/* The domain(s) of one envelope address that rules are matched against. */
typedef struct policy_envelope {
    int readable;                       /* 0: fail closed, see policy_eval_unreadable() */
    char domain[POLICY_DOMAIN_MAX];     /* "" = null sender, or <postmaster> */
    char mta_domain[POLICY_DOMAIN_MAX]; /* the MTA's own domain where it differs, else "" */
    char why[128];                      /* readable 0: what could not be read */
} policy_envelope;

/* Reads the command argument `arg` (argv[0] of MAIL/RCPT) and the MTA's parsed address
 * `mta_addr` ({mail_addr} / {rcpt_addr}; NULL or "" if the MTA sent none), rcpt = 0 at MAIL,
 * 1 at RCPT. The MTA's domain is taken where the argument has none (Postfix appends
 * $myorigin, swaps bang paths); where both have one and they differ (Postfix's percent hack
 * for local domains, Sendmail's virtusertable), both are kept and the caller evaluates both.
 * Unreadable: an argument tlsguard cannot parse, an address literal, a local part alone other
 * than postmaster for which the MTA names no domain, an MTA address with no readable domain,
 * and "<>" at RCPT. */
void policy_envelope_read(const char *arg, const char *mta_addr, int rcpt, policy_envelope *out);

/* The decision for an unreadable address: verdict unreadable; action defer with 451 4.1.7
 * (sender) or 451 4.1.3 (recipient) and the reply "tlsguard cannot read the sender address:
 * WHY" when the policy has a rule that reads that address (from: for the sender, rcpt: for
 * a recipient) and mode is not monitor; otherwise action monitor (recorded, not refused). */
void policy_eval_unreadable(const policy *p, const policy_opts *opts, int rcpt,
                            const policy_envelope *env, policy_decision *out);

/*
 * TLS facts (tlsfacts.c).
 */

/* Maps "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3" (case-insensitive) to 0x0300..0x0304.
 * Returns -1 for anything else. */
int policy_tls_version_number(const char *name);
/* The name of a version number 0x0300..0x0304, e.g. "TLSv1.3"; NULL for anything else. */
const char *policy_tls_version_name(int number);

/* Parses a non-negative decimal cipher bit count up to 65535; -1 if missing or invalid. */
int policy_cipher_bits_parse(const char *s);

/* 1 if the cipher name is weak by keyword (RC4, MD5, 3DES/DES-CBC3, IDEA, NULL, EXP,
 * ADH/AECDH/aNULL, DES-CBC-) or unknown to the local OpenSSL; else 0. */
int policy_cipher_is_weak(const char *name);

/* Normalises a certificate fingerprint as an operator or an MTA writes it: hex digits in any
 * case, in pairs separated by ':' or not separated at all, of an MD5 (16 bytes), SHA-1 (20),
 * SHA-224 (28), SHA-256 (32), SHA-384 (48) or SHA-512 (64) digest. Writes the uppercase,
 * colon-separated form Sendmail uses ("AB:CD:..."; at most 192 bytes with the NUL). Returns
 * the digest length in bytes, or -1 if the text is malformed or does not fit in `size`. */
#define POLICY_FP_MAX 192
int policy_fingerprint_normalize(const char *in, char *out, size_t size);

/* The digest a fingerprint length (bytes, as policy_fingerprint_normalize returns) stands
 * for: "MD5", "SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"; "unknown" otherwise. */
const char *policy_fingerprint_digest(int bytes);

/* Decodes xtext (RFC 3461 section 4: "+XX" stands for the byte 0xXX), as Sendmail encodes
 * certificate names in {cert_subject}, {cn_subject} and friends; a '+' not followed by two hex
 * digits is kept. Then sanitises like policy_sanitize(). NULL gives "". */
void policy_xtext_decode(const char *in, char *out, size_t size);

/* Copies `in` to `out` replacing every byte outside printable ASCII (0x20-0x7e) with '?'
 * and truncating to size-1 bytes. Safe for logs and SMTP replies. NULL gives "". */
void policy_sanitize(const char *in, char *out, size_t size);

#endif
