#!/usr/bin/env bash
# How many packets of a new TCP flow go through the daemon before its
# entry carries the rest: the lab idles, then one iperf3 transfer runs from
# vm1 to shared1 across the peering, and the difference between what vm1
# sent and what the kernel's entries carried of it is printed, with the
# transfer's retransmits and rate. One lab per binary, --runs transfers each,
# each after --idle seconds of nothing.
#
# Usage: sudo scripts/bench-offload-start.sh [--binary PATH] [--compare PATH]
#            [--runs N] [--seconds N] [--idle N]
set -euo pipefail

NAME=bench-offload-start
REPO=$(cd "$(dirname "$0")/.." && pwd)
BINARY=$REPO/target/release/vnetd
COMPARE=""
RUNS=3
SECONDS_PER_RUN=3
IDLE=2
COMMAND="scripts/$NAME.sh $*"
while (($#)); do
    case $1 in
    --binary) BINARY=${2:?}; shift 2 ;;
    --compare) COMPARE=${2:?}; shift 2 ;;
    --runs) RUNS=${2:?}; shift 2 ;;
    --seconds) SECONDS_PER_RUN=${2:?}; shift 2 ;;
    --idle) IDLE=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "$NAME: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "$NAME: must run as root" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "$NAME: needs iperf3" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX")
export VNETD_SOCKET=$WORK/vnetd.sock
PFX=vos$$
# shellcheck source=scripts/lib/lab.sh
source "$REPO/scripts/lib/lab.sh"
trap 'stop_lab; rm -rf "$WORK"' EXIT

# The built-in lab, each NIC's namespace under this run's prefix.
{ echo "netns_prefix: $PFX-"; cat "$REPO/config/hub-spoke.yaml"; } >"$WORK/lab.yaml"

measure() {
    BINARY=$1
    start_lab "$WORK/lab.yaml"
    local run
    for ((run = 1; run <= RUNS; run++)); do
        sleep "$IDLE"
        "$BINARY" stats --json >"$WORK/before.json"
        ip netns exec "$PFX-shared1" iperf3 -s -1 >/dev/null 2>&1 &
        local server=$!
        for _ in $(seq 1 50); do
            ip netns exec "$PFX-shared1" ss -ltn | grep -q ':5201 ' && break
            sleep 0.1
        done
        ip netns exec "$PFX-vm1" iperf3 -c 10.0.2.4 -t "$SECONDS_PER_RUN" -J >"$WORK/iperf3.json"
        wait "$server" || true
        "$BINARY" stats --json >"$WORK/after.json"
        python3 - "$WORK" "$(basename "$BINARY")" "$run" <<'EOF'
import json, sys
work, binary, run = sys.argv[1:]
before = json.load(open(f"{work}/before.json"))["nics"]["vm1"]
after = json.load(open(f"{work}/after.json"))["nics"]["vm1"]
transfer = json.load(open(f"{work}/iperf3.json"))["end"]
sent = after["packets_sent"] - before["packets_sent"]
carried = after["offloaded_packets_sent"] - before["offloaded_packets_sent"]
print(f"| {binary} | {run} | {sent - carried} | {sent} | "
      f"{transfer['sum_sent']['retransmits']} | "
      f"{transfer['sum_received']['bits_per_second'] / 1e9:.2f} |")
EOF
    done
    stop_lab
}

echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  nproc $(nproc), kernel $(uname -r)"
echo "command:  $COMMAND"
echo
echo "| binary | run | vm1's packets through the daemon | vm1's packets | retransmits | Gbit/s |"
echo "|---|---|---|---|---|---|"
measure "$BINARY"
if [[ -n $COMPARE ]]; then measure "$COMPARE"; fi
