# The web console (console/, served under /ui/) against a real controller,
# PostgreSQL, Redis, two MinIO deployments and nginx with the module: the
# static files are public and carry a strict CSP, the data is not; the
# console's own endpoints (summary, placement preview, gateways, whoami)
# answer what they document; then a real headless Chromium (Debian's
# /usr/bin/chromium driven by puppeteer-core, console/test/browser.mjs) signs
# in, builds a platform through the pages, watches a replica become ready,
# moves an object up and down, changes a policy and sees the route change,
# and checks that a read-only token cannot write and a wrong one is refused.
# Every browser step is one assertion here; screenshots of each page go to
# t/results/console/ (ignored by git).

use strict;
use warnings;
use lib 't/lib';
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $base = $ENV{FADO_BASE_PORT};
my ($fn1, $fn2, $gw, $dead) = map { $base + $_ } 90, 91, 92, 93;
my $events_token = $ENV{FADO_EVENTS_TOKEN} or BAIL_OUT('FADO_EVENTS_TOKEN not in env.sh');

# B+2: where the harness's MinIO deployments send their notifications.
my $c = Fado::Controller->new(port_offset => 2, tag => "t250_$$", env => {
    FADO_EVENTS_TOKEN => $events_token, FADO_JOB_POLL => 200,
    FADO_GATEWAYS => "http://127.0.0.1:$gw/fado/status,http://127.0.0.1:$dead/fado/status" });
my $url = $c->url;
my $P = $c->prefix;
my @fake = (Fado::Controller->fake_function($fn1, 'fn-eu-1'),
            Fado::Controller->fake_function($fn2, 'fn-us-1'));
my $http = HTTP::Tiny->new(timeout => 10);
my $JSON = JSON::PP->new->canonical;

# ---------------------------------------------------------------- static files
{
    my $r = $http->get("$url/ui/");
    is($r->{status}, 200, '/ui/ is served without a token (static files only)');
    like($r->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
    like($r->{headers}{'content-security-policy'} // '', qr/script-src 'self';.*connect-src 'self'/,
         'with a CSP: scripts and API calls from this origin only');
    is($r->{headers}{'cache-control'}, 'no-cache', 'index.html is revalidated');
    my ($js) = $r->{content} =~ m{src="(/ui/assets/[^"]+\.js)"};
    ok($js, 'it loads its script from /ui/assets/') or diag($r->{content});
    my $a = $http->get("$url$js");
    is($a->{status}, 200, 'the script is served');
    like($a->{headers}{'content-type'}, qr{^text/javascript}, 'as JavaScript');
    like($a->{headers}{'cache-control'}, qr/immutable/, 'content-hashed assets are cached for good');
    is($a->{headers}{'content-length'}, length($a->{content}), 'whole');
    is($http->get("$url/ui/assets/nope-12345678.js")->{status}, 404, 'an unknown file is 404');
    is($http->get("$url/ui/clusters")->{status}, 200, 'a page path is the application');
    my $redir = HTTP::Tiny->new(max_redirect => 0)->get("$url/ui");
    is($redir->{status}, 301, '/ui redirects');
    is($redir->{headers}{location}, '/ui/', 'to /ui/');
    my $post = $http->request(POST => "$url/ui/", { content => 'x' });
    is($post->{status}, 405, 'the console files are read-only (POST is 405)');
}

# ---------------------------------------------------------------- authentication
{
    for my $path (qw(/v1/summary /v1/whoami /v1/gateways)) {
        my ($s) = $c->api(GET => $path, undef, token => undef);
        is($s, 401, "$path without a token is 401");
        ($s) = $c->api(GET => $path, undef, token => 'wrong');
        is($s, 401, "$path with a wrong token is 401");
    }
    my ($s, $j) = $c->api(POST => '/v1/placement/preview', { name => 'x' }, token => undef);
    is($s, 401, 'the placement preview needs a token');
    ($s, $j) = $c->api(GET => '/v1/whoami');
    is_deeply($j, { role => 'admin' }, 'whoami: the bootstrap token is admin');
}

