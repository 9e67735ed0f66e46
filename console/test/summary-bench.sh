#!/usr/bin/env bash
# Times GET /v1/summary (the console's only polled endpoint) with N buckets,
# two replicas each, on PostgreSQL and Redis started by scripts/fado-local
# (no MinIO: the clusters have no storage, so the reconciler's jobs fail and
# pile up, which makes the jobs count realistic too).
#
#   console/test/summary-bench.sh [N] [SAMPLES] [GAP_SECONDS]
#
# GAP >= 1.1 makes every call miss the 1 s shared answer (the query's cost);
# GAP 0 shows what consoles see while one answer is shared. Ports from
# FADO_BASE_PORT (default 22000), run dir .run/bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000} SAMPLES=${2:-12} GAP=${3:-1.1}
export FADO_BASE_PORT=${FADO_BASE_PORT:-22000} FADO_RUN_DIR=$PWD/.run/bench
PORT=$((FADO_BASE_PORT + 2))
TOKEN=bench_token_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; scripts/fado-local stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/fado-local stop >/dev/null 2>&1 || true
rm -rf "$FADO_RUN_DIR"
scripts/fado-local start postgres redis >/dev/null
# shellcheck source=/dev/null
. "$FADO_RUN_DIR/env.sh"

start() {
    FADO_LISTEN=127.0.0.1:$PORT FADO_BOOTSTRAP_TOKEN=$TOKEN FADO_REDIS_PREFIX=bench: \
        build/fado-controller >>"$FADO_RUN_DIR/controller.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
        sleep 0.1
    done
    echo "controller did not start" >&2
    exit 1
}
start                                   # applies the migrations
kill "$PID"; wait "$PID" || true; PID=
psql -X -q -d "$FADO_DATABASE_URL" <<SQL
INSERT INTO zones VALUES ('eu'), ('us'), ('asia');
INSERT INTO clusters (name, zone) VALUES ('eu-1', 'eu'), ('us-1', 'us'), ('asia-1', 'asia');
INSERT INTO buckets (name, home_cluster, replicas, placement_ok)
  SELECT 'b-' || i, (ARRAY['eu-1', 'us-1', 'asia-1'])[1 + i % 3], 2, true
    FROM generate_series(1, $N) i;
INSERT INTO replicas (bucket, cluster, state)
  SELECT name, home_cluster, 'ready' FROM buckets
  UNION ALL
  SELECT name, CASE home_cluster WHEN 'eu-1' THEN 'us-1' ELSE 'eu-1' END, 'syncing' FROM buckets;
ANALYZE;
SQL
start
sleep 3                                 # let the first reconcile pass settle
for _ in $(seq "$SAMPLES"); do
    sleep "$GAP"
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/v1/summary"
done | sort -n | awk -v n="$N" '{a[NR] = $1} END {
    printf "buckets=%d calls=%d p50=%.1f ms p90=%.1f ms max=%.1f ms\n",
           n, NR, a[int((NR + 1) / 2)] * 1000, a[int(NR * 0.9 + 0.5)] * 1000, a[NR] * 1000 }'
