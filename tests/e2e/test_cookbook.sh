#!/bin/bash
# SPDX-License-Identifier: MIT
# The sqlite3 cookbook (contrib/queries/*.sql): every query file runs as documented,
# `sqlite3 -header -column DB < FILE`, against a database with known content, and prints
# exactly the expected table.
#
# The content: today's traffic goes through the real Postfix and tlsguard (plaintext,
# TLSv1.3, TLSv1.2, TLSv1.1 and TLSv1 via the OPENSSL_CONF recipe of lib.sh, a trusted and an
# untrusted client certificate, refusals by a from: and a rcpt: rule, a session without
# mail). What Postfix cannot produce is inserted with sqlite3 into the schema tlsguard
# created, after the live traffic is recorded: rows on earlier days (for the time windows
# and the per-day table; Postfix records only "now"), SSLv3 (OpenSSL 3 cannot speak it),
# other client addresses than 127.0.0.1, the null sender, and a certificate subject for an
# untrusted certificate (Sendmail passes one; Postfix passes subject and issuer only for
# trusted certificates).
#
# Timestamps of today's traffic are not known in advance: the checks replace their time of
# day with hh:mm:ss.sss (same width, so the columns stay aligned). Trailing blanks, which
# sqlite3's column mode pads with, are removed before comparing.
. "$(dirname "$0")/lib.sh"
QUERIES=$REPO/contrib/queries
e2e_init
write_policy <<'EOF2'
from:bank.example encrypt protocols=>=TLSv1.2
from:old.example may protocols=>=TLSv1.2
rcpt:legal.example encrypt action=reject
EOF2
# All the traffic comes from one peer (localhost), with TLS versions going up and down: keep
# downgrade detection from learning it, so that only the rules make policy hits here
# (test_downgrade.sh covers downgrades).
start_all default_action=defer downgrade_min_sessions=100

# --- today's traffic through Postfix, all from 127.0.0.1 (client name localhost)
send_mail --from a@plain.example --to r@y.example || fail "plaintext from plain.example refused"
expect_reply 250 "queued as" "plaintext from plain.example: accepted"
send_mail --from b@bank.example --to r@y.example && fail "plaintext from bank.example accepted"
expect_reply 451 "4.7.0 TLS required for mail from bank.example" "plaintext from bank.example: 451 4.7.0"
send_mail --tls --tls-protocol tlsv1_3 --from c@bank.example --to r@y.example || fail "TLSv1.3 refused"
expect_tls TLSv1.3
send_mail --tls --tls-protocol tlsv1_2 --from d@old.example --to r@y.example || fail "TLSv1.2 refused"
expect_tls TLSv1.2
send_mail --old-tls --tls --tls-protocol tlsv1 --from e@old.example --to r@y.example || fail "TLSv1 refused"
expect_tls TLSv1
send_mail --old-tls --tls --tls-protocol tlsv1_1 --from f@old.example --to r@y.example || fail "TLSv1.1 refused"
expect_tls TLSv1.1
send_mail --cert good --from g@partner.example --to r@y.example || fail "trusted certificate refused"
send_mail --cert untrusted --from h@partner.example --to r@y.example || fail "untrusted certificate refused"
send_mail --from a@plain.example --to x@legal.example && fail "plaintext to legal.example accepted"
expect_reply 530 "5.7.0 TLS required for mail to legal.example" "plaintext to legal.example: RCPT 530 5.7.0"
send_mail --quit-after EHLO || true
sql_is "SELECT count(*), count(ended_at), sum(messages) FROM sessions" "10|10|9" \
    "live traffic recorded: 10 sessions, 9 transactions"
sql_is "SELECT count(*) FROM policy_hits" 4 "live traffic: 4 policy hits"

# --- rows Postfix cannot produce, inserted into tlsguard's schema
at() { # DAYS_AGO HH:MM: a timestamp in tlsguard's format
    printf "date('now', '-%d days') || ' %s:00.000'" "$1" "$2"
}
sqlite3 -bail -cmd '.timeout 5000' "$DB" <<EOF || fail "inserting rows"
-- 3 days ago: TLSv1.1 from a legacy relay, two messages; SSLv3 from a host without rDNS
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo,
                      tls_version, cipher, cipher_bits, cert_verified, messages)
VALUES ($(at 3 10:00), $(at 3 10:01), '192.0.2.10', 40001, 'mx.legacy.example', 'mx.legacy.example',
        'TLSv1.1', 'ECDHE-RSA-AES256-SHA', 256, 0, 2);
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), $(at 3 10:00), 'Q1', 'x@legacy.example', 'none', 'accept', 'accepted');
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES ((SELECT max(id) FROM sessions), $(at 3 10:01), 'Q2', 'y@Legacy.Example', 'none', 'accept', 'accepted');
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo,
                      tls_version, cipher, cipher_bits, cert_verified, messages)
