#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# milter_client.pl - speaks the Sendmail milter protocol (version 6) to a milter the way an
# MTA does, so that a test can send what no well-behaved MTA would: arbitrary macro values,
# binary bytes, huge strings, commands out of order.
#
#   milter_client.pl [-H HOST] -p PORT [-t SECONDS] [-v] [COMMAND ...]
#   milter_client.pl -U SOCKET-PATH ...
#
# Each COMMAND argument is one command line; without arguments, command lines are read from
# stdin (blank lines and lines starting with '#' are skipped). Replies go to stdout, one line
# each, labelled with the command: "MAIL: c", "MAIL: y 451 4.7.0 text", "EOM: i 0 X-TLS-Policy:
# pass ...". Bytes outside printable ASCII in replies are shown as \r, \n, \t, \\ or \xHH.
#
# Commands (words are separated by blanks; see "Escapes" for other bytes):
#   optneg [VERSION [ACTIONS [PROTOCOL]]]  negotiate (done implicitly with the defaults, which
#                                 are what Postfix 3.7 offers: 6 0x1ff 0x1fffff, before the
#                                 first other command). Prints the reply: "OPTNEG: O version=
#                                 actions= protocol=" and one "OPTNEG: symlist STAGE NAMES" per
#                                 macro list the milter asked for.
#   macro STAGE NAME=VALUE ...    SMFIC_MACRO; STAGE is a command letter (C H M R T N E) or
#                                 connect|helo|mail|rcpt|data|eoh|eom. Never answered.
#   connect HOST FAMILY [PORT ADDR]  FAMILY 4, 6, L (unix; ADDR is the path) or U (unknown).
#   helo NAME | mail ARG... | rcpt ARG... | data | header NAME VALUE | eoh | body TEXT |
#   eom [TEXT] | unknown TEXT     the SMTP-stage commands; every ARG is sent NUL-terminated.
#   abort | quit                  never answered; quit closes the connection afterwards.
#   raw CHAR PAYLOAD              sends PAYLOAD exactly as given (no NUL added) with command
#                                 byte CHAR, and waits for a reply.
#   sleep SECONDS                 pause.
#   close                         close the connection without QUIT.
# A step the milter negotiated away (protocol flag SMFIP_NO*) is not sent; the client prints
# "LABEL: skipped (negotiated away)". Prefix a command with '!' to send it anyway. A step the
# milter marked no-reply (SMFIP_NR_*) is sent and no reply is awaited (nothing printed).
# A reply that does not come within -t seconds (default 10) prints "LABEL: (no reply within
# Ns)" - libmilter silently ignores commands that are out of order, e.g. RCPT before MAIL.
# When the milter closes the connection: "LABEL: (connection closed)"; later commands print
# "LABEL: (not sent: connection closed)".
#
# Escapes inside a word: \s space, \t tab, \r CR, \n LF, \0 NUL, \xHH any byte, \\ backslash,
# \e nothing (an empty word), \*N{TEXT} TEXT (escapes allowed, no '}') repeated N times, e.g.
# "helo \*65536{a}" or "macro M {cipher}=\*102400{A}".
#
# Exit status: 0 when every command was handled (whatever the replies), 2 usage error, 3
# cannot connect.

use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Getopt::Long qw(:config no_ignore_case bundling);
use Time::HiRes qw(sleep time);

my ($host, $port, $unix, $timeout, $verbose) = ('127.0.0.1', undef, undef, 10, 0);
GetOptions('H=s' => \$host, 'p=i' => \$port, 'U=s' => \$unix, 't=f' => \$timeout,
           'v' => \$verbose)
    or usage();
usage() unless defined $port || defined $unix;

sub usage {
    print STDERR "usage: $0 [-H HOST] -p PORT | -U PATH [-t SECONDS] [-v] [COMMAND ...]\n";
    exit 2;
}

# Protocol flags (libmilter/mfdef.h).
my %NO = (connect => 0x1, helo => 0x2, mail => 0x4, rcpt => 0x8, body => 0x10,
          header => 0x20, eoh => 0x40, unknown => 0x100, data => 0x200);
my %NR = (connect => 0x1000, helo => 0x2000, mail => 0x4000, rcpt => 0x8000, data => 0x10000,
          unknown => 0x20000, eoh => 0x40000, body => 0x80000, header => 0x80);
my %STAGE = (connect => 'C', helo => 'H', mail => 'M', rcpt => 'R', data => 'T',
             eoh => 'N', eom => 'E');
my @SYMLIST_STAGE = qw(connect helo mail rcpt data eom eoh);
# Replies that end a step; the others (header changes, quarantine, progress ...) come before.
my %FINAL = map { $_ => 1 } qw(a c d r t y O f s 4);

my $sock;
my $closed = 0;
my $negotiated = 0;
my $proto_flags = 0;   # what the milter asked for in its OPTNEG reply

sub printable {
    my $s = shift;
    $s =~ s/\\/\\\\/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    $s =~ s/\t/\\t/g;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord($1))/ge;
    return $s;
}

