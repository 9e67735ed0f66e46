# fado-controller API contract: every resource's happy path, validation
# errors naming the field, authentication (401) and authorisation (403),
# missing resources (404), conflicts (409, 422), pagination, and storage
# secrets never returned nor logged. Real PostgreSQL and Redis.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Fado::Controller;

my $c = Fado::Controller->new(port_offset => 80, tag => "t200_$$");
my $secret = "s3cr3t-never-shown-$$";

sub api { $c->api(@_) }

# ---------------------------------------------------------------- auth
{
    my ($s, $j) = api(GET => '/healthz', undef, token => undef);
    is($s, 200, 'healthz answers without a token');
    ($s, $j) = api(GET => '/v1/zones', undef, token => undef);
    is($s, 401, 'no token: 401');
    is($j->{error}{field}, 'Authorization', '401 names the Authorization header');
    ($s) = api(GET => '/v1/zones', undef, token => 'fado_wrong');
    is($s, 401, 'unknown token: 401');
}

# ---------------------------------------------------------------- zones
{
    my ($s, $j) = api(POST => '/v1/zones', { name => 'eu' });
    is($s, 201, 'zone created');
    is($j->{name}, 'eu', 'created zone is returned');
    api(POST => '/v1/zones', { name => $_ }) for qw(us asia);
    ($s, $j) = api(POST => '/v1/zones', { name => 'eu' });
    is($s, 409, 'duplicate zone: 409');
    ($s, $j) = api(POST => '/v1/zones', { name => 'bad zone!' });
    is($s, 400, 'invalid zone name: 400');
    is($j->{error}{field}, 'name', '400 names the field');
    ($s, $j) = api(POST => '/v1/zones', '{not json');
    is($s, 400, 'malformed JSON: 400');
    is($j->{error}{code}, 'invalid_json', 'malformed JSON is named as such');
    ($s, $j) = api(GET => '/v1/zones/mars');
    is($s, 404, 'unknown zone: 404');
    ($s, $j) = api(GET => '/v1/zones?limit=2');
    is_deeply([map { $_->{name} } @{ $j->{items} }], ['asia', 'eu'], 'first page of zones');
    is($j->{next_cursor}, 'eu', 'next_cursor points after the page');
    ($s, $j) = api(GET => '/v1/zones?limit=2&cursor=eu');
    is_deeply([map { $_->{name} } @{ $j->{items} }], ['us'], 'second page of zones');
    is($j->{next_cursor}, undef, 'last page has no cursor');
    ($s, $j) = api(GET => '/v1/zones?limit=0');
    is($s, 400, 'limit 0: 400');
    is($j->{error}{field}, 'limit', 'the error names limit');
}

