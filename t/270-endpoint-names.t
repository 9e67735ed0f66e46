# Function endpoints by host name and URL (issue #14), end to end on real
# PostgreSQL, Redis, three MinIO and nginx with ngx_http_fado_module:
#
# - the API takes IPv4:port, [IPv6]:port and http(s)://host[:port][/path],
#   refuses each bad part with a 400 naming the field, and shows what was
#   written, what it resolved to and what is published;
# - names resolve without /etc/hosts edits: "localhost" (the system's
#   resolver) and names served by a DNS server this suite starts on
#   loopback (FADO_RESOLVER points the controller at it);
# - an https endpoint (nginx's own TLS server, a self-signed certificate the
#   gateway verifies by the endpoint's name) and one with a path prefix
#   are reached through the real gateway, with the Host the name gives;
# - a changed answer changes the route at the gateway, a name with two
#   addresses gives two endpoints, a DNS server that is down keeps the last
#   good addresses with 0 failed requests, a lookup hanging on a dead DNS
#   server delays no other change, and a failed health probe makes the name
#   be asked again long before the interval.

use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::IP;
use POSIX ();
use Socket qw(AF_INET6 inet_pton);
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $base = $ENV{FADO_BASE_PORT};
my $dir = tempdir(CLEANUP => 1);
my ($dns_port, $svc_port, $tls_port, $pfx_port, $gw, $dead_port) = map { $base + $_ } 91 .. 96;
my @children;

# ---------------------------------------------------------------- a DNS server
# Answers A and AAAA questions from $dir/names ("name addr ..." lines, read
# again for every question); names not there get NXDOMAIN.
sub write_names {
    my (%names) = @_;
    open my $fh, '>', "$dir/names.tmp" or die;
    print $fh "$_ $names{$_}\n" for sort keys %names;
    close $fh;
    rename "$dir/names.tmp", "$dir/names" or die;
}

sub start_dns {
    my $sock = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$dns_port", Proto => 'udp',
                                     ReuseAddr => 1) or die "DNS server: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            my $q;
            defined $sock->recv($q, 512) or next;
            next if length $q < 17;
            my ($id) = unpack 'n', $q;
            my ($off, @labels) = (12);
            while ((my $n = ord substr($q, $off, 1)) > 0) {
                push @labels, substr($q, $off + 1, $n);
                $off += $n + 1;
            }
            $off++;
            my ($qtype) = unpack 'n', substr($q, $off, 2);
            my $question = substr($q, 12, $off + 4 - 12);
            my $qname = lc join '.', @labels;
            my %t;
            if (open my $fh, '<', "$dir/names") {
                while (<$fh>) { my ($n, @a) = split; $t{lc $n} = \@a if defined $n; }
            }
            my ($rcode, @answers) = (0);
            if (!$t{$qname}) {
                $rcode = 3;
            } else {
                for my $a (@{ $t{$qname} }) {
                    if ($qtype == 1 && $a =~ /^\d+\.\d+\.\d+\.\d+$/) {
                        push @answers, pack('n n n N n', 0xc00c, 1, 1, 1, 4) . pack('C4', split /\./, $a);
                    } elsif ($qtype == 28 && $a =~ /:/) {
                        push @answers, pack('n n n N n', 0xc00c, 28, 1, 1, 16) . inet_pton(AF_INET6, $a);
                    }
                }
            }
            $sock->send(pack('n n n n n n', $id, 0x8180 | $rcode, 1, scalar @answers, 0, 0)
                        . $question . join('', @answers));
        }
    }
    close $sock;
    push @children, $pid;
    return $pid;
}

sub stop_child {
    my ($pid) = @_;
    kill 'CONT', $pid;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    @children = grep { $_ != $pid } @children;
}

# ---------------------------------------------------------------- function servers
# Each answers "<tag> <request URI> host=<Host header>".
sub echo_server {
    my ($addr, $port, $tag) = @_;
    my $listen = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port, Listen => 64,
                                     ReuseAddr => 1) or die "echo server $addr $port: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (my $c = $listen->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) {
                my $n = sysread($c, $req, 4096, length $req);
                last unless $n;
            }
            my ($uri) = $req =~ m{^\S+ (\S+) HTTP/1};
            my ($host) = $req =~ m{\r\nHost: ([^\r]*)\r\n}i;
            my $body = "$tag $uri host=" . ($host // '') . "\n";
            print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                   . "\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $listen;
    push @children, $pid;
    return $pid;
}

