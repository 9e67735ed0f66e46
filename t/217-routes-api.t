# What a FaDO user configures through the API reaches a real nginx: policy
# names (fado's and FaDO's aliases), per-bucket route overrides published as
# F1 records, and the bucket_header setting the gateway follows where
# nginx.conf names no bucket. Real PostgreSQL, Redis, MinIO and nginx.

use strict;
use warnings;
use lib 't/lib';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $base = $ENV{FADO_BASE_PORT};
my $c = Fado::Controller->new(port_offset => 81, tag => "t217_$$");
my $P = $c->prefix;
my %fn_port = ('eu-1' => $base + 84, 'us-1' => $base + 85, 'x1' => $base + 86, 'x2' => $base + 88);
my %fake_pid = map { $_ => Fado::Controller->fake_function($fn_port{$_}, "fn-$_") } keys %fn_port;
my $gw = $base + 87;

my $platform = {
    zones => [qw(eu us)],
    clusters => [map {
        my ($name, $zone, $i) = @$_;
        { name => $name, zone => $zone,
          functions => [{ address => "127.0.0.1:$fn_port{$name}" }],
          storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                       access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                       secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } }
    } (['eu-1', 'eu', 0], ['us-1', 'us', 1])],
    buckets => [{ name => "photos-$$", home_cluster => 'eu-1', placement => { replicas => 1 } }],
};
my $photos = "photos-$$";
my ($s, $j) = $c->api(POST => '/v1/import', $platform);
is($s, 200, 'platform imported');

