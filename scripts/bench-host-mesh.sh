#!/usr/bin/env bash
# How fast a route a site announces on one host reaches the forwarding of a
# spoke on another host, over the host mesh; and its withdrawal.
#
# Builds three hosts as namespaces on an underlay bridge (MTU 1550), runs
# config/hybrid.yaml over them (the hub, its VPN gateway and the branch on
# h1, spoke1 on h2, spoke2 on h3) with one `vnetd run --host` in each, waits
# until every host has converged, then R times: adds 172.30.0.0/24 to the
# branch router's announced routes (`birdc configure`) and times until h2's
# daemon forwards vm1's packets for it to the gateway (its effective
# routes, polled every 10 ms), then removes it and times until that route
# is gone. Prints one line per run, in seconds.
#
# Everything carries a per-run prefix (hm<PID>-) and is removed on any exit.
#
# Usage: sudo scripts/bench-host-mesh.sh [--runs R] [--binary PATH] [--no-offload]
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-host-mesh.sh [options]   (as root)

  --runs R           announcements and withdrawals to time (default 5)
  --no-offload       run vnetd with --no-offload (default: offload on)
  --binary PATH      vnetd binary (default ./target/release/vnetd)
  -h, --help         this text
EOF
}

die() {
    echo "bench-host-mesh: $*" >&2
    exit 1
}

RUNS=5
BINARY=./target/release/vnetd
OFFLOAD=()
while (($#)); do
    case $1 in
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --no-offload) OFFLOAD=(--no-offload); shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[[ $(id -u) == 0 ]] || die "must run as root (it builds namespaces)"
[[ -x $BINARY ]] || die "no vnetd binary at $BINARY (cargo build --release)"
BINARY=$(realpath "$BINARY")

TAG=hm$$
DIR=$(mktemp -d)
FILE=$DIR/lab.yaml
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for i in 1 2 3; do
        VNETD_SOCKET=$DIR/h$i.sock nsenter --net=/run/netns/$TAG-host-h$i \
            "$BINARY" down "$FILE" --host h$i >/dev/null 2>&1 || true
        ip netns del "$TAG-host-h$i" 2>/dev/null || true
    done
    ip netns del "$TAG-underlay" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

# The example, its namespaces behind the run's prefix, placed on three hosts.
{
    echo "netns_prefix: $TAG-"
    sed -e 's/router: {netns: branch1, /router: {/' -e 's/, netns: onprem-vm}/}/' \
        -e 's/^  - name: hub$/  - name: hub\n    host: h1/' \
        -e 's/^  - name: spoke1$/  - name: spoke1\n    host: h2/' \
        -e 's/^  - name: spoke2$/  - name: spoke2\n    host: h3/' config/hybrid.yaml
    printf 'hosts:\n'
    for i in 1 2 3; do printf '  - {name: h%s, underlay_address: 192.0.2.%s}\n' "$i" "$i"; done
} >"$FILE"

ip netns add "$TAG-underlay"
ip -n "$TAG-underlay" link add br0 type bridge
ip -n "$TAG-underlay" link set br0 up
for i in 1 2 3; do
    ip netns add "$TAG-host-h$i"
    ip -n "$TAG-underlay" link add "p$i" mtu 1550 type veth peer name eth0 netns "$TAG-host-h$i"
    ip -n "$TAG-underlay" link set "p$i" master br0 up
    ip -n "$TAG-host-h$i" link set eth0 mtu 1550 up
    ip -n "$TAG-host-h$i" addr add "192.0.2.$i/24" dev eth0
    ip -n "$TAG-host-h$i" link set lo up
done
for i in 1 2 3; do
    VNETD_SOCKET=$DIR/h$i.sock nsenter --net=/run/netns/$TAG-host-h$i \
        "$BINARY" run "$FILE" --host h$i "${OFFLOAD[@]}" >"$DIR/h$i.log" 2>&1 &
    PIDS+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 600); do
        [[ -S $DIR/h$i.sock ]] && break
        sleep 0.1
    done
done
for i in 1 2 3; do
    VNETD_SOCKET=$DIR/h$i.sock "$BINARY" wait --timeout 60 >/dev/null ||
        die "host h$i did not converge: $(cat "$DIR/h$i.log")"
done

CONF=/run/vnetd-bgp/$TAG-branch1/bird.conf
CTL=/run/vnetd-bgp/$TAG-branch1/bird.ctl
cp "$CONF" "$DIR/bird.conf"
forwards() {
    VNETD_SOCKET=$DIR/h2.sock "$BINARY" routes --nic vm1 2>/dev/null |
        grep -q '172.30.0.0/24.*VirtualNetworkGateway'
}
now() { date +%s.%N; }
echo "run announce_s withdraw_s"
for run in $(seq "$RUNS"); do
    sed 's|  route 192.168.0.0/16 unreachable;|&\n  route 172.30.0.0/24 unreachable;|' \
        "$DIR/bird.conf" >"$CONF"
    start=$(now)
    birdc -s "$CTL" configure >/dev/null
    until forwards; do sleep 0.01; done
    announce=$(echo "$(now) - $start" | bc)
    cp "$DIR/bird.conf" "$CONF"
    start=$(now)
    birdc -s "$CTL" configure >/dev/null
    while forwards; do sleep 0.01; done
    withdraw=$(echo "$(now) - $start" | bc)
    printf '%s %.3f %.3f\n' "$run" "$announce" "$withdraw"
    sleep 1
done