END { kill 'CONT', @children; kill 'TERM', @children; waitpid $_, 0 for @children; }

write_names('svc.fado.test' => '127.0.0.1', 'tls.fado.test' => '127.0.0.1');
my $dns = start_dns();
my $v4 = echo_server('127.0.0.1', $svc_port, 'v4');
my $v6 = echo_server('::1', $svc_port, 'v6');
my $pfx = echo_server('127.0.0.1', $pfx_port, 'pfx');

my $c = Fado::Controller->new(port_offset => 90, tag => "t270_$$", env => {
    FADO_RESOLVER => "127.0.0.1:$dns_port", FADO_RESOLVE_INTERVAL => 1, FADO_RESOLVE_TIMEOUT => 1 });
my $P = $c->prefix;

# ---------------------------------------------------------------- validation
{
    my ($s, $j) = $c->api(POST => '/v1/zones', { name => 'z0' });
    for my $case (['ftp://fn.fado.test', qr/scheme must be http or https/],
                  ['fn.fado.test:80', qr/host: without a scheme/],
                  ['http://fn_1.fado.test', qr/host must be/],
                  ['http://fn.fado.test:99999', qr/port must be a number from 1 to 65535/],
                  ['http://fn.fado.test/a,b', qr/path may hold only/],
                  ['http://fn.fado.test/a?b=1', qr/path must not have a query/],
                  ['http://user:pw@fn.fado.test', qr/credentials/]) {
        my ($addr, $why) = @$case;
        ($s, $j) = $c->api(POST => '/v1/clusters', { name => 'bad-1', zone => 'z0',
                                                     functions => [{ address => $addr }] });
        is($s, 400, "\"$addr\" is refused with 400");
        is($j->{error}{field}, 'functions[0].address', '... naming functions[0].address');
        like($j->{error}{message}, $why, '... and the part that is wrong');
    }
    ($s) = $c->api(GET => '/v1/clusters/bad-1');
    is($s, 404, 'a refused cluster is not created');
}

# ---------------------------------------------------------------- the platform
my @zones = qw(z1 z2 z3);
my %fn = (
    'dns-1' => [{ address => "http://svc.fado.test:$svc_port" },
                { address => "http://nowhere.fado.test:$svc_port" }],
    'tls-1' => [{ address => "https://tls.fado.test:$tls_port", weight => 2, max_inflight => 8 }],
    # the second one refuses connections: its requests are retried on the first
    'pfx-1' => [{ url => "http://localhost:$pfx_port/api/v1/" },
                { url => "http://localhost:$dead_port/dead" }],
);
my @names = ('dns-1', 'tls-1', 'pfx-1');
my $platform = {
    zones => \@zones,
    clusters => [map {
        my $i = $_;
        { name => $names[$i], zone => $zones[$i], functions => $fn{ $names[$i] },
          storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                       access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                       secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } }
    } 0 .. 2],
    buckets => [map { { name => "b-$names[$_]-$$", home_cluster => $names[$_],
                        placement => { allowed_zones => [$zones[$_]], replicas => 1 } } } 0 .. 2],
};
my %bucket = map { $names[$_] => "b-$names[$_]-$$" } 0 .. 2;
my ($s, $j) = $c->api(POST => '/v1/import', $platform);
is($s, 200, 'a platform with endpoints named by URL imports') or diag explain $j;

# A test name that carries a measurement, also shown on stderr.
sub measured { diag $_[0]; $_[0] }