sub route { $c->redis('HGET', "${P}routes", $photos) =~ s/\s+\z//r }
sub setting { $c->redis('HGET', "${P}settings", 'bucket_header') =~ s/\s+\z//r }
sub wait_route {
    my ($re) = @_;
    return Fado::Controller::wait_until(sub { route() =~ $re ? route() : undef }, 20) // route();
}
sub bucket { (undef, my $b) = $c->api(GET => "/v1/buckets/$photos"); $b }
sub put_bucket {
    my (%fields) = @_;
    my $b = bucket();
    return $c->api(PUT => "/v1/buckets/$photos", { home_cluster => 'eu-1', version => $b->{version},
                                                   placement => { replicas => 1 }, %fields });
}

like(wait_route(qr/^F2 \d+ - eu-1$/), qr/^F2 \d+ - eu-1$/, 'the placement route names the home cluster');

# ---------------------------------------------------------------- policies
for my $case (['round_robin', 'rr'], ['least_conn', 'lc'], ['ip_hash', 'chash'],
              ['uri_hash', 'chash'], ['random', 'random'], ['first', 'first'], ['p2c', 'p2c'])
{
    my ($name, $token) = @$case;
    ($s, $j) = put_bucket(policy => $name);
    is($s, 200, "bucket policy $name accepted");
    is($j->{policy}, $token, "and stored as the record token $token");
    like(wait_route(qr/^F2 \d+ \Q$token\E eu-1$/), qr/^F2 \d+ \Q$token\E eu-1$/,
         "the route record carries $token");
}
my $before = route();
($s, $j) = put_bucket(policy => 'fastest');
is($s, 400, 'an unknown policy is refused');
is($j->{error}{field}, 'policy', 'naming the field');
like($j->{error}{message}, qr/random, first, or FaDO's round_robin/, 'listing the accepted names');
is(bucket()->{policy}, 'p2c', 'and nothing changed');

($s, $j) = $c->api(PUT => '/v1/settings', { default_policy => 'least_conn' });
is($s, 200, 'default_policy least_conn accepted');
is($j->{default_policy}, 'lc', 'stored as lc');
($s, $j) = $c->api(PUT => '/v1/settings', { default_policy => 'sticky' });
is($s, 400, 'an unknown default_policy is refused');
is($j->{error}{field}, 'default_policy', 'naming the field');
(undef, $j) = $c->api(GET => '/v1/settings');
is($j->{default_policy}, 'lc', 'and the setting is unchanged');
($s) = put_bucket(policy => '-');
like(wait_route(qr/^F2 \d+ lc eu-1$/), qr/^F2 \d+ lc eu-1$/,
     'a bucket without its own policy is published with the default policy');

my $sql = `psql -X -qAt -d $c->{db} -c "UPDATE buckets SET policy = 'wrr'" 2>&1`;
like($sql, qr/buckets_policy_token/, 'PostgreSQL refuses a policy that is no record token');

# ---------------------------------------------------------------- nginx
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "$ENV{FADO_BUILD}/ngx_http_fado_module.so");
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/logs";
open my $fh, '>', "$dir/nginx.conf" or die;
print $fh <<"EOF";
load_module $module;
daemon off;
master_process on;
worker_processes 2;
error_log $dir/logs/error.log notice;
pid $dir/logs/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fado_shm_zone fado_t217 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$P;
    upstream functions { fado policy=rr; }
    server {
        listen 127.0.0.1:$gw;
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            proxy_next_upstream error timeout;
            proxy_pass http://functions;
        }
        location /auto/ {
            proxy_next_upstream error timeout;
            proxy_pass http://functions;
        }
        location = /fado/status { fado_status; }
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
   'nginx with the module listens') or die 'nginx did not start: ' . `cat $dir/logs/error.log`;

sub get {
    my ($path, %h) = @_;
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$gw$path", { headers => \%h });
    return $r->{status} == 200 ? $r->{content} =~ s/\n//r : "status $r->{status}";
}
sub invoke { get('/function/wc', 'X-Fado-Bucket' => $_[0]) }
sub served_by {
    my ($bucket, $n) = @_;
    my %seen;
    $seen{ invoke($bucket) }++ for 1 .. ($n // 6);
    return join ',', sort keys %seen;
}
sub eventually { my ($want, $f) = @_; Fado::Controller::wait_until(sub { $f->() eq $want ? 1 : 0 }, 15); $f->() }

is(eventually('fn-eu-1', sub { served_by($photos) }), 'fn-eu-1', 'the placement route serves from eu-1');

# ---------------------------------------------------------------- overrides
my $x1 = "127.0.0.1:$fn_port{x1}";
my $x2 = "127.0.0.1:$fn_port{x2}";
my $ov = { policy => 'first', endpoints => [
    { address => $x1, cluster => 'us-1' },
    { address => $x2, cluster => 'eu-1', weight => 3, max_inflight => 8 } ] };
($s, $j) = put_bucket(route_override => $ov);
is($s, 200, 'a route override is accepted');
is_deeply($j->{route_override}, { policy => 'first', endpoints => [
    { address => $x1, cluster => 'us-1', weight => 1, max_inflight => 0 },
    { address => $x2, cluster => 'eu-1', weight => 3, max_inflight => 8 } ] },
    'the bucket shows it, in order, with defaults filled in');
my $f1 = qr/^F1 \d+ first \Q$x1\E,us-1,us,1,0 \Q$x2\E,eu-1,eu,3,8$/;
like(wait_route($f1), $f1, 'it is published as an F1 record: its endpoints, cluster zones, policy');
(undef, $j) = $c->api(GET => "/v1/routes/$photos");
is($j->{contract}, 1, 'GET /v1/routes shows the contract of the record');
is_deeply([map { "$_->{cluster}/$_->{zone}/$_->{address}/$_->{weight}" } @{ $j->{endpoints} }],
          ["us-1/us/$x1/1", "eu-1/eu/$x2/3"], 'and the override endpoints, decoded');
is(eventually('fn-x1', sub { served_by($photos) }), 'fn-x1',
   'the gateway serves the bucket from the first override endpoint');
Fado::Controller->stop_fake_function($fake_pid{x1});
is(served_by($photos), 'fn-x2', 'the first endpoint down, policy first takes the next one');
$fake_pid{x1} = Fado::Controller->fake_function($fn_port{x1}, 'fn-x1');

my $published = route();
my @bad = (
    [{ endpoints => [] }, 'route_override.endpoints', 400],
    [{ endpoints => [{ address => 'faas1:9100', cluster => 'eu-1' }] },
     'route_override.endpoints[0].address', 400],
    [{ endpoints => [{ address => $x1, cluster => 'eu-1' }, { address => $x2, cluster => 'mars-1' }] },
     'route_override.endpoints[1].cluster', 422],
    [{ endpoints => [{ address => $x1, cluster => 'eu-1', weight => 0 }] },
     'route_override.endpoints[0].weight', 400],
    [{ endpoints => [{ address => $x1, cluster => 'eu-1' }, { address => $x1, cluster => 'eu-1' }] },
     'route_override.endpoints[1]', 400],
    [{ policy => 'fastest', endpoints => [{ address => $x1, cluster => 'eu-1' }] },
     'route_override.policy', 400],
    ['x1', 'route_override', 400],
);
for my $case (@bad) {
    my ($o, $field, $status) = @$case;
    ($s, $j) = put_bucket(route_override => $o);
    is($s, $status, "a bad override is refused with $status ($field)");
    is($j->{error}{field}, $field, "naming $field");
}
is(bucket()->{route_override}{endpoints}[0]{address}, $x1, 'the refused overrides changed nothing');
sleep 0.5;
is(route(), $published, 'nor the published record');

($s, $j) = put_bucket(route_override => undef);
is($s, 200, 'the override is removed');
is($j->{route_override}, undef, 'the bucket shows none');
like(wait_route(qr/^F2 \d+ lc eu-1$/), qr/^F2 \d+ lc eu-1$/, 'the bucket is back on its placement route');
is(eventually('fn-eu-1', sub { served_by($photos) }), 'fn-eu-1', 'and the gateway follows it');

# ---------------------------------------------------------------- bucket_header
is(Fado::Controller::wait_until(sub { setting() }, 10),
   'X-Fado-Bucket', 'the bucket_header setting is published to the settings hash');
is(eventually('fn-eu-1', sub { get('/auto/wc', 'X-Fado-Bucket' => $photos) }), 'fn-eu-1',
   'a location without fado_bucket routes by the published header');
($s, $j) = $c->api(PUT => '/v1/settings', { bucket_header => 'X-Tenant' });
is($s, 200, 'bucket_header changed through the API');
is(eventually('fn-eu-1', sub { get('/auto/wc', 'X-Tenant' => $photos) }), 'fn-eu-1',
   'the gateway follows: the new header routes');
is(get('/auto/wc', 'X-Fado-Bucket' => $photos), 'status 500', 'the old header no longer does');
is(invoke($photos), 'fn-eu-1', 'a location with fado_bucket keeps its own header (nginx.conf wins)');
like(get('/fado/status', 'X-Tenant' => 'nosuch'), qr/"bucket_header":"X-Tenant"/,
     'the status shows the header the gateway uses');
($s, $j) = $c->api(PUT => '/v1/settings', { bucket_header => 'X_Tenant' });
is($s, 400, 'a header name with "_" is refused');
is($j->{error}{field}, 'bucket_header', 'naming the field');
is(setting(), 'X-Tenant', 'and nothing is published');

# Redis losing its data: the setting comes back with the republish.
$c->redis('DEL', map { "$P$_" } qw(routes version feed default epoch clusters settings));
is(Fado::Controller::wait_until(sub { setting() }, 15),
   'X-Tenant', 'a republish writes the setting again');

kill 'QUIT', $nginx;
waitpid $nginx, 0;
done_testing();
