# The data plane end to end on three real MinIO deployments: the unified
# object API (streamed upload to the home, download from a ready replica in
# the requested zone, HEAD, metadata with locations, listing from the index,
# delete, errors mapped), the MinIO webhook (authentication, malformed
# payloads rejected without effect, events keeping the index current), a
# 256 MiB object through the API with the controller's peak memory measured,
# a zone constraint, a replica leaving the placement with its data kept, and
# a controller SIGKILLed during a resync finishing it after restart.
#
# The controller listens on B+2, where the harness's MinIO deployments send
# their bucket notifications (scripts/fado-local).

use strict;
use warnings;
use lib 't/lib';
use Digest::SHA;
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $events_token = $ENV{FADO_EVENTS_TOKEN} or BAIL_OUT('FADO_EVENTS_TOKEN not in env.sh');
my $c = Fado::Controller->new(port_offset => 2, tag => "t220_$$", env => {
    FADO_EVENTS_TOKEN => $events_token, FADO_JOB_POLL => 200, FADO_VERIFY_INTERVAL => 2,
    FADO_SCAN_INTERVAL => 3600 });
my $url = $c->url;
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $tmp = "$ENV{FADO_RUN_DIR}/t220";
mkdir $tmp;

my @clusters = (['eu-1', 'eu', 0], ['us-1', 'us', 1], ['asia-1', 'asia', 2]);
my ($all, $euus, $resync) = ("all-$$", "euus-$$", "resync-$$");
my ($s, $j, $raw) = $c->api(POST => '/v1/import', {
    zones => [qw(eu us asia)],
    clusters => [map {
        my ($name, $zone, $i) = @$_;
        { name => $name, zone => $zone,
          storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                       access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                       secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } }
    } @clusters],
    buckets => [
        { name => $all, home_cluster => 'eu-1', placement => { replicas => 3 } },
        { name => $euus, home_cluster => 'eu-1',
          placement => { allowed_zones => ['eu', 'us'], replicas => 2 } },
    ],
});
is($s, 200, 'platform imported') or diag($raw);

sub ready_clusters {
    my ($bucket) = @_;
    my (undef, $b) = $c->api(GET => "/v1/buckets/$bucket");
    return join ',', sort map { $_->{cluster} } grep { $_->{state} eq 'ready' } @{ $b->{replicas} || [] };
}
sub wait_for { Fado::Controller::wait_until(@_) }

is(wait_for(sub { ready_clusters($all) eq 'asia-1,eu-1,us-1' }, 60), 1,
   "$all: every cluster holds a ready replica");
is(wait_for(sub { ready_clusters($euus) eq 'eu-1,us-1' }, 60), 1,
   "$euus: replicas only in the allowed zones");
like(`$mc ls minio2/$euus 2>&1`, qr/does not exist|NoSuchBucket/i,
     'the zone constraint holds in MinIO: asia has no such bucket');

