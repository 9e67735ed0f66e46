package Test::Nginx::Socket;

# fado's own Test::Nginx::Socket, for machines without openresty's
# (Debian does not package it and CPAN may be unreachable).
#
# It reads the same block format and keeps the semantics our suites rely on,
# so a suite passes unchanged under either: scripts/run-tests appends
# t/harness to @INC (Fado::HarnessFallback), and an installed Test::Nginx
# comes first.
#
# Per block: a fresh server root, nginx.conf written from main_config,
# http_config and config (with $TEST_NGINX_* variables expanded), nginx
# started with -e pointing at logs/error.log, `init` run, the requests sent,
# status/headers/body checked, then error_log / no_error_log checked against
# what nginx logged during the block. nginx is stopped after every block and
# at exit, so no process is left behind.
#
# Supported: config, http_config, main_config, request, pipelined_requests,
# more_headers, response_body, response_body_like, error_code,
# response_headers, response_headers_like, error_log, no_error_log, wait,
# timeout, shutdown_error_log, no_shutdown_error_log, init, must_die; and the
# functions in @EXPORT below.

use strict;
use warnings;

use Test::Base ();
use Test::More ();
use IO::Socket::INET;
use IO::Select;
use File::Path qw(make_path remove_tree);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Scalar::Util qw(looks_like_number);

our @ISA = ('Test::Base');
our @EXPORT = (qw(
    run_tests repeat_each no_shuffle master_on master_off workers
    worker_connections log_level no_long_string no_root_location
    add_block_preprocessor env_to_nginx server_name server_port
    server_root html_dir bail_out check_accum_error_log
));

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $ServerPort  = $ENV{TEST_NGINX_PORT} || 1984;
our $ServRoot    = $ENV{TEST_NGINX_SERVROOT} || do {
    require Cwd;
    Cwd::cwd() . '/t/servroot';
};
our $LoadModules = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $Timeout     = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Workers     = 1;
our $WorkerConnections = 64;
our $MasterOn    = 0;
our $LogLevel    = 'debug';
our $RepeatEach  = 1;
our $ServerName  = 'localhost';
our @EnvToNginx;
our @BlockPreprocessors;

my $ConfDir = "$ServRoot/conf";
my $LogFile = "$ServRoot/logs/error.log";
my $PidFile = "$ServRoot/logs/nginx.pid";

sub import {
    # Test::Base's import does the Test::More plan and the Spiffy exports.
    goto &Test::Base::import;
}

sub repeat_each (@)        { $RepeatEach = shift if @_; return $RepeatEach }
sub no_shuffle ()          { }
sub master_on ()           { $MasterOn = 1 }
sub master_off ()          { $MasterOn = 0 }
sub workers ($)            { $Workers = shift }
sub worker_connections ($){ $WorkerConnections = shift }
sub log_level ($)          { $LogLevel = shift }
sub no_long_string ()      { }
sub no_root_location ()    { }
sub server_name ($)        { $ServerName = shift }
sub server_port ()         { $ServerPort }
sub server_root ()         { $ServRoot }
sub html_dir ()            { "$ServRoot/html" }
sub env_to_nginx (@)       { push @EnvToNginx, @_ }
sub add_block_preprocessor(&) { push @BlockPreprocessors, shift }
# openresty's checks error_log after every response against what was logged
# since its previous check, unless this is called; ours always checks
# everything the block's nginx logged, which is what it asks for.
sub check_accum_error_log () { }

sub bail_out (@) {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}

# ------------------------------------------------------------ sections

# The values of a section as a list (eval sections may yield array refs).
sub section_list {
    my ($block, $name) = @_;
    my $v = $block->{$name};
    return () unless $v;
    return map { ref $_ eq 'ARRAY' ? @$_ : $_ } @$v;
}

sub section {
    my ($block, $name) = @_;
    my $v = $block->{$name};
    return $v ? $v->[0] : undef;
}

sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : bail_out("$name - environment variable $1 is not set")
    }ge;
    return $text;
}

# ------------------------------------------------------------ nginx

