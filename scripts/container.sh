#!/usr/bin/env bash
# Builds vnetd's container image (Containerfile) around the static binary
# scripts/release.sh builds from this repository, then runs `vnetd ci` on
# the built-in lab inside it, as the book says to run it (--privileged
# --network host --pid host). Without a registry to pull Debian's image
# from, the base is made with debootstrap from Debian's own mirror.
#
#   scripts/container.sh [--if-possible] [DIST]      (as root)
#
# With --if-possible, a machine that cannot do it (no podman, no base
# image, a container runtime that cannot start containers here) is said on
# one line and the script exits 0; the lab's own failures still fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
if_possible=false
if [ "${1:-}" = --if-possible ]; then
  if_possible=true
  shift
fi
dist=${1:-dist}
cannot() {
  echo "scripts/container.sh: no container run on this machine: $*"
  if $if_possible; then exit 0; fi
  exit 1
}
command -v podman >/dev/null || cannot "podman is not installed"
[ -x "$dist/vnetd" ] || scripts/release.sh "$dist" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base" && ! podman pull -q "$base" >/dev/null 2>&1; then
  base=localhost/vnetd-base:bookworm
  if ! podman image exists "$base"; then
    command -v debootstrap >/dev/null ||
      cannot "Debian's image cannot be pulled and debootstrap is not installed"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
      >"$work/debootstrap.log" 2>&1 || cannot "debootstrap failed: $(tail -1 "$work/debootstrap.log")"
    tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
    rm -rf "$work/rootfs"
  fi
fi

# The image: chroot isolation builds it without starting a container.
mkdir -p "$work/context/dist"
cp "$dist/vnetd" "$work/context/dist/"
cp -r config "$work/context/config"
cp Containerfile "$work/context/"
image=localhost/vnetd:$version
podman build -q --isolation chroot --build-arg "BASE=$base" -t "$image" \
  -f "$work/context/Containerfile" "$work/context" >/dev/null
echo "scripts/container.sh: built $image (from $base)"

# The built-in lab's vnetd ci inside it, its namespaces named apart.
mkdir -p "$work/lab"
{ echo "netns_prefix: ctr-"; cat config/hub-spoke.yaml; } >"$work/lab/lab.yaml"
set +e
podman run --rm --privileged --network host --pid host -v "$work/lab:/work" "$image" \
  ci /work/lab.yaml --junit /work/results.xml --artifacts /work/artifacts >"$work/run.log" 2>&1
code=$?
set -e
case $code in
  0) echo "scripts/container.sh: vnetd ci passed inside $image" ;;
  125 | 126 | 127)
    # Podman's own codes: the container never ran.
    cannot "built $image, but podman cannot start a container here: $(grep -m1 -i error "$work/run.log")"
    ;;
  *)
    cat "$work/run.log" >&2
    echo "scripts/container.sh: vnetd ci inside $image exited $code" >&2
    exit 1
    ;;
esac
