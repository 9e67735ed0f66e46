# docker/: no Docker engine runs here, so the deployment files are checked
# statically: compose resolves the whole platform, refuses to start without
# its secrets, and every Dockerfile follows our rules (pinned bases, no
# remote ADD, non-root runtime user, a health check, COPY sources that exist).

use strict;
use warnings;
use File::Temp ();
use FindBin;
use Test::More;

my $root = "$FindBin::Bin/..";
my $compose = "$root/docker/compose.yaml";
my %secrets = (FADO_POSTGRES_PASSWORD => 'pw', FADO_MINIO_ACCESS_KEY => 'ak',
               FADO_MINIO_SECRET_KEY => 'secret-key', FADO_BOOTSTRAP_TOKEN => 'token-token-token');

sub compose_config {
    my (%env) = @_;
    local %ENV = %ENV;
    delete $ENV{$_} for keys %secrets;
    @ENV{keys %env} = values %env;
    my $out = `docker-compose -f '$compose' config 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = compose_config(%secrets);
is($rc, 0, 'docker-compose config accepts compose.yaml') or diag $out;
for my $svc (qw(postgres redis controller nginx minio-eu-1 minio-us-1 minio-asia-1
                fn-eu-1-a fn-eu-1-b fn-us-1-a fn-us-1-b fn-asia-1-a fn-asia-1-b)) {
    like($out, qr/^  \Q$svc\E:$/m, "the platform has service $svc");
}
like($out, qr/--storage-endpoint\s*\n?\s*- http:\/\/minio-us-1:9000/,
     'us-1 functions read from the us-1 MinIO');
my @published = $out =~ /^    - (\S+):\d+:\d+(?:\/tcp)?$/mg;
is(scalar(@published), 2, 'only the gateway and the controller API are published');
ok(@published && !grep({ $_ ne '127.0.0.1' } @published),
   "published ports bind loopback only (@published)");

($rc, $out) = compose_config(%secrets, FADO_MINIO_SECRET_KEY => undef);
delete $ENV{FADO_MINIO_SECRET_KEY};
isnt($rc, 0, 'compose refuses to run without a MinIO secret');
like($out, qr/FADO_MINIO_SECRET_KEY/, 'and names the missing variable');

for my $file (sort glob "$root/docker/*.Dockerfile") {
    my $name = $file =~ s{.*/}{}r;
    open my $fh, '<', $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    $text =~ s/\\\n/ /g;
    my @lines = grep { !/^\s*#/ } split /\n/, $text;

    my @from = map { /^FROM\s+(\S+)/ ? $1 : () } @lines;
    ok(@from, "$name has a FROM");
    my @loose = grep { !/:[^:]*\d/ || /:latest$/ } @from;
    is("@loose", '', "$name pins every base image to a versioned tag");
    ok(!grep({ /^ADD\s+\S*https?:/i } @lines), "$name adds no remote URL");

    my ($last_stage) = $text =~ /.*^FROM[^\n]*\n(.*)\z/ms;
    my @users = $last_stage =~ /^USER\s+(\S+)/mg;
    ok(@users && $users[-1] !~ /^(root|0)$/, "$name runs as a non-root user ($users[-1])")
        or diag "USER lines: @users";
    like($last_stage, qr/^HEALTHCHECK\s+.*CMD/m, "$name has a HEALTHCHECK");

    my @missing;
    for (@lines) {
        next unless /^COPY\s+(.*)/;
        my @args = grep { !/^--/ } split ' ', $1;
        next if /--from=/;
        pop @args;    # destination
        push @missing, grep { !-e "$root/$_" } @args;
    }
    is("@missing", '', "$name copies only files that exist in the repository");
}

# The gateway's nginx.conf passes nginx -t with the module this tree builds;
# only the module path, the Redis host (a compose service name) and the temp
# paths change.
{
    my $so = $ENV{TEST_NGINX_LOAD_MODULES} || "$root/build/ngx_http_fado_module.so";
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $in, '<', "$root/docker/nginx.conf" or die $!;
    my $conf = do { local $/; <$in> };
    like($conf, qr{^load_module /usr/lib/nginx/modules/ngx_http_fado_module\.so;}m,
         'nginx.conf loads the module from where nginx.Dockerfile installs it');
    $conf =~ s{/usr/lib/nginx/modules/ngx_http_fado_module\.so}{$so};
    $conf =~ s{redis:6379}{127.0.0.1:6379};
    $conf =~ s{/tmp/}{$dir/}g;
    open my $out, '>', "$dir/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    my $t = `nginx -t -p '$dir' -c '$dir/nginx.conf' 2>&1`;
    is($? >> 8, 0, 'nginx -t accepts docker/nginx.conf with the fado module') or diag $t;
}

done_testing();
