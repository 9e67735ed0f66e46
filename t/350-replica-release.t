# The replica lifecycle in the library (fst_replication.h), on the harness's
# three MinIO deployments through fado-storage:
# - converge adopts the rules MinIO already holds: priorities renumbered
#   behind fado's back (ours and an operator's) are kept, a new rule takes a
#   free priority, nothing fails;
# - release: a copy that is not the home has nothing to drop; a former home
#   keeps its rules while the new home lacks some of its versions and a
#   rule of ours still carries them (draining), refuses when no rule would,
#   and once drained loses every rule and target of ours (an operator's
#   rule stays); a delete on it then stays local;
# - prune through the controller is covered by t/260; reachable tells an
#   outage from an answer.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(sleep time);

for my $i (0 .. 2) {
    BAIL_OUT("FADO_MINIO${i}_ENDPOINT is not set: run through scripts/run-tests")
        unless $ENV{"FADO_MINIO${i}_ENDPOINT"};
}
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $tmp = tempdir(CLEANUP => 1);
(my $minio1_hp = $ENV{FADO_MINIO1_ENDPOINT}) =~ s{^http://}{};
my $JSON = JSON::PP->new->canonical;

sub run {
    my @cmd = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$tmp/out" or die; open STDERR, '>', "$tmp/err" or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    local $/;
    open my $o, '<', "$tmp/out" or die; my $so = <$o>;
    open my $e, '<', "$tmp/err" or die; my $se = <$e>;
    return ($rc, $so, $se);
}
sub put { my ($site, $b, $k, $data) = @_;
    open my $f, '>', "$tmp/put" or die; print $f $data; close $f;
    my ($rc, undef, $err) = run($cli, '-s', $site, 'put', $b, $k, "$tmp/put");
    die "put $site/$b/$k: $err" if $rc;
}
sub rules {     # { ID => priority } of a bucket's replication configuration
    my ($alias, $b) = @_;
    my $out = `$mc replicate export $alias/$b 2>/dev/null`;
    my $cfg = eval { $JSON->decode($out) } || {};
    return { map { $_->{ID} => $_->{Priority} } @{ $cfg->{Rules} || [] } };
}
sub import_rules {
    my ($alias, $b, $edit) = @_;
    my $cfg = $JSON->decode(`$mc replicate export $alias/$b`);
    $edit->($cfg);
    open my $f, '>', "$tmp/rules.json" or die; print $f $JSON->encode($cfg); close $f;
    return system("$mc replicate import $alias/$b < $tmp/rules.json >/dev/null 2>&1") == 0;
}
sub eventually {
    my ($secs, $code) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) { return 1 if $code->(); sleep 0.2 }
    return $code->();
}
sub targets { my (undef, $o) = run($cli, '-s', $_[0], 'targets', $_[1]); $o }

my $b = sprintf 't350-%d-%d', $$, time;
my ($rc, $out, $err);

# ---------------------------------------------------------------- converge adopts
($rc, undef, $err) = run($cli, 'mb', $b);
is($rc, 0, "bucket $b on minio0") or diag($err);
put('minio0', $b, "k$_", "v $_\n") for 1 .. 5;
($rc, $out, $err) = run($cli, 'wait', $b, '60', 'minio1', 'minio2');
is($out, "ready\n", 'minio0 replicates to minio1 (priority 1) and minio2 (priority 2)') or diag($err);
is_deeply(rules('minio0', $b), { 'fado-minio1' => 1, 'fado-minio2' => 2 }, 'as the rules say');

ok(import_rules('minio0', $b, sub {
    for my $r (@{ $_[0]{Rules} }) { $r->{Priority} = $r->{ID} eq 'fado-minio1' ? 2 : 1 }
}), 'priorities swapped behind our back');
($rc, $out, $err) = run($cli, 'converge', $b, 'minio1', '1');
is("$rc $out", "0 ready\n", 'converge minio1 asking for 1 (held by fado-minio2): no error') or diag($err);
($rc, $out, $err) = run($cli, 'converge', $b, 'minio2', '2');
is("$rc $out", "0 ready\n", 'converge minio2 asking for 2 (held by fado-minio1): no error') or diag($err);
is_deeply(rules('minio0', $b), { 'fado-minio1' => 2, 'fado-minio2' => 1 },
          'each of our rules kept the priority MinIO held');

# an operator's rule of its own on priority 3 (towards minio2's target)
ok(import_rules('minio0', $b, sub {
    my ($cfg) = @_;
    my ($m2) = grep { $_->{ID} eq 'fado-minio2' } @{ $cfg->{Rules} };
    push @{ $cfg->{Rules} }, { %$m2, ID => 'operator-archive', Priority => 3,
                               Filter => { Prefix => 'archive/' } };
}), "an operator's rule added at priority 3");
($rc, $out, $err) = run($cli, 'converge', $b, 'minio1', '3');
is("$rc $out", "0 ready\n", 'converge asking for the operator\'s priority: no error') or diag($err);
is(rules('minio0', $b)->{'operator-archive'}, 3, "the operator's rule is untouched");
is(rules('minio0', $b)->{'fado-minio1'}, 2, 'ours kept its own priority');

