#!/usr/bin/env bash
# Makes sure what the test suite needs is there:
#   PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, a running Docker engine, and
#   Debian's Chromium (/usr/bin/chromium), and OpenSSH's server (/usr/sbin/sshd: installed,
#   never started here; the ssh:// engine tests start their own on a free 127.0.0.1 port).
# Whatever is already there is left alone; missing pieces are started or installed when we are
# root (apt-get update runs at most once, and only when something must be installed).
# With CI=true a piece that cannot be had is an error; otherwise it is a warning and the tests
# that need it skip.
#
#   scripts/services.sh                 check, start and install everything
#   scripts/services.sh --check NAME..  only test whether postgres / redis / docker / chromium
#                                       / sshd answer or are there (exit 0 when all do); starts
#                                       and installs nothing
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
CHROMIUM=/usr/bin/chromium
SSHD=/usr/sbin/sshd
DOCKERD_LOG=/var/log/dockerd.log

case "${CI:-}" in true|TRUE|True|1|yes) IS_CI=1 ;; *) IS_CI=0 ;; esac
IS_ROOT=0; [[ $(id -u) -eq 0 ]] && IS_ROOT=1
FAILED=0

# --- probes (quiet; exit status only) ------------------------------------------------------
tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

postgres_up() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

redis_up() {
    if command -v redis-cli >/dev/null; then
        [[ $(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
    else
        tcp_open "$REDIS_HOST" "$REDIS_PORT"
    fi
}

docker_up() { timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

chromium_up() { [[ -x "$CHROMIUM" ]]; }

sshd_up() { [[ -x "$SSHD" ]]; }

if [[ "${1:-}" == "--check" ]]; then
    shift
    for name in "$@"; do
        case "$name" in
            postgres|redis|docker|chromium|sshd) "${name}_up" || exit 1 ;;
            *) echo "unknown service: $name" >&2; exit 2 ;;
        esac
    done
    exit 0
fi

# --- helpers -------------------------------------------------------------------------------
missing() {  # missing <what> <why>
    if [[ $IS_CI -eq 1 ]]; then
        echo "ERROR: $1 is not available: $2" >&2
        FAILED=1
    else
        echo "WARNING: $1 is not available: $2 (the tests that need it will skip)" >&2
    fi
}

wait_for() {  # wait_for <seconds> <probe>
    local deadline=$((SECONDS + $1))
    until "$2"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

APT_UPDATED=0
apt_install() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        echo "==> apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
        APT_UPDATED=1
    fi
    echo "==> apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null >/dev/null
}

# --- PostgreSQL ----------------------------------------------------------------------------
if postgres_up; then
    echo "==> PostgreSQL answers on $PG_HOST:$PG_PORT"
elif [[ $IS_ROOT -eq 1 ]] && command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    echo "==> starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null || true
    done
    if wait_for 30 postgres_up; then
        echo "==> PostgreSQL answers on $PG_HOST:$PG_PORT"
    else
        missing PostgreSQL "it did not answer on $PG_HOST:$PG_PORT after a start"
    fi
else
    missing PostgreSQL "nothing answers on $PG_HOST:$PG_PORT and it cannot be started here"
fi

# --- Redis ---------------------------------------------------------------------------------
if redis_up; then
    echo "==> Redis answers on $REDIS_HOST:$REDIS_PORT"
elif [[ $IS_ROOT -eq 1 ]] && command -v redis-server >/dev/null; then
    echo "==> starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log </dev/null || true
    if wait_for 15 redis_up; then
        echo "==> Redis answers on $REDIS_HOST:$REDIS_PORT"
    else
        missing Redis "it did not answer on $REDIS_HOST:$REDIS_PORT after a start"
    fi
else
    missing Redis "nothing answers on $REDIS_HOST:$REDIS_PORT and it cannot be started here"
fi

# --- Docker engine -------------------------------------------------------------------------
if docker_up; then
    echo "==> Docker engine answers"
elif [[ $IS_ROOT -eq 1 ]] && ! command -v dockerd >/dev/null && ! apt_install docker.io; then
    missing "the Docker engine" "apt-get install docker.io failed"
elif [[ $IS_ROOT -eq 1 ]]; then
    if pgrep -x dockerd >/dev/null; then
        echo "==> dockerd is already starting; waiting for it"
    else
        echo "==> starting dockerd (log: $DOCKERD_LOG)"
        # No descriptor of ours may stay open in the daemon, or whoever reads our output
        # (make, CI) would wait for it forever.
        setsid dockerd </dev/null >>"$DOCKERD_LOG" 2>&1 &
        disown
    fi
    if wait_for 60 docker_up; then
        echo "==> Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
    else
        missing "the Docker engine" "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
    fi
else
    missing "the Docker engine" "'docker version' gets no answer from a server and we are not root"
fi

# --- Chromium ------------------------------------------------------------------------------
if chromium_up; then
    echo "==> Chromium present ($CHROMIUM)"
elif [[ $IS_ROOT -eq 1 ]]; then
    if apt_install chromium && chromium_up; then
        echo "==> Chromium installed ($CHROMIUM)"
    else
        missing Chromium "apt-get install chromium did not provide $CHROMIUM"
    fi
else
    missing Chromium "$CHROMIUM is missing and we are not root"
fi

# --- OpenSSH server ------------------------------------------------------------------------
# Only the binary: the tests run `sshd -D -f <their own config>` on a free 127.0.0.1 port and
# stop it. Debian's package would start a system sshd; policy-rc.d (exit 101, as in Docker
# images) keeps it from starting, and so does the absence of an init system.
if sshd_up; then
    echo "==> OpenSSH server present ($SSHD)"
elif [[ $IS_ROOT -eq 1 ]]; then
    if apt_install openssh-server && sshd_up; then
        echo "==> OpenSSH server installed ($SSHD; not started)"
    else
        missing "OpenSSH's server" "apt-get install openssh-server did not provide $SSHD"
    fi
else
    missing "OpenSSH's server" "$SSHD is missing and we are not root"
fi

if [[ $FAILED -ne 0 ]]; then
    echo "ERROR: services missing under CI=true; the test suite cannot run as it must" >&2
    exit 1
fi
