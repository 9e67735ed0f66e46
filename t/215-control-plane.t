# The control plane driven by changes, on real PostgreSQL and Redis with two
# controllers against one database: exactly one leads; a change is
# published in O(changed) records (an endpoint change of a cluster that
# hundreds of buckets route to is one record, a bucket's policy one
# record); nothing is left in the change tables; a hand-edited, deleted or
# stray record in Redis is repaired by the full reconcile; the follower
# takes over within 5 s of the leader's SIGKILL and of its database
# connection being cut; a leader killed in the middle of a large change
# leaves nothing half-applied once the other has taken over; PostgreSQL
# restarting loses no change.
#
# Ballast buckets are inserted straight into PostgreSQL (ready replicas,
# already verified and scanned), so no job touches MinIO for them; the
# controllers then publish them like any other.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

my $base = $ENV{FADO_BASE_PORT};
my $N = 1500;       # ballast buckets routed to eu-1
my %env = (FADO_RECONCILE_INTERVAL => 3000, FADO_VERIFY_INTERVAL => 86400,
           FADO_SCAN_INTERVAL => 604800);
my $c1 = Fado::Controller->new(port_offset => 80, tag => "t215_$$", env => \%env);
my $c2 = Fado::Controller->new(port_offset => 81, tag => "t215b_$$", prefix => $c1->prefix,
                               env => \%env, no_start => 1);
$c2->{token} = $c1->token;      # one database, one set of tokens
$c2->start(db_url => $c1->db_url);
my $P = $c1->prefix;
my $db = ($c1->db_url =~ m{/([^/?]+)(?:\?.*)?$})[0];

sub sql { my ($q) = @_; return $c1->psql($q, $db) }
sub leaders {
    return join ',', map { $_->[0] } grep {
        my (undef, $r) = $_->[1]->api(GET => '/readyz');
        $r && $r->{leader};
    } (['c1', $c1], ['c2', $c2]);
}

my @fn = map { $base + 84 + $_ } 0 .. 2;
Fado::Controller->fake_function($_, "fn-$_") for @fn;

my ($s) = $c1->api(POST => '/v1/import', {
    zones => [qw(eu us)],
    clusters => [
        { name => 'eu-1', zone => 'eu', functions => [{ address => "127.0.0.1:$fn[0]" }] },
        { name => 'us-1', zone => 'us', functions => [{ address => "127.0.0.1:$fn[1]" }] },
    ],
});
is($s, 200, 'platform imported');
ok(Fado::Controller::wait_until(sub { leaders() =~ /^c[12]$/ }, 10), 'exactly one controller leads')
    or diag('leaders: ' . leaders());

sql("INSERT INTO buckets (name, home_cluster, scanned_at)"
  . " SELECT 'b' || lpad(g::text, 5, '0'), 'eu-1', now() FROM generate_series(1, $N) g;"
  . " INSERT INTO replicas (bucket, cluster, state, checked_at)"
  . " SELECT name, 'eu-1', 'ready', now() FROM buckets");
ok(Fado::Controller::wait_until(sub { $c1->redis('HLEN', "${P}routes") == $N }, 20),
   "$N buckets inserted in PostgreSQL are published through their triggers");
like($c1->redis('HGET', "${P}routes", 'b00001'), qr/^F2 \d+ - eu-1\s*$/,
     'a ballast route names the cluster holding it');
ok(Fado::Controller::wait_until(sub { sql('SELECT count(*) FROM dirty_buckets') == 0 }, 10),
   'nothing is left in the change table');

# ---------------------------------------------------------------- O(changed)
sub route_versions {
    my %h = split /\n/, $c1->redis('HGETALL', "${P}routes");
    return { map { $_ => ($h{$_} =~ /^F2 (\d+)/)[0] } keys %h };
}
my $before = route_versions();
my $v0 = $c1->redis('GET', "${P}version");
my $t0 = time;
($s) = $c1->api(PUT => '/v1/clusters/eu-1', { zone => 'eu', version => 1,
                functions => [{ address => "127.0.0.1:$fn[2]", weight => 3 }] });
is($s, 200, "eu-1's endpoints replaced through the API");
ok(Fado::Controller::wait_until(sub {
    $c1->redis('HGET', "${P}clusters", 'eu-1') =~ /^C2 \d+ eu up 127\.0\.0\.1:$fn[2],3,0$/ }, 5),
   'the cluster record carries the new endpoint');
