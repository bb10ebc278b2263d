#!/usr/bin/env bash
# From a branch's announcement to forwarding: how long N prefixes (1000 by
# default, up to 4096) that a BIRD branch announces take to reach the
# effective routes of a spoke and to carry a packet, through a running
# hybrid lab.
#
# The lab is config/hybrid.yaml with the branch's address space widened to
# 172.16.0.0/12 and a second host in the last of the prefixes. Once BGP is
# up, N /24s (172.16.0.0/24 on, the last holding the host) are added to
# BIRD's announcements in one `birdc configure`; the clock runs from that
# command until
#   a) `vnetd routes --nic vm1` lists all N as VirtualNetworkGateway, and
#   b) vm1 reaches the host (ping, polled every 20 ms).
# Repeated --runs times (the prefixes withdrawn and the lab settled between
# runs); prints each run and the median.
#
# Usage: sudo scripts/bench-bgp-convergence.sh [--runs N] [--prefixes N]
#            [--binary PATH]
set -euo pipefail

runs=3
count=1000
binary=./target/release/vnetd
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --prefixes) count=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "bench-bgp-convergence: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 4096 ] ||
    { echo "bench-bgp-convergence: --prefixes takes 1 to 4096" >&2; exit 2; }
last=$((count - 1))
far="172.$((16 + last / 256)).$((last % 256)).10"
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-bgp-convergence: run as root" >&2; exit 1; }
[ -x "$binary" ] || cargo build --release -q

work=$(mktemp -d)
export VNETD_SOCKET=$work/vnetd.sock
sed -e 's#address_space: \[192.168.0.0/16\]#address_space: [192.168.0.0/16, 172.16.0.0/12]#' \
    -e "s#      - {name: onprem-vm, private_ip_address: 192.168.1.10, netns: onprem-vm}#&\n      - {name: far-host, private_ip_address: $far, netns: far-host}#" \
    config/hybrid.yaml > "$work/lab.yaml"
grep -q far-host "$work/lab.yaml" || { echo "bench-bgp-convergence: could not edit the lab" >&2; exit 1; }

"$binary" run "$work/lab.yaml" > "$work/run.log" 2>&1 &
lab=$!
cleanup() { kill -INT "$lab" 2>/dev/null; wait "$lab" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
count_172() {
    "$binary" routes --nic vm1 --json | grep -Eo '"172\.(1[6-9]|2[0-9]|3[01])\.[0-9]+\.0/24"' | wc -l
}
wait_until() { # seconds, command...
    local limit=$1; shift
    local start; start=$(now)
    until "$@"; do
        if [ "$(echo "$(now) - $start > $limit" | bc)" = 1 ]; then return 1; fi
        sleep 0.02
    done
}
session_up() { "$binary" gateway bgp-peer-status --gateway hub-vpngw 2>/dev/null | grep -q Connected; }
wait_until 60 session_up || { echo "bench-bgp-convergence: BGP never came up" >&2; cat "$work/run.log" >&2; exit 1; }

bird_dir=/run/vnetd-bgp/branch1
base_config=$(cat "$bird_dir/bird.conf")
prefixes=$(for i in $(seq 0 "$last"); do echo "  route 172.$((16 + i / 256)).$((i % 256)).0/24 unreachable;"; done)

results=()
for run in $(seq 1 "$runs"); do
    printf '%s\n' "$base_config" > "$bird_dir/bird.conf"
    birdc -s "$bird_dir/bird.ctl" configure > /dev/null
    routes_gone() { [ "$(count_172)" -eq 0 ]; }
    wait_until 30 routes_gone || { echo "bench-bgp-convergence: routes never left" >&2; exit 1; }
    sleep 1
    printf '%s\n' "$prefixes" > "$work/prefixes"
    awk -v routes="$work/prefixes" \
        '{print} /route 192.168.0.0\/16 unreachable;/ {while ((getline line < routes) > 0) print line}' \
        <<< "$base_config" > "$bird_dir/bird.conf"
    start=$(now)
    birdc -s "$bird_dir/bird.ctl" configure > /dev/null
    routes_in() { [ "$(count_172)" -ge "$count" ]; }
    reaches() { ip netns exec vm1 ping -c1 -W0.2 "$far" > /dev/null 2>&1; }
    wait_until 30 routes_in || { echo "bench-bgp-convergence: routes never arrived ($(count_172) of $count)" >&2; "$binary" gateway learned-routes --gateway hub-vpngw 2>&1 | tail -3 >&2; tail -5 "$work/run.log" >&2; exit 1; }
    routed=$(now)
    wait_until 30 reaches || { echo "bench-bgp-convergence: never forwarded" >&2; exit 1; }
    forwarded=$(now)
    r=$(echo "$routed - $start" | bc)
    f=$(echo "$forwarded - $start" | bc)
    printf 'run %d: %d prefixes in effective routes after %.2f s, forwarding after %.2f s\n' "$run" "$count" "$r" "$f"
    results+=("$f")
done
median=$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'median, announcement to forwarding: %.2f s (goal: 2 s for 1000, 5 s for 4000)\n' "$median"
