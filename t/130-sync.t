# Route sync: updates without reload, feed reset and gaps, Redis going away
# and coming back, reload, a crashed sync worker, counters shared by
# workers, and the status and metrics handlers.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(9);

Fado::Routes->new(prefix => "t130$_:") for 'a' .. 'k';

# A Redis of this suite's own, which it stops and starts (B+97 / after the
# backends when no base port is given).
our $OwnRedis = Fado::Routes::backend_port(17);
$ENV{TEST_NGINX_OWN_REDIS_PORT} = $OwnRedis;

our $Backends = <<'_EOC_';
    upstream fn { fado; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
    server {
        listen 127.0.0.1:$TEST_NGINX_B3_PORT;
        location / { return 200 "b3\n"; add_header X-Pid $pid; }
    }
_EOC_

sub http_config {
    my ($prefix, $redis) = @_;
    $redis //= '127.0.0.1:$TEST_NGINX_REDIS_PORT password=$TEST_NGINX_REDIS_PASSWORD';
    return "    fado_shm_zone fado_t130 1m;\n"
         . "    fado_redis $redis prefix=$prefix;\n"
         . $Backends;
}

sub status {
    my (undef, $body) = Fado::Routes::http_get('/fado-status');
    return $body;
}

# Waits until the status JSON matches $re.
sub wait_status {
    my ($re, $timeout) = @_;
    return Fado::Routes::wait_body('/fado-status', {}, $re, $timeout);
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
        add_header X-Worker $pid;
    }
    location ~ ^/u/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
    location = /fado-metrics { fado_metrics; }
_EOC_
});

workers(2);
master_on();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: an update reaches requests in flight without a reload
--- http_config eval: main::http_config('t130a:')
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/u/photos" wait="yes" --><!--# include virtual="/pause" wait="yes" --><!--# include virtual="/u/photos" wait="yes" -->';
    }
    location = /pause {
        proxy_pass http://127.0.0.1:$TEST_NGINX_B9_PORT;
        proxy_read_timeout 700ms;
        error_page 504 = @paused;
    }
    location @paused { return 200 ""; }
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't130a:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
$r->publish_later(0.3, set => 'photos', "- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0");
--- request
GET /t
--- response_body
b1
b2
--- timeout: 5



