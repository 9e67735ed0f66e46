# A function reading another cluster's data through the WAN emulator pays
# the emulated round trip in its fetch time; one reading its own cluster's
# MinIO does not. This is what the locality benchmark relies on.

use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempfile);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);

my $base = $ENV{FADO_BASE_PORT};
my ($wan_port, $local_port, $remote_port) = ($base + 91, $base + 92, $base + 95);
my $bucket = "fn-wan-$$";
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
(my $minio = $ENV{FADO_MINIO0_ENDPOINT}) =~ s{^http://}{};

my $data = join '', map { chr(($_ * 31 + 7) % 256) } 1 .. 1024 * 1024;
system("$mc mb -q minio0/$bucket >/dev/null") == 0 or die "mc mb failed";
my ($fh, $path) = tempfile(UNLINK => 1);
binmode $fh;
print $fh $data;
close $fh;
system("$mc cp -q $path minio0/$bucket/obj >/dev/null") == 0 or die "mc cp failed";

sub start {
    my @cmd = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        $ENV{FADO_FN_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
        $ENV{FADO_FN_SECRET_KEY} = $ENV{FADO_MINIO0_SECRET_KEY};
        open STDERR, '>', '/dev/null';
        { exec @cmd }
        POSIX::_exit(127);
    }
    return $pid;
}

my @pids = (
    start("$ENV{FADO_BUILD}/fado-delay", '--listen', "127.0.0.1:$wan_port",
          '--target', $minio, '--delay', '10ms'),
    start("$ENV{FADO_BUILD}/fado-fn", '--cluster', 'eu-1', '--zone', 'eu',
          '--listen', "127.0.0.1:$local_port", '--storage-endpoint', "http://$minio"),
    start("$ENV{FADO_BUILD}/fado-fn", '--cluster', 'us-1', '--zone', 'us',
          '--listen', "127.0.0.1:$remote_port",
          '--storage-endpoint', "http://127.0.0.1:$wan_port"),
);
my $http = HTTP::Tiny->new(timeout => 10);
for my $p ($local_port, $remote_port) {
    for (1 .. 100) { last if $http->get("http://127.0.0.1:$p/healthz")->{status} == 200; sleep 0.05 }
}

sub fetch_ms {
    my ($port) = @_;
    my (@ms, $j);
    for (1 .. 5) {
        my $r = $http->get("http://127.0.0.1:$port/function/checksum?bucket=$bucket&key=obj");
        $j = eval { decode_json($r->{content}) } or return (undef, $r->{status});
        push @ms, $j->{fetch_ms};
    }
    @ms = sort { $a <=> $b } @ms;
    return ($ms[2], $j);
}

my ($local_ms, $lj) = fetch_ms($local_port);
my ($remote_ms, $rj) = fetch_ms($remote_port);
is($rj->{result}{sha256}, sha256_hex($data), 'through the WAN proxy the function reads the same 1 MiB');
is($rj->{cluster}, 'us-1', 'the remote reader says it ran in us-1');
cmp_ok($remote_ms, '>=', 20,
       sprintf('a remote read pays at least one 20 ms round trip (median %.1f ms)', $remote_ms));
cmp_ok($remote_ms, '<', 400, 'and not many more');
cmp_ok($local_ms, '<', $remote_ms - 10,
       sprintf('a local read is faster by most of a round trip (median %.1f ms)', $local_ms));

kill 'TERM', @pids;
waitpid $_, 0 for @pids;
system("$mc rb --force minio0/$bucket >/dev/null 2>&1");
done_testing();