sub unescape {
    my $w = shift;
    my $out = '';
    while (length $w) {
        if ($w =~ s/^\\\*(\d+)\{([^}]*)\}//) {
            $out .= unescape($2) x $1;
        } elsif ($w =~ s/^\\x([0-9A-Fa-f]{2})//) {
            $out .= chr(hex $1);
        } elsif ($w =~ s/^\\(.)//s) {
            my %e = (s => ' ', t => "\t", r => "\r", n => "\n", '0' => "\0", e => '',
                     '\\' => '\\');
            die "unknown escape \\$1\n" unless exists $e{$1};
            $out .= $e{$1};
        } else {
            $w =~ s/^([^\\]+)//;
            $out .= $1;
        }
    }
    return $out;
}

sub connect_milter {
    if (defined $unix) {
        $sock = IO::Socket::UNIX->new(Peer => $unix, Type => SOCK_STREAM);
    } else {
        $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp',
                                      Timeout => $timeout);
    }
    unless ($sock) {
        print STDERR "cannot connect to the milter: $!\n";
        exit 3;
    }
    binmode $sock;
    $sock->autoflush(1);
}

sub send_packet {
    my ($cmd, $payload) = @_;
    my $pkt = pack('N', 1 + length $payload) . $cmd . $payload;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $pkt) {
        my $n = syswrite($sock, $pkt, length($pkt) - $off, $off);
        return 0 unless defined $n && $n > 0;
        $off += $n;
    }
    printf STDERR "-> %s %d bytes\n", $cmd, length $payload if $verbose;
    return 1;
}

# Reads exactly N bytes before the deadline. Returns the bytes, 'TIMEOUT' or 'EOF'.
sub read_exact {
    my ($n, $deadline) = @_;
    my $buf = '';
    my $sel = IO::Select->new($sock);
    while (length $buf < $n) {
        my $left = $deadline - time;
        return ('TIMEOUT', undef) if $left <= 0;
        next unless $sel->can_read($left);
        my $r = sysread($sock, $buf, $n - length $buf, length $buf);
        return ('EOF', undef) unless $r;
    }
    return ('OK', $buf);
}

# Reads one reply packet: ('OK', cmd, payload), ('TIMEOUT') or ('EOF').
sub read_packet {
    my $deadline = shift;
    my ($st, $len) = read_exact(4, $deadline);
    return ($st) unless $st eq 'OK';
    $len = unpack('N', $len);
    return ('EOF') if $len < 1 || $len > 64 * 1024 * 1024;
    my ($st2, $body) = read_exact($len, $deadline);
    return ($st2) unless $st2 eq 'OK';
    return ('OK', substr($body, 0, 1), substr($body, 1));
}

sub cstrings {
    my $p = shift;
    $p =~ s/\0\z//;
    return split /\0/, $p, -1;
}

