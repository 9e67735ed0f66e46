# Make before break, on three real MinIO and nginx under invocation load,
# counting failed invocations:
#
# - a cluster registered with wrong storage credentials wins some buckets'
#   placement; their new replicas fail (InvalidAccessKeyId) and no ready
#   replica is removed: the replica it was to replace stays, ready and
#   routed, with the reason it is kept;
# - one of three clusters down (its function endpoint stops answering),
#   for longer than the grace period: the buckets placed on all three
#   report the placement unsatisfiable, yet no replica is removed; when it
#   returns the placement is satisfiable again and every replica is ready
#   within 5 s, without a replica error.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;
use Fado::Gateway;

my $base = $ENV{FADO_BASE_PORT};
my $c = Fado::Controller->new(port_offset => 80, tag => "t216_$$",
                              env => { FADO_GRACE => 2, FADO_JOB_POLL => 100 });
my %fn_port = ('eu-1' => $base + 84, 'us-1' => $base + 85, 'asia-1' => $base + 86,
               'bad-1' => $base + 89);
my %fake = map { $_ => Fado::Controller->fake_function($fn_port{$_}, "fn-$_") } keys %fn_port;

my @clusters = (['eu-1', 'eu', 0], ['us-1', 'us', 1], ['asia-1', 'asia', 2]);
my @buckets = map { "global-$_-$$" } 1 .. 8;
my ($s) = $c->api(POST => '/v1/import', {
    zones => [qw(eu us asia)],
    clusters => [map {
        my ($name, $zone, $i) = @$_;
        { name => $name, zone => $zone,
          functions => [{ address => "127.0.0.1:$fn_port{$name}" }],
          storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                       access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                       secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } }
    } @clusters],
    buckets => [map { { name => $buckets[$_], home_cluster => $clusters[$_ % 3][0],
                        placement => { replicas => 3 } } } 0 .. $#buckets],
});
is($s, 200, 'three clusters and eight buckets with three replicas each');

sub bucket { my (undef, $b) = $c->api(GET => "/v1/buckets/$_[0]"); return $b }
sub ready_of {
    my ($b) = @_;
    return [sort map { $_->{cluster} } grep { $_->{state} eq 'ready' } @{ $b->{replicas} || [] }];
}
ok(Fado::Controller::wait_until(sub {
    !grep { @{ ready_of(bucket($_)) } != 3 } @buckets }, 90),
   'every bucket has three ready replicas');

my $gw = Fado::Gateway->new(port => $base + 87, prefix => $c->prefix);
ok(Fado::Controller::wait_until(sub { $gw->invoke($buckets[0]) =~ /^fn-/ }, 10),
   'the gateway routes the buckets');

# ---------------------------------------------------------------- wrong credentials
my %before = map { $_ => ready_of(bucket($_)) } @buckets;
my $load = $gw->load(\@buckets);
($s) = $c->api(POST => '/v1/clusters', {
    name => 'bad-1', zone => 'eu', functions => [{ address => "127.0.0.1:$fn_port{'bad-1'}" }],
    storage => { endpoint => $ENV{FADO_MINIO1_ENDPOINT}, access_key => 'wrongwrongwrong',
                 secret_key => 'wrongwrongwrongwrongwrong' } });
is($s, 201, 'a cluster with wrong storage credentials is registered');
my @won = grep { my $b = $_; grep { $_->{cluster} eq 'bad-1' } @{ bucket($b)->{replicas} } }
          @buckets;
