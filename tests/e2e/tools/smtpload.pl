#!/usr/bin/perl
# SPDX-License-Identifier: MIT
#
# smtpload.pl - a bounded SMTP load driver for the fault tests (tests/e2e/test_fault_*.sh).
# One process, non-blocking sockets under poll(), so that it can hold 1,000 sessions open at
# once; every message carries a unique marker and gets one line in the log saying what the
# server answered, so a test can tell which message was accepted (with its queue id), which was
# deferred (4xx: the sender still has it), which was rejected, and which is in doubt.
#
#   smtpload.pl --port PORT[,PORT...] [options]
#
# Messages are numbered; by default FIRST .. FIRST+COUNT-1, or the numbers listed in --only FILE.
#   --host ADDR          server address (127.0.0.1; loopback only)
#   --port P1,P2,...     the server's port; with several, sessions take them in turn (one
#                        Postfix smtpd service spawns its processes one after the other: more
#                        services start 1,000 sessions sooner)
#   --count N --first K  the message numbers (100, 1)
#   --only FILE          send only these numbers (one per line; e.g. the deferred ones, again)
#   --concurrency C      sessions open at once (10)
#   --per-session M      messages per session, one after the other (1)
#   --rate R             start at most R messages per second overall (0: as fast as possible)
#   --prefix P           marker: Subject "P-N", Message-ID <P-N@smtpload> (load)
#   --from ADDR --to ADDR[,ADDR...]
#                        envelope; "%d" is the message number, and "%{a|b|c}" picks one of
#                        the alternatives by number (N mod 3) (sender%d@x.example,
#                        rcpt%d@y.example)
#   --helo NAME          (load.tlsguard.test)
#   --timeout S          seconds to wait for any one reply (60)
#   --deadline S         the whole run stops after S seconds, whatever is left (170)
#   --hold S             after the last RCPT of its message (--hold-at rcpt, the default) or
#                        after MAIL (--hold-at mail), each session waits until every session
#                        has got there (or --hold-wait S passed), then the driver prints
#                        "held N" to --hold-file (or stderr), keeps them all open S seconds
#                        more, then goes on everywhere (DATA, or RCPT)
#   --log FILE           the per-message log (stdout)
#
# Log: one line per message, tab-separated:
#   N STATUS STAGE CODE QUEUEID T0 T1 RCPTS TEXT SESSION TS
# STATUS: accepted (250 to the final dot), deferred (a 4xx), rejected (a 5xx), error (the
# connection failed or went silent; STAGE "dot" means the message is in doubt), notsent (the
# deadline came first). STAGE: the command whose reply decided (connect banner ehlo mail rcpt
# data dot). T0/T1: epoch seconds of the first command and of the deciding reply. RCPTS:
# "addr=reply;addr=reply" (every RCPT's reply, code and text). TEXT: the deciding reply.
# SESSION: the session's number (1, 2, ... in the order they were opened); TS: epoch seconds
# when it connected.
# A summary goes to stderr: counts per status and the duration. Exit status 0 unless the
# arguments are wrong.
use strict;
use warnings;
use Errno qw(EINPROGRESS EAGAIN EWOULDBLOCK EINTR);
use Getopt::Long;
use IO::Poll qw(POLLIN POLLOUT POLLERR POLLHUP);
use Socket qw(AF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton pack_sockaddr_in);
use Time::HiRes qw(time);

my %o = (
    host => '127.0.0.1', count => 100, first => 1, concurrency => 10, 'per-session' => 1,
    rate => 0, prefix => 'load', from => 'sender%d@x.example', to => 'rcpt%d@y.example',
    helo => 'load.tlsguard.test', timeout => 60, deadline => 170, hold => 0,
    'hold-wait' => 60, 'hold-at' => 'rcpt',
);
GetOptions(\%o, 'host=s', 'port=s', 'count=i', 'first=i', 'only=s', 'concurrency=i',
    'per-session=i', 'rate=f', 'prefix=s', 'from=s', 'to=s', 'helo=s', 'timeout=f',
    'deadline=f', 'hold=f', 'hold-wait=f', 'hold-at=s', 'hold-file=s', 'log=s')
    or die "usage: smtpload.pl --port PORT [options] (see the file's head)\n";
die "smtpload.pl: --port is required\n" unless $o{port};
die "smtpload.pl: loopback only\n" unless $o{host} =~ /^127\./;
die "smtpload.pl: --hold-at mail or rcpt\n" unless $o{'hold-at'} =~ /^(mail|rcpt)$/;
my @ports = split /,/, $o{port};
die "smtpload.pl: bad --port $o{port}\n" if grep { !/^\d+$/ } @ports;

