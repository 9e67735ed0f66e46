# Golden test of the one route contract: what the controller's SQL encoder
# publishes (bucket records F2, override records F1, cluster records C2, the
# default route) decodes with the gateway's C decoder (lib/route/frc_record.c,
# run through build/unit/route_decode) to exactly what the API was told:
# policies (aliases mapped), cluster lists in byte order, endpoints with
# weights and limits, override order, IPv6 addresses.

use strict;
use warnings;
use lib 't/lib';
use IPC::Open2;
use Test::More;
use Fado::Controller;

my $decode = "$ENV{FADO_BUILD}/unit/route_decode";
ok(-x $decode, 'the decoder tool is built') or BAIL_OUT("no $decode: make unit-tests");

my $base = $ENV{FADO_BASE_PORT};
my $c = Fado::Controller->new(port_offset => 81, tag => "t218_$$");
my $P = $c->prefix;
my %port = (e1 => $base + 84, e2 => $base + 85, u1 => $base + 86, a1 => $base + 87);
Fado::Controller->fake_function($port{$_}, "fn-$_") for keys %port;
my %ep = map { $_ => "127.0.0.1:$port{$_}" } keys %port;

sub storage {
    my ($i) = @_;
    return { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
             access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
             secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} };
}
my ($photos, $logs, $plain, $ov) = map { "$_-$$" } qw(photos logs plain ov);
my ($s, $j) = $c->api(POST => '/v1/import', {
    zones => [qw(eu us asia)],
    clusters => [
        { name => 'eu-1', zone => 'eu', storage => storage(0),
          functions => [{ address => $ep{e2}, weight => 3, max_inflight => 4 },
                        { address => $ep{e1} }] },
        { name => 'us-1', zone => 'us', storage => storage(1),
          functions => [{ address => $ep{u1}, max_inflight => 65535 }] },
        { name => 'asia-1', zone => 'asia', storage => storage(2),
          functions => [{ address => $ep{a1}, weight => 1000 }] },
    ],
    buckets => [
        { name => $photos, home_cluster => 'eu-1', policy => 'p2c',
          placement => { allowed_zones => ['eu', 'us'], replicas => 2 } },
        { name => $logs, home_cluster => 'asia-1', policy => 'first' },
        { name => $plain, home_cluster => 'eu-1' },
        { name => $ov, home_cluster => 'us-1', policy => 'round_robin' },
    ],
});
is($s, 200, 'platform imported') or diag explain $j;
($s) = $c->api(PUT => '/v1/settings', { default_policy => 'least_conn' });
is($s, 200, 'default policy least_conn');
(undef, $j) = $c->api(GET => "/v1/buckets/$ov");
($s, $j) = $c->api(PUT => "/v1/buckets/$ov", { home_cluster => 'us-1', version => $j->{version},
    policy => 'round_robin', route_override => { policy => 'random', endpoints => [
        { address => "[::1]:$port{u1}", cluster => 'us-1', weight => 5, max_inflight => 7 },
        { address => $ep{e1}, cluster => 'eu-1' } ] } });
is($s, 200, 'route override set') or diag explain $j;

# The records as a gateway reads them: every bucket, the default, every cluster.
sub records {
    my %r = split /\n/, $c->redis('HGETALL', "${P}routes");
    my $d = $c->redis('GET', "${P}default");
    $r{_default} = $d if length $d;
    my %cl = split /\n/, $c->redis('HGETALL', "${P}clusters");
    $r{"cluster:$_"} = $cl{$_} for keys %cl;
    s/\s+\z// for values %r;      # redis-cli's line ends
    return \%r;
}
sub decode_all {
    my ($recs) = @_;
    my @names = sort keys %$recs;
    my $pid = open2(my $out, my $in, $decode) or die "route_decode: $!";
    print $in "$recs->{$_}\n" for @names;
    close $in;
    my @lines = <$out>;
    waitpid $pid, 0;
    chomp @lines;
    # versions are assigned by Redis: not part of what the API was told
    return { map { $names[$_] => $lines[$_] =~ s/^(F[12]|C2) \d+ /$1 /r } 0 .. $#names };
}

my %want = (
    $photos => 'F2 p2c eu-1 us-1',
    $logs => 'F2 first asia-1',
    $plain => 'F2 lc eu-1',
    $ov => "F1 random [::1]:$port{u1}/us-1/us/5/7 $ep{e1}/eu-1/eu/1/0",
    _default => 'F2 - asia-1 eu-1 us-1',
    # endpoints in byte order of their address
    'cluster:eu-1' => 'C2 eu up ' . join(' ', sort("$ep{e2}/3/4", "$ep{e1}/1/0")),
    'cluster:us-1' => "C2 us up $ep{u1}/1/65535",
    'cluster:asia-1' => "C2 asia up $ep{a1}/1000/0",
);
my $got;
Fado::Controller::wait_until(sub {
    $got = decode_all(records());
    return (grep { ($got->{$_} // '') ne $want{$_} } keys %want) ? undef : 1;
}, 60);
for my $k (sort keys %want) {
    is($got->{$k}, $want{$k}, "$k decodes to what the API was told");
}
is(scalar(grep { /^error/ } values %$got), 0, 'no published record is refused by the decoder');
is_deeply([sort keys %$got], [sort keys %want], 'and nothing else is published');

# The API's view is the same decoder's: GET /v1/routes agrees.
(undef, $j) = $c->api(GET => "/v1/routes/$ov");
is(join(' ', map { "$_->{address}/$_->{cluster}/$_->{zone}/$_->{weight}/$_->{max_inflight}" }
               @{ $j->{endpoints} }),
   "[::1]:$port{u1}/us-1/us/5/7 $ep{e1}/eu-1/eu/1/0", 'GET /v1/routes shows the override as decoded');
(undef, $j) = $c->api(GET => "/v1/routes/$photos");
is_deeply([$j->{contract}, $j->{policy}, $j->{clusters}], [2, 'p2c', ['eu-1', 'us-1']],
          'and an F2 route with its clusters');

done_testing();
