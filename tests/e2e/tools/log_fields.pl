#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# log_fields.pl - parses tlsguard's transaction log lines by the rule in tlsguard(8), "Log
# format", as a postmaster's script would. For each line on stdin that starts "ID: EVENT"
# and carries fields, prints
#     line N id=ID event=EVENT
#     N KEY VALUE
# one row per field, VALUE decoded (\" \\ \xHH), with bytes outside printable ASCII shown as
# \xHH again so that the output stays one row per field. A syslog or stderr prefix
# ("tlsguard[info]: ", "... tlsguard[123]: ") is skipped. Exit status 1 if a line that looks
# like a transaction line does not parse (an unterminated quote, a bad escape, text between
# fields).
use strict;
use warnings;

my $bad = 0;
my $n = 0;
sub show { my $s = shift; $s =~ s/([^\x20-\x7e])/sprintf('\\x%02X', ord $1)/ge; $s }

# One value at the start of $$r: bare (up to a space) or quoted; returns it decoded.
sub value {
    my $r = shift;
    if ($$r =~ s/^([^" ]+)//) { return $1 }
    $$r =~ s/^"((?:[^"\\]|\\["\\]|\\x[0-9A-Fa-f]{2})*)"// or return undef;
    my $v = $1;
    $v =~ s/\\(x([0-9A-Fa-f]{2})|["\\])/defined $2 ? chr hex $2 : $1/ge;
    return $v;
}

while (my $line = <STDIN>) {
    chomp $line;
    $n++;
    $line =~ s/^.*?tlsguard\[[^\]]*\]: //;
    my $rest = $line;
    # The id: quoted, or bare up to the first space without its final colon.
    my $id = $rest =~ s/^([^" ]+): /: / ? $1 : value(\$rest);
    next unless defined $id && $rest =~ s/^: ([a-z][a-z-]*)(?= |$)//;
    my $event = $1;
    my ($broken, @fields) = (0);
    while ($rest =~ s/^ ([a-z_]+)=//) {
        my $k = $1;
        my $v = value(\$rest);
        $broken = 1, last unless defined $v;
        push @fields, [$k, $v];
    }
    next unless @fields || $broken; # a line of fixed text, e.g. "ID: deferred: database ..."
    if ($broken || $rest ne '') {
        print STDERR "line $n: does not parse at: $rest\n";
        $bad = 1;
        next;
    }
    print "line $n id=", show($id), " event=$event\n";
    print "$n $_->[0] ", show($_->[1]), "\n" for @fields;
}
exit $bad;
