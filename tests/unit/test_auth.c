/* SPDX-License-Identifier: MIT */
/* Unit tests for the plaintext AUTH check (policy_eval_auth): when it fires, the action
 * from plaintext_auth and mode, the reason naming the login, the exact SMTP replies, and
 * hostile or huge macro values. */
#include "policy/policy.h"
#include "unit.h"

/* libc */
#include <stdlib.h>
#include <string.h>

#define NOTLS .tls_version = NULL, .cipher_bits = -1
#define TLS13 .tls_version = "TLSv1.3", .cipher = "TLS_AES_256_GCM_SHA384", .cipher_bits = 256
#define AUTH(mech, login) .auth_type = (mech), .auth_authen = (login)

#define A_ACC POLICY_ACTION_ACCEPT
#define A_REJ POLICY_ACTION_REJECT
#define A_DEF POLICY_ACTION_DEFER
#define A_TAG POLICY_ACTION_TAG
#define A_QUA POLICY_ACTION_QUARANTINE
#define A_MON POLICY_ACTION_MONITOR
#define V_NONE POLICY_VERDICT_NONE
#define V_AUTH POLICY_VERDICT_AUTH_PLAINTEXT

#define ENFORCE 0
#define MONITOR_MODE 1

/* Nothing found, or the check is off. */
#define CLEAN V_NONE, A_ACC, 0, "", "", ""

#define ALICE_PLAIN "client authenticated as alice (PLAIN) without TLS; the password crossed the network in clear"
#define REPLY_PLAIN "Encryption required for requested authentication mechanism: AUTH PLAIN was used without TLS, " \
                    "so the password crossed the network in clear; use STARTTLS before AUTH"

static const struct arow {
    const char *name;
    policy_facts facts;
    policy_action configured; /* plaintext_auth */
    int monitor;              /* mode = monitor */
    policy_verdict verdict;
    policy_action action;
    int code;
    const char *xcode;
    const char *reply;
    const char *reason;
} rows[] = {
    /* when it fires */
    {"PLAIN without TLS, monitor (the default)", {NOTLS, AUTH("PLAIN", "alice")}, A_MON, ENFORCE, V_AUTH, A_MON, 0,
     "", "", ALICE_PLAIN},
    {"no AUTH, no TLS", {NOTLS}, A_MON, ENFORCE, CLEAN},
    {"empty AUTH macros are no AUTH", {NOTLS, AUTH("", "")}, A_REJ, ENFORCE, CLEAN},
    {"AUTH after STARTTLS", {TLS13, AUTH("PLAIN", "alice")}, A_REJ, ENFORCE, CLEAN},
    {"TLS version only still counts as TLS", {.tls_version = "TLSv1", .cipher_bits = -1, AUTH("LOGIN", "bob")},
     A_REJ, ENFORCE, CLEAN},
    {"empty TLS version is no TLS", {.tls_version = "", .cipher_bits = -1, AUTH("LOGIN", "bob")}, A_MON, ENFORCE,
     V_AUTH, A_MON, 0, "", "",
     "client authenticated as bob (LOGIN) without TLS; the password crossed the network in clear"},
    /* the action: plaintext_auth, and mode = monitor over it */
    {"off", {NOTLS, AUTH("PLAIN", "alice")}, A_ACC, ENFORCE, CLEAN},
    {"off in monitor mode", {NOTLS, AUTH("PLAIN", "alice")}, A_ACC, MONITOR_MODE, CLEAN},
    {"tag", {NOTLS, AUTH("PLAIN", "alice")}, A_TAG, ENFORCE, V_AUTH, A_TAG, 0, "", "", ALICE_PLAIN},
    {"quarantine", {NOTLS, AUTH("PLAIN", "alice")}, A_QUA, ENFORCE, V_AUTH, A_QUA, 0, "", "", ALICE_PLAIN},
    {"defer", {NOTLS, AUTH("PLAIN", "alice")}, A_DEF, ENFORCE, V_AUTH, A_DEF, 451, "4.7.11", REPLY_PLAIN,
     ALICE_PLAIN},
    {"reject", {NOTLS, AUTH("PLAIN", "alice")}, A_REJ, ENFORCE, V_AUTH, A_REJ, 530, "5.7.11", REPLY_PLAIN,
     ALICE_PLAIN},
    {"reject in monitor mode", {NOTLS, AUTH("PLAIN", "alice")}, A_REJ, MONITOR_MODE, V_AUTH, A_MON, 0, "", "",
     ALICE_PLAIN},
    {"defer in monitor mode", {NOTLS, AUTH("PLAIN", "alice")}, A_DEF, MONITOR_MODE, V_AUTH, A_MON, 0, "", "",
     ALICE_PLAIN},
    /* what the reason and the reply say */
    {"LOGIN, lower case", {NOTLS, AUTH("login", "carol@example.org")}, A_REJ, ENFORCE, V_AUTH, A_REJ, 530,
     "5.7.11",
     "Encryption required for requested authentication mechanism: AUTH login was used without TLS, so the "
     "password crossed the network in clear; use STARTTLS before AUTH",
     "client authenticated as carol@example.org (login) without TLS; the password crossed the network in clear"},
    {"CRAM-MD5 sends no password", {NOTLS, AUTH("CRAM-MD5", "dave")}, A_DEF, ENFORCE, V_AUTH, A_DEF, 451, "4.7.11",
     "Encryption required for requested authentication mechanism: AUTH CRAM-MD5 was used without TLS, so the "
     "credentials crossed the network in clear; use STARTTLS before AUTH",
     "client authenticated as dave (CRAM-MD5) without TLS; the credentials crossed the network in clear"},
    {"mechanism only", {NOTLS, AUTH("PLAIN", NULL)}, A_MON, ENFORCE, V_AUTH, A_MON, 0, "", "",
     "client authenticated (PLAIN) without TLS; the password crossed the network in clear"},
    {"login only", {NOTLS, AUTH(NULL, "erin")}, A_DEF, ENFORCE, V_AUTH, A_DEF, 451, "4.7.11",
     "Encryption required for requested authentication mechanism: AUTH was used without TLS, so the "
     "credentials crossed the network in clear; use STARTTLS before AUTH",
     "client authenticated as erin without TLS; the credentials crossed the network in clear"},
    {"hostile login and mechanism sanitised", {NOTLS, AUTH("PL AIN\r\n", "a\"b\\c d\x01\xc3\xa9")}, A_REJ,
     ENFORCE, V_AUTH, A_REJ, 530, "5.7.11",
     "Encryption required for requested authentication mechanism: AUTH PL?AIN?? was used without TLS, so the "
     "credentials crossed the network in clear; use STARTTLS before AUTH",
     "client authenticated as a?b?c d??? (PL?AIN?\?) without TLS; the credentials crossed the network in clear"},
    {"percent kept as sent (the milter escapes it for the MTA)", {NOTLS, AUTH("PLAIN", "100%")}, A_MON, ENFORCE,
     V_AUTH, A_MON, 0, "", "",
     "client authenticated as 100% (PLAIN) without TLS; the password crossed the network in clear"},
};

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

