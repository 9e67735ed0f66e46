package Fado::Routes;

# Writes routes for the Test::Nginx suites through docs/fado-publish.lua,
# the one writer of the routing contract (docs/routing-contract.md), with
# redis-cli: the same path operators use by hand.
#
#   use lib 't/lib';
#   use Fado::Routes;
#   my $r = Fado::Routes->new(prefix => 'test100:');   # flushes its keys
#   $r->set('photos', '- 127.0.0.1:1984,eu-1,eu,1,0');
#   $r->default('- 127.0.0.1:1985,any,any,1,0');
#   $r->publish_later(1.0, set => 'photos', '- 127.0.0.1:1986,us-1,us,1,0');
#   $r->cset('eu-1', 'eu up 127.0.0.1:1984,1,0');       # contract 2
#   $r->set2('photos', '- eu-1 us-1');
#   $r->setting('bucket_header', 'X-Tenant');          # settings hash
#
# new(..., v1_keys => 1) calls the script with the five keys of contract 1
# only, as a publisher written before contract 2 does.
#
# Redis: 127.0.0.1:$TEST_NGINX_REDIS_PORT, password $TEST_NGINX_REDIS_PASSWORD
# (passed through REDISCLI_AUTH, never on a command line).

use strict;
use warnings;

use Cwd qw(abs_path);
use POSIX ();
use IO::Socket::INET;
use File::Basename qw(dirname);

my $Root = abs_path(dirname(__FILE__) . '/../../..');
my $Script = "$Root/docs/fado-publish.lua";

sub new {
    my ($class, %args) = @_;

    my $self = bless {
        prefix => $args{prefix} // 'fado:',
        port   => $args{port} // $ENV{TEST_NGINX_REDIS_PORT}
                  // die("Fado::Routes: TEST_NGINX_REDIS_PORT is not set\n"),
        maxlen => $args{maxlen} // 100000,
        v1_keys => $args{v1_keys} // 0,
        password => exists $args{password} ? $args{password}
                                           : $ENV{TEST_NGINX_REDIS_PASSWORD},
    }, $class;

    $self->flush unless $args{keep};

    return $self;
}

sub prefix { $_[0]{prefix} }
sub port { $_[0]{port} }

sub redis_keys {
    my $self = shift;
    my $p = $self->{prefix};
    return map { "$p$_" } qw(routes version feed default epoch clusters settings);
}

# The keys passed to the script: seven, or the five of contract 1.
sub script_keys {
    my $self = shift;
    my @k = $self->redis_keys;
    splice @k, 5 if $self->{v1_keys};
    return @k;
}

sub _env {
    my ($self) = @_;
    my %env = %ENV;
    delete $env{REDISCLI_AUTH};
    my $pw = $self->{password};
    $env{REDISCLI_AUTH} = $pw if defined $pw && $pw ne '';
    return %env;
}

# Runs redis-cli with @args; returns its output without the final newline.
sub cli {
    my ($self, @args) = @_;

    local %ENV = $self->_env();

    open(my $fh, '-|', 'redis-cli', '--no-auth-warning', '-h', '127.0.0.1',
         '-p', $self->{port}, @args)
        or die "Fado::Routes: cannot run redis-cli: $!\n";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "Fado::Routes: redis-cli @args[0..0] failed (exit $?): $out\n" if $?;
    $out =~ s/\s+\z//;
    die "Fado::Routes: redis-cli @args[0..0]: $out\n" if $out =~ /^(ERR|NOAUTH|WRONGPASS)/;
    return $out;
}

# Removes every key of this prefix, so each suite starts from nothing.
sub flush {
    my $self = shift;
    $self->cli('DEL', $self->redis_keys);
}

sub _publish_args {
    my ($self, @triples) = @_;
    die "Fado::Routes: publish takes op, bucket, body triples\n"
        if @triples % 3;
    return ('--eval', $Script, $self->script_keys, ',', $self->{maxlen}, @triples);
}

# Publishes triples of (op, bucket, body); returns the last version.
sub publish {
    my ($self, @triples) = @_;
    my $v = $self->cli($self->_publish_args(@triples));
    die "Fado::Routes: publish failed: $v\n" unless $v =~ /^\d+$/;
    return $v;
}

