# Central queueing at the gateway (issue #17, item 1): `fado queue=N
# timeout=T`. Requests that find every endpoint of their route at
# max_inflight wait in a queue both workers share and are dispatched to the
# first endpoint that frees a slot: nothing is lost under a saturating load,
# max_inflight holds, FIFO within a bucket, the bucket's own route before the
# default route, timeouts and overflow answer the configured status with a
# log line, and a client or a worker that goes away leaks no slot.
#
# Blocks' init code runs in Test::Nginx's package (openresty's), hence the
# qualified Test::More and Time::HiRes calls there.
#
# The endpoints are a small forking HTTP server of this suite: it sleeps
# X-Ms milliseconds per request and logs "port id start end" (microseconds)
# for every request it serves, so the order and overlap of what the
# endpoints really did can be checked.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

Fado::Routes::export_backends(3);

Fado::Routes->new(prefix => "t175$_:") for 'a' .. 'j';

our $Dir = tempdir(CLEANUP => 1);
our $Log = "$Dir/backend.log";
our @Servers;

# The endpoints: one process per port, a child per connection.
for my $i (1 .. 2) {    # (B3 is nginx's)
    my $port = $ENV{"TEST_NGINX_B${i}_PORT"};
    # (an outgoing connection may hold the port as its ephemeral one a while)
    my $ls;
    for (1 .. 50) {
        $ls = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Listen => 128, ReuseAddr => 1) and last;
        sleep 0.1;
    }
    die "t/175: cannot listen on $port: $!\n" unless $ls;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $c = $ls->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $ls;
                serve($c, $port);
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $ls;
    push @Servers, $pid;
}

END { kill 'KILL', @Servers if @Servers }