# ---------------------------------------------------------------- platform
my $ak = sub { $ENV{"FADO_MINIO$_[0]_ACCESS_KEY"} };
my $sk = sub { $ENV{"FADO_MINIO$_[0]_SECRET_KEY"} };

my ($s, $j) = $c->api(GET => '/v1/summary');
is($s, 200, 'summary answers');
is_deeply([$j->{buckets}{total}, $j->{replicas}{total}, scalar @{ $j->{clusters} }], [0, 0, 0],
          'summary of an empty platform: nothing');
is($j->{settings}{default_policy}, '-', 'summary carries the settings');

{
    # One answer is shared for a second; a change shows within that.
    $c->api(POST => '/v1/zones', { name => 'cz' });
    sleep 1.1;
    my (undef, $sum) = $c->api(GET => '/v1/summary');
    is_deeply($sum->{zones}, ['cz'], 'summary: a change shows after the 1 s it is shared for');
    $c->api(DELETE => '/v1/zones/cz');
    sleep 1.1;
}

# ---------------------------------------------------------------- gateway
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
    fado_shm_zone fado_t250 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$P;
    upstream functions { fado policy=rr; }
    server {
        listen 127.0.0.1:$gw;
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
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
   'nginx with the module listens') or diag(`cat $dir/logs/error.log`);
{
    my $t0 = time;
    my ($gs, $g) = $c->api(GET => '/v1/gateways');
    my $took = time - $t0;
    is($gs, 200, 'gateways answer');
    my %by = map { $_->{url} => $_ } @{ $g->{items} || [] };
    my $live = $by{"http://127.0.0.1:$gw/fado/status"};
    ok($live && $live->{ok} && defined $live->{status}{table_version},
       "the live gateway's fado_status is passed through") or diag($JSON->encode($g));
    my $gone = $by{"http://127.0.0.1:$dead/fado/status"};
    ok($gone && !$gone->{ok} && length($gone->{error} // ''), 'a dead gateway is reported with why')
        or diag($JSON->encode($g));
    cmp_ok($took, '<', 2, 'within the short timeout');
}

# ---------------------------------------------------------------- placement preview
{
    $c->api(POST => '/v1/zones', { name => $_ }) for qw(pz1 pz2);
    $c->api(POST => '/v1/clusters', { name => "pc$_", zone => "pz$_",
        storage => { endpoint => $ENV{"FADO_MINIO0_ENDPOINT"} } }) for 1, 2;
    my $bad = sub {
        my ($body, $status, $field, $what) = @_;
        my ($st, $e) = $c->api(POST => '/v1/placement/preview', $body);
        is($st, $status, "preview: $what is $status");
        is($e->{error}{field}, $field, "  naming $field");
    };
    $bad->({ name => 'Bad_Name', home_cluster => 'pc1' }, 400, 'name', 'a bad bucket name');
    $bad->({ name => 'pv-b' }, 400, 'home_cluster', 'a missing home');
    $bad->({ name => 'pv-b', home_cluster => 'nope' }, 422, 'home_cluster', 'an unknown home');
    $bad->({ name => 'pv-b', home_cluster => 'pc1', placement => { allowed_zones => ['zz'] } },
           422, 'placement.allowed_zones', 'an unknown zone');
    $bad->({ name => 'pv-b', home_cluster => 'pc1', placement => { replicas => 0 } },
           400, 'placement.replicas', 'zero replicas');
    $bad->({ name => 'pv-b', home_cluster => 'pc1', placement => { pinned_clusters => ['x'] } },
           422, 'placement.pinned_clusters', 'an unknown pin');
    my ($st, $p) = $c->api(POST => '/v1/placement/preview',
        { name => 'pv-b', home_cluster => 'pc1', placement => { replicas => 2 } });
    is($st, 200, 'preview of a new bucket');
    is_deeply([map { "$_->{name}:$_->{why}" } @{ $p->{clusters} }], ['pc1:home', 'pc2:ranked'],
              'it would hold it on the home and the other cluster');
    ok($p->{satisfiable} && !$p->{exists}, 'satisfiable, and a new bucket');
    ($st, $p) = $c->api(POST => '/v1/placement/preview',
        { name => 'pv-b', home_cluster => 'pc1', placement => { replicas => 2, allowed_zones => ['pz1'] } });
    ok(!$p->{satisfiable}, 'a zone constraint that cannot be met is unsatisfiable');
    like($p->{reason}, qr/eligible clusters/, '  with the reason');
    my ($bs) = $c->api(GET => '/v1/buckets/pv-b');
    is($bs, 404, 'previews wrote nothing');
    $c->api(DELETE => "/v1/clusters/pc$_") for 1, 2;
    $c->api(DELETE => "/v1/zones/pz$_") for 1, 2;
}

# ---------------------------------------------------------------- the browser
my $results = "$ENV{FADO_ROOT}/t/results/console";
make_path($results);
unlink glob "$results/*.png";
my %env = (
    CONSOLE_URL => "$url/ui/", API_URL => $url, ADMIN_TOKEN => $c->token,
    GATEWAY_URL => "http://127.0.0.1:$gw", RESULTS_DIR => $results,
    FN_EU => "127.0.0.1:$fn1", FN_US => "127.0.0.1:$fn2",
    BUCKET => "web-$$", TMP_DIR => $dir, CHROMIUM => $ENV{CHROMIUM} // '/usr/bin/chromium',
    map { ("MINIO${_}_ENDPOINT" => $ENV{"FADO_MINIO${_}_ENDPOINT"},
           "MINIO${_}_ACCESS_KEY" => $ak->($_), "MINIO${_}_SECRET_KEY" => $sk->($_)) } 0, 1,
);
{
    local @ENV{keys %env} = values %env;
    open my $node, '-|', 'node', "$ENV{FADO_ROOT}/console/test/browser.mjs"
        or BAIL_OUT("node: $!");
    my $steps = 0;
    while (my $line = <$node>) {
        if ($line =~ /^RESULT (\{.*\})$/) {
            my $r = $JSON->decode($1);
            ok($r->{ok}, "browser: $r->{name}") or diag($r->{diag});
            $steps++;
        } else {
            print STDERR "# $line";
        }
    }
    close $node;
    is($? >> 8, 0, "the browser run finished ($steps steps)");
    cmp_ok($steps, '>=', 20, 'every browser step reported');
}

# ---------------------------------------------------------------- after it
{
    my ($st, $b) = $c->api(GET => "/v1/buckets/web-$$");
    is($st, 200, 'the bucket the browser created is in the API');
    is($b->{policy}, 'lc', 'with the policy the browser set');
    my (undef, $sum) = $c->api(GET => '/v1/summary');
    is($sum->{buckets}{ready}, 1, 'summary: the bucket is ready');
    is($sum->{replicas}{ready}, 2, 'summary: two ready replicas');
    is(join(',', map { "$_->{zone}/$_->{name}" } @{ $sum->{clusters} }), 'eu/eu-1,us/us-1',
       'summary: clusters by zone');
    ok($sum->{routes}{version} > 0 && $sum->{routes}{published} >= 1,
       'summary: routes published, with their version');
    my @pngs = glob "$results/*.png";
    cmp_ok(scalar @pngs, '>=', 8, 'screenshots of every page are in t/results/console')
        or diag("@pngs");
}

kill 'QUIT', $nginx;
waitpid $nginx, 0;
Fado::Controller->stop_fake_function($_) for @fake;
is($c->stop, 0, 'the controller exits 0 on SIGTERM (and, under ASan, without a leak)');
{
    open my $lf, '<', $c->log_file or die;
    local $/;
    my $log = <$lf>;
    my @secrets = ($c->token, map { $sk->($_) } 0, 1);
    is(scalar(grep { index($log, $_) >= 0 } @secrets), 0,
       'no token or storage secret the console handled is in the controller log');
}
done_testing;
