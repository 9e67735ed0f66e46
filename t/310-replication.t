# MinIO replication driven through fst_replication.h (fado-storage converge /
# wait / stop) across the harness's three deployments: minio0 is the home,
# minio1 and minio2 the replicas. Checked with mc on each side.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

for my $i (0 .. 2) {
    for my $v (qw(ENDPOINT ACCESS_KEY SECRET_KEY)) {
        BAIL_OUT("FADO_MINIO${i}_$v is not set: run through scripts/run-tests")
            unless $ENV{"FADO_MINIO${i}_$v"};
    }
}
BAIL_OUT('MC_BIN and MC_CONFIG_DIR must be set') unless $ENV{MC_BIN} && $ENV{MC_CONFIG_DIR};
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
my $mc = $ENV{MC_BIN};
my $tmp = tempdir(CLEANUP => 1);

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
sub mc_put { my ($alias, $b, $k, $data) = @_;
    open my $f, '>', "$tmp/put" or die; print $f $data; close $f;
    my ($rc, undef, $err) = run($mc, 'cp', '--quiet', "$tmp/put", "$alias/$b/$k");
    die "mc cp $alias/$b/$k: $err" if $rc;
}
sub mc_cat { my (undef, $out) = run($mc, 'cat', $_[0]); $out }
# key => [versions...] newest first, 'DM' for delete markers
sub versions {
    my ($alias, $b) = @_;
    my (undef, $out) = run($cli, '-s', $alias, 'lsv', $b);
    my %v;
    for (split /\n/, $out) {
        my ($k, $vid, $size, $latest, $dm) = split /\t/;
        push @{$v{$k}}, $dm eq 'delete-marker' ? "DM:$vid" : $vid;
    }
    return \%v;
}
# poll until CODE is true or SECONDS pass
sub eventually {
    my ($secs, $code) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) { return 1 if $code->(); sleep 0.2 }
    return $code->();
}

my $b = sprintf 't310-%d-%d', $$, time;
my ($rc, $out, $err);

# --- adoption: both sides already hold a bucket of that name with data
run($mc, 'mb', '--quiet', "minio0/$b");
run($mc, 'version', 'enable', "minio0/$b");
mc_put('minio0', $b, "existing/$_", "home $_\n") for 1 .. 20;
mc_put('minio0', $b, 'gone', "to be deleted\n");
run($mc, 'rm', '--quiet', "minio0/$b/gone");            # a delete marker
run($mc, 'mb', '--quiet', "minio1/$b");                 # unversioned, with data
mc_put('minio1', $b, 'replica-only', "minio1's own\n");
mc_put('minio1', $b, 'existing/1', "minio1's older copy\n");
my $home_before = versions('minio0', $b);

($rc, $out, $err) = run($cli, 'converge', $b, 'minio1', '1');
is($rc, 0, 'converge towards minio1 succeeds on adopted buckets') or diag $err;
like($out, qr/\A(syncing|ready)\n\z/, 'and reports syncing or ready');

my $t0 = time;
($rc, $out, $err) = run($cli, 'wait', $b, '60', 'minio1');
is($out, "ready\n", 'minio1 catches up with the existing objects') or diag $err;
note(sprintf 'existing objects replicated in %.2f s', time - $t0);

my $rep = versions('minio1', $b);
my $missing = grep { my $k = $_; grep { my $v = $_; !grep { $_ eq $v } @{$rep->{$k} || []} } @{$home_before->{$k}} } keys %$home_before;
is($missing, 0, 'every home version (and the delete marker) is on minio1 with its version id');
is(mc_cat("minio1/$b/existing/7"), "home 7\n", 'an existing object reads the same on minio1');
is(mc_cat("minio1/$b/replica-only"), "minio1's own\n", 'minio1\'s own object is still there');
my ($older) = grep { $_ eq 'null' } @{$rep->{'existing/1'}};
ok($older, 'minio1\'s own copy of existing/1 is kept as an older version');
($rc, $out) = run($mc, 'cat', '--version-id', 'null', "minio1/$b/existing/1");
is($out, "minio1's older copy\n", 'with its content intact');
is_deeply(versions('minio0', $b), $home_before, 'nothing changed on the home');
like(versions('minio1', $b)->{gone}[0], qr/^DM:/, 'the delete marker was replicated');

