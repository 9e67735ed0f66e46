package Fado::Async;

# The parts of an asynchronous-invocation setup for suites and benchmarks,
# all real processes on loopback:
#
#   my $gw = Fado::Async::gateway(port => $p, front => $fp, prefix => 't450:');
#   my $pid = Fado::Async::spawn("$dir/w1.log", "$ENV{FADO_BUILD}/fado-async", ...);
#   my $cb = Fado::Async::receiver($port, "$dir/callbacks");   # a callback sink
#   my @lines = Fado::Async::callbacks("$dir/callbacks");
#
# The gateway is nginx with ngx_http_fado_module as docs/async.md shows it:
# /function/ routed by X-Fado-Bucket, /async-function/ proxied to the
# fado-async front, traceparent passed on, bad trace context rejected.

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

# free_ports(N): N ports of the tests' range (B+80..B+99) that can be bound
# now. The range lies inside Linux's ephemeral ports, so a busy host may
# hold one of them for a while (an outgoing connection in TIME_WAIT).
sub free_ports {
    my ($n) = @_;
    my @free;
    for my $p (map { $ENV{FADO_BASE_PORT} + $_ } 80 .. 99) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
            Listen => 1, ReuseAddr => 1) or next;
        close $s;
        push @free, $p;
        last if @free == $n;
    }
    die "Fado::Async: fewer than $n free ports in B+80..B+99\n" if @free < $n;
    return @free;
}

# spawn(LOG, CMD...): runs CMD in a child with stdout and stderr in LOG.
sub spawn {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { exec @cmd }
        POSIX::_exit(127);
    }
    return $pid;
}

sub stop {
    my ($pid, $sig) = @_;
    return unless $pid;
    kill $sig // 'TERM', $pid;
    waitpid $pid, 0;
    return $? >> 8;
}

# Polls URL until it answers 200 (dies after $timeout s).
sub wait_http {
    my ($url, $timeout, %h) = @_;
    my $http = HTTP::Tiny->new(timeout => 2);
    my $deadline = time + ($timeout // 10);
    my $r;
    while (time < $deadline) {
        $r = $http->get($url, { headers => \%h });
        return 1 if $r->{status} == 200;
        sleep 0.05;
    }
    die "no 200 from $url in time: $r->{status} $r->{content}\n";
}

sub gateway {
    my (%a) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES}
                               // "$ENV{FADO_ROOT}/build/ngx_http_fado_module.so");
    my $max_body = $a{max_body} // '64k';
    mkdir "$dir/logs";
    open my $fh, '>', "$dir/nginx.conf" or die "nginx.conf: $!";
    print $fh <<"EOF";
load_module $module;
daemon off;
master_process on;
worker_processes 2;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 1024; }
http {
    log_format trace '\$request \$status bucket=\$fado_bucket cluster=\$fado_cluster '
                     'trace_id=\$fado_trace_id origin=\$fado_trace_origin';
    access_log $dir/logs/access.log trace;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fado_shm_zone fado_async_$a{port} 8m;
    fado_redis 127.0.0.1:$ENV{FADO_REDIS_PORT} password=$ENV{FADO_REDIS_PASSWORD} prefix=$a{prefix};
    upstream functions { fado policy=rr; keepalive 16; }
    upstream async_front { server 127.0.0.1:$a{front}; keepalive 16; }
    server {
        listen 127.0.0.1:$a{port};
        location /function/ {
            fado_bucket \$http_x_fado_bucket;
            fado_unknown_bucket 404;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header traceparent \$fado_traceparent;
            proxy_pass http://functions;
        }
        location /async-function/ {
            fado_trace_invalid reject;
            client_max_body_size $max_body;
            error_page 413 = \@async_too_large;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header traceparent \$fado_traceparent;
            proxy_pass http://async_front;
        }
        location \@async_too_large {
            default_type application/json;
            return 413 '{"error":{"code":"body_too_large","field":"body","message":"the request body is larger than $max_body (client_max_body_size)"}}\\n';
        }
    }
}
EOF
    close $fh;
    my $pid = spawn("$dir/logs/stderr.log", '/usr/sbin/nginx', '-p', "$dir/", '-c', "$dir/nginx.conf",
                    '-e', "$dir/logs/error.log");
    my $deadline = time + 10;
    until (IO::Socket::INET->new("127.0.0.1:$a{port}")) {
        die "nginx did not start: " . `cat $dir/logs/error.log` if time > $deadline;
        sleep 0.05;
    }
    return bless { pid => $pid, dir => $dir, port => $a{port} }, 'Fado::Async::Gateway';
}