# ---------------------------------------------------------------- clusters
my %cl = (
    name => 'eu-1', zone => 'eu',
    functions => [{ address => '127.0.0.1:9001', weight => 2, max_inflight => 4 },
                  { url => 'http://127.0.0.1:9002/function' }],
    storage => { endpoint => 'http://127.0.0.1:9000', access_key => 'AKIAFADO',
                 secret_key => $secret },
);
{
    my ($s, $j, $raw) = api(POST => '/v1/clusters', \%cl);
    is($s, 201, 'cluster created');
    is($j->{storage}{credentials_set}, JSON::PP::true, 'credentials are reported as set');
    unlike($raw, qr/\Q$secret\E|AKIAFADO/, 'the created cluster does not return the keys');
    is_deeply([map { $_->{address} } @{ $j->{functions} }],
              ['127.0.0.1:9001', 'http://127.0.0.1:9002/function'],
              'function endpoints are stored as written');
    is_deeply([map { "$_->{host}:$_->{port}$_->{path}" } @{ $j->{functions} }],
              ['127.0.0.1:9001', '127.0.0.1:9002/function'],
              'with their parts: a URL\'s path is its prefix');
    ($s, $j, $raw) = api(GET => '/v1/clusters/eu-1');
    unlike($raw, qr/\Q$secret\E/, 'GET never returns the secret key');

    ($s, $j) = api(POST => '/v1/clusters', { %cl, name => 'us-1', zone => 'mars' });
    is($s, 422, 'cluster in an unknown zone: 422');
    is($j->{error}{field}, 'zone', '422 names the zone field');
    ($s, $j) = api(POST => '/v1/clusters', { %cl, name => 'us-1', zone => 'us',
                   functions => [{ address => 'example.com:80' }] });
    is($s, 400, 'a host name without a scheme as function address: 400');
    is($j->{error}{field}, 'functions[0].address', 'the error names functions[0].address');
    ($s, $j) = api(POST => '/v1/clusters', { %cl, name => 'us-1', zone => 'us',
                   functions => [{ address => '127.0.0.1:9003', weight => 0 }] });
    is($s, 400, 'weight 0: 400');
    is($j->{error}{field}, 'functions[0].weight', 'the error names the weight');
    ($s, $j) = api(POST => '/v1/clusters', { %cl, name => 'eu-1' });
    is($s, 409, 'duplicate cluster: 409');

    ($s, $j) = api(PUT => '/v1/clusters/eu-1', { zone => 'eu', version => 1,
                   functions => [{ address => '127.0.0.1:9005' }],
                   storage => { endpoint => 'http://127.0.0.1:9000' } });
    is($s, 200, 'cluster updated with its version');
    is($j->{version}, 2, 'version incremented');
    is($j->{storage}{credentials_set}, JSON::PP::true, 'credentials kept when not resent');
    ($s, $j) = api(PUT => '/v1/clusters/eu-1', { zone => 'eu', version => 1 });
    is($s, 409, 'update from a stale version: 409');
    is($j->{error}{code}, 'version_conflict', 'the conflict is named');
    ($s, $j) = api(PUT => '/v1/clusters/eu-1', { zone => 'eu' });
    is($s, 400, 'update without version: 400');
    is($j->{error}{field}, 'version', 'the error names version');
    api(POST => '/v1/clusters', { %cl, name => 'us-1', zone => 'us',
        functions => [{ address => '127.0.0.1:9006' }] });
}

# A cluster in several zones: the list goes to PostgreSQL as given (order
# kept), its names are checked one by one, and a malformed one is a 400.
{
    my %mz = (name => 'multi-1', functions => [{ address => '127.0.0.1:9007' },
                                               { address => '127.0.0.1:9007' }]);
    my ($s, $j) = api(POST => '/v1/clusters', { %mz, zones => ['us', 'asia'] });
    is($s, 201, 'cluster in two zones created');
    is_deeply($j->{zones}, ['us', 'asia'], 'its zones are kept in the order given');
    is($j->{zone}, 'us', 'the first of them is its zone');
    is_deeply([map { $_->{address} } @{ $j->{functions} }], ['127.0.0.1:9007'],
              'an endpoint listed twice is stored once');
    ($s, $j) = api(PUT => '/v1/clusters/multi-1', { %mz, version => $j->{version},
                   zones => ['asia', 'mars', 'eu', 'venus'] });
    is($s, 422, 'an update naming unknown zones: 422');
    is($j->{error}{field}, 'zones', '422 names the zones field');
    like($j->{error}{message}, qr/unknown zones: mars,venus$/, 'and lists the unknown ones in order');
    ($s, $j) = api(GET => '/v1/clusters/multi-1');
    is_deeply($j->{zones}, ['us', 'asia'], 'the refused update changed nothing');
    ($s, $j) = api(POST => '/v1/clusters', { %mz, name => 'multi-2', zones => [7, 'us'] });
    is($s, 400, 'a zone that is not a string: 400');
    is($j->{error}{field}, 'zones', 'the error names zones');
    ($s, $j) = api(POST => '/v1/clusters', { %mz, name => 'multi-2', zone => undef });
    is($s, 400, 'zone null and no zones: 400');
    is($j->{error}{field}, 'zone', 'the error names zone');
    ($s) = api(DELETE => '/v1/clusters/multi-1');
    is($s, 204, 'the multi-zone cluster is deleted again');
}

