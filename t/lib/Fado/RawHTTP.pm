package Fado::RawHTTP;

# Raw HTTP over sockets for the hardening suites: requests exactly as
# written (no client normalising paths or fixing headers), from a chosen
# loopback source address, and latency samples of a well-behaved client.
#
#   my ($status, $head, $body) = Fado::RawHTTP::request($port, "GET / HTTP/1.1\r\n...");
#   my @ms = Fado::RawHTTP::latencies($port, '/v1/zones', $token, 200);

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);

sub connect_from {
    my ($port, $source, $timeout) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => $timeout // 5,
        defined $source ? (LocalAddr => $source) : ());
}

# Reads what the server sends until it closes (or timeout s pass).
sub read_all {
    my ($sock, $timeout) = @_;
    my $sel = IO::Select->new($sock);
    my $buf = '';
    my $deadline = time + ($timeout // 10);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($sock, $buf, 65536, length $buf);
        last unless $n;
    }
    return $buf;
}

sub parse {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    return ($status // 0, $head // '', $body // '');
}

# Sends $bytes, reads the answer to the end: (status, head, body, json).
sub request {
    my ($port, $bytes, %opt) = @_;
    my $s = connect_from($port, $opt{source}) or return (0, '', '', undef);
    syswrite($s, $bytes);
    my ($status, $head, $body) = parse(read_all($s, $opt{timeout}));
    close $s;
    my $json = eval { JSON::PP->new->decode($body) };
    return ($status, $head, $body, $json);
}

sub get {
    my ($port, $path, $token, %opt) = @_;
    return request($port, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . (defined $token ? "Authorization: Bearer $token\r\n" : '') . "\r\n", %opt);
}

# n sequential authenticated GETs: their latencies in ms (failures count as
# the time they took, and are counted in the second value returned).
sub latencies {
    my ($port, $path, $token, $n) = @_;
    my (@ms, $failed);
    for (1 .. $n) {
        my $t0 = time;
        my ($status) = get($port, $path, $token, timeout => 5);
        push @ms, (time - $t0) * 1000;
        $failed++ if $status != 200;
    }
    return (\@ms, $failed // 0);
}

sub percentile {
    my ($ms, $p) = @_;
    my @s = sort { $a <=> $b } @$ms;
    return $s[int($p / 100 * $#s + 0.5)];
}

# Resident memory of a process, KiB: (VmRSS, VmHWM).
sub rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return (0, 0);
    my ($rss, $hwm) = (0, 0);
    while (<$fh>) {
        $rss = $1 if /^VmRSS:\s+(\d+)/;
        $hwm = $1 if /^VmHWM:\s+(\d+)/;
    }
    return ($rss, $hwm);
}

1;
