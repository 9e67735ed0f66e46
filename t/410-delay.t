# fado-delay, the user-space WAN emulator: a round trip through it costs
# twice the configured one-way delay, bytes pass unchanged, and several
# connections are served at once.

use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);

my $base = $ENV{FADO_BASE_PORT};
my ($echo_port, $proxy_port) = ($base + 93, $base + 94);

# An echo server: each connection gets back what it sends.
my $echo = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $echo_port,
    Listen => 32, ReuseAddr => 1) or die "echo: $!";
my $echo_pid = fork // die;
if ($echo_pid == 0) {
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $echo->accept) {
        if (fork == 0) {
            while (sysread($c, my $buf, 65536)) { syswrite($c, $buf) }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}
close $echo;

my $proxy_pid = fork // die;
if ($proxy_pid == 0) {
    { exec "$ENV{FADO_BUILD}/fado-delay", '--listen', "127.0.0.1:$proxy_port",
           '--target', "127.0.0.1:$echo_port", '--delay', '25ms' }
    POSIX::_exit(127);
}
my $sock;
for (1 .. 100) {
    $sock = IO::Socket::INET->new("127.0.0.1:$proxy_port") and last;
    sleep 0.05;
}
ok($sock, 'the proxy accepts connections');

sub roundtrip {
    my ($s, $payload) = @_;
    my $t0 = time;
    syswrite($s, $payload);
    my $got = '';
    while (length $got < length $payload) {
        sysread($s, $got, 65536, length $got) or last;
    }
    return ($got, (time - $t0) * 1000);
}

my @rtt;
for (1 .. 5) {
    my ($got, $ms) = roundtrip($sock, "ping $_\n");
    is($got, "ping $_\n", "echo $_ came back unchanged");
    push @rtt, $ms;
}
my ($min) = sort { $a <=> $b } @rtt;
cmp_ok($min, '>=', 50, "a round trip takes at least 2 x 25 ms (fastest: @{[sprintf '%.1f', $min]} ms)");
cmp_ok($min, '<', 150, 'and not much more');

my $big = join '', map { chr(($_ * 13) % 256) } 1 .. 1024 * 1024;
my ($got) = roundtrip($sock, $big);
ok($got eq $big, '1 MiB passes through unchanged');

# Several connections at once are each delayed, not serialised.
my @socks = map { IO::Socket::INET->new("127.0.0.1:$proxy_port") or die } 1 .. 8;
my $t0 = time;
syswrite($_, "x\n") for @socks;
my $all = 1;
for my $s (@socks) {
    my $buf = '';
    sysread($s, $buf, 16);
    $all &&= $buf eq "x\n";
}
my $ms = (time - $t0) * 1000;
ok($all, 'eight concurrent connections each get their echo');
cmp_ok($ms, '<', 8 * 50, "in parallel: all eight in @{[sprintf '%.0f', $ms]} ms, less than 8 round trips");


# --rate: 512 KiB at 2 MiB/s need 0.25 s; the way back overlaps the way out.
my $rate_port = $base + 95;
my $rate_pid = fork // die;
if ($rate_pid == 0) {
    { exec "$ENV{FADO_BUILD}/fado-delay", '--listen', "127.0.0.1:$rate_port",
           '--target', "127.0.0.1:$echo_port", '--delay', '1ms', '--rate', 2 * 1024 * 1024 }
    POSIX::_exit(127);
}
my $rs;
for (1 .. 100) { $rs = IO::Socket::INET->new("127.0.0.1:$rate_port") and last; sleep 0.05 }
my $half = substr($big, 0, 512 * 1024);
my $rt0 = time;
my $wpid = fork // die;
if ($wpid == 0) { syswrite($rs, $half); POSIX::_exit(0) }
my $echoed = '';
while (length $echoed < length $half) { sysread($rs, $echoed, 65536, length $echoed) or last }
my $rate_s = time - $rt0;
waitpid $wpid, 0;
ok($echoed eq $half, '512 KiB pass the rate-limited proxy unchanged');
cmp_ok($rate_s, '>=', 0.22, sprintf('at 2 MiB/s they take about 0.25 s, not milliseconds (%.2f s)', $rate_s));
cmp_ok($rate_s, '<', 3, 'and finish within 3 s');
close $rs;
kill 'TERM', $rate_pid;
waitpid $rate_pid, 0;

close $_ for $sock, @socks;
kill 'TERM', $proxy_pid;
waitpid $proxy_pid, 0;
is($?, 0, "the proxy exits 0 on SIGTERM (status $?)");
kill 'TERM', $echo_pid;
waitpid $echo_pid, 0;
done_testing();
