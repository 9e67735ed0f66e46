# Bad input and protocol abuse against a real controller (PostgreSQL, one
# real MinIO): every case gets a 4xx JSON error naming what was wrong and
# changes nothing. Paths and headers are sent raw over a socket, as a
# hostile client would, so no HTTP client normalises them on the way.
# Also: log lines cannot be forged, /readyz needs no token (docs/controller.md
# says why), and with PostgreSQL unreachable requests without a valid token
# still get 401, object calls 503 and a bad object key still 400.

use strict;
use warnings;
use lib 't/lib';
use IO::Socket::INET;
use IO::Select;
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;
use Fado::RawHTTP;

my $events_token = $ENV{FADO_EVENTS_TOKEN} or BAIL_OUT('FADO_EVENTS_TOKEN not in env.sh');

# PostgreSQL behind a TCP relay this suite can cut, to take it away from
# this controller only.
my $pg_port = $ENV{FADO_BASE_PORT} + 88;
my $relay = relay($pg_port, $ENV{PGPORT} // 5432);
my $c = Fado::Controller->new(port_offset => 86, tag => "t230_$$", no_start => 1,
    env => { FADO_EVENTS_TOKEN => $events_token, FADO_LOG_LEVEL => 'debug',
             FADO_SCAN_INTERVAL => 3600 });
(my $db_url = $c->db_url) =~ s{\@127\.0\.0\.1:\d+/}{\@127.0.0.1:$pg_port/};
$c->start(db_url => $db_url);
my $port = $c->port;
my $token = $c->token;
my $bucket = "hard-$$";

sub relay {
    my ($listen, $to) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen, Listen => 64,
        ReuseAddr => 1) or die "relay on $listen: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        my $sel = IO::Select->new($l);
        my %peer;
        while (1) {
            for my $s ($sel->can_read) {
                if ($s == $l) {
                    my $a = $l->accept or next;
                    my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $to)
                        or do { close $a; next };
                    $peer{$a} = $b; $peer{$b} = $a;
                    $sel->add($a, $b);
                    next;
                }
                my $n = sysread($s, my $buf, 65536);
                my $o = $peer{$s};
                if (!$n) {
                    $sel->remove($s, $o);
                    delete @peer{$s, $o};
                    close $s; close $o;
                    next;
                }
                syswrite($o, $buf);
            }
        }
    }
    close $l;
    return $pid;
}

sub raw { my ($bytes, %o) = @_; return Fado::RawHTTP::request($port, $bytes, %o) }
sub get { my ($path, %o) = @_;
    return Fado::RawHTTP::get($port, $path, exists $o{token} ? $o{token} : $token) }
sub send_req {
    my ($method, $path, $body, %h) = @_;
    $body //= '';
    my $head = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $token\r\n"
             . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
             . "Content-Length: " . length($body) . "\r\n\r\n";
    return raw($head . $body);
}
sub error_is {
    my ($got, $status, $code, $field, $name) = @_;
    my ($s, $head, $body, $j) = @$got;
    subtest $name => sub {
        is($s, $status, "status $status");
        like($head, qr{^Content-Type: application/json}mi, 'a JSON answer');
        is($j->{error}{code}, $code, "code $code") if defined $code;
        is($j->{error}{field}, $field, "field names $field") if defined $field;
    } or diag($head . "\r\n\r\n" . $body);
}

# ---------------------------------------------------------------- setup
my ($s, $j, $raw) = $c->api(POST => '/v1/import', {
    zones => ['eu'],
    clusters => [{ name => 'eu-1', zone => 'eu', storage => {
        endpoint => $ENV{FADO_MINIO0_ENDPOINT}, access_key => $ENV{FADO_MINIO0_ACCESS_KEY},
        secret_key => $ENV{FADO_MINIO0_SECRET_KEY} } }],
    buckets => [{ name => $bucket, home_cluster => 'eu-1', placement => { replicas => 1 } }],
});
is($s, 200, 'platform imported') or diag($raw);
ok(Fado::Controller::wait_until(sub {
    my (undef, $b) = $c->api(GET => "/v1/buckets/$bucket");
    grep { $_->{state} eq 'ready' } @{ $b->{replicas} || [] } }, 60), "$bucket is ready on eu-1");

# ---------------------------------------------------------------- names, cursors, numbers
error_is([get('/v1/zones/%ff')], 400, 'invalid_field', 'name', 'a zone name that is not UTF-8: 400');
error_is([get('/v1/clusters/%ff%fe')], 400, 'invalid_field', 'name', 'a cluster name that is not UTF-8: 400');
error_is([get('/v1/buckets/%ff')], 400, 'invalid_field', 'name', 'a bucket name that is not UTF-8: 400');
error_is([get('/v1/zones?cursor=%ff')], 400, 'invalid_field', 'cursor', 'a cursor that is not UTF-8: 400');
error_is([get('/v1/buckets?cursor=a%01b')], 400, 'invalid_field', 'cursor', 'a cursor with a control character: 400');
error_is([send_req(DELETE => '/v1/tokens/99999999999999999999')], 400, 'invalid_field', 'id',
         'a 20-digit token id: 400');
