# Gateway resilience (issue #13): a reload onto a config nginx must refuse,
# retries that spread fairly, a log line on the very request that finds no
# endpoint left, and a full zone that does not flood the error log.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(9);

Fado::Routes->new(prefix => "t150$_:") for 'a' .. 'k';

# A Redis of this suite's own, which it stops and starts.
our $OwnRedis = Fado::Routes::backend_port(15);
$ENV{TEST_NGINX_OWN_REDIS_PORT} = $OwnRedis;

# A primary and its replica for the failover test.
our $Primary = Fado::Routes::backend_port(13);
our $Replica = Fado::Routes::backend_port(14);
$ENV{TEST_NGINX_PRIMARY_PORT} = $Primary;
$ENV{TEST_NGINX_REPLICA_PORT} = $Replica;

# State files live beside the server root, which each block recreates.
our $StateDir = ($ENV{TEST_NGINX_SERVROOT} // 't/servroot') . '-t150-state';
system('rm', '-rf', $StateDir);
mkdir $StateDir or die "cannot create $StateDir: $!";
$ENV{TEST_NGINX_STATE_DIR} = $StateDir;

# A damaged snapshot: a well-formed route whose checksum does not match.
{
    open my $fh, '>', "$StateDir/damaged.snap" or die "$StateDir: $!";
    print $fh "fado-snapshot 1 5\nS 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0\n"
            . "R photos 5 - S0\nend 0badc0de 3\n";
    close $fh;
}

# Stops the nginx under test and starts it again (a restart, not a reload).
sub restart_nginx {
    my $root = $ENV{TEST_NGINX_SERVROOT};
    open my $fh, '<', "$root/logs/nginx.pid" or die "no pid file: $!";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    kill 'TERM', $pid or die "cannot stop nginx $pid: $!";
    my $deadline = time + 10;
    sleep 0.05 while kill(0, $pid) && time < $deadline;
    die "nginx $pid does not stop\n" if kill 0, $pid;
    my $bin = $ENV{TEST_NGINX_BINARY} // 'nginx';
    system("$bin -e $root/logs/error.log -p $root/ -c $root/conf/nginx.conf") == 0
        or die "nginx does not start again\n";
    $deadline = time + 10;
    until (Fado::Routes::http_get('/fado-status')) {
        die "nginx does not answer after its restart\n" if time > $deadline;
        sleep 0.05;
    }
}

our $Backends = <<'_EOC_';
    upstream fn { fado; }
    upstream fn0 { fado max_fails=0; }
    upstream fnk { fado; keepalive 8; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B3_PORT; return 200 "b3\n"; }
_EOC_

sub http_config {
    my ($prefix, $size, $state, $redis) = @_;
    $redis //= '127.0.0.1:$TEST_NGINX_REDIS_PORT password=$TEST_NGINX_REDIS_PASSWORD';
    return "    fado_shm_zone fado_t150 " . ($size // '1m')
         . ($state ? " state=$state" : '') . ";\n"
         . "    fado_redis $redis prefix=$prefix;\n"
         . $Backends;
}

sub ep { my ($n, $c, $z) = @_; "127.0.0.1:$ENV{\"TEST_NGINX_B${n}_PORT\"},$c,$z,1,0" }

sub routes { Fado::Routes->new(prefix => $_[0], keep => 1) }

sub status {
    my (undef, $body) = Fado::Routes::http_get('/fado-status');
    return $body;
}

sub error_log_text {
    open my $fh, '<', "$ENV{TEST_NGINX_SERVROOT}/logs/error.log" or return '';
    local $/;
    return <$fh> // '';
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location ~ ^/u/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_pass http://fn;
    }
    location ~ ^/r/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_next_upstream error;
        proxy_pass http://fn0;
    }
    location = /fado-status { fado_status; }
_EOC_
});

master_on();
workers(1);
no_shuffle();
# Blocks with pipelined requests assert lines logged before the first response
# (at start, in init): openresty's Test::Nginx checks error_log after every
# pipelined response, by default against only what was logged since its
# previous check, so the second check would miss them. Check all of the
# block's log each time.
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: a reload onto a fado upstream with a zone is refused and the running nginx keeps serving
--- http_config eval: main::http_config('t150a:')
--- init
my $r = main::routes('t150a:');
Fado::Routes::wait_version($r->set('photos', '- ' . main::ep(1, 'eu-1', 'eu')));
my $conf = "$ENV{TEST_NGINX_SERVROOT}/conf/nginx.conf";
open my $in, '<', $conf or die "cannot read $conf: $!";
my $text = do { local $/; <$in> };
close $in;
$text =~ s/upstream fn \{ fado; \}/upstream fn { fado; zone fn 64k; }/ or die "no upstream fn in $conf\n";
open my $out, '>', $conf or die "cannot write $conf: $!";
print $out $text;
close $out;
open my $fh, '<', "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid" or die "no pid file: $!";
my $master = <$fh>;
chomp $master;
kill 'HUP', $master or die "cannot signal nginx $master: $!";
my $deadline = time + 5;
sleep 0.1 until main::error_log_text() =~ /cannot be used in a "fado" upstream/ || time > $deadline;
kill 0, $master or die "the master $master died on reload\n";
--- request
GET /u/photos
--- response_body
b1
--- error_log
upstream "fn" in
"zone" cannot be used in a "fado" upstream: its endpoints and their counters live in fado_shm_zone



