# The example function runtime against a real MinIO: each function reads
# the object the request names and computes on it; errors name the
# parameter; the answer says where the function ran.

use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempfile);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);

my $port = $ENV{FADO_BASE_PORT} + 90;
my $bucket = "fn-test-$$";
my $mc = "$ENV{MC_BIN} --config-dir $ENV{MC_CONFIG_DIR}";

# Some text, and 3 MiB of bytes to exercise the streaming.
my $text = "the quick brown fox\njumps over\n\nthe lazy dog\n";
my $big = join '', map { chr(($_ * 7 + 3) % 251) } 1 .. 3 * 1024 * 1024;
system("$mc mb -q minio0/$bucket >/dev/null") == 0 or die "mc mb failed";
for ([text => $text], [big => $big]) {
    my ($fh, $path) = tempfile(UNLINK => 1);
    binmode $fh;
    print $fh $_->[1];
    close $fh;
    system("$mc cp -q $path minio0/$bucket/$_->[0] >/dev/null") == 0 or die "mc cp failed";
}

my $pid = fork // die;
if ($pid == 0) {
    $ENV{FADO_FN_ACCESS_KEY} = $ENV{FADO_MINIO0_ACCESS_KEY};
    $ENV{FADO_FN_SECRET_KEY} = $ENV{FADO_MINIO0_SECRET_KEY};
    open STDERR, '>', '/dev/null';
    { exec "$ENV{FADO_BUILD}/fado-fn", '--cluster', 'eu-1', '--zone', 'eu',
           '--listen', "127.0.0.1:$port", '--storage-endpoint', $ENV{FADO_MINIO0_ENDPOINT} }
    POSIX::_exit(127);
}
my $http = HTTP::Tiny->new(timeout => 10);
for (1 .. 100) { last if $http->get("http://127.0.0.1:$port/healthz")->{status} == 200; sleep 0.05 }

sub call {
    my ($path, %h) = @_;
    my $r = $http->get("http://127.0.0.1:$port$path", { headers => \%h });
    return ($r->{status}, eval { decode_json($r->{content}) }, $r->{headers});
}

my ($s, $j, $h) = call("/function/checksum?key=text", 'X-Fado-Bucket' => $bucket);
is($s, 200, 'checksum answers');
is($j->{result}{sha256}, sha256_hex($text), 'checksum is the SHA-256 of the object');
is($j->{cluster}, 'eu-1', 'the answer names the cluster it ran in');
is($h->{'x-fado-cluster'}, 'eu-1', 'and so does the X-Fado-Cluster header');
ok(defined $j->{fetch_ms} && $j->{fetch_ms} >= 0, 'fetch time is reported');

($s, $j) = call("/function/checksum?bucket=$bucket&key=big");
is($j->{result}{sha256}, sha256_hex($big), 'a 3 MiB object streamed through the checksum (bucket from the query)');

($s, $j) = call("/function/wordcount?key=text", 'X-Fado-Bucket' => $bucket);
is_deeply($j->{result}, { lines => 4, words => 9, bytes => length $text }, 'wordcount counts lines, words, bytes');

($s, $j) = call("/function/bytes?key=big", 'X-Fado-Bucket' => $bucket);
is($j->{result}{size}, length $big, 'bytes reports the size');
is($j->{result}{distinct_values}, 251, 'and the number of distinct byte values');

($s, $j) = call("/function/checksum?key=missing", 'X-Fado-Bucket' => $bucket);
is($s, 404, 'a missing object: 404');
is($j->{error}{field}, 'key', 'naming the key');
($s, $j) = call("/function/checksum?key=text");
is($s, 400, 'no bucket: 400');
is($j->{error}{field}, 'bucket', 'naming the bucket parameter');
($s, $j) = call("/function/checksum", 'X-Fado-Bucket' => $bucket);
is($j->{error}{field}, 'key', 'no key: the error names key');
($s, $j) = call("/function/resize?key=text", 'X-Fado-Bucket' => $bucket);
is($s, 404, 'an unknown function: 404');

kill 'TERM', $pid;
waitpid $pid, 0;
is($? >> 8, 0, 'the function server exits 0 on SIGTERM');
system("$mc rb --force minio0/$bucket >/dev/null 2>&1");
done_testing();