# ---------------------------------------------------------------- buckets
{
    my ($s, $j) = api(POST => '/v1/buckets', { name => 'photos', home_cluster => 'eu-1',
                      placement => { allowed_zones => ['eu', 'us'], replicas => 2 },
                      policy => 'p2c' });
    is($s, 201, 'bucket created');
    is($j->{policy}, 'p2c', 'policy override stored');
    is_deeply($j->{placement}{allowed_zones}, ['eu', 'us'], 'allowed zones stored');
    ($s, $j) = api(POST => '/v1/buckets', { name => 'Photos_X', home_cluster => 'eu-1' });
    is($s, 400, 'bucket name against S3 rules: 400');
    is($j->{error}{field}, 'name', 'the error names the bucket name');
    ($s, $j) = api(POST => '/v1/buckets', { name => 'videos', home_cluster => 'mars-1' });
    is($s, 422, 'unknown home cluster: 422');
    is($j->{error}{field}, 'home_cluster', 'the error names home_cluster');
    ($s, $j) = api(POST => '/v1/buckets', { name => 'videos', home_cluster => 'eu-1',
                   placement => { allowed_zones => ['moon'] } });
    is($s, 422, 'unknown allowed zone: 422');
    is($j->{error}{field}, 'placement.allowed_zones', 'the error names placement.allowed_zones');
    ($s, $j) = api(POST => '/v1/buckets', { name => 'videos', home_cluster => 'eu-1',
                   placement => { replicas => 0 } });
    is($s, 400, 'zero replicas: 400');
    is($j->{error}{field}, 'placement.replicas', 'the error names placement.replicas');
    ($s, $j) = api(POST => '/v1/buckets', { name => 'videos', home_cluster => 'eu-1',
                   policy => 'fastest' });
    is($s, 400, 'unknown policy: 400');
    ($s, $j) = api(PUT => '/v1/buckets/photos', { home_cluster => 'eu-1', version => 1,
                   placement => { replicas => 1 } });
    is($s, 200, 'bucket updated');
    is($j->{placement}{replicas}, 1, 'replica count changed');
    ($s) = api(PUT => '/v1/buckets/photos', { home_cluster => 'eu-1', version => 1 });
    is($s, 409, 'bucket update from a stale version: 409');
    ($s) = api(DELETE => '/v1/clusters/eu-1');
    is($s, 409, 'a cluster that is home to a bucket cannot be deleted: 409');
    ($s, $j) = api(GET => '/v1/buckets/nothing-here');
    is($s, 404, 'unknown bucket: 404');
    is($j->{error}{code}, 'not_found', 'the 404 carries a JSON error');
    ($s, $j) = api(GET => '/v1/clusters/nothing-here');
    is($s, 404, 'unknown cluster: 404');
    is($j->{error}{code}, 'not_found', 'with a JSON error too');
}

# ---------------------------------------------------------------- settings
{
    my ($s, $j) = api(GET => '/v1/settings');
    is($j->{bucket_header}, 'X-Fado-Bucket', 'default bucket header');
    ($s, $j) = api(PUT => '/v1/settings', { default_policy => 'lc' });
    is($s, 200, 'settings updated');
    is($j->{default_policy}, 'lc', 'default policy changed');
    ($s, $j) = api(PUT => '/v1/settings', { default_policy => 'magic' });
    is($s, 400, 'invalid default policy: 400');
    is($j->{error}{field}, 'default_policy', 'the error names default_policy');
}

