# fado-storage against a real MinIO (minio0 of the harness): buckets are
# created or adopted, objects go up and down with odd keys intact, errors
# name what was wrong, and secret keys never reach the output.
#
# Needs FADO_MINIO0_{ENDPOINT,ACCESS_KEY,SECRET_KEY}, MC_BIN and
# MC_CONFIG_DIR (alias minio0) as scripts/run-tests or `fado-local env` set.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

for my $v (qw(FADO_MINIO0_ENDPOINT FADO_MINIO0_ACCESS_KEY FADO_MINIO0_SECRET_KEY
              MC_BIN MC_CONFIG_DIR)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests or source env.sh")
        unless $ENV{$v};
}
my $build = $ENV{FADO_BUILD} || 'build';
my $cli = "$build/fado-storage";
my $mc = $ENV{MC_BIN};
BAIL_OUT("$cli is not built") unless -x $cli;

my $tmp = tempdir(CLEANUP => 1);
my $bucket = sprintf 't300-%d-%d', $$, time;

# run(ARGS...) -> (exit code, stdout, stderr); no shell, no secrets in argv
sub run {
    my @cmd = @_;
    my $out = "$tmp/out"; my $err = "$tmp/err";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', $out or die; open STDERR, '>', $err or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    waitpid $pid, 0;
    my $rc = $? >> 8;
    local $/;
    open my $o, '<', $out or die; my $so = <$o>;
    open my $e, '<', $err or die; my $se = <$e>;
    return ($rc, $so, $se);
}
sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; <$f> }
sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f }

my ($rc, $out, $err);

# --- buckets
($rc, $out) = run($cli, 'mb', $bucket);
is($rc, 0, 'mb creates a new bucket');
is($out, "$bucket created\n", 'and says it created it');
($rc, $out) = run($cli, 'mb', $bucket);
is($out, "$bucket adopted\n", 'mb on our existing bucket adopts it');
($rc, $out) = run($mc, 'version', 'info', "minio0/$bucket");
like($out, qr/versioning is enabled/i, 'mc sees versioning enabled');

($rc, $out) = run($cli, 'buckets');
like($out, qr/^\Q$bucket\E\t\d{4}-\d\d-\d\dT/m, 'buckets lists it with its creation date');

($rc, $out, $err) = run($cli, 'mb', 'Bad_Bucket');
isnt($rc, 0, 'an invalid bucket name fails');
like($err, qr/bucket "Bad_Bucket": invalid name/, 'and the error names the bucket');

# --- objects with keys that need encoding
my $key = "dir/sub dir/caf\x{c3}\x{a9} +&=?#%.txt";
spew("$tmp/small", "hello fado\n");
($rc, $out, $err) = run($cli, 'put', $bucket, $key, "$tmp/small");
is($rc, 0, 'put of a key with spaces, UTF-8 and reserved characters') or diag $err;
like($out, qr/^etag=[0-9a-f]{32} version=\S+$/m, 'put reports etag and version');
($rc, $out) = run($mc, 'cat', "minio0/$bucket/$key");
is($out, "hello fado\n", 'mc reads back the same bytes under the same key');

($rc, $out) = run($cli, 'head', $bucket, $key);
like($out, qr/^size=11 etag=[0-9a-f]{32} /, 'head reports size and etag');
($rc, $out) = run($cli, 'get', $bucket, $key, '-');
is($out, "hello fado\n", 'get streams the object to stdout');
($rc, $out) = run($cli, 'ls', $bucket, 'dir/');
like($out, qr/\A\Q$key\E\t11\t[0-9a-f]{32}\n\z/,
     'ls with a prefix lists the key with its size and etag');

