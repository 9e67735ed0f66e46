# bucket_header: the header a gateway takes the bucket from, published by
# the controller (settings hash, feed op "setting") and honoured in
# locations that set no fado_bucket. nginx.conf wins where it names one; a
# status location never looks a bucket up.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use Fado::Routes;

Fado::Routes::export_backends(3);

Fado::Routes->new(prefix => "t180$_:") for 'a' .. 'h';

our $Backends = <<'_EOC_';
    upstream fn { fado; }
    server { listen 127.0.0.1:$TEST_NGINX_B1_PORT; return 200 "b1\n"; }
    server { listen 127.0.0.1:$TEST_NGINX_B2_PORT; return 200 "b2\n"; }
_EOC_

sub http_config {
    my ($prefix) = @_;
    return "    fado_shm_zone fado_t180 1m;\n"
         . '    fado_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT '
         . 'password=$TEST_NGINX_REDIS_PASSWORD prefix=' . $prefix . ";\n"
         . $Backends;
}

sub ep { my ($n, $c) = @_; "127.0.0.1:$ENV{\"TEST_NGINX_B${n}_PORT\"},$c,z,1,0" }

# Two routes (photos -> b1, logs -> b2) and, when given, the header.
sub publish {
    my ($prefix, @headers) = @_;
    my $r = Fado::Routes->new(prefix => $prefix, keep => 1);
    $r->set('photos', '- ' . ep(1, 'eu-1'));
    my $v = $r->set('logs', '- ' . ep(2, 'us-1'));
    $v = $r->setting('bucket_header', $_) for @headers;
    Fado::Routes::wait_version($v);
    return $r;
}

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $block->set_value('config', $config . <<'_EOC_');
    location /auto {
        proxy_pass http://fn;
        add_header X-Fado "$fado_bucket $fado_locality" always;
    }
    location /named {
        fado_bucket $http_x_fado_bucket;
        proxy_pass http://fn;
    }
    location = /fado-status { fado_status; }
_EOC_
});

no_shuffle();
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: a location without fado_bucket takes the bucket from the published header
--- http_config eval: main::http_config('t180a:')
--- init
main::publish('t180a:', 'X-Tenant');
--- request
GET /auto
--- more_headers
X-Tenant: logs
--- response_body
b2
--- response_headers
X-Fado: logs local
--- no_error_log
[error]



=== TEST 2: the header's name is matched without regard to case
--- http_config eval: main::http_config('t180b:')
--- init
main::publish('t180b:', 'X-Tenant');
--- request
GET /auto
--- more_headers
x-tenant: photos
--- response_body
b1
--- no_error_log
[error]



=== TEST 3: nginx.conf wins: a location with fado_bucket ignores the published header
--- http_config eval: main::http_config('t180c:')
--- init
main::publish('t180c:', 'X-Tenant');
--- request
GET /named
--- more_headers
X-Tenant: photos
X-Fado-Bucket: logs
--- response_body
b2
--- no_error_log
[error]



=== TEST 4: with no header published, a location without fado_bucket is not routed by fado
--- http_config eval: main::http_config('t180d:')
--- init
main::publish('t180d:');
--- request
GET /auto
--- more_headers
X-Fado-Bucket: photos
--- error_code: 500
--- error_log
used in a location without "fado_bucket"



=== TEST 5: a header change in the feed is followed: the old header no longer routes
--- http_config eval: main::http_config('t180e:')
--- init
main::publish('t180e:', 'X-Tenant', 'X-Customer');
--- request
GET /auto
--- more_headers
X-Tenant: photos
--- error_code: 500
--- error_log
fado: bucket_header is now "X-Customer"



=== TEST 6: a header change in the feed is followed: the new header routes
--- http_config eval: main::http_config('t180f:')
--- init
main::publish('t180f:', 'X-Tenant', 'X-Customer');
--- request
GET /auto
--- more_headers
X-Customer: photos
--- response_body
b1
--- no_error_log
[error]



=== TEST 7: a status location never looks a bucket up, and shows the published header
--- http_config eval: main::http_config('t180g:')
--- config
    fado_unknown_bucket 404;
--- init
main::publish('t180g:', 'X-Tenant');
--- request
GET /fado-status
--- more_headers
X-Tenant: nosuchbucket
--- response_body_like: "sync":\{.*"bucket_header":"X-Tenant",
--- no_error_log
[error]



=== TEST 8: a value that is not a header name, written past the script, is rejected at resync and the last good one kept
--- http_config eval: main::http_config('t180h:')
--- init
my $r = main::publish('t180h:', 'X-Tenant');
$r->cli('HSET', 't180h:settings', 'bucket_header', 'X_Ten ant');
Fado::Routes::wait_version($r->reset('e2'));
--- request
GET /fado-status
--- response_body_like: "bucket_header":"X-Tenant","resyncs":2,.*"rejected_records":1,
--- error_log
rejected setting bucket_header "X_Ten ant"
