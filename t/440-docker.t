# docker/: no Docker engine runs here, so the deployment files are checked
# statically: compose resolves the whole platform, refuses to start without
# its secrets, and every Dockerfile follows our rules (pinned bases, no
# remote ADD, non-root runtime user, a health check, COPY sources that exist).

use strict;
use warnings;
use File::Temp ();
use FindBin;
use Test::More;
use YAML::XS ();

my $root = "$FindBin::Bin/..";
my $compose = "$root/docker/compose.yaml";
my %secrets = (FADO_POSTGRES_PASSWORD => 'pw', FADO_MINIO_ACCESS_KEY => 'ak',
               FADO_MINIO_SECRET_KEY => 'secret-key', FADO_REDIS_PASSWORD => 'redis-pw',
               FADO_BOOTSTRAP_TOKEN => 'token-token-token');

sub compose_run {
    my ($args, %env) = @_;
    local %ENV = %ENV;
    delete $ENV{$_} for keys %secrets;
    $ENV{$_} = $env{$_} for grep { defined $env{$_} } keys %env;
    my $out = `docker-compose -f '$compose' $args 2>&1`;
    return ($? >> 8, $out);
}

my $have_compose = !system('sh', '-c', 'command -v docker-compose >/dev/null');
SKIP: {
    skip 'docker-compose is not installed', 1 unless $have_compose;
    my ($rc, $out) = compose_run('config -q', %secrets);
    is($rc, 0, 'docker-compose config -q accepts compose.yaml') or diag $out;
}

my $cfg;
if ($have_compose) {
    my ($rc, $out) = compose_run('config', %secrets);
    $cfg = eval { YAML::XS::Load($out) } if $rc == 0;
    ok($cfg, 'docker-compose config resolves to YAML') or diag $out;
} else {
    $cfg = YAML::XS::LoadFile($compose);
}
my $svcs = $cfg->{services} || {};

for my $svc (qw(postgres redis controller nginx minio-eu-1 minio-us-1 minio-asia-1
                fn-eu-1-a fn-eu-1-b fn-us-1-a fn-us-1-b fn-asia-1-a fn-asia-1-b)) {
    ok($svcs->{$svc}, "the platform has service $svc");
}

# Each cluster's functions read their own cluster's MinIO.
for my $c (qw(eu-1 us-1 asia-1)) {
    for my $fn ("fn-$c-a", "fn-$c-b") {
        my $cmd = join ' ', @{ $svcs->{$fn}{command} || [] };
        like($cmd, qr/--cluster $c .*--storage-endpoint http:\/\/minio-$c:9000/,
             "$fn serves cluster $c from minio-$c");
    }
}

# Pinned images: minio/minio at a RELEASE tag, nothing on latest or untagged.
for my $name (sort keys %$svcs) {
    my $s = $svcs->{$name};
    if ($s->{build}) {
        my $df = $s->{build}{dockerfile} // 'Dockerfile';
        ok(-f "$root/$df", "$name builds from $df, which exists");
        next;
    }
    my $img = $s->{image} // '';
    ok($img =~ /:[^:\/]+$/ && $img !~ /:latest$/, "$name uses a pinned image ($img)");
    like($img, qr{^minio/minio:RELEASE\.}, "$name runs minio/minio at a RELEASE tag")
        if $name =~ /^minio-/;
}

# Every service the gateway and the controller depend on is defined.
for my $name (qw(nginx controller)) {
    my $dep = $svcs->{$name}{depends_on} || {};
    my @deps = ref $dep eq 'HASH' ? keys %$dep : @$dep;
    ok(@deps, "$name declares its dependencies");
    ok($svcs->{$_}, "$name depends on $_, which is defined") for sort @deps;
}

