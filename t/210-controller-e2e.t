# fado-controller end to end, on real PostgreSQL, Redis, three MinIO
# deployments and nginx with ngx_http_fado_module: buckets get replicas by
# placement through MinIO replication, routes appear in Redis in the
# contract format, requests through nginx follow API changes and cluster
# health, an unsatisfiable policy is reported, and the controller recovers
# from Redis losing its data, from SIGKILL, and from PostgreSQL going away.

use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $base = $ENV{FADO_BASE_PORT};
my $c = Fado::Controller->new(port_offset => 81, tag => "t210_$$");
my $P = $c->prefix;
my %fn_port = ('eu-1' => $base + 84, 'us-1' => $base + 85, 'asia-1' => $base + 86);
my %fake_pid = map { $_ => Fado::Controller->fake_function($fn_port{$_}, "fn-$_") } keys %fn_port;
my $gw = $base + 87;

my @clusters = (['eu-1', 'eu', 0], ['us-1', 'us', 1], ['asia-1', 'asia', 2]);
my $platform = {
    zones => [qw(eu us asia)],
    clusters => [map {
        my ($name, $zone, $i) = @$_;
        { name => $name, zone => $zone,
          functions => [{ address => "127.0.0.1:$fn_port{$name}" }],
          storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                       access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                       secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } }
    } @clusters],
    buckets => [
        { name => "photos-$$", home_cluster => 'eu-1',
          placement => { allowed_zones => ['eu', 'us'], replicas => 2 } },
        { name => "logs-$$", home_cluster => 'asia-1', placement => { replicas => 1 } },
        { name => "tight-$$", home_cluster => 'eu-1',
          placement => { allowed_zones => ['eu'], replicas => 2 } },
    ],
};
my ($photos, $logs, $tight) = map { $_->{name} } @{ $platform->{buckets} };

my ($s, $j) = $c->api(POST => '/v1/import', $platform);
is($s, 200, 'platform imported');

sub replicas_ready {
    my ($bucket, $n) = @_;
    return Fado::Controller::wait_until(sub {
        my (undef, $b) = $c->api(GET => "/v1/buckets/$bucket");
        my @ready = grep { $_->{state} eq 'ready' } @{ $b->{replicas} || [] };
        return @ready == $n ? $b : undef;
    }, 60);
}

my $b = replicas_ready($photos, 2);
ok($b, "both replicas of $photos become ready through MinIO replication");
is_deeply([sort map { $_->{cluster} } @{ $b->{replicas} }], ['eu-1', 'us-1'],
          'replicas are in the allowed zones');
is($b->{placement_result}{satisfiable}, JSON::PP::true, 'the placement is satisfiable');

# The replica bucket exists on us-1's MinIO with versioning on.
like(`$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR} version info minio1/$photos 2>&1`,
     qr/enabled/i, 'the replica bucket is versioned on the replica cluster');

my $route = Fado::Controller::wait_until(sub {
    my $r = $c->redis('HGET', "${P}routes", $photos);
    return $r =~ / us-1/ ? $r : undef;
}, 20);
like($route, qr/^F2 \d+ - eu-1 us-1$/,
     'the route record in Redis follows contract 2 and names both clusters');
like($c->redis('HGET', "${P}clusters", 'eu-1'), qr/^C2 \d+ eu up 127\.0\.0\.1:$fn_port{'eu-1'},1,0$/,
     'the cluster record carries its zone, state and endpoints');

my (undef, $rj) = $c->api(GET => "/v1/routes/$photos");
is_deeply([map { "$_->{cluster}:$_->{address}" } @{ $rj->{endpoints} }],
          ["eu-1:127.0.0.1:$fn_port{'eu-1'}", "us-1:127.0.0.1:$fn_port{'us-1'}"],
          'GET /v1/routes/{bucket} shows the published endpoints');
cmp_ok($rj->{version}, '>=', 1, 'with the version it was published at');
(undef, $rj) = $c->api(GET => '/v1/routes/_default');
is(scalar @{ $rj->{endpoints} }, 3, 'the default route lists every healthy endpoint');
(undef, $rj) = $c->api(GET => '/v1/routes?limit=1');
is(scalar @{ $rj->{items} }, 1, 'routes are paginated');
ok(defined $rj->{next_cursor}, 'with a cursor to the next page');

$b = replicas_ready($tight, 1);
my (undef, $tb) = $c->api(GET => "/v1/buckets/$tight");
is($tb->{placement_result}{satisfiable}, JSON::PP::false, 'two replicas in one single-cluster zone is unsatisfiable');
like($tb->{placement_result}{reason}, qr/only 1 eligible clusters/, 'the reason is shown on the bucket');
is(scalar @{ $tb->{replicas} }, 1, 'the policy is not weakened outside its zone: one replica only');

