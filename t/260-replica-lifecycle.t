# The replica lifecycle without data loss (issue #11), end to end on real
# MinIO, PostgreSQL, Redis, nginx with the module and fado-fn functions
# that read the bucket's data from their own cluster's MinIO:
#
# 1. home down: asia-1 (the home, on a MinIO of this test's own, port B+98)
#    loses its MinIO and its function; under invocation load through nginx
#    the bucket keeps being served from its ready replica on us-1 (no failed
#    invocation once the route changed), the replica stays ready, the API
#    shows the home unavailable, downloads come from us-1, uploads get 503
#    naming the home. When asia-1 returns, everything is as before.
# 2. home move then release: a move to a cluster without a ready replica is
#    refused (409 naming home_cluster); a move to one with a ready replica
#    leaves only the new home replicating out; the old home is released
#    with its data kept and recorded; a delete on the released copy does not
#    reach the new home; the removal API deletes it only when confirmed and
#    only when the cluster is out of the placement.
# 3. converge against rules MinIO already holds: the home's rule towards
#    us-1 renumbered behind fado's back to the priority fado then wishes for
#    asia-1; the rule is kept as it is, asia-1 joins on a free priority, no
#    error. asia-1 then goes down: its ready replica stays in the placement
#    (nothing can replace it) and passes a check within 5 s of its MinIO
#    answering again.
#
# Waits poll the API (or MinIO) with deadlines; nothing depends on a fixed
# sleep except the negative check that a delete does not propagate, which
# watches for a bounded window.

use strict;
use warnings;
use lib 't/lib';
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use Fado::Controller;

for my $v (qw(FADO_MINIO0_ENDPOINT FADO_MINIO1_ENDPOINT MINIO_BIN MC_BIN FADO_BASE_PORT)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests") unless $ENV{$v};
}
my $base = $ENV{FADO_BASE_PORT};
my $build = $ENV{FADO_BUILD} || 'build';
my $tmp = tempdir(CLEANUP => 1);
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";
my $JSON = JSON::PP->new->canonical;

# ---------------------------------------------------------------- asia-1's own MinIO
my $aport = $base + 98;
my %asia = (endpoint => "http://127.0.0.1:$aport",
            access_key => 't260' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 8),
            secret_key => join('', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 32));
my $minio_pid;
sub minio_start {
    $minio_pid = fork // die "fork: $!";
    if (!$minio_pid) {
        setpgrp(0, 0);
        chdir $tmp or die;      # not the checkout (docs/storage.md: ./config)
        open STDOUT, '>>', "$tmp/minio.log" or die; open STDERR, '>&', \*STDOUT or die;
        @ENV{qw(MINIO_ROOT_USER MINIO_ROOT_PASSWORD)} = @asia{qw(access_key secret_key)};
        @ENV{qw(MINIO_BROWSER MINIO_UPDATE MINIO_CI_CD)} = ('off', 'off', '1');
        exec $ENV{MINIO_BIN}, 'server', '--quiet', '--address', "127.0.0.1:$aport",
            '--console-address', '127.0.0.1:' . ($base + 99), "$tmp/data"
            or die "exec minio: $!";
    }
    my $http = HTTP::Tiny->new(timeout => 1);
    my $deadline = time + 60;
    while (time < $deadline) {
        return time if $http->get("$asia{endpoint}/minio/health/live")->{success};
        sleep 0.05;
    }
    return 0;
}
sub minio_stop {
    return unless $minio_pid;
    kill 'KILL', $minio_pid;
    waitpid $minio_pid, 0;
    undef $minio_pid;
}

# ---------------------------------------------------------------- functions
my %fn_port = ('eu-1' => $base + 90, 'us-1' => $base + 91, 'asia-1' => $base + 92);
my %fn_store = ('eu-1' => [@ENV{qw(FADO_MINIO0_ENDPOINT FADO_MINIO0_ACCESS_KEY FADO_MINIO0_SECRET_KEY)}],
                'us-1' => [@ENV{qw(FADO_MINIO1_ENDPOINT FADO_MINIO1_ACCESS_KEY FADO_MINIO1_SECRET_KEY)}],
                'asia-1' => [@asia{qw(endpoint access_key secret_key)}]);