my $http = HTTP::Tiny->new(timeout => 120);
sub obj {    # obj(METHOD, PATH, BODY, HEADERS) -> response
    my ($method, $path, $body, %h) = @_;
    $h{Authorization} //= 'Bearer ' . $c->token;
    delete $h{Authorization} if $h{Authorization} eq 'none';
    return $http->request($method, "$url$path", { headers => \%h,
        defined $body ? (content => $body) : () });
}
sub metric {
    my ($name) = @_;
    my $r = obj(GET => '/metrics');
    return $r->{content} =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# ---------------------------------------------------------------- webhook
{
    my $event = sub {
        my ($key) = @_;
        return '{"EventName":"s3:ObjectCreated:Put","Key":"' . "$all/$key" . '","Records":[{'
             . '"eventName":"s3:ObjectCreated:Put","eventTime":"2026-01-01T00:00:00.000Z",'
             . '"s3":{"bucket":{"name":"' . $all . '"},"object":{"key":"' . $key . '",'
             . '"size":5,"eTag":"abc","versionId":"v-fake"}},'
             . '"responseElements":{"x-minio-origin-endpoint":"' . $ENV{FADO_MINIO0_ENDPOINT} . '"}}]}';
    };
    my $post = sub {
        my ($body, $auth) = @_;
        return $http->request(POST => "$url/v1/minio/events", {
            headers => { 'Content-Type' => 'application/json',
                         defined $auth ? (Authorization => $auth) : () },
            content => $body });
    };
    is($post->($event->('hook-a'))->{status}, 401, 'webhook: no token is 401');
    is($post->($event->('hook-a'), 'Bearer ' . $c->token)->{status}, 401,
       'webhook: an API token is not the events token');
    is($post->($event->('hook-a'), "Bearer ${events_token}x")->{status}, 401,
       'webhook: a wrong token is 401');
    my $rejected = metric('fado_events_rejected_total');
    my $r = $post->('{"Records": [', "Bearer $events_token");
    is($r->{status}, 400, 'webhook: malformed JSON is 400');
    my $bad = $event->('hook-c') =~ s/\]\}$//r . ',{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"x"},"object":{"key":17}}}]}';
    $r = $post->($bad, "Bearer $events_token");
    is($r->{status}, 400, 'webhook: a record with a bad field is 400');
    like($r->{content}, qr/"field":"Records\[1\]\.s3\.object\.key"/, 'the error names the field');
    my (undef, $l) = $c->api(GET => "/v1/buckets/$all/objects?prefix=hook-");
    is_deeply($l->{items}, [], 'nothing of a rejected payload was applied (valid record 0 included)');
    is(metric('fado_events_rejected_total'), $rejected + 2, 'rejections are counted');

    $r = $post->($event->('hook-d%2Fsub+x'), "Bearer $events_token");
    is($r->{status}, 200, 'webhook: a valid event is accepted');
    (undef, $l) = $c->api(GET => "/v1/buckets/$all/objects?prefix=hook-");
    is_deeply([map { "$_->{key}|$_->{version_id}|$_->{size}|@{$_->{locations}}" } @{ $l->{items} }],
              ['hook-d/sub x|v-fake|5|eu-1'],
              'it reached the index: URL-decoded key, version, size, the home as location');
}