static void run_rows(void)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct arow *r = &rows[i];
        policy_opts opts = {POLICY_ACTION_DEFER, r->monitor};
        policy_decision d;

        memset(&d, 0x5a, sizeof(d)); /* garbage in: every field must be written */
        policy_eval_auth(&opts, &r->facts, r->configured, &d);
        unit_int(r->name, "verdict", d.verdict, r->verdict);
        unit_int(r->name, "action", d.action, r->action);
        unit_int(r->name, "code", d.code, r->code);
        unit_str(r->name, "xcode", d.xcode, r->xcode);
        unit_str(r->name, "reply", d.reply, r->reply);
        unit_str(r->name, "reason", d.reason, r->reason);
        unit_str(r->name, "rule_text", d.rule_text, "");
        unit_int(r->name, "rule", d.rule == NULL, 1);
        unit_int(r->name, "level", d.level, POLICY_LEVEL_NONE);
        unit_int(r->name, "needs_dane", d.needs_dane, 0);
        unit_str(r->name, "dane", d.dane, "");
        unit_int(r->name, "reply printable", printable(d.reply), 1);
        unit_int(r->name, "reason printable", printable(d.reason), 1);
        /* The login stays out of the reply: it may travel on in a bounce. */
        if (r->facts.auth_authen && *r->facts.auth_authen)
            unit_int(r->name, "login not in reply", strstr(d.reply, r->facts.auth_authen) == NULL, 1);
    }
}

/* NULL arguments, and macro values far larger than any buffer. */
static void test_hostile_and_null(void)
{
    policy_facts f = {NOTLS, AUTH("PLAIN", "alice")};
    char *huge = malloc(5001);
    policy_decision d;

    policy_eval_auth(NULL, &f, A_REJ, &d);
    unit_int("NULL opts", "action", d.action, A_REJ);
    unit_int("NULL opts", "code", d.code, 530);
    policy_eval_auth(NULL, NULL, A_REJ, &d);
    unit_int("NULL facts", "verdict", d.verdict, V_NONE);
    unit_int("NULL facts", "action", d.action, A_ACC);
    policy_eval_auth(NULL, &f, A_REJ, NULL); /* must not crash */

    memset(huge, 'a', 5000);
    huge[5000] = '\0';
    f.auth_authen = huge;
    f.auth_type = huge;
    policy_eval_auth(NULL, &f, A_DEF, &d);
    unit_int("5000-byte login and mechanism", "verdict", d.verdict, V_AUTH);
    unit_int("5000-byte login and mechanism", "reason fits", strlen(d.reason) < POLICY_REASON_MAX, 1);
    unit_int("5000-byte login and mechanism", "reply fits", strlen(d.reply) < 300, 1);
    unit_int("5000-byte login and mechanism", "reason ends",
             strstr(d.reason, ") without TLS; the credentials crossed the network in clear") != NULL, 1);
    unit_int("5000-byte login and mechanism", "login cut at 255",
             strncmp(d.reason + strlen("client authenticated as "), huge, 255) == 0 &&
                 d.reason[strlen("client authenticated as ") + 255] == ' ',
             1);
    free(huge);
}

int main(void)
{
    run_rows();
    test_hostile_and_null();
    return unit_report("test_auth");
}