=== TEST 2: retries after a failing endpoint spread fairly, and its neighbour still gets its turn
--- http_config eval: main::http_config('t150b:')
--- init
my $r = main::routes('t150b:');
Fado::Routes::wait_version($r->set('photos', join ' ', '-', main::ep(8, 'eu-1', 'eu'),
    main::ep(1, 'eu-1', 'eu'), main::ep(2, 'us-1', 'us'), main::ep(3, 'us-1', 'us')));
for (1 .. 16) {
    my ($st) = Fado::Routes::http_get('/r/photos');
    die "request $_ answered $st\n" unless $st == 200;
}
--- request
GET /fado-status
--- response_body_like eval
qr/(?=.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":4,)(?=.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","cluster":"us-1","zone":"us","inflight":0,"requests":6,)(?=.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B3_PORT}","cluster":"us-1","zone":"us","inflight":0,"requests":6,)(?=.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B8_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":4,"fails":4,)/s



=== TEST 3: the first request that finds every endpoint dead gets fado's log line, not only nginx's
--- http_config eval: main::http_config('t150c:')
--- init
my $r = main::routes('t150c:');
Fado::Routes::wait_version($r->set('photos', join ' ', '-', main::ep(7, 'eu-1', 'eu'),
    main::ep(8, 'us-1', 'us')));
--- request
GET /r/photos
--- error_code: 502
--- error_log
fado: no endpoint of bucket "photos" can take the request (all 2 endpoints tried and failed)



=== TEST 4: a full zone logs one alert and a summary, not one alert per record
--- http_config eval: main::http_config('t150d:', '256k')
--- init
my $r = main::routes('t150d:');
my $ep = main::ep(1, 'eu-1', 'eu');
my $v = $r->publish(map { (set => sprintf('bucket-%05d', $_), "- $ep") } 1 .. 6000);
Fado::Routes::wait_version($v, '/fado-status', 10);
my $log = main::error_log_text();
my $alerts = () = $log =~ /\[alert\].*fado_shm_zone is full/g;
die "$alerts alerts for one publication\n" unless $alerts >= 1 && $alerts <= 3;
--- request
GET /fado-status
--- response_body_like: "alloc_failures":[1-9]\d*,"inflight_reclaimed":0,"last_error":"shared memory zone full"
--- error_log eval
[qr/\[alert\] .*fado: fado_shm_zone is full, record for bucket "bucket-\d+" not applied/,
 qr/fado: fado_shm_zone is full, \d+ more records not applied \(see alloc_failures in fado_status\)/]
--- timeout: 15