error_is([get('/v1/tokens?cursor=99999999999999999999')], 400, 'invalid_field', 'cursor',
         'a 20-digit token cursor: 400');
error_is([get('/v1/zones?limit=99999999999999999999')], 400, 'invalid_field', 'limit',
         'a limit out of range: 400');
error_is([get("/v1/buckets/$bucket/objects?prefix=%ff")], 400, 'invalid_field', 'prefix',
         'an object listing prefix that is not UTF-8: 400');
($s) = get('/v1/zones?cursor=%C3%A9t%C3%A9');
is($s, 200, 'a UTF-8 cursor is fine');

# ---------------------------------------------------------------- object keys
{
    my ($st) = send_req(PUT => "/v1/buckets/$bucket/objects/abc", 'the original');
    is($st, 201, 'object abc stored');
    error_is([send_req(PUT => "/v1/buckets/$bucket/objects/abc%00def", 'intruder')], 400,
             'invalid_key', 'key', 'a key with NUL: 400 invalid_key');
    my (undef, undef, $body) = get("/v1/buckets/$bucket/objects/abc");
    is($body, 'the original', 'abc was not overwritten');
    for my $k ('..', 'a/../b', '%2e%2e/x', 'a//b', './a', 'a/', 'bad%ffkey', 'tab%09key',
               'x' x 1025)
    {
        error_is([send_req(PUT => "/v1/buckets/$bucket/objects/$k", 'x')], 400, 'invalid_key',
                 'key', sprintf('key "%.40s": 400 invalid_key', $k));
    }
    error_is([get("/v1/buckets/$bucket/objects/a//b")], 400, 'invalid_key', 'key',
             'a bad key is refused on GET too');
    error_is([send_req(DELETE => "/v1/buckets/$bucket/objects/a/../abc")], 400, 'invalid_key',
             'key', 'and on DELETE (abc stays)');
    (undef, undef, $body) = get("/v1/buckets/$bucket/objects/abc");
    is($body, 'the original', 'abc is still there');
    # 1024 bytes in segments: MinIO stores a key's segments as file names
    my $long = join('/', ('k' x 200) x 4) . '/' . ('k' x 220);
    ($st, undef, $body) = send_req(PUT => "/v1/buckets/$bucket/objects/$long", 'long');
    is($st, 201, 'a key of exactly 1024 bytes is stored') or diag($body);
    (undef, undef, $body) = get("/v1/buckets/$bucket/objects/$long");
    is($body, 'long', 'and read back');
    ($st) = send_req(PUT => "/v1/buckets/$bucket/objects/caf%C3%A9/d%C3%A9j%C3%A0", 'utf8');
    is($st, 201, 'a UTF-8 key with segments is stored');
    error_is([get("/v1/buckets/$bucket/objects?prefix=abc%00")], 400, 'invalid_field', 'query',
             'a listing prefix with NUL: 400');
}

# ---------------------------------------------------------------- webhook
{
    my $received = metric('fado_events_rejected_total');
    my $ev = '{"Records":[{"eventName":"s3:ObjectCreated:Put","eventTime":"2026-99-99T10:00:00.000Z",'
           . '"s3":{"bucket":{"name":"' . $bucket . '"},"object":{"key":"k1","size":1,'
           . '"eTag":"e","versionId":"v"}}}]}';
    my @r = raw("POST /v1/minio/events/eu-1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $events_token\r\n"
               . "Content-Length: " . length($ev) . "\r\n\r\n$ev");
    error_is(\@r, 400, 'invalid_event', 'Records[0].eventTime',
             'an event time out of range: 400, not a 503 retried for ever');
    is(metric('fado_events_rejected_total'), $received + 1, 'and it is counted as rejected');
    my ($n) = $c->psql("SELECT count(*) FROM objects WHERE key = 'k1'", $c->{db});
    is($n, 0, 'nothing entered the index');
    @r = raw("POST /v1/minio/events/%ff HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $events_token\r\n"
            . "Content-Length: 2\r\n\r\n{}");
    is($r[0], 400, 'a webhook cluster that is not a name: 400');
}