VALUES ($(at 3 11:00), $(at 3 11:01), '198.51.100.7', 40002, 'unknown', 'ancient',
        'SSLv3', 'DES-CBC3-SHA', 168, 0, 1);
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), $(at 3 11:00), 'Q3', 'z@ancient.example', 'none', 'accept', 'accepted');
-- 2 days ago: the same host in plaintext, a bounce (null sender), then a session without mail
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES ($(at 2 09:00), $(at 2 09:01), '198.51.100.7', 40003, 'unknown', 'ancient', 1);
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), $(at 2 09:00), 'Q4', '', 'none', 'accept', 'accepted');
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES ($(at 2 09:30), $(at 2 09:30), '198.51.100.7', 40004, 'unknown', 'ancient', 0);
-- 5 days ago: partner.example over TLSv1.2 with a certificate the MTA did not trust, subject
-- and issuer known (as Sendmail reports them)
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo,
                      tls_version, cipher, cipher_bits, cert_subject, cert_issuer, cert_verified, messages)
VALUES ($(at 5 12:00), $(at 5 12:01), '192.0.2.20', 40005, 'mx2.partner.example', 'mx2.partner.example',
        'TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256', 128, 'mx2.partner.example', 'Other CA', 0, 1);
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), $(at 5 12:00), 'Q5', 'i@partner.example', 'none', 'accept', 'accepted');
-- 6 and 8 days ago: plaintext from bank.example through the legacy relay, deferred; only the
-- first is within the last 7 days
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES ($(at 6 08:00), $(at 6 08:00), '192.0.2.10', 40006, 'mx.legacy.example', 'mx.legacy.example', 1);
INSERT INTO messages (session_id, at, mail_from, rule, level, verdict, reason, action, outcome)
VALUES (last_insert_rowid(), $(at 6 08:00), 'j@bank.example', 'from:bank.example', 'encrypt', 'fail',
        'session was not encrypted', 'defer', 'refused');
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES ($(at 8 08:00), $(at 8 08:00), '192.0.2.10', 40007, 'mx.legacy.example', 'mx.legacy.example', 1);
INSERT INTO messages (session_id, at, mail_from, rule, level, verdict, reason, action, outcome)
VALUES (last_insert_rowid(), $(at 8 08:00), 'k@bank.example', 'from:bank.example', 'encrypt', 'fail',
        'session was not encrypted', 'defer', 'refused');
-- 40 days ago, outside every default window: plaintext from gone.example
INSERT INTO sessions (started_at, ended_at, client_addr, client_port, client_name, helo, messages)
VALUES ($(at 40 07:00), $(at 40 07:00), '203.0.113.5', 40008, 'mail.gone.example', 'mail.gone.example', 1);
INSERT INTO messages (session_id, at, queue_id, mail_from, verdict, action, outcome)
VALUES (last_insert_rowid(), $(at 40 07:00), 'Q6', 'l@gone.example', 'none', 'accept', 'accepted');
EOF
pass "older rows, SSLv3, other peers, null sender, untrusted certificate subject inserted"

today=$(date -u +%F)
day() { date -u -d "$1 days ago" +%F; }
d2=$(day 2) d3=$(day 3) d5=$(day 5) d6=$(day 6) d8=$(day 8)

# run_query FILE [SQLITE3-ARGS...]: the documented command line; today's times masked.
run_query() {
    local file=$1
    shift
    sqlite3 -header -column "$@" "$DB" <"$QUERIES/$file" 2>&1 |
        sed -E "s/$today [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}/$today hh:mm:ss.sss/g; s/ +\$//"
}

tested=" "
# expect_query DESC FILE [SQLITE3-ARGS...] <<< WANT
expect_query() {
    local desc=$1 file=$2 got want
    shift 2
    want=$(cat)
    got=$(run_query "$file" "$@")
    if [ "$got" != "$want" ]; then
        diff -u <(printf '%s\n' "$want") <(printf '%s\n' "$got") >&2 || true
        fail "$file: $desc"
    fi
    tested="$tested$file "
    pass "$file: $desc"
}

# 127.0.0.1: 4 plaintext sessions today (plain.example twice, bank.example, no mail) with 3
# transactions; 192.0.2.10: bank.example 6 and 8 days ago; 198.51.100.7: the bounce and the
# session without mail 2 days ago. gone.example (40 days ago) is outside the window.
expect_query "peers and sender domains in plaintext, last 30 days" plaintext-senders.sql <<EOF
Peers with plaintext sessions:
client_addr   client_name        sessions  messages  last_seen
------------  -----------------  --------  --------  -----------------------
127.0.0.1     localhost          4         3         $today hh:mm:ss.sss
192.0.2.10    mx.legacy.example  2         2         $d6 08:00:00.000
198.51.100.7  unknown            2         1         $d2 09:30:00.000

