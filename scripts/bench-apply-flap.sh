#!/usr/bin/env bash
# How long `vnetd apply` takes while a site router flaps 100 prefixes, next
# to the same lab at rest.
#
# The lab is config/hybrid.yaml with the branch's address space widened to
# 172.16.0.0/12. Once BGP is up, N applies (--applies, default 30) are
# timed, each switching spoke2's route table between no route and one
# route (a change that keeps the hybrid part): first with the branch
# quiet, then while a loop makes BIRD announce and withdraw 100 /24s
# (172.16.0.0/24 ... 172.16.99.0/24) in turn, one `birdc configure` every
# --flap-ms (default 100 ms). Each apply is timed from the command's start
# to its exit (it returns once every worker forwards with the new plane).
# Prints the median and 95th percentile of both series.
#
# Usage: sudo scripts/bench-apply-flap.sh [--applies N] [--flap-ms MS] [--binary PATH]
set -euo pipefail

applies=30
flap_ms=100
binary=./target/release/vnetd
while [ $# -gt 0 ]; do
    case "$1" in
        --applies) applies=$2; shift 2 ;;
        --flap-ms) flap_ms=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "bench-apply-flap: unknown option $1" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-apply-flap: run as root" >&2; exit 1; }
[ -x "$binary" ] || cargo build --release -q

work=$(mktemp -d)
export VNETD_SOCKET=$work/vnetd.sock
sed -e 's#address_space: \[192.168.0.0/16\]#address_space: [192.168.0.0/16, 172.16.0.0/12]#' \
    config/hybrid.yaml > "$work/a.yaml"
grep -q 172.16.0.0/12 "$work/a.yaml" || { echo "bench-apply-flap: could not edit the lab" >&2; exit 1; }
sed -e 's#^    routes: \[\]#    routes: [{name: via-hub, address_prefix: 10.9.0.0/16, next_hop_type: None}]#' \
    "$work/a.yaml" > "$work/b.yaml"
! cmp -s "$work/a.yaml" "$work/b.yaml" || { echo "bench-apply-flap: could not edit the route table" >&2; exit 1; }

"$binary" run "$work/a.yaml" > "$work/run.log" 2>&1 &
lab=$!
flapper=
cleanup() {
    [ -n "$flapper" ] && kill "$flapper" 2>/dev/null && wait "$flapper" 2>/dev/null
    kill -INT "$lab" 2>/dev/null; wait "$lab" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
wait_until() { # seconds, command...
    local limit=$1; shift
    local start; start=$(now)
    until "$@"; do
        if [ "$(echo "$(now) - $start > $limit" | bc)" = 1 ]; then return 1; fi
        sleep 0.05
    done
}
session_up() { "$binary" gateway bgp-peer-status --gateway hub-vpngw 2>/dev/null | grep -q Connected; }
wait_until 60 session_up || { echo "bench-apply-flap: BGP never came up" >&2; cat "$work/run.log" >&2; exit 1; }

bird_dir=/run/vnetd-bgp/branch1
base_config=$(cat "$bird_dir/bird.conf")
prefixes=$(for i in $(seq 0 99); do echo "  route 172.16.$i.0/24 unreachable;"; done)
flapped_config=$(awk -v routes="$prefixes" '{print} /route 192.168.0.0\/16 unreachable;/ {print routes}' <<< "$base_config")
[ "$flapped_config" != "$base_config" ] || { echo "bench-apply-flap: could not edit BIRD's configuration" >&2; exit 1; }

# Times N applies; prints one duration (seconds) a line.
time_applies() {
    for i in $(seq 1 "$applies"); do
        local file=$work/a.yaml
        [ $((i % 2)) = 1 ] && file=$work/b.yaml
        local start; start=$(now)
        "$binary" apply "$file" > /dev/null
        echo "$(now) - $start" | bc
    done
}
summary() { # label, durations on stdin
    sort -n | awk -v label="$1" '{a[NR]=$1} END {
        m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]
        printf "%s: %d applies, median %.1f ms, p95 %.1f ms\n", label, NR, m * 1000, p * 1000 }'
}

quiet=$(time_applies)
flap() {
    while true; do
        printf '%s\n' "$flapped_config" > "$bird_dir/bird.conf"
        birdc -s "$bird_dir/bird.ctl" configure > /dev/null
        sleep "$(echo "$flap_ms / 1000" | bc -l)"
        printf '%s\n' "$base_config" > "$bird_dir/bird.conf"
        birdc -s "$bird_dir/bird.ctl" configure > /dev/null
        sleep "$(echo "$flap_ms / 1000" | bc -l)"
    done
}
flap &
flapper=$!
sleep 2
flapping=$(time_applies)
kill "$flapper"; wait "$flapper" 2>/dev/null || true
flapper=
printf '%s\n' "$base_config" > "$bird_dir/bird.conf"
birdc -s "$bird_dir/bird.ctl" configure > /dev/null

summary "branch quiet" <<< "$quiet"
summary "branch flapping 100 prefixes every ${flap_ms} ms" <<< "$flapping"
