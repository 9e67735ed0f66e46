#!/bin/sh
# The gateway's Redis password comes from the environment, never from the
# image: fill it into a private copy of nginx.conf, then run nginx.
set -eu
: "${FADO_REDIS_PASSWORD:?FADO_REDIS_PASSWORD must be set}"
umask 077
perl -pe 's/\@FADO_REDIS_PASSWORD\@/$ENV{FADO_REDIS_PASSWORD}/g' \
    /etc/nginx/nginx.conf >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g 'daemon off;' "$@"
