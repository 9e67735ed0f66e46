#!/usr/bin/env bash
# Locality benchmark: data-aware routing (fado) against round robin over the
# same function endpoints, with a 20 ms emulated round trip between clusters.
#
# One bucket lives in cluster A only. Six function endpoints run fado-fn:
# two in A read A's MinIO directly, four in B and C read it through
# fado-delay (10 ms each way). Both gateways get the same load: fado routes
# the bucket to A's endpoints; plain nginx round-robins over all six. Each
# request runs the checksum function on a 1 MiB object.
#
#   bench/locality.sh [--quick]        CSV on stdout, CSV and PNG in bench/results/
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export FADO_BASE_PORT=${BENCH_BASE_PORT:-27300}
export FADO_RUN_DIR=$ROOT/.run/bench-locality
export FADO_BUILD=${FADO_BUILD:-$ROOT/build}
export FADO_MINIO_COUNT=1
seconds=15; [ "${1:-}" = --quick ] && seconds=4
B=$FADO_BASE_PORT
FADO_GW=$((B + 3)); RR_GW=$((B + 7)); WAN=$((B + 60))
FN_PORTS=($((B + 30)) $((B + 31)) $((B + 34)) $((B + 35)) $((B + 38)) $((B + 39)))

make -s all
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$FADO_RUN_DIR/gw-fado/nginx.pid" ] && kill "$(cat "$FADO_RUN_DIR/gw-fado/nginx.pid")" 2>/dev/null
    [ -f "$FADO_RUN_DIR/gw-rr/nginx.pid" ] && kill "$(cat "$FADO_RUN_DIR/gw-rr/nginx.pid")" 2>/dev/null
    scripts/fado-local stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
scripts/fado-local stop >/dev/null 2>&1 || true
scripts/fado-local start redis minio wan >&2
. "$FADO_RUN_DIR/env.sh"

# 20 objects of 1 MiB in bucket "data", in cluster A only.
mc() { "$MC_BIN" --config-dir "$MC_CONFIG_DIR" "$@"; }
mc mb -q --ignore-existing minio0/data >/dev/null
tmp=$(mktemp)
for i in $(seq 20); do
    head -c 1048576 /dev/urandom >"$tmp"
    mc cp -q "$tmp" "minio0/data/obj-$i" >/dev/null
done
rm -f "$tmp"

# Function endpoints: A reads locally, B and C across the WAN.
for k in 0 1 2 3 4 5; do
    if [ $k -lt 2 ]; then cl=a; st=$FADO_MINIO0_ENDPOINT; else cl=$([ $k -lt 4 ] && echo b || echo c); st=$FADO_WAN0_ENDPOINT; fi
    FADO_FN_ACCESS_KEY=$FADO_MINIO0_ACCESS_KEY FADO_FN_SECRET_KEY=$FADO_MINIO0_SECRET_KEY \
        "$FADO_BUILD/fado-fn" --cluster "$cl" --zone "$cl" --listen "127.0.0.1:${FN_PORTS[$k]}" \
        --storage-endpoint "$st" --threads 4 2>/dev/null &
    pids+=($!)
done
for p in "${FN_PORTS[@]}"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
done

# The route: bucket "data" on A's two endpoints.
redis-cli --no-auth-warning -p "$FADO_REDIS_PORT" --eval docs/fado-publish.lua \
    bl:routes bl:version bl:feed bl:default bl:epoch , 1000 \
    set data "- 127.0.0.1:${FN_PORTS[0]},a,a,1,0 127.0.0.1:${FN_PORTS[1]},a,a,1,0" >/dev/null

gateway() {  # name port body
    local d=$FADO_RUN_DIR/gw-$1
    mkdir -p "$d/logs"
    cat >"$d/nginx.conf" <<EOC
$([ "$1" = fado ] && echo "load_module $FADO_BUILD/ngx_http_fado_module.so;")
worker_processes 1;
error_log $d/logs/error.log warn;
pid $d/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d; proxy_temp_path $d;
    $3
    server {
        listen 127.0.0.1:$2;
        location /function/ {
            fado_bucket_placeholder
            proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_pass http://functions;
        }
    }
}
EOC
    if [ "$1" = fado ]; then
        sed -i 's/fado_bucket_placeholder/fado_bucket $http_x_fado_bucket;/' "$d/nginx.conf"
    else
        sed -i 's/fado_bucket_placeholder//' "$d/nginx.conf"
    fi
    nginx -p "$d/" -c "$d/nginx.conf" -e "$d/logs/error.log"
}
gateway fado "$FADO_GW" "fado_shm_zone bl 8m; fado_redis 127.0.0.1:$FADO_REDIS_PORT password=$FADO_REDIS_PASSWORD prefix=bl:; upstream functions { fado policy=rr; keepalive 16; }"
rr_servers=$(for p in "${FN_PORTS[@]}"; do printf 'server 127.0.0.1:%s; ' "$p"; done)
gateway rr "$RR_GW" "upstream functions { $rr_servers keepalive 16; }"
sleep 0.5

lua=$(mktemp)
cat >"$lua" <<'EOL'
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/function/checksum?key=obj-" .. math.random(1, 20),
                    { ["X-Fado-Bucket"] = "data" })
end
EOL
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else print v*1000 }'; }
mkdir -p bench/results
out=bench/results/locality-$(date +%Y%m%d-%H%M%S).csv
{
echo "routing,rtt_ms,object_bytes,connections,rps,p50_ms,p99_ms"
for round in 1 2; do
    for v in fado:$FADO_GW round-robin:$RR_GW; do
        name=${v%%:*}; port=${v##*:}
        res=$(wrk -t1 -c4 -d${seconds}s --latency -s "$lua" "http://127.0.0.1:$port/")
        if grep -q 'Non-2xx' <<<"$res"; then echo "bench: errors from $name" >&2; exit 1; fi
        echo "$name,20,1048576,4,$(awk '/Requests\/sec/ {print $2}' <<<"$res"),$(ms "$(awk '$1 == "50%" {print $2}' <<<"$res")"),$(ms "$(awk '$1 == "99%" {print $2}' <<<"$res")")"
    done
done
} | tee "$out"
rm -f "$lua"
gnuplot -e "csv='$out'; out='${out%.csv}.png'" bench/locality-plot.gp
echo "# written $out and ${out%.csv}.png" >&2
