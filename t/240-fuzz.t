# Short libFuzzer runs of every fuzz target (mk/fuzz.mk), from the seeds in
# fuzz/corpus/, so that the targets keep building and the parsers keep
# surviving what they found so far. `make fuzz` runs them longer.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $secs = $ENV{FADO_FUZZ_SECONDS} // 3;
my $root = $ENV{FADO_ROOT} // '.';
my $dir = "$ENV{FADO_BUILD}/fuzz";
my $work = tempdir(CLEANUP => 1, DIR => $ENV{FADO_RUN_DIR} // '/tmp');

for my $t (qw(route_record events s3_xml replcfg)) {
    my $bin = "$dir/fuzz_$t";
    ok(-x $bin, "fuzz_$t is built") or do {
        diag("$bin is missing: `make unit-tests` builds it (clang from scripts/deps.sh)");
        next;
    };
    mkdir "$work/$t";
    my $out = `$bin -max_total_time=$secs -artifact_prefix=$work/crash-$t- $work/$t $root/fuzz/corpus/$t 2>&1`;
    my $status = $?;
    my ($runs) = $out =~ /Done (\d+) runs/;
    is($status, 0, sprintf 'fuzz_%s: %s runs in %d s, no crash', $t, $runs // '?', $secs)
        or diag(join "\n", grep { /ERROR|SUMMARY|#0 |#1 |#2 |Test unit/ } split /\n/, $out);
    cmp_ok($runs // 0, '>', 100, "fuzz_$t really ran");
}
done_testing();
