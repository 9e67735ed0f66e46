package Fado::HarnessFallback;

# Loaded through PERL5OPT by scripts/run-tests: appends t/harness to @INC so
# that fado's Test::Nginx::Socket is used only where openresty's is not
# installed (an installed one sits earlier in @INC and wins).

use strict;
use warnings;
use File::Basename qw(dirname);
use Cwd qw(abs_path);

push @INC, abs_path(dirname(__FILE__) . '/../../harness');

1;