sub cluster_record { $c->redis('HGET', "${P}clusters", $_[0]) }
sub wait_record {
    my ($cluster, $re, $timeout) = @_;
    return Fado::Controller::wait_until(sub { my $r = cluster_record($cluster); $r =~ $re ? $r : undef },
                                        $timeout // 20);
}

like(wait_record('dns-1', qr/svc/), qr/^C2 \d+ z1 up 127\.0\.0\.1:$svc_port,1,0,http,svc\.fado\.test,-$/,
     'a name from the DNS server is published as its address, with its name (Host)');
like(wait_record('tls-1', qr/tls/), qr/^C2 \d+ z2 up 127\.0\.0\.1:$tls_port,2,8,https,tls\.fado\.test,-$/,
     'an https endpoint carries its scheme and name, with its weight and max_inflight');
like(wait_record('pfx-1', qr/localhost/),
     qr/^C2 \d+ z3 up 127\.0\.0\.1:$pfx_port,1,0,http,localhost,\/api\/v1 127\.0\.0\.1:$dead_port,1,0,http,localhost,\/dead$/,
     '"localhost" resolves by the system resolver; the path prefix is published without its trailing "/"');

(undef, $j) = $c->api(GET => '/v1/clusters/dns-1');
my %f = map { $_->{address} => $_ } @{ $j->{functions} };
my $svc = $f{"http://svc.fado.test:$svc_port"};
ok($svc, 'the API shows the endpoint as it was written');
is_deeply([@{$svc}{qw(scheme host port path)}], ['http', 'svc.fado.test', $svc_port, ''],
          'and its parts');
is_deeply($svc->{resolution}{addresses}, ['127.0.0.1'], 'and the addresses its name resolved to');
ok($svc->{resolution}{resolved_at}, 'and when');
is_deeply($svc->{published}, ["127.0.0.1:$svc_port"], 'and what is published for it');
my $nowhere = $f{"http://nowhere.fado.test:$svc_port"};
is_deeply($nowhere->{published}, [], 'a name that never resolved publishes no endpoint');
like($nowhere->{reason}, qr/never resolved \(.+\)/, 'and the API says why, with the lookup error');
(undef, $j) = $c->api(GET => '/v1/clusters/pfx-1');
($f{pfx}) = grep { $_->{port} == $pfx_port } @{ $j->{functions} };
is($f{pfx}{address}, "http://localhost:$pfx_port/api/v1/", 'a "url" is stored as written');
is($f{pfx}{path}, '/api/v1', 'its prefix is the path without trailing "/"');

# ---------------------------------------------------------------- nginx
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tls.fado.test"
       . " -addext subjectAltName=DNS:tls.fado.test -keyout $dir/key.pem -out $dir/cert.pem"
       . " 2>/dev/null") == 0 or die 'openssl req failed';
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "$ENV{FADO_BUILD}/ngx_http_fado_module.so");
mkdir "$dir/logs";
open my $fh, '>', "$dir/nginx.conf" or die;
print $fh <<"EOF";
load_module $module;
daemon off;
master_process on;
worker_processes 1;
error_log $dir/logs/error.log notice;
pid $dir/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fado_shm_zone fado_t270 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$P;
    upstream functions { fado policy=rr; }
    server {
        listen 127.0.0.1:$gw;
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            proxy_next_upstream error timeout;
            # https:// gives the location its TLS context; http endpoints
            # are still sent plain. Endpoints' names are verified.
            proxy_pass https://functions;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $dir/cert.pem;
        }
        # no TLS context here: an https endpoint cannot be reached
        location /plain/ {
            fado_bucket \$http_x_fado_bucket;
            proxy_pass http://functions;
        }
        # the default route: every cluster's endpoints, mixed
        location /any/ {
            fado_unknown_bucket default;
            fado_bucket \$http_x_fado_bucket;
            proxy_pass https://functions;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate $dir/cert.pem;
        }
        location = /fado/status { fado_status; }
    }
    # the https function endpoint
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $dir/cert.pem;
        ssl_certificate_key $dir/key.pem;
        location / { return 200 "tls \$request_uri host=\$http_host sni=\$ssl_server_name\\n"; }
    }
}
EOF
close $fh;
my $nginx = fork // die;
if ($nginx == 0) {
    exec '/usr/sbin/nginx', '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', "$dir/logs/error.log";
    exit 127;
}
push @children, $nginx;
ok(Fado::Controller::wait_until(sub {
       my $r = HTTP::Tiny->new(timeout => 2)->get("http://127.0.0.1:$gw/fado/status");
       $r->{success} && $r->{content} =~ /"ready":true/ }, 15),
   'nginx with the module is up and has a table') or diag `cat $dir/logs/error.log`;

sub invoke {
    my ($bucket) = @_;
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$gw/function/wc?x=1",
        { headers => { 'X-Fado-Bucket' => $bucket } });
    return $r->{status} == 200 ? $r->{content} =~ s/\n//r : "status $r->{status}";
}

