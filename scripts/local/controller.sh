# fado-local component: fado-controller on B+2.
#
# Uses the PostgreSQL and Redis started before it (env.sh), a bootstrap
# admin token generated once into $RUN/controller.token (mode 600), and
# exports FADO_API_URL and FADO_TOKEN.

start_controller() {
    local bin=$FADO_BUILD/fado-controller p
    [ -x "$bin" ] || die "controller not built ($bin): run make"
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    [ -n "${FADO_DATABASE_URL:-}" ] && [ -n "${FADO_REDIS_URL:-}" ] \
        || die "start postgres and redis first"
    p=$(port 2)
    [ -f "$RUN/controller.token" ] || {
        printf 'fado_%s\n' "$(secret 40)" >"$RUN/controller.token"
        chmod 600 "$RUN/controller.token"
    }
    # Secrets reach the controller through its environment, not argv.
    spawn controller env FADO_LISTEN="127.0.0.1:$p" \
        FADO_BOOTSTRAP_TOKEN="$(cat "$RUN/controller.token")" \
        FADO_EVENTS_TOKEN="${FADO_EVENTS_TOKEN:-}" \
        FADO_RECONCILE_INTERVAL="${FADO_RECONCILE_INTERVAL:-1000}" \
        FADO_HEALTH_INTERVAL="${FADO_HEALTH_INTERVAL:-1000}" \
        "$bin"
    wait_for controller 30 curl -sf "http://127.0.0.1:$p/readyz"
    env_set FADO_API_URL "http://127.0.0.1:$p"
    env_set FADO_TOKEN "$(cat "$RUN/controller.token")"
    log "controller http://127.0.0.1:$p (token in $RUN/controller.token)"
}