sub write_config {
    my ($block) = @_;
    my $name = $block->name;

    remove_tree($ServRoot);
    make_path($ConfDir, "$ServRoot/logs", "$ServRoot/html");

    my $main = expand_env(section($block, 'main_config') // '', $name);
    my $http = expand_env(section($block, 'http_config') // '', $name);
    my $conf = expand_env(section($block, 'config') // '', $name);

    my $modules = join '', map { "load_module $_;\n" } split ' ', $LoadModules;
    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    my $master = $MasterOn ? 'on' : 'off';
    # As root, workers would run as nobody, who may not reach a server root
    # under a private directory.
    my $user = $> == 0 ? "user root;\n" : '';

    open my $fh, '>', "$ConfDir/nginx.conf"
        or bail_out("cannot write $ConfDir/nginx.conf: $!");
    print $fh <<"_EOC_";
${modules}${user}worker_processes $Workers;
daemon on;
master_process $master;
error_log $LogFile $LogLevel;
pid $PidFile;
${env}
$main

events {
    worker_connections $WorkerConnections;
}

http {
    access_log $ServRoot/logs/access.log;
    default_type text/plain;
    keepalive_timeout 68;
    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path $ServRoot/proxy_temp;
    fastcgi_temp_path $ServRoot/fastcgi_temp;
    uwsgi_temp_path $ServRoot/uwsgi_temp;
    scgi_temp_path $ServRoot/scgi_temp;

$http

    server {
        listen 127.0.0.1:$ServerPort;
        server_name $ServerName;
        client_max_body_size 30M;

$conf
    }
}
_EOC_
    close $fh;
}

sub nginx_pid {
    open my $fh, '<', $PidFile or return;
    my $pid = <$fh>;
    close $fh;
    return unless defined $pid && $pid =~ /^(\d+)/;
    return $1;
}

# A daemonised nginx is not our child; where init does not reap promptly it
# lingers as a zombie, which has exited for our purposes.
sub alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    close $fh;
    return $stat !~ /^\d+ \(.*\) Z/;
}

# Gracefully (QUIT) when the block checks shutdown logs, else TERM; KILL
# whatever is left after a few seconds.
sub stop_nginx {
    my ($graceful) = @_;
    my $pid = nginx_pid() or return;
    return unless alive($pid);
    kill($graceful ? 'QUIT' : 'TERM', $pid);
    my $deadline = time + 5;
    while (alive($pid) && time < $deadline) {
        sleep 0.01;
    }
    if (alive($pid)) {
        Test::More::diag("nginx $pid did not stop in 5 s, killing it");
        kill 'KILL', $pid;
        sleep 0.1;
    }
    unlink $PidFile;
}

END { stop_nginx() }

sub start_nginx {
    my ($block) = @_;
    my $cmd = "$NginxBinary -e $LogFile -p $ServRoot/ -c $ConfDir/nginx.conf >/dev/null 2>&1";
    system($cmd);
    return $? >> 8 if $? != 0;
    # nginx daemonises once its sockets listen; wait for the pid file and
    # for the port to answer.
    my $deadline = time + 5;
    until (nginx_pid() && port_open($ServerPort)) {
        return 1 if time > $deadline;
        sleep 0.01;
    }
    return 0;
}

sub port_open {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => shift,
                                  Proto => 'tcp', Timeout => 0.2);
    return 0 unless $s;
    close $s;
    return 1;
}

sub log_tail {
    my ($from) = @_;
    open my $fh, '<', $LogFile or return '';
    seek $fh, $from, 0;
    local $/;
    my $text = <$fh> // '';
    close $fh;
    return $text;
}

sub log_size { return -s $LogFile || 0 }

# ------------------------------------------------------------ HTTP

sub build_request {
    my ($raw, $more_headers, $keepalive) = @_;
    $raw =~ s/\A\s+//;
    $raw =~ s/\r?\n\z//;
    my ($line, $body) = split /\r?\n/, $raw, 2;
    $line =~ s/\s+\z//;
    $line .= ' HTTP/1.1' unless $line =~ m{ HTTP/\d\.\d\z};
    my $req = "$line\r\nHost: localhost\r\n";
    $req .= "Connection: " . ($keepalive ? 'keep-alive' : 'close') . "\r\n";
    my $has_length = 0;
    for my $h (split /\n/, $more_headers // '') {
        next unless $h =~ /\S/;
        $h =~ s/\r\z//;
        $has_length = 1 if $h =~ /^(content-length|transfer-encoding)\s*:/i;
        $req .= "$h\r\n";
    }
    if (defined $body && length $body) {
        $req .= "Content-Length: " . length($body) . "\r\n" unless $has_length;
        return "$req\r\n$body";
    }
    $req .= "Content-Length: 0\r\n"
        if !$has_length && $line =~ /^(POST|PUT|PATCH)\b/;
    return "$req\r\n";
}

# Sends the bytes, reads until the peer closes or the deadline passes.
sub http_exchange {
    my ($bytes, $timeout) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $ServerPort, Proto => 'tcp', Timeout => $timeout)
        or return (undef, "cannot connect to 127.0.0.1:$ServerPort: $!");
    $sock->autoflush(1);
    print $sock $bytes;
    my $sel = IO::Select->new($sock);
    my $buf = '';
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return ($buf, 'timeout') if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($sock, $buf, 65536, length $buf);
        last if !$n;
    }
    close $sock;
    return ($buf, undef);
}

