#!/usr/bin/env bash
# Bring-up and teardown of a lab of N NICs, and the daemon's memory with them.
#
# Generates one VNet, 10.0.0.0/16, with 250 NICs in each of as many /24
# subnets as N needs, runs
# `vnetd run` on it in the background and prints:
#
#   up    seconds from starting vnetd until it printed "lab up"
#   rss   the daemon's VmRSS once up (MiB); most of it is the flow table, a
#         fixed cost, so compare two sizes for the cost of one NIC
#   down  seconds from SIGTERM until the process exited and none of its
#         namespaces is left under /run/netns
#   apply with --apply M: seconds `vnetd apply` took to grow the running
#         lab by M NICs (then "down" removes N + M)
#   idle  with --idle S: the daemon's CPU use (% of one core) over S
#         seconds of the lab up and idle, before any apply
#
# Namespaces carry a per-run prefix (sc<PID>-), so a lab already running is
# never touched.
#
# With offload on (vnetd's default) each NIC's eth0 is a veth on the
# lab's fabric; --no-offload runs the lab with every NIC a TUN eth0.
#
# Usage: sudo scripts/bench-scale.sh [--binary PATH] [--workers N] [--runs R] [--no-offload] [--apply M] [--idle S] N
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-scale.sh [options] N   (as root)

  N                  number of NICs (1..16384)
  --runs R           repeat the measurement R times (default 1)
  --no-offload       run vnetd with --no-offload (default: offload on)
  --apply M          once up, time `vnetd apply` of the same lab with M more NICs
  --idle S           once up, measure the daemon's CPU use over S idle seconds
  --workers N        vnetd forwarding threads (default: vnetd's own)
  --binary PATH      vnetd binary (default ./target/release/vnetd)
  -h, --help         this text
EOF
}

