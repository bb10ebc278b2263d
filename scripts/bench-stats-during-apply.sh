#!/usr/bin/env bash
# How long `vnetd stats` takes to answer while a large `apply` runs.
#
# Starts a lab of one NIC (one VNet, 10.0.0.0/16, 250 NICs per /24
# subnet), then applies the same lab with N NICs (N-1 namespaces to
# build) and, for as long as that apply runs, asks `vnetd stats` over
# and over, each time from the command's start to its exit. Prints:
#
#   apply_s    seconds the apply took (command start to exit)
#   asked      how many `stats` answered while the apply ran
#   median_ms  their median answer time, p95_ms, max_ms
#
# Every `stats` must answer while the apply runs (none waits for it); the
# answer time includes starting the `vnetd` binary.
#
# Namespaces carry a per-run prefix (sa<PID>-), so a lab already running
# is never touched.
#
# Usage: sudo scripts/bench-stats-during-apply.sh [--binary PATH] [N]
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-stats-during-apply.sh [options] [N]   (as root)

  N                  NICs after the apply (2..4096, default 300)
  --binary PATH      vnetd binary (default ./target/release/vnetd)
  -h, --help         this text
EOF
}

die() {
    echo "bench-stats-during-apply: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

BINARY=""
NICS=""
while (($#)); do
    case $1 in
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [[ -z $NICS ]] || { usage >&2; exit 2; }; NICS=$1; shift ;;
    esac
done
NICS=${NICS:-300}
is_uint "$NICS" && ((NICS >= 2 && NICS <= 4096)) || { usage >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "must run as root (it creates network namespaces)"

if [[ -n $BINARY && $BINARY != /* ]]; then
    BINARY=$PWD/$BINARY
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BINARY=${BINARY:-$REPO/target/release/vnetd}
[[ -x $BINARY ]] || die "$BINARY is not an executable (cargo build --release)"

PFX=sa$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-stats-apply.XXXXXX")
SMALL=$WORK/small.yaml
LARGE=$WORK/large.yaml
export VNETD_SOCKET=$WORK/vnetd.sock
VNETD_PID=""
APPLY_PID=""

cleanup() {
    local rc=$?
    set +e
    [[ -z $APPLY_PID ]] || wait "$APPLY_PID" 2>/dev/null
    if [[ -n $VNETD_PID ]]; then
        kill -TERM "$VNETD_PID" 2>/dev/null
        wait "$VNETD_PID" 2>/dev/null
    fi
    # Only the prefixed namespaces of our generated file, and only those
    # this program marked as its own.
    "$BINARY" down "$LARGE" >/dev/null 2>&1
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# One VNet, 250 NICs per /24 subnet, the first `$1` of them.
lab() {
    local n=$1
    echo "vnets:"
    echo "  - name: scale"
    echo "    address_space: [10.0.0.0/16]"
    echo "    location: westeurope"
    echo "    subnets:"
    for ((s = 0; s * 250 < NICS; s++)); do
        echo "      - {name: s$s, address_prefixes: [10.0.$s.0/24]}"
    done
    echo "network_interfaces:"
    for ((i = 0; i < n; i++)); do
        s=$((i / 250)) h=$((i % 250 + 4))
        echo "  - {name: n$i, subnet: scale/s$s, private_ip_address: 10.0.$s.$h, netns: $PFX-n$i}"
    done
}
lab 1 >"$SMALL"
lab "$NICS" >"$LARGE"
for ((i = 0; i < NICS; i++)); do
    [[ ! -e /run/netns/$PFX-n$i ]] || die "network namespace $PFX-n$i already exists; not touching it"
done

now_ns() { date +%s%N; }

"$BINARY" run "$SMALL" >"$WORK/run.out" 2>"$WORK/run.err" &
VNETD_PID=$!
until grep -q "lab up" "$WORK/run.out" 2>/dev/null; do
    if ! kill -0 "$VNETD_PID" 2>/dev/null; then
        cat "$WORK/run.err" >&2
        VNETD_PID=""
        die "vnetd exited before the lab was up"
    fi
    sleep 0.02
done

echo "# vnetd $(basename "$BINARY"), apply 1 -> $NICS NICs, $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
started=$(now_ns)
"$BINARY" apply "$LARGE" >"$WORK/apply.out" 2>"$WORK/apply.err" &
APPLY_PID=$!
: >"$WORK/stats.ms"
while kill -0 "$APPLY_PID" 2>/dev/null; do
    t0=$(now_ns)
    "$BINARY" stats >/dev/null 2>>"$WORK/stats.err" || die "vnetd stats failed: $(cat "$WORK/stats.err")"
    t1=$(now_ns)
    # Counted only when the apply still ran once `stats` had answered.
    if kill -0 "$APPLY_PID" 2>/dev/null; then
        echo $(((t1 - t0) / 1000)) >>"$WORK/stats.ms"
    fi
    sleep 0.05
done
rc=0
wait "$APPLY_PID" || rc=$?
APPLY_PID=""
finished=$(now_ns)
((rc == 0)) || { cat "$WORK/apply.err" >&2; die "vnetd apply exited with status $rc"; }

printf '%8s %6s %10s %8s %8s\n' apply_s asked median_ms p95_ms max_ms
sort -n "$WORK/stats.ms" | awk -v s="$started" -v f="$finished" '
    { v[NR] = $1 / 1000 }
    END {
        if (NR == 0) { printf "%8.2f %6d %10s %8s %8s\n", (f - s) / 1e9, 0, "-", "-", "-"; exit }
        p95 = int(NR * 0.95); if (p95 < 1) p95 = 1
        printf "%8.2f %6d %10.1f %8.1f %8.1f\n", (f - s) / 1e9, NR, v[int((NR + 1) / 2)], v[p95], v[NR]
    }'