sub set { my ($self, $b, $body) = @_; $self->publish(set => $b, $body) }
sub del { my ($self, $b) = @_; $self->publish(del => $b, '') }
sub default { my ($self, $body) = @_; $self->publish(default => '', $body) }
sub nodefault { $_[0]->publish(nodefault => '', '') }
sub reset { my ($self, $epoch) = @_; $self->publish(reset => '', $epoch) }
sub set2 { my ($self, $b, $body) = @_; $self->publish(set2 => $b, $body) }
sub default2 { my ($self, $body) = @_; $self->publish(default2 => '', $body) }
sub cset { my ($self, $c, $body) = @_; $self->publish(cset => $c, $body) }
sub cdel { my ($self, $c) = @_; $self->publish(cdel => $c, '') }
sub setting { my ($self, $k, $v) = @_; $self->publish(setting => $k, $v) }

# Publishes in the background after $delay seconds, while requests run.
sub publish_later {
    my ($self, $delay, @triples) = @_;

    my $pid = fork();
    die "Fado::Routes: fork: $!\n" unless defined $pid;
    return $pid if $pid;

    # the child must not run the test framework's END blocks
    select(undef, undef, undef, $delay);
    local %ENV = $self->_env();
    exec('redis-cli', '--no-auth-warning', '-h', '127.0.0.1',
         '-p', $self->{port}, $self->_publish_args(@triples))
        or POSIX::_exit(1);
}

# Writes a raw value into the hash, bypassing the script: only for testing
# how a gateway treats what the contract forbids.
sub raw_hset {
    my ($self, $bucket, $value) = @_;
    $self->cli('HSET', "$self->{prefix}routes", $bucket, $value);
}

# The same for the clusters hash (contract 2).
sub raw_cluster_hset {
    my ($self, $cluster, $value) = @_;
    $self->cli('HSET', "$self->{prefix}clusters", $cluster, $value);
}

# Ports for backends the suites declare in http_config: B+80.. when the
# harness gives FADO_BASE_PORT, else right after Test::Nginx's port.
sub backend_port {
    my ($n) = @_;
    my $base = $ENV{FADO_BASE_PORT} ? $ENV{FADO_BASE_PORT} + 80
                                    : ($ENV{TEST_NGINX_PORT} // 1984) + 1;
    return $base + $n;
}

# Sets TEST_NGINX_B1_PORT .. TEST_NGINX_B<n>_PORT for use in configs.
sub export_backends {
    my ($n) = @_;
    for my $i (1 .. $n) {
        $ENV{"TEST_NGINX_B${i}_PORT"} = backend_port($i - 1);
    }
}

# A raw GET to the nginx under test; returns (status, body).
sub http_get {
    my ($path, %headers) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} // $ENV{TEST_NGINX_PORT} // 1984;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 2)
        or return (0, '');
    my $h = join '', map { "$_: $headers{$_}\r\n" } sort { $a cmp $b } CORE::keys(%headers);
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n$h\r\n";
    local $/;
    my $resp = <$s> // '';
    close $s;
    my ($status) = $resp =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0, $body // '');
}

# Polls the fado_status location at $path until the gateway's table has
# reached $version (the value publish returned); dies after $timeout s.
sub wait_version {
    my ($version, $path, $timeout) = @_;
    $path //= '/fado-status';
    $timeout //= 5;
    my $deadline = time + $timeout;
    my $last = '';
    while (time < $deadline) {
        my ($status, $body) = http_get($path);
        $last = $body;
        if ($status == 200 && $body =~ /"table_version":(\d+)/
            && $1 >= $version && $body =~ /"state":"following"/)
        {
            return $1;
        }
        select(undef, undef, undef, 0.02);
    }
    die "Fado::Routes: gateway did not reach version $version in ${timeout}s: $last\n";
}

our @Held;
our %Blackholes;

# Listens on $port and never answers: a backend that keeps requests in
# flight. The socket lives as long as the test process.
sub blackhole {
    my ($port) = @_;
    return $Blackholes{$port} if $Blackholes{$port};
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                  Listen => 64, ReuseAddr => 1)
        or die "Fado::Routes: cannot listen on $port: $!\n";
    $Blackholes{$port} = $s;
    return $s;
}

