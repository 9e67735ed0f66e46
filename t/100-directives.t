# Every fado directive: its happy path, and the `nginx -t` error that
# quotes a bad value.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(1);

our $R = Fado::Routes->new(prefix => 't100:');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: every directive with every parameter is accepted and routes
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT password=$TEST_NGINX_REDIS_PASSWORD
               db=0 prefix=t100: connect_timeout=500ms read_timeout=1s
               resync_interval=10m batch=100;
    upstream fn {
        fado policy=chash hash_key=$arg_fn bounded_load=1.5 max_fails=2
             fail_timeout=5s;
    }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
--- config
    fado_unknown_bucket 404;
    fado_no_route_status 503;
    location /fn {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
    location = /fado-metrics { fado_metrics; }
--- init
Fado::Routes::wait_version($::R->set('photos', "- 127.0.0.1:$ENV{TEST_NGINX_B1_PORT},eu-1,eu,1,0"));
--- request
GET /fn?fn=resize
--- more_headers
X-Fado-Bucket: photos
--- response_body
b1
--- no_error_log
[error]



=== TEST 2: fado_redis wants an IP literal, not a host name
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis localhost:6379;
--- config
--- must_die
--- error_log
invalid Redis address "localhost:6379"



=== TEST 2a: fado_redis names the bad one among several servers
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379 [::1]:6380 replica.local:6379 prefix=x:;
--- config
--- must_die
--- error_log
invalid Redis address "replica.local:6379"



=== TEST 2b: fado_redis takes at most 8 servers
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 127.0.0.1:5 127.0.0.1:6 127.0.0.1:7 127.0.0.1:8 127.0.0.1:9;
--- config
--- must_die
--- error_log
more than 8 Redis servers



=== TEST 2c: fado_shm_zone rejects a parameter other than state=
--- http_config
    fado_shm_zone fado_t100 1m status=/tmp/x;
--- config
--- must_die
--- error_log
invalid parameter "status=/tmp/x"



=== TEST 3: fado_redis rejects a port out of range
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:70000;
--- config
--- must_die
--- error_log
invalid Redis address "127.0.0.1:70000"



=== TEST 4: fado_redis rejects an unknown parameter
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379 colour=blue;
--- config
--- must_die
--- error_log
invalid parameter "colour=blue"



=== TEST 5: fado_redis rejects a database that is not a number
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379 db=one;
--- config
--- must_die
--- error_log
invalid parameter "db=one"



=== TEST 6: fado_redis rejects a bad read_timeout
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379 read_timeout=soon;
--- config
--- must_die
--- error_log
invalid parameter "read_timeout=soon"



=== TEST 7: fado_redis never echoes a password back, even a bad one
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379 password=;
--- config
--- must_die
--- error_log
has an empty "password="



=== TEST 8: fado_redis twice is refused
--- http_config
    fado_shm_zone fado_t100 1m;
    fado_redis 127.0.0.1:6379;
    fado_redis 127.0.0.1:6380;
--- config
--- must_die
--- error_log
"fado_redis" directive is duplicate



=== TEST 9: fado_shm_zone rejects a size too small to hold a table
--- http_config
    fado_shm_zone fado_t100 8k;
--- config
--- must_die
--- error_log
invalid zone size "8k"



=== TEST 10: fado_bucket without a fado_shm_zone is refused
--- config
    location /fn {
        fado_bucket $http_x_fado_bucket;
        return 200;
    }
--- must_die
--- error_log
"fado_bucket" needs a "fado_shm_zone" in the http block



=== TEST 11: fado rejects an unknown policy
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado policy=fastest; }
--- config
--- must_die
--- error_log
invalid parameter "policy=fastest"



=== TEST 12: fado rejects a bounded_load below 1
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado policy=chash bounded_load=0.5; }
--- config
--- must_die
--- error_log
invalid parameter "bounded_load=0.5"



=== TEST 13: fado rejects a negative max_fails
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado max_fails=-1; }
--- config
--- must_die
--- error_log
invalid parameter "max_fails=-1"



=== TEST 14: fado rejects a bad fail_timeout
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado fail_timeout=often; }
--- config
--- must_die
--- error_log
invalid parameter "fail_timeout=often"



=== TEST 15: a fado upstream refuses server directives
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { server 127.0.0.1:1; fado; }
--- config
--- must_die
--- error_log
a "fado" upstream takes its endpoints from the routing table



=== TEST 16: a server directive after fado is refused too
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado; server 127.0.0.1:1; }
--- config
--- must_die
--- error_log
upstream "fn" mixes "fado" with "server" directives



=== TEST 16a: a zone inside a fado upstream is refused by nginx -t, not a crash
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { zone fn 64k; fado; }
--- config
--- must_die
--- error_log
"zone" cannot be used in a "fado" upstream: its endpoints and their counters live in fado_shm_zone



=== TEST 16b: a zone after fado in the upstream is refused too
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { fado; zone fn 64k; }
--- config
--- must_die
--- error_log
upstream "fn" in



=== TEST 16c: keepalive before fado is refused (it must come after)
--- http_config
    fado_shm_zone fado_t100 1m;
    upstream fn { keepalive 8; fado; }
--- config
--- must_die
--- error_log
load balancing method redefined



=== TEST 17: fado_unknown_bucket rejects what is neither default nor a status
--- http_config
    fado_shm_zone fado_t100 1m;
--- config
    fado_unknown_bucket 99;
--- must_die
--- error_log
invalid value "99"



=== TEST 18: fado_no_route_status rejects a non-status
--- http_config
    fado_shm_zone fado_t100 1m;
--- config
    fado_no_route_status busy;
--- must_die
--- error_log
invalid status "busy"



=== TEST 19: fado_bucket rejects an empty key
--- http_config
    fado_shm_zone fado_t100 1m;
--- config
    fado_bucket "";
--- must_die
--- error_log
invalid bucket key ""



=== TEST 20: fado_status without a table is refused
--- config
    location = /s { fado_status; }
--- must_die
--- error_log
"fado_status" needs a "fado_shm_zone" in the http block
