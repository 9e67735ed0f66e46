#!/usr/bin/env perl
# Asynchronous invocation: throughput end to end (POST /async-function/ to
# the callback received) and its overhead against the same calls made
# synchronously through the same gateway, in alternating rounds.
#
#   bench/async.pl [--quick]     CSV on stdout and in bench/results/
#
# Starts Redis and one MinIO (scripts/fado-local, BENCH_BASE_PORT, default
# 27700), fado-fn (wordcount on a small object), nginx with the module (the
# configuration of docs/async.md, t/lib/Fado/Async.pm), a fado-async front
# and one worker process, and a callback receiver. CLIENTS client processes
# (keep-alive) make CALLS calls per round:
#
#   sync   POST /function/wordcount               calls/s, latency per call
#   async  POST /async-function/wordcount + X-Callback-Url: calls/s from the
#          first submission to the last callback; latency = callback
#          arrival - submission; submit/s = 202 answers per second
#
# The ratio async/sync of calls/s and the latency difference are the
# overhead of the queue (Redis stream, worker, callback). Medians of ROUNDS.

use strict;
use warnings;
use FindBin qw($Bin);
use lib "$Bin/../t/lib";
use File::Temp qw(tempdir tempfile);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

my $root = "$Bin/..";
my $quick = grep { $_ eq '--quick' } @ARGV;
our $clients;
my ($calls, $rounds, $workers, $seq);
($calls, $rounds, $clients, $workers, $seq) = $quick ? (300, 1, 4, 8, 50) : (2000, 3, 8, 8, 200);
$ENV{FADO_BASE_PORT} = $ENV{BENCH_BASE_PORT} // 27700;
$ENV{FADO_RUN_DIR} = "$root/.run/bench-async";
$ENV{FADO_MINIO_COUNT} = 1;
$ENV{FADO_BUILD} //= "$root/build";
$ENV{FADO_ROOT} = $root;

system('make', '-s', '-C', $root, 'all') == 0 or die "make failed\n";
system("$root/scripts/fado-local stop >/dev/null 2>&1");
system("$root/scripts/fado-local", 'start', 'redis', 'minio') == 0 or die "servers did not start\n";
my %env = map { /^export (\w+)=(.*)$/ ? ($1 => $2) : () } do {
    open my $fh, '<', "$ENV{FADO_RUN_DIR}/env.sh" or die; <$fh> };
# env.sh quotes with printf %q: the values used here need no unquoting
$ENV{$_} = $env{$_} for keys %env;

require Fado::Async;
require Fado::Routes;

my @pids;
my $dir = tempdir(CLEANUP => 1);
END {
    Fado::Async::stop($_) for grep { $_ } @pids;
    system("$root/scripts/fado-local stop >/dev/null 2>&1");
}

my ($gw_port, $front_port, $cb_port, $fn_port) = Fado::Async::free_ports(4);
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $bucket = 'bench-async';
system("$mc mb -q --ignore-existing minio0/$bucket >/dev/null") == 0 or die "mc mb\n";
my ($fh, $obj) = tempfile(UNLINK => 1);
print $fh "line $_ of the benchmark object\n" for 1 .. 100;
close $fh;
system("$mc cp -q $obj minio0/$bucket/text >/dev/null") == 0 or die "mc cp\n";

