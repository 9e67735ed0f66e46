#!/usr/bin/env bash
# Install what fado needs to build, run and test, idempotently.
#
# Debian packages through apt (only the missing ones, so a second run costs a
# dpkg query), MinIO server and mc client built from source with `go install`
# at pinned versions into a cache that survives clones of the repository.
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --print    print the tool paths (sourceable shell)
set -euo pipefail

# Pinned versions. MinIO publishes its releases as Go pseudo-versions on the
# module proxy; these are the newest ones the proxy serves.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

FADO_CACHE=${FADO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fado}
MINIO_BIN=$FADO_CACHE/tools/minio-$MINIO_VERSION/minio
MC_BIN=$FADO_CACHE/tools/mc-$MC_VERSION/mc

DEBIAN_PACKAGES=(
    build-essential pkg-config ca-certificates curl
    nginx nginx-dev
    libpq-dev libcurl4-openssl-dev libjansson-dev libhiredis-dev
    libmicrohttpd-dev libssl-dev libexpat1-dev clang
    redis-server postgresql
    libtest-base-perl libtest-longstring-perl libtext-diff-perl
    liblist-moreutils-perl libwww-perl libtest-tcp-perl libjson-pp-perl
    caddy wrk valgrind iproute2 procps psmisc python3 docker-compose libyaml-libyaml-perl gnuplot-nox
    golang-go
    nodejs chromium fonts-dejavu-core
)

log() { printf 'deps: %s\n' "$*" >&2; }

print_paths() {
    printf 'MINIO_BIN=%q\nMC_BIN=%q\n' "$MINIO_BIN" "$MC_BIN"
}

if [ "${1:-}" = "--print" ]; then
    print_paths
    exit 0
fi

install_debian_packages() {
    local missing=() pkg status
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        # golang-go only when no Go toolchain is present at all.
        if [ "$pkg" = golang-go ] && command -v go >/dev/null 2>&1; then
            continue
        fi
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        case "$status" in
            *" installed") ;;
            *) missing+=("$pkg") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts these services on install; fado runs its own instances.
    for svc in nginx redis-server postgresql; do
        $sudo systemctl disable --now "$svc" >/dev/null 2>&1 || \
            $sudo service "$svc" stop >/dev/null 2>&1 || true
    done
}

go_install() {  # name module version target
    local name=$1 module=$2 version=$3 target=$4
    [ -x "$target" ] && return 0
    log "building $name $version with go install (cached in $FADO_CACHE)"
    local start=$SECONDS
    mkdir -p "$(dirname "$target")"
    GOBIN=$(dirname "$target") GOFLAGS=-mod=mod CGO_ENABLED=0 \
        go install "$module@$version"
    log "$name built in $((SECONDS - start)) s"
}

install_debian_packages
export PATH=$PATH:/usr/local/go/bin:/usr/lib/go/bin
go_install minio github.com/minio/minio "$MINIO_VERSION" "$MINIO_BIN"
go_install mc github.com/minio/mc "$MC_VERSION" "$MC_BIN"

# The web console's toolchain and its browser-test driver, pinned by
# console/package-lock.json; the tests drive Debian's /usr/bin/chromium, so
# no browser is downloaded. Again only when the lock file changed.
install_console_modules() {
    local dir=$ROOT/console
    [ -f "$dir/package-lock.json" ] || return 0
    if [ -f "$dir/node_modules/.package-lock.json" ] \
        && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
        return 0
    fi
    log "installing the console's npm modules (npm ci)"
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
install_console_modules