=== TEST 2: a reset in the feed makes the gateway resync and drop what Redis no longer has
--- http_config eval: main::http_config('t130b:')
--- init
my $r = Fado::Routes->new(prefix => 't130b:', keep => 1);
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->set('videos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
# a publisher rebuilt the table without videos, then announced it
$r->cli('HDEL', 't130b:routes', 'videos');
Fado::Routes::wait_version($r->reset('epoch-two'));
main::wait_status(qr/"resyncs":2/);
--- request
GET /u/videos
--- error_code: 503
--- error_log
fado: feed reset at version 3, resyncing
no route for bucket "videos"



=== TEST 3: a version gap in the feed makes the gateway resync
--- http_config eval: main::http_config('t130c:')
--- init
my $r = Fado::Routes->new(prefix => 't130c:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
# an entry from nowhere: versions 2..98 are missing
$r->cli('HSET', 't130c:routes', 'photos', "F1 99 - 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0");
$r->cli('SET', 't130c:version', '99');
$r->cli('XADD', 't130c:feed', '*', 'v', '99', 'op', 'set', 'b', 'photos', 'r', "F1 99 - 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0");
Fado::Routes::wait_version(99);
--- request
GET /u/photos
--- response_body
b2
--- error_log
fado: feed gap: table at version 1, next entry has 99; resyncing



=== TEST 4: while Redis is down the gateway keeps serving its last table
--- http_config eval: main::http_config('t130d:', '127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT')
--- init
Fado::Routes::start_redis($main::OwnRedis);
my $r = Fado::Routes->new(prefix => 't130d:', port => $main::OwnRedis, password => '');
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
Fado::Routes::stop_redis($main::OwnRedis);
main::wait_status(qr/"state":"down"/);
--- request
GET /u/photos
--- response_body
b1
--- error_log eval
qr/fado: Redis 127\.0\.0\.1:\d+: .*; keeping the last table, retrying in \d+ms/



=== TEST 5: when Redis comes back the gateway catches up with what changed
--- http_config eval: main::http_config('t130e:', '127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT')
--- init
Fado::Routes::start_redis($main::OwnRedis);
my $r = Fado::Routes->new(prefix => 't130e:', port => $main::OwnRedis, password => '');
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
Fado::Routes::stop_redis($main::OwnRedis);
main::wait_status(qr/"state":"down"/);
# Redis restarts empty; the controller republishes from its database
Fado::Routes::start_redis($main::OwnRedis);
# one script call: a resync can never fall between the reset and the set
$r->publish(reset => '', 'after-restart',
            set => 'photos', "- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0");
Fado::Routes::wait_body('/u/photos', {}, qr/^b2$/m, 10);
--- request
GET /u/photos
--- response_body
b2
--- error_log eval
[qr/keeping the last table/, qr/fado: resync done: 1 routes/]
--- timeout: 12



=== TEST 6: a reload keeps the table and a worker of the new configuration takes over sync

--- http_config eval: main::http_config('t130f:')
--- init
my $r = Fado::Routes->new(prefix => 't130f:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
my ($old) = main::status() =~ /"owner_pid":(\d+)/;
open my $fh, '<', "$ENV{TEST_NGINX_SERVROOT}/logs/nginx.pid" or die "no pid file: $!";
my $master = <$fh>;
chomp $master;
kill 'HUP', $master or die "cannot signal nginx $master: $!";
main::wait_status(qr/"resyncs":2/, 10);
main::wait_status(qr/"owner_pid":(?!$old\b)\d+/, 10);
--- request
GET /fado-status
--- response_body_like: "table_version":1,"routes":1,.*"state":"following".*"resyncs":2
--- error_log
fado: route sync owned by this worker
--- timeout: 12



=== TEST 7: when the sync worker dies, another one takes over and follows the feed

--- http_config eval: main::http_config('t130g:')
--- init
my $r = Fado::Routes->new(prefix => 't130g:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
my ($old) = main::status() =~ /"owner_pid":(\d+)/;
kill 'KILL', $old or die "cannot kill $old: $!";
main::wait_status(qr/"owner_pid":(?!$old\b)\d+/, 10);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"), '/fado-status', 10);
--- request
GET /u/photos
--- response_body
b2
--- error_log eval
qr/fado: route sync owned by this worker \(previous owner pid \d+\)/
--- timeout: 12



=== TEST 8: both workers count into the same per-endpoint counters

--- http_config eval: main::http_config('t130h:')
--- init
my $r = Fado::Routes->new(prefix => 't130h:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},eu-1,eu,1,0"));
# 50 requests, on new connections, until both workers have served some
my %workers;
for my $i (1 .. 50) {
    my $port = $ENV{TEST_NGINX_SERVER_PORT} // $ENV{TEST_NGINX_PORT};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    print $s "GET /fn HTTP/1.0\r\nX-Fado-Bucket: photos\r\n\r\n";
    local $/;
    my $resp = <$s>;
    $workers{$1}++ if $resp =~ /X-Worker: (\d+)/;
}
die "only one worker served the 50 requests: @{[ %workers ]}\n" if keys %workers < 2;
--- request
GET /fado-status
--- response_body_like: "cluster":"eu-1","zone":"eu","inflight":0,"requests":50,"fails":0



=== TEST 9: the status handler reports the table, sync state and endpoints as JSON
--- http_config eval: main::http_config('t130i:')
--- init
my $r = Fado::Routes->new(prefix => 't130i:', keep => 1);
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->default("- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},any,any,1,0"));
Fado::Routes::http_get('/u/photos');
# (updates: 1 or 2 feed entries, as the first write may land in the
# snapshot nginx takes at start instead of the feed)
--- request
GET /fado-status
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/^\{"ready":true,"table_version":2,"routes":1,"default_route":true,"endpoint_sets":2,"endpoints_count":2,"zombie_sets":0,"clusters_count":0,"cluster_groups":0,"clusters":\[\],"sync":\{"state":"following","owner_pid":\d+,"redis":"127\.0\.0\.1:\d+","redis_servers":1,"epoch":"","bucket_header":"","resyncs":1,"last_resync_ms":\d+,"last_resync_at":\d+,"updates":[12],"rejected_records":0,"alloc_failures":0,"inflight_reclaimed":0,"last_error":"","last_error_at":0\},"state_file":\{"configured":false,"loaded_version":0,"written_version":0,"writes":0,"errors":0,"written_at":0,"write_ms":0\},"shm":\{"size":\d+,"used":\d+,"bytes_per_route":\d+,"hash_slots":4096\},"endpoints":\[.*\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":1,"fails":0,"failures":0,"ewma_us":\d+\}.*\]\}$/s
--- no_error_log
[error]



=== TEST 10: the metrics handler speaks Prometheus text
--- http_config eval: main::http_config('t130j:')
--- init
my $r = Fado::Routes->new(prefix => 't130j:', keep => 1);
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->set('videos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
Fado::Routes::http_get('/u/photos');
Fado::Routes::http_get('/u/videos');
--- request
GET /fado-metrics
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like eval
qr/^# TYPE fado_table_version gauge\nfado_table_version 2\n.*^fado_routes 2\n.*^fado_sync_up 1\n.*^fado_endpoint_requests_total\{endpoint="127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}",cluster="eu-1",zone="eu"\} 2\n/ms
--- no_error_log
[error]



=== TEST 11: a thousand updates leave one endpoint set, no zombies, no stray endpoints
--- http_config eval: main::http_config('t130k:')
--- init
my $r = Fado::Routes->new(prefix => 't130k:', keep => 1);
my @triples;
for my $i (1 .. 1000) {
    my $p = 23000 + $i % 7;
    push @triples, set => 'photos', "- 127.0.0.1:$p,c$p,z,1,0 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0";
}
push @triples, set => 'photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0";
Fado::Routes::wait_version($r->publish(@triples));
--- request
GET /fado-status
--- response_body_like: ^\{"ready":true,"table_version":1001,"routes":1,"default_route":false,"endpoint_sets":1,"endpoints_count":1,"zombie_sets":0,
--- no_error_log
[error]
