# fado-local component: WAN emulation. A fado-delay proxy in front of each
# MinIO deployment (port B+60+i) adds FADO_WAN_DELAY (default 10ms) each
# way, so whoever reaches cluster i's data through it pays a cross-region
# round trip (20 ms by default).

start_wan() {
    local bin=$FADO_BUILD/fado-delay i p ep
    [ -x "$bin" ] || die "delay proxy not built ($bin): run make"
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    [ -n "${FADO_MINIO_COUNT:-}" ] || die "start minio first"
    for i in $(seq 0 $((FADO_MINIO_COUNT - 1))); do
        p=$(port $((60 + i)))
        ep=FADO_MINIO${i}_ENDPOINT
        spawn "wan$i" "$bin" --listen "127.0.0.1:$p" --target "${!ep#http://}" \
            --delay "${FADO_WAN_DELAY:-10ms}"
        wait_for "wan$i" 10 tcp_open "$p"
        env_set "FADO_WAN${i}_ENDPOINT" "http://127.0.0.1:$p"
        log "wan$i      http://127.0.0.1:$p -> ${!ep} (+${FADO_WAN_DELAY:-10ms} each way)"
    done
}
