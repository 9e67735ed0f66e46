#!/usr/bin/env bash
# Data plane benchmark, on PostgreSQL, Redis, three MinIO and the controller
# (all on loopback, started here):
#
#   1. upload and download throughput through the unified object API against
#      the same client (curl) talking to the home MinIO directly, signed with
#      --aws-sigv4, alternating rounds, medians, as a ratio api/direct;
#   2. time from an upload through the API returning to both replicas
#      holding that version (polled with HEAD on each replica's MinIO);
#   3. object bytes that pass through the controller while 1 GiB written
#      straight to the home MinIO replicates to two clusters (target: none),
#      read from the controller's own counters in /metrics.
#
#   bench/dataplane.sh [--quick]    CSV on stdout and in bench/results/
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export FADO_BASE_PORT=${BENCH_BASE_PORT:-27500}
export FADO_RUN_DIR=$ROOT/.run/bench-dataplane
export FADO_BUILD=${FADO_BUILD:-$ROOT/build}
export FADO_RECONCILE_INTERVAL=500
size_mib=64; rounds=5; uploads=30; big_mib=1024
if [ "${1:-}" = --quick ]; then size_mib=16; rounds=3; uploads=5; big_mib=128; fi

make -s all
cleanup() { scripts/fado-local stop >/dev/null 2>&1 || true; rm -rf "$tmp"; }
tmp=$(mktemp -d)
trap cleanup EXIT
scripts/fado-local stop >/dev/null 2>&1 || true
scripts/fado-local start postgres redis minio controller >&2
. "$FADO_RUN_DIR/env.sh"

