#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# golden_explain.pl TLSGUARD CONF DB: for every transaction the daemon recorded in DB, runs
# `tlsguard explain -c CONF` with the same facts and compares, for MAIL and for each recipient,
# the rule, verdict and action explain gives with the ones the daemon recorded (the reply code
# follows from them and is not recorded). Facts the database keeps only in the decision's
# reason are taken from there: the AUTH mechanism and login of an auth-plaintext verdict, the
# peer and its best version of a downgrade verdict (--peer, --peer-learned). DANE facts come
# from the test's DNS server, still running.
#
# GOLDEN_EXPLAIN_SKIP="why" (set by a test whose transactions cannot be reproduced, e.g. it
# changes the policy or the DNS zone between transactions): nothing is compared, the number of
# transactions is printed with the reason. Exit 0 when all agree, 1 on a mismatch, 2 on error.
use strict;
use warnings;

my ($tg, $conf, $db) = @ARGV;
die "usage: golden_explain.pl TLSGUARD CONF DB\n" unless defined $db;
exit 0 unless -f $db;

sub query {
    my ($sql) = @_;
    open(my $fh, '-|', 'sqlite3', '-batch', '-noheader', '-separator', "\x1f",
         '-newline', "\x1e", '-nullvalue', "\x00NULL", '-cmd', '.timeout 5000', $db, $sql)
        or die "sqlite3: $!\n";
    local $/;
    my $out = <$fh> // '';
    close($fh) or die "golden_explain: sqlite3 failed on $db\n";
    return map { [ map { $_ eq "\x00NULL" ? undef : $_ } split(/\x1f/, $_, -1) ] }
        grep { length } split(/\x1e/, $out);
}

my @msgs = query("SELECT m.id, m.mail_from, m.rule, m.verdict, m.action, m.reason, s.client_addr,
    s.tls_version, s.cipher, s.cipher_bits, s.cert_subject, s.cert_issuer, s.cert_verified,
    s.cert_fp FROM messages m JOIN sessions s ON s.id = m.session_id ORDER BY m.id");
if (my $why = $ENV{GOLDEN_EXPLAIN_SKIP}) {
    printf "golden explain: %d transactions not compared: %s\n", scalar @msgs, $why;
    exit 0;
}

sub bracket { my ($a) = @_; return $a =~ /^</ ? $a : "<$a>"; }

# "what: rule=R level=L verdict=V action=A ..." -> [R, V, A]
sub parse_line {
    my ($l) = @_;
    return $l =~ /: rule=(\S+) level=\S+ verdict=(\S+) action=(\S+)/ ? [$1, $2, $3] : undef;
}

my ($compared, $rcpts, $bad) = (0, 0, 0);
for my $m (@msgs) {
    my ($id, $from, $rule, $verdict, $action, $reason, $client, $tls, $cipher, $bits, $subj,
        $issuer, $verified, $fp) = @$m;
    my @rc = query("SELECT rcpt, rule, verdict, action FROM recipients WHERE message_id = $id
        ORDER BY id");
    my @args = ('explain', '-c', $conf, '--from', bracket($from // ''));
    push @args, '--rcpt', bracket($_->[0]) for @rc;
    push @args, '--rcpt', '<golden@golden.invalid>' unless @rc;
    push @args, '--client', $client if defined $client && length $client;
    if (defined $tls && length $tls) {
        push @args, '--tls-version', $tls;
        push @args, '--cipher', $cipher if defined $cipher && length $cipher;
        push @args, '--cipher-bits', $bits if defined $bits && $bits >= 0;
        push @args, '--cert-subject', $subj if defined $subj && length $subj;
        push @args, '--cert-issuer', $issuer if defined $issuer && length $issuer;
        push @args, '--cert-verified' if $verified;
        push @args, '--cert-fp', $fp if defined $fp && length $fp;
    }
    if ($verdict eq 'auth-plaintext' && ($reason // '') =~ /^client authenticated as (.*) \(([^()]*)\) without TLS/) {
        push @args, '--auth-type', $2, '--auth-authen', $1;
    }
    if ($verdict eq 'downgrade' && ($reason // '') =~ /^peer (\S+) delivered over TLS .*\(best (\S+)\)/) {
        push @args, '--peer', $1, '--peer-learned', $2;
    }
    open(my $fh, '-|', $tg, @args) or die "golden_explain: $tg: $!\n";
    my @out = <$fh>;
    close($fh);
    chomp @out;
    my @lines = grep { /^(sender|rcpt <.*>): rule=/ } @out;
    my @want = ([ ($rule // '') eq '' ? '-' : $rule, $verdict, $action ], map { [ ($_->[1] // '') eq '' ? '-' : $_->[1], $_->[2], $_->[3] ] } @rc);
    my $sender_refused = grep { /^result: MAIL FROM refused/ } @out;
    @want = ($want[0]) if $sender_refused;   # the daemon records no RCPT after a refused MAIL
    my $n = $sender_refused ? 1 : @rc + 1;
    $n = 1 unless @rc;
    my @got = map { parse_line($_) } @lines[0 .. $n - 1];
    my @diff;
    for my $i (0 .. $n - 1) {
        my $g = $got[$i] ? join(' ', @{$got[$i]}) : '(no line)';
        my $w = $want[$i] ? join(' ', @{$want[$i]}) : '(not recorded)';
        push @diff, sprintf("  %s: daemon %s, explain %s", $i ? "rcpt $i" : 'MAIL', $w, $g)
            if $g ne $w;
    }
    if (!$sender_refused && @want > $n) {
        push @diff, "  daemon recorded recipients after a MAIL that explain refuses";
    }
    $compared++;
    $rcpts += @rc unless $sender_refused;
    next unless @diff;
    $bad++;
    print "golden explain: message $id differs: tlsguard ", join(' ', map { /[\s"'<>]/ ? "'$_'" : $_ } @args), "\n",
        join("\n", @diff), "\n", map { "    $_\n" } @out;
}
printf "golden explain: %d transactions (%d recipients) compared, %d differ\n", $compared, $rcpts, $bad;
exit($bad ? 1 : 0);
