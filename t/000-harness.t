# The harness itself on plain nginx: each section our suites use does what
# its name says (this suite also runs under openresty's Test::Nginx).

use Test::Nginx::Socket 'no_plan';

# A backend port next to the one nginx listens on.
$ENV{TEST_NGINX_BACKEND_PORT} //= ($ENV{TEST_NGINX_PORT} || 1984) + 1;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a config block answers with the expected status and body
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body
hello
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: http_config adds a second server that the first proxies to
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_BACKEND_PORT;
        location / { return 200 "backend saw $request_uri\n"; }
    }
--- config
    location /p { proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT; }
--- request
GET /p/x?a=1
--- response_body
backend saw /p/x?a=1



=== TEST 3: more_headers reach nginx and response_headers see the answer
--- config
    location = /h {
        add_header X-Echo $http_x_fado_bucket always;
        return 204;
    }
--- more_headers
X-Fado-Bucket: photos
--- request
GET /h
--- error_code: 204
--- response_headers
X-Echo: photos
!X-Absent



=== TEST 4: response_body_like and response_headers_like match patterns
--- config
    location = /r { add_header X-Num "n-42"; return 200 "value=17\n"; }
--- request
GET /r
--- response_body_like: ^value=\d+$
--- response_headers_like
X-Num: n-\d+



=== TEST 5: error_log finds what the request logged
--- config
    location /e { root html; }
--- request
GET /e/missing.txt
--- error_code: 404
--- error_log
/html/e/missing.txt" failed (2: No such file or directory)
--- no_error_log
[alert]



=== TEST 6: must_die catches a bad directive and its message
--- config
    location = /bad { return bogus; }
--- must_die
--- error_log
invalid return code "bogus"



=== TEST 7: pipelined requests get one response each, in order
--- config
    location /a { return 200 "a\n"; }
    location /b { return 200 "b\n"; }
--- pipelined_requests eval
["GET /a", "GET /b", "GET /a"]
--- response_body eval
["a\n", "b\n", "a\n"]



=== TEST 8: a request body reaches nginx with its length
--- config
    location = /len { return 200 "$http_content_length\n"; }
--- request
POST /len
hello world
--- response_body
11



=== TEST 9: init runs Perl before the requests
--- config
    location /i { root html; }
--- init
open my $fh, '>', "$ENV{TEST_NGINX_SERVROOT}/html/i.txt" or die $!;
print $fh 41 + 1, "\n";
close $fh;
--- request
GET /i.txt
--- response_body
42



=== TEST 10: a shutdown message is checked after nginx stops
--- config
    location = /s { return 200 "s\n"; }
--- request
GET /s
--- response_body
s
--- shutdown_error_log eval
qr/signal \d+ \(SIG(?:QUIT|TERM)\) received/