# --- pagination: more keys than one page (1000) would hold needs too long;
# MinIO pages at 1000, so 1005 small objects, uploaded through mc in one go
my $dir = "$tmp/many"; mkdir $dir;
spew("$dir/k$_", "x") for 1 .. 1005;
($rc) = run($mc, 'cp', '--quiet', '-r', "$dir/", "minio0/$bucket/many/");
is($rc, 0, 'mc uploads 1005 objects');
($rc, $out) = run($cli, 'ls', $bucket, 'many/');
my @lines = split /\n/, $out;
is(scalar @lines, 1005, 'ls follows continuation tokens past the first page');
($rc, $out) = run($cli, 'lsv', $bucket, 'many/');
@lines = split /\n/, $out;
is(scalar @lines, 1005, 'lsv follows key and version markers past the first page');

# --- delete: a delete marker, the old version stays
($rc) = run($cli, 'rm', $bucket, $key);
is($rc, 0, 'rm of the latest version');
($rc, $out) = run($cli, 'lsv', $bucket, 'dir/');
like($out, qr/\tlatest\tdelete-marker\n/, 'leaves a delete marker as latest');
like($out, qr/\t11\t-\t-\n/, 'and keeps the data as an older version');

($rc, $out, $err) = run($cli, 'head', $bucket, 'no/such/key');
isnt($rc, 0, 'head of a missing object fails');
like($err, qr{HEAD /$bucket/no/such/key: no such object}, 'naming bucket and key');
($rc, $out, $err) = run($cli, 'get', "nb-$bucket", 'k', "$tmp/x");
like($err, qr/NoSuchBucket/, 'get from a missing bucket reports MinIO\'s error code');
{
    local $ENV{FADO_STORAGE_API_STATUS} = 1;
    ($rc, $out, $err) = run($cli, 'get', $bucket, 'no/such/key', "$tmp/x");
    like($err, qr/^api_status=404$/m, 'a missing key maps to API status 404');
    ($rc, $out, $err) = run($cli, 'ls', 'Bad_Bucket');
    like($err, qr/invalid name/, 'an invalid name is refused before MinIO is asked');
}

# --- secrets: a wrong secret gets a clear error that does not echo it
{
    local $ENV{FADO_BAD_ENDPOINT} = $ENV{FADO_MINIO0_ENDPOINT};
    local $ENV{FADO_BAD_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
    local $ENV{FADO_BAD_SECRET_KEY} = 'wrong-secret-Zq9xPv';
    ($rc, $out, $err) = run($cli, '-s', 'bad', 'ls', $bucket);
    isnt($rc, 0, 'a wrong secret key is refused by MinIO');
    like($err, qr/SignatureDoesNotMatch/, 'with MinIO\'s error code');
    unlike("$out$err", qr/wrong-secret-Zq9xPv/, 'and the secret key is not printed');
}
($rc, $out, $err) = run($cli, '-s', 'nosuchsite', 'ls', $bucket);
like($err, qr/FADO_NOSUCHSITE_ENDPOINT is not set/, 'a missing site names the variable');

# --- admin API: deployment id matches what mc reports
($rc, $out) = run($cli, 'info');
my ($id) = $out =~ /^deployment_id=(\S+)$/m;
ok($id, 'info reports a deployment id');
($rc, $out) = run($mc, 'admin', 'info', '--json', 'minio0');
like($out, qr/"deploymentID":"\Q$id\E"/, 'the one mc admin info reports');

# --- notifications: a webhook ARN MinIO does not know is refused clearly
($rc, $out, $err) = run($cli, 'notify', $bucket, 'arn:minio:sqs::nosuchtarget:webhook');
isnt($rc, 0, 'notify towards an unconfigured webhook target fails');
like($err, qr/has no notification target arn:minio:sqs::nosuchtarget:webhook/,
     'naming the target and pointing at the configuration');
($rc, $out) = run($mc, 'event', 'ls', "minio0/$bucket");
unlike($out, qr/nosuchtarget/, 'and the bucket\'s notifications are unchanged');

run($mc, 'rb', '--force', "minio0/$bucket");
done_testing();