sub serve {
    my ($c, $port) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) {
        sysread($c, $req, 4096, length $req) or return;
    }
    my ($id) = $req =~ /^X-Id: *(\S+)/mi;
    my ($ms) = $req =~ /^X-Ms: *(\d+)/mi;
    $id //= '-';
    my $start = time;
    sleep(($ms // 0) / 1000);
    my $end = time;
    my $body = "$port $id\n";
    syswrite($c, "HTTP/1.0 200 OK\r\nContent-Length: " . length($body)
                 . "\r\nConnection: close\r\n\r\n$body");
    open(my $fh, '>>', $Log) or return;
    syswrite($fh, sprintf("%d %s %d %d\n", $port, $id, $start * 1e6, $end * 1e6));
    close $fh;
}

# What the endpoints did: { port, id, start, end } in order of start.
sub served {
    open(my $fh, '<', $Log) or return ();
    my @r = map { my @f = split; { port => $f[0], id => $f[1], start => $f[2] / 1e6,
                  end => $f[3] / 1e6 } } <$fh>;
    return sort { $a->{start} <=> $b->{start} } @r;
}

# Runs the requests at once, one process and connection each: every item
# is { id, bucket, ms, at (s after the start), abort (s after sending) }.
# Returns { id => { status, body, worker, t (s to answer), sent } }.
sub fire {
    my @reqs = @_;
    unlink $Log;
    my $port = $ENV{TEST_NGINX_B3_PORT};
    # room for the forks below before the first request is due
    my $t0 = time + 0.05 + 0.02 * @reqs;
    my %kids;
    for my $q (@reqs) {
        pipe(my $r, my $w) or die "pipe: $!\n";
        my $pid = fork // die "fork: $!\n";
        if ($pid == 0) {
            close $r;
            $w->autoflush(1);
            my $wait = $t0 + ($q->{at} // 0) - time;
            sleep($wait) if $wait > 0;
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
                or do { print $w "0 - - 0 0\n"; POSIX::_exit(0) };
            my $sent = time - $t0;
            print $s "GET /q/$q->{bucket} HTTP/1.0\r\nHost: localhost\r\n"
                   . "X-Id: $q->{id}\r\nX-Ms: " . ($q->{ms} // 0) . "\r\n\r\n";
            if ($q->{abort}) {
                sleep($q->{abort});
                close $s;
                print $w "-1 - - 0 $sent\n";
                POSIX::_exit(0);
            }
            my $resp = '';
            1 while sysread($s, $resp, 65536, length $resp);
            my ($st) = $resp =~ m{^HTTP/1\.\d (\d+)};
            my ($wk) = $resp =~ /^X-Worker: (\d+)/mi;
            my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
            $body //= '';
            $body =~ s/\s+$//;
            $body =~ s/\s+/_/g;
            printf $w "%d %s %s %.4f %.4f\n", $st // 0, $body || '-', $wk // '-',
                   time - $t0, $sent;
            POSIX::_exit(0);
        }
        close $w;
        $kids{$q->{id}} = [$pid, $r];
    }
    my %res;
    for my $id (keys %kids) {
        my ($pid, $r) = @{ $kids{$id} };
        my $line = <$r> // "0 - - 0 0\n";
        close $r;
        waitpid($pid, 0);
        my ($st, $body, $wk, $t, $sent) = split ' ', $line;
        $res{$id} = { status => $st, body => $body, worker => $wk, t => $t, sent => $sent };
    }
    return \%res;
}

# No two requests overlap on one endpoint: max_inflight=1 held.
sub no_overlap {
    my @s = @_;
    my %last;
    for my $x (@s) {
        return "$x->{id} started on $x->{port} before $last{$x->{port}}{id} ended"
            if $last{$x->{port}} && $x->{start} < $last{$x->{port}}{end} - 0.002;
        $last{$x->{port}} = $x;
    }
    return '';
}

sub status { (Fado::Routes::http_get('/fado-status'))[1] }

our $Locations = <<'_EOC_';
    location ~ ^/q/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_pass http://q;
        proxy_read_timeout 20s;
        add_header X-Worker $pid always;
    }
    location = /fado-status { fado_status; }
    location = /fado-metrics { fado_metrics; }
_EOC_

# B3: the same locations on a reuseport listener, so that the kernel spreads
# the connections of fire() over both workers.
sub http_config {
    my ($prefix, $upstream) = @_;
    return "    fado_shm_zone fado_t175 1m;\n"
         . '    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
         . 'password=$TEST_NGINX_REDIS_PASSWORD prefix=' . $prefix . ";\n"
         . "    upstream q { $upstream }\n"
         . "    server {\n        listen 127.0.0.1:\$TEST_NGINX_B3_PORT reuseport;\n"
         . $Locations . "    }\n";
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . $Locations);
});

our ($B1, $B2) = map { $ENV{"TEST_NGINX_B${_}_PORT"} } 1 .. 2;

workers(2);
master_on();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: queue= and timeout= are checked by nginx -t
--- http_config
    fado_shm_zone fado_t175 1m;
    upstream q { fado queue=0; }
--- config
--- must_die
--- error_log
invalid parameter "queue=0": a number of requests from 1 to 65536



=== TEST 2: timeout= without queue= is refused
--- http_config
    fado_shm_zone fado_t175 1m;
    upstream q { fado timeout=5s; }
--- config
--- must_die
--- error_log
"timeout=5s" needs "queue="



