#!/usr/bin/env bash
# Start or stop a throwaway redis-server on 127.0.0.1 for the tests marked `real` (RedisHistoryStore).
#
#   bash scripts/ci/redis.sh start   # installs redis-server with apt-get if missing, starts it daemonised,
#                                    # waits for PING, prints GUARDRAIL_REDIS_URL=redis://127.0.0.1:PORT/0
#   bash scripts/ci/redis.sh url     # prints the URL of the running server
#   bash scripts/ci/redis.sh stop    # stops the server started by `start` (pidfile), removes its state
#
# Environment:
#   GUARDRAIL_REDIS_PORT  port to use (default 6399; 0 picks a free port)
#   GUARDRAIL_REDIS_DIR   state directory: pidfile, port, log (default /tmp/guardrail-redis)
#
# `start` is idempotent: if the server of this state directory is running, it prints its URL again.
# Nothing is persisted to disk (no RDB, no AOF); the server only listens on loopback.
set -euo pipefail

DIR="${GUARDRAIL_REDIS_DIR:-/tmp/guardrail-redis}"
PORT="${GUARDRAIL_REDIS_PORT:-6399}"
PIDFILE="$DIR/redis.pid"
PORTFILE="$DIR/port"
LOG="$DIR/redis.log"

die() { echo "redis.sh: $*" >&2; exit 1; }

running() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_busy() {
    python3 - "$1" <<'EOF'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

ensure_installed() {
    if ! command -v redis-server >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and apt-get is not available"
        echo "redis.sh: installing redis-server with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq redis-server >&2
    fi
    command -v redis-server >/dev/null 2>&1 || die "redis-server is still missing after apt-get install"
}

url() {
    [[ -f "$PORTFILE" ]] || die "no server state in $DIR; run \`$0 start\` first"
    echo "redis://127.0.0.1:$(cat "$PORTFILE")/0"
}

start() {
    mkdir -p "$DIR"
    if running; then
        echo "GUARDRAIL_REDIS_URL=$(url)"
        return 0
    fi
    ensure_installed
    if [[ "$PORT" == "0" ]]; then
        PORT="$(free_port)"
    elif port_busy "$PORT"; then
        die "port $PORT on 127.0.0.1 is in use by another process; set GUARDRAIL_REDIS_PORT (0 = any free port)"
    fi
    rm -f "$PIDFILE"
    redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --pidfile "$PIDFILE" --logfile "$LOG" \
        --dir "$DIR" --save "" --appendonly no --protected-mode yes
    echo "$PORT" >"$PORTFILE"
    for _ in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
            echo "GUARDRAIL_REDIS_URL=$(url)"
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$LOG" >&2 || true
    die "redis-server did not answer PING on 127.0.0.1:$PORT within 10 s"
}

stop() {
    if running; then
        local pid
        pid="$(cat "$PIDFILE")"
        kill -TERM "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid"
        fi
        echo "redis.sh: stopped redis-server (pid $pid)" >&2
    fi
    rm -f "$PIDFILE" "$PORTFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) die "usage: $0 start|stop|url" ;;
esac
