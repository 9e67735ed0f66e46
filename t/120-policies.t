# Balancing policies, per upstream and per route, on the load counters all
# workers share; max_fails marking and retries that prefer another cluster.
#
# One request fans out into several upstream calls through SSI includes
# (wait="yes" makes them sequential), so each block sees a distribution.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(9);

Fado::Routes->new(prefix => "t120$_:") for 'a' .. 'o';

our $Backends = <<'_EOC_';
    upstream rr    { fado policy=rr; }
    upstream lc    { fado policy=lc; }
    upstream p2c   { fado policy=p2c; }
    upstream ewma  { fado policy=ewma; }
    upstream chash { fado policy=chash hash_key=$arg_fn; }
    upstream random { fado policy=random; }
    upstream first { fado policy=first; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B3_PORT; return 200 "b3\n"; }
    # b4 answers after 300 ms: it waits on the black hole at B9
    server {
        listen 127.0.0.1:$TEST_NGINX_B4_PORT;
        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_B9_PORT;
            proxy_read_timeout 300ms;
            error_page 504 = @slow;
        }
        location @slow { return 200 "b4\n"; }
    }
_EOC_

sub http_config {
    my ($prefix) = @_;
    return "    fado_shm_zone fado_t120 1m;\n"
         . '    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
         . 'password=$TEST_NGINX_REDIS_PASSWORD prefix=' . $prefix . ";\n"
         . $Backends;
}