my @todo;
if ($o{only}) {
    open my $fh, '<', $o{only} or die "smtpload.pl: $o{only}: $!\n";
    @todo = grep { /^\d+$/ } map { s/\s+//gr } <$fh>;
} else {
    @todo = ($o{first} .. $o{first} + $o{count} - 1);
}
my $total = @todo;

my $log;
if (!$o{log} || $o{log} eq '-') {
    $log = \*STDOUT;
} else {
    open $log, '>', $o{log} or die "smtpload.pl: $o{log}: $!\n";
}
$log->autoflush(1);

sub expand {
    my ($s, $n) = @_;
    $s =~ s/%\{([^}]*)\}/my @a = split m{\|}, $1; $a[$n % @a]/ge;
    $s =~ s/%d/$n/g;
    return $s;
}

my $t_start = time;
my $started = 0;  # messages taken from @todo
my %count;        # per status
my $poll = IO::Poll->new;
my %sess;         # fileno => session
my $sessions_opened = 0;
my $hold_state = $o{hold} > 0 ? 'gathering' : 'off';
my ($hold_since, $hold_until);

sub record {
    my ($m, $status, $stage, $code, $text) = @_;
    return if $m->{done};
    $m->{done} = 1;
    $count{$status}++;
    my $rcpts = join ';', map { "$_->[0]=$_->[1]" } @{ $m->{rcpts} };
    $text = '' unless defined $text;
    $text =~ s/[\t\r\n]+/ /g;
    $rcpts =~ s/[\t\r\n]+/ /g;
    printf $log "%d\t%s\t%s\t%s\t%s\t%.3f\t%.3f\t%s\t%s\t%d\t%.3f\n", $m->{n}, $status,
        $stage, $code // '-', $m->{qid} // '-', $m->{t0} // time, time, $rcpts || '-', $text,
        $m->{session} // 0, $m->{session_t0} // 0;
}

sub status_of {
    my $code = shift;
    return 'accepted' if $code =~ /^2/;
    return 'deferred' if $code =~ /^4/;
    return 'rejected' if $code =~ /^5/;
    return 'error';
}

# May another message start now? The rate limit keeps no credit: a slow start (Postfix
# spawning its processes) is not made up for by a burst later.
my $next_slot = 0;
sub may_start {
    return 0 unless @todo;
    return 1 unless $o{rate} > 0;
    return time >= $next_slot;
}

sub new_message {
    my $n = shift @todo;
    $started++;
    if ($o{rate} > 0) {
        my $now = time;
        $next_slot = ($next_slot > $now - 1 / $o{rate} ? $next_slot : $now) + 1 / $o{rate};
    }
    my $from = expand($o{from}, $n);
    my @to = map { expand($_, $n) } split /,/, $o{to};
    return { n => $n, from => $from, to => \@to, rcpts => [], t0 => time, next_rcpt => 0 };
}

sub send_line {
    my ($s, $line) = @_;
    $s->{out} .= "$line\r\n";
    $s->{deadline} = time + $o{timeout};
    $poll->mask($s->{sock} => POLLIN | POLLOUT);
}

sub close_session {
    my ($s, $why) = @_;
    if ($s->{msg} && !$s->{msg}{done}) {
        record($s->{msg}, 'error', $s->{state}, '-', $why);
    }
    $poll->remove($s->{sock});
    delete $sess{ fileno $s->{sock} };
    close $s->{sock};
}

sub open_session {
    socket(my $sock, AF_INET, SOCK_STREAM, 0) or do {
        my $m = new_message();
        record($m, 'error', 'connect', '-', "socket: $!");
        return;
    };
    $sock->blocking(0);
    my $addr = pack_sockaddr_in($ports[ $sessions_opened % @ports ], inet_aton($o{host}));
    my $s = { sock => $sock, state => 'connect', in => '', out => '', lines => [],
              msgs => 0, deadline => time + $o{timeout} };
    $s->{msg} = new_message();
    $s->{msgs} = 1;
    $sessions_opened++;
    $s->{id} = $sessions_opened;
    $s->{t0} = time;
    @{ $s->{msg} }{qw(session session_t0)} = ($s->{id}, $s->{t0});
    if (!connect($sock, $addr) && $! != EINPROGRESS) {
        record($s->{msg}, 'error', 'connect', '-', "connect: $!");
        close $sock;
        return;
    }
    $sess{ fileno $sock } = $s;
    $poll->mask($sock => POLLOUT);
}

sub next_message_or_quit {
    my $s = shift;
    $s->{msg} = undef;
    if ($s->{msgs} < $o{'per-session'} && @todo) {
        if (!may_start()) {
            $s->{state} = 'idle'; # picked up by the main loop when the rate allows
            $s->{deadline} = undef;
            $poll->mask($s->{sock} => POLLIN);
            return;
        }
        begin_message($s);
        return;
    }
    $s->{state} = 'quit';
    send_line($s, 'QUIT');
}

