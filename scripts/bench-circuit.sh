#!/usr/bin/env bash
# How close TCP gets to an ExpressRoute circuit's bandwidth: the built-in
# ExpressRoute example (config/expressroute.yaml) with its circuit set to
# the chosen rate, one iperf3 TCP stream from the datacenter host to the
# hub VM, and the figure iperf3 reports. The end-to-end test only checks
# the cap (never more than 5 % past it); how near TCP comes to it depends
# on the machine, so it is measured here.
#
# With --global-reach the lab is config/avs-expressroute.yaml instead, the
# datacenter's circuit at the chosen rate (the private cloud's runs at 10
# Gbps), and the stream goes from the datacenter host to the private
# cloud's VM over Global Reach: customer edge, Microsoft's edge routers,
# Tier-0, never the hub's gateway (its SKU carries 1000 Mbps), so above
# 1000 Mbps the figure shows which of the two bounds it.
#
# Every namespace is renamed under a per-run prefix, so a running lab is
# never touched; the lab is removed on exit, also after a failure.
#
# Usage: sudo scripts/bench-circuit.sh [--mbps N] [--seconds N] [--runs N]
#            [--global-reach] [--binary PATH]
set -euo pipefail

MBPS=500
SECONDS_PER_RUN=5
RUNS=3
BINARY=""
EXAMPLE=config/expressroute.yaml
SERVER_HOST=hub-vm
TARGET=10.0.1.4
WHAT="datacenter host -> hub VM"
while [ $# -gt 0 ]; do
    case "$1" in
    --mbps) MBPS="$2"; shift 2 ;;
    --seconds) SECONDS_PER_RUN="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --binary) BINARY="$2"; shift 2 ;;
    --global-reach)
        EXAMPLE=config/avs-expressroute.yaml
        SERVER_HOST=avs-vm
        TARGET=10.110.1.10
        WHAT="datacenter host -> private cloud VM over Global Reach"
        shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench-circuit: unknown option $1" >&2; exit 1 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench-circuit: run as root" >&2; exit 1; }
cd "$(dirname "$0")/.."
if [ -z "$BINARY" ]; then
    BINARY=./target/release/vnetd
    [ -x "$BINARY" ] || cargo build --release --quiet
fi

prefix="bc$$"
work=$(mktemp -d)
config="$work/circuit.yaml"
socket="$work/vnetd.sock"
# Every `netns: NAME` gets the prefix, each NIC an explicit namespace
# (by default a NIC's namespace is its name), each gateway a prefixed name
# (its instances' namespaces are named after it), the circuit its rate.
python3 - "$prefix" "$MBPS" "$EXAMPLE" >"$config" <<'PY'
import re, sys
prefix, mbps, path = sys.argv[1:4]
text = open(path).read()
gateways = re.findall(r"^virtual_network_gateways:\n  - name: (\S+)$", text, re.M)
for gateway in gateways:
    text = re.sub(rf"\b{re.escape(gateway)}\b", f"{prefix}-{gateway}", text)
text = text.replace("netns: ", f"netns: {prefix}-")
# What takes its namespace from its name (a private cloud's router and hosts).
text = f"netns_prefix: {prefix}-\n" + text
text = re.sub(r"bandwidth_in_mbps: \d+", f"bandwidth_in_mbps: {mbps}", text)
text = re.sub(r"^(network_interfaces:\n(?:  .*\n)*)", lambda m: re.sub(
    r"^  - name: (\S+)\n", rf"  - name: \1\n    netns: {prefix}-\1\n", m.group(1), flags=re.M),
    text, flags=re.M)
sys.stdout.write(text)
PY

cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    VNETD_SOCKET="$socket" "$BINARY" down "$config" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

VNETD_SOCKET="$socket" "$BINARY" run "$config" >"$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
    grep -q "lab up" "$work/run.log" && break
    sleep 0.5
done
grep -q "lab up" "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
host="$prefix-dc-host"
for _ in $(seq 1 120); do
    ip netns exec "$host" ping -c 1 -W 1 "$TARGET" >/dev/null 2>&1 && break
done
ip netns exec "$prefix-$SERVER_HOST" iperf3 -s -D -B "$TARGET" >/dev/null
sleep 0.5
echo "circuit ${MBPS} Mbps, one TCP stream, $WHAT, ${SECONDS_PER_RUN} s"
for run in $(seq 1 "$RUNS"); do
    bps=$(ip netns exec "$host" iperf3 -c "$TARGET" -t "$SECONDS_PER_RUN" -J |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
    python3 -c "import sys; b=float(sys.argv[1]); m=float(sys.argv[2]); print(f'run $run: {b/1e6:.1f} Mbps ({b/1e6/m*100:.1f} % of the circuit)')" "$bps" "$MBPS"
done
pkill -f "iperf3 -s -D -B $TARGET" || true