# /fan/N/UPSTREAM/BUCKET?fn=F calls /u/UPSTREAM/BUCKET N times in a row.
sub fan {
    my ($n, $upstream, $bucket, $fn) = @_;
    my $q = defined $fn ? "?fn=$fn" : '';
    return join '', map {
        qq{<!--# include virtual="/u/$upstream/$bucket$q" wait="yes" -->}
    } 1 .. $n;
}

# The location that fans out: its body is a series of SSI includes.
sub ssi {
    my ($body, $extra) = @_;
    return "    location = /t { ssi on; default_type text/html; return 200 '$body'; }\n"
         . ($extra // '');
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location ~ ^/u/(?<up>[a-z0-9]+)/(?<bucket>[a-z0-9.-]+)$ {
        fado_bucket $bucket;
        proxy_pass http://$up;
    }
    location = /fado-status { fado_status; }
_EOC_
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: weighted round robin follows the weights
--- http_config eval: main::http_config('t120a:')
--- config eval: main::ssi(main::fan(6, 'rr', 'photos'))
--- init
my $r = Fado::Routes->new(prefix => 't120a:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,2,0"));
--- request
GET /t
--- response_body
b1
b2
b2
b1
b2
b2
--- no_error_log
[error]



=== TEST 2: a route's policy token overrides the upstream's policy
--- http_config eval: main::http_config('t120b:')
--- config eval: main::ssi(main::fan(6, 'chash', 'photos', 'resize'))
--- init
my $r = Fado::Routes->new(prefix => 't120b:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "rr 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body
b1
b2
b1
b2
b1
b2
--- no_error_log
[error]



=== TEST 3: least connections avoids the endpoint with a request in flight, whatever bucket put it there
--- http_config eval: main::http_config('t120c:')
--- config eval
main::ssi(main::fan(4, 'lc', 'photos'),
          "    location /held { fado_bucket held; proxy_read_timeout 2s; proxy_pass http://lc; }\n")
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't120c:', keep => 1);
$r->set('held', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,0");
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
Fado::Routes::hold_request('/held');
select(undef, undef, undef, 0.2);
--- request
GET /t
--- response_body
b2
b2
b2
b2
--- timeout: 4



=== TEST 4: random with two choices spreads requests over the endpoints
--- http_config eval: main::http_config('t120d:')
--- config eval: main::ssi(main::fan(40, 'p2c', 'photos'))
--- init
my $r = Fado::Routes->new(prefix => 't120d:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like: \A(?=(?:b\d\n)*b1\n)(?=(?:b\d\n)*b2\n)(?=(?:b\d\n)*b3\n)(?:b[123]\n){40}\z
--- no_error_log
[error]



=== TEST 5: the latency-aware policy moves traffic off a slow endpoint once it has measured it
--- http_config eval: main::http_config('t120e:')
--- config eval: main::ssi(main::fan(6, 'ewma', 'photos'))
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't120e:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B4_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like: \A(?:b4\nb2\n|b2\nb4\n)(?:b2\n){4}\z
--- timeout: 5



=== TEST 6: consistent hashing keeps one function on one endpoint
--- http_config eval: main::http_config('t120f:')
--- config eval: main::ssi(main::fan(8, 'chash', 'photos', 'thumbnail'))
--- init
my $r = Fado::Routes->new(prefix => 't120f:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like: \A(?:(?:b1\n){8}|(?:b2\n){8}|(?:b3\n){8})\z
--- no_error_log
[error]



=== TEST 7: consistent hashing spreads different functions over the endpoints
--- http_config eval: main::http_config('t120g:')
--- config eval
main::ssi(CORE::join('', map { main::fan(1, 'chash', 'photos', "fn$_") } 1 .. 24))
--- init
my $r = Fado::Routes->new(prefix => 't120g:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like: \A(?=(?:b\d\n)*b1\n)(?=(?:b\d\n)*b2\n)(?=(?:b\d\n)*b3\n)(?:b[123]\n){24}\z
--- no_error_log
[error]



=== TEST 8: consistent hashing with bounded load spills a busy key to the next endpoint
--- http_config eval: main::http_config('t120h:')
--- config eval
main::ssi(main::fan(1, 'chash', 'photos', 'hot'),
          "    location /held { fado_bucket photos; proxy_read_timeout 2s; proxy_pass http://chash; }\n")
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't120h:', keep => 1);
# every key of this bucket lands on the black hole while it is free: it is
# the only endpoint, then b2 joins with a far lower weight
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1000,0"));
Fado::Routes::hold_request('/held?fn=hot');
Fado::Routes::hold_request('/held?fn=hot');
select(undef, undef, undef, 0.2);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1000,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body
b2
--- timeout: 4



=== TEST 9: a failed endpoint is retried on another cluster, then left alone for fail_timeout
--- http_config eval: main::http_config('t120i:')
--- config eval
main::ssi(main::fan(3, 'rr', 'photos') . '<!--# include virtual="/fado-status" -->')
--- init
my $r = Fado::Routes->new(prefix => 't120i:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B7_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B8_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like eval
qr{\Ab2\nb2\nb2\n\{.*"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B7_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":1,"fails":1,"failures":1}s
--- error_log eval
qr/connect\(\) failed .* upstream: "http:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_B7_PORT}\//



=== TEST 10: a retry after a failure goes to another cluster first
--- http_config eval: main::http_config('t120j:')
--- config
    location = /t {
        fado_bucket photos;
        proxy_pass http://rr;
        add_header X-Tried $upstream_addr;
    }
--- init
my $r = Fado::Routes->new(prefix => 't120j:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B7_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B8_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body
b2
--- response_headers eval
"X-Tried: 127.0.0.1:$ENV{TEST_NGINX_B7_PORT}, 127.0.0.1:$ENV{TEST_NGINX_B2_PORT}"



=== TEST 11: random spreads requests over every endpoint, in no fixed order
--- http_config eval: main::http_config('t120l:')
--- config eval: main::ssi(main::fan(60, 'random', 'photos'))
--- init
my $r = Fado::Routes->new(prefix => 't120l:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0"));
--- request
GET /t
--- response_body_like: \A(?!(?:b1\nb2\nb3\n){20}\z)(?!(?:b2\nb3\nb1\n){20}\z)(?!(?:b3\nb1\nb2\n){20}\z)(?=(?:b\d\n)*b1\n)(?=(?:b\d\n)*b2\n)(?=(?:b\d\n)*b3\n)(?:b[123]\n){60}\z
--- no_error_log
[error]



=== TEST 12: a route's random token picks by weight: 1 against 1000 leaves the light endpoint almost idle
--- http_config eval: main::http_config('t120m:')
--- config eval: main::ssi(main::fan(40, 'rr', 'photos'))
--- init
my $r = Fado::Routes->new(prefix => 't120m:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "random 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1000,0"));
--- request
GET /t
--- response_body_like: \A(?:b2\n)*(?:b1\n)?(?:b2\n)*(?:b1\n)?(?:b2\n)*\z
--- no_error_log
[error]



=== TEST 13: first sends every request to the first endpoint of the route's order while it is healthy
--- http_config eval: main::http_config('t120n:')
--- config eval: main::ssi(main::fan(6, 'first', 'photos'))
--- init
my $r = Fado::Routes->new(prefix => 't120n:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B3_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,5,0"));
--- request
GET /t
--- response_body
b3
b3
b3
b3
b3
b3
--- no_error_log
[error]



=== TEST 14: first retries in the route's order, whatever the cluster, and skips the failed endpoints afterwards
--- http_config eval: main::http_config('t120o:')
--- config eval
main::ssi(main::fan(2, 'first', 'photos') . '<!--# include virtual="/fado-status" -->')
--- init
my $r = Fado::Routes->new(prefix => 't120o:', keep => 1);
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B7_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B8_PORT},eu-1,eu,1,0 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
--- request
GET /t
--- response_body_like eval
qr{\Ab2\nb2\n\{(?=.*"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B7_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":1,"fails":1,"failures":1,)(?=.*"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B8_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":1,"fails":1,"failures":1,)(?=.*"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B2_PORT}","cluster":"us-1","zone":"us","inflight":0,"requests":2,"fails":0,"failures":0,)(?=.*"addr":"127\.0\.0\.1:$ENV{TEST_NGINX_B1_PORT}","cluster":"eu-1","zone":"eu","inflight":0,"requests":0,)}s
--- error_log eval
qr/connect\(\) failed .* upstream: "http:\/\/127\.0\.0\.1:$ENV{TEST_NGINX_B8_PORT}\//



=== TEST 15: first passes over a saturated endpoint to the next one in the route's order
--- http_config eval: main::http_config('t120k:')
--- config eval
main::ssi(main::fan(4, 'first', 'photos'),
          "    location /held { fado_bucket held; proxy_read_timeout 2s; proxy_pass http://first; }\n")
--- init
Fado::Routes::blackhole($ENV{TEST_NGINX_B9_PORT});
my $r = Fado::Routes->new(prefix => 't120k:', keep => 1);
$r->set('held', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,1");
Fado::Routes::wait_version($r->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B9_PORT},eu-1,eu,1,1 127.0.0.1:$ENV{TEST_NGINX_B2_PORT},us-1,us,1,0 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
Fado::Routes::hold_request('/held');
select(undef, undef, undef, 0.2);
--- request
GET /t
--- response_body
b2
b2
b2
b2
--- timeout: 4
