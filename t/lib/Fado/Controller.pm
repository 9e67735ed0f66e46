package Fado::Controller;

# Runs a real fado-controller for a suite: its own database (created here,
# dropped at the end), its own Redis key prefix, a port from
# FADO_BASE_PORT+80..+89, and a bootstrap admin token. Also small HTTP
# fake function servers that answer with their own name, for health and
# routing (the real one is examples/fado-fn; these need no object store).
#
#   my $c = Fado::Controller->new(port_offset => 80);
#   my ($status, $json) = $c->api(POST => '/v1/zones', { name => 'eu' });

use strict;
use warnings;

use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

my $JSON = JSON::PP->new->canonical->allow_nonref;
our @Children;

sub new {
    my ($class, %args) = @_;
    my $base = $ENV{FADO_BASE_PORT} or die "FADO_BASE_PORT is not set (run through scripts/run-tests)\n";
    my $tag = $args{tag} // "t$$";
    my $self = bless {
        port   => $base + ($args{port_offset} // 80),
        db     => "fado_$tag",
        prefix => $args{prefix} // "$tag:",
        token  => 'fado_test_admin_' . join('', map { ('a'..'z')[rand 26] } 1 .. 24),
        log    => "$ENV{FADO_RUN_DIR}/controller-$tag.log",
        args   => $args{args} // [],
        env    => $args{env} // {},
    }, $class;
    $self->psql("DROP DATABASE IF EXISTS $self->{db}");
    $self->psql("CREATE DATABASE $self->{db}");
    ($self->{db_url} = $ENV{FADO_DATABASE_URL}) =~ s{/[^/]+$}{/$self->{db}};
    $self->start unless $args{no_start};
    return $self;
}

sub port { $_[0]{port} }
sub url { "http://127.0.0.1:$_[0]{port}" }
sub token { $_[0]{token} }
sub prefix { $_[0]{prefix} }
sub db_url { $_[0]{db_url} }
sub log_file { $_[0]{log} }

sub psql {
    my ($self, $sql, $db) = @_;
    my $out = `psql -X -qAt -d @{[$db // 'postgres']} -c "$sql" 2>&1`;
    die "psql failed: $out\n" if $?;
    chomp $out;
    return $out;
}

sub start {
    my ($self, %over) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $self->{log} or POSIX::_exit(1);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(1);
        $ENV{FADO_LISTEN} = "127.0.0.1:$self->{port}";
        $ENV{FADO_DATABASE_URL} = $over{db_url} // $self->{db_url};
        $ENV{FADO_REDIS_PREFIX} = $self->{prefix};
        $ENV{FADO_BOOTSTRAP_TOKEN} = $self->{token};
        # Full reconciles are rare (a minute apart), as in production:
        # the suites see changes reach Redis through the change path.
        $ENV{FADO_RECONCILE_INTERVAL} = 60000;
        $ENV{FADO_HEALTH_INTERVAL} = 200;
        $ENV{$_} = $self->{env}{$_} for keys %{ $self->{env} };
        exec "$ENV{FADO_BUILD}/fado-controller", @{ $self->{args} }
            or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    return $self if $over{no_wait};
    my $deadline = time + 20;
    while (time < $deadline) {
        my $r = HTTP::Tiny->new(timeout => 1)->get($self->url . '/readyz');
        return $self if $r->{status} == 200;
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $self->{pid};
            die "fado-controller exited at start; log:\n" . `tail -n 20 $self->{log}`;
        }
        sleep 0.05;
    }
    die "fado-controller not ready in 20 s; log:\n" . `tail -n 20 $self->{log}`;
}

sub stop {
    my ($self, $signal) = @_;
    my $pid = delete $self->{pid} or return;
    kill $signal // 'TERM', $pid;
    waitpid $pid, 0;
    return $? >> 8;
}

sub api {
    my ($self, $method, $path, $body, %opt) = @_;
    my $token = exists $opt{token} ? $opt{token} : $self->{token};
    my %headers = ('Content-Type' => 'application/json');
    $headers{Authorization} = "Bearer $token" if defined $token;
    my $r = HTTP::Tiny->new(timeout => 10)->request($method, $self->url . $path, {
        headers => \%headers,
        defined $body ? (content => ref $body ? $JSON->encode($body) : $body) : (),
    });
    my $json = eval { $JSON->decode($r->{content}) } if length($r->{content} // '');
    return ($r->{status}, $json, $r->{content});
}

# Polls $code until it returns true; returns its last value.
sub wait_until {
    my ($code, $timeout) = @_;
    my $deadline = time + ($timeout // 20);
    while (time < $deadline) {
        my $v = $code->();
        return $v if $v;
        sleep 0.05;
    }
    return $code->();
}

sub redis {
    my ($self, @args) = @_;
    local $ENV{REDISCLI_AUTH} = $ENV{FADO_REDIS_PASSWORD};
    open my $fh, '-|', 'redis-cli', '--no-auth-warning', '-p', $ENV{FADO_REDIS_PORT}, @args
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    chomp $out;
    return $out;
}

# A fake function server: answers every request with "<name>\n" (forked child).
sub fake_function {
    my ($class, $port, $name) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
        Listen => 64, ReuseAddr => 1, Proto => 'tcp') or die "fake function server on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (my $c = $listen->accept) {
            my $req = '';
            while ($req !~ /\r\n\r\n/) {
                my $n = sysread($c, $req, 4096, length $req);
                last unless $n;
            }
            my $body = "$name\n";
            print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                   . "\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
        POSIX::_exit(0);
    }
    close $listen;
    push @Children, $pid;
    return $pid;
}

sub stop_fake_function {
    my ($class, $pid) = @_;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    @Children = grep { $_ != $pid } @Children;
}

sub DESTROY {
    my ($self) = @_;
    return unless $self->{db};
    $self->stop;
    eval { $self->psql("DROP DATABASE IF EXISTS $self->{db} WITH (FORCE)") };
    eval { $self->redis('EVAL', "for _,k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end", 0, "$self->{prefix}*") };
}

END {
    for my $pid (@Children) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