# Parses one response off the front of $$buf; undef when none is complete.
sub parse_response {
    my ($buf) = @_;
    return unless $$buf =~ s/\A(HTTP\/\d\.\d) (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n//;
    my ($status, $head) = ($2, $3);
    my %headers;
    my @order;
    for my $line (split /\r\n/, $head) {
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
        push @{ $headers{lc $k} }, $v;
    }
    my $body = '';
    if (($headers{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while ($$buf =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            if ($len == 0) {
                $$buf =~ s/\A(?:[^\r\n]+\r\n)*\r\n//;
                last;
            }
            $body .= substr($$buf, 0, $len, '');
            $$buf =~ s/\A\r\n//;
        }
    } elsif (defined $headers{'content-length'}) {
        $body = substr($$buf, 0, $headers{'content-length'}[0], '');
    } elsif ($status !~ /^(1|204|304)/) {
        $body = $$buf;
        $$buf = '';
    }
    return { status => $status, headers => \%headers, body => $body };
}

# ------------------------------------------------------------ checks

sub check_response {
    my ($block, $name, $res, $i, $n) = @_;
    my $tag = $n > 1 ? "$name - req $i" : $name;

    my @codes = section_list($block, 'error_code');
    my $want_code = @codes > 1 ? $codes[$i] : (@codes ? $codes[0] : 200);
    if (defined $want_code) {
        $want_code =~ s/\s+//g;
        Test::More::is($res->{status}, $want_code, "$tag - status code ok");
    }

    my @bodies = section_list($block, 'response_body');
    if (defined $block->{response_body}) {
        my $want = @bodies > 1 ? $bodies[$i] : $bodies[0];
        Test::More::is($res->{body}, $want, "$tag - response_body - response is expected");
    }

    my @likes = section_list($block, 'response_body_like');
    if (@likes) {
        my $want = @likes > 1 ? $likes[$i] : $likes[0];
        $want =~ s/\n\z// unless ref $want;
        my $re = ref $want eq 'Regexp' ? $want : qr/$want/s;
        Test::More::like($res->{body}, $re, "$tag - response_body_like - response is expected");
    }

    for my $line (map { split /\n/ } section_list($block, 'response_headers')) {
        next unless $line =~ /\S/;
        if ($line =~ /^!\s*([^:\s]+)/) {
            Test::More::ok(!defined $res->{headers}{lc $1},
                           "$tag - header $1 not present");
            next;
        }
        my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/ or next;
        my $got = $res->{headers}{lc $k};
        Test::More::is(defined $got ? $got->[0] : undef,
                       $v eq '' ? (defined $got ? '' : '') : $v,
                       "$tag - header $k ok");
    }

    for my $line (map { split /\n/ } section_list($block, 'response_headers_like')) {
        next unless $line =~ /\S/;
        my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/ or next;
        my $got = $res->{headers}{lc $k};
        Test::More::like(defined $got ? $got->[0] : '', qr/^$v$/s,
                         "$tag - header $k like ok");
    }
}

sub log_patterns {
    my ($block, $section, $name) = @_;
    my @pats;
    for my $p (section_list($block, $section)) {
        if (ref $p eq 'Regexp') {
            push @pats, $p;
        } else {
            push @pats, grep { /\S/ } map { expand_env($_, $name) } split /\n/, $p;
        }
    }
    return @pats;
}

sub check_log {
    my ($block, $name, $text, $want, $unwanted) = @_;
    for my $p (log_patterns($block, $want, $name)) {
        my $hit = ref $p ? $text =~ $p : index($text, $p) >= 0;
        Test::More::ok($hit, "$name - pattern \"$p\" should match a line in error.log");
    }
    for my $p (log_patterns($block, $unwanted, $name)) {
        my @lines = grep { ref $p ? $_ =~ $p : index($_, $p) >= 0 } split /\n/, $text;
        Test::More::ok(!@lines, "$name - pattern \"$p\" does not match a line in error.log")
            or Test::More::diag("matched: $lines[0]");
    }
}

# ------------------------------------------------------------ running

sub run_block {
    my ($block) = @_;
    $_->($block) for @BlockPreprocessors;
    my $name = $block->name;

    stop_nginx();
    write_config($block);

    my $status = start_nginx($block);
    if (defined $block->{must_die}) {
        my $want = section($block, 'must_die') // '';
        $want =~ s/\s+//g;
        if (looks_like_number($want)) {
            Test::More::is($status, $want, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        stop_nginx() if $status == 0;
        check_log($block, $name, log_tail(0), 'error_log', 'no_error_log');
        return;
    }
    if ($status != 0) {
        my $log = log_tail(0);
        bail_out("$name - cannot start nginx (exit $status):\n$log");
    }

    if (defined(my $init = section($block, 'init'))) {
        my $ok = eval "package main; $init; 1";
        bail_out("$name - init failed: $@") unless $ok;
    }

    my $timeout = section($block, 'timeout') // $Timeout;
    $timeout =~ s/\s+//g;
    $timeout =~ s/s\z//;

    for my $rep (1 .. $RepeatEach) {
        my $log_from = 0;
        my $more = expand_env(section($block, 'more_headers'), $name);
        my @reqs;
        my $pipelined = 0;
        if (defined $block->{pipelined_requests}) {
            @reqs = map { expand_env($_, $name) } section_list($block, 'pipelined_requests');
            $pipelined = 1;
        } elsif (defined $block->{request}) {
            @reqs = map { expand_env($_, $name) } section_list($block, 'request');
        }

        if (@reqs) {
            my @responses;
            if ($pipelined) {
                my $bytes = join '', map {
                    build_request($reqs[$_], $more, $_ < $#reqs)
                } 0 .. $#reqs;
                my ($buf, $err) = http_exchange($bytes, $timeout);
                Test::More::diag("$name - $err") if $err;
                while (defined(my $res = parse_response(\$buf))) {
                    push @responses, $res;
                }
            } else {
                for my $raw (@reqs) {
                    my ($buf, $err) = http_exchange(build_request($raw, $more, 0), $timeout);
                    Test::More::diag("$name - $err") if $err;
                    push @responses, parse_response(\$buf);
                }
            }
            for my $i (0 .. $#reqs) {
                my $res = $responses[$i];
                if (!defined $res) {
                    Test::More::fail("$name - no complete response to request $i "
                                     . "within ${timeout}s");
                    next;
                }
                check_response($block, $name, $res, $i, scalar @reqs);
            }
        }

        if (defined(my $wait = section($block, 'wait'))) {
            $wait =~ s/\s+//g;
            sleep $wait;
        }
        check_log($block, $name, log_tail($log_from), 'error_log', 'no_error_log');
    }

    if (defined $block->{shutdown_error_log} || defined $block->{no_shutdown_error_log}) {
        my $from = log_size();
        stop_nginx(1);
        check_log($block, $name, log_tail($from), 'shutdown_error_log',
                  'no_shutdown_error_log');
    }
}

sub run_tests () {
    for my $block (Test::Base::blocks()) {
        run_block($block);
    }
    stop_nginx();
}

1;