ok(Fado::Controller::wait_until(sub {
    @won = grep { my $b = $_; grep { $_->{cluster} eq 'bad-1' } @{ bucket($b)->{replicas} } }
           @buckets;
    return @won && !grep { my $b = $_; !grep { $_->{cluster} eq 'bad-1' && $_->{state} eq 'failed' }
                                            @{ bucket($b)->{replicas} } } @won;
}, 30), 'buckets whose placement it wins get a replica there, which fails');
diag(scalar(@won) . ' of ' . scalar(@buckets) . ' buckets placed a replica on bad-1');
# bad-1 points at us-1's MinIO with wrong keys: from another home its
# replica fails on the credentials; from us-1 as the same deployment.
my @why = map {
    my $b = bucket($_);
    my ($r) = grep { $_->{cluster} eq 'bad-1' } @{ $b->{replicas} };
    $b->{home_cluster} eq 'us-1' ? $r->{reason} =~ /same deployment/
                                 : $r->{reason} =~ /InvalidAccessKeyId|access key/i
} @won;
is(scalar(grep { $_ } @why), scalar @won, 'each failure says why (wrong keys, or the same deployment)');
my $removed = 0;
my $t_end = time + 4;
while (time < $t_end) {       # the replicas it was to replace stay ready
    for my $b (@buckets) {
        my $r = ready_of(bucket($b));
        $removed++ unless "@$r" eq "@{ $before{$b} }";
    }
    sleep 0.2;
}
is($removed, 0, 'no ready replica was removed or left the routes while its replacement failed');
my ($kept) = grep { $_->{cluster} ne 'bad-1' && $_->{reason} =~ /kept until its replacement/ }
             @{ bucket($won[0])->{replicas} };
ok($kept, 'the replica it was to replace says why it stays');
my ($ok, $failed, $why) = $load->stop;
is($failed, 0, "no failed invocation ($ok served)") or diag(explain $why);

# ---------------------------------------------------------------- one of three down
# bad-1 goes: its replicas serve nothing and its data is not ours.
$c->psql("DELETE FROM replicas WHERE cluster = 'bad-1'; DELETE FROM jobs WHERE cluster = 'bad-1';"
       . " DELETE FROM clusters WHERE name = 'bad-1'", ($c->db_url =~ m{/([^/?]+)$})[0]);
ok(Fado::Controller::wait_until(sub {
    !grep { @{ ready_of(bucket($_)) } != 3 || @{ bucket($_)->{replicas} } != 3 } @buckets }, 30),
   'without bad-1, every bucket is back to its three replicas');

$load = $gw->load(\@buckets);
Fado::Controller->stop_fake_function($fake{'asia-1'});
ok(Fado::Controller::wait_until(sub {
    my (undef, $j) = $c->api(GET => '/v1/clusters/asia-1');
    return !$j->{healthy};
}, 10), 'asia-1 is down');
ok(Fado::Controller::wait_until(sub {
    bucket($buckets[0])->{placement_result}{satisfiable} == JSON::PP::false }, 15),
   'past the grace period, three replicas cannot be placed: the bucket says so');
sleep 1;
my @lost = grep { my $b = bucket($_);
                  @{ $b->{replicas} } != 3 || grep { $_->{state} eq 'removing' } @{ $b->{replicas} }
                } @buckets;
is(scalar @lost, 0, 'yet no replica is removed (asia-1 holds a copy nothing replaces)');
my $t_back = time;
$fake{'asia-1'} = Fado::Controller->fake_function($fn_port{'asia-1'}, 'fn-asia-1');
my $ready_in = Fado::Controller::wait_until(sub {
    return (!grep { my $b = bucket($_); @{ ready_of($b) } != 3
                      || $b->{placement_result}{satisfiable} != JSON::PP::true } @buckets)
        ? time - $t_back : 0;
}, 15);
ok($ready_in && $ready_in <= 5, 'when it returns, placement is satisfiable and all ready within 5 s');
diag(sprintf 'cluster back to all replicas ready and satisfiable: %.2f s', $ready_in || -1);
($ok, $failed, $why) = $load->stop;
is($failed, 0, "no failed invocation while a cluster was down ($ok served)") or diag(explain $why);
my $log = do { local (@ARGV, $/) = $c->log_file; <> };
my ($after_return) = $log =~ /msg="cluster up" cluster=asia-1(.*)\z/s;
unlike($after_return // '', qr/replica failed.*asia-1|priority/, 'no replica error on return');

done_testing();