# ---------------------------------------------------------------- nginx
# The module from the normal build (the sanitizer pass rebuilds only fado's
# own binaries; nginx is not built with ASan).
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "$ENV{FADO_BUILD}/ngx_http_fado_module.so");
my $dir = tempdir(CLEANUP => 1);
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
    fado_shm_zone fado_t210 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$P;
    upstream functions { fado policy=rr; }
    server {
        listen 127.0.0.1:$gw;
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            proxy_pass http://functions;
        }
    }
}
EOF
close $fh;
my $nginx = fork // die;
if ($nginx == 0) {
    exec '/usr/sbin/nginx', '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', "$dir/logs/error.log";
    exit 127;
}
ok(Fado::Controller::wait_until(sub { IO::Socket::INET->new("127.0.0.1:$gw") }, 10),
   "nginx with the module listens") or die "nginx did not start: " . `cat $dir/logs/error.log`;

sub invoke {
    my ($bucket) = @_;
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$gw/function/wc",
        { headers => { 'X-Fado-Bucket' => $bucket } });
    return $r->{status} == 200 ? $r->{content} =~ s/\n//r : "status $r->{status}";
}

sub served_by {
    my ($bucket, $n) = @_;
    my %seen;
    $seen{ invoke($bucket) }++ for 1 .. ($n // 6);
    return join ',', sort keys %seen;
}

is(Fado::Controller::wait_until(sub { served_by($logs) eq 'fn-asia-1' ? 1 : 0 }, 10) && served_by($logs),
   'fn-asia-1', "requests for $logs run in asia-1, the cluster holding it");
is(served_by($photos), 'fn-eu-1,fn-us-1', "requests for $photos are spread over eu-1 and us-1");

# An API change moves the traffic: logs gets a second replica, pinned to eu-1.
(undef, $b) = $c->api(GET => "/v1/buckets/$logs");
($s) = $c->api(PUT => "/v1/buckets/$logs", { home_cluster => 'asia-1', version => $b->{version},
               placement => { replicas => 2, pinned_clusters => ['eu-1'] } });
is($s, 200, 'bucket placement changed through the API');
ok(replicas_ready($logs, 2), 'the new replica becomes ready');
is(Fado::Controller::wait_until(sub { served_by($logs) eq 'fn-asia-1,fn-eu-1' ? 1 : 0 }, 10)
   && served_by($logs), 'fn-asia-1,fn-eu-1', 'requests now also run in eu-1');

# Health: eu-1's function endpoint dies; its endpoints leave the routes.
my $t0 = time;
my $photos_route = $c->redis('HGET', "${P}routes", $photos);
Fado::Controller->stop_fake_function($fake_pid{'eu-1'});
# (nginx alone would retry elsewhere; the route itself must change.)
ok(Fado::Controller::wait_until(sub {
    $c->redis('HGET', "${P}clusters", 'eu-1') =~ /^C2 \d+ eu down / }, 15),
   "a failing cluster's record says it is down");
is($c->redis('HGET', "${P}routes", $photos), $photos_route,
   'one record changed: the bucket records that name it stay as they are');
(undef, $rj) = $c->api(GET => "/v1/routes/$photos");
is_deeply([map { $_->{cluster} } @{ $rj->{endpoints} }], ['us-1'],
          "the route's endpoints are the healthy cluster's only");
diag(sprintf 'cluster down to route change: %.2f s (probe interval 0.2 s, 2 failures)', time - $t0);
(undef, $j) = $c->api(GET => '/v1/clusters/eu-1');
is($j->{healthy}, JSON::PP::false, 'the cluster is shown unhealthy');
is(served_by($photos), 'fn-us-1', 'requests go to the healthy cluster only');
$fake_pid{'eu-1'} = Fado::Controller->fake_function($fn_port{'eu-1'}, 'fn-eu-1');
ok(Fado::Controller::wait_until(sub {
    $c->redis('HGET', "${P}clusters", 'eu-1') =~ /^C2 \d+ eu up / }, 15),
   'the cluster returns to the route when healthy');
is(Fado::Controller::wait_until(sub { served_by($photos) eq 'fn-eu-1,fn-us-1' ? 1 : 0 }, 15)
   && served_by($photos), 'fn-eu-1,fn-us-1', 'and requests reach it again');

# ---------------------------------------------------------------- recovery
my $before = $c->redis('HGET', "${P}routes", $photos);
$c->redis('DEL', map { "$P$_" } qw(routes version feed default epoch clusters));
my $back = Fado::Controller::wait_until(sub {
    return $c->redis('HLEN', "${P}routes") == 3 ? $c->redis('HGET', "${P}routes", $photos) : undef;
}, 15) // '';
is($back =~ s/^F2 \d+ //r, $before =~ s/^F2 \d+ //r, 'Redis losing its data: every route is republished');
is($c->redis('HLEN', "${P}clusters") + 0, 3, 'and every cluster record');
ok(length $c->redis('GET', "${P}epoch"), 'with a new epoch');
is(Fado::Controller::wait_until(sub { served_by($photos) eq 'fn-eu-1,fn-us-1' ? 1 : 0 }, 10)
   && served_by($photos), 'fn-eu-1,fn-us-1', 'nginx resynced and routes as before');

# Redis replaced by a stale copy (an old epoch, records of buckets and
# clusters gone since): the republish removes what nothing claims.
my $epoch = $c->redis('GET', "${P}epoch");
$c->redis('HSET', "${P}routes", 'ghost-bucket', 'F2 1 - eu-1');
$c->redis('HSET', "${P}clusters", 'ghost-1', 'C2 1 eu up 127.0.0.1:1,1,0');
$c->redis('SET', "${P}epoch", 'stale');
ok(Fado::Controller::wait_until(sub {
       my $e = $c->redis('GET', "${P}epoch") // '';
       $e ne 'stale' && $e ne $epoch
    && $c->redis('HEXISTS', "${P}routes", 'ghost-bucket') == 0
    && $c->redis('HEXISTS', "${P}clusters", 'ghost-1') == 0 }, 15),
   'a republish over a stale table removes the records nothing claims');
is($c->redis('HGET', "${P}routes", $photos) =~ s/^F2 \d+ //r, $before =~ s/^F2 \d+ //r,
   'and rewrites the others as they were');
is($c->redis('HLEN', "${P}clusters") + 0, 3, 'every cluster record stays');

my %routes_before = split /\n/, $c->redis('HGETALL', "${P}routes");
$c->stop('KILL');
$c->start;
sleep 1.5;
my %routes_after = split /\n/, $c->redis('HGETALL', "${P}routes");
is_deeply(\%routes_after, \%routes_before, 'after SIGKILL and restart the routes are the same');

# PostgreSQL gone for a controller: 503 JSON, while nginx keeps routing.
my $c2 = Fado::Controller->new(port_offset => 82, tag => "t210b_$$", prefix => "${P}x:");
$c2->psql("DROP DATABASE " . ($c2->db_url =~ m{/([^/]+)$})[0] . " WITH (FORCE)");
my ($s503, $e503) = $c2->api(GET => '/v1/buckets');
is($s503, 503, 'PostgreSQL unreachable: the API answers 503');
is($e503->{error}{code}, 'database_unavailable', 'with a JSON error');
is(served_by($logs), 'fn-asia-1,fn-eu-1', 'routes already in Redis keep working');
$c2->psql("CREATE DATABASE " . ($c2->db_url =~ m{/([^/]+)$})[0]);
$c2->stop;

# Redis down: the publisher retries, and catches up when Redis is back
# (here empty, as after a restart without persistence).
my $rport = $base + 88;
my $start_redis = sub {
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec 'redis-server', '--bind', '127.0.0.1', '--port', $rport, '--save', '',
             '--appendonly', 'no';
        exit 127;
    }
    Fado::Controller::wait_until(sub { IO::Socket::INET->new("127.0.0.1:$rport") }, 10);
    return $pid;
};
my $own_hget = sub { my $r = `env -u REDISCLI_AUTH redis-cli -p $rport HGET t210c:routes $_[0]`; chomp $r; $r };
my $rpid = $start_redis->();
my $c3 = Fado::Controller->new(port_offset => 83, tag => "t210c_$$", prefix => 't210c:',
                               env => { FADO_REDIS_URL => "redis://127.0.0.1:$rport/0" });
($s) = $c3->api(POST => '/v1/import', { zones => ['asia'], clusters => [$platform->{clusters}[2]],
    buckets => [{ name => "first-$$", home_cluster => 'asia-1' }] });
is($s, 200, 'a controller with its own Redis');
ok(Fado::Controller::wait_until(sub { $own_hget->("first-$$") =~ /^F2 / }, 20),
   'publishes to it');
kill 'TERM', $rpid;
waitpid $rpid, 0;
($s) = $c3->api(POST => '/v1/buckets', { name => "second-$$", home_cluster => 'asia-1' });
is($s, 201, 'the API keeps working while Redis is down');
sleep 1;
my (undef, $m) = $c3->api(GET => '/readyz');
is($m->{redis}, JSON::PP::false, 'readyz reports that publication is failing');
$rpid = $start_redis->();
ok(Fado::Controller::wait_until(sub {
    $own_hget->("first-$$") =~ /^F2 / && $own_hget->("second-$$") =~ /^F2 / }, 20),
   'when Redis is back, every route is there, the one added meanwhile too');
$c3->stop;
kill 'TERM', $rpid;
waitpid $rpid, 0;

kill 'QUIT', $nginx;
waitpid $nginx, 0;
done_testing();
