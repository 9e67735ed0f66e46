# fado-local component: asynchronous invocation (build/fado-async).
#
# The front on B+6 (nginx proxies /async-function/ to it) and one queue
# worker process invoking calls through the gateway (FADO_GATEWAY_URL, so
# start nginx first). Both use the Redis started before them, password
# through the environment. Exports FADO_ASYNC_URL (the front, direct).

start_async() {
    local bin=$FADO_BUILD/fado-async p
    [ -x "$bin" ] || die "fado-async not built ($bin): run make"
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    [ -n "${FADO_REDIS_PORT:-}" ] || die "start redis first"
    [ -n "${FADO_GATEWAY_URL:-}" ] || die "start nginx first (the worker invokes through it)"
    p=$(port 6)
    spawn async-front env FADO_ASYNC_REDIS_PASSWORD="$FADO_REDIS_PASSWORD" \
        "$bin" --role front --redis "127.0.0.1:$FADO_REDIS_PORT" \
        --listen "127.0.0.1:$p" --max-body "${FADO_ASYNC_MAX_BODY:-1048576}"
    spawn async-worker env FADO_ASYNC_REDIS_PASSWORD="$FADO_REDIS_PASSWORD" \
        "$bin" --role worker --redis "127.0.0.1:$FADO_REDIS_PORT" \
        --gateway "$FADO_GATEWAY_URL" --workers "${FADO_ASYNC_WORKERS:-4}"
    wait_for async-front 10 curl -sf "http://127.0.0.1:$p/healthz"
    env_set FADO_ASYNC_URL "http://127.0.0.1:$p"
    log "async     $FADO_GATEWAY_URL/async-function/<name> (front http://127.0.0.1:$p, one worker)"
}