# Published ports only on loopback.
my @published;
for my $name (sort keys %$svcs) {
    for my $p (@{ $svcs->{$name}{ports} || [] }) {
        push @published, [$name, ref $p ? ($p->{host_ip} // '') . ":$p->{published}" : $p];
    }
}
is(scalar(@published), 2, 'only the gateway and the controller API are published');
for (@published) {
    like($_->[1], qr/^127\.0\.0\.1:/, "$_->[0] publishes $_->[1] on loopback only");
}

# Redis requires a password, and its clients send it.
{
    open my $fh, '<', $compose or die $!;
    my $raw = do { local $/; <$fh> };
    unlike($raw, qr/^\s*[\w-]*(PASSWORD|SECRET|TOKEN|ACCESS_KEY|ROOT_USER)\w*:\s+(?!\$\{)\S/m,
           'no secret has a literal value in compose.yaml');
    like(join(' ', @{ $svcs->{redis}{command} || [] }), qr/--requirepass \S/,
         'redis requires a password');
    like($svcs->{controller}{environment}{FADO_REDIS_URL} // '', qr{^redis://:[^@]+\@redis:},
         'the controller authenticates to redis');
    ok(defined $svcs->{nginx}{environment}{FADO_REDIS_PASSWORD},
       'the gateway gets the redis password from the environment');
}

SKIP: {
    skip 'docker-compose is not installed', 4 unless $have_compose;
    for my $missing (qw(FADO_MINIO_SECRET_KEY FADO_REDIS_PASSWORD)) {
        my ($rc, $out) = compose_run('config -q', %secrets, $missing => undef);
        isnt($rc, 0, "compose refuses to run without $missing");
        like($out, qr/$missing/, 'and names the missing variable');
    }
}

my @dockerfiles = sort glob "$root/docker/Dockerfile.*";
is(join(' ', map { s{.*/}{}r } @dockerfiles), 'Dockerfile.controller Dockerfile.fn Dockerfile.gateway',
   'the three images have their Dockerfiles');
for my $file (@dockerfiles) {
    my $name = $file =~ s{.*/}{}r;
    open my $fh, '<', $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    $text =~ s/\\\n/ /g;
    my @lines = grep { !/^\s*#/ } split /\n/, $text;

    my @from = map { /^FROM\s+(?:--\S+\s+)?(\S+)/ ? $1 : () } @lines;
    ok(@from >= 2, "$name is a multi-stage build");
    my @loose = grep { !/\@sha256:[0-9a-f]{64}$/ && (!/:[^:\/]*\d/ || /:latest$/) } @from;
    is("@loose", '', "$name pins every base image to a dated tag or digest");
    my @notbookworm = grep { !/^debian:bookworm-\d{8}(-slim)?(\@sha256:[0-9a-f]{64})?$/ } @from;
    is("@notbookworm", '', "$name builds from a dated debian:bookworm");
    ok(!grep({ /^ADD\s/i } @lines), "$name uses COPY, not ADD");

    my ($last_stage) = $text =~ /.*^FROM[^\n]*\n(.*)\z/ms;
    my @users = $last_stage =~ /^USER\s+(\S+)/mg;
    ok(@users && $users[-1] !~ /^(root|0)(:.*)?$/, "$name runs as a non-root user (@users)");
    like($last_stage, qr/^HEALTHCHECK\s+.*CMD/m, "$name has a HEALTHCHECK");
    unlike($last_stage, qr/build-essential|-dev\b/, "${name}'s runtime stage has no build tools");
    like($text, qr/^RUN\s.*\bmake\b/m, "$name builds with make");

    my @missing;
    for (@lines) {
        next unless /^COPY\s+(.*)/;
        next if /--from=/;
        my @args = grep { !/^--/ } split ' ', $1;
        pop @args;    # destination
        push @missing, grep { !-e "$root/$_" } @args;
    }
    is("@missing", '', "$name copies only files that exist in the repository");
}

# The gateway's nginx.conf passes nginx -t with the module this tree builds;
# only the module path and the Redis address and password
# placeholders (filled in by the entrypoint) and the temp paths change.
{
    my $so = $ENV{TEST_NGINX_LOAD_MODULES} || "$root/build/ngx_http_fado_module.so";
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    open my $in, '<', "$root/docker/nginx.conf" or die $!;
    my $conf = do { local $/; <$in> };
    like($conf, qr{^load_module /usr/lib/nginx/modules/ngx_http_fado_module\.so;}m,
         'nginx.conf loads the module from where Dockerfile.gateway installs it');
    like($conf, qr/^\s*fado_shm_zone\s/m, 'nginx.conf has a fado_shm_zone');
    like($conf, qr/^\s*fado_redis\s+\S+\s+password=\@FADO_REDIS_PASSWORD\@/m,
         'nginx.conf takes the redis password from the entrypoint, not a literal');
    like($conf, qr/location \/function\/ \{[^}]*fado_bucket \$http_x_fado_bucket;/,
         '/function/ routes by the X-Fado-Bucket header');
    like($conf, qr/fado_status;/, 'the status location is there');
    like($conf, qr/fado_metrics;/, 'the metrics location is there');
    # The image's temp paths go to the test's directory first, so that a
    # checkout under /tmp does not get its module path rewritten too.
    $conf =~ s{/tmp/}{$dir/}g;
    $conf =~ s{/usr/lib/nginx/modules/ngx_http_fado_module\.so}{$so};
    like($conf, qr/^\s*fado_redis \@FADO_REDIS_ADDR\@:/m,
         "fado_redis gets an IP literal that the entrypoint resolves");
    $conf =~ s{\@FADO_REDIS_ADDR\@}{127.0.0.1}g;
    $conf =~ s{\@FADO_REDIS_PASSWORD\@}{test-password}g;
    open my $out, '>', "$dir/nginx.conf" or die $!;
    print $out $conf;
    close $out;
    my $t = `nginx -t -p '$dir' -c '$dir/nginx.conf' 2>&1`;
    is($? >> 8, 0, 'nginx -t accepts docker/nginx.conf with the fado module') or diag $t;
}

done_testing();
