# The home MinIO killed (SIGKILL, no clean shutdown) right after a burst of
# uploads, while it is still replicating the large one, and started again:
# the replica catches up with every version. The test runs its own home MinIO
# (FADO_BASE_PORT+98; console +99, not bound with the browser off); the
# replica is the harness's minio1.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

for my $v (qw(FADO_MINIO1_ENDPOINT FADO_MINIO1_ACCESS_KEY FADO_MINIO1_SECRET_KEY
              MINIO_BIN MC_BIN FADO_BASE_PORT)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests") unless $ENV{$v};
}
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
my $tmp = tempdir(CLEANUP => 1);
my $port = $ENV{FADO_BASE_PORT} + 98;

$ENV{FADO_T325_ENDPOINT} = "http://127.0.0.1:$port";
$ENV{FADO_T325_ACCESS_KEY} = 't325' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 8;
$ENV{FADO_T325_SECRET_KEY} = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 32;
my $minio_pid;
END { if ($minio_pid) { kill 'TERM', $minio_pid; waitpid $minio_pid, 0 } }

sub minio_start {
    $minio_pid = fork // die "fork: $!";
    if (!$minio_pid) {
        chdir $tmp or die;      # not the checkout (see docs/storage.md)
        open STDOUT, '>>', "$tmp/minio.log" or die; open STDERR, '>&', \*STDOUT or die;
        $ENV{MINIO_ROOT_USER} = $ENV{FADO_T325_ACCESS_KEY};
        $ENV{MINIO_ROOT_PASSWORD} = $ENV{FADO_T325_SECRET_KEY};
        @ENV{qw(MINIO_BROWSER MINIO_UPDATE MINIO_CI_CD)} = ('off', 'off', '1');
        exec $ENV{MINIO_BIN}, 'server', '--quiet', '--address', "127.0.0.1:$port",
            '--console-address', '127.0.0.1:' . ($ENV{FADO_BASE_PORT} + 99), "$tmp/data" or die;
    }
    my $http = HTTP::Tiny->new(timeout => 1);
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if $http->get("http://127.0.0.1:$port/minio/health/live")->{success};
        sleep 0.1;
    }
    return 0;
}

sub run {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$tmp/out" or die; open STDERR, '>', "$tmp/err" or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    local $/;
    open my $o, '<', "$tmp/out" or die; my $so = <$o>;
    open my $e, '<', "$tmp/err" or die; my $se = <$e>;
    return ($rc, $so, $se);
}

ok(minio_start(), "our home MinIO starts on port $port");
my $b = sprintf 't325-%d-%d', $$, time;
my ($rc, $out, $err) = run($cli, '-s', 't325', 'mb', $b);
($rc, $out, $err) = run($cli, '-s', 't325', 'wait', $b, '30', 'minio1');
is($out, "ready\n", 'replication towards minio1 is set up') or diag $err;

# a burst: 20 small objects and one of 256 MiB (which takes MinIO a second
# or two to replicate on loopback), then SIGKILL at once
open my $f, '>', "$tmp/small" or die; print $f "small\n"; close $f;
for my $i (1 .. 20) {
    ($rc, $out, $err) = run($cli, '-s', 't325', 'put', $b, "small/$i", "$tmp/small");
    die "put small/$i: $err" if $rc;
}
system("head -c 268435456 /dev/urandom > '$tmp/big'") == 0 or die;
($rc, $out, $err) = run($cli, '-s', 't325', 'put', $b, 'big', "$tmp/big");
is($rc, 0, '20 small objects and one of 256 MiB uploaded to the home') or diag $err;
kill 'KILL', $minio_pid;
waitpid $minio_pid, 0;
undef $minio_pid;
(undef, $out) = run($cli, '-s', 'minio1', 'ls', $b);
note(sprintf '%d of 21 objects on minio1 when the home was killed%s',
     scalar(() = $out =~ /\n/g), $out =~ /^big\t/m ? '' : ' (not the big one)');

ok(minio_start(), 'the home restarts on the same data');
my $t = time;
($rc, $out, $err) = run($cli, '-s', 't325', 'wait', $b, '120', 'minio1');
is($out, "ready\n", 'minio1 catches up after the restart') or diag $err;
note(sprintf 'caught up %.1f s after the restart', time - $t);
($rc, $out) = run($cli, '-s', 't325', 'progress', $b, 'minio1');
is($out, "versions=21 missing=0\n", 'all 21 versions are on minio1');
($rc, $out) = run($cli, '-s', 'minio1', 'get', $b, 'big', "$tmp/big.back");
is(`cmp '$tmp/big' '$tmp/big.back' && echo same`, "same\n", 'the big one reads back intact');

run($ENV{MC_BIN}, 'rb', '--force', "minio1/$b");
done_testing();