# ---------------------------------------------------------------- release
($rc, $out, $err) = run($cli, '-s', 'minio1', 'release', $b, 'minio0');
is("$rc $out", "0 released 0\n", 'a replica (no rules of its own) has nothing to release') or diag($err);

# Home moves to minio1. A version minio1 lacks although minio0 has
# replicated it (deleted behind our back): minio0 keeps its rules.
my (undef, $lsv) = run($cli, '-s', 'minio1', 'lsv', $b, 'k3');
my ($vid) = $lsv =~ /^k3\t(\S+)/m;
($rc, undef, $err) = run($cli, '-s', 'minio1', 'rm', $b, 'k3', $vid);
is($rc, 0, "k3's version removed from minio1 directly") or diag($err);
($rc, $out, $err) = run($cli, 'release', $b, 'minio1');
is("$rc $out", "0 draining\n", 'release of minio0 towards minio1 waits: minio1 lacks a version')
    or diag($err);
like(targets('minio0', $b), qr/\Q$minio1_hp\E/,
     'its target towards minio1 is still there');

# Towards minio2, to which only the operator's and fado-minio2 rules point,
# after minio2 lost a version too: fado-minio2 carries it, so draining too.
(undef, $lsv) = run($cli, '-s', 'minio2', 'lsv', $b, 'k4');
($vid) = $lsv =~ /^k4\t(\S+)/m;
run($cli, '-s', 'minio2', 'rm', $b, 'k4', $vid);
# a site with no rule of ours towards it: nothing would ever bring the
# versions there, so release refuses (naming why) instead of waiting forever
my $c2 = sprintf 't350b-%d-%d', $$, time;
run($cli, 'mb', $c2);
run($cli, '-s', 'minio1', 'mb', $c2);      # the new home holds the bucket
put('minio0', $c2, 'only-here', "x\n");
($rc, $out, $err) = run($cli, 'wait', $c2, '60', 'minio2');
is($out, "ready\n", "$c2 replicates to minio2 only") or diag($err);
($rc, $out, $err) = run($cli, 'release', $c2, 'minio1');
isnt($rc, 0, 'releasing towards a site no rule replicates to fails');
like($err, qr/not on the home and no rule of ours replicates them/, 'saying why');
is(rules('minio0', $c2)->{'fado-minio2'}, 1, 'and changes nothing');

note('rules before the release: ' . join(', ', map { "$_=" . rules('minio0', $b)->{$_} } sort keys %{ rules('minio0', $b) }));
# converge heals the replica (a resync); then the release goes through
ok(eventually(60, sub {
    run($cli, 'converge', $b, 'minio1', '1');
    my (undef, $o) = run($cli, 'release', $b, 'minio1');
    return $o =~ /^released/;
}), 'once minio1 holds every version of minio0, the release goes through');
my $left = rules('minio0', $b);
is_deeply([sort keys %$left], ['operator-archive'], "minio0 keeps only the operator's rule");
unlike(targets('minio0', $b), qr/\Q$minio1_hp\E/,
       'its target towards minio1 is gone');
($rc, $out) = run($cli, 'release', $b, 'minio1');
is($out, "released 0\n", 'a second release finds nothing: idempotent');

# The operator's rule still replicates archive/ to minio2; ours do not:
# a delete on minio0 outside archive/ stays on minio0.
($rc, undef, $err) = run($cli, 'rm', $b, 'k1');
is($rc, 0, 'k1 deleted on the released minio0');
my $t = time;
my $kept = 1;
while (time < $t + 3) {     # replication would take well under a second
    $kept = 0 unless `$mc cat minio1/$b/k1 2>/dev/null` eq "v 1\n"
                  && `$mc cat minio2/$b/k1 2>/dev/null` eq "v 1\n";
    sleep 0.2;
}
ok($kept, 'for 3 s after, minio1 and minio2 still hold k1: the delete did not propagate');

# ---------------------------------------------------------------- reachable
($rc, $out) = run($cli, '-s', 'minio1', 'reachable', $b);
is("$rc $out", "0 reachable\n", 'a running store is reachable');
{
    local $ENV{FADO_MINIO1_ENDPOINT} = 'http://127.0.0.1:' . ($ENV{FADO_BASE_PORT} + 97);
    ($rc, $out) = run($cli, '-s', 'minio1', 'reachable', $b);
    is("$rc $out", "1 unreachable\n", 'a port nothing listens on is not');
}
{
    local $ENV{FADO_MINIO1_SECRET_KEY} = 'wrong-secret-key-0123456789';
    ($rc, $out) = run($cli, '-s', 'minio1', 'reachable', $b);
    is("$rc $out", "0 reachable\n", 'a store refusing the credentials answers: reachable (an error, not an outage)');
}

system("$mc rb --force minio$_/$b minio$_/$c2 >/dev/null 2>&1") for 0 .. 2;
done_testing();
