# FaDO's config.json imported with FaDO's meanings, on three real MinIO,
# a real controller and nginx (docs/controller.md, "Migrating from FaDO"):
#
# - a file shaped like the ones FaDO ships (deployment/*.server-config.json):
#   three clusters in zones [global, zone-N], storage named by host
#   ("localhost:port", use_ssl false, management_url), FaaS deployments by
#   host name too ("http://localhost:port", as FaDO's standalone
#   configuration names them), a "global" bucket with target_replica_count
#   4 and buckets with allowed zones;
# - the placement FaDO would make: replicas besides the home, capped at
#   what the zones allow (reported as capped, not unsatisfiable), the home
#   kept where the data is; routes in Redis (C2 records with the zone list);
#   invocations through nginx reaching only the clusters that hold the data;
# - errors naming FaDO's own field paths, and changing nothing;
# - adoption of the buckets already on the storage deployments (?adopt=true)
#   without overwriting any of them;
# - clusters in several zones through the API, and an upgrade from schema 4
#   that keeps every cluster's zone.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;
use Fado::Gateway;

my $base = $ENV{FADO_BASE_PORT};
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $c = Fado::Controller->new(port_offset => 80, tag => "t270_$$",
                              env => { FADO_JOB_POLL => 100 });
my @names = map { "cluster-$_" } 1 .. 3;
my %fn_port = map { ($names[$_] => $base + 84 + $_) } 0 .. 2;
my %fake = map { $_ => Fado::Controller->fake_function($fn_port{$_}, "fn-$_") } @names;

