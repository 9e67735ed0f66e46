# Bucket notifications end to end: a MinIO of our own (FADO_BASE_PORT+98;
# its console address is not bound with the browser off) configured with a
# webhook target towards a small HTTP listener of this test (+99);
# fado-storage points a bucket at it, and object events arrive with the
# token in the Authorization header.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

for my $v (qw(MINIO_BIN FADO_BASE_PORT)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests") unless $ENV{$v};
}
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
my $tmp = tempdir(CLEANUP => 1);
my ($port, $hook_port) = ($ENV{FADO_BASE_PORT} + 98, $ENV{FADO_BASE_PORT} + 99);
my $token = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 24;

$ENV{FADO_T340_ENDPOINT} = "http://127.0.0.1:$port";
$ENV{FADO_T340_ACCESS_KEY} = 't340' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 8;
$ENV{FADO_T340_SECRET_KEY} = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 32;
my @pids;
END { for (@pids) { kill 'TERM', $_; waitpid $_, 0 } }

# the webhook: one line per request, "<method>\t<Authorization>\t<body>"
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $hook_port,
                                   Listen => 16, ReuseAddr => 1)
    or BAIL_OUT("cannot listen on $hook_port: $!");
my $hook = fork // die "fork: $!";
if (!$hook) {
    while (my $c = $listen->accept) {
        my ($auth, $len) = ('', 0);
        my $method = <$c> // '';
        $method = $method =~ /^(\S+)/ ? $1 : '-';
        while (defined(my $l = <$c>)) {
            last if $l eq "\r\n";
            $auth = $1 if $l =~ /^Authorization:\s*(.*?)\r?\n/i;
            $len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
        }
        my $body = '';
        read($c, $body, $len) if $len;
        $body =~ s/\n/ /g;
        open my $log, '>>', "$tmp/hook.log" or die; print $log "$method\t$auth\t$body\n"; close $log;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        close $c;
    }
    exit 0;
}
push @pids, $hook;
close $listen;

my $minio = fork // die "fork: $!";
if (!$minio) {
    setpgrp(0, 0);
    chdir $tmp or die;      # not the checkout, which has a file named config
    open STDOUT, '>>', "$tmp/minio.log" or die; open STDERR, '>&', \*STDOUT or die;
    $ENV{MINIO_ROOT_USER} = $ENV{FADO_T340_ACCESS_KEY};
    $ENV{MINIO_ROOT_PASSWORD} = $ENV{FADO_T340_SECRET_KEY};
    @ENV{qw(MINIO_BROWSER MINIO_UPDATE MINIO_CI_CD)} = ('off', 'off', '1');
    $ENV{MINIO_NOTIFY_WEBHOOK_ENABLE_FADO} = 'on';
    $ENV{MINIO_NOTIFY_WEBHOOK_ENDPOINT_FADO} = "http://127.0.0.1:$hook_port/v1/minio/events";
    $ENV{MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_FADO} = $token;
    exec $ENV{MINIO_BIN}, 'server', '--quiet', '--address', "127.0.0.1:$port",
        '--console-address', '127.0.0.1:' . ($ENV{FADO_BASE_PORT} + 99), "$tmp/data" or die;
}
push @pids, $minio;
my $http = HTTP::Tiny->new(timeout => 1);
my $deadline = time + 60;
# "live" answers before the object layer is up (a bucket call then gets 503
# XMinioServerNotInitialized on a loaded machine); "cluster" waits for it.
sleep 0.1 until $http->get("http://127.0.0.1:$port/minio/health/cluster")->{success} || time > $deadline;

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
# the POSTed events as [Authorization, body] (MinIO also probes the
# endpoint with other requests)
sub events {
    open my $f, '<', "$tmp/hook.log" or return ();
    return map { chomp; my @r = split /\t/, $_, 3; $r[0] eq 'POST' ? [@r[1, 2]] : () } <$f>;
}
sub eventually {
    my ($secs, $code) = @_;
    my $end = time + $secs;
    while (time < $end) { return 1 if $code->(); sleep 0.1 }
    return $code->();
}

my $b = 't340-notify';
my $arn = 'arn:minio:sqs::FADO:webhook';
my ($rc, $out, $err) = run($cli, '-s', 't340', 'mb', $b);
is($rc, 0, 'our MinIO is up with a bucket') or diag $err;
($rc, $out, $err) = run($cli, '-s', 't340', 'notify', $b, $arn);
is($rc, 0, "notify points the bucket at $arn") or diag $err;
($rc, $out, $err) = run($cli, '-s', 't340', 'notify', $b, $arn);
is($rc, 0, 'doing it again is a no-op');

open my $f, '>', "$tmp/obj" or die; print $f "data\n"; close $f;
run($cli, '-s', 't340', 'put', $b, 'dir/a b.txt', "$tmp/obj");
run($cli, '-s', 't340', 'rm', $b, 'dir/a b.txt');
ok(eventually(10, sub { grep { $_->[1] =~ /DeleteMarkerCreated/ } events() }),
   'the webhook receives the events');
my @ev = events();
my ($put) = grep { $_->[1] =~ /"EventName":"s3:ObjectCreated:Put"/ } @ev;
ok($put, 'an upload is an s3:ObjectCreated:Put event');
like($put->[1], qr{"Key":"\Q$b\E/dir/a b.txt"}, 'naming bucket and key');
like($put->[1], qr/"versionId":"[0-9a-f-]{36}"/, 'with the version id');
ok((grep { $_->[1] =~ /"EventName":"s3:ObjectRemoved:DeleteMarkerCreated"/ } @ev),
   'a delete is an s3:ObjectRemoved:DeleteMarkerCreated event');
is(scalar(grep { $_->[0] ne "Bearer $token" } @ev), 0,
   'every event carries the token as "Authorization: Bearer <token>"');

($rc, $out, $err) = run($cli, '-s', 't340', 'unnotify', $b);
is($rc, 0, 'unnotify') or diag $err;
my $n = () = events();
run($cli, '-s', 't340', 'put', $b, 'after', "$tmp/obj");
sleep 1;
is(scalar(() = events()), $n, 'no event after unnotify');

done_testing();