# --- new objects, deletes
mc_put('minio0', $b, 'new/1', "new one\n");
ok(eventually(30, sub { mc_cat("minio1/$b/new/1") eq "new one\n" }),
   'a new object reaches minio1');
run($mc, 'rm', '--quiet', "minio0/$b/existing/2");
ok(eventually(30, sub { (versions('minio1', $b)->{'existing/2'}[0] // '') =~ /^DM:/ }),
   'a delete on the home becomes a delete marker on minio1');

# --- a second replica, converged with a distinct priority
($rc, $out, $err) = run($cli, 'wait', $b, '60', 'minio1', 'minio2');
is($out, "ready\n", 'minio2 catches up as well (existing, new and delete markers)')
    or diag $err;
is(mc_cat("minio2/$b/existing/20"), "home 20\n", 'an existing object reads the same on minio2');
($rc, $out) = run($mc, 'replicate', 'ls', '--json', "minio0/$b");
my %prio = $out =~ /"ID":"(fado-minio\d)","Status":"Enabled","Priority":(\d+)/g;
is_deeply(\%prio, { 'fado-minio1' => 1, 'fado-minio2' => 2 },
          'one rule per target, with distinct priorities');
like($out, qr/"DeleteMarkerReplication":\{"Status":"Enabled"\}/, 'delete markers replicate');
like($out, qr/"ExistingObjectReplication":\{"Status":"Enabled"\}/, 'existing objects replicate');
($rc, $out) = run($cli, 'targets', $b);
is(scalar(() = $out =~ /\n/g), 2, 'the home has two remote targets');

($rc, $out) = run($cli, 'converge', $b, 'minio1', '1');
($rc, $out) = run($cli, 'targets', $b);
is(scalar(() = $out =~ /\n/g), 2, 'converging again adds nothing');

# --- a version lost on the replica (home says COMPLETED) is resynced
my ($lost) = grep { $_ ne 'null' } @{versions('minio1', $b)->{'existing/5'}};
($rc, undef, $err) = run($mc, 'rm', '--quiet', '--version-id', $lost, "minio1/$b/existing/5");
is($rc, 0, 'a version is deleted behind fado\'s back on minio1') or diag $err;
($rc, $out) = run($cli, 'progress', $b, 'minio1');
like($out, qr/ missing=1$/, 'progress sees it missing');
($rc, $out, $err) = run($cli, 'wait', $b, '60', 'minio1');
is($out, "ready\n", 'converge starts a new resync and minio1 is whole again') or diag $err;
is(mc_cat("minio1/$b/existing/5"), "home 5\n", 'with the lost object back');

# --- stop: replication to minio2 ends, its data stays
($rc, $out, $err) = run($cli, 'stop', $b, 'minio2');
is($rc, 0, 'stop towards minio2') or diag $err;
($rc, $out) = run($cli, 'targets', $b);
(my $host2 = $ENV{FADO_MINIO2_ENDPOINT}) =~ s{^https?://}{};
unlike($out, qr/\t\Q$host2\E\t/, 'minio2\'s target is gone from the home');
like($out, qr/\A[^\n]*\n\z/, 'and exactly one target is left');
($rc, $out) = run($mc, 'replicate', 'ls', '--json', "minio0/$b");
ok($out =~ /fado-minio1/ && $out !~ /fado-minio2/, 'only minio1\'s rule is left');
is(mc_cat("minio2/$b/existing/20"), "home 20\n", 'minio2 keeps the data it had');
mc_put('minio0', $b, 'after-stop', "late\n");
ok(eventually(30, sub { mc_cat("minio1/$b/after-stop") eq "late\n" }),
   'new objects still reach minio1');
sleep 1;
($rc, $out) = run($mc, 'stat', "minio2/$b/after-stop");
isnt($rc, 0, 'but no longer minio2');
($rc, $out) = run($cli, 'progress', $b, 'minio2');
like($out, qr/^versions=\d+ missing=1$/, 'progress counts the one version minio2 lacks');
($rc, $out) = run($cli, 'progress', $b, 'minio1');
like($out, qr/^versions=(\d+) missing=0$/, 'and none for minio1');
($rc, $out, $err) = run($cli, 'stop', $b, 'minio2');
is($rc, 0, 'stopping again is a no-op') or diag $err;

# --- deleting a replica's data is a separate, explicit request
($rc, $out, $err) = run($cli, 'purge', $b, '--yes-delete-all-data');
isnt($rc, 0, 'purge refuses the home bucket while it replicates');
like($err, qr/replicates to other clusters \(it is a home\)/, 'saying why');
is(mc_cat("minio0/$b/existing/20"), "home 20\n", 'and the home keeps its data');
($rc, $out, $err) = run($cli, '-s', 'minio2', 'purge', $b);
isnt($rc, 0, 'purge without the confirmation flag does nothing');
($rc, $out, $err) = run($cli, '-s', 'minio2', 'purge', $b, '--yes-delete-all-data');
like($out, qr/^purged \d+ versions$/, 'purge of the stopped replica deletes every version') or diag $err;
($rc) = run($mc, 'stat', "minio2/$b");
isnt($rc, 0, 'and the bucket');
($rc, $out, $err) = run($cli, 'wait', $b, '60', 'minio1', 'minio2');
is($out, "ready\n", 'adding minio2 back makes its bucket again and resyncs it') or diag $err;
is(mc_cat("minio2/$b/existing/20"), "home 20\n", 'existing objects are back on minio2');

# --- the unversioned-collision guard
my $c = "$b-c";
run($mc, 'mb', '--quiet', "minio0/$c");
mc_put('minio0', $c, 'k', "home\n");
run($mc, 'mb', '--quiet', "minio2/$c");
mc_put('minio2', $c, 'k', "replica\n");
($rc, $out, $err) = run($cli, 'converge', $c, 'minio2', '1');
isnt($rc, 0, 'an unversioned object replication would overwrite fails the replica');
like($err, qr/unversioned object\(s\) differ.*"k"/, 'naming the key');
is(mc_cat("minio2/$c/k"), "replica\n", 'and the replica\'s object is untouched');
($rc, $out) = run($cli, 'targets', $c);
is($out, '', 'no target was added');

# --- a replica reached by the home MinIO under another address
my $p = "$b-p";
run($cli, 'mb', $p);
mc_put('minio0', $p, 'k', "peer\n");
{
    (my $hp = $ENV{FADO_MINIO2_ENDPOINT}) =~ s{//127\.0\.0\.1:}{//localhost:};
    local $ENV{FADO_MINIO2_PEER_ENDPOINT} = $hp;
    ($rc, $out, $err) = run($cli, 'wait', $p, '60', 'minio2');
    is($out, "ready\n", 'a replica with a peer endpoint catches up') or diag $err;
    ($rc, $out) = run($cli, 'targets', $p);
    like($out, qr/\tlocalhost:\d+\t\Q$p\E\t/, 'the home reaches it by the peer endpoint');
    ($rc, $out, $err) = run($cli, 'stop', $p, 'minio2');
    is($rc, 0, 'and stop finds that target again') or diag $err;
    ($rc, $out) = run($cli, 'targets', $p);
    is($out, '', 'and removes it');
}

# --- ensure-home adopts an unversioned bucket as it is; a replica cannot be its home
my $h = "$b-h";
run($mc, 'mb', '--quiet', "minio0/$h");
mc_put('minio0', $h, 'kept', "kept\n");
($rc, $out, $err) = run($cli, 'ensure-home', $h);
is($rc, 0, 'ensure-home on an existing unversioned bucket') or diag $err;
($rc, $out) = run($mc, 'version', 'info', "minio0/$h");
like($out, qr/versioning is enabled/i, 'turns versioning on');
is(mc_cat("minio0/$h/kept"), "kept\n", 'and keeps the data');
{
    local $ENV{FADO_SAME_ENDPOINT} = $ENV{FADO_MINIO0_ENDPOINT};
    local $ENV{FADO_SAME_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
    local $ENV{FADO_SAME_SECRET_KEY} = $ENV{FADO_MINIO0_SECRET_KEY};
    ($rc, $out, $err) = run($cli, 'converge', $h, 'same', '1');
    like($err, qr/home and replica are the same deployment/,
         'replicating a bucket onto its own deployment is refused');
}

for my $a (qw(minio0 minio1 minio2)) {
    run($mc, 'rb', '--force', "$a/$_") for $b, $c, $h, $p;
}
done_testing();