H="Authorization: Bearer $FADO_TOKEN"
api() { curl -sf -H "$H" -H 'Content-Type: application/json' -X "$1" "$FADO_API_URL$2" ${3:+--data-binary "$3"}; }
storage() { "$FADO_BUILD/fado-storage" "$@"; }
now_ns() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# curl straight to MinIO (credentials through a netrc-style config, not argv).
printf 'user = "%s:%s"\n' "$FADO_MINIO0_ACCESS_KEY" "$FADO_MINIO0_SECRET_KEY" >"$tmp/curl.conf"
s3curl() { curl -sf -K "$tmp/curl.conf" --aws-sigv4 aws:amz:us-east-1:s3 \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
metric() { curl -sf -H "$H" "$FADO_API_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

platform=$(perl -MJSON::PP -e '
    my @names = qw(eu-1 us-1 asia-1); my @zones = qw(eu us asia);
    print encode_json({ zones => \@zones, clusters => [map { my $i = $_; {
        name => $names[$i], zone => $zones[$i],
        storage => { endpoint => $ENV{"FADO_MINIO${i}_ENDPOINT"},
                     access_key => $ENV{"FADO_MINIO${i}_ACCESS_KEY"},
                     secret_key => $ENV{"FADO_MINIO${i}_SECRET_KEY"} } } } 0 .. 2],
        buckets => [{ name => "bench", home_cluster => "eu-1", placement => { replicas => 3 } }] });')
api POST /v1/import "$platform" >/dev/null
for _ in $(seq 240); do
    [ "$(api GET /v1/buckets/bench | grep -o '"state":"ready"' | wc -l)" = 3 ] && break
    sleep 0.25
done
[ "$(api GET /v1/buckets/bench | grep -o '"state":"ready"' | wc -l)" = 3 ] \
    || { echo "dataplane: replicas not ready" >&2; exit 1; }

out=bench/results/dataplane-$(date -u +%Y%m%dT%H%M%SZ).csv
mkdir -p bench/results
echo "metric,value,unit,detail" | tee "$out"
emit() { echo "$1,$2,$3,$4" | tee -a "$out"; }

# 1. Throughput: API vs direct, alternating, same object size.
file=$tmp/obj
head -c $((size_mib * 1048576)) /dev/urandom >"$file"
: >"$tmp/put-api"; : >"$tmp/put-direct"; : >"$tmp/get-api"; : >"$tmp/get-direct"
mibps() { awk -v mib="$size_mib" -v ns="$1" 'BEGIN { printf "%.1f", mib / (ns / 1e9) }'; }
for r in $(seq "$rounds"); do
    t0=$(now_ns)
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$H" -T "$file" "$FADO_API_URL/v1/buckets/bench/objects/tp-api-$r")
    [ "$code" = 201 ] || { echo "dataplane: API upload answered $code" >&2; exit 1; }
    mibps $(( $(now_ns) - t0 )) >>"$tmp/put-api"; echo >>"$tmp/put-api"
    t0=$(now_ns)
    s3curl -T "$file" "$FADO_MINIO0_ENDPOINT/bench/tp-direct-$r" >/dev/null
    mibps $(( $(now_ns) - t0 )) >>"$tmp/put-direct"; echo >>"$tmp/put-direct"
    t0=$(now_ns)
    code=$(curl -s -o "$tmp/got" -w '%{http_code}' -H "$H" "$FADO_API_URL/v1/buckets/bench/objects/tp-api-$r")
    [ "$code" = 200 ] || { echo "dataplane: API download answered $code" >&2; exit 1; }
    mibps $(( $(now_ns) - t0 )) >>"$tmp/get-api"; echo >>"$tmp/get-api"
    t0=$(now_ns)
    s3curl -o "$tmp/got" "$FADO_MINIO0_ENDPOINT/bench/tp-direct-$r"
    mibps $(( $(now_ns) - t0 )) >>"$tmp/get-direct"; echo >>"$tmp/get-direct"
done
cmp -s "$file" "$tmp/got" || { echo "dataplane: downloaded bytes differ" >&2; exit 1; }
for op in put get; do
    a=$(grep . "$tmp/$op-api" | median); d=$(grep . "$tmp/$op-direct" | median)
    emit "${op}_api" "$a" MiB/s "${size_mib} MiB, median of $rounds"
    emit "${op}_direct" "$d" MiB/s "${size_mib} MiB, curl --aws-sigv4 straight to the home MinIO"
    emit "${op}_ratio" "$(awk -v a="$a" -v d="$d" 'BEGIN { printf "%.3f", a / d }')" ratio "api/direct"
done

# 2. Upload (through the API) to both replicas holding the version.
head -c 1048576 /dev/urandom >"$tmp/small"
: >"$tmp/lag"
for i in $(seq "$uploads"); do
    json=$(curl -sf -H "$H" -T "$tmp/small" "$FADO_API_URL/v1/buckets/bench/objects/lag-$i")
    t0=$(now_ns)
    version=$(printf '%s' "$json" | perl -MJSON::PP -0ne 'print decode_json($_)->{version_id}')
    for site in minio1 minio2; do
        for _ in $(seq 2000); do
            storage -s "$site" head bench "lag-$i" 2>/dev/null | grep -q "version=$version " && break
            sleep 0.005
        done
    done
    echo $(( ($(now_ns) - t0) / 1000000 )) >>"$tmp/lag"
done
emit replica_lag_p50 "$(median <"$tmp/lag")" ms "1 MiB via API until both replicas hold the version, $uploads uploads"
emit replica_lag_max "$(sort -n "$tmp/lag" | tail -1)" ms "same"

# 3. Bytes through the controller while big_mib replicates.
sent0=$(metric fado_object_bytes_sent_total); recv0=$(metric fado_object_bytes_received_total)
all0=$(( $(metric fado_storage_bytes_sent_total) + $(metric fado_storage_bytes_received_total) ))
head -c $((big_mib * 1048576)) /dev/urandom >"$file"
t0=$(now_ns)
storage -s minio0 put bench big "$file" >/dev/null
t1=$(now_ns)
for site in minio1 minio2; do
    for _ in $(seq 6000); do
        storage -s "$site" head bench big 2>/dev/null | grep -q "size=$((big_mib * 1048576)) " && break
        sleep 0.1
    done
done
t2=$(now_ns)
sent1=$(metric fado_object_bytes_sent_total); recv1=$(metric fado_object_bytes_received_total)
all1=$(( $(metric fado_storage_bytes_sent_total) + $(metric fado_storage_bytes_received_total) ))
emit big_upload_s "$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')" s "${big_mib} MiB straight to the home MinIO"
emit big_replicated_s "$(awk -v ns=$((t2 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }')" s "until both replicas hold it"
emit controller_object_bytes "$(( (sent1 - sent0) + (recv1 - recv0) ))" bytes "object data through the controller meanwhile (target 0)"
emit controller_control_bytes "$((all1 - all0))" bytes "all bodies exchanged with MinIO meanwhile (listings for readiness, configuration)"
echo "results: $out" >&2
