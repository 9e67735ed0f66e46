# A replica MinIO that stops in the middle of replication and comes back:
# converge reports the outage clearly instead of hanging, and once the
# replica is back every version reaches it. The test starts and stops its
# own MinIO (port FADO_BASE_PORT+98; with the browser off its console
# address, +99, is not bound), never a shared one.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Time::HiRes qw(sleep time);

for my $v (qw(FADO_MINIO0_ENDPOINT FADO_MINIO0_ACCESS_KEY FADO_MINIO0_SECRET_KEY
              MINIO_BIN MC_BIN FADO_BASE_PORT)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests") unless $ENV{$v};
}
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
my $tmp = tempdir(CLEANUP => 1);
my $port = $ENV{FADO_BASE_PORT} + 98;

# our own replica deployment, credentials only in the environment
$ENV{FADO_T320_ENDPOINT} = "http://127.0.0.1:$port";
$ENV{FADO_T320_ACCESS_KEY} = 't320' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 8;
$ENV{FADO_T320_SECRET_KEY} = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 32;
my $minio_pid;

sub minio_start {
    $minio_pid = fork // die "fork: $!";
    if (!$minio_pid) {
        setpgrp(0, 0);
        # not the checkout: MinIO reads ./config/config.json and the
        # repository has a file named config (see docs/storage.md)
        chdir $tmp or die "chdir $tmp: $!";
        open STDOUT, '>>', "$tmp/minio.log" or die; open STDERR, '>&', \*STDOUT or die;
        $ENV{MINIO_ROOT_USER} = $ENV{FADO_T320_ACCESS_KEY};
        $ENV{MINIO_ROOT_PASSWORD} = $ENV{FADO_T320_SECRET_KEY};
        @ENV{qw(MINIO_BROWSER MINIO_UPDATE MINIO_CI_CD)} = ('off', 'off', '1');
        exec $ENV{MINIO_BIN}, 'server', '--quiet', '--address', "127.0.0.1:$port",
            '--console-address', '127.0.0.1:' . ($ENV{FADO_BASE_PORT} + 99), "$tmp/data"
            or die "exec minio: $!";
    }
    my $http = HTTP::Tiny->new(timeout => 1);
    my $deadline = time + 60;
    while (time < $deadline) {
        return 1 if $http->get("http://127.0.0.1:$port/minio/health/live")->{success};
        sleep 0.1;
    }
    return 0;
}
sub minio_stop {
    return unless $minio_pid;
    kill 'TERM', $minio_pid;
    waitpid $minio_pid, 0;
    undef $minio_pid;
}
END { minio_stop() }

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
sub put_many {
    my ($b, $prefix, $n) = @_;
    for my $i (1 .. $n) {
        open my $f, '>', "$tmp/obj" or die; print $f "$prefix $i\n"; close $f;
        my ($rc, undef, $err) = run($cli, 'put', $b, "$prefix/$i", "$tmp/obj");
        die "put $prefix/$i: $err" if $rc;
    }
}
sub keys_on { my (undef, $out) = run($cli, '-s', $_[0], 'ls', $_[1]); scalar(() = $out =~ /\n/g) }

ok(minio_start(), "our replica MinIO starts on port $port");
my $b = sprintf 't320-%d-%d', $$, time;
my ($rc, $out, $err);

($rc, $out) = run($cli, 'mb', $b);
put_many($b, 'before', 20);
($rc, $out, $err) = run($cli, 'wait', $b, '60', 't320');
is($out, "ready\n", 'the replica catches up with 20 objects') or diag $err;

# in the middle of replication: a burst, then the replica goes away
put_many($b, 'burst', 40);
minio_stop();
put_many($b, 'during', 20);
my $t = time;
($rc, $out, $err) = run($cli, 'converge', $b, 't320', '1');
isnt($rc, 0, 'converge fails while the replica is down');
is($out, "failed\n", 'reporting the replica failed');
like($err, qr/cluster "t320".*127\.0\.0\.1:$port.*(connect|Connection)/i,
     'with a reason naming the cluster and endpoint');
cmp_ok(time - $t, '<', 5, 'without hanging');
unlike($err, qr/\Q$ENV{FADO_T320_SECRET_KEY}\E/, 'and without the secret key');

ok(minio_start(), 'the replica MinIO restarts on the same data');
$t = time;
($rc, $out, $err) = run($cli, 'wait', $b, '120', 't320');
is($out, "ready\n", 'after the restart the replica catches up') or diag $err;
note(sprintf 'caught up %.1f s after the restart', time - $t);
is(keys_on('t320', $b), 80, 'all 80 objects are on the replica');
is(keys_on('minio0', $b), 80, 'and all 80 still on the home');
($rc, $out) = run($cli, '-s', 't320', 'get', $b, 'during/7', '-');
is($out, "during 7\n", 'an object written during the outage reads back intact');

run($ENV{MC_BIN}, 'rb', '--force', "minio0/$b");
done_testing();
