#!/usr/bin/env bash
# What the live page costs the daemon: its CPU use (% of one core) on an
# idle lab of N NICs served with --ui, over S seconds with no viewer, then
# over S seconds with one viewer (headless Chromium with the page open),
# measured from /proc/PID/stat (user + system time) in the same run.
#
# Prints one line per run: the daemon's CPU without and with the viewer,
# the difference (what the page costs), and the viewer's own renderer CPU
# for reference.
#
# With --ping, n0 pings n1 five times a second through both measurements,
# so the flow table is never empty and the page's link rates read it.
#
# Usage: sudo scripts/bench-ui.sh [--binary PATH] [--runs R] [--seconds S] [--ping] N
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-ui.sh [options] N   (as root)

  N                  number of NICs (1..16384), 250 per subnet in one VNet
  --runs R           repeat the measurement R times (default 1)
  --seconds S        length of each measurement (default 60)
  --ping             n0 pings n1 five times a second throughout
  --binary PATH      vnetd binary (default ./target/release/vnetd)
  -h, --help         this text
EOF
}

die() {
    echo "bench-ui: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

BINARY=""
RUNS=1
SECONDS_EACH=60
NICS=""
PING=off
while (($#)); do
    case $1 in
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --seconds) SECONDS_EACH=${2:?--seconds needs a value}; shift 2 ;;
    --ping) PING=on; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) [[ -z $NICS ]] || { usage >&2; exit 2; }; NICS=$1; shift ;;
    esac
done
is_uint "$NICS" && ((NICS >= 1 && NICS <= 16384)) || { usage >&2; exit 2; }
is_uint "$RUNS" && ((RUNS >= 1)) || die "--runs must be a whole number >= 1"
is_uint "$SECONDS_EACH" && ((SECONDS_EACH >= 5)) || die "--seconds must be 5 or more"
[[ $(id -u) -eq 0 ]] || die "must run as root (it creates network namespaces)"
command -v chromium >/dev/null || die "needs Debian's chromium"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARY=${BINARY:-$REPO/target/release/vnetd}
[[ -x $BINARY ]] || die "$BINARY is not an executable (cargo build --release)"

PFX=ui$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-ui.XXXXXX")
LAB_CONFIG=$WORK/lab.yaml
export VNETD_SOCKET=$WORK/vnetd.sock
VNETD_PID=""
VIEWER_PID=""
PING_PID=""

cleanup() {
    local rc=$?
    set +e
    [[ -z $PING_PID ]] || kill "$PING_PID" 2>/dev/null
    [[ -z $VIEWER_PID ]] || { kill -TERM -- "-$VIEWER_PID" 2>/dev/null; wait "$VIEWER_PID" 2>/dev/null; }
    if [[ -n $VNETD_PID ]]; then
        kill -TERM "$VNETD_PID" 2>/dev/null
        wait "$VNETD_PID" 2>/dev/null
    fi
    "$BINARY" down "$LAB_CONFIG" >/dev/null 2>&1
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
    echo "vnets:"
    echo "  - name: scale"
    echo "    address_space: [10.0.0.0/16]"
    echo "    location: westeurope"
    echo "    subnets:"
    for ((s = 0; s * 250 < NICS; s++)); do
        echo "      - {name: s$s, address_prefixes: [10.0.$s.0/24]}"
    done
    echo "network_interfaces:"
    for ((i = 0; i < NICS; i++)); do
        s=$((i / 250)) h=$((i % 250 + 4))
        echo "  - {name: n$i, subnet: scale/s$s, private_ip_address: 10.0.$s.$h, netns: $PFX-n$i}"
    done
} >"$LAB_CONFIG"

TICKS=$(getconf CLK_TCK)
# User + system time of process $1 (and its threads), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# % of one core process $1 used over the next $2 seconds.
cpu_percent() {
    local pid=$1 secs=$2 a b
    a=$(cpu_ticks "$pid")
    sleep "$secs"
    b=$(cpu_ticks "$pid")
    awk -v a="$a" -v b="$b" -v t="$TICKS" -v s="$secs" 'BEGIN { printf "%.2f", (b - a) / t / s * 100 }'
}
# The summed CPU of the viewer's renderer processes over the same window.
renderers() { pgrep -g "$VIEWER_PID" -f -- '--type=renderer' || true; }

echo "# vnetd $(basename "$BINARY"), $NICS NICs, --ui, ping $PING, $(nproc) CPUs, kernel $(uname -r), $SECONDS_EACH s each"
printf '%-4s %12s %12s %12s %14s\n' run idle_pct viewed_pct page_pct renderer_pct
for ((r = 1; r <= RUNS; r++)); do
    out=$WORK/run$r.out
    "$BINARY" run "$LAB_CONFIG" --ui 127.0.0.1:0 >"$out" 2>"$WORK/run$r.err" &
    VNETD_PID=$!
    until grep -q "^live page: " "$out" 2>/dev/null; do
        kill -0 "$VNETD_PID" 2>/dev/null || { cat "$WORK/run$r.err" >&2; die "vnetd exited before its lab was up"; }
        sleep 0.1
    done
    url=$(sed -n 's/^live page: //p' "$out")
    if [[ $PING == on ]] && ((NICS >= 2)); then
        ip netns exec "$PFX-n0" ping -q -i 0.2 10.0.0.5 >/dev/null 2>&1 &
        PING_PID=$!
    fi
    # Let bring-up settle before measuring the idle lab.
    sleep 5
    idle=$(cpu_percent "$VNETD_PID" "$SECONDS_EACH")

    profile=$WORK/chromium$r
    setsid chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-quic --user-data-dir="$profile" --window-size=1600,1000 \
        --remote-debugging-port=0 "$url" >/dev/null 2>&1 &
    VIEWER_PID=$!
    # The page loads and draws 1000 NICs once; measure the steady state.
    sleep 15
    pids=$(renderers)
    before=0
    for p in $pids; do before=$((before + $(cpu_ticks "$p"))); done
    viewed=$(cpu_percent "$VNETD_PID" "$SECONDS_EACH")
    after=0
    for p in $pids; do after=$((after + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
    renderer=$(awk -v a="$before" -v b="$after" -v t="$TICKS" -v s="$SECONDS_EACH" 'BEGIN { printf "%.2f", (b - a) / t / s * 100 }')
    page=$(awk -v a="$idle" -v b="$viewed" 'BEGIN { printf "%.2f", b - a }')
    printf '%-4s %12s %12s %12s %14s\n' "$r" "$idle" "$viewed" "$page" "$renderer"

    kill -TERM -- "-$VIEWER_PID" 2>/dev/null || true
    wait "$VIEWER_PID" 2>/dev/null || true
    VIEWER_PID=""
    [[ -z $PING_PID ]] || { kill "$PING_PID" 2>/dev/null; wait "$PING_PID" 2>/dev/null || true; PING_PID=""; }
    kill -TERM "$VNETD_PID"
    wait "$VNETD_PID" || die "vnetd exited with an error"
    VNETD_PID=""
done
