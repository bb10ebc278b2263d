#!/usr/bin/env bash
# Azure DNS's rate: dnsperf (a real load generator, Debian's `dnsperf`)
# inside a spoke VM of config/private-endpoints.yaml asks 168.63.129.16,
# through the fabric, a mix of the lab's names (the Private Endpoint's
# CNAME chain, a zone's A record, a VM name, a name nobody holds), for
# SECONDS with CLIENTS simulated clients, RUNS times. Prints each run's
# queries per second, lost queries and average latency, and the daemon's
# own count of what it answered.
#
# Needs root. Usage:
#   sudo scripts/bench-dns.sh [--binary PATH] [--seconds S] [--clients N] [--runs R] [--no-offload]
set -euo pipefail

BINARY=target/release/vnetd
seconds=10
clients=8
runs=3
extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) BINARY=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-offload) extra+=(--no-offload); shift ;;
        *) echo "usage: scripts/bench-dns.sh [--binary PATH] [--seconds S] [--clients N] [--runs R] [--no-offload]" >&2; exit 2 ;;
    esac
done
command -v dnsperf >/dev/null || { echo "bench-dns: needs dnsperf (apt-get install dnsperf)" >&2; exit 2; }
[[ -x $BINARY ]] || cargo build --release --quiet
here=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
NAME=bench-dns
source "$here/scripts/lib/lab.sh"
trap 'stop_lab; rm -rf "$WORK"' EXIT

prefix=bdns-
{ echo "netns_prefix: $prefix"; cat "$here/config/private-endpoints.yaml"; } >"$WORK/lab.yaml"
start_lab "$WORK/lab.yaml" "${extra[@]}"
cat >"$WORK/queries" <<'Q'
stcontoso.blob.core.windows.net A
shared.contoso.internal A
vm1.internal.cloudapp.net A
nobody-holds-this.example.com A
Q
vm="${prefix}vm1"
echo "dnsperf in $vm against 168.63.129.16: $clients clients, $seconds s, $runs runs $(uptime | sed 's/.*load average/load average/')"
printf '%-4s %-12s %-10s %s\n' run qps lost avg_latency
for run in $(seq 1 "$runs"); do
    out=$(ip netns exec "$vm" dnsperf -s 168.63.129.16 -d "$WORK/queries" -c "$clients" -l "$seconds" -q 500 2>&1)
    qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
    lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
    latency=$(awk '/Average Latency/ {print $4}' <<<"$out")
    printf '%-4s %-12s %-10s %s s\n' "$run" "$qps" "$lost" "$latency"
done
"$BINARY" stats | grep -E '^azure dns' || true
