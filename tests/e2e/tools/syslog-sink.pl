#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# syslog-sink.pl - a minimal syslog receiver for the end-to-end tests: Sendmail can only log
# through syslog(3), and no syslog daemon runs on a test machine. Listens on a unix datagram
# socket and appends each message, without its <priority> prefix, as one line to a file
# (flushed at once, so that tests can read it while the MTA runs).
#
#   syslog-sink.pl SOCKET LOGFILE      runs until killed; removes SOCKET on TERM/INT
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);

my ($path, $logfile) = @ARGV;
die "usage: syslog-sink.pl SOCKET LOGFILE\n" unless defined $logfile;
unlink $path;
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
    or die "syslog-sink: cannot listen on $path: $!\n";
chmod 0666, $path;
open(my $log, '>>', $logfile) or die "syslog-sink: cannot open $logfile: $!\n";
$log->autoflush(1);
$SIG{TERM} = $SIG{INT} = sub { unlink $path; exit 0 };
my $msg;
while (defined $sock->recv($msg, 65536)) {
    $msg =~ s/^<\d+>//;
    $msg =~ s/[\r\n\0]+$//;
    $msg =~ s/[^\x20-\x7e]/?/g;
    print $log "$msg\n";
}
