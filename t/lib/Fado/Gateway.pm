package Fado::Gateway;

# A real nginx with ngx_http_fado_module for a suite, reading a
# controller's routes from Redis, and a load generator that invokes
# functions through it and counts what failed.
#
#   my $gw = Fado::Gateway->new(port => $base + 87, prefix => $c->prefix);
#   my $name = $gw->invoke('photos');          # the function's answer
#   my $load = $gw->load(['photos', 'logs']);  # invocations in a child
#   my ($ok, $failed) = $load->stop;

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

sub new {
    my ($class, %args) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                               // "$ENV{FADO_ROOT}/build/ngx_http_fado_module.so");
    my $self = bless { port => $args{port}, dir => $dir }, $class;
    mkdir "$dir/logs";
    open my $fh, '>', "$dir/nginx.conf" or die "nginx.conf: $!";
    print $fh <<"EOF";
load_module $module;
daemon off;
master_process on;
worker_processes 2;
error_log $dir/logs/error.log notice;
pid $dir/logs/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fado_shm_zone fado_gw_$args{port} 16m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$args{prefix};
    upstream functions { fado policy=rr; }
    server {
        listen 127.0.0.1:$args{port};
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 1s;
            proxy_pass http://functions;
        }
    }
}
EOF
    close $fh;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        exec('/usr/sbin/nginx', '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', "$dir/logs/error.log")
            or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $deadline = time + 10;
    until (IO::Socket::INET->new("127.0.0.1:$args{port}")) {
        die "nginx did not start: " . `cat $dir/logs/error.log` if time > $deadline;
        sleep 0.05;
    }
    return $self;
}

sub error_log { "$_[0]{dir}/logs/error.log" }

# The function's answer (its name), or "status N".
sub invoke {
    my ($self, $bucket) = @_;
    my $r = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$self->{port}/function/wc",
        { headers => { 'X-Fado-Bucket' => $bucket } });
    return $r->{status} == 200 ? $r->{content} =~ s/\n//r : "status $r->{status}";
}

# Invokes the buckets in turn, in a child, until stopped (bounded: at most
# max_s seconds). stop returns (served, failed, \%failures by answer).
sub load {
    my ($self, $buckets, %opt) = @_;
    my $out = "$self->{dir}/load.$$." . int(rand 1e9);
    my $max_s = $opt{max_s} // 120;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($ok, $bad, %why) = (0, 0);
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        my $end = time + $max_s;
        my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
        for (my $i = 0; !$stop && time < $end; $i++) {
            my $b = $buckets->[$i % @$buckets];
            my $r = $http->get("http://127.0.0.1:$self->{port}/function/wc",
                               { headers => { 'X-Fado-Bucket' => $b } });
            if ($r->{status} == 200) { $ok++ } else { $bad++; $why{"$b:$r->{status}"}++ }
        }
        open my $fh, '>', $out or POSIX::_exit(1);
        print $fh join("\n", $ok, $bad, map { "$_=$why{$_}" } sort keys %why), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    return bless { pid => $pid, out => $out }, 'Fado::Gateway::Load';
}

sub DESTROY {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'QUIT', $self->{pid};
    waitpid $self->{pid}, 0;
}

package Fado::Gateway::Load;

sub stop {
    my ($self) = @_;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    open my $fh, '<', $self->{out} or return (0, -1, {});
    chomp(my @l = <$fh>);
    my ($ok, $bad, @why) = @l;
    return ($ok, $bad, { map { split /=/, $_, 2 } @why });
}

1;