=== TEST 3: a saturating load on two endpoints of max_inflight=1 loses nothing, and slots freed in one worker serve requests queued in the other
--- http_config eval: main::http_config('t175a:', 'fado policy=lc queue=64 timeout=15s;')
--- init
my $r = Fado::Routes->new(prefix => 't175a:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1 127.0.0.1:$main::B2,us-1,us,1,1"));
my $res = main::fire(map { { id => "r$_", bucket => 'photos', ms => 80 } } 1 .. 30);
my @bad = grep { $res->{$_}{status} != 200 } sort keys %$res;
Test::More::is("@bad", '', 'all 30 requests answered 200 (zero lost)');
my @s = main::served();
Test::More::is(scalar(@s), 30, 'the endpoints served each request once');
Test::More::is(main::no_overlap(@s), '', 'never two requests at once on an endpoint (max_inflight=1)');
my %workers = map { $res->{$_}{worker} => 1 } keys %$res;
Test::More::is(scalar(keys %workers), 2, 'both workers took requests');
# back to back on one endpoint, answered by another worker: the slot freed
# in one worker was handed to a request queued in the other
my ($cross, %prev) = (0);
for my $x (@s) {
    my $p = $prev{$x->{port}};
    $cross++ if $p && $res->{$p->{id}}{worker} ne $res->{$x->{id}}{worker}
                && $x->{start} - $p->{end} < 0.05;
    $prev{$x->{port}} = $x;
}
Test::More::ok($cross > 0, "hand-offs across workers ($cross)");
my ($enq) = main::status() =~ /"enqueued":(\d+)/;
Test::More::ok($enq >= 10, "most of them waited in the queue ($enq)");
--- request
GET /fado-status
--- response_body_like eval
qr/"inflight":0,.*"inflight":0,.*"queues":\[\{"upstream":"q","size":64,"timeout_ms":15000,"waiting":0,"length":0,"peak":\d+,"enqueued":(\d+),"dispatched":\1,"timeouts":0,"overflows":0,"aborted":0,"reclaimed":0,/s
--- no_error_log
[error]
--- timeout: 20



=== TEST 4: FIFO within a bucket, across both workers
--- http_config eval: main::http_config('t175b:', 'fado queue=16 timeout=15s;')
--- init
my $r = Fado::Routes->new(prefix => 't175b:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
my $res = main::fire(map { { id => "f$_", bucket => 'photos', ms => 150, at => $_ * 0.03 } } 0 .. 9);
Test::More::is(join(' ', map { $res->{"f$_"}{status} } 0 .. 9), join(' ', (200) x 10), 'all ten served');
# arrival order: when each client sent (30 ms apart, unless this machine
# delayed a client process)
my @arrival = sort { $res->{$a}{sent} <=> $res->{$b}{sent} } map { "f$_" } 0 .. 9;
Test::More::is(join(' ', map { $_->{id} } main::served()), "@arrival",
   'the endpoint served them in arrival order');
--- request
GET /fado-status
--- response_body_like: "waiting":0,"length":0,"peak":\d,"enqueued":9,"dispatched":9,"timeouts":0
--- no_error_log
[error]
--- timeout: 20



=== TEST 5: a freed slot goes to a waiter of its own bucket's route before one on the default route
--- http_config eval: main::http_config('t175c:', 'fado queue=16 timeout=15s;')
--- init
my $r = Fado::Routes->new(prefix => 't175c:', keep => 1);
$r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1");
Fado::Routes::wait_version($r->default("- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
# (gaps of 0.3 s: a loaded machine delays a client process by 0.1 s)
my $res = main::fire({ id => 'first', bucket => 'photos', ms => 1000 },
                     { id => 'fallback', bucket => 'other', ms => 10, at => 0.3 },
                     { id => 'local', bucket => 'photos', ms => 10, at => 0.6 });
Test::More::is(join(' ', map { $res->{$_}{status} } qw(first fallback local)), '200 200 200', 'all served');
Test::More::is(join(' ', map { $_->{id} } main::served()), 'first local fallback',
   'the later local waiter went first');
--- request
GET /fado-status
--- response_body_like: "waiting":0,"length":0,"peak":2,"enqueued":2,"dispatched":2,
--- no_error_log
[error]
--- timeout: 20



=== TEST 6: a waiter is answered the configured status when its timeout passes, with a line naming the bucket
--- http_config eval: main::http_config('t175d:', 'fado queue=16 timeout=300ms;')
--- init
my $r = Fado::Routes->new(prefix => 't175d:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
my $res = main::fire({ id => 'long', bucket => 'photos', ms => 1500 },
                     { id => 'late', bucket => 'photos', ms => 10, at => 0.1 });
Test::More::is($res->{long}{status}, 200, 'the request in flight is served');
Test::More::is($res->{late}{status}, 503, 'the waiter gets 503 (fado_no_route_status)');
my $waited = $res->{late}{t} - $res->{late}{sent};
Test::More::ok($waited > 0.25 && $waited < 1.0, "after its 300ms timeout ($waited s)");
Test::More::is(join(' ', map { $_->{id} } main::served()), 'long', 'it never reached the endpoint');
--- request
GET /fado-status
--- response_body_like: "waiting":0,"length":0,"peak":1,"enqueued":1,"dispatched":0,"timeouts":1,"overflows":0
--- error_log eval
qr/fado: bucket "photos" waited \d+ms in the queue of upstream "q" and no endpoint freed a slot, answering 503/
--- timeout: 20



=== TEST 7: a full queue answers the configured status at once, naming the bucket
--- http_config eval: main::http_config('t175e:', 'fado queue=2 timeout=10s;') . "    fado_no_route_status 429;\n"
--- init
my $r = Fado::Routes->new(prefix => 't175e:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
my $res = main::fire({ id => 'a', bucket => 'photos', ms => 700 },
                     { id => 'b', bucket => 'photos', ms => 10, at => 0.1 },
                     { id => 'c', bucket => 'photos', ms => 10, at => 0.15 },
                     { id => 'd', bucket => 'photos', ms => 10, at => 0.3 });
Test::More::is(join(' ', map { $res->{$_}{status} } qw(a b c d)), '200 200 200 429', 'the third waiter overflows');
Test::More::ok($res->{d}{t} - $res->{d}{sent} < 0.3, 'and is answered at once');
Test::More::is(join(' ', map { $_->{id} } main::served()), 'a b c', 'the two queued ones are served, in order');
--- request
GET /fado-status
--- response_body_like: "size":2,"timeout_ms":10000,"waiting":0,"length":0,"peak":2,"enqueued":2,"dispatched":2,"timeouts":0,"overflows":1
--- error_log
fado: queue of upstream "q" is full (2 waiting), bucket "photos" answered 429
--- timeout: 20



=== TEST 8: a client that goes away while queued leaves the queue and leaks no slot
--- http_config eval: main::http_config('t175f:', 'fado queue=8 timeout=10s;')
--- init
my $r = Fado::Routes->new(prefix => 't175f:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
my $res = main::fire({ id => 'a', bucket => 'photos', ms => 600 },
                     { id => 'gone', bucket => 'photos', ms => 10, at => 0.1, abort => 0.2 },
                     { id => 'c', bucket => 'photos', ms => 10, at => 0.2 });
Test::More::is($res->{c}{status}, 200, 'the waiter behind the one that left is served');
my @s = main::served();
Test::More::is(join(' ', map { $_->{id} } @s), 'a c', 'the one that left never reached the endpoint');
Test::More::ok($s[1]{start} - $s[0]{end} < 0.1, 'and the next one took the slot at once');
--- request
GET /fado-status
--- response_body_like: "inflight":0,.*"waiting":0,"length":0,"peak":2,"enqueued":2,"dispatched":1,"timeouts":0,"overflows":0,"aborted":1,
--- timeout: 20



=== TEST 9: a worker killed with requests queued leaks no place and no slot
--- http_config eval: main::http_config('t175g:', 'fado queue=32 timeout=10s;')
--- init
my $r = Fado::Routes->new(prefix => 't175g:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1 127.0.0.1:$main::B2,us-1,us,1,1"));
my $pidfile = "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid";
chomp(my $master = `cat $pidfile`);
my @w = split ' ', `pgrep -P $master`;
Test::More::is(scalar(@w), 2, 'two workers');
my $killer = fork // die;
if ($killer == 0) { Time::HiRes::sleep(0.6); kill 'KILL', $w[0]; POSIX::_exit(0) }
my $res = main::fire(map { { id => "k$_", bucket => 'photos', ms => 400, at => $_ * 0.02 } } 1 .. 12);
waitpid($killer, 0);
my @st = map { $res->{$_}{status} } sort keys %$res;
my @bad = grep { $_ != 200 && $_ != 0 } @st;
Test::More::is("@bad", '', 'no request got an error answer: served, or cut with its worker');
my @cut = grep { $res->{$_}{status} == 0 } sort keys %$res;
Test::More::ok(@cut >= 1, "the killed worker had requests queued (@cut)");
Test::More::ok((grep { $res->{$_}{status} == 200 && $res->{$_}{t} > 0.7 } keys %$res) >= 2,
   'the surviving worker served its waiters after the kill');
# (a request cut with its worker is still running on the endpoint, which
# never learns about it: its slot is taken back all the same)
Test::More::is(main::no_overlap(grep { $res->{$_->{id}}{status} == 200 } main::served()), '',
   'max_inflight held through the crash for the requests that were served');
# the table and queue are clean: every slot is back and a request passes
Fado::Routes::wait_body('/fado-status', {}, qr/"inflight":0,.*"inflight":0,.*"waiting":0,"length":0,/s, 10);
my ($s) = Fado::Routes::http_get('/q/photos', 'X-Ms' => 0);
Test::More::is($s, 200, 'a new request is served at once');
--- request
GET /fado-status
--- response_body_like: "inflight":0,.*"inflight":0,.*"waiting":0,"length":0,.*"reclaimed":[1-9]
--- error_log eval
qr/fado: worker \d+ is gone with a request queued on upstream "q", its place is freed/
--- timeout: 30



=== TEST 10: status and metrics show the queue's length and wait times
--- http_config eval: main::http_config('t175h:', 'fado queue=8 timeout=10s;')
--- init
my $r = Fado::Routes->new(prefix => 't175h:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
main::fire({ id => 'a', bucket => 'photos', ms => 200 },
           { id => 'b', bucket => 'photos', ms => 10, at => 0.05 });
--- request
GET /fado-metrics
--- response_body_like eval
qr/^# TYPE fado_queue_length gauge\nfado_queue_length\{upstream="q"\} 0\n.*^fado_queue_size\{upstream="q"\} 8\n.*^fado_queue_enqueued_total\{upstream="q"\} 1\n.*^fado_queue_dispatched_total\{upstream="q"\} 1\n.*^# TYPE fado_queue_wait_seconds histogram\nfado_queue_wait_seconds_bucket\{upstream="q",le="0\.001"\} 0\n.*^fado_queue_wait_seconds_bucket\{upstream="q",le="0\.100"\} 0\n.*^fado_queue_wait_seconds_bucket\{upstream="q",le="0\.250"\} 1\n.*^fado_queue_wait_seconds_bucket\{upstream="q",le="\+Inf"\} 1\nfado_queue_wait_seconds_sum\{upstream="q"\} 0\.1\d+\nfado_queue_wait_seconds_count\{upstream="q"\} 1\n/ms
--- no_error_log
[error]
--- timeout: 20



=== TEST 11: without queue= a saturated upstream still answers at once
--- http_config eval: main::http_config('t175i:', 'fado;')
--- init
my $r = Fado::Routes->new(prefix => 't175i:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$main::B1,eu-1,eu,1,1"));
my $res = main::fire({ id => 'a', bucket => 'photos', ms => 400 },
                     { id => 'b', bucket => 'photos', ms => 10, at => 0.1 });
Test::More::is(join(' ', map { $res->{$_}{status} } qw(a b)), '200 503', 'the second one is refused');
Test::More::ok($res->{b}{t} - $res->{b}{sent} < 0.2, 'at once');
--- request
GET /fado-status
--- response_body_unlike: "queues"
--- error_log
fado: all 1 endpoints of bucket "photos" are saturated, answering 503
--- timeout: 20