sub wait_invoke {
    my ($bucket, $re, $timeout) = @_;
    my $last;
    Fado::Controller::wait_until(sub { ($last = invoke($bucket)) =~ $re }, $timeout // 30);
    return $last;
}

is(wait_invoke($bucket{'tls-1'}, qr/^tls /),
   "tls /function/wc?x=1 host=tls.fado.test:$tls_port sni=tls.fado.test",
   'https endpoint: TLS through the gateway, the certificate verified for its name, SNI and Host'
   . ' are the name');
is(wait_invoke($bucket{'pfx-1'}, qr/^pfx /), "pfx /api/v1/function/wc?x=1 host=localhost:$pfx_port",
   'path prefix: prepended to the request URI, Host is the name');
is(wait_invoke($bucket{'dns-1'}, qr/^v4 /), "v4 /function/wc?x=1 host=svc.fado.test:$svc_port",
   'a name from the DNS server, plain http through the same location');

# A retry after the prefixed endpoint that refuses connections gets the
# head the proxy made, prefixed for the endpoint it goes to, not twice.
{
    my %bodies;
    $bodies{ invoke($bucket{'pfx-1'}) }++ for 1 .. 10;
    is_deeply(\%bodies, { "pfx /api/v1/function/wc?x=1 host=localhost:$pfx_port" => 10 },
              'a retry rebuilds the head for the endpoint it goes to');
    like(`cat $dir/logs/error.log`, qr/connect\(\) failed .*upstream: "http:\/\/127\.0\.0\.1:$dead_port\/dead\/function\/wc/,
         'after the prefixed endpoint that is down was tried with its own prefix');
}

# One location, endpoints of every kind: each request gets its endpoint's.
{
    my %kinds;
    for (1 .. 30) {
        my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$gw/any/f");
        my $b = $r->{content} // '';
        $kinds{ $b eq "tls /any/f host=tls.fado.test:$tls_port sni=tls.fado.test\n" ? 'tls'
              : $b eq "pfx /api/v1/any/f host=localhost:$pfx_port\n" ? 'pfx'
              : $b eq "v4 /any/f host=svc.fado.test:$svc_port\n" ? 'v4'
              : "bad: $r->{status} $b" }++;
    }
    is_deeply([sort keys %kinds], [qw(pfx tls v4)],
              'the default route mixes https, prefixed and plain endpoints, each sent its own way')
        or diag explain \%kinds;
}

{
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$gw/plain/x",
        { headers => { 'X-Fado-Bucket' => $bucket{'tls-1'} } });
    is($r->{status}, 500, 'an https endpoint from a location without TLS context: 500');
    like(`cat $dir/logs/error.log`, qr/is https but this location has no TLS context: use "proxy_pass https:/,
         'and the error log says what the location needs');
}

