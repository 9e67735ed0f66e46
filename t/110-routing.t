# Bucket lookup: local routes, the default route, unknown and absent
# buckets, routes no endpoint can serve, corrupt records, and the
# variables that tell in the access log what was decided.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(9);

# Every block has its own key prefix, emptied before any nginx starts.
Fado::Routes->new(prefix => "t110$_:") for 'a' .. 'k';

# Redis already holds these when TEST 8's gateway takes its snapshot.
our $Snap = Fado::Routes->new(prefix => 't110s:');
$Snap->set('fine', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
$Snap->raw_hset('broken', "F1 9 - 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,0,0");

our $Backends = <<'_EOC_';
    upstream fn { fado; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B3_PORT; return 200 "b3\n"; }
_EOC_

sub http_config {
    my ($prefix) = @_;
    return "    fado_shm_zone fado_t110 1m;\n"
         . '    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
         . 'password=$TEST_NGINX_REDIS_PASSWORD prefix=' . $prefix . ";\n"
         . $Backends;
}

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
        add_header X-Fado "$fado_locality $fado_cluster $fado_zone $fado_table_version $fado_bucket" always;
    }
    location = /fado-status { fado_status; }
_EOC_
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a known bucket goes to the cluster holding its data
--- http_config eval: main::http_config('t110a:')
--- init
my $r = Fado::Routes->new(prefix => 't110a:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- response_body
b1
--- response_headers
X-Fado: local eu-1 eu 1 photos
--- no_error_log
[error]



=== TEST 2: an unknown bucket falls back to the default route
--- http_config eval: main::http_config('t110b:')
--- init
my $r = Fado::Routes->new(prefix => 't110b:', keep => 1);
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->default("- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},any,any,1,0"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: videos
--- response_body
b3
--- response_headers
X-Fado: fallback any any 2 videos
--- no_error_log
[error]



=== TEST 3: a request naming no bucket falls back to the default route
--- http_config eval: main::http_config('t110c:')
--- init
my $r = Fado::Routes->new(prefix => 't110c:', keep => 1);
Fado::Routes::wait_version($r->default("- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},any,any,1,0"));
--- request
GET /fn
--- response_body
b3
--- response_headers_like
X-Fado: ^fallback any any 1 ?$
--- no_error_log
[error]



=== TEST 4: fado_unknown_bucket with a status answers it even when a default exists
--- http_config eval: main::http_config('t110d:')
--- config
    location /fn {
        fado_bucket $http_x_fado_bucket;
        fado_unknown_bucket 404;
        proxy_pass http://fn;
        add_header X-Fado "$fado_locality" always;
    }
    location = /fado-status { fado_status; }
--- init
my $r = Fado::Routes->new(prefix => 't110d:', keep => 1);
Fado::Routes::wait_version($r->default("- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},any,any,1,0"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: videos
--- error_code: 404
--- response_headers
X-Fado: none
--- no_error_log
[error]



=== TEST 5: an unknown bucket without a default route gets the no-route status and a log line
--- http_config eval: main::http_config('t110e:')
--- init
my $r = Fado::Routes->new(prefix => 't110e:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: videos
--- error_code: 503
--- response_headers
X-Fado: none   1 videos
--- error_log
fado: no route for bucket "videos" and no default route, answering 503



=== TEST 6: a route listing no endpoint gets fado_no_route_status and a log line
--- http_config eval: main::http_config('t110f:')
--- config
    fado_no_route_status 429;
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
--- init
my $r = Fado::Routes->new(prefix => 't110f:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "-"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- error_code: 429
--- error_log
fado: no endpoint can serve bucket "photos" (its route lists none), answering 429



=== TEST 7: a bucket whose endpoints are all at max_inflight gets 503, never a hang
--- http_config eval: main::http_config('t110g:')
--- config
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_read_timeout 1s;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't110g:', keep => 1);
Fado::Routes::wait_version($r->set('slow', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,1"));
Fado::Routes::hold_request('/fn', 'X-Fado-Bucket' => 'slow');
select(undef, undef, undef, 0.2);
--- request
GET /fn
--- more_headers
X-Fado-Bucket: slow
--- error_code: 503
--- error_log
fado: all 1 endpoints of bucket "slow" are saturated, answering 503
--- timeout: 3



=== TEST 8: a corrupt record in the snapshot is rejected, naming the bucket; the rest applies
--- http_config eval: main::http_config('t110s:')
--- init
Fado::Routes::wait_version(1);
--- request
GET /fn
--- more_headers
X-Fado-Bucket: fine
--- response_body
b1
--- error_log
fado: rejected record for bucket "broken": invalid weight "0"



=== TEST 9: a corrupt update is rejected naming the bucket, which keeps its last good route
--- http_config eval: main::http_config('t110h:')
--- init
my $r = Fado::Routes->new(prefix => 't110h:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 bogus");
Fado::Routes::wait_version($r->set('videos', "- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0"));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- response_body
b1
--- error_log
fado: rejected record for bucket "photos": endpoint needs addr,cluster,zone,weight,max_inflight: "bogus"



=== TEST 10: a deleted bucket is unknown again
--- http_config eval: main::http_config('t110i:')
--- init
my $r = Fado::Routes->new(prefix => 't110i:', keep => 1);
$r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->del('photos'));
--- request
GET /fn
--- more_headers
X-Fado-Bucket: photos
--- error_code: 503
--- error_log
no route for bucket "photos"



=== TEST 11: fado_bucket can come from the URI
--- http_config eval: main::http_config('t110j:')
--- config
    location ~ ^/b/(?<bucket>[^/]+)/ {
        fado_bucket $bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
--- init
my $r = Fado::Routes->new(prefix => 't110j:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /b/photos/resize
--- response_body
b2
--- no_error_log
[error]