diag(sprintf 'API call to cluster record in Redis: %.1f ms', 1000 * (time - $t0));
is($c1->redis('GET', "${P}version") - $v0, 1, "one record written for $N buckets routed there");
is_deeply(route_versions(), $before, 'no bucket record was rewritten');

my (undef, $bk) = $c1->api(GET => '/v1/buckets/b00007');
$v0 = $c1->redis('GET', "${P}version");
($s) = $c1->api(PUT => '/v1/buckets/b00007', { home_cluster => 'eu-1', policy => 'p2c',
                version => $bk->{version} });
is($s, 200, "one bucket's policy changed");
ok(Fado::Controller::wait_until(sub {
    $c1->redis('HGET', "${P}routes", 'b00007') =~ /^F2 \d+ p2c eu-1$/ }, 5),
   'its record carries the policy');
is($c1->redis('GET', "${P}version") - $v0, 1, 'one record written');

# ---------------------------------------------------------------- drift
my $good = $c1->redis('HGET', "${P}routes", 'b00002');
$c1->redis('HSET', "${P}routes", 'b00002', 'F2 1 - nowhere');
$c1->redis('HDEL', "${P}routes", 'b00003');
$c1->redis('HSET', "${P}routes", 'stray-bucket', 'F2 1 - eu-1');
$c1->redis('HSET', "${P}clusters", 'us-1', 'C2 1 us up 10.9.9.9:1,1,0');
ok(Fado::Controller::wait_until(sub {
       ($c1->redis('HGET', "${P}routes", 'b00002') =~ s/^F2 \d+ //r) eq ($good =~ s/^F2 \d+ //r)
    && $c1->redis('HEXISTS', "${P}routes", 'b00003') == 1
    && $c1->redis('HEXISTS', "${P}routes", 'stray-bucket') == 0
    && $c1->redis('HGET', "${P}clusters", 'us-1') =~ /^C2 \d+ us up 127\.0\.0\.1:$fn[1],1,0$/ }, 15),
   'the full reconcile rewrites an edited record, restores a deleted one, removes a stray one');

# The stray scan is skipped when every published record was found as
# published and Redis holds no more names: a stray alone, or one standing
# in for a missing record, must still be found.
$c1->redis('HSET', "${P}routes", 'stray-alone', 'F2 1 - eu-1');
ok(Fado::Controller::wait_until(sub {
       $c1->redis('HEXISTS', "${P}routes", 'stray-alone') == 0 }, 15),
   'a stray record alone (every other record as published) is removed');
$c1->redis('HDEL', "${P}routes", 'b00004');
$c1->redis('HSET', "${P}routes", 'stray-swapped', 'F2 1 - eu-1');
ok(Fado::Controller::wait_until(sub {
       $c1->redis('HEXISTS', "${P}routes", 'stray-swapped') == 0
    && $c1->redis('HEXISTS', "${P}routes", 'b00004') == 1 }, 15),
   'a stray in place of a deleted record (as many names as published) is removed, the record restored');

# ---------------------------------------------------------------- failover
sub leader_obj { my $l = leaders(); return $l eq 'c1' ? ($c1, $c2) : $l eq 'c2' ? ($c2, $c1) : () }
my ($lead, $follow) = leader_obj();
ok($lead, 'one leader before the failover');
$t0 = time;
$lead->stop('KILL');
my $took = Fado::Controller::wait_until(sub {
    my (undef, $r) = $follow->api(GET => '/readyz');
    return $r && $r->{leader} ? time - $t0 : 0;
}, 10);
ok($took && $took <= 5, 'the follower leads within 5 s of the leader\'s SIGKILL');
diag(sprintf 'failover after SIGKILL: %.2f s', $took || -1);
(undef, $bk) = $follow->api(GET => '/v1/buckets/b00008');
($s) = $follow->api(PUT => '/v1/buckets/b00008', { home_cluster => 'eu-1', policy => 'lc',
                    version => $bk->{version} });
ok(Fado::Controller::wait_until(sub {
    $c1->redis('HGET', "${P}routes", 'b00008') =~ /^F2 \d+ lc eu-1$/ }, 5),
   'the new leader publishes changes');
$lead->start(db_url => $c1->db_url);
is(leaders(), $follow == $c1 ? 'c1' : 'c2', 'the restarted controller follows');

# The leader's database connection is cut (as by a network partition or an
# administrator): another takes over within 5 s.
$t0 = time;
sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
  . " WHERE application_name LIKE 'fado-leader %' AND datname = '$db'");