my %zone = ('eu-1' => 'eu', 'us-1' => 'us', 'asia-1' => 'asia');
my %fn_pid;
sub fn_start {
    my ($cluster) = @_;
    my ($ep, $ak, $sk) = @{ $fn_store{$cluster} };
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>>', "$tmp/fn-$cluster.log" or die; open STDERR, '>&', \*STDOUT or die;
        @ENV{qw(FADO_FN_ACCESS_KEY FADO_FN_SECRET_KEY)} = ($ak, $sk);
        exec "$build/fado-fn", '--cluster', $cluster, '--zone', $zone{$cluster},
            '--listen', "127.0.0.1:$fn_port{$cluster}", '--storage-endpoint', $ep
            or POSIX::_exit(127);
    }
    $fn_pid{$cluster} = $pid;
    Fado::Controller::wait_until(sub { IO::Socket::INET->new("127.0.0.1:$fn_port{$cluster}") }, 10)
        or die "fado-fn $cluster did not start";
}
sub fn_stop {
    my ($cluster) = @_;
    my $pid = delete $fn_pid{$cluster} or return;
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

my $parent = $$;
our ($nginx, $load);
END {
    if ($$ == $parent) {
        for my $pid (grep { $_ } $load, $nginx) { kill 'KILL', $pid; waitpid $pid, 0 }
        fn_stop($_) for keys %fn_pid;
        minio_stop();
    }
}

ok(minio_start(), "asia-1's own MinIO starts on $aport");
fn_start($_) for sort keys %fn_port;

# ---------------------------------------------------------------- controller
# No webhook: this test's own MinIO has no notification target (events are
# hints; t/220 covers them).
delete $ENV{FADO_EVENTS_TOKEN};
my $c = Fado::Controller->new(port_offset => 80, tag => "t260_$$", env => {
    FADO_JOB_POLL => 200, FADO_VERIFY_INTERVAL => 1, FADO_SCAN_INTERVAL => 3600 });
my $P = $c->prefix;
my ($docs, $move, $conv, $late) = ("docs-$$", "move-$$", "conv-$$", "late-$$");
my ($s, $j, $raw) = $c->api(POST => '/v1/import', {
    zones => [qw(eu us asia)],
    clusters => [map {
        { name => $_, zone => $zone{$_}, functions => [{ address => "127.0.0.1:$fn_port{$_}" }],
          storage => { endpoint => $fn_store{$_}[0], access_key => $fn_store{$_}[1],
                       secret_key => $fn_store{$_}[2] } }
    } sort keys %fn_port],
    buckets => [
        # the issue's asia-docs: home asia-1, ready replica on us-1
        { name => $docs, home_cluster => 'asia-1',
          placement => { allowed_zones => ['asia', 'us'], replicas => 2 } },
        { name => $move, home_cluster => 'eu-1',
          placement => { allowed_zones => ['eu', 'us'], replicas => 2 } },
    ],
});
is($s, 200, 'platform imported') or diag($raw);

sub bucket { my (undef, $b) = $c->api(GET => "/v1/buckets/$_[0]"); return $b || {} }
sub states {
    my ($name) = @_;
    return join ',', map { "$_->{cluster}=$_->{state}" } sort { $a->{cluster} cmp $b->{cluster} }
        @{ bucket($name)->{replicas} || [] };
}
sub wait_for { Fado::Controller::wait_until(@_) }

my $http = HTTP::Tiny->new(timeout => 30);
sub obj {
    my ($method, $path, $body, %h) = @_;
    $h{Authorization} //= 'Bearer ' . $c->token;
    return $http->request($method, $c->url . $path, { headers => \%h,
        defined $body ? (content => $body) : () });
}
sub jbody { my $r = shift; return eval { $JSON->decode($r->{content}) } || {} }

is(wait_for(sub { states($docs) eq 'asia-1=ready,us-1=ready' }, 60), 1,
   "$docs: home asia-1 and a ready replica on us-1");

# ---------------------------------------------------------------- nginx
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // "$build/ngx_http_fado_module.so");
my $gw = $base + 84;
my $ndir = "$tmp/nginx";
mkdir $ndir; mkdir "$ndir/logs";
open my $nf, '>', "$ndir/nginx.conf" or die;
print $nf <<"EOF";
load_module $module;
daemon off;
master_process on;
worker_processes 1;
error_log $ndir/logs/error.log notice;
pid $ndir/logs/nginx.pid;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $ndir;
    proxy_temp_path $ndir;
    fado_shm_zone fado_t260 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$P;
    upstream functions { fado policy=rr max_fails=1 fail_timeout=10s; keepalive 16; }
    server {
        listen 127.0.0.1:$gw;
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            fado_no_route_status 503;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 1s;
            proxy_pass http://functions;
        }
    }
}
EOF
close $nf;
$nginx = fork // die;
if ($nginx == 0) {
    { exec '/usr/sbin/nginx', '-p', "$ndir/", '-c', "$ndir/nginx.conf", '-e', "$ndir/logs/error.log" }
    POSIX::_exit(127);
}
ok(wait_for(sub { IO::Socket::INET->new("127.0.0.1:$gw") }, 10), 'nginx with the module listens')
    or diag(`cat $ndir/logs/error.log`);

