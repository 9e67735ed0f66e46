#!/usr/bin/env bash
# Controller benchmarks: placement of 10k buckets over 100 clusters, route
# publication of 100k buckets, and API reads under wrk. Starts its own
# PostgreSQL and Redis (ports from BENCH_BASE_PORT, default 27200) and stops
# them at the end. CSV on stdout and in bench/results/.
#
#   bench/controller.sh [--quick]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export FADO_BASE_PORT=${BENCH_BASE_PORT:-27200}
export FADO_RUN_DIR=$ROOT/.run/bench-controller
export FADO_BUILD=${FADO_BUILD:-$ROOT/build}
seconds=10; buckets=100000
[ "${1:-}" = --quick ] && { seconds=3; buckets=20000; }

make -s controller bench-controller
trap 'scripts/fado-local stop >/dev/null 2>&1 || true' EXIT
scripts/fado-local stop >/dev/null 2>&1 || true
scripts/fado-local start postgres redis >&2
. "$FADO_RUN_DIR/env.sh"
mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
out=bench/results/controller-$stamp.csv

{
echo "# placement"
"$FADO_BUILD/bench/placement"

echo "# publication"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS benchpub" -c "CREATE DATABASE benchpub"
redis-cli --no-auth-warning -p "$FADO_REDIS_PORT" EVAL \
    "for _,k in ipairs(redis.call('KEYS','benchpub:*')) do redis.call('DEL',k) end" 0 >/dev/null
"$FADO_BUILD/bench/publish" "${FADO_DATABASE_URL%/*}/benchpub" "$FADO_REDIS_URL" "$buckets"

echo "# api reads"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS benchapi" -c "CREATE DATABASE benchapi"
token=fado_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$((FADO_BASE_PORT + 2))
FADO_DATABASE_URL=${FADO_DATABASE_URL%/*}/benchapi FADO_LISTEN=127.0.0.1:$port \
    FADO_BOOTSTRAP_TOKEN=$token FADO_REDIS_PREFIX=benchapi: FADO_LOG_LEVEL=warn \
    "$FADO_BUILD/fado-controller" 2>"$FADO_RUN_DIR/log/bench-controller.log" &
ctl=$!
trap 'kill $ctl 2>/dev/null; scripts/fado-local stop >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
# 1000 buckets over 10 clusters (no storage: nothing to replicate; reads only)
perl -MJSON::PP -e '
    my @c = map { { name => "c$_", zone => "z1", functions => [{ address => "127.0.0.1:" . (30000 + $_) }] } } 0 .. 9;
    my @b = map { { name => sprintf("bucket-%04d", $_), home_cluster => "c" . ($_ % 10) } } 1 .. 1000;
    print encode_json({ zones => ["z1"], clusters => \@c, buckets => \@b });' |
    curl -sf -H "Authorization: Bearer $token" -X POST --data-binary @- "http://127.0.0.1:$port/v1/import" >/dev/null
echo "endpoint,connections,rps,p50_ms,p99_ms"
for path in /v1/buckets/bucket-0500 "/v1/buckets?limit=20" /v1/clusters/c3; do
    res=$(wrk -t1 -c16 -d${seconds}s --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$res")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$res")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
    [ -z "$non2xx" ] || { echo "bench: $non2xx errors on $path" >&2; exit 1; }
    ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else print v*1000 }'; }
    echo "$path,16,$rps,$(ms "$p50"),$(ms "$p99")"
done
} | tee "$out"
echo "# written $out" >&2
