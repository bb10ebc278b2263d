#!/usr/bin/env bash
# What iperf3 measures through an Azure Firewall, against its tier's
# documented throughput, with the fast path on and off, in one run:
#
#   basic     config/hub-spoke-firewall.yaml as it is (Basic: 250 Mbps):
#             one TCP stream from vm1 to vm2:443 through the firewall
#   standard  the same lab with sku_tier Standard (30 Gbps, far above what
#             one host carries): what the path through the firewall itself
#             carries
#
# Each figure is the median of --repeat runs of iperf3's own sum_received;
# the labs run under a per-run netns_prefix, so a running lab is never
# touched.
#
# Usage: sudo scripts/bench-firewall.sh [--seconds N] [--repeat N]
#            [--binary PATH]
set -euo pipefail

DURATION=10
REPEAT=3
BINARY=""
while (($#)); do
    case "$1" in
    --seconds) DURATION=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-firewall: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "bench-firewall: run as root" >&2; exit 1; }
cd "$(dirname "$0")/.."
if [[ -z $BINARY ]]; then
    BINARY=target/release/vnetd
    [[ -x $BINARY ]] || cargo build --release --bin vnetd >&2
fi

P="bfw$$"
WORK=$(mktemp -d)
export VNETD_SOCKET="$WORK/vnetd.sock"
cleanup() {
    stop_lab
    rm -rf "$WORK"
}
trap cleanup EXIT

NAME=bench-firewall
# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh

in_ns() { ip netns exec "$P-$1" "${@:2}"; }

# rate: Mbit/s vm2 received from vm1 through the firewall, one run.
rate() {
    in_ns vm1 iperf3 -c 10.2.1.4 -p 443 -t "$DURATION" -J |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))'
}

median() { python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }

{ echo "netns_prefix: $P-"; cat config/hub-spoke-firewall.yaml; } >"$WORK/basic.yaml"
sed 's/sku_tier: Basic/sku_tier: Standard/' "$WORK/basic.yaml" >"$WORK/standard.yaml"

row() { printf '%-9s %-12s %-44s %s\n' "$1" "$2" "$3" "$4"; }
row tier path measured against
row ---- ---- -------- -------
for tier in basic standard; do
    for path in offload no-offload; do
        args=()
        [[ $path == no-offload ]] && args=(--no-offload)
        start_lab "$WORK/$tier.yaml" "${args[@]}"
        in_ns vm2 iperf3 -s -D -B 10.2.1.4 -p 443 --logfile "$WORK/iperf.log"
        sleep 0.3
        runs=()
        for _ in $(seq 1 "$REPEAT"); do runs+=("$(rate)"); done
        pkill -f "iperf3 -s -D -B 10.2.1.4 -p 443" || true
        against="no cap in reach (30 Gbps)"
        [[ $tier == basic ]] && against="Basic: 250 Mbps"
        row "$tier" "$path" "median $(median "${runs[@]}") Mbit/s (runs: ${runs[*]})" "$against"
        stop_lab
    done
done
