# A 256 MiB object streamed up and down through fado-storage with its peak
# memory measured from outside (GNU time's maximum RSS) and bounded: the
# client never holds the object, only a part (pipe input) or nothing (file).

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

for my $v (qw(FADO_MINIO0_ENDPOINT FADO_MINIO0_ACCESS_KEY FADO_MINIO0_SECRET_KEY
              MC_BIN MC_CONFIG_DIR)) {
    BAIL_OUT("$v is not set: run through scripts/run-tests") unless $ENV{$v};
}
my $cli = ($ENV{FADO_BUILD} || 'build') . '/fado-storage';
BAIL_OUT("$cli is not built") unless -x $cli;
BAIL_OUT('/usr/bin/time (GNU time) is needed to measure RSS') unless -x '/usr/bin/time';
my $mc = $ENV{MC_BIN};
my $tmp = tempdir(CLEANUP => 1);
my $size = 256 * 1024 * 1024;
my $limit_kib = 64 * 1024;

sub sh {    # run a shell pipeline (no secrets in it); stdout, dies on failure
    my ($cmd) = @_;
    my $out = `$cmd`;
    die "failed ($?): $cmd" if $?;
    return $out;
}
sub sha { (split ' ', sh("sha256sum '$_[0]'"))[0] }
# run CMD under GNU time; returns (exit code, max RSS KiB, stderr)
sub measured {
    my ($cmd) = @_;
    my $rc = system("/usr/bin/time -f 'maxrss_kib=%M' -o '$tmp/time' $cmd 2>'$tmp/err'") >> 8;
    my ($rss) = sh("cat '$tmp/time'") =~ /maxrss_kib=(\d+)/;
    return ($rc, $rss, sh("cat '$tmp/err'"));
}

my $b = sprintf 't330-%d-%d', $$, time;
sh("$cli mb $b");
sh("head -c $size /dev/urandom > '$tmp/src'");
my $src_sha = sha("$tmp/src");

my ($rc, $rss, $err) = measured("$cli --stats put $b big '$tmp/src' >'$tmp/put.out'");
is($rc, 0, 'a 256 MiB file uploads') or diag $err;
cmp_ok($rss, '<', $limit_kib, "with peak RSS under 64 MiB ($rss KiB)");
note($err =~ /(stats: .*)/ ? $1 : $err);
like(sh("cat '$tmp/put.out'"), qr/^etag=[0-9a-f]{32}-\d+ /, 'as a multipart upload');
like(sh("$mc stat --json minio0/$b/big"), qr/"size":$size\b/, 'mc sees all 268435456 bytes');

($rc, $rss, $err) = measured("$cli --stats get $b big '$tmp/dst'");
is($rc, 0, 'it downloads') or diag $err;
cmp_ok($rss, '<', $limit_kib, "with peak RSS under 64 MiB ($rss KiB)");
note($err =~ /(stats: .*)/ ? $1 : $err);
is(sha("$tmp/dst"), $src_sha, 'and the bytes are the same');
unlink "$tmp/dst";

# a pipe has no length: parts are buffered one at a time
($rc, $rss, $err) = measured("sh -c \"cat '$tmp/src' | $cli --stats --part-size 8 put $b piped - >/dev/null\"");
is($rc, 0, 'a 256 MiB stream of unknown length uploads') or diag $err;
cmp_ok($rss, '<', $limit_kib, "with peak RSS under 64 MiB ($rss KiB)");
note($err =~ /(stats: .*)/ ? $1 : $err);
is((split ' ', sh("$mc cat minio0/$b/piped | sha256sum"))[0], $src_sha,
   'mc reads back the same bytes');

# the push/pull bridge (fst_stream.h) a push-style server uses
($rc, $rss, $err) = measured("$cli --push put $b pushed '$tmp/src' >/dev/null");
is($rc, 0, 'a 256 MiB object pushed through the stream bridge uploads') or diag $err;
cmp_ok($rss, '<', $limit_kib, "with peak RSS under 64 MiB ($rss KiB)");
($rc, $rss, $err) = measured("$cli --push get $b pushed '$tmp/dst'");
is($rc, 0, 'and pulls back through it') or diag $err;
cmp_ok($rss, '<', $limit_kib, "with peak RSS under 64 MiB ($rss KiB)");
is(sha("$tmp/dst"), $src_sha, 'the same bytes');
unlink "$tmp/dst";

# an upload whose source fails half way leaves nothing behind
($rc, undef, $err) = measured("$cli --push put $b aborted '$tmp'");
isnt($rc, 0, 'a push upload whose input fails is aborted');
like($err, qr/reading the input failed/, 'saying why');
is(sh("$mc ls --incomplete minio0/$b"), '', 'no incomplete multipart upload is left');
($rc) = measured("$mc stat minio0/$b/aborted");
isnt($rc, 0, 'and no object');

sh("$mc rb --force minio0/$b >/dev/null");
done_testing();
