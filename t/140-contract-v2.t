# Routing contract version 2: cluster records (C2) carry the endpoints,
# bucket records (F2) name clusters, and the gateway joins them. One cluster
# record changes every bucket naming the cluster; F1 and F2 mix in a table;
# the feed ops cset/cdel, a resync reading the clusters hash, and the status
# and metrics views of clusters.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(9);

Fado::Routes->new(prefix => "t140$_:") for 'a' .. 'r';

# Redis already holds these when TEST 10's gateway takes its snapshot:
# a cluster record written straight into the hash, no feed entry.
our $Snap = Fado::Routes->new(prefix => 't140s:');
$Snap->raw_cluster_hset('eu-1', "C2 1 eu up 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},1,0");
$Snap->set2('photos', '- eu-1');

our $Backends = <<'_EOC_';
    upstream fn { fado; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B3_PORT; return 200 "b3\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B4_PORT; return 200 "b4\n"; }
_EOC_

sub http_config {
    my ($prefix) = @_;
    return "    fado_shm_zone fado_t140 1m;\n"
         . '    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
         . 'password=$TEST_NGINX_REDIS_PASSWORD prefix=' . $prefix . ";\n"
         . $Backends;
}

sub ep { my ($n, $w, $m) = @_; "127.0.0.1:$ENV{\"TEST_NGINX_B${n}_PORT\"}," . ($w // 1) . ',' . ($m // 0) }

sub routes { Fado::Routes->new(prefix => $_[0], keep => 1) }

sub wait_status {
    my ($re, $path) = @_;
    return Fado::Routes::wait_body($path // '/fado-status', {}, $re, 5);
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
        add_header X-Fado "$fado_locality $fado_cluster $fado_zone $fado_table_version $fado_bucket" always;
    }
    location ~ ^/u/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
    location = /fado-metrics { fado_metrics; }
_EOC_
});

no_shuffle();
# Blocks with pipelined requests assert lines logged before the first response
# (at start, in init): openresty's Test::Nginx checks error_log after every
# pipelined response, by default against only what was logged since its
# previous check, so the second check would miss them. Check all of the
# block's log each time.
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: an F2 bucket goes to an endpoint of the cluster its record names
--- http_config eval: main::http_config('t140a:')
--- init
my $r = main::routes('t140a:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
$r->cset('us-1', 'us up ' . main::ep(2));
Fado::Routes::wait_version($r->set2('photos', '- eu-1'));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- response_body
b1
--- response_headers
X-Fado: local eu-1 eu 3 photos
--- no_error_log
[error]



=== TEST 2: one cluster record moves every one of 300 buckets naming the cluster
--- http_config eval: main::http_config('t140b:')
--- init
my $r = main::routes('t140b:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
my @t = map { (set2 => sprintf('b%03d', $_), '- eu-1') } 1 .. 300;
my $v = $r->publish(@t);
Fado::Routes::wait_version($v);
my $v2 = $r->cset('eu-1', 'eu up ' . main::ep(2));
die "one cluster change took versions $v..$v2\n" unless $v2 == $v + 1;
Fado::Routes::wait_version($v2);
--- pipelined_requests eval
["GET /u/b001", "GET /u/b150", "GET /u/b300", "GET /fado-status?bucket=b222"]
--- response_body_like eval
[qr/^b2\n\z/, qr/^b2\n\z/, qr/^b2\n\z/,
 qr/^\{"bucket":"b222","known":true,"contract":2,"version":\d+,"policy":"-","clusters":\["eu-1"\],"endpoints":\[\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","cluster":"eu-1","weight":1,"max_inflight":0\}\]\}\n\z/]
--- no_error_log
[error]



=== TEST 3: a cluster that is down contributes none of its endpoints
--- http_config eval: main::http_config('t140c:')
--- init
my $r = main::routes('t140c:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
$r->cset('us-1', 'us up ' . main::ep(2));
$r->set2('photos', '- eu-1 us-1');
Fado::Routes::wait_version($r->cset('eu-1', 'eu down ' . main::ep(1)));
--- pipelined_requests eval
["GET /u/photos", "GET /u/photos", "GET /u/photos", "GET /u/photos"]
--- response_body eval
["b2\n", "b2\n", "b2\n", "b2\n"]
--- no_error_log
[error]



=== TEST 4: a bucket whose only cluster is down gets the no-route status and a log line
--- http_config eval: main::http_config('t140d:')
--- init
my $r = main::routes('t140d:');
$r->cset('eu-1', 'eu down ' . main::ep(1));
Fado::Routes::wait_version($r->set2('photos', '- eu-1'));
--- request
GET /u/photos
--- error_code: 503
--- error_log
fado: no endpoint can serve bucket "photos" (none of its clusters has an endpoint up), answering 503



=== TEST 5: a cluster back up serves its buckets again, with the same endpoint counters
--- http_config eval: main::http_config('t140e:')
--- init
my $r = main::routes('t140e:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
Fado::Routes::wait_version($r->set2('photos', '- eu-1'));
Fado::Routes::http_get('/u/photos');
Fado::Routes::wait_version($r->cset('eu-1', 'eu down ' . main::ep(1)));
Fado::Routes::wait_version($r->cset('eu-1', 'eu up ' . main::ep(1)));
--- pipelined_requests eval
["GET /u/photos", "GET /fado-status"]
--- response_body_like eval
[qr/^b1\n\z/,
 qr/"endpoints":\[\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":2,/]
--- no_error_log
[error]



=== TEST 6: F1 and F2 records mix in one table, with an F2 default route
--- http_config eval: main::http_config('t140f:')
--- init
my $r = main::routes('t140f:');
$r->cset('eu-1', 'eu up ' . main::ep(2));
$r->cset('us-1', 'us up ' . main::ep(3));
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},old-1,old,1,0");
$r->set2('videos', '- eu-1');
Fado::Routes::wait_version($r->default2('- us-1'));
--- pipelined_requests eval
["GET /u/photos", "GET /u/videos", "GET /u/unknown"]
--- response_body eval
["b1\n", "b2\n", "b3\n"]
--- no_error_log
[error]



=== TEST 7: a bucket naming a cluster the gateway has no record for routes to the clusters it knows
--- http_config eval: main::http_config('t140g:')
--- init
my $r = main::routes('t140g:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
Fado::Routes::wait_version($r->set2('photos', '- eu-1 xx-9'));
--- pipelined_requests eval
["GET /u/photos", "GET /u/photos", "GET /u/photos", "GET /fado-status?bucket=photos"]
--- response_body_like eval
[qr/^b1\n\z/, qr/^b1\n\z/, qr/^b1\n\z/,
 qr/"clusters":\["eu-1","xx-9"\],"endpoints":\[\{"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","cluster":"eu-1","weight":1,"max_inflight":0\}\]\}/]
--- no_error_log
[error]



=== TEST 8: a cluster record arriving later takes effect for the buckets already naming it
--- http_config eval: main::http_config('t140h:')
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
    fado_no_route_status 503;
    error_page 503 = @none;
    location @none { return 200 "none\n"; }
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = main::routes('t140h:');
Fado::Routes::wait_version($r->set2('photos', '- xx-9'));
$r->publish_later(0.3, cset => 'xx-9', 'xx up ' . main::ep(4));
--- request
GET /t
--- response_body
none
b4
--- error_log
no endpoint can serve bucket "photos"
--- timeout: 5



=== TEST 9: cdel removes a cluster's endpoints from every bucket naming it
--- http_config eval: main::http_config('t140i:')
--- init
my $r = main::routes('t140i:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
$r->cset('us-1', 'us up ' . main::ep(2));
$r->set2('photos', '- eu-1 us-1');
$r->set2('videos', '- eu-1 us-1');
Fado::Routes::wait_version($r->cdel('eu-1'));
--- pipelined_requests eval
["GET /u/photos", "GET /u/videos", "GET /u/photos", "GET /fado-status"]
--- response_body_like eval
[qr/^b2\n\z/, qr/^b2\n\z/, qr/^b2\n\z/, qr/"clusters_count":1,"cluster_groups":1,"clusters":\[\{"name":"us-1","zone":"us","state":"up","version":2,"endpoints":1\}\]/]
--- no_error_log
[error]



=== TEST 10: the snapshot at start reads the cluster records
--- http_config eval: main::http_config('t140s:')
--- init
Fado::Routes::wait_version(1);
--- request
GET /u/photos
--- response_body
b3
--- no_error_log
[error]



=== TEST 11: a resync picks up cluster records changed behind the feed and drops deleted ones
--- http_config eval: main::http_config('t140j:')
--- init
my $r = main::routes('t140j:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
$r->cset('us-1', 'us up ' . main::ep(2));
Fado::Routes::wait_version($r->set2('photos', '- eu-1 us-1'));
# a publisher rebuilt the clusters without feed entries, then announced it
$r->raw_cluster_hset('eu-1', 'C2 3 eu up ' . main::ep(3));
$r->cli('HDEL', 't140j:clusters', 'us-1');
Fado::Routes::wait_version($r->reset('epoch-two'));
main::wait_status(qr/"resyncs":2/);
--- pipelined_requests eval
["GET /u/photos", "GET /u/photos", "GET /u/photos", "GET /fado-status"]
--- response_body_like eval
[qr/^b3\n\z/, qr/^b3\n\z/, qr/^b3\n\z/, qr/"clusters_count":1,/]
--- error_log
1 clusters (1 removed)



=== TEST 12: a rejected cluster record names the cluster and keeps its last good endpoints
--- http_config eval: main::http_config('t140k:')
--- init
my $r = main::routes('t140k:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
# the good record is applied before the bad one replaces it in Redis
Fado::Routes::wait_version($r->set2('photos', '- eu-1'));
Fado::Routes::wait_version($r->cset('eu-1', 'eu sideways ' . main::ep(2)));
--- request
GET /u/photos
--- response_body
b1
--- error_log
fado: rejected record for cluster "eu-1": invalid state (up or down) "sideways"



=== TEST 13: a publisher passing the five keys of contract 1 keeps working, and cset asks for the sixth
--- http_config eval: main::http_config('t140l:')
--- init
my $r5 = Fado::Routes->new(prefix => 't140l:', keep => 1, v1_keys => 1);
my $ok = eval { $r5->cset('eu-1', 'eu up ' . main::ep(2)); 1 };
die "cset with five keys was accepted\n" if $ok;
die "cset with five keys: unexpected error $@" unless $@ =~ /cset needs the clusters hash as KEYS\[6\]/;
Fado::Routes::wait_version($r5->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
--- pipelined_requests eval
["GET /u/photos", "GET /fado-status"]
--- response_body_like eval
[qr/^b1\n\z/, qr/"table_version":1,.*"clusters_count":0,/]
--- no_error_log
[error]



=== TEST 14: status and metrics list every cluster record with its state
--- http_config eval: main::http_config('t140m:')
--- init
my $r = main::routes('t140m:');
$r->cset('eu-1', 'eu up ' . main::ep(1) . ' ' . main::ep(2));
$r->cset('us-1', 'us down ' . main::ep(3));
Fado::Routes::wait_version($r->set2('photos', '- eu-1 us-1'));
--- pipelined_requests eval
["GET /fado-status", "GET /fado-metrics"]
--- response_body_like eval
[qr/"clusters_count":2,"cluster_groups":1,"clusters":\[(?=.*\{"name":"eu-1","zone":"eu","state":"up","version":1,"endpoints":2\})(?=.*\{"name":"us-1","zone":"us","state":"down","version":2,"endpoints":1\})/,
 qr/fado_clusters 2\n# TYPE fado_cluster_up gauge\n(?=(?:fado_cluster_up.*\n)*fado_cluster_up\{cluster="eu-1",zone="eu"\} 1\n)(?=(?:fado_cluster_up.*\n)*fado_cluster_up\{cluster="us-1",zone="us"\} 0\n)/]
--- no_error_log
[error]



=== TEST 15: a request in flight keeps the endpoint set it picked from across a cluster update
--- http_config eval: main::http_config('t140n:')
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = main::routes('t140n:');
$r->cset('eu-1', "eu up 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},1,0");
Fado::Routes::wait_version($r->set2('photos', '- eu-1'));
Fado::Routes::hold_request('/u/photos');
main::wait_status(qr/"inflight":1,/);
Fado::Routes::wait_version($r->cset('eu-1', 'eu up ' . main::ep(1)));
# the held request's set is a zombie, not freed under it
main::wait_status(qr/"zombie_sets":1,/);
Fado::Routes::drop_held();
main::wait_status(qr/"zombie_sets":0,/);
--- pipelined_requests eval
["GET /u/photos", "GET /fado-status"]
--- response_body_like eval
[qr/^b1\n\z/, qr/"endpoint_sets":1,"endpoints_count":1,"zombie_sets":0,/]



=== TEST 16: one endpoint set serves F1 and F2 buckets that reach the same endpoints
--- http_config eval: main::http_config('t140o:')
--- init
my $r = main::routes('t140o:');
$r->cset('eu-1', 'eu up ' . main::ep(1));
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->set2('videos', '- eu-1'));
--- pipelined_requests eval
["GET /u/photos", "GET /u/videos", "GET /fado-status"]
--- response_body_like eval
[qr/^b1\n\z/, qr/^b1\n\z/, qr/"endpoint_sets":1,"endpoints_count":1,"zombie_sets":0,.*"requests":2,/]
--- no_error_log
[error]



=== TEST 17: a cluster in several zones routes, and $fado_zone shows its zone list
--- http_config eval: main::http_config('t140r:')
--- init
my $r = main::routes('t140r:');
$r->cset('cluster-2', 'global+zone-2 up ' . main::ep(2));
Fado::Routes::wait_version($r->set2('photos', '- cluster-2'));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- response_body
b2
--- response_headers
X-Fado: local cluster-2 global+zone-2 2 photos
--- no_error_log
[error]



=== TEST 18: the status shows a multi-zone cluster's zones as published
--- http_config eval: main::http_config('t140r:')
--- init
my $r = main::routes('t140r:');
Fado::Routes::wait_version($r->cset('cluster-2', 'global+zone-2 up ' . main::ep(2)));
--- request
GET /fado-status
--- response_body_like
"name":"cluster-2","zone":"global\+zone-2","state":"up"
--- no_error_log
[error]