sub metric {
    my ($name) = @_;
    my (undef, undef, $body) = get('/metrics');
    return $body =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# ---------------------------------------------------------------- import
error_is([send_req(POST => '/v1/import', '{}')], 400, 'missing_field', undef,
         'an import of {}: 400');
error_is([send_req(POST => '/v1/import', '{"zones":"x"}')], 400, 'invalid_field', 'zones',
         'an import whose zones is not an array: 400');
error_is([send_req(POST => '/v1/import', '{"zones":[],"bucket":[]}')], 400, 'invalid_field',
         'bucket', 'an import with an unknown member: 400 naming it');
($s) = send_req(POST => '/v1/import', '{"zones":["eu"]}');
is($s, 200, 'a documented import still works');

# ---------------------------------------------------------------- protocol errors
error_is([raw("POST /v1/zones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $token\r\n"
             . "Content-Length: 12abc\r\n\r\n{}")], 400, 'invalid_field', 'Content-Length',
         'a bad Content-Length: 400 JSON');
error_is([raw("POST /v1/zones HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")],
         400, 'invalid_field', 'Content-Length', 'two different Content-Lengths: 400 JSON');
error_is([raw("POST /v1/zones HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $token\r\n"
             . "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")], 411, 'length_required',
         'Transfer-Encoding', 'a chunked body (bad chunking included): 411 JSON');
error_is([raw("GET /v1/zones HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 100_000) . "\r\n\r\n")],
         431, 'head_too_large', undef, 'a 100 KB header: 431 JSON');
error_is([raw("GET /v1/zones HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n")], 400, 'bad_request',
         'headers', 'a header line without a colon: 400 JSON');
error_is([raw("GARBAGE\r\n\r\n")], 400, 'bad_request', 'request-line', 'a malformed request line: 400 JSON');
error_is([raw("GET /v1/zones HTTP/1.1\r\n\r\n")], 400, 'bad_request', 'Host', 'HTTP/1.1 without Host: 400 JSON');
error_is([raw("GET /v1/zones HTTP/3.0\r\nHost: x\r\n\r\n")], 505, 'http_version_not_supported',
         undef, 'HTTP/3.0: 505 JSON');
error_is([send_req(POST => '/v1/zones', 'x' x (9 * 1024 * 1024))], 413, 'body_too_large',
         'Content-Length', 'a JSON body over 8 MiB: 413 before it is read');

# ---------------------------------------------------------------- logs
{
    my ($st) = get('/v1/zones/a%0alevel=error%20msg=forged%0a');
    is($st, 400, 'a name with newlines: 400');
    get('/v1/nothing%22%20forged=1');
    sleep 0.2;
    open my $fh, '<', $c->log_file or die;
    my @lines = <$fh>;
    ok(!(grep { /^level=error msg=forged/ || /^msg=forged/ } @lines), 'no forged line in the log');
    ok(!(grep { /path="\/v1\/nothing" forged=1/ } @lines), 'no forged key=value pair in the log');
    ok((grep { /path="\/v1\/nothing\\" forged=1"/ } @lines), 'the quote is escaped inside the value');
    ok((grep { /path="\/v1\/zones\/a\\x0alevel=error msg=forged\\x0a"/ } @lines),
       'the path is logged quoted, with the newline escaped');
}

# ---------------------------------------------------------------- readyz, 401 with PostgreSQL down
{
    my ($st, undef, undef, $rj) = get('/readyz', token => undef);
    is($st, 200, '/readyz answers without a token (readiness probes hold none)');
    is($rj->{status}, 'ready', 'and says it is ready');
    ok(!(grep { !/^(status|redis|leader)$/ } keys %$rj),
       'and nothing but its state (status, redis, leader)');
    ($st) = get('/v1/zones', token => undef);
    is($st, 401, 'without a token: 401');

    kill 'TERM', $relay;
    waitpid $relay, 0;
    undef $relay;
    # the pool's connections go with the relay: every query fails from now on
    ok(Fado::Controller::wait_until(sub { (get('/readyz', token => undef))[0] == 503 }, 10),
       '/readyz: 503 once PostgreSQL is unreachable');
    error_is([get('/v1/zones', token => undef)], 401, 'unauthorized', 'Authorization',
             'PostgreSQL down, no token: 401, not 503');
    error_is([get('/v1/zones', token => 'fado_' . 'x' x 48)], 401, 'unauthorized', 'Authorization',
             'PostgreSQL down, an unknown token: 401');
    error_is([get('/v1/zones')], 503, 'database_unavailable', undef,
             'PostgreSQL down, a valid token: 503 (it is known without PostgreSQL)');
    # Object calls take their connections from the pool themselves (the
    # transport holds none on the object threads): the same 503.
    error_is([send_req(PUT => "/v1/buckets/$bucket/objects/abc", 'while PostgreSQL is down')],
             503, 'database_unavailable', undef, 'PostgreSQL down: an upload gets 503');
    error_is([get("/v1/buckets/$bucket/objects/abc")], 503, 'database_unavailable', undef,
             'PostgreSQL down: a download gets 503');
    error_is([get("/v1/buckets/$bucket/objects/abc?metadata=true")], 503,
             'database_unavailable', undef, 'PostgreSQL down: metadata gets 503');
    error_is([get("/v1/buckets/$bucket/objects")], 503, 'database_unavailable', undef,
             'PostgreSQL down: the listing gets 503');
    error_is([send_req(DELETE => "/v1/buckets/$bucket/objects/abc")], 503,
             'database_unavailable', undef, 'PostgreSQL down: a delete gets 503');
    error_is([get("/v1/buckets/$bucket/objects/a//b")], 400, 'invalid_key', 'key',
             'PostgreSQL down: a bad key is still refused 400, before PostgreSQL is asked');
}

kill 'TERM', $relay if $relay;
is($c->stop, 0, 'SIGTERM: the controller exits with status 0 (no sanitizer report)');
done_testing();