sub hostport { my ($u) = @_; $u =~ s{^https?://127\.0\.0\.1}{localhost}; return $u }

my ($global, $zone2, $zone3, $home) = ("global-$$", "zone2-$$", "zone3-$$", "home-$$");
sub fado_file {
    return {
        clusters => [map { { name => $names[$_], zones => ['global', 'zone-' . ($_ + 1)] } } 0 .. 2],
        storage_deployments => [map { {
            cluster_name => $names[$_], alias => 'minio' . ($_ + 1),
            endpoint => hostport($ENV{"FADO_MINIO${_}_ENDPOINT"}),
            access_key => $ENV{"FADO_MINIO${_}_ACCESS_KEY"},
            secret_key => $ENV{"FADO_MINIO${_}_SECRET_KEY"},
            use_ssl => JSON::PP::false,
            management_url => 'http://localhost:' . (9011 + 10 * $_),
        } } 0 .. 2],
        faas_deployments => [map { { cluster_name => $_, url => "http://localhost:$fn_port{$_}" } }
                             @names],
        buckets => [
            { name => $global, storage_deployment_alias => 'minio1', allowed_zones => ['global'],
              target_replica_count => 4 },
            { name => $zone2, storage_deployment_alias => 'minio1', allowed_zones => ['zone-2'],
              target_replica_count => 1 },
            { name => $zone3, storage_deployment_alias => 'minio2', allowed_zones => ['zone-3'],
              target_replica_count => 2 },
            { name => $home, storage_deployment_alias => 'minio3' },
        ],
        @_,
    };
}

# ---------------------------------------------------------------- errors
sub refused {
    my ($doc, $field, $like, $name, %opt) = @_;
    my ($s, $j, $raw) = $c->api(POST => '/v1/import' . ($opt{query} // ''), $doc);
    is($s, $opt{status} // 400, "$name: " . ($opt{status} // 400));
    is($j->{error}{field}, $field, "$name: the error names $field") or diag($raw);
    like($j->{error}{message} // '', $like, "$name: the message says why");
    ($s) = $c->api(GET => '/v1/clusters/cluster-1');
    is($s, 404, "$name: nothing was imported");
}
{
    my $f = fado_file();
    push @{ $f->{storage_deployments} }, { %{ $f->{storage_deployments}[1] }, alias => 'minio2b' };
    refused($f, 'storage_deployments[3].cluster_name', qr/already has a storage deployment/,
            'a second storage deployment in one cluster');
    $f = fado_file();
    push @{ $f->{faas_deployments} }, { cluster_name => 'cluster-9', url => 'http://127.0.0.1:1' };
    refused($f, 'faas_deployments[3].cluster_name', qr/cluster-9/,
            'a FaaS deployment for an unknown cluster');
    $f = fado_file();
    $f->{buckets}[2]{storage_deployment_alias} = 'd9';
    refused($f, 'buckets[2].storage_deployment_alias', qr/"d9"/,
            'a bucket on an unknown storage deployment');
    $f = fado_file();
    $f->{buckets}[1]{policy} = 'round_robin';
    refused($f, 'buckets[1].policy', qr/not a field fado reads/,
            'a field FaDO does not have is refused, not dropped');
    $f = fado_file();
    $f->{buckets}[0]{target_replica_count} = -1;
    refused($f, 'buckets[0].target_replica_count', qr/0 to 63/, 'a negative replica count');
    $f = fado_file();
    $f->{clusters}[1]{zones} = [];
    refused($f, 'clusters[1].zones', qr/at least 1/, 'a cluster in no zone');
    $f = fado_file();
    $f->{faas_deployments}[0]{url} = 'ftp://faas1:9100';
    refused($f, 'faas_deployments[0].url', qr/scheme/, 'a FaaS endpoint that is not http(s)');
    refused(fado_file(load_balancer => { policy => 'cookie' }), 'load_balancer.policy',
            qr/no equivalent: fado's gateway has no cookie policy/, "FaDO's cookie policy");
    refused(fado_file(load_balancer => { route_overrides => { $global => {
                bucket_name => $global, policy => 'first', upstreams => ['127.0.0.1:1'] } } }),
            "load_balancer.route_overrides.$global.upstreams[0]", qr/belongs to a cluster/,
            'a route override to an address that is no function endpoint of the file');
    refused(fado_file(load_balancer => { route_overrides => { $global => {
                bucket_name => $global, upstreams => ["http://localhost:$fn_port{$names[0]}"] } } }),
            "load_balancer.route_overrides.$global.upstreams[0]", qr/literal address/,
            'a route override to a named endpoint (overrides are not resolved)');
    refused(fado_file(), 'adopt', qr/true or false/, 'an adopt option that is not a boolean',
            query => '?adopt=yes');
}

# ---------------------------------------------------------------- adoption setup
# Buckets already on the storage deployments, as FaDO would find them.
my ($adopt, $clash) = ("adopt-$$", "clash-$$");
sub put_object {
    my ($alias, $bucket, $key, $content) = @_;
    open my $fh, '|-', "$mc pipe $alias/$bucket/$key >/dev/null 2>&1" or die "mc: $!";
    print $fh $content;
    close $fh;
    return $? == 0;
}
sub cat_object { my ($alias, $bucket, $key) = @_; return scalar `$mc cat $alias/$bucket/$key 2>/dev/null` }
ok(system("$mc mb minio1/$adopt minio2/$home minio0/$clash minio1/$clash >/dev/null 2>&1") == 0,
   'buckets exist on the storage deployments before the import');
ok(put_object('minio1', $adopt, 'keep.txt', "original\n")
   && put_object('minio2', $home, 'mine.txt', "home data\n")
   && put_object('minio0', $clash, 'a.txt', "first\n")
   && put_object('minio1', $clash, 'a.txt', "second\n"), 'each holds an object');

# ---------------------------------------------------------------- the import
my ($s, $j, $raw) = $c->api(POST => '/v1/import?adopt=true',
                            fado_file(load_balancer => { policy => 'least_conn',
                                                         match_header => 'X-FaDO-Bucket' }));
is($s, 200, "FaDO's configuration imports, adopting the buckets it finds") or diag($raw);
is_deeply([@$j{qw(format zones clusters buckets)}], ['FaDO', 4, 3, 4],
          'read as FaDO: zones global and zone-1..3, three clusters, four buckets');
my %adopted = map { ("$_->{bucket} $_->{cluster}" => $_->{as}) } @{ $j->{adopted} || [] };
my %skipped = map { ("$_->{bucket} $_->{cluster}" => $_->{reason}) } @{ $j->{not_adopted} || [] };
is($adopted{"$adopt cluster-2"}, 'a new bucket', 'a bucket only on cluster-2 is adopted there');
is($adopted{"$home cluster-3"}, "the file's bucket",
   "the file's bucket already on its home is adopted with its data");
is($adopted{"$clash cluster-1"}, 'a new bucket', 'a bucket on two deployments: the first adopts it');
like($skipped{"$clash cluster-2"} // '', qr/left alone/,
     'its copy on the second is reported, not made a replica');

($s, $j) = $c->api(GET => '/v1/clusters/cluster-1');
is_deeply($j->{zones}, ['global', 'zone-1'], 'a cluster keeps all its FaDO zones');
is($j->{zone}, 'global', 'zone (the older field) is the first of them');
is($j->{storage}{management_url}, 'http://localhost:9011', 'management_url is kept and shown');
like($j->{storage}{endpoint}, qr{^http://localhost:\d+$}, 'the storage host name is kept, with its scheme');
ok(!grep({ /secret/ } keys %{ $j->{storage} }), 'no secret is shown');
is_deeply([map { $_->{address} } @{ $j->{functions} }], ["http://localhost:$fn_port{'cluster-1'}"],
          'the FaaS deployment is the cluster\'s function endpoint, as written');
($s, $j) = $c->api(GET => '/v1/settings');
is($j->{default_policy}, 'lc', "FaDO's least_conn maps to lc");
is($j->{bucket_header}, 'X-FaDO-Bucket', "FaDO's match_header is the bucket header");

# ---------------------------------------------------------------- placement
sub bucket { my (undef, $b) = $c->api(GET => "/v1/buckets/$_[0]"); return $b }
sub placed {
    my ($name, $n) = @_;
    return Fado::Controller::wait_until(sub {
        my $b = bucket($name);
        my @ready = grep { $_->{state} eq 'ready' } @{ $b->{replicas} || [] };
        return @ready == $n ? $b : undef;
    }, 90);
}
my $b = placed($global, 3);
ok($b, 'global: three ready replicas through MinIO replication');
is_deeply($b->{placement_result}{clusters}, \@names, 'global: on every cluster');
is($b->{placement}{replicas}, 5, "global: FaDO's 4 replicas besides the home are 5 with it");
ok($b->{placement_result}{satisfiable}, 'global: satisfiable, not refused');
is_deeply($b->{placement_result}{capped}, { requested => 5, effective => 3 },
          'global: capped at the three clusters, as FaDO caps');
$b = placed($zone2, 2);
is_deeply($b && $b->{placement_result}{clusters}, ['cluster-1', 'cluster-2'],
          'zone-2 bucket: its home (where the data is) and the zone-2 cluster');
is($b && $b->{placement_result}{capped}, undef, 'zone-2 bucket: not capped (1 asked, 1 given)');
$b = placed($zone3, 2);
is_deeply($b && $b->{placement_result}{clusters}, ['cluster-2', 'cluster-3'],
          'zone-3 bucket: home and the only zone-3 cluster');
is_deeply($b && $b->{placement_result}{capped}, { requested => 3, effective => 2 },
          'zone-3 bucket: 2 asked besides the home, capped at 1');
$b = placed($home, 1);
is_deeply($b && $b->{placement_result}{clusters}, ['cluster-3'],
          "target_replica_count absent (FaDO's 0): the home alone");
$b = bucket($adopt);
is($b->{home_cluster}, 'cluster-2', 'the adopted bucket is homed where it was found');

# ---------------------------------------------------------------- routes
my $p = $c->prefix;
ok(Fado::Controller::wait_until(sub {
       $c->redis('HGET', "${p}routes", $global) =~ /^F2 \d+ lc cluster-1 cluster-2 cluster-3$/ }, 20),
   'global: its route names the three clusters, with least_conn as lc');
ok(Fado::Controller::wait_until(sub {
       $c->redis('HGET', "${p}clusters", 'cluster-2')
           =~ /^C2 \d+ global\+zone-2 up 127\.0\.0\.1:$fn_port{'cluster-2'},1,0,http,localhost,-$/ }, 20),
   "a cluster record publishes all its zones joined by '+', and its FaaS host resolved")
   or diag($c->redis('HGET', "${p}clusters", 'cluster-2'));
ok(Fado::Controller::wait_until(sub {
       $c->redis('HGET', "${p}routes", $zone2) =~ /^F2 \d+ lc cluster-1 cluster-2$/ }, 20),
   'zone-2 bucket: routed to the clusters holding it');

# ---------------------------------------------------------------- invocations
my $gw = Fado::Gateway->new(port => $base + 87, prefix => $p);
ok(Fado::Controller::wait_until(sub { $gw->invoke($home) eq 'fn-cluster-3' }, 10),
   'the gateway decodes the multi-zone cluster records and routes');
my %seen;
$seen{$_}{ $gw->invoke($_) }++ for map { ($global, $zone2, $zone3, $home) } 1 .. 12;
is_deeply([sort keys %{ $seen{$global} }], [map { "fn-$_" } @names],
          'global: invocations reach all three clusters');
is_deeply([sort keys %{ $seen{$zone2} }], ['fn-cluster-1', 'fn-cluster-2'],
          'zone-2 bucket: only the clusters holding its data');
is_deeply([sort keys %{ $seen{$zone3} }], ['fn-cluster-2', 'fn-cluster-3'],
          'zone-3 bucket: only the clusters holding its data');
is_deeply([keys %{ $seen{$home} }], ['fn-cluster-3'], 'home-only bucket: its home alone');

# ---------------------------------------------------------------- nothing overwritten
is(cat_object('minio1', $adopt, 'keep.txt'), "original\n", 'the adopted bucket keeps its object');
is(cat_object('minio2', $home, 'mine.txt'), "home data\n", "the file's adopted bucket keeps its data");
is(cat_object('minio0', $clash, 'a.txt'), "first\n", 'the adopted copy keeps its object');
is(cat_object('minio1', $clash, 'a.txt'), "second\n", 'the copy left alone is not overwritten');
my $kept = bucket($zone2);
($s, $j, $raw) = $c->api(POST => '/v1/import?adopt=true', fado_file());
is($s, 200, 'importing again, adopting again') or diag($raw);
is(bucket($zone2)->{version}, $kept->{version}, 'a repeated import changes no bucket');
($s, $j) = (undef, { map { ("$_->{bucket} $_->{cluster}" => $_->{reason}) } @{ $j->{not_adopted} || [] } });
like($j->{"$adopt cluster-2"} // '', qr/manages it already/,
     'a bucket fado already has is not adopted again');
is(bucket($adopt)->{home_cluster}, 'cluster-2', 'and keeps what it had');

# ---------------------------------------------------------------- multi-zone API
($s, $j) = $c->api(POST => '/v1/clusters', { name => 'mz-1', zones => ['zone-1', 'nowhere'] });
is($s, 422, 'a cluster in an unknown zone: 422');
is($j->{error}{field}, 'zones', 'naming zones');
($s, $j) = $c->api(POST => '/v1/clusters', { name => 'mz-1', zones => 'zone-1' });
is($s, 400, 'zones that is not a list: 400');
is($j->{error}{field}, 'zones', 'naming zones');
($s, $j) = $c->api(POST => '/v1/clusters', { name => 'mz-1', zones => ['zone-1', 'zone-1'] });
is($j->{error}{field}, 'zones', 'a repeated zone: 400 naming zones');
($s, $j) = $c->api(POST => '/v1/clusters', { name => 'mz-1', zone => 'zone-2', zones => ['zone-1'] });
is($j->{error}{field}, 'zone', 'zone and zones that disagree: 400 naming zone');
($s, $j) = $c->api(POST => '/v1/clusters', { name => 'mz-1', zones => ['zone-1', 'zone-3'] });
is($s, 201, 'a cluster in two zones is created');
is_deeply([$j->{zone}, $j->{zones}], ['zone-1', ['zone-1', 'zone-3']], 'it shows both, zone first');
($s, $j) = $c->api(PUT => '/v1/clusters/mz-1', { zones => ['zone-3', 'global'], version => $j->{version} });
is($s, 200, 'its zones are replaced');
is_deeply([$j->{zone}, $j->{zones}], ['zone-3', ['zone-3', 'global']], 'zone follows the list');
($s, $j) = $c->api(DELETE => '/v1/zones/zone-3');
is($s, 409, 'a zone a cluster lists (not first) cannot be deleted');
($s) = $c->api(DELETE => '/v1/clusters/mz-1');
is($s, 204, 'the cluster goes');

# ---------------------------------------------------------------- route overrides
# FaDO's route override becomes the bucket's route_override when its
# upstreams are function endpoints of the file by literal address.
{
    my $lit = "127.0.0.1:$fn_port{$names[0]}";
    my $f = fado_file(load_balancer => { route_overrides => { $zone2 => {
        bucket_name => $zone2, policy => 'first', upstreams => [$lit] } } });
    $f->{faas_deployments}[0]{url} = "http://$lit";
    ($s, $j) = $c->api(POST => '/v1/import', $f);
    is($s, 200, "FaDO's route override imports") or diag explain $j;
    ($s, $j) = $c->api(GET => "/v1/buckets/$zone2");
    is_deeply($j->{route_override}, { policy => 'first', endpoints => [
        { address => $lit, cluster => $names[0], weight => 1, max_inflight => 0 } ] },
        'as the bucket\'s route_override, its upstream in the cluster that has it');
}

# ---------------------------------------------------------------- upgrade
{
    my $old = Fado::Controller->new(port_offset => 88, tag => "t270u_$$", no_start => 1);
    my $db = $old->{db};
    $old->psql('CREATE TABLE schema_migrations (name text PRIMARY KEY,'
               . ' applied_at timestamptz NOT NULL DEFAULT now())', $db);
    for my $f (sort glob("$ENV{FADO_ROOT}/sql/00[1-4]_*.sql")) {
        is(system("psql -X -q -v ON_ERROR_STOP=1 -d $db -f $f >/dev/null 2>&1"), 0,
           'schema 4: ' . ($f =~ s{.*/}{}r));
        my $n = $f =~ s{.*/}{}r;
        $old->psql("INSERT INTO schema_migrations (name) VALUES ('$n')", $db);
    }
    $old->psql("INSERT INTO zones (name) VALUES ('eu'); INSERT INTO clusters (name, zone) VALUES ('old-1', 'eu')",
               $db);
    $old->start;
    ($s, $j) = $old->api(GET => '/v1/clusters/old-1');
    is_deeply([$j->{zone}, $j->{zones}], ['eu', ['eu']],
              'after the upgrade an existing cluster keeps its zone, as a one-element list');
}

done_testing();