=== TEST 5: restarted while Redis is down, nginx serves the table it wrote to its state file
--- http_config eval: main::http_config('t150e:', '1m', '$TEST_NGINX_STATE_DIR/routes.snap', '127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT')
--- init
Fado::Routes::start_redis($main::OwnRedis);
my $r = Fado::Routes->new(prefix => 't150e:', port => $main::OwnRedis, password => '');
$r->cset('eu-1', 'eu up ' . "127.0.0.1:$ENV{TEST_NGINX_B2_PORT},1,0");
$r->set2('photos', '- eu-1');
$r->set('videos', '- ' . main::ep(1, 'us-1', 'us'));
my $v = 0 + $r->default('- ' . main::ep(3, 'any', 'any'));
Fado::Routes::wait_version($v);
# the owner writes the file a moment after the last change
Fado::Routes::wait_body('/fado-status', {}, qr/"written_version":$v,/, 5);
Fado::Routes::stop_redis($main::OwnRedis);
main::restart_nginx();
Fado::Routes::wait_body('/fado-status', {}, qr/"state":"down"/, 5);
--- pipelined_requests eval
["GET /u/photos", "GET /u/videos", "GET /u/unknown", "GET /fado-status"]
--- response_body_like eval
[qr/^b2\n\z/, qr/^b1\n\z/, qr/^b3\n\z/,
 qr/^\{"ready":true,"table_version":4,"routes":2,"default_route":true,.*"clusters_count":1,.*"state":"down".*"state_file":\{"configured":true,"loaded_version":4,/]
--- error_log eval
[qr/fado: table version 4 loaded from ".*routes\.snap": 2 routes, 1 clusters in \d+ms; Redis replaces it once reachable/,
 qr/keeping the last table/]
--- timeout: 20



=== TEST 6: a damaged state file is rejected with an error line and routes nothing
--- http_config eval: main::http_config('t150f:', '1m', '$TEST_NGINX_STATE_DIR/damaged.snap', '127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT')
--- pipelined_requests eval
["GET /u/photos", "GET /fado-status"]
--- error_code eval
[503, 200]
--- response_body_like eval
[qr/503/, qr/^\{"ready":false,"table_version":0,"routes":0,/]
--- error_log eval
qr/fado: table snapshot ".*damaged\.snap" ignored: checksum mismatch/



=== TEST 7: the primary killed under load, the gateway fails over to its replica and follows the updates made there
--- http_config eval: main::http_config('t150g:', '1m', undef, '127.0.0.1:$TEST_NGINX_PRIMARY_PORT 127.0.0.1:$TEST_NGINX_REPLICA_PORT')
--- init
Fado::Routes::start_redis($main::Primary, undef, ['--repl-diskless-sync-delay', '0']);
Fado::Routes::start_redis($main::Replica, undef, ['--replicaof', '127.0.0.1', $main::Primary]);
my $r = Fado::Routes->new(prefix => 't150g:', port => $main::Primary, password => '');
my $v = 0 + $r->set('photos', '- ' . main::ep(1, 'eu-1', 'eu'));
Fado::Routes::wait_version($v);
my $replica = Fado::Routes->new(prefix => 't150g:', port => $main::Replica, password => '', keep => 1);
my $deadline = time + 5;
sleep 0.05 until ($replica->cli('GET', 't150g:version') // '') eq $v || time > $deadline;
die "the replica did not get version $v\n" unless $replica->cli('GET', 't150g:version') eq $v;
my $done = Fado::Routes::load('/u/photos', 3);
sleep 0.5;
Fado::Routes::kill_redis($main::Primary);
Fado::Routes::wait_body('/fado-status', {}, qr/"state":"following","owner_pid":\d+,"redis":"127\.0\.0\.1:$main::Replica"/, 5);
# Sentinel (or an operator) promotes the replica; the publisher writes there
$replica->cli('REPLICAOF', 'NO', 'ONE');
$replica->set('photos', '- ' . main::ep(2, 'us-1', 'us'));
Fado::Routes::wait_body('/u/photos', {}, qr/^b2$/m, 5);
my ($n, $failed) = $done->();
die "$failed of $n requests failed during the failover\n" if $failed || !$n;
--- request
GET /u/photos
--- response_body
b2
--- error_log eval
qr/fado: Redis 127\.0\.0\.1:\d+: .*; keeping the last table, trying 127\.0\.0\.1:\d+ next/
--- timeout: 20



=== TEST 8: the in-flight counts of a worker killed under load are released when nginx respawns it
--- http_config eval: main::http_config('t150h:')
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = main::routes('t150h:');
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,0"));
Fado::Routes::hold_request('/u/photos') for 1 .. 4;
Fado::Routes::wait_body('/fado-status', {}, qr/"inflight":4,/, 5);
my ($worker) = main::status() =~ /"owner_pid":(\d+)/;
kill 'KILL', $worker or die "cannot kill worker $worker: $!";
Fado::Routes::wait_body('/fado-status', {}, qr/"owner_pid":(?!$worker\b)\d+/, 10);
Fado::Routes::drop_held();
Fado::Routes::wait_body('/fado-status', {}, qr/"inflight_reclaimed":4,.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B9_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":4,/, 5);
# the dead worker's hold on the endpoint set is gone too: replaced, it is freed
Fado::Routes::wait_version($r->set('photos', '- ' . main::ep(1, 'eu-1', 'eu')));
Fado::Routes::wait_body('/fado-status', {}, qr/"zombie_sets":0,/, 5);
--- request
GET /fado-status
--- response_body_like: "endpoint_sets":1,"endpoints_count":1,"zombie_sets":0,.*"inflight_reclaimed":4,
--- error_log eval
qr/fado: worker \d+ is gone with 4 requests in flight; their in-flight counts are released/
--- timeout: 20



=== TEST 9: fado_bucket off turns the lookup off where an enclosing level set it
--- http_config eval: main::http_config('t150i:')
--- config
    fado_bucket $arg_b;
    fado_unknown_bucket 404;
    location = /plain {
        fado_bucket off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_B1_PORT;
    }
    location = /looked-up { proxy_pass http://127.0.0.1:$TEST_NGINX_B1_PORT; }
--- pipelined_requests eval
["GET /plain?b=nosuchbucket", "GET /looked-up?b=nosuchbucket"]
--- error_code eval
[200, 404]
--- response_body_like eval
[qr/^b1\n\z/, qr/404/]



=== TEST 10: $fado_locality is none for a known bucket whose route lists no endpoint
--- http_config eval: main::http_config('t150j:')
--- config
    location /loc/ {
        fado_bucket $arg_b;
        add_header X-Locality $fado_locality always;
        proxy_pass http://fn;
    }
--- init
my $r = main::routes('t150j:');
Fado::Routes::wait_version($r->set('photos', '-'));
--- request
GET /loc/?b=photos
--- error_code: 503
--- response_headers
X-Locality: none
--- error_log
fado: no endpoint can serve bucket "photos" (its route lists none)



=== TEST 11: bucket names and records from Redis are escaped in the error log: no forged line
--- http_config eval: main::http_config('t150k:')
--- init
my $r = main::routes('t150k:');
$r->set("evil\n2026/12/01 00:00:00 [alert] 1#1: forged", '- ' . main::ep(1, 'eu-1', 'eu'));
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu\n[alert]forged,eu,1,0");
Fado::Routes::wait_version($r->set('fine', '- ' . main::ep(1, 'eu-1', 'eu')));
--- request
GET /u/fine
--- response_body
b1
--- error_log eval
[qr/fado: rejected record for bucket "evil\\x0a2026\/12\/01 00:00:00 \[alert\] 1#1: forged": invalid bucket name/,
 qr/fado: rejected record for bucket "photos": invalid cluster "eu\\x0a\[alert\]forged"/]
--- no_error_log eval
[qr/^\S+ \S+ \[alert\] 1#1: forged/, qr/^\[alert\]forged/]



=== TEST 12: fado_status answers valid UTF-8 JSON whatever bytes Redis and the request gave
--- http_config eval: main::http_config('t150l:')
--- init
use JSON::PP ();
my $r = main::routes('t150l:');
$r->set('photos', '- ' . main::ep(1, 'eu-1', 'eu'));
$r->set("caf\xc3\xa9\xff\"x", '- ' . main::ep(1, 'eu-1', 'eu'));
Fado::Routes::wait_version($r->reset("ep\xff\xfe\n\"och"));
# the epoch is in the table once a resync (the first, or the reset's) ran
Fado::Routes::wait_body('/fado-status', {}, qr/"epoch":"ep\\ufffd/, 15);
for my $path ('/fado-status', '/fado-status?bucket=%ff%fe%0a%22', '/fado-status?bucket=photos') {
    my ($st, $body) = Fado::Routes::http_get($path);
    die "$path answered $st\n" unless $st == 200;
    eval { JSON::PP->new->utf8->decode($body); 1 }
        or die "$path is not valid UTF-8 JSON: $@ in $body\n";
}
--- request
GET /fado-status
--- response_body_like: "epoch":"ep\\ufffd\\ufffd\\u000a\\"och",.*"last_error":"rejected record for bucket \\"caf\\\\xc3\\\\xa9\\\\xff\\\\x22x\\": invalid bucket name"



=== TEST 13: keepalive after fado keeps connections to the endpoints it picks
--- http_config eval: main::http_config('t150m:')
--- config
    location /k/ {
        fado_bucket $arg_b;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://fnk;
        add_header X-Upstream-Conn $upstream_connect_time;
    }
--- init
my $r = main::routes('t150m:');
Fado::Routes::wait_version($r->set('photos', '- ' . main::ep(1, 'eu-1', 'eu')));
--- pipelined_requests eval
["GET /k/?b=photos", "GET /k/?b=photos", "GET /k/?b=photos"]
--- response_body eval
["b1\n", "b1\n", "b1\n"]
--- no_error_log
[error]



=== TEST 14: the state file is written once for a burst of updates, not once per update
--- http_config eval: main::http_config('t150n:', '1m', '$TEST_NGINX_STATE_DIR/burst.snap')
--- init
my $r = main::routes('t150n:');
my $v;
$v = 0 + $r->set(sprintf('bucket-%03d', $_), '- ' . main::ep(1, 'eu-1', 'eu')) for 1 .. 200;
Fado::Routes::wait_version($v, '/fado-status', 10);
Fado::Routes::wait_body('/fado-status', {}, qr/"written_version":$v,/, 5);
my ($writes) = main::status() =~ /"writes":(\d+)/;
die "$writes writes for 200 updates\n" unless $writes >= 1 && $writes <= 10;
--- request
GET /u/bucket-200
--- response_body
b1
--- no_error_log
[error]
--- timeout: 20