Sender domains with plaintext mail:
sender_domain  messages  plaintext  pct_plaintext  plaintext_peers  last_plaintext
-------------  --------  ---------  -------------  ---------------  -----------------------
bank.example   4         3          75.0           2                $today hh:mm:ss.sss
plain.example  2         2          100.0          1                $today hh:mm:ss.sss
<>             1         1          100.0          1                $d2 09:00:00.000
EOF

# bank.example: plaintext today (refused), 6 and 8 days ago, TLSv1.3 today; legacy.example
# (two spellings of the domain) TLSv1.1; old.example TLSv1 and TLSv1.1 but one TLSv1.2;
# ancient.example SSLv3. partner.example (TLSv1.2/1.3 only) is not listed.
expect_query "sender domains a TLSv1.2 floor would break" tls12-floor.sql <<EOF
sender_domain    plaintext  SSLv3  TLSv1  TLSv1.1  would_break  messages  pct_break  last_break
---------------  ---------  -----  -----  -------  -----------  --------  ---------  -----------------------
bank.example     3          0      0      0        3            4         75.0       $today hh:mm:ss.sss
legacy.example   0          0      0      2        2            2         100.0      $d3 10:01:00.000
old.example      0          0      1      1        2            3         66.7       $today hh:mm:ss.sss
plain.example    2          0      0      0        2            2         100.0      $today hh:mm:ss.sss
<>               1          0      0      0        1            1         100.0      $d2 09:00:00.000
ancient.example  0          1      0      0        1            1         100.0      $d3 11:00:00.000
EOF

# from:bank.example: today (127.0.0.1) and 6 days ago (192.0.2.10), not the one 8 days ago;
# from:old.example: TLSv1 and TLSv1.1 today, monitor (level may); rcpt:legal.example today.
expect_query "policy hits by rule, last 7 days" policy-hits-week.sql <<EOF
rule                action   hits  messages  sender_domains  clients  first_hit                last_hit
------------------  -------  ----  --------  --------------  -------  -----------------------  -----------------------
from:bank.example   defer    2     2         1               2        $d6 08:00:00.000  $today hh:mm:ss.sss
from:old.example    monitor  2     2         1               1        $today hh:mm:ss.sss  $today hh:mm:ss.sss
rcpt:legal.example  reject   1     1         1               1        $today hh:mm:ss.sss  $today hh:mm:ss.sss
EOF

# Today: 4 plaintext, 3 TLSv1.3 (two with a client certificate), 1 each TLSv1.2, TLSv1.1, TLSv1.
daily_head="day         sessions  plaintext  SSLv3  TLSv1  TLSv1.1  TLSv1.2  TLSv1.3  other
----------  --------  ---------  -----  -----  -------  -------  -------  -----"
daily_rows="$d8  1         100.0      0.0    0.0    0.0      0.0      0.0      0.0
$d6  1         100.0      0.0    0.0    0.0      0.0      0.0      0.0
$d5  1         0.0        0.0    0.0    0.0      100.0    0.0      0.0
$d3  2         0.0        50.0   0.0    50.0     0.0      0.0      0.0
$d2  2         100.0      0.0    0.0    0.0      0.0      0.0      0.0
$today  10        40.0       0.0    10.0   10.0     10.0     30.0     0.0"
expect_query "TLS version share per day, last 30 days" tls-versions-daily.sql \
    <<<"$daily_head
$daily_rows"

# partner.example: the trusted certificate (CN client.bank.example from the test CA), the
# untrusted one (Postfix hides it: '-'), and the inserted untrusted one with a subject.
# bank.example and old.example sent over TLS without certificates: not listed.
expect_query "certificates per partner domain" certificates.sql <<EOF
sender_domain    cert_subject         cert_issuer       verified  messages  clients  last_seen
---------------  -------------------  ----------------  --------  --------  -------  -----------------------
partner.example  -                    -                 no        1         1        $today hh:mm:ss.sss
partner.example  client.bank.example  tlsguard test CA  yes       1         1        $today hh:mm:ss.sss
partner.example  mx2.partner.example  Other CA          no        1         1        $d5 12:00:00.000
EOF

# The window is a parameter: 60 days brings in gone.example from 40 days ago. -readonly: the
# files write only to sqlite3's temp schema (.parameter).
expect_query "with .parameter set @days 60, read-only" tls-versions-daily.sql \
    -readonly -cmd '.parameter set @days 60' <<<"$daily_head
$(day 40)  1         100.0      0.0    0.0    0.0      0.0      0.0      0.0
$daily_rows"

# Every query file is tested, shows how to run it and is in the index.
for f in "$QUERIES"/*.sql; do
    f=${f##*/}
    case "$tested" in *" $f "*) ;; *) fail "$f: no expected output in this test" ;; esac
    grep -qF "sqlite3 -header -column /var/lib/tlsguard/tlsguard.db < $f" "$QUERIES/$f" ||
        fail "$f: the header comment does not show how to run it"
    grep -qF "($f)" "$QUERIES/README.md" || fail "$f: not linked from contrib/queries/README.md"
done
pass "every query file: a test, its command line in the header, an entry in the index"
