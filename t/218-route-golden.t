# Golden test of the one route contract (lib/route/): every record the
# controller's SQL encoder publishes (bucket records F2, override records
# F1, cluster records C2 with contract 2.1 origins and several zones, the
# default route, every policy) decodes with the gateway's C decoder
# (frc_record.c) to exactly what the API was told, and the C encoder
# (frc_encode.c) writes it back byte for byte, so neither the SQL nor the
# C encoder can drift from the other. Both run through build/unit/route_decode
# (plain: the decoder's reading; -e: the encoder's record).

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
my %port = (e1 => $base + 84, e2 => $base + 85, u1 => $base + 86, a1 => $base + 87,
            m1 => $base + 88, m2 => $base + 89, m3 => $base + 90);
# m1 is https (nothing answers TLS there); the others keep mz-1 up
Fado::Controller->fake_function($port{$_}, "fn-$_") for grep { $_ ne 'm1' } keys %port;
my %ep = map { $_ => "127.0.0.1:$port{$_}" } keys %port;

sub storage {
    my ($i) = @_;
    return { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
             access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
             secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} };
}
my ($photos, $logs, $plain, $ov, $ew, $ch, $rr) = map { "$_-$$" } qw(photos logs plain ov ew ch rr);
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
        # contract 2.1 origins (https, a name, a prefix) in a cluster of two
        # zones, listed in the cluster's own order
        { name => 'mz-1', zones => ['asia', 'eu'],
          functions => [{ address => "https://$ep{m1}", weight => 2, max_inflight => 8 },
                        { url => "http://$ep{m2}/api/v1/" },
                        { address => "http://localhost:$port{m3}" }] },
    ],
    buckets => [
        { name => $photos, home_cluster => 'eu-1', policy => 'p2c',
          placement => { allowed_zones => ['eu', 'us'], replicas => 2 } },
        { name => $logs, home_cluster => 'asia-1', policy => 'first' },
        { name => $plain, home_cluster => 'eu-1' },
        { name => $ov, home_cluster => 'us-1', policy => 'round_robin' },
        { name => $ew, home_cluster => 'eu-1', policy => 'ewma' },
        { name => $ch, home_cluster => 'us-1', policy => 'ip_hash' },
        { name => $rr, home_cluster => 'asia-1', policy => 'rr' },
    ],
});
is($s, 200, 'platform imported') or diag explain $j;
($s) = $c->api(PUT => '/v1/settings', { default_policy => 'least_conn' });
is($s, 200, 'default policy least_conn');
(undef, $j) = $c->api(GET => "/v1/buckets/$ov");
($s, $j) = $c->api(PUT => "/v1/buckets/$ov", { home_cluster => 'us-1', version => $j->{version},
    policy => 'round_robin', route_override => { policy => 'random', endpoints => [
        { address => "[::1]:$port{u1}", cluster => 'us-1', weight => 5, max_inflight => 7 },
        { address => $ep{e1}, cluster => 'eu-1' },
        { address => $ep{m2}, cluster => 'mz-1', weight => 1000, max_inflight => 65535 } ] } });
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
# route_decode over the records, one line each, by name.
sub run_tool {
    my ($recs, @args) = @_;
    my @names = sort keys %$recs;
    my $pid = open2(my $out, my $in, $decode, @args) or die "route_decode: $!";
    print $in "$recs->{$_}\n" for @names;
    close $in;
    my @lines = <$out>;
    waitpid $pid, 0;
    chomp @lines;
    return { map { $names[$_] => $lines[$_] } 0 .. $#names };
}
sub decode_all {
    my $d = run_tool($_[0]);
    # versions are assigned by Redis: not part of what the API was told
    s/^(F[12]|C2) \d+ /$1 / for values %$d;
    return $d;
}

# Each bucket's policy: its own (aliases mapped), else default_policy.
my $ov_eps = "[::1]:$port{u1}/us-1/us/5/7 $ep{e1}/eu-1/eu/1/0 $ep{m2}/mz-1/asia/1000/65535";
my %want = (
    $photos => 'F2 p2c eu-1 us-1',
    $logs => 'F2 first asia-1',
    $plain => 'F2 lc eu-1',
    $ew => 'F2 ewma eu-1',
    $ch => 'F2 chash us-1',
    $rr => 'F2 rr asia-1',
    # the override's endpoints in the operator's order; a cluster of two
    # zones gives an F1 endpoint its first one
    $ov => "F1 random $ov_eps",
    _default => 'F2 - asia-1 eu-1 mz-1 us-1',
    # endpoints in byte order of their address
    'cluster:eu-1' => 'C2 eu up ' . join(' ', sort("$ep{e2}/3/4", "$ep{e1}/1/0")),
    'cluster:us-1' => "C2 us up $ep{u1}/1/65535",
    'cluster:asia-1' => "C2 asia up $ep{a1}/1000/0",
    # origins: https alone, a prefix (its "/" dropped), a name (resolved by
    # the system's resolver: every address "localhost" has, each with it)
    'cluster:mz-1' => qr{^C2\ asia\+eu\ (?:up|down)
                         (?=.*\ \Q$ep{m1}/2/8/https,-,-\E(?:\ |$))
                         (?=.*\ \Q$ep{m2}/1/0/http,-,/api/v1\E(?:\ |$))
                         (?=.*\ \Q$ep{m3}/1/0/http,localhost,-\E(?:\ |$))
                         (?:\ \S+){3,4}$}x,
);
sub matches { my ($got, $w) = @_; return defined $got && (ref $w ? $got =~ $w : $got eq $w) }

my ($got, $recs);
Fado::Controller::wait_until(sub {
    $recs = records();
    $got = decode_all($recs);
    return (grep { !matches($got->{$_}, $want{$_}) } keys %want) ? undef : 1;
}, 60);
for my $k (sort keys %want) {
    ok(matches($got->{$k}, $want{$k}), "$k decodes to what the API was told")
        or diag "got:  " . ($got->{$k} // '(none)') . "\nwant: $want{$k}";
}
is(scalar(grep { /^error/ } values %$got), 0, 'no published record is refused by the decoder');
is_deeply([sort keys %$got], [sort keys %want], 'and nothing else is published');

# Byte for byte: the C encoder writes what the SQL wrote, for every record.
my $enc = run_tool($recs, '-e');
for my $k (sort keys %$recs) {
    is($enc->{$k}, $recs->{$k}, "$k: the C encoder writes the SQL's bytes");
}
my %forms = (F1 => 0, F2 => 0, C2 => 0, origin => 0, zones => 0, ipv6 => 0);
for (values %$recs) {
    $forms{substr $_, 0, 2}++;
    $forms{origin}++ if /,https?,/;
    $forms{zones}++ if /^C2 \d+ \S*\+/;
    $forms{ipv6}++ if /\[::1\]/;
}
my %policies = map { (split / /)[2] => 1 } grep { /^F/ } values %$recs;
is_deeply([sort keys %policies], [sort qw(- rr lc p2c ewma chash random first)],
          'the records compared carry every policy token');
ok(!(grep { !$forms{$_} } keys %forms), 'and every form: ' . join(', ', map { "$_ $forms{$_}" } sort keys %forms));

# The API's view is the same decoder's: GET /v1/routes agrees.
(undef, $j) = $c->api(GET => "/v1/routes/$ov");
is(join(' ', map { "$_->{address}/$_->{cluster}/$_->{zone}/$_->{weight}/$_->{max_inflight}" }
               @{ $j->{endpoints} }),
   $ov_eps, 'GET /v1/routes shows the override as decoded');
(undef, $j) = $c->api(GET => "/v1/routes/$photos");
is_deeply([$j->{contract}, $j->{policy}, $j->{clusters}], [2, 'p2c', ['eu-1', 'us-1']],
          'and an F2 route with its clusters');

done_testing();
