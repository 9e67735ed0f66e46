# fado-local component: two example function endpoints (build/fado-fn) per
# MinIO deployment, each reading from its own cluster's object store.
# Cluster i: ports B+30+4i and B+31+4i; names eu-1, us-1, asia-1.

FADO_CLUSTER_NAMES=(eu-1 us-1 asia-1 sa-1 af-1 oc-1)
FADO_CLUSTER_ZONES=(eu us asia sa af oc)

start_functions() {
    local bin=$FADO_BUILD/fado-fn i j p ak sk ep
    [ -x "$bin" ] || die "function server not built ($bin): run make"
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    [ -n "${FADO_MINIO_COUNT:-}" ] || die "start minio first"
    for i in $(seq 0 $((FADO_MINIO_COUNT - 1))); do
        ak=FADO_MINIO${i}_ACCESS_KEY; sk=FADO_MINIO${i}_SECRET_KEY; ep=FADO_MINIO${i}_ENDPOINT
        for j in 0 1; do
            p=$(port $((30 + 4 * i + j)))
            # Keys through the environment, never argv.
            spawn "fn$i-$j" env FADO_FN_ACCESS_KEY="${!ak}" FADO_FN_SECRET_KEY="${!sk}" \
                "$bin" --cluster "${FADO_CLUSTER_NAMES[$i]}" --zone "${FADO_CLUSTER_ZONES[$i]}" \
                --listen "127.0.0.1:$p" --storage-endpoint "${!ep}" --threads 4
            env_set "FADO_FN${i}_${j}_ADDR" "127.0.0.1:$p"
        done
    done
    for i in $(seq 0 $((FADO_MINIO_COUNT - 1))); do
        for j in 0 1; do
            p=$(port $((30 + 4 * i + j)))
            wait_for "fn$i-$j" 10 curl -sf "http://127.0.0.1:$p/healthz"
        done
        log "functions ${FADO_CLUSTER_NAMES[$i]}: 127.0.0.1:$(port $((30 + 4 * i))), 127.0.0.1:$(port $((31 + 4 * i)))"
    done
}
