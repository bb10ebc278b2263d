#!/usr/bin/env bash
# The kernel's own time for what a lab of N NICs with offload asks of it,
# with nothing of vnetd running: one fabric namespace, and per NIC a
# namespace, a veth whose host end sits in the fabric (MTU 65535, up) and
# a single-queue TUN device in the fabric (up), all made by one `ip -batch`
# process each. eth0 is left down and without an address, so this is a
# floor under what `scripts/bench-scale.sh N` measures, not the same work.
#
# `ip netns add` stops at about 10,000 namespaces on this machine (its
# mounts), so N above that is refused; vnetd's own namespaces do not have
# that limit.
#
# Usage: sudo scripts/bench-scale-ceiling.sh N   (N <= 9000)
set -euo pipefail
N=${1:?usage: bench-scale-ceiling.sh N}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 1 && N <= 9000)) || { echo "N: 1..9000" >&2; exit 1; }
P="ceil$$"
WORK=$(mktemp -d)
cleanup() {
    ip netns list | awk '{print $1}' | grep -E "^${P}" | sed 's/^/netns delete /' > "$WORK/del" || true
    ip -force -b "$WORK/del" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for i in $(seq 1 "$N"); do
    echo "netns add ${P}n$i"
    echo "link add vh$i netns ${P}fab mtu 65535 type veth peer name eth0 netns ${P}n$i"
done > "$WORK/ports"
for i in $(seq 1 "$N"); do
    echo "tuntap add dev vt$i mode tun vnet_hdr"
    echo "link set vt$i up"
    echo "link set vh$i up"
done > "$WORK/fabric"
start=$(date +%s.%N)
ip netns add "${P}fab"
ip -b "$WORK/ports"
ip -n "${P}fab" -b "$WORK/fabric"
end=$(date +%s.%N)
printf 'ceiling  %d ports  %.2f s\n' "$N" "$(echo "$end - $start" | bc)"
