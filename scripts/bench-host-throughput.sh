#!/usr/bin/env bash
# One iperf3 TCP stream between two hosts of a spread lab, against a plain
# kernel VXLAN between the same two hosts, in the same run.
#
# Builds three hosts as namespaces on an underlay bridge (MTU 1550), as
# vnetd's tests do, runs config/hub-spoke.yaml over them (hub on h1,
# spoke1 on h2, spoke2 on h3) with one `vnetd run --host` in each, and a
# plain VXLAN device pair between h2 and h1 (made in each host namespace,
# moved into one of its own, dstport 4790). Then RUNS times, interleaved:
# vm1 (h2) -> shared1 (h1) through vnetd, and the same direction over the
# plain VXLAN. Prints each figure (iperf3's sum_received, Gbit/s), the
# medians, and both hosts' counters.
#
# Everything carries a per-run prefix (ht<PID>-) and is removed on any exit.
#
# Usage: sudo scripts/bench-host-throughput.sh [--runs R] [--seconds S] [--binary PATH] [--no-offload]
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-host-throughput.sh [options]   (as root)

  --runs R           streams of each kind (default 3)
  --seconds S        length of each stream (default 10)
  --no-offload       run vnetd with --no-offload (default: offload on)
  --binary PATH      vnetd binary (default ./target/release/vnetd)
  -h, --help         this text
EOF
}

die() {
    echo "bench-host-throughput: $*" >&2
    exit 1
}

RUNS=3
SECONDS_EACH=10
BINARY=./target/release/vnetd
OFFLOAD=()
while (($#)); do
    case $1 in
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --seconds) SECONDS_EACH=${2:?--seconds needs a value}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --no-offload) OFFLOAD=(--no-offload); shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive number"
[[ $(id -u) == 0 ]] || die "must run as root (it builds namespaces)"
[[ -x $BINARY ]] || die "no vnetd binary at $BINARY (cargo build --release)"
BINARY=$(realpath "$BINARY")

TAG=ht$$
DIR=$(mktemp -d)
FILE=$DIR/lab.yaml
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for f in "$DIR"/iperf3-*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
    for i in 1 2; do ip netns del "$TAG-px$i" 2>/dev/null || true; done
    for i in 1 2 3; do
        VNETD_SOCKET=$DIR/h$i.sock nsenter --net=/run/netns/$TAG-host-h$i \
            "$BINARY" down "$FILE" --host h$i >/dev/null 2>&1 || true
        ip netns del "$TAG-host-h$i" 2>/dev/null || true
    done
    ip netns del "$TAG-underlay" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

{
    echo "netns_prefix: $TAG-"
    sed -e 's/^  - name: hub$/  - name: hub\n    host: h1/' \
        -e 's/^  - name: spoke1$/  - name: spoke1\n    host: h2/' \
        -e 's/^  - name: spoke2$/  - name: spoke2\n    host: h3/' config/hub-spoke.yaml
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
        "$BINARY" run "$FILE" --host h$i --workers 1 "${OFFLOAD[@]}" >"$DIR/h$i.log" 2>&1 &
    PIDS+=($!)
done
for i in 1 2 3; do
    for _ in $(seq 600); do
        grep -q "lab up" "$DIR/h$i.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "lab up" "$DIR/h$i.log" || die "host h$i did not come up: $(cat "$DIR/h$i.log")"
done

# The plain VXLAN pair: made in each host namespace (its UDP socket stays
# there), moved into a namespace of its own.
for i in 1 2; do
    other=$((3 - i))
    ip netns add "$TAG-px$i"
    ip -n "$TAG-host-h$i" link add pvx type vxlan id 4242 local "192.0.2.$i" \
        remote "192.0.2.$other" dstport 4790 dev eth0
    ip -n "$TAG-host-h$i" link set pvx netns "$TAG-px$i"
    ip -n "$TAG-px$i" addr add "10.99.0.$i/24" dev pvx
    ip -n "$TAG-px$i" link set pvx up
    ip -n "$TAG-px$i" link set lo up
done
ip netns exec "$TAG-shared1" iperf3 -s -D -B 10.0.2.4 -I "$DIR/iperf3-vnetd.pid"
ip netns exec "$TAG-px1" iperf3 -s -D -B 10.99.0.1 -I "$DIR/iperf3-plain.pid"
sleep 1
ip netns exec "$TAG-vm1" ping -c1 -W2 10.0.2.4 >/dev/null || die "vm1 does not reach shared1"
ip netns exec "$TAG-px2" ping -c1 -W2 10.99.0.1 >/dev/null || die "the plain VXLAN does not carry"

gbps() {
    python3 -c 'import json, sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
vnetd=()
plain=()
for _ in $(seq "$RUNS"); do
    vnetd+=("$(ip netns exec "$TAG-vm1" iperf3 -c 10.0.2.4 -t "$SECONDS_EACH" -J | gbps)")
    plain+=("$(ip netns exec "$TAG-px2" iperf3 -c 10.99.0.1 -t "$SECONDS_EACH" -J | gbps)")
done
echo "vnetd ${OFFLOAD[*]:-(offload)} vm1 (h2) -> shared1 (h1): ${vnetd[*]} Gbit/s, median $(median "${vnetd[@]}")"
echo "plain kernel VXLAN h2 -> h1: ${plain[*]} Gbit/s, median $(median "${plain[@]}")"
for h in h2 h1; do
    VNETD_SOCKET=$DIR/$h.sock "$BINARY" stats | grep -E "^(host|NIC|vm1|shared1|offload|underlay)"
done