my $content = "asia docs $$\n" x 200;
my $sha = sha256_hex($content);
my $r = obj(PUT => "/v1/buckets/$docs/objects/report.txt", $content);
is($r->{status}, 201, "an object uploaded to $docs (home asia-1)");
ok(wait_for(sub { `$mc cat minio1/$docs/report.txt 2>/dev/null` eq $content }, 30),
   'MinIO replicated it to us-1');
is(wait_for(sub { states($docs) eq 'asia-1=ready,us-1=ready' }, 30), 1, 'both copies ready');

my $inv = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
sub invoke {
    my ($bucket, $key) = @_;
    my $res = $inv->get("http://127.0.0.1:$gw/function/checksum?key=$key",
                        { headers => { 'X-Fado-Bucket' => $bucket } });
    my $b = eval { $JSON->decode($res->{content}) } || {};
    return ($res->{status}, $b->{cluster} // '', $b->{result}{sha256} // '');
}
ok(wait_for(sub { my %seen; for (1 .. 8) { my (undef, $cl) = invoke($docs, 'report.txt'); $seen{$cl}++ }
                  $seen{'asia-1'} && $seen{'us-1'} }, 15),
   'invocations run in both asia-1 and us-1');

# ---------------------------------------------------------------- 1. home down
{
    # Load: a child invokes back to back and logs "time status cluster ok".
    my $log = "$tmp/load.log";
    $load = fork // die;
    if (!$load) {
        open my $out, '>', $log or POSIX::_exit(1);
        $out->autoflush(1);
        my $stop = 0;
        $SIG{TERM} = sub { $stop = 1 };
        my $end = time + 120;
        while (!$stop && time < $end) {
            my $t = time;
            my ($st, $cl, $h) = invoke($docs, 'report.txt');
            printf $out "%.4f %d %s %d\n", $t, $st, $cl || '-', ($st == 200 && $h eq $sha) ? 1 : 0;
        }
        POSIX::_exit(0);
    }
    sleep 1;
    my $t_kill = time;
    minio_stop();
    fn_stop('asia-1');

    # Contract 2: the bucket record keeps naming its ready replicas; the
    # home's cluster record says it is down, so gateways route to us-1 only.
    my $t_route = wait_for(sub {
        return $c->redis('HGET', "${P}clusters", 'asia-1') =~ /^C2 \d+ \S+ down/
            && $c->redis('HGET', "${P}routes", $docs) =~ / us-1/ ? time : undef }, 15);
    ok($t_route, 'the route of the bucket loses asia-1 (its cluster is down) and keeps us-1');
    like($c->redis('HGET', "${P}routes", $docs), qr/^F2 \d+ \S+( \S+)* asia-1( |$)/,
         'the bucket record itself still names asia-1, whose replica is ready');
    my $b = wait_for(sub { my $b = bucket($docs); $b->{home_unavailable} ? $b : undef }, 15);
    ok($b, 'the bucket shows home_unavailable');
    is($b->{home}{cluster}, 'asia-1', 'naming the home cluster');
    is($b->{home}{available}, JSON::PP::false, 'home.available is false');

    # The replica's verification runs against a dead home (every 1 s here):
    # the bucket records the home error, the replica stays ready.
    my $hb = wait_for(sub { my $x = bucket($docs); ($x->{home}{reason} // '') =~ /asia-1.*(connect|Connection)/i ? $x : undef }, 20);
    ok($hb, 'a job that could not reach the home recorded it on the bucket')
        or diag($JSON->encode(bucket($docs)));
    ok(wait_for(sub { `grep -c 'kind=replica bucket=$docs cluster=us-1 error=.*asia-1' @{[ $c->log_file ]}` > 0 }, 20),
       "the us-1 replica's own check ran and failed to reach the home");
    is(states($docs), 'asia-1=ready,us-1=ready',
       'the us-1 replica is still ready: its health is its own (and the home keeps its state)');

    $r = obj(GET => "/v1/buckets/$docs/objects/report.txt");
    is($r->{status}, 200, 'a download while the home is down: 200');
    is($r->{headers}{'x-fado-cluster'}, 'us-1', 'served by the us-1 replica');
    is($r->{content}, $content, 'with the right bytes');
    $r = obj(PUT => "/v1/buckets/$docs/objects/new.txt", "new\n");
    is($r->{status}, 503, 'an upload while the home is down: 503');
    my $e = jbody($r)->{error} || {};
    is($e->{code}, 'home_unavailable', 'code home_unavailable');
    is($e->{field}, 'home_cluster', 'naming the field home_cluster');
    like($e->{message}, qr/"asia-1"/, 'and the home cluster');
    $r = obj(DELETE => "/v1/buckets/$docs/objects/report.txt");
    is($r->{status}, 503, 'a delete while the home is down: 503 too (nothing changed)');
    is(`$mc cat minio1/$docs/report.txt 2>/dev/null`, $content, 'the replica still holds the object');

    sleep 2;    # more load while the home stays down (a few verifications)
    kill 'TERM', $load;
    waitpid $load, 0;
    undef $load;
    open my $in, '<', $log or die;
    my (@before, @after);
    while (<$in>) {
        my ($t, $st, $cl, $good) = split;
        next if $t < $t_kill;
        push @{ $t < $t_route ? \@before : \@after }, [$st, $cl, $good];
    }
    my $fail_before = grep { !$_->[2] } @before;
    my $fail_after = grep { !$_->[2] } @after;
    my $on_us = grep { $_->[1] eq 'us-1' && $_->[2] } @after;
    diag(sprintf 'home down: %d invocations from the kill to the route change (%.2f s), %d failed;'
         . ' %d after it, %d failed', scalar @before, $t_route - $t_kill, $fail_before,
         scalar @after, $fail_after);
    cmp_ok(scalar @after, '>', 50, 'the load ran while the home was down');
    is($fail_after, 0, 'no invocation failed after the route change');
    is($on_us, scalar @after, 'every one ran on us-1 and read the right data there');

    # asia-1 returns.
    my $t_back = minio_start();
    ok($t_back, "asia-1's MinIO restarts on the same data");
    fn_start('asia-1');
    ok(wait_for(sub { !bucket($docs)->{home_unavailable} }, 20), 'the home is available again');
    diag(sprintf 'home available again %.2f s after its MinIO answered', time - $t_back);
    $r = obj(PUT => "/v1/buckets/$docs/objects/new.txt", "new\n");
    is($r->{status}, 201, 'uploads work again');
    ok(wait_for(sub { `$mc cat minio1/$docs/new.txt 2>/dev/null` eq "new\n" }, 30),
       'and replicate to us-1');
    is(wait_for(sub { states($docs) eq 'asia-1=ready,us-1=ready' }, 30), 1, 'both copies ready');
}

# ---------------------------------------------------------------- 2. home move, release
{
    is(wait_for(sub { states($move) eq 'eu-1=ready,us-1=ready' }, 60), 1,
       "$move: home eu-1, replica us-1, both ready");
    for my $i (1 .. 5) {
        is(obj(PUT => "/v1/buckets/$move/objects/doc$i.txt", "doc $i\n")->{status}, 201,
           "doc$i uploaded") if $i == 1;
        obj(PUT => "/v1/buckets/$move/objects/doc$i.txt", "doc $i\n") if $i > 1;
    }
    ok(wait_for(sub { my @l = `$mc ls minio1/$move/ 2>/dev/null`; @l == 5 }, 30),
       'all five on us-1');
    is(wait_for(sub { states($move) eq 'eu-1=ready,us-1=ready' }, 30), 1, 'us-1 ready with them');

    my $b = bucket($move);
    ($s, $j) = $c->api(PUT => "/v1/buckets/$move", { home_cluster => 'asia-1', version => $b->{version},
        placement => { allowed_zones => ['eu', 'us', 'asia'], replicas => 2 } });
    is($s, 409, 'moving the home to a cluster without a ready replica: 409');
    is($j->{error}{field}, 'home_cluster', 'naming home_cluster');
    is($j->{error}{code}, 'home_not_ready', 'code home_not_ready');
    is(bucket($move)->{version}, $b->{version}, 'the bucket did not change');

    ($s, $j, $raw) = $c->api(PUT => "/v1/buckets/$move", { home_cluster => 'us-1',
        version => $b->{version}, placement => { allowed_zones => ['eu', 'us'], replicas => 2 } });
    is($s, 200, 'moving the home to us-1, which holds a ready replica: 200') or diag($raw);
    is($j->{home_cluster}, 'us-1', 'the new home');

    # Only the new home replicates out: eu-1 loses its rule towards us-1,
    # us-1 gets one towards eu-1.
    my $targets = sub { my $o = `$build/fado-storage -s $_[0] targets $move 2>&1`; chomp $o; $o };
    (my $eu_hp = $ENV{FADO_MINIO0_ENDPOINT}) =~ s{^http://}{};
    (my $us_hp = $ENV{FADO_MINIO1_ENDPOINT}) =~ s{^http://}{};
    ok(wait_for(sub { $targets->('minio0') eq '' && $targets->('minio1') =~ /\Q$eu_hp\E/ }, 30),
       'after the move only us-1 replicates out (towards eu-1); eu-1 has no target left')
        or diag('eu-1: ' . $targets->('minio0') . "\nus-1: " . $targets->('minio1'));
    like(`$mc replicate ls minio0/$move 2>&1`, qr/not set|no replication|not found|^\s*$/i,
         'and no replication rule on eu-1');
    is(wait_for(sub { states($move) eq 'eu-1=ready,us-1=ready' }, 30), 1,
       'eu-1 is a ready replica of the new home');
    $r = obj(PUT => "/v1/buckets/$move/objects/after-move.txt", "after\n");
    is(jbody($r)->{cluster}, 'us-1', 'uploads now land on us-1');
    ok(wait_for(sub { `$mc cat minio0/$move/after-move.txt 2>/dev/null` eq "after\n" }, 30),
       'and replicate to eu-1');
    is(wait_for(sub { states($move) eq 'eu-1=ready,us-1=ready' }, 30), 1, 'eu-1 ready with it');

    # Release eu-1: the placement shrinks to us only.
    $b = bucket($move);
    ($s) = $c->api(PUT => "/v1/buckets/$move", { home_cluster => 'us-1', version => $b->{version},
        placement => { allowed_zones => ['us'], replicas => 1 } });
    is($s, 200, 'the placement shrinks to us-1 only');
    my $copy = wait_for(sub {
        my $x = bucket($move);
        return @{ $x->{replicas} } == 1 && @{ $x->{released_copies} || [] } == 1 ? $x : undef }, 30);
    ok($copy, 'eu-1 leaves the replicas and is listed as a released copy');
    is($copy->{released_copies}[0]{cluster}, 'eu-1', 'the copy on eu-1');
    is($copy->{released_copies}[0]{state}, 'kept', 'kept');
    is($copy->{released_copies}[0]{home_cluster}, 'us-1', 'released from home us-1');
    is($targets->('minio1'), '', 'the new home no longer replicates to eu-1');
    my @eu = `$mc ls minio0/$move/`;
    is(scalar @eu, 6, 'the data stays on eu-1: nothing deleted');

    # A delete on the released copy never reaches the new home.
    system("$mc rm -q minio0/$move/doc1.txt >/dev/null") == 0 or die 'mc rm failed';
    is(`$mc cat minio0/$move/doc1.txt 2>/dev/null`, '', 'doc1 deleted on the released copy');
    my $t = time;
    my $still = 1;
    while (time < $t + 3) {     # replication would take well under a second
        $still = 0 if `$mc cat minio1/$move/doc1.txt 2>/dev/null` ne "doc 1\n";
        sleep 0.2;
    }
    ok($still, 'for 3 s after, the home still holds doc1: the delete did not propagate');
    $r = obj(GET => "/v1/buckets/$move/objects/doc1.txt");
    is($r->{status}, 200, 'the API still serves doc1');
    is($r->{headers}{'x-fado-cluster'}, 'us-1', 'from us-1');
    my ($fs, $fcl, $fsha) = invoke($move, 'doc1.txt');
    is("$fs $fcl $fsha", '200 us-1 ' . sha256_hex("doc 1\n"), 'and a function reads it in us-1');

    # The removal API.
    my $copies = "/v1/buckets/$move/copies";
    ($s, $j) = $c->api(GET => $copies);
    is_deeply([map { $_->{cluster} } @{ $j->{items} || [] }], ['eu-1'], 'GET copies lists eu-1');
    ($s, $j) = $c->api(DELETE => "$copies/eu-1");
    is($s, 400, 'DELETE without confirm: 400');
    is($j->{error}{field}, 'confirm', 'naming confirm');
    ($s, $j) = $c->api(DELETE => "$copies/eu-1?confirm=other-bucket");
    is($s, 400, 'DELETE with the wrong confirmation: 400');
    is($j->{error}{field}, 'confirm', 'naming confirm');
    ($s, $j) = $c->api(DELETE => "$copies/us-1?confirm=$move");
    is($s, 409, 'DELETE of a cluster still in the placement: 409');
    is($j->{error}{field}, 'cluster', 'naming cluster');
    ($s, $j) = $c->api(DELETE => "$copies/asia-1?confirm=$move");
    is($s, 404, 'DELETE of a cluster holding no released copy: 404');
    my (undef, $ro) = $c->api(POST => '/v1/tokens', { name => 'ro', role => 'read-only' });
    ($s) = $c->api(DELETE => "$copies/eu-1?confirm=$move", undef, token => $ro->{token});
    is($s, 403, 'a read-only token cannot delete');
    @eu = `$mc ls minio0/$move/`;
    is(scalar @eu, 5, 'after all the refused calls eu-1 still holds its data');

    ($s, $j) = $c->api(DELETE => "$copies/eu-1?confirm=$move");
    is($s, 202, 'DELETE with confirm=<bucket>: 202');
    ok(wait_for(sub { my ($st) = $c->api(GET => "$copies/eu-1"); $st == 404 }, 30),
       'the record goes once the data is deleted');
    like(`$mc ls minio0/$move 2>&1`, qr/does not exist|NoSuchBucket/i, "eu-1's copy is gone");
    my @us = `$mc ls minio1/$move/`;
    is(scalar @us, 6, 'the home keeps all six objects');
}

# ---------------------------------------------------------------- 3. converge over what MinIO holds
{
    my $rules = sub {       # the home's rules: ID => priority
        my $cfg = eval { $JSON->decode(scalar `$mc replicate export minio0/$conv 2>&1`) } || {};
        return map { $_->{ID} => $_->{Priority} } @{ $cfg->{Rules} || [] };
    };
    my $checked = sub {     # when the replica's last successful check ran (epoch s)
        return $c->psql("SELECT coalesce(extract(epoch FROM checked_at), 0) FROM replicas"
                        . " WHERE bucket = '$conv' AND cluster = '$_[0]'", $c->db_url) + 0;
    };
    my %reasons;
    my $replica = sub {     # one replica of the bucket; notes every reason shown
        my $b = bucket($conv);
        $reasons{$_->{reason}}++ for grep { $_->{reason} ne '' } @{ $b->{replicas} || [] };
        my ($r) = grep { $_->{cluster} eq $_[0] } @{ $b->{replicas} || [] };
        return $r || {};
    };

    ($s) = $c->api(POST => '/v1/buckets', { name => $conv, home_cluster => 'eu-1',
        placement => { allowed_zones => ['eu', 'us'], replicas => 2 } });
    is($s, 201, "$conv: home eu-1, replica us-1");
    obj(PUT => "/v1/buckets/$conv/objects/o$_", "o $_\n") for 1 .. 10;
    is(wait_for(sub { states($conv) eq 'eu-1=ready,us-1=ready' }, 60), 1, 'both ready');

    # The home's rules are renumbered behind fado's back, as an earlier
    # placement or an operator would have left them: us-1's rule takes
    # priority 1, the one fado wishes for asia-1 (the replicas in name order;
    # the issue: "priority 1 is already used by rule fado-eu-1"). MinIO checks
    # every target of a configuration it is given, so this is done while all
    # are up.
    my $export = `$mc replicate export minio0/$conv 2>&1`;
    my $cfg = eval { $JSON->decode($export) } or BAIL_OUT("replicate export: $export");
    is_deeply([map { $_->{ID} } @{ $cfg->{Rules} }], ['fado-us-1'], 'the home holds our rule towards us-1');
    $_->{Priority} = 1 for @{ $cfg->{Rules} };
    open my $cf, '>', "$tmp/rules.json" or die;
    print $cf $JSON->encode($cfg);
    close $cf;
    is(system("$mc replicate import minio0/$conv < $tmp/rules.json >/dev/null 2>&1"), 0,
       'renumbered: fado-us-1 at priority 1');
    my $t_import = time;
    ok(wait_for(sub { $checked->('us-1') > $t_import + 1 }, 15),
       'the us-1 replica passes a check at least 1 s after the renumbering');
    my %r = $rules->();
    is($r{'fado-us-1'}, 1, 'converge is idempotent: the rule keeps the priority MinIO holds');
    is(states($conv), 'eu-1=ready,us-1=ready', 'and the replica stays ready');

    # asia-1 joins: the priority fado wishes for its rule is taken.
    my $b = bucket($conv);
    ($s, undef, $raw) = $c->api(PUT => "/v1/buckets/$conv", { home_cluster => 'eu-1',
        version => $b->{version}, placement => { replicas => 3 } });
    is($s, 200, 'the placement grows to all three clusters') or diag($raw);
    is(wait_for(sub { $replica->('asia-1'); states($conv) eq 'asia-1=ready,eu-1=ready,us-1=ready' }, 60),
       1, 'asia-1 joins and is ready');
    %r = $rules->();
    is($r{'fado-us-1'}, 1, "us-1's rule still at priority 1");
    my $asia_prio = $r{'fado-asia-1'} // 0;
    ok($asia_prio > 1, "asia-1's rule took a free priority ($asia_prio), not the one it wished for");

    # asia-1 goes down. Its replica is ready and nothing can replace it
    # (three replicas, three clusters): make before break keeps it and its
    # rule on the home; its cluster record takes it out of the routes.
    minio_stop();
    fn_stop('asia-1');
    ok(wait_for(sub { ($c->redis('HGET', "${P}clusters", 'asia-1') // '') =~ /^C2 \d+ \S+ down/ }, 15),
       "asia-1's cluster record says down");
    my $down = wait_for(sub { my $x = $replica->('asia-1'); ($x->{reason} // '') =~ /unreachable/ ? $x : undef }, 20);
    ok($down, "asia-1's replica check notes that its store does not answer")
        or diag($JSON->encode(bucket($conv)));
    is($down && $down->{state}, 'ready', 'and leaves its state: its data is not in doubt');
    is_deeply(bucket($conv)->{released_copies}, [], 'asia-1 stays in the placement: no released copy');
    %r = $rules->();
    is($r{'fado-asia-1'}, $asia_prio, "the home keeps asia-1's rule");

    # A bucket made during the outage gets no new replica on the down
    # cluster; its return is a change that places it again (the next full
    # reconcile is a minute away).
    ($s, undef, $raw) = $c->api(POST => '/v1/buckets', { name => $late, home_cluster => 'eu-1',
        placement => { replicas => 3 } });
    is($s, 201, "$late: made while asia-1 is down, three replicas asked") or diag($raw);
    is(wait_for(sub { states($late) eq 'eu-1=ready,us-1=ready' }, 30), 1,
       'eu-1 and us-1 ready, and no replica on asia-1 while it is down');

    my $t_back = minio_start();
    ok($t_back, "asia-1's MinIO is back");
    fn_start('asia-1');
    my $ready = wait_for(sub {
        my $x = $replica->('asia-1');
        return ($x->{state} // '') eq 'ready' && $x->{reason} eq '' && $checked->('asia-1') > $t_back
            ? time : undef;
    }, 30);
    ok($ready, "asia-1's replica passes a check after its return");
    my $took = $ready ? $ready - $t_back : 99;
    diag(sprintf 'asia-1 checked and ready %.2f s after its MinIO answered again', $took);
    cmp_ok($took, '<', 5, 'within 5 s of its return');
    ok(wait_for(sub { ($c->redis('HGET', "${P}clusters", 'asia-1') // '') =~ /^C2 \d+ \S+ up/ }, 5),
       "asia-1's cluster record says up again");
    my $late_ready = wait_for(sub {
        states($late) eq 'asia-1=ready,eu-1=ready,us-1=ready' ? time : undef }, 30);
    ok($late_ready, "$late gains its replica on asia-1 once it is back");
    my $late_took = $late_ready ? $late_ready - $t_back : 99;
    diag(sprintf '%s: asia-1 ready %.2f s after its MinIO answered again', $late, $late_took);
    cmp_ok($late_took, '<', 5, 'within 5 s of its return');
    # (Empty until then: a version for asia-1 would wait for the home
    # MinIO's 5 s heartbeat of its targets, see below.)
    is(obj(PUT => "/v1/buckets/$late/objects/o", "late\n")->{status}, 201, "an object in $late");
    ok(wait_for(sub {
        local @ENV{qw(FADO_T260_ENDPOINT FADO_T260_ACCESS_KEY FADO_T260_SECRET_KEY)} =
            @asia{qw(endpoint access_key secret_key)};
        `$build/fado-storage -s t260 get $late o - 2>/dev/null` eq "late\n";
    }, 30), 'reaches asia-1 too');
    is(states($conv), 'asia-1=ready,eu-1=ready,us-1=ready', 'all three ready');
    is_deeply(bucket($conv)->{released_copies}, [], 'no released copy of the bucket anywhere');
    is_deeply([grep { /priority|already used/ } keys %reasons], [],
              'no replica ever showed a priority clash');
    is(`grep -c 'already used by rule' @{[ $c->log_file ]}` + 0, 0, 'nor did the controller log one');
    # (Nothing was written during the outage: a version written then reaches
    # asia-1 only once the home MinIO's own check of its remote targets,
    # every 5 s, sees asia-1 online again; that is MinIO's pace, not ours.)
    is(obj(PUT => "/v1/buckets/$conv/objects/after", "written after the return\n")->{status}, 201,
       'an object written after the return');
    ok(wait_for(sub {
        local @ENV{qw(FADO_T260_ENDPOINT FADO_T260_ACCESS_KEY FADO_T260_SECRET_KEY)} =
            @asia{qw(endpoint access_key secret_key)};
        `$build/fado-storage -s t260 get $conv after - 2>/dev/null` eq "written after the return\n";
    }, 30), 'reaches asia-1: replication towards it works again');
    %r = $rules->();
    is($r{'fado-us-1'}, 1, "us-1's rule kept the priority it had (not rewritten)");
    is($r{'fado-asia-1'}, $asia_prio, "asia-1's too");
    my %seen;
    ok(!(grep { $seen{$_}++ } values %r), 'every rule has its own priority: '
       . join(', ', map { "$_=$r{$_}" } sort keys %r));
}

kill 'QUIT', $nginx;
waitpid $nginx, 0;
undef $nginx;
is($c->stop, 0, 'the controller exits 0 on SIGTERM');
fn_stop($_) for keys %fn_pid;
minio_stop();
system("$mc rb --force minio0/$_ minio1/$_ >/dev/null 2>&1") for $docs, $move, $conv, $late;
done_testing();
