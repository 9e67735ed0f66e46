#!/bin/sh
# fado_redis takes an IP literal (a worker must not block on DNS), and the
# Redis password comes from the environment, never from the image: resolve
# the Redis service once here and fill both into a private copy of
# nginx.conf, then run nginx.
set -eu
: "${FADO_REDIS_PASSWORD:?FADO_REDIS_PASSWORD must be set}"
host=${FADO_REDIS_HOST:-redis}
addr=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }')
[ -n "$addr" ] || { echo "fado-gateway: cannot resolve $host" >&2; exit 1; }
umask 077
FADO_REDIS_ADDR=$addr perl -pe \
    's/\@FADO_REDIS_ADDR\@/$ENV{FADO_REDIS_ADDR}/g; s/\@FADO_REDIS_PASSWORD\@/$ENV{FADO_REDIS_PASSWORD}/g' \
    /etc/nginx/nginx.conf >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g 'daemon off;' "$@"