sub format_reply {
    my ($c, $p) = @_;
    if ($c eq 'y' || $c eq 'q') {
        return "$c " . printable(join("\0", cstrings($p)));
    } elsif ($c eq 'h') {
        my ($n, $v) = cstrings($p);
        return "h " . printable($n // '') . ": " . printable($v // '');
    } elsif ($c eq 'i' || $c eq 'm') {
        my $idx = length $p >= 4 ? unpack('N', $p) : -1;
        my ($n, $v) = cstrings(substr($p, 4));
        return "$c $idx " . printable($n // '') . ": " . printable($v // '');
    } elsif ($c eq '+' || $c eq '-' || $c eq 'e' || $c eq '2') {
        return "$c " . printable(join(' ', cstrings($p)));
    }
    return length $p ? "$c " . printable($p) : $c;
}

# Waits for the reply to one step and prints it (several lines at end of message).
sub await_reply {
    my $label = shift;
    my $deadline = time + $timeout;
    for (;;) {
        my ($st, $c, $p) = read_packet($deadline);
        if ($st eq 'TIMEOUT') {
            print "$label: (no reply within ${timeout}s)\n";
            return;
        }
        if ($st eq 'EOF') {
            print "$label: (connection closed)\n";
            $closed = 1;
            return;
        }
        if ($c eq 'O') {
            my ($ver, $act, $pro) = unpack('NNN', $p);
            $proto_flags = $pro // 0;
            printf "%s: O version=%d actions=0x%x protocol=0x%x\n", $label, $ver // -1,
                $act // 0, $proto_flags;
            my $rest = length $p > 12 ? substr($p, 12) : '';
            while (length $rest >= 4) {
                my $stage = unpack('N', $rest);
                my $end = index($rest, "\0", 4);
                $end = length $rest if $end < 0;
                my $names = substr($rest, 4, $end - 4);
                $rest = substr($rest, $end + 1);
                printf "%s: symlist %s %s\n", $label, $SYMLIST_STAGE[$stage] // $stage,
                    printable($names);
            }
            return;
        }
        print "$label: ", format_reply($c, $p), "\n";
        return if $FINAL{$c};
    }
}

sub send_step {
    my ($label, $cmd, $payload, $step, $force) = @_;
    if ($closed) {
        print "$label: (not sent: connection closed)\n";
        return;
    }
    if ($step && !$force && ($proto_flags & ($NO{$step} // 0))) {
        print "$label: skipped (negotiated away)\n";
        return;
    }
    unless (send_packet($cmd, $payload)) {
        print "$label: (not sent: connection closed)\n";
        $closed = 1;
        return;
    }
    return if $step && ($proto_flags & ($NR{$step} // 0));
    await_reply($label);
}

sub optneg {
    my ($ver, $act, $pro) = @_;
    $ver //= 6;
    $act //= 0x1ff;
    $pro //= 0x1fffff;
    ($ver, $act, $pro) = map { /^0/ ? oct($_) : $_ } ($ver, $act, $pro);
    send_packet('O', pack('NNN', $ver, $act, $pro)) or die "cannot send OPTNEG\n";
    $negotiated = 1;
    await_reply('OPTNEG');
}

sub nul_args { return join('', map { "$_\0" } @_) }

sub run_command {
    my $line = shift;
    $line =~ s/^\s+//;
    return if $line eq '' || $line =~ /^#/;
    my ($verb, @w) = split /[ \t]+/, $line;
    my $force = $verb =~ s/^!//;
    $verb = lc $verb;
    @w = map { unescape($_) } @w;

    if ($verb eq 'optneg') {
        optneg(@w);
        return;
    }
    if ($verb eq 'sleep') {
        sleep($w[0] // 1);
        return;
    }
    optneg() unless $negotiated;
    my $label = uc $verb;
    if ($verb eq 'macro') {
        my $stage = shift @w // die "macro: no stage\n";
        $stage = $STAGE{lc $stage} // $stage;
        my $p = $stage;
        for my $kv (@w) {
            my ($n, $v) = $kv =~ /^([^=]*)=(.*)\z/s or die "macro: expected NAME=VALUE\n";
            $p .= "$n\0$v\0";
        }
        # Never answered; after the milter closed the connection it is silently not sent.
        $closed = 1 unless $closed || send_packet('D', $p);
    } elsif ($verb eq 'connect') {
        my ($h, $fam, $prt, $addr) = @w;
        die "connect: HOST FAMILY [PORT ADDR]\n" unless defined $fam;
        my $p = "$h\0$fam";
        $p .= pack('n', $prt // 0) . ($addr // '') . "\0" if $fam ne 'U';
        send_step($label, 'C', $p, 'connect', $force);
    } elsif ($verb eq 'helo') {
        send_step($label, 'H', nul_args(@w ? $w[0] : ''), 'helo', $force);
    } elsif ($verb eq 'mail') {
        send_step($label, 'M', nul_args(@w), 'mail', $force);
    } elsif ($verb eq 'rcpt') {
        send_step($label, 'R', nul_args(@w), 'rcpt', $force);
    } elsif ($verb eq 'data') {
        send_step($label, 'T', '', 'data', $force);
    } elsif ($verb eq 'header') {
        send_step($label, 'L', nul_args($w[0] // '', join(' ', @w[1 .. $#w])), 'header', $force);
    } elsif ($verb eq 'eoh') {
        send_step($label, 'N', '', 'eoh', $force);
    } elsif ($verb eq 'body') {
        send_step($label, 'B', join(' ', @w), 'body', $force);
    } elsif ($verb eq 'eom') {
        send_step($label, 'E', join(' ', @w), undef, $force);
    } elsif ($verb eq 'unknown') {
        send_step($label, 'U', nul_args(join(' ', @w)), 'unknown', $force);
    } elsif ($verb eq 'abort' || $verb eq 'quit') {
        if ($closed) {
            print "$label: (not sent: connection closed)\n";
            return;
        }
        send_packet($verb eq 'abort' ? 'A' : 'Q', '') or $closed = 1;
        if ($verb eq 'quit') {
            # libmilter closes its side after QUIT; wait for that so the milter's close
            # callback has run before a test looks at the milter's records.
            my ($st) = read_packet(time + $timeout);
            print "QUIT: unexpected reply\n" if $st eq 'OK';
            close $sock;
            $closed = 1;
        }
    } elsif ($verb eq 'raw') {
        my ($c, @rest) = @w;
        die "raw: CHAR PAYLOAD\n" unless defined $c && length $c == 1;
        send_step($label, $c, join(' ', @rest), undef, 1);
    } elsif ($verb eq 'close') {
        close $sock unless $closed;
        $closed = 1;
    } else {
        die "unknown command: $verb\n";
    }
}

connect_milter();
$| = 1;
my @lines = @ARGV ? @ARGV : <STDIN>;
for my $l (@lines) {
    chomp $l;
    eval { run_command($l); 1 } or do {
        print STDERR "milter_client.pl: $@";
        exit 2;
    };
}
close $sock unless $closed;
exit 0;
