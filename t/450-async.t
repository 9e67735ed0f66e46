# Asynchronous invocation on real Redis, nginx (ngx_http_fado_module),
# MinIO and fado-fn: /async-function/ answers 202 once the call is in the
# stream, queue workers invoke it through the gateway (routing by data
# location), retry 5xx with back-off, post the result to X-Callback-Url
# and keep the call's state; 1,000 calls survive a worker killed with
# SIGKILL midway, with duplicates only where docs/async.md says they occur.
# Bad input gets a 4xx naming the field and queues nothing.

use strict;
use warnings;
use File::Temp qw(tempdir tempfile);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

use Fado::Async;
use Fado::Routes;

my ($gw_port, $front_port, $cb_port, $flaky_port, $fn_port, $full_port, $delay_port)
    = Fado::Async::free_ports(7);
my $dir = tempdir(CLEANUP => !$ENV{FADO_TEST_KEEP});
diag("logs in $dir") if $ENV{FADO_TEST_KEEP};
my $bucket = "async-$$";
my $prefix = 't450async:';
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $redis = Fado::Routes->new(prefix => 't450:', port => $ENV{FADO_REDIS_PORT},
                              password => $ENV{FADO_REDIS_PASSWORD});
$redis->cli('DEL', "${prefix}calls", "t450full:calls");
$redis->cli('EVAL', "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
            0, "t450*call:*");

# The data the function reads, in cluster eu-1's MinIO.
my $text = "the quick brown fox\njumps over\n\nthe lazy dog\n";
system("$mc mb -q minio0/$bucket >/dev/null") == 0 or die "mc mb failed";
{
    my ($fh, $path) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;
    system("$mc cp -q $path minio0/$bucket/text >/dev/null") == 0 or die "mc cp failed";
}

my @pids;
END { Fado::Async::stop($_, 'TERM') for grep { $_ } @pids }