{
    local $ENV{FADO_FN_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
    local $ENV{FADO_FN_SECRET_KEY} = $ENV{FADO_MINIO0_SECRET_KEY};
    push @pids, Fado::Async::spawn('/dev/null', "$ENV{FADO_BUILD}/fado-fn", '--cluster', 'eu-1',
        '--zone', 'eu', '--listen', "127.0.0.1:$fn_port", '--storage-endpoint',
        $ENV{FADO_MINIO0_ENDPOINT}, '--threads', 8);
}
Fado::Async::wait_http("http://127.0.0.1:$fn_port/healthz");
my $routes = Fado::Routes->new(prefix => 'benchasync:', port => $ENV{FADO_REDIS_PORT},
                               password => $ENV{FADO_REDIS_PASSWORD});
$routes->set($bucket, "- 127.0.0.1:$fn_port,eu-1,eu,1,0");
my $gw = Fado::Async::gateway(port => $gw_port, front => $front_port, prefix => 'benchasync:');
my $url = $gw->url;
Fado::Async::wait_http("$url/function/wordcount?key=text", 10, 'X-Fado-Bucket' => $bucket);

$ENV{FADO_ASYNC_REDIS_PASSWORD} = $ENV{FADO_REDIS_PASSWORD};
my @common = ('--redis', "127.0.0.1:$ENV{FADO_REDIS_PORT}", '--prefix', 'benchasync:',
              '--log-level', 'warn');
push @pids, Fado::Async::spawn("$dir/front.log", "$ENV{FADO_BUILD}/fado-async", '--role', 'front',
    @common, '--listen', "127.0.0.1:$front_port", '--threads', 4, '--max-queued', 100000);
push @pids, Fado::Async::spawn("$dir/worker.log", "$ENV{FADO_BUILD}/fado-async", '--role', 'worker',
    @common, '--gateway', $url, '--workers', $workers);
push @pids, Fado::Async::receiver($cb_port, "$dir/callbacks");
Fado::Async::wait_http("http://127.0.0.1:$front_port/healthz");

# Runs $n calls split over $clients processes; each child writes
# "id start end status" lines. Returns the wall time and the lines.
sub run_clients {
    my ($mode, $n, $tag, $nclients) = @_;
    local $clients = $nclients // $clients;
    my $out = "$dir/$tag";
    my $t0 = time;
    my @kids;
    for my $c (0 .. $clients - 1) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 1);
            open my $o, '>', "$out.$c" or POSIX::_exit(1);
            for (my $i = $c; $i < $n; $i += $clients) {
                my $s = time;
                my $r = $mode eq 'sync'
                    ? $http->post("$url/function/wordcount?key=text",
                                  { headers => { 'X-Fado-Bucket' => $bucket }, content => '' })
                    : $http->post("$url/async-function/wordcount?key=text",
                                  { headers => { 'X-Fado-Bucket' => $bucket,
                                                 'X-Callback-Url' => "http://127.0.0.1:$cb_port/cb" },
                                    content => '' });
                my $id = $r->{headers}{'x-fado-call-id'} // "sync$i";
                # one call at a time: wait until its callback went out
                while ($mode eq 'async-seq' && $r->{status} == 202) {
                    my $st = $http->get("$url/async-function/calls/$id");
                    last if $st->{content} =~ /"callback_state":"(delivered|failed)"/;
                    sleep 0.001;
                }
                printf $o "%s %.6f %.6f %d\n", $id, $s, time, $r->{status};
            }
            close $o;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    waitpid $_, 0 for @kids;
    my $t1 = time;
    my @lines;
    for my $c (0 .. $clients - 1) {
        open my $i, '<', "$out.$c" or die;
        push @lines, map { chomp; [split ' '] } <$i>;
    }
    return ($t1 - $t0, $t0, @lines);
}

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return 0 unless @v;
    return $v[int($p / 100 * $#v + 0.5)];
}
sub median { pct(50, @_) }

# a warm-up of both paths
run_clients('sync', 100, 'warm-sync');
run_clients('async', 100, 'warm-async');
sleep 2;

my (@rows, %agg);
for my $round (1 .. $rounds) {
    my ($secs, undef, @l) = run_clients('sync', $calls, "sync$round");
    my $bad = grep { $_->[3] != 200 } @l;
    my @lat = map { ($_->[2] - $_->[1]) * 1000 } @l;
    push @rows, ['sync', $round, $calls, $bad, sprintf('%.3f', $secs), sprintf('%.1f', $calls / $secs),
                 '', sprintf('%.2f', median(@lat)), sprintf('%.2f', pct(99, @lat))];
    push @{$agg{sync_cps}}, $calls / $secs;
    push @{$agg{sync_p50}}, median(@lat);
    push @{$agg{sync_p99}}, pct(99, @lat);

    my $before = () = Fado::Async::callbacks("$dir/callbacks");
    my ($subsecs, $t0, @a) = run_clients('async', $calls, "async$round");
    my %sub = map { $_->[0] => $_->[1] } grep { $_->[3] == 202 } @a;
    my $refused = grep { $_->[3] != 202 } @a;
    my (%done, $unsuccessful);
    my $deadline = time + 300;
    while (time < $deadline) {
        my @cb = grep { exists $sub{$_->[1]} } Fado::Async::callbacks("$dir/callbacks");
        %done = map { $_->[1] => $_->[8] } @cb;
        $unsuccessful = grep { $_->[2] ne 'succeeded' } @cb;
        last if keys %done >= keys %sub;
        sleep 0.05;
    }
    my $last = 0;
    $last = $_ > $last ? $_ : $last for values %done;
    my $e2e = $last - $t0;
    my @alat = map { ($done{$_} - $sub{$_}) * 1000 } keys %done;
    my $missing = keys(%sub) - keys(%done);
    push @rows, ['async', $round, $calls, $refused + $missing + $unsuccessful, sprintf('%.3f', $e2e),
                 sprintf('%.1f', keys(%done) / $e2e), sprintf('%.1f', $calls / $subsecs),
                 sprintf('%.2f', median(@alat)), sprintf('%.2f', pct(99, @alat))];
    push @{$agg{async_cps}}, keys(%done) / $e2e;
    push @{$agg{async_submit}}, $calls / $subsecs;
    push @{$agg{async_p50}}, median(@alat);
    push @{$agg{async_p99}}, pct(99, @alat);

    # latency of one call alone: one client, the next call after the last
    # one's callback (sync: the next after the answer)
    ($secs, undef, @l) = run_clients('sync', $seq, "sync-seq$round", 1);
    @lat = map { ($_->[2] - $_->[1]) * 1000 } @l;
    push @rows, ['sync-seq', $round, $seq, scalar(grep { $_->[3] != 200 } @l), sprintf('%.3f', $secs),
                 sprintf('%.1f', $seq / $secs), '', sprintf('%.2f', median(@lat)),
                 sprintf('%.2f', pct(99, @lat))];
    push @{$agg{seq_sync_p50}}, median(@lat);
    ($secs, undef, @l) = run_clients('async-seq', $seq, "async-seq$round", 1);
    %sub = map { $_->[0] => $_->[1] } grep { $_->[3] == 202 } @l;
    my @cb = grep { exists $sub{$_->[1]} } Fado::Async::callbacks("$dir/callbacks");
    @alat = map { ($_->[8] - $sub{$_->[1]}) * 1000 } @cb;
    push @rows, ['async-seq', $round, $seq, $seq - scalar(grep { $_->[2] eq 'succeeded' } @cb),
                 sprintf('%.3f', $secs), sprintf('%.1f', $seq / $secs), '',
                 sprintf('%.2f', median(@alat)), sprintf('%.2f', pct(99, @alat))];
    push @{$agg{seq_async_p50}}, median(@alat);
}

my @csv = ('mode,round,calls,failed,seconds,calls_per_s,submit_per_s,p50_ms,p99_ms');
push @csv, join(',', @$_) for @rows;
my %m = map { $_ => median(@{$agg{$_}}) } keys %agg;
push @csv, '';
push @csv, 'summary,sync_calls_per_s,async_calls_per_s,async_vs_sync,async_submit_per_s,'
         . 'sync_p50_ms,async_p50_ms,sync_p99_ms,async_p99_ms,'
         . 'alone_sync_p50_ms,alone_async_p50_ms,alone_added_ms,alone_ratio';
push @csv, sprintf('median,%.1f,%.1f,%.3f,%.1f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f',
                   $m{sync_cps}, $m{async_cps}, $m{async_cps} / $m{sync_cps}, $m{async_submit},
                   $m{sync_p50}, $m{async_p50}, $m{sync_p99}, $m{async_p99},
                   $m{seq_sync_p50}, $m{seq_async_p50}, $m{seq_async_p50} - $m{seq_sync_p50},
                   $m{seq_async_p50} / $m{seq_sync_p50});
mkdir "$root/bench/results";
my $file = "$root/bench/results/async-" . POSIX::strftime('%Y%m%d-%H%M%S', gmtime) . '.csv';
open my $o, '>', $file or die "$file: $!";
print $o "$_\n" for @csv;
close $o;
print "$_\n" for @csv;
print STDERR "bench/async: written to $file (clients $clients, worker threads $workers)\n";
