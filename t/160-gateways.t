# Several gateways on one Redis (issue #13, item 7): three nginx, two
# workers each, see a change within the same bound as one gateway does, and
# a gateway restarted under load catches up while the others serve on.
#
# Plain Perl TAP (Test::More): it runs several nginx processes at once,
# which the Test::Nginx block format does not describe.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use File::Path qw(make_path remove_tree);
use Fado::Routes;

for my $v (qw(TEST_NGINX_REDIS_PORT TEST_NGINX_LOAD_MODULES)) {
    die "t/160: $v is not set (run it through scripts/run-tests)\n" unless $ENV{$v};
}

my $Nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $Root = ($ENV{TEST_NGINX_SERVROOT} // 't/servroot') . '-t160';
my @Backend = (Fado::Routes::backend_port(0), Fado::Routes::backend_port(1));
my @Gateway = map { Fado::Routes::backend_port($_) } 9, 10, 11;
my $Bound = 1.0;    # seconds from the write to the change being served

my $r = Fado::Routes->new(prefix => 't160:');

remove_tree($Root);

sub conf {
    my ($dir, $body) = @_;
    make_path("$dir/logs", "$dir/conf");
    my $user = $> == 0 ? "user root;\n" : '';
    open my $fh, '>', "$dir/conf/nginx.conf" or die "$dir: $!";
    print $fh "load_module $ENV{TEST_NGINX_LOAD_MODULES};\n${user}"
            . "worker_processes 2;\nerror_log $dir/logs/error.log notice;\n"
            . "pid $dir/logs/nginx.pid;\nevents { worker_connections 256; }\n"
            . "http {\n    access_log off;\n"
            . "    client_body_temp_path $dir/tmp;\n    proxy_temp_path $dir/tmp;\n"
            . "$body}\n";
    close $fh;
}

sub start {
    my ($dir, $port) = @_;
    system("$Nginx -e $dir/logs/error.log -p $dir/ -c $dir/conf/nginx.conf") == 0
        or die "t/160: nginx in $dir does not start\n";
    my $deadline = time + 10;
    until (IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                 Timeout => 0.2))
    {
        die "t/160: nothing listens on $port\n" if time > $deadline;
        sleep 0.02;
    }
}

sub stop {
    my ($dir) = @_;
    open my $fh, '<', "$dir/logs/nginx.pid" or return;
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    kill 'TERM', $pid;
    my $deadline = time + 10;
    sleep 0.02 while kill(0, $pid) && time < $deadline;
    kill 'KILL', $pid if kill 0, $pid;
}

my @Dirs;

END { stop($_) for @Dirs }

# the backends: b0 and b1
push @Dirs, "$Root/backends";
conf("$Root/backends", join '', map {
    "    server { listen 127.0.0.1:$Backend[$_]; return 200 \"b$_\\n\"; }\n"
} 0, 1);
start("$Root/backends", $Backend[1]);

my $redis = "127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT}"
          . ($ENV{TEST_NGINX_REDIS_PASSWORD}
             ? " password=$ENV{TEST_NGINX_REDIS_PASSWORD}" : '');

for my $i (0 .. 2) {
    my $dir = "$Root/gw$i";
    push @Dirs, $dir;
    conf($dir, <<"_EOC_");
    fado_shm_zone fado_t160_$i 1m;
    fado_redis $redis prefix=t160:;
    upstream fn { fado; }
    server {
        listen 127.0.0.1:$Gateway[$i];
        location /u/ { fado_bucket \$arg_b; proxy_pass http://fn; }
        location = /fado-status { fado_status; }
    }
_EOC_
    start($dir, $Gateway[$i]);
}

sub get {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 2) or return (0, '');
    print $s "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($st) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($st // 0, $body // '');
}

sub ep { "127.0.0.1:$Backend[$_[0]],c$_[0],z$_[0],1,0" }

# Publishes photos -> backend $b and returns how long each gateway in @ports
# took to serve it (both workers: several requests in a row must agree).
sub change {
    my ($b, @ports) = @_;
    my $t0 = time;
    $r->set('photos', '- ' . ep($b));
    my %took;
    my $deadline = $t0 + 10;
    while (keys %took < @ports && time < $deadline) {
        for my $p (@ports) {
            next if $took{$p};
            my $seen = 1;
            for (1 .. 4) {
                my (undef, $body) = get($p, '/u/?b=photos');
                $seen = 0, last unless $body eq "b$b\n";
            }
            $took{$p} = time - $t0 if $seen;
        }
    }
    return map { $took{$_} // 99 } @ports;
}

change(0, @Gateway);

# one gateway alone, as the bound to compare with
my @one = map { (change($_ % 2 ? 0 : 1, $Gateway[0]))[0] } 1 .. 10;
my @all;
for my $n (1 .. 10) {
    my @t = change($n % 2 ? 1 : 0, @Gateway);
    push @all, (sort { $b <=> $a } @t)[0];
}
my ($one_max) = sort { $b <=> $a } @one;
my ($all_max) = sort { $b <=> $a } @all;
diag(sprintf "one gateway: max %.1f ms; slowest of three: max %.1f ms",
             $one_max * 1000, $all_max * 1000);
cmp_ok($one_max, '<', $Bound, "one gateway serves each change within ${Bound}s");
cmp_ok($all_max, '<', $Bound, "all three gateways serve each change within the same ${Bound}s");

# all three count one table version
my @versions = map { (get($_, '/fado-status'))[1] =~ /"table_version":(\d+)/ ? $1 : -1 } @Gateway;
is_deeply([@versions[1, 2]], [$versions[0], $versions[0]], "the three gateways are at one version ($versions[0])");

# restart gateway 2 under load on all three; change routes while it is down
{
    local $ENV{TEST_NGINX_SERVER_PORT};
    my @load;
    for my $p (@Gateway[0, 1]) {
        $ENV{TEST_NGINX_SERVER_PORT} = $p;
        push @load, Fado::Routes::load('/u/?b=photos', 3);
    }
    sleep 0.3;
    stop("$Root/gw2");
    my $v = 0 + $r->set('photos', '- ' . ep(0));
    $r->set('videos', '- ' . ep(1));
    start("$Root/gw2", $Gateway[2]);
    my $t0 = time;
    my $caught;
    while (time < $t0 + 10) {
        my (undef, $b1) = get($Gateway[2], '/u/?b=photos');
        my (undef, $b2) = get($Gateway[2], '/u/?b=videos');
        if ($b1 eq "b0\n" && $b2 eq "b1\n") { $caught = time - $t0; last }
        sleep 0.01;
    }
    ok(defined $caught, sprintf "the restarted gateway catches up (in %.1f ms)",
                                ($caught // 0) * 1000);
    cmp_ok($caught // 99, '<', $Bound, "within ${Bound}s of its start");
    my ($n, $failed) = (0, 0);
    for my $done (@load) {
        my ($dn, $df) = $done->();
        $n += $dn;
        $failed += $df;
    }
    ok($n > 20, "the load ran ($n requests on the two other gateways)");
    is($failed, 0, "no request failed on the other gateways while one restarted");
}

stop($_) for @Dirs;
@Dirs = ();
remove_tree($Root);

done_testing();