# ---------------------------------------------------------------- tokens
{
    my ($s, $j) = api(POST => '/v1/tokens', { name => 'dashboard', role => 'read-only' });
    is($s, 201, 'read-only token created');
    like($j->{token}, qr/^fado_[0-9a-f]{48}$/, 'the secret is shown once');
    my ($ro, $id) = ($j->{token}, $j->{id});
    ($s) = api(GET => '/v1/buckets', undef, token => $ro);
    is($s, 200, 'read-only token reads');
    ($s, $j) = api(POST => '/v1/zones', { name => 'mars' }, token => $ro);
    is($s, 403, 'read-only token cannot write: 403');
    ($s) = api(GET => '/v1/tokens', undef, token => $ro);
    is($s, 403, 'read-only token cannot list tokens: 403');
    my $raw;
    ($s, $j, $raw) = api(GET => '/v1/tokens');
    unlike($raw, qr/\Q$ro\E/, 'token list never shows secrets');
    api(POST => '/v1/tokens', { name => "extra$_", role => 'read-only' }) for 1 .. 2;
    ($s, $j) = api(GET => '/v1/tokens?limit=2');
    is(scalar @{ $j->{items} }, 2, 'tokens are paginated');
    my $next = $j->{next_cursor};
    ($s, $j) = api(GET => "/v1/tokens?limit=2&cursor=$next");
    ok(@{ $j->{items} } >= 1 && $j->{items}[0]{id} > $next, 'the next page starts after the cursor');
    ($s, $j) = api(POST => '/v1/tokens', { name => 'x', role => 'root' });
    is($s, 400, 'unknown role: 400');
    is($j->{error}{field}, 'role', 'the error names role');
    ($s) = api(DELETE => "/v1/tokens/$id");
    is($s, 204, 'token revoked');
    ($s) = api(GET => '/v1/buckets', undef, token => $ro);
    is($s, 401, 'revoked token: 401');
    ($s) = api(DELETE => "/v1/tokens/$id");
    is($s, 404, 'revoking twice: 404');
}

# ---------------------------------------------------------------- import
{
    my $fado = {
        clusters => [{ name => 'asia-1', zones => ['asia'] }],
        storage_deployments => [{ cluster_name => 'asia-1', alias => 'minio-asia',
            endpoint => '127.0.0.1:9100', access_key => 'AK', secret_key => $secret,
            use_ssl => JSON::PP::false }],
        faas_deployments => [{ cluster_name => 'asia-1', url => 'http://127.0.0.1:9101' }],
        buckets => [{ name => 'logs', storage_deployment_alias => 'minio-asia',
                      allowed_zones => ['asia'], target_replica_count => 1 }],
    };
    my ($s, $j) = api(POST => '/v1/import', $fado);
    is($s, 200, "FaDO's config.json imports");
    is_deeply($j, { format => 'FaDO', zones => 1, clusters => 1, buckets => 1 },
              'import counts, and the shape it was read as');
    ($s, $j) = api(GET => '/v1/buckets/logs');
    is($j->{home_cluster}, 'asia-1', 'the storage alias became the home cluster');
    ($s, $j) = api(GET => '/v1/clusters/asia-1');
    is($j->{storage}{endpoint}, 'http://127.0.0.1:9100', 'endpoint got its scheme from use_ssl');
    my ($v1) = $j->{version};
    ($s, $j) = api(POST => '/v1/import', $fado);
    is($s, 200, 'importing again succeeds');
    ($s, $j) = api(GET => '/v1/clusters/asia-1');
    is($j->{version}, $v1, 'a repeated import changes nothing (idempotent)');
    ($s, $j) = api(POST => '/v1/import', { clusters => [{ name => 'x-1', zone => 'nowhere' }] });
    is($s, 422, 'import with an unknown zone: 422');
    is($j->{error}{field}, 'clusters[0].zone', 'the error names the path in the document');
    ($s, $j) = api(GET => '/v1/clusters/x-1');
    is($s, 404, 'a rejected import leaves nothing behind');
}

# ---------------------------------------------------------------- misc
{
    my ($s, $j, $raw) = api(GET => '/metrics');
    is($s, 200, 'metrics answer');
    like($raw, qr/^fado_buckets \d+$/m, 'metrics count buckets');
    ($s) = api(GET => '/v1/nothing');
    is($s, 404, 'unknown resource: 404');
    ($s) = api(PATCH => '/v1/zones');
    is($s, 405, 'unsupported method: 405');
}

is($c->stop, 0, 'SIGTERM: the controller exits with status 0 (no sanitizer report)');
{
    open my $fh, '<', $c->log_file or die;
    local $/;
    my $log = <$fh>;
    unlike($log, qr/\Q$secret\E/, 'the storage secret never reaches the log');
    unlike($log, qr/\Q@{[$c->token]}\E/, 'the bootstrap token never reaches the log');
}

done_testing();