# ---------------------------------------------------------------- object API
my ($ver, $etag);
{
    my $body = "hello, data plane $$\n" x 100;
    my $r = obj(PUT => "/v1/buckets/$all/objects/docs/hello.txt", $body,
                'Content-Type' => 'text/plain');
    is($r->{status}, 201, 'PUT an object: 201');
    my $o = eval { JSON::PP->new->decode($r->{content}) } || {};
    is($o->{cluster}, 'eu-1', 'stored on the home cluster');
    is($o->{size}, length $body, 'size reported');
    ok(length($o->{version_id} // '') > 10, 'with its MinIO version id');
    ($ver, $etag) = ($o->{version_id}, $o->{etag});
    is(`$mc cat minio0/$all/docs/hello.txt`, $body, 'the home MinIO holds those bytes');

    my $l = wait_for(sub {
        my (undef, $l) = $c->api(GET => "/v1/buckets/$all/objects?prefix=docs/");
        my ($it) = @{ $l->{items} || [] };
        return $it && $it->{replication_status} eq 'COMPLETED' ? $it : undef;
    }, 30);
    ok($l, 'the listing shows it, and replication completes (MinIO events)');
    is_deeply([@{ $l->{locations} || [] }], ['asia-1', 'eu-1', 'us-1'], 'located on every replica');
    is($l->{version_id}, $ver, 'at the uploaded version');
    is(`$mc cat minio2/$all/docs/hello.txt`, $body, 'MinIO replicated it to asia');

    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt?zone=asia");
    is($r->{status}, 200, 'GET with zone=asia');
    is($r->{headers}{'x-fado-cluster'}, 'asia-1', 'served by the replica in asia');
    is($r->{content}, $body, 'the same bytes');
    is($r->{headers}{'content-type'}, 'text/plain', 'with its content type');
    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt", undef, 'X-Fado-Zone' => 'us');
    is($r->{headers}{'x-fado-cluster'}, 'us-1', 'X-Fado-Zone: us picks the replica in us');
    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt");
    is($r->{headers}{'x-fado-cluster'}, 'eu-1', 'no zone: the home');

    $r = obj(HEAD => "/v1/buckets/$all/objects/docs/hello.txt");
    is($r->{status}, 200, 'HEAD: 200');
    is($r->{headers}{'content-length'}, length $body, 'HEAD: Content-Length is the size');
    is($r->{headers}{'x-fado-version-id'}, $ver, 'HEAD: version id');
    is($r->{content} // '', '', 'HEAD: no body');

    my (undef, $m) = $c->api(GET => "/v1/buckets/$all/objects/docs/hello.txt?metadata=true");
    is($m->{replication_status}, 'COMPLETED', 'metadata: the home reports replication complete');
    is_deeply([map { "$_->{cluster}:" . ($_->{present} ? 1 : 0) } @{ $m->{locations} }],
              ['eu-1:1', 'asia-1:1', 'us-1:1'], 'metadata: present on every cluster (asked of each)');
    is($m->{etag}, $etag, 'metadata: etag');

    # An object written to the home MinIO directly shows up through events.
    system("echo direct | $mc pipe -q minio0/$all/direct/one.txt >/dev/null") == 0
        or die "mc pipe failed";
    ok(wait_for(sub {
        my (undef, $l) = $c->api(GET => "/v1/buckets/$all/objects?prefix=direct/");
        return @{ $l->{items} || [] } == 1;
    }, 20), 'an object written straight to MinIO enters the index through its event');

    # Pagination.
    my (undef, $p1) = $c->api(GET => "/v1/buckets/$all/objects?limit=1");
    is(scalar @{ $p1->{items} }, 1, 'limit=1: one item');
    my (undef, $p2) = $c->api(GET => "/v1/buckets/$all/objects?limit=1&cursor=$p1->{next_cursor}");
    ok($p2->{items}[0]{key} gt $p1->{items}[0]{key}, 'the cursor continues after the last key');
}

# ---------------------------------------------------------------- errors
{
    my $r = obj(GET => "/v1/buckets/$all/objects/nope.txt");
    is($r->{status}, 404, 'missing key: 404');
    like($r->{content}, qr/"field":"key"/, 'naming the key');
    $r = obj(GET => "/v1/buckets/no-such-$$/objects/x");
    is($r->{status}, 404, 'missing bucket: 404');
    like($r->{content}, qr/"field":"bucket"/, 'naming the bucket');
    $r = obj(PUT => "/v1/buckets/$all/objects/x", 'x', Authorization => 'none');
    is($r->{status}, 401, 'upload without a token: 401');
    my (undef, $t) = $c->api(POST => '/v1/tokens', { name => 'ro', role => 'read-only' });
    $r = obj(PUT => "/v1/buckets/$all/objects/x", 'x', Authorization => "Bearer $t->{token}");
    is($r->{status}, 403, 'upload with a read-only token: 403');
    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt", undef,
             Authorization => "Bearer $t->{token}");
    is($r->{status}, 200, 'a read-only token downloads');
    $r = obj(GET => "/v1/buckets/$all/objects?limit=0");
    is($r->{status}, 400, 'limit=0: 400');
    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt?version_id=00000000-0000-0000-0000-000000000000");
    is($r->{status}, 404, 'an unknown version: 404 (MinIO NoSuchVersion mapped)');
}

# ---------------------------------------------------------------- delete
{
    my $r = obj(DELETE => "/v1/buckets/$all/objects/docs/hello.txt");
    is($r->{status}, 204, 'DELETE: 204');
    is(obj(GET => "/v1/buckets/$all/objects/docs/hello.txt")->{status}, 404, 'then GET is 404');
    my (undef, $l) = $c->api(GET => "/v1/buckets/$all/objects?prefix=docs/");
    is_deeply($l->{items}, [], 'gone from the listing');
    ok(wait_for(sub { `$mc ls minio2/$all/docs/ 2>&1` !~ /hello/ }, 20),
       'the delete marker replicated to asia');
    $r = obj(GET => "/v1/buckets/$all/objects/docs/hello.txt?version_id=$ver");
    is($r->{status}, 200, 'the old version is still readable by id: nothing was destroyed');
}

# ---------------------------------------------------------------- 256 MiB
{
    my $file = "$tmp/big.bin";
    system("head -c 268435456 /dev/urandom >$file") == 0 or die 'cannot make the big file';
    my $sha = Digest::SHA->new(256)->addfile($file)->hexdigest;
    my $pid = $c->{pid};
    my $hwm = sub { open my $f, '<', "/proc/$pid/status" or return 0;
                    local $/; my $st = <$f>; return $st =~ /VmHWM:\s+(\d+)/ ? $1 : 0 };
    my $before = $hwm->();
    my $auth = 'Authorization: Bearer ' . $c->token;
    my $code = `curl -s -o $tmp/put.json -w '%{http_code}' -H '$auth' -T $file '$url/v1/buckets/$euus/objects/big.bin'`;
    is($code, 201, 'PUT 256 MiB through the API: 201') or diag(`cat $tmp/put.json`);
    $code = `curl -s -o $tmp/got.bin -w '%{http_code}' -H '$auth' '$url/v1/buckets/$euus/objects/big.bin'`;
    is($code, 200, 'GET 256 MiB through the API: 200');
    is(Digest::SHA->new(256)->addfile("$tmp/got.bin")->hexdigest, $sha, 'the same 256 MiB came back');
    my $growth = ($hwm->() - $before) / 1024;
    cmp_ok($growth, '<', 64, sprintf('controller peak RSS grew %.1f MiB for 256 MiB up and down', $growth));
    diag(sprintf 'controller VmHWM %d KiB before, %d KiB after', $before, $hwm->());
    unlink $file, "$tmp/got.bin";
}

# ---------------------------------------------------------------- placement change
{
    my (undef, $b) = $c->api(GET => "/v1/buckets/$euus");
    my ($s2, undef, $raw2) = $c->api(PUT => "/v1/buckets/$euus", { home_cluster => 'eu-1',
        version => $b->{version}, placement => { allowed_zones => ['eu', 'us'], replicas => 1 } });
    is($s2, 200, "$euus: replicas 2 -> 1") or diag($raw2);
    is(wait_for(sub { ready_clusters($euus) eq 'eu-1' && do {
        my (undef, $b) = $c->api(GET => "/v1/buckets/$euus"); @{ $b->{replicas} } == 1 } }, 30), 1,
       'the us-1 replica leaves');
    like(`$mc ls minio1/$euus/ 2>&1`, qr/big\.bin/, "its data stays on us-1's MinIO");
    (my $us = $ENV{FADO_MINIO1_ENDPOINT}) =~ s{^http://}{};
    my $targets = `$ENV{FADO_BUILD}/fado-storage -s minio0 targets $euus 2>&1`;
    is($?, 0, 'the home lists its remote targets');
    unlike($targets, qr/\Q$us\E/, 'replication towards us-1 stopped (no remote target left)');
}

# ---------------------------------------------------------------- kill during resync
{
    my $dir = "$tmp/many";
    mkdir $dir;
    for my $i (1 .. 400) {
        open my $f, '>', sprintf('%s/o%04d', $dir, $i) or die;
        print $f "object $i " x 200;
        close $f;
    }
    system("$mc mb -q minio0/$resync >/dev/null && $mc cp -q -r $dir/ minio0/$resync/ >/dev/null") == 0
        or die 'cannot fill the bucket';
    my ($s3) = $c->api(POST => '/v1/buckets', { name => $resync, home_cluster => 'eu-1',
        placement => { allowed_zones => ['eu', 'asia'], replicas => 2 } });
    is($s3, 201, 'a bucket adopted with 400 existing objects, replicated to asia');
    my $seen = wait_for(sub {
        my $st = $c->psql("SELECT state FROM replicas WHERE bucket = '$resync' AND cluster = 'asia-1'",
                          $c->{db});
        return $st eq 'syncing' || $st eq 'ready' ? $st : undef;
    }, 30);
    ok($seen, "the asia replica started ($seen) before the kill");
    $c->stop('KILL');
    my $jobs = $c->psql("SELECT count(*) FROM jobs WHERE bucket = '$resync'", $c->{db});
    diag("jobs left for $resync at the kill: $jobs, replica state $seen");
    my $restart = $c->psql('SELECT now()', $c->{db});
    $c->start;
    is(wait_for(sub { ready_clusters($resync) eq 'asia-1,eu-1' }, 60), 1,
       'after the restart the replica reaches ready');
    my $count = () = `$mc ls minio2/$resync/` =~ /o\d{4}/g;
    is($count, 400, 'and asia holds all 400 objects');
    my $left = $c->psql("SELECT count(*) FROM jobs WHERE bucket = '$resync' AND kind = 'replica'"
                        . " AND state = 'running' AND updated_at < '$restart'", $c->{db});
    is($left, 0, "no job is left running for the killed controller");
}

is($c->stop, 0, 'the controller exits 0 on SIGTERM');
system("rm -rf $tmp");
done_testing();