# One HTTP/1.1 request off a socket: (method, path, \%headers, body).
sub _read_request {
    my ($c) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($c, $buf, 65536, length $buf);
        return unless $n;
    }
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($line, @h) = split /\r\n/, $head;
    my ($method, $path) = split ' ', $line;
    my %h = map { my ($k, $v) = split /:\s*/, $_, 2; (lc $k, $v) } @h;
    my $len = $h{'content-length'} // 0;
    while (length $body < $len) {
        my $n = sysread($c, $body, $len - length $body, length $body);
        return unless $n;
    }
    return ($method, $path, \%h, $body);
}

sub _answer {
    my ($c, $status, $body) = @_;
    $body //= '';
    return syswrite $c, "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
                      . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

# A callback sink on $port: every POST appends one tab-separated line to
# $file (path, call id, call state, function status, traceparent,
# truncated flag, body bytes, the traceparent the function echoed, the
# time it arrived). Path
# /cb-flaky answers 503 to the first callback of each call, 200 after.
sub receiver {
    my ($port, $file) = @_;
    return _server($port, sub {
        my ($path, $h, $body) = @_;
        my $id = $h->{'x-fado-call-id'} // '-';
        my ($echo) = ($body // '') =~ /"traceparent":"([0-9a-f-]+)"/;
        _append($file, join("\t", $path, $id, $h->{'x-fado-call-state'} // '-',
            $h->{'x-fado-function-status'} // '-', $h->{traceparent} // '-',
            $h->{'x-fado-result-truncated'} // '-', length($body // ''), $echo // '-',
            sprintf('%.6f', time)) . "\n");
        # the first callback of a call to /cb-flaky fails: a marker file
        # says it happened (connections are served by separate children)
        if ($path eq '/cb-flaky' && $id =~ /^[0-9a-f]{32}$/
            && sysopen(my $m, "$file.seen.$id", POSIX::O_CREAT() | POSIX::O_EXCL() | POSIX::O_WRONLY()))
        {
            close $m;
            return (503, '{"error":"try again"}');
        }
        return (200, '');
    });
}

# Appends a line with one write (O_APPEND): children never interleave.
sub _append {
    my ($file, $line) = @_;
    open my $out, '>>', $file or return;
    syswrite $out, $line;
    close $out;
}

# A keep-alive HTTP/1.1 server on $port, a child per connection, so that
# clients reuse connections (no storm of TIME_WAIT ports on a busy host).
# $handler->(path, \%headers, body) returns (status, body).
sub _server {
    my ($port, $handler) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
        Listen => 128, ReuseAddr => 1) or die "server on $port: $!";
    my $pid = fork // die;
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { kill 'KILL', -$$; POSIX::_exit(0) };
        POSIX::setpgid(0, 0);
        while (1) {
            my $c = $l->accept or next;
            if (fork == 0) {
                $SIG{TERM} = 'DEFAULT';
                while (my ($m, $path, $h, $body) = _read_request($c)) {
                    my ($status, $out) = $handler->($path, $h, $body);
                    _answer($c, $status, $out) or last;
                }
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $l;
    return $pid;
}

# The lines the receiver wrote, each split into its fields.
sub callbacks {
    my ($file) = @_;
    open my $fh, '<', $file or return ();
    return map { chomp; [split /\t/] } <$fh>;
}

# A function server that fails on purpose, logging "path attempt call-id"
# lines to $file: /function/flaky answers 503 until the third attempt,
# /function/broken always 500, anything else 200.
sub flaky {
    my ($port, $file) = @_;
    return _server($port, sub {
        my ($path, $h) = @_;
        my $attempt = $h->{'x-fado-attempt'} // 0;
        _append($file, join(' ', $path, $attempt, $h->{'x-fado-call-id'} // '-') . "\n");
        return (503, '{"error":"not yet"}') if $path =~ m{^/function/flaky} && $attempt < 3;
        return (500, '{"error":"broken"}') if $path =~ m{^/function/broken};
        return (200, '{"ok":true,"attempt":' . ($attempt + 0) . '}');
    });
}

package Fado::Async::Gateway;

sub dir { $_[0]{dir} }
sub url { "http://127.0.0.1:$_[0]{port}" }

sub DESTROY {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'QUIT', $self->{pid};
    waitpid $self->{pid}, 0;
}

1;