$took = Fado::Controller::wait_until(sub {
    return leaders() =~ /^c[12]$/ && sql("SELECT count(*) FROM pg_stat_activity"
        . " WHERE application_name LIKE 'fado-leader %' AND datname = '$db'") >= 1
        ? time - $t0 : 0;
}, 10);
ok($took && $took <= 5, 'a leader again within 5 s of its connection being cut');
diag(sprintf 'failover after the connection was cut: %.2f s', $took || -1);
(undef, $bk) = $c1->api(GET => '/v1/buckets/b00009');
($s) = $c1->api(PUT => '/v1/buckets/b00009', { home_cluster => 'eu-1', policy => 'ewma',
                version => $bk->{version} });
ok(Fado::Controller::wait_until(sub {
    $c1->redis('HGET', "${P}routes", 'b00009') =~ /^F2 \d+ ewma eu-1$/ }, 5),
   'and changes are published again');

# ---------------------------------------------------------------- mid-publication
# A change of every route (the default policy), the leader killed at once.
($lead, $follow) = leader_obj();
($s) = $follow->api(PUT => '/v1/settings', { default_policy => 'rr' });
is($s, 200, 'the default policy changed (every route without an override)');
$lead->stop('KILL');
ok(Fado::Controller::wait_until(sub {
    my %h = split /\n/, $c1->redis('HGETALL', "${P}routes");
    my @old = grep { $h{$_} =~ /^F2 \d+ - / } keys %h;
    return @old == 0 && keys(%h) == $N;
}, 15), 'the leader killed mid-change: once the other leads, every route has the change');
# The killed leader may have written Redis before it could delete its rows:
# the next leader does that batch again.
ok(Fado::Controller::wait_until(sub {
       sql('SELECT count(*) FROM dirty_buckets') + sql('SELECT count(*) FROM dirty_clusters') == 0 }, 15),
   'and nothing is left pending once the other leads');
$lead->start(db_url => $c1->db_url);

# ---------------------------------------------------------------- Redis restart
# Redis crashes and comes back empty (it keeps nothing on disk here) while a
# change is made: the API goes on, and once Redis answers the leader loads
# its script again and republishes everything, the change included.
my $routes = $c1->redis('HLEN', "${P}routes");
my $rpid = `cat $ENV{FADO_RUN_DIR}/pid/redis.pid`;
chomp $rpid;
kill 'KILL', $rpid;
Fado::Controller::wait_until(sub { !kill 0, $rpid }, 5);
(undef, $bk) = $c1->api(GET => '/v1/buckets/b00011');
($s) = $c1->api(PUT => '/v1/buckets/b00011', { home_cluster => 'eu-1', policy => 'lc',
                version => $bk->{version} });
is($s, 200, 'a change is accepted while Redis is down');
system("scripts/fado-local start redis >/dev/null 2>&1") == 0
    or BAIL_OUT('Redis did not start again');
ok(Fado::Controller::wait_until(sub {
       $c1->redis('HLEN', "${P}routes") == $routes
    && ($c1->redis('HGET', "${P}routes", 'b00011') // '') =~ /^F2 \d+ lc eu-1$/ }, 20),
   'after Redis restarted empty, every route is republished, the change made meanwhile included');
ok(Fado::Controller::wait_until(sub { sql('SELECT count(*) FROM dirty_buckets') == 0 }, 10),
   'and nothing is left pending');

# ---------------------------------------------------------------- PostgreSQL restart
my $pgdata = `cat $ENV{FADO_RUN_DIR}/pgdata.path`;
chomp $pgdata;
my $pgctl = (glob '/usr/lib/postgresql/*/bin/pg_ctl')[-1];
my $as_pg = $> == 0 ? 'runuser -u postgres -- ' : '';
system("$as_pg$pgctl -D $pgdata -m fast -w restart -l $pgdata/server.log >/dev/null 2>&1") == 0
    or BAIL_OUT('PostgreSQL did not restart');
ok(Fado::Controller::wait_until(sub { leaders() =~ /^c[12]$/ }, 15),
   'after PostgreSQL restarted, one controller leads again');
(undef, $bk) = $c1->api(GET => '/v1/buckets/b00010');
($s) = $c1->api(PUT => '/v1/buckets/b00010', { home_cluster => 'eu-1', policy => 'chash',
                version => $bk->{version} });
is($s, 200, 'the API works again');
ok(Fado::Controller::wait_until(sub {
    $c1->redis('HGET', "${P}routes", 'b00010') =~ /^F2 \d+ chash eu-1$/ }, 10),
   'and its changes are published');

$c2->stop;
$c1->stop;
done_testing();