# The next message of an open session.
sub begin_message {
    my $s = shift;
    $s->{msg} = new_message();
    @{ $s->{msg} }{qw(session session_t0)} = ($s->{id}, $s->{t0});
    $s->{msgs}++;
    send_mail_from($s);
}

sub send_mail_from {
    my $s = shift;
    $s->{msg}{t0} = time;
    $s->{state} = 'mail';
    send_line($s, "MAIL FROM:<$s->{msg}{from}>");
}

sub hold {
    my $s = shift;
    $s->{state} = 'held';
    $s->{deadline} = undef;
    $poll->mask($s->{sock} => POLLIN);
}

sub send_rcpt {
    my $s = shift;
    $s->{state} = 'rcpt';
    send_line($s, "RCPT TO:<$s->{msg}{to}[0]>");
}

sub send_data {
    my $s = shift;
    $s->{state} = 'data';
    send_line($s, 'DATA');
}

# One complete reply (code, joined text) in state STATE.
sub on_reply {
    my ($s, $code, $text) = @_;
    my $m = $s->{msg};
    my $st = $s->{state};
    my $ok = $code =~ /^2/;
    if ($code eq '421' && $st ne 'quit') {
        record($m, 'deferred', $st, $code, $text) if $m;
        $s->{msg} = undef;
        close_session($s, '421');
        return;
    }
    if ($st eq 'banner') {
        if ($ok) { $s->{state} = 'ehlo'; send_line($s, "EHLO $o{helo}"); return; }
        record($m, status_of($code), 'banner', $code, $text);
        $s->{msg} = undef;
        $s->{state} = 'quit';
        send_line($s, 'QUIT');
    } elsif ($st eq 'ehlo') {
        if ($ok) { send_mail_from($s); return; }
        record($m, status_of($code), 'ehlo', $code, $text);
        $s->{msg} = undef;
        $s->{state} = 'quit';
        send_line($s, 'QUIT');
    } elsif ($st eq 'mail') {
        if (!$ok) {
            record($m, status_of($code), 'mail', $code, $text);
            $s->{state} = 'rset';
            send_line($s, 'RSET');
            return;
        }
        if ($hold_state ne 'off' && $o{'hold-at'} eq 'mail') {
            hold($s);
            return;
        }
        send_rcpt($s);
    } elsif ($st eq 'rcpt') {
        my $addr = $m->{to}[ $m->{next_rcpt}++ ];
        push @{ $m->{rcpts} }, [ $addr, "$code $text" ];
        $m->{rcpt_ok}++ if $ok;
        if ($m->{next_rcpt} < @{ $m->{to} }) {
            send_line($s, "RCPT TO:<$m->{to}[$m->{next_rcpt}]>");
            return;
        }
        if (!$m->{rcpt_ok}) {
            # The worst reply decides: a 4xx leaves the message with the sender.
            my @codes = map { substr($_->[1], 0, 3) } @{ $m->{rcpts} };
            my ($worst) = (grep({ /^4/ } @codes), @codes);
            record($m, status_of($worst), 'rcpt', $worst, $m->{rcpts}[-1][1]);
            $s->{state} = 'rset';
            send_line($s, 'RSET');
            return;
        }
        if ($hold_state ne 'off' && $o{'hold-at'} eq 'rcpt') {
            hold($s);
            return;
        }
        send_data($s);
    } elsif ($st eq 'data') {
        if ($code ne '354') {
            record($m, status_of($code), 'data', $code, $text);
            $s->{state} = 'rset';
            send_line($s, 'RSET');
            return;
        }
        my $marker = "$o{prefix}-$m->{n}";
        my $to = join ', ', map { "<$_>" } @{ $m->{to} };
        $s->{state} = 'dot';
        $s->{out} .= "From: <$m->{from}>\r\nTo: $to\r\nSubject: $marker\r\n" .
            "Message-ID: <$marker\@smtpload>\r\n\r\nmarker $marker\r\n.\r\n";
        $s->{deadline} = time + $o{timeout};
        $poll->mask($s->{sock} => POLLIN | POLLOUT);
    } elsif ($st eq 'dot') {
        if ($ok && $text =~ /queued as ([0-9A-Za-z]+)/) {
            $m->{qid} = $1;
        }
        record($m, status_of($code), 'dot', $code, $text);
        next_message_or_quit($s);
    } elsif ($st eq 'rset') {
        next_message_or_quit($s);
    } elsif ($st eq 'quit') {
        close_session($s, 'quit');
    } else {
        close_session($s, "unexpected reply in state $st: $code $text");
    }
}

