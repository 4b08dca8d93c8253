#!/usr/bin/env bash
# Builds the base image for job containers from Debian's own packages (no registry needed):
# Debian bookworm (minbase) with python3 (3.11), pip, venv and ca-certificates, imported into
# the local Docker engine as $STUDIO_BASE_IMAGE (default studio-base:bookworm-py311-r2).
# Does nothing when the image is already there. Takes about a minute; needs root and a running
# Docker engine (scripts/services.sh starts one).
#   scripts/base-image.sh              build it or fail
#   scripts/base-image.sh --optional   (`make run`) no engine or no root: say so and go on, as
#                                      jobs on the local engine are then not possible anyway
set -euo pipefail

OPTIONAL=0
[[ "${1:-}" == "--optional" ]] && OPTIONAL=1
give_up() {  # $1: the reason
    if [[ $OPTIONAL -eq 1 ]]; then
        echo "==> NOTE: $1; jobs on this machine's Docker engine need it (scripts/base-image.sh)" >&2
        exit 0
    fi
    echo "ERROR: $1" >&2
    exit 1
}

IMAGE="${STUDIO_BASE_IMAGE:-studio-base:bookworm-py311-r2}"
SUITE=bookworm

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    give_up "no Docker engine answers, so no base image $IMAGE (start one: scripts/services.sh)"
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "==> base image $IMAGE present"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    give_up "building the base image $IMAGE with debootstrap needs root (run it once with sudo)"
fi

if ! command -v debootstrap >/dev/null; then
    echo "==> apt-get install debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap </dev/null >/dev/null
fi

# The Debian mirror this machine already uses (deb822 sources first, then sources.list).
MIRROR=""
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z "$MIRROR" && -f /etc/apt/sources.list ]]; then
    MIRROR=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list)
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

ROOTFS=$(mktemp -d /tmp/studio-base.XXXXXX)
cleanup() {
    # debootstrap mounts /proc and /sys inside the tree; never delete through a mount.
    local m
    for m in $(awk -v r="$ROOTFS" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
        umount -l "$m" || true
    done
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

echo "==> debootstrap $SUITE from $MIRROR into $ROOTFS (about a minute)"
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,python-is-python3,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
    echo "ERROR: debootstrap failed; last lines of $ROOTFS.log:" >&2
    tail -n 30 "$ROOTFS.log" >&2
    give_up "debootstrap could not build the base image $IMAGE"
}
rm -f "$ROOTFS.log"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

echo "==> docker import as $IMAGE"
tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' \
    --message "studio base image: Debian $SUITE minbase + python3" \
    - "$IMAGE" >/dev/null

echo "==> base image $IMAGE ready: $(docker run --rm "$IMAGE" python3 --version)"
