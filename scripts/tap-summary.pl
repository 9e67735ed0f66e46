#!/usr/bin/env perl
# Run TAP producers (Perl suites and C unit test binaries) one after the
# other and end with one line: "<N> passed, <M> failed".
#
# An argument NAME=VALUE sets an environment variable for the files after
# it (run-tests uses FADO_BUILD=... to run the sanitizer build's tests in
# the same summary).
#
# N counts passing assertions; M counts failing assertions plus every file
# that died, exited non-zero, or broke its plan, so a crash never hides
# behind a count of zero failures.
use strict;
use warnings;
use TAP::Harness;

@ARGV or die "usage: $0 [NAME=VALUE] FILE...\n";

# Group the files by the environment they run in.
my @groups = ([{}, []]);
for my $arg (@ARGV) {
    if ($arg =~ /^([A-Z_][A-Z0-9_]*)=(.*)\z/s) {
        push @groups, [{ %{ $groups[-1][0] }, $1 => $2 }, []];
    } else {
        push @{ $groups[-1][1] }, $arg;
    }
}

my $harness = TAP::Harness->new({
    verbosity => 0,
    timer     => 1,
    color     => 0,
    merge     => 0,
    # Compiled tests run directly; everything else is a Perl suite.
    exec => sub {
        my (undef, $file) = @_;
        return ($file !~ /\.t\z/ && -x $file) ? [$file] : undef;
    },
});

my ($passed, $failed) = (0, 0);
for my $group (@groups) {
    my ($env, $files) = @$group;
    next unless @$files;
    local @ENV{keys %$env} = values %$env;
    print "# with ", join(' ', map { "$_=$env->{$_}" } sort keys %$env), "\n"
        if %$env;
    count($harness->runtests(@$files));
}

print "$passed passed, $failed failed\n";
exit($failed ? 1 : 0);

sub count {
    my ($agg) = @_;
    for my $file ($agg->descriptions) {
        my ($parser) = $agg->parsers($file);
        $passed += scalar $parser->passed;
        $failed += scalar $parser->failed;
        # A file that died, exited non-zero, ran a different number of
        # tests than planned, or ran none (a skipped file proves nothing)
        # is one more failure, even if each assertion passed.
        my $broken = $parser->has_problems && !$parser->failed
            || $parser->exit != 0 && !$parser->failed
            || $parser->tests_run == 0;
        $failed++ if $broken;
    }
}