# Sends requests to $bucket until $done->($body) or $timeout; returns the
# bodies seen (tag => count), the failures and the time $done held.
sub traffic {
    my ($bucket, $done, $timeout) = @_;
    my (%seen, $failed, $t);
    my $deadline = time + $timeout;
    while (time < $deadline) {
        my $b = invoke($bucket);
        if ($b =~ /^(\w+) /) { $seen{$1}++ } else { $failed++ }
        if ($done->($b, \%seen)) { $t = time; last }
    }
    return (\%seen, $failed // 0, $t);
}

# ---------------------------------------------------------------- answers change
my $t0 = time;
write_names('svc.fado.test' => '127.0.0.1 ::1', 'tls.fado.test' => '127.0.0.1');
my ($seen, $failed, $t) = traffic($bucket{'dns-1'}, sub { $_[1]{v6} && $_[1]{v6} >= 5 }, 20);
ok($t, measured(sprintf 'a second address in the answer reaches the gateway (%.2f s after the DNS'
   . ' change, interval 1 s)', ($t // time) - $t0));
like(cluster_record('dns-1'), qr/ 127\.0\.0\.1:$svc_port,1,0,http,svc\.fado\.test,- \[::1\]:$svc_port,1,0,http,svc\.fado\.test,-$/,
     'a name with two addresses is two endpoints, each with the endpoint\'s weight and max_inflight');
is($failed, 0, 'no request failed while the route changed');
(undef, $j) = $c->api(GET => '/v1/clusters/dns-1');
is_deeply([map { @{ $_->{published} } } grep { $_->{host} eq 'svc.fado.test' } @{ $j->{functions} }],
          ["127.0.0.1:$svc_port", "[::1]:$svc_port"], 'the API shows both published addresses');

$t0 = time;
write_names('svc.fado.test' => '::1', 'tls.fado.test' => '127.0.0.1');
my $run = 0;
($seen, $failed, $t) = traffic($bucket{'dns-1'}, sub {
    # done once 20 requests in a row went to the new address
    $run = $_[0] =~ /^v6 / ? $run + 1 : 0; $run >= 20 }, 20);
ok($t, measured(sprintf 'the answer changes: the route follows it (20 requests in a row on the new'
   . ' address %.2f s after the DNS change)', ($t // time) - $t0));
is($failed, 0, 'no request failed');
like(cluster_record('dns-1'), qr/ up \[::1\]:$svc_port,1,0,http,svc\.fado\.test,-$/,
     'the old address left the cluster record');

# ---------------------------------------------------------------- DNS down
stop_child($dns);
($seen, $failed) = traffic($bucket{'dns-1'}, sub { 0 }, 4);
is($failed, 0, measured("DNS server down for 4 s (4 intervals): 0 failed requests"
                         . " ($seen->{v6} served)"));
is_deeply([keys %$seen], ['v6'], 'all served by the last good address');
like(cluster_record('dns-1'), qr/ up \[::1\]:$svc_port,1,0,http,svc\.fado\.test,-$/,
     'the cluster record keeps the last good address');
(undef, $j) = $c->api(GET => '/v1/clusters/dns-1');
($svc) = grep { $_->{host} eq 'svc.fado.test' } @{ $j->{functions} };
is_deeply($svc->{published}, ["[::1]:$svc_port"], 'the API still shows it published');
cmp_ok($svc->{resolution}{failures}, '>=', 1, 'the failed lookups are counted on the name');
like($svc->{resolution}{last_error}, qr/\S/, 'with the last error');
like($svc->{reason}, qr/the last good answer stays published/, 'and the reason says what fado does');
my (undef, undef, $metrics) = $c->api(GET => '/metrics');
like($metrics, qr/^fado_resolve_failures_total [1-9]/m, 'the failures are in the metrics');
open my $log, '<', $c->log_file or die;
my $loglines = do { local $/; <$log> };
like($loglines, qr/endpoint name lookup failed, the last good addresses stay published.*svc\.fado\.test/,
     'and in the log');

# ---------------------------------------------------------------- a hanging DNS server
# Its socket stays bound but nobody answers: every lookup waits for its
# timeouts. A change elsewhere is published all the same.
$dns = start_dns();
kill 'STOP', $dns;
sleep 1.5;      # lookups are now waiting on it
$t0 = time;
my (undef, $pc) = $c->api(GET => '/v1/clusters/pfx-1');
($s, $j) = $c->api(PUT => '/v1/clusters/pfx-1', { zone => 'z3', version => $pc->{version},
    functions => [{ url => "http://localhost:$pfx_port/api/v1/", weight => 7 }],
    storage => { endpoint => $ENV{FADO_MINIO2_ENDPOINT} } });
is($s, 200, 'an endpoint reweighted while DNS hangs') or diag explain $j;
ok(wait_record('pfx-1', qr/,7,0,http,localhost/, 10),
   measured(sprintf 'is published at once (%.2f s): lookups do not hold up the reconcile loop',
            time - $t0));
cmp_ok(time - $t0, '<', 1.5, 'well within one DNS timeout');
kill 'CONT', $dns;

# ---------------------------------------------------------------- probe failure
# With a long interval, the answer changes back to 127.0.0.1 and the
# server on ::1 stops: the failed health probe makes the name be asked again
# at once, long before the interval.
$c->stop;
$c->{env}{FADO_RESOLVE_INTERVAL} = 120;
$c->start;
# the new leader looks every name up once, then not for 120 s
ok(Fado::Controller::wait_until(sub {
       $c->psql("SELECT count(*) FROM endpoint_names WHERE host = 'svc.fado.test'"
                . " AND due_at > now() + interval '60 s'", $c->{db}) == 1 }, 20),
   'the restarted controller resolved the name, next due in 120 s');
write_names('svc.fado.test' => '127.0.0.1', 'tls.fado.test' => '127.0.0.1');
sleep 1.5;
like(cluster_record('dns-1'), qr/\[::1\]/, 'with a 120 s interval the old answer is still published');
$t0 = time;
stop_child($v6);
ok(wait_record('dns-1', qr/ up 127\.0\.0\.1:$svc_port,1,0,http,svc\.fado\.test,-$/, 20),
   measured(sprintf 'a failed health probe of the endpoint has its name resolved again (%.2f s,'
            . ' interval 120 s)', time - $t0));
is(wait_invoke($bucket{'dns-1'}, qr/^v4 /, 10), "v4 /function/wc?x=1 host=svc.fado.test:$svc_port",
   'and the gateway routes to the new address');

unlike(`cat $dir/logs/error.log`, qr/\[(?:alert|crit|emerg)\]/, 'nginx logged no alert');

kill 'QUIT', $nginx;
waitpid $nginx, 0;
@children = grep { $_ != $nginx } @children;
done_testing();
