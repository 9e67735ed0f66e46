# W3C trace context at the gateway (ngx_http_fado_trace_module): a valid
# traceparent keeps its trace id and gets the gateway's span as parent, an
# absent or invalid one starts a trace, `fado_trace_invalid reject` answers
# 400 naming the header, and the variables say which case applied.

use lib 't/lib';
use Test::Nginx::Socket 'no_plan';

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    location = /echo {
        return 200 "$http_traceparent\n";
    }
    location /fn {
        proxy_set_header traceparent $fado_traceparent;
        proxy_pass http://127.0.0.1:$server_port/echo;
        add_header X-Trace "$fado_trace_id $fado_trace_origin parent=$fado_trace_parent" always;
    }
    location /strict {
        fado_trace_invalid reject;
        proxy_set_header traceparent $fado_traceparent;
        proxy_pass http://127.0.0.1:$server_port/echo;
    }
_EOC_
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a valid traceparent keeps its trace id and flags; the function's parent is the gateway's span
--- request
GET /fn
--- more_headers
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- response_body_like chomp
^00-4bf92f3577b34da6a3ce929d0e0e4736-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$
--- response_headers
X-Trace: 4bf92f3577b34da6a3ce929d0e0e4736 accepted parent=00f067aa0ba902b7
--- no_error_log
[error]



=== TEST 2: without a traceparent the gateway starts a trace (sampled)
--- request
GET /fn
--- response_body_like chomp
^00-[0-9a-f]{32}-[0-9a-f]{16}-01$
--- response_headers_like
X-Trace: ^[0-9a-f]{32} started parent=$
--- no_error_log
[error]



=== TEST 3: an invalid traceparent is ignored and a new trace begins (W3C: restart)
--- request
GET /fn
--- more_headers
traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01
--- response_body_like chomp
^00-(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32}-[0-9a-f]{16}-01$
--- response_headers_like
X-Trace: ^[0-9a-f]{32} restarted parent=$
--- no_error_log
[error]



=== TEST 4: an all-zero trace id is invalid
--- request
GET /fn
--- more_headers
traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01
--- response_headers_like
X-Trace: ^(?!0{32})[0-9a-f]{32} restarted parent=$



=== TEST 5: a later version with extra fields is read as 00, flags kept
--- request
GET /fn
--- more_headers
traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future
--- response_body_like chomp
^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$
--- response_headers
X-Trace: 4bf92f3577b34da6a3ce929d0e0e4736 accepted parent=00f067aa0ba902b7



=== TEST 6: version ff is forbidden
--- request
GET /fn
--- more_headers
traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- response_headers_like
X-Trace: ^(?!4bf92f3577b34da6a3ce929d0e0e4736)[0-9a-f]{32} restarted parent=$



=== TEST 7: fado_trace_invalid reject answers 400 with JSON naming the header, and proxies nothing
--- request
GET /strict
--- more_headers
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":{"code":"invalid_header","field":"traceparent","message":"the traceparent header is shorter than 55 characters (W3C Trace Context: 00-<32 hex>-<16 hex>-<2 hex>)"}}
--- error_log
fado trace: traceparent header is shorter than 55 characters, answering 400
--- no_error_log
[error]



=== TEST 8: reject refuses a repeated header too
--- request
GET /strict
--- more_headers
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- error_code: 400
--- response_body_like
"field":"traceparent","message":"the traceparent header is repeated



=== TEST 9: reject lets a valid traceparent through
--- request
GET /strict
--- more_headers
traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
--- error_code: 200
--- response_body_like chomp
^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$



=== TEST 10: reject lets a request without traceparent through, with a new trace
--- request
GET /strict
--- error_code: 200
--- response_body_like chomp
^00-[0-9a-f]{32}-[0-9a-f]{16}-01$



=== TEST 11: a bad value of fado_trace_invalid is refused by nginx -t, quoting it
--- config
    location / { fado_trace_invalid sometimes; }
--- must_die
--- error_log
invalid value "sometimes"



=== TEST 12: the variables agree within a request: $fado_trace_id is the trace id of $fado_traceparent
--- config
    location /fn {
        return 200 "$fado_traceparent $fado_trace_id $fado_traceparent\n";
    }
--- request
GET /fn
--- response_body_like chomp
^(00-([0-9a-f]{32})-[0-9a-f]{16}-01) \2 \1$