{
    local $ENV{FADO_FN_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
    local $ENV{FADO_FN_SECRET_KEY} = $ENV{FADO_MINIO0_SECRET_KEY};
    push @pids, Fado::Async::spawn("$dir/fn.log", "$ENV{FADO_BUILD}/fado-fn", '--cluster', 'eu-1',
        '--zone', 'eu', '--listen', "127.0.0.1:$fn_port", '--storage-endpoint',
        $ENV{FADO_MINIO0_ENDPOINT}, '--threads', '8');
}
# The bucket's route reaches the function through a 10 ms (each way)
# delay: calls take long enough that a killed worker holds some.
push @pids, Fado::Async::spawn("$dir/delay.log", "$ENV{FADO_BUILD}/fado-delay", '--listen',
    "127.0.0.1:$delay_port", '--target', "127.0.0.1:$fn_port", '--delay', '10ms');
push @pids, Fado::Async::flaky($flaky_port, "$dir/flaky.log");
push @pids, Fado::Async::receiver($cb_port, "$dir/callbacks");

Fado::Async::wait_http("http://127.0.0.1:$fn_port/healthz");
Fado::Async::wait_http("http://127.0.0.1:$delay_port/healthz");
$redis->set($bucket, "- 127.0.0.1:$delay_port,eu-1,eu,1,0");
$redis->set("flaky-$$", "- 127.0.0.1:$flaky_port,us-1,us,1,0");
my $gw = Fado::Async::gateway(port => $gw_port, front => $front_port, prefix => 't450:');
my $url = $gw->url;
Fado::Async::wait_http("$url/function/wordcount?key=text", 10, 'X-Fado-Bucket' => $bucket);

my $bin = "$ENV{FADO_BUILD}/fado-async";
my @common = ('--redis', "127.0.0.1:$ENV{FADO_REDIS_PORT}", '--log-level', 'info');
$ENV{FADO_ASYNC_REDIS_PASSWORD} = $ENV{FADO_REDIS_PASSWORD};
my @worker = ('--role', 'worker', @common, '--prefix', $prefix, '--gateway', $url,
    '--workers', 4, '--max-attempts', 3, '--backoff-ms', 50, '--backoff-cap-ms', 400,
    '--invoke-timeout-ms', 5000, '--min-idle-ms', 12000, '--callback-attempts', 3);
my $front = Fado::Async::spawn("$dir/front.log", $bin, '--role', 'front', @common,
    '--prefix', $prefix, '--listen', "127.0.0.1:$front_port", '--require-callback',
    '--max-body', 65536, '--threads', 4);
my $full = Fado::Async::spawn("$dir/full.log", $bin, '--role', 'front', @common,
    '--prefix', 't450full:', '--listen', "127.0.0.1:$full_port", '--max-queued', 3);
push @pids, $front, $full;
Fado::Async::wait_http("http://127.0.0.1:$front_port/healthz");
Fado::Async::wait_http("http://127.0.0.1:$full_port/healthz");

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
my $cb = "http://127.0.0.1:$cb_port/cb";

sub submit {
    my ($fn, %h) = @_;
    my $body = delete $h{body} // '';
    my $path = $fn =~ m{^/} ? $fn : "/async-function/$fn";
    my $r = $http->post("$url$path", { headers => \%h, content => $body });
    return ($r->{status}, eval { decode_json($r->{content}) } // $r->{content}, $r->{headers});
}

sub state_of {
    my ($id) = @_;
    my $r = $http->get("$url/async-function/calls/$id");
    return ($r->{status}, eval { decode_json($r->{content}) });
}

# Polls a call's state until $done->(state) holds (dies after 30 s).
sub wait_state {
    my ($id, $done, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    my $s;
    while (time < $deadline) {
        (undef, $s) = state_of($id);
        return $s if $s && $done->($s);
        sleep 0.05;
    }
    die "call $id did not settle: " . encode_json($s // {}) . "\n";
}

sub state_keys { scalar grep { length } split /\n/, $redis->cli('KEYS', "${prefix}call:*") }

# ---------------------------------------------------------------- bad input

my ($s, $j, $h) = submit('wordcount?key=text', 'X-Fado-Bucket' => $bucket);
is($s, 400, 'a call without X-Callback-Url is refused when the front requires one');
is($j->{error}{field}, 'X-Callback-Url', 'the error names the X-Callback-Url header');

($s, $j) = submit('wordcount?key=text', 'X-Fado-Bucket' => $bucket, 'X-Callback-Url' => 'ftp://127.0.0.1/x');
is($s, 400, 'a callback URL that is not http(s) is refused');
is($j->{error}{field}, 'X-Callback-Url', 'naming the header');

($s, $j) = submit('wordcount?key=text', 'X-Callback-Url' => $cb, body => 'x' x (100 * 1024));
is($s, 413, 'a body over the limit is refused with 413');
is($j->{error}{field}, 'body', 'as JSON naming the body');

($s, $j) = submit('wordcount?key=text', 'X-Callback-Url' => $cb,
                  traceparent => '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01');
is($s, 400, 'a malformed traceparent is refused on the asynchronous path');
is($j->{error}{field}, 'traceparent', 'naming the traceparent header');
like($j->{error}{message}, qr/parent id/, 'and saying what is wrong with it');

($s, $j) = submit('word$count', 'X-Callback-Url' => $cb);
is($s, 400, 'a function name outside [A-Za-z0-9._-] is refused');
is($j->{error}{field}, 'function', 'naming the function');

is(state_keys(), 0, 'none of the refused calls left a state record');
is($redis->cli('XLEN', "${prefix}calls"), 0, 'and none reached the stream');

($s, $j) = state_of('0' x 32);
is($s, 404, 'an unknown call id: 404');
is($j->{error}{field}, 'call_id', 'naming the call id');
($s, $j) = state_of('nothex');
is($s, 400, 'a malformed call id: 400');

# the queue bound: no worker drains t450full:, which holds at most 3
my @full = map { HTTP::Tiny->new->post("http://127.0.0.1:$full_port/async-function/wordcount",
                                       { content => 'x' })->{status} } 1 .. 4;
is_deeply(\@full, [202, 202, 202, 503], 'a full queue answers 503 after max-queued calls');
my $r = HTTP::Tiny->new->post("http://127.0.0.1:$full_port/async-function/wordcount", { content => 'x' });
is(decode_json($r->{content})->{error}{code}, 'queue_full', 'the refusal says the queue is full');
is($r->{headers}{'retry-after'}, '1', 'with Retry-After');
is($redis->cli('XLEN', 't450full:calls'), 3, 'the stream holds no more than the bound');
like(`cat $dir/full.log`, qr/queue full, call refused/, 'and the refusal is logged');

# ---------------------------------------------------------------- one call, traced

my $w1 = Fado::Async::spawn("$dir/w1.log", $bin, @worker, '--consumer', 'w1');
push @pids, $w1;
my $tp_in = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
($s, $j, $h) = submit('wordcount?key=text', 'X-Fado-Bucket' => $bucket, 'X-Callback-Url' => $cb,
                      traceparent => $tp_in);
is($s, 202, 'a call is accepted with 202');
like($j->{call_id}, qr/^[0-9a-f]{32}$/, 'with a call id');
is($h->{'x-fado-call-id'}, $j->{call_id}, 'also in X-Fado-Call-Id');
is($j->{status_url}, "/async-function/calls/$j->{call_id}", 'and where to ask for its state');
like($j->{traceparent}, qr/^00-4bf92f3577b34da6a3ce929d0e0e4736-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$/,
     'the call keeps the caller\'s trace id under the gateway\'s own span');
my $id = $j->{call_id};
my $st = wait_state($id, sub { ($_[0]{callback_state} // '') eq 'delivered' });
is($st->{state}, 'succeeded', 'the call succeeded');
is($st->{http_status}, 200, 'with the function\'s status');
is($st->{attempts}, 1, 'at the first attempt');
is(decode_json($st->{result})->{result}{words}, 9, 'the state holds the function\'s result');
is(decode_json($st->{result})->{cluster}, 'eu-1', 'computed in the cluster holding the data');
my @got = grep { $_->[1] eq $id } Fado::Async::callbacks("$dir/callbacks");
is(scalar @got, 1, 'one callback arrived');
is_deeply([@{$got[0]}[0, 2, 3, 5]], ['/cb', 'succeeded', '200', '0'],
          'posted to the callback URL with the call state and the function status');
like($got[0][4], qr/^00-4bf92f3577b34da6a3ce929d0e0e4736-/, 'the callback carries the trace');
like($got[0][7], qr/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/,
     'and the function received the same trace id (it echoes its traceparent)');
like(`cat $dir/fn.log`, qr/call function=wordcount trace_id=4bf92f3577b34da6a3ce929d0e0e4736 parent_id=[0-9a-f]{16} call_id=$id/,
     'fado-fn logs the trace id and the call id');
like(`cat ${\ $gw->dir}/logs/access.log`,
     qr{POST /function/wordcount\?key=text HTTP/1.1 200 bucket=$bucket cluster=eu-1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 origin=accepted},
     'the worker\'s invocation went through the gateway, routed by the bucket, in the same trace');

# ---------------------------------------------------------------- retries

($s, $j) = submit('flaky', 'X-Fado-Bucket' => "flaky-$$", 'X-Callback-Url' => $cb);
$id = $j->{call_id};
$st = wait_state($id, sub { ($_[0]{callback_state} // '') eq 'delivered' });
is($st->{state}, 'succeeded', '503 twice, then 200: the call succeeds');
is($st->{attempts}, 3, 'after three attempts');
my @tries = grep { /$id/ } split /\n/, `cat $dir/flaky.log`;
is_deeply([map { (split ' ')[1] } @tries], [1, 2, 3], 'each attempt said its number in X-Fado-Attempt');

($s, $j) = submit('broken', 'X-Fado-Bucket' => "flaky-$$", 'X-Callback-Url' => $cb);
$id = $j->{call_id};
$st = wait_state($id, sub { ($_[0]{callback_state} // '') eq 'delivered' });
is($st->{state}, 'failed', 'a function answering 500 every time: the call fails');
is($st->{attempts}, 3, 'after max-attempts');
is($st->{http_status}, 500, 'recording the last status');
@got = grep { $_->[1] eq $id } Fado::Async::callbacks("$dir/callbacks");
is_deeply([map { @$_[2, 3] } @got], ['failed', '500'], 'the callback says failed, 500');

($s, $j) = submit('wordcount?key=text', 'X-Fado-Bucket' => $bucket,
                  'X-Callback-Url' => "http://127.0.0.1:$cb_port/cb-flaky");
$id = $j->{call_id};
$st = wait_state($id, sub { ($_[0]{callback_state} // '') eq 'delivered' });
is($st->{callback_attempts}, 2, 'a callback answered 503 is retried');
is(scalar(grep { $_->[1] eq $id } Fado::Async::callbacks("$dir/callbacks")), 2,
   'the receiver saw both posts');
is($st->{attempts}, 1, 'without invoking the function again');

# ---------------------------------------------------------------- 1,000 calls, a worker killed

my $w2 = Fado::Async::spawn("$dir/w2.log", $bin, @worker, '--consumer', 'w2');
push @pids, $w2;
my $before = () = Fado::Async::callbacks("$dir/callbacks");
my (%ids, @order, %trace);
my $refused = 0;
my @killed_pending;
for my $i (1 .. 1000) {
    ($s, $j) = submit('wordcount?key=text', 'X-Fado-Bucket' => $bucket, 'X-Callback-Url' => $cb);
    if ($s == 202) { $ids{$j->{call_id}} = 1; push @order, $j->{call_id};
                     ($trace{$j->{call_id}}) = $j->{traceparent} =~ /^00-([0-9a-f]{32})/ }
    else { $refused++ }
    if ($i == 500) {
        # SIGKILL: no chance to finish, record or acknowledge anything
        Fado::Async::stop($w1, 'KILL');
        @pids = grep { $_ != $w1 } @pids;
        my $p = $redis->cli('XPENDING', "${prefix}calls", 'workers', '-', '+', 1000);
        my @f = split /\n/, $p;
        for (my $k = 0; $k + 3 < @f; $k += 4) {
            push @killed_pending, $f[$k] if $f[$k + 1] =~ /^w1-/;
        }
    }
}
is($refused, 0, 'all 1,000 calls were accepted');
is(scalar keys %ids, 1000, 'with 1,000 distinct call ids');
ok(@killed_pending > 0, 'the killed worker held calls it had not acknowledged (' . scalar(@killed_pending) . ')');

my $deadline = time + 120;
my %n;
while (time < $deadline) {
    %n = ();
    $n{$_->[1]}++ for grep { $ids{$_->[1]} } Fado::Async::callbacks("$dir/callbacks");
    last if keys %n == 1000;
    sleep 0.5;
}
is(scalar keys %n, 1000, 'every one of the 1,000 calls was called back');
my @all = grep { $ids{$_->[1]} } Fado::Async::callbacks("$dir/callbacks");
is(scalar(grep { $_->[2] ne 'succeeded' || $_->[3] ne '200' } @all), 0,
   'every callback reports success and status 200');
is(scalar(grep { $_->[4] !~ /^00-\Q$trace{$_->[1]}\E-/ } @all), 0,
   'every callback carries its own call\'s trace id');

# Duplicates: only calls the killed worker held (docs/async.md), each at
# most once more.
my %held;
for my $sid (@killed_pending) { $held{$sid} = 1 }
my @dups = grep { $n{$_} > 1 } keys %n;
my %sid_of;
for my $cid (keys %ids) {
    my (undef, $cs) = state_of($cid);
    $sid_of{$cid} = $cs->{stream_id};
    $n{"state:$cs->{state}"}++;
}
is($n{'state:succeeded'}, 1000, 'every call\'s state says succeeded');
is(scalar(grep { !$held{$sid_of{$_}} } @dups), 0,
   'a call called back twice is one the killed worker held (' . scalar(@dups) . ' such)');
is(scalar(grep { $n{$_} > 2 } keys %ids), 0, 'and no call was called back more than twice');
my $w2log = `cat $dir/w2.log`;
is(scalar(grep { $w2log !~ /reclaimed a call from a silent consumer" call_id=[0-9a-f]{32} stream_id=$_ / }
          @killed_pending), 0,
   'the other worker reclaimed each entry the killed one held, after min-idle (logged)');
is($redis->cli('XLEN', "${prefix}calls"), 0, 'the stream is empty: every entry acknowledged and deleted');
like($redis->cli('XPENDING', "${prefix}calls", 'workers'), qr/^0\b/, 'nothing is pending');
my $q = decode_json($http->get("$url/async-function/queue")->{content});
is($q->{unfinished}, 0, 'the queue endpoint says no call is unfinished');

# TTL: a finished call's state expires
my $ttl = $redis->cli('TTL', "${prefix}call:$order[0]");
ok($ttl > 0 && $ttl <= 86400, "a call's state has a TTL ($ttl s)");

is(Fado::Async::stop($w2), 0, 'a worker exits 0 on SIGTERM');
is(Fado::Async::stop($front), 0, 'the front exits 0 on SIGTERM');
@pids = grep { $_ != $w2 && $_ != $front } @pids;
unlike(`cat $dir/front.log $dir/w1.log $dir/w2.log`, qr/\Q$ENV{FADO_REDIS_PASSWORD}\E/,
       'no log holds the Redis password');

system("$mc rb --force minio0/$bucket >/dev/null 2>&1");
$redis->cli('DEL', "${prefix}calls", "t450full:calls");
done_testing();