die() {
    echo "bench-scale: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

BINARY=""
WORKERS=""
RUNS=1
NICS=""
OFFLOAD=on
GROW=0
IDLE=0
while (($#)); do
    case $1 in
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --no-offload) OFFLOAD=off; shift ;;
    --apply) GROW=${2:?--apply needs a value}; shift 2 ;;
    --idle) IDLE=${2:?--idle needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [[ -z $NICS ]] || { usage >&2; exit 2; }; NICS=$1; shift ;;
    esac
done
is_uint "$NICS" && ((NICS >= 1 && NICS <= 16384)) || { usage >&2; exit 2; }
is_uint "$RUNS" && ((RUNS >= 1)) || die "--runs must be a whole number >= 1"
is_uint "$IDLE" || die "--idle takes a whole number of seconds"
is_uint "$GROW" && ((NICS + GROW <= 16384)) || die "--apply takes a number, with N + M <= 16384"
[[ -z $WORKERS ]] || { is_uint "$WORKERS" && ((WORKERS >= 1)); } || die "--workers takes a number >= 1"

[[ $(id -u) -eq 0 ]] || die "must run as root (it creates network namespaces)"

if [[ -n $BINARY && $BINARY != /* ]]; then
    BINARY=$PWD/$BINARY
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BINARY=${BINARY:-$REPO/target/release/vnetd}
[[ -x $BINARY ]] || die "$BINARY is not an executable (cargo build --release)"

PFX=sc$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-scale.XXXXXX")
LAB_CONFIG=$WORK/lab.yaml
GROWN_CONFIG=$WORK/grown.yaml
export VNETD_SOCKET=$WORK/vnetd.sock
VNETD_PID=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $VNETD_PID ]]; then
        kill -TERM "$VNETD_PID" 2>/dev/null
        wait "$VNETD_PID" 2>/dev/null
    fi
    # Only the prefixed namespaces named in our generated config, and only
    # those this program marked as its own.
    "$BINARY" down "$LAB_CONFIG" >/dev/null 2>&1
    [[ ! -e $GROWN_CONFIG ]] || "$BINARY" down "$GROWN_CONFIG" >/dev/null 2>&1
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# One VNet, 250 NICs per /24 subnet: lab_file N writes a lab of N NICs.
lab_file() {
    local total=$1 s h i
    echo "vnets:"
    echo "  - name: scale"
    echo "    address_space: [10.0.0.0/16]"
    echo "    location: westeurope"
    echo "    subnets:"
    for ((s = 0; s * 250 < total; s++)); do
        echo "      - {name: s$s, address_prefixes: [10.0.$s.0/24]}"
    done
    echo "network_interfaces:"
    for ((i = 0; i < total; i++)); do
        s=$((i / 250)) h=$((i % 250 + 4))
        echo "  - {name: n$i, subnet: scale/s$s, private_ip_address: 10.0.$s.$h, netns: $PFX-n$i}"
    done
}
lab_file "$NICS" >"$LAB_CONFIG"
((GROW == 0)) || lab_file $((NICS + GROW)) >"$GROWN_CONFIG"

for ((i = 0; i < NICS + GROW; i++)); do
    [[ ! -e /run/netns/$PFX-n$i ]] || die "network namespace $PFX-n$i already exists; not touching it"
done

ours_left() {
    local n
    n=$(find /run/netns -maxdepth 1 -name "$PFX-*" 2>/dev/null | wc -l)
    echo "$n"
}

now() { date +%s.%N; }

echo "# vnetd $(basename "$BINARY"), $NICS NICs, offload $OFFLOAD, $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %8s %8s %10s %8s %8s\n' run up_s down_s rss_mib apply_s idle_cpu
args=(run "$LAB_CONFIG")
[[ -z $WORKERS ]] || args+=(--workers "$WORKERS")
if [[ $OFFLOAD == on ]]; then unset VNETD_NO_OFFLOAD; else args+=(--no-offload); fi
for ((r = 1; r <= RUNS; r++)); do
    out=$WORK/run$r.out
    start=$(now)
    "$BINARY" "${args[@]}" >"$out" 2>"$WORK/run$r.err" &
    VNETD_PID=$!
    until grep -q "lab up" "$out" 2>/dev/null; do
        if ! kill -0 "$VNETD_PID" 2>/dev/null; then
            cat "$WORK/run$r.err" >&2
            VNETD_PID=""
            die "vnetd exited before the lab was up"
        fi
        sleep 0.02
    done
    up=$(now)
    rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$VNETD_PID/status")
    idle=-
    if ((IDLE > 0)); then
        ticks() { awk '{print $14 + $15}' "/proc/$VNETD_PID/stat"; }
        t0=$(ticks)
        sleep "$IDLE"
        idle=$(awk -v a="$t0" -v b="$(ticks)" -v hz="$(getconf CLK_TCK)" -v s="$IDLE" \
            'BEGIN { printf "%.2f%%", (b - a) * 100 / hz / s }')
    fi
    applied=-
    if ((GROW > 0)); then
        before_apply=$(now)
        "$BINARY" apply "$GROWN_CONFIG" >"$WORK/apply$r.out" 2>&1 || {
            cat "$WORK/apply$r.out" >&2
            die "vnetd apply failed"
        }
        applied=$(awk -v a="$before_apply" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
    fi
    stop=$(now)
    kill -TERM "$VNETD_PID"
    rc=0
    wait "$VNETD_PID" || rc=$?
    VNETD_PID=""
    ((rc == 0)) || { cat "$WORK/run$r.err" >&2; die "vnetd exited with status $rc"; }
    while (($(ours_left) > 0)); do sleep 0.02; done
    gone=$(now)
    awk -v r="$r" -v s="$start" -v u="$up" -v t="$stop" -v g="$gone" -v k="$rss_kib" -v a="$applied" -v i="$idle" \
        'BEGIN { printf "%-4s %8.2f %8.2f %10.1f %8s %8s\n", r, u - s, g - t, k / 1024, a, i }'
done