sub on_readable {
    my $s = shift;
    my $n = sysread($s->{sock}, my $buf, 65536);
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        close_session($s, "read: $!");
        return;
    }
    if ($n == 0) {
        close_session($s, 'connection closed by the server');
        return;
    }
    $s->{in} .= $buf;
    while ($s->{in} =~ s/^([^\n]*)\n//) {
        my $line = $1;
        $line =~ s/\r$//;
        if ($line =~ /^(\d{3})([ -])(.*)$/) {
            push @{ $s->{lines} }, $3;
            next if $2 eq '-';
            my $text = join ' ', @{ $s->{lines} };
            $s->{lines} = [];
            $s->{deadline} = undef;
            on_reply($s, $1, $text);
            return unless $sess{ fileno($s->{sock}) // -1 };
        } else {
            close_session($s, "bad reply line: $line");
            return;
        }
    }
}

sub on_writable {
    my $s = shift;
    if ($s->{state} eq 'connect') {
        my $err = unpack 'i', getsockopt($s->{sock}, SOL_SOCKET, SO_ERROR);
        if ($err) {
            local $! = $err;
            close_session($s, "connect: $!");
            return;
        }
        $s->{state} = 'banner';
        $s->{deadline} = time + $o{timeout};
        $poll->mask($s->{sock} => POLLIN);
        return;
    }
    if (length $s->{out}) {
        my $n = syswrite($s->{sock}, $s->{out});
        if (!defined $n) {
            return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            close_session($s, "write: $!");
            return;
        }
        substr($s->{out}, 0, $n) = '';
    }
    $poll->mask($s->{sock} => POLLIN) unless length $s->{out};
}

my $hold_out;
if ($o{'hold-file'}) {
    open $hold_out, '>', $o{'hold-file'} or die "smtpload.pl: $o{'hold-file'}: $!\n";
    $hold_out->autoflush(1);
} else {
    $hold_out = \*STDERR;
}

my $next_scan = 0;
while (1) {
    my $now = time;
    if ($now - $t_start > $o{deadline}) {
        for my $s (values %sess) { close_session($s, 'deadline') }
        while (@todo) { record(new_message(), 'notsent', 'deadline', '-', 'deadline') }
        last;
    }
    while (keys(%sess) < $o{concurrency} && may_start()) {
        open_session();
    }
    # The scans over every session, at most every 50 ms (not at each poll() return: with
    # 1,000 sessions that would be most of this process's work).
    my $scan = $now >= $next_scan;
    $next_scan = $now + 0.05 if $scan;
    for my $s ($scan ? values %sess : ()) {
        if ($s->{state} eq 'idle' && !@todo) {
            $s->{state} = 'quit';
            send_line($s, 'QUIT');
        } elsif ($s->{state} eq 'idle' && may_start()) {
            begin_message($s);
        } elsif ($s->{deadline} && $now > $s->{deadline}) {
            close_session($s, "no reply within $o{timeout} s");
        }
    }
    if ($hold_state eq 'gathering' && $scan) {
        my $held = grep { $_->{state} eq 'held' } values %sess;
        my $busy = grep { $_->{msg} && $_->{state} ne 'held' } values %sess;
        $hold_since //= $now;
        if (($held && !$busy && !@todo) || $now - $hold_since > $o{'hold-wait'}) {
            printf $hold_out "held %d sessions at %.3f (after %.1f s)\n", $held, $now,
                $now - $t_start;
            $hold_state = 'holding';
            $hold_until = $now + $o{hold};
        }
    } elsif ($hold_state eq 'holding' && $now >= $hold_until) {
        $hold_state = 'off';
        printf $hold_out "released at %.3f\n", $now;
        for my $s (values %sess) {
            next unless $s->{state} eq 'held';
            if ($o{'hold-at'} eq 'mail') { send_rcpt($s) } else { send_data($s) }
        }
    }
    last if !%sess && !@todo;
    my $ready = $poll->poll(0.05);
    next unless $ready && $ready > 0;
    for my $sock ($poll->handles) {
        my $ev = $poll->events($sock);
        next unless $ev;
        my $fd = fileno $sock;
        next unless defined $fd;
        my $s = $sess{$fd} or next;
        if ($ev & (POLLIN | POLLHUP | POLLERR)) {
            if ($s->{state} eq 'connect') {
                on_writable($s);
            } else {
                on_readable($s);
            }
            next unless $sess{$fd} && $sess{$fd} == $s;
        }
        on_writable($s) if $ev & POLLOUT;
    }
}

my $took = time - $t_start;
printf STDERR "smtpload: %d messages in %d sessions, %.1f s:%s\n", $total, $sessions_opened,
    $took, join('', map { " $_=$count{$_}" } sort keys %count);
exit 0;