# Sends a request to the nginx under test and leaves it running (its
# connection stays open until the test process ends or drop_held is called).
sub hold_request {
    my ($path, %headers) = @_;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} // $ENV{TEST_NGINX_PORT} // 1984;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 2)
        or die "Fado::Routes: cannot connect to nginx: $!\n";
    my $h = join '', map { "$_: $headers{$_}\r\n" } sort { $a cmp $b } CORE::keys(%headers);
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n$h\r\n";
    $s->flush;
    push @Held, $s;
    return $s;
}

sub drop_held { close $_ for @Held; @Held = () }

# Polls GET $path (with %headers) until the body matches $re; dies after
# $timeout seconds. For changes that carry no new version number.
sub wait_body {
    my ($path, $headers, $re, $timeout) = @_;
    $timeout //= 5;
    my $deadline = time + $timeout;
    my $body = '';
    while (time < $deadline) {
        (undef, $body) = http_get($path, %{ $headers // {} });
        return $body if $body =~ $re;
        select(undef, undef, undef, 0.02);
    }
    die "Fado::Routes: GET $path never matched $re in ${timeout}s: $body\n";
}

# A private redis-server on $port (no password, no persistence) that a
# suite may stop and start, so the shared one stays up.
our %Redis;

# start_redis($port, $dir, \@extra): @extra are more redis-server options,
# e.g. ['--replicaof', '127.0.0.1', $primary].
sub start_redis {
    my ($port, $dir, $extra) = @_;
    $dir //= ($ENV{TEST_NGINX_SERVROOT} // "/tmp/fado-test") . "-redis-$port";
    system('mkdir', '-p', $dir) == 0 or die "Fado::Routes: mkdir $dir\n";
    system('redis-server', '--port', $port, '--bind', '127.0.0.1',
           '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
           '--dir', $dir, '--pidfile', "$dir/redis.pid",
           '--logfile', "$dir/redis.log", @{ $extra // [] }) == 0
        or die "Fado::Routes: cannot start redis-server on $port\n";
    my $deadline = time + 5;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        if ($s) {
            print $s "PING\r\n";
            my $l = <$s> // '';
            if ($l =~ /^\+PONG/) {
                $Redis{$port} = $dir;
                return;
            }
        }
        select(undef, undef, undef, 0.05);
    }
    die "Fado::Routes: redis-server on $port did not answer\n";
}

sub stop_redis {
    my ($port) = @_;
    my $dir = delete $Redis{$port} or return;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 1);
    if ($s) {
        print $s "SHUTDOWN NOSAVE\r\n";
        local $/;
        my $ignored = <$s>;
    }
    my $deadline = time + 5;
    while (time < $deadline) {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        return unless $c;
        close $c;
        select(undef, undef, undef, 0.05);
    }
    die "Fado::Routes: redis-server on $port does not stop\n";
}

# SIGKILLs a redis-server started by start_redis: a crash, not a shutdown.
sub kill_redis {
    my ($port) = @_;
    my $dir = delete $Redis{$port} or return;
    open my $fh, '<', "$dir/redis.pid" or die "Fado::Routes: no pid for $port\n";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    kill 'KILL', $pid;
    my $deadline = time + 5;
    while (kill(0, $pid) && time < $deadline) {
        select(undef, undef, undef, 0.02);
    }
}

# Runs GET $path in a loop for $seconds in a child process; returns a
# function that waits for it and returns (requests, failures).
sub load {
    my ($path, $seconds) = @_;
    pipe(my $r, my $w) or die "Fado::Routes: pipe: $!\n";
    my $pid = fork();
    die "Fado::Routes: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        close $r;
        my ($n, $failed) = (0, 0);
        my $end = time + $seconds;
        while (time < $end) {
            my ($st) = http_get($path);
            $n++;
            $failed++ unless $st == 200;
            select(undef, undef, undef, 0.005);
        }
        print $w "$n $failed\n";
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    return sub {
        my $line = <$r> // '';
        close $r;
        waitpid($pid, 0);
        return split ' ', $line;
    };
}

END { stop_redis($_) for CORE::keys %Redis }

1;
