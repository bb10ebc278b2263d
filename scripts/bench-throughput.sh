#!/usr/bin/env bash
# Throughput of vnetd against kernel forwarding, measured in one run so the
# ratio between them means something even on a busy machine:
#
#   a) kernel:  ns A -veth- router ns (ip_forward=1) -veth- ns B
#   b) vnetd:   vm1 -> shared1 across a peering (one pass through the daemon)
#   c) vnetd:   vm1 -> vm2 through the NVA nva1 (two passes through the
#               daemon plus the NVA namespace's own kernel forwarding)
#
# b) and c) are measured once per mode (--modes): "offload", vnetd's
# default, where admitted flows leave userspace for the kernel fast path,
# and "no-offload" (`vnetd run --no-offload`), where every packet crosses
# the daemon. --connections adds a row of new TCP connections per second
# (a python3 client loop: connect, one byte each way, close) on a), b) and
# after the table the ratio of the offload figure to the no-offload one.
#
# b) and c) use the built-in lab (config/hub-spoke.yaml) with every
# namespace renamed under a per-run prefix, so a lab that is already running
# (with namespaces vm1, vm2, ...) is never touched.
#
# Every figure is iperf3's own sum_received from its JSON output; any failed
# measurement stops the run with a non-zero exit and no table. Beside each
# vnetd figure: the CPU time the daemon spent per GB received.
#
# Usage: sudo scripts/bench-throughput.sh [--seconds N] [--workers N[,N...]]
#            [--binary PATH] [--warmup N] [--parallel N[,N...]] [--udp]
#            [--udp-rates R[,R...]] [--small] [--connections] [--all]
#            [--modes offload,no-offload] [--vnetd-args ARGS]
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-throughput.sh [options]   (as root)

  --seconds N        length of each measured iperf3 run (default 10)
  --warmup N         length of the discarded warm-up run before each
                     measurement (default 2; 0 skips it)
  --workers N[,N..]  vnetd forwarding threads; a list measures each count
                     (default: nproc, which is also vnetd's own default)
  --binary PATH      vnetd binary (default ./target/release/vnetd, built
                     with cargo if missing)
  --parallel N[,N..] also measure every path with N TCP streams (iperf3 -P)
  --udp              also measure every path with one unlimited UDP stream
  --udp-rates R[,R..] one UDP row per iperf3 -b rate (0 = unlimited),
                     e.g. 500M,1G,2G,0; 1400-byte datagrams
  --small            also measure small packets: unlimited UDP with 64-byte
                     datagrams (iperf3 -u -l 64), in packets per second
  --connections      also measure new TCP connections per second (a short
                     python3 client loop against a python3 server)
  --modes LIST       vnetd modes to measure, comma-separated (default
                     offload,no-offload; no-offload adds --no-offload)
  --all              every row: --parallel 2,4 --udp-rates 500M,1G,2G,0
                     --small --connections
  --vnetd-args ARGS  extra arguments for `vnetd run` (e.g. "--busy-poll")
  --compare PATH     also measure another vnetd binary (e.g. a build of an
                     earlier commit) in the same run; its rows are marked
                     with the file name
  -h, --help         this text
EOF
}

die() {
    echo "bench-throughput: $*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

DURATION=10
WARMUP=2
WORKERS_LIST=""
BINARY=""
COMPARE=""
PARALLEL_LIST=""
UDP_RATES=""
SMALL=0
VNETD_ARGS=""
CONNECTIONS=0
MODES_LIST=offload,no-offload
while (($#)); do
    case $1 in
    --seconds) DURATION=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --workers) WORKERS_LIST=${2:?--workers needs a value}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --compare) COMPARE=${2:?--compare needs a value}; shift 2 ;;
    --parallel) PARALLEL_LIST=${2:?--parallel needs a value}; shift 2 ;;
    --udp) UDP_RATES=${UDP_RATES:+$UDP_RATES,}0; shift ;;
    --udp-rate | --udp-rates) UDP_RATES=${UDP_RATES:+$UDP_RATES,}${2:?$1 needs a value}; shift 2 ;;
    --small) SMALL=1; shift ;;
    --connections) CONNECTIONS=1; shift ;;
    --modes) MODES_LIST=${2:?--modes needs a value}; shift 2 ;;
    --all) PARALLEL_LIST=2,4; UDP_RATES=500M,1G,2G,0; SMALL=1; CONNECTIONS=1; shift ;;
    --vnetd-args) VNETD_ARGS=${2?--vnetd-args needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
is_uint "$DURATION" && ((DURATION >= 1)) || die "--seconds must be a whole number >= 1"
is_uint "$WARMUP" || die "--warmup must be a whole number"
IFS=, read -r -a PARALLEL <<<"$PARALLEL_LIST"
for p in ${PARALLEL[@]+"${PARALLEL[@]}"}; do
    is_uint "$p" && ((p >= 2)) || die "--parallel takes stream counts >= 2, comma-separated"
done
IFS=, read -r -a RATES <<<"$UDP_RATES"
for r in ${RATES[@]+"${RATES[@]}"}; do
    [[ $r =~ ^[0-9]+[KMG]?$ ]] || die "--udp-rates takes rates like 0, 500M or 2G, comma-separated"
done
read -r -a EXTRA_VNETD_ARGS <<<"$VNETD_ARGS"
IFS=, read -r -a MODES <<<"$MODES_LIST"
((${#MODES[@]} > 0)) || die "--modes needs at least one of offload, no-offload"
for m in "${MODES[@]}"; do
    [[ $m == offload || $m == no-offload ]] || die "--modes takes offload and no-offload, comma-separated"
done
if [[ -z $WORKERS_LIST ]]; then
    WORKERS_LIST=$(nproc)
fi
IFS=, read -r -a WORKERS <<<"$WORKERS_LIST"
for w in "${WORKERS[@]}"; do
    is_uint "$w" && ((w >= 1)) || die "--workers takes numbers >= 1, comma-separated"
done

# Namespaces, TUN devices and sysctls inside namespaces all need root; say
# so before anything is created rather than failing half-way.
[[ $(id -u) -eq 0 ]] || die "must run as root (it creates network namespaces)"

# Printed with the results: on a shared machine the load says how much to
# trust them.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

for tool in iperf3 ip ping ss python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y iperf3 iproute2 iputils-ping python3)"
done

# A relative --binary means relative to where the script was started, not
# to the repository it changes into.
if [[ -n $BINARY && $BINARY != /* ]]; then
    BINARY=$PWD/$BINARY
fi
if [[ -n $COMPARE && $COMPARE != /* ]]; then
    COMPARE=$PWD/$COMPARE
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
LAB_TEMPLATE=$REPO/config/hub-spoke.yaml
[[ -f $LAB_TEMPLATE ]] || die "$LAB_TEMPLATE not found"

if [[ -z $BINARY ]]; then
    BINARY=$REPO/target/release/vnetd
    if [[ ! -x $BINARY ]]; then
        echo "bench-throughput: $BINARY missing, building it" >&2
        cargo build --release -j 2 >&2 || die "cargo build failed"
    fi
    # A stale binary would measure code that is not the commit printed below.
    if [[ -n $(find src Cargo.toml Cargo.lock -newer "$BINARY" -print -quit 2>/dev/null) ]]; then
        echo "bench-throughput: warning: $BINARY is older than the sources; run cargo build --release" >&2
    fi
fi
[[ -x $BINARY ]] || die "$BINARY is not an executable"
BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")
BINARIES=("$BINARY")
if [[ -n $COMPARE ]]; then
    [[ -x $COMPARE ]] || die "--compare: $COMPARE is not an executable"
    BINARIES+=("$COMPARE")
fi

# The PID makes names unique among concurrent runs; a namespace left by an
# older run with the same PID is refused below, never deleted, since it
# might be someone's.
PFX=vnb$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-bench.XXXXXX")
CREATED_NS=()
SERVER_PIDS=()
VNETD_PID=""
LAB_CONFIG=$WORK/lab.yaml
# The lab's own control socket, so the run never meets a lab already running.
export VNETD_SOCKET=$WORK/vnetd.sock

stop_servers() {
    local pid
    for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

stop_vnetd() {
    [[ -n $VNETD_PID ]] || return 0
    local pid=$VNETD_PID rc=0 i
    VNETD_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    # vnetd removes its namespaces on SIGTERM; give it time before SIGKILL.
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench-throughput: vnetd did not stop on SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    if ((rc != 0)); then
        echo "bench-throughput: vnetd exited with status $rc" >&2
    fi
    # Removes only the prefixed namespaces named in our generated config, in
    # case the daemon died without removing them itself.
    "$BINARY" down "$LAB_CONFIG" >/dev/null 2>&1 || true
    return 0
}

cleanup() {
    local rc=$?
    set +e
    stop_servers
    stop_vnetd
    local ns
    for ns in ${CREATED_NS[@]+"${CREATED_NS[@]}"}; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ns_add() {
    if [[ -e /run/netns/$1 ]]; then
        die "network namespace $1 already exists; not touching it"
    fi
    ip netns add "$1"
    CREATED_NS+=("$1")
    ip -n "$1" link set lo up
}

# Waits until the server just started (the last of SERVER_PIDS) listens
# on TCP port $2 in namespace $1; fails with its log $3 ($4 names it).
wait_listening() {
    local ns=$1 port=$2 log=$3 what=$4 i
    for ((i = 0; i < 50; i++)); do
        if [[ -n $(ip netns exec "$ns" ss -Hltn "sport = :$port") ]]; then
            return 0
        fi
        kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    die "$what in $ns did not start"
}

# Starts an iperf3 server in namespace $1 and waits until it listens.
PORT=5201
start_server() {
    local ns=$1
    ip netns exec "$ns" iperf3 -s -p "$PORT" >"$WORK/server-$ns.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_listening "$ns" "$PORT" "$WORK/server-$ns.log" "iperf3 server"
}

# Fails unless $2 answers a ping from namespace $1 with TTL $3. The TTL
# proves the path: the vnetd fabric does not decrement it, a forwarding
# namespace (kernel router, NVA) does.
check_path() {
    local ns=$1 dst=$2 want_ttl=$3 out ttl
    out=$(ip netns exec "$ns" ping -n -c 3 -i 0.2 -W 2 "$dst" 2>&1) ||
        die "no ping reply from $dst in namespace $ns:"$'\n'"$out"
    ttl=$(sed -n 's/.* ttl=\([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
    [[ $ttl == "$want_ttl" ]] ||
        die "reply from $dst in $ns has TTL $ttl, expected $want_ttl: the packets took another path"
}

# Runs iperf3 from namespace $1 to $2; $3 = tcp|udp, $4 = streams, $5 =
# UDP rate (iperf3 -b), $6 = UDP datagram length, $7 = seconds, $8 = JSON
# output file. Returns iperf3's status.
run_iperf() {
    local ns=$1 dst=$2 proto=$3 streams=$4 rate=$5 length=$6 secs=$7 out=$8
    local args=(-c "$dst" -p "$PORT" -t "$secs" -J --connect-timeout 3000)
    if ((streams > 1)); then args+=(-P "$streams"); fi
    # 1400-byte datagrams stay below the 1500-byte MTU, so UDP measures
    # packets, not IP fragments.
    if [[ $proto == udp ]]; then args+=(-u -b "$rate" -l "$length"); fi
    # iperf3 can hang when its peer vanishes mid-test; bound it.
    timeout --kill-after=5 $((secs + 30)) ip netns exec "$ns" iperf3 "${args[@]}" >"$out" 2>"$out.err"
}

# Prints "<bits per second> <bytes received> <packets received per second>
# <retransmits or loss %>" from an iperf3 JSON file (packets only for UDP,
# else "-"), or fails with iperf3's error.
parse_iperf() {
    python3 - "$1" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    text = f.read()
try:
    doc = json.loads(text)
except ValueError:
    sys.exit("iperf3 printed no JSON: " + text[:300])
if doc.get("error"):
    sys.exit("iperf3: " + doc["error"])
end = doc.get("end", {})
received = end.get("sum_received", {})
bps = received.get("bits_per_second")
if not isinstance(bps, (int, float)) or bps <= 0:
    sys.exit("iperf3 JSON has no positive end.sum_received.bits_per_second")
pps = "-"
if doc["start"]["test_start"]["protocol"] == "UDP":
    extra = "%.2f%% lost" % received.get("lost_percent", float("nan"))
    got = received.get("packets", 0) - received.get("lost_packets", 0)
    pps = "%.0f" % (got / received["seconds"])
else:
    extra = str(end.get("sum_sent", {}).get("retransmits", "?"))
print("%.0f %d %s %s" % (bps, received.get("bytes", 0), pps, extra))
PY
}

# New TCP connections per second from namespace $1 to $2 port $CONN_PORT
# for $3 seconds, each connected, one byte each way, closed, by a python3
# client loop; the server (start_conn_server) must listen. Prints the rate.
CONN_PORT=5301
conn_rate() {
    timeout --kill-after=5 $(($3 + 30)) ip netns exec "$1" python3 - "$2" "$CONN_PORT" "$3" <<'PY'
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
start = time.monotonic()
end, n = start + secs, 0
while time.monotonic() < end:
    s = socket.create_connection((host, port), timeout=3)
    s.sendall(b"x")
    if s.recv(1) != b"y":
        sys.exit("the server did not answer")
    s.close()
    n += 1
print("%.1f" % (n / (time.monotonic() - start)))
PY
}

# A python3 server in namespace $1 on $2:$CONN_PORT that answers each
# connection's byte and closes it; waits until it listens.
start_conn_server() {
    local ns=$1 addr=$2
    ip netns exec "$ns" python3 - "$addr" "$CONN_PORT" >"$WORK/conn-$ns.log" 2>&1 <<'PY' &
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(1024)
while True:
    c, _ = server.accept()
    c.recv(1)
    c.sendall(b"y")
    c.close()
PY
    SERVER_PIDS+=($!)
    wait_listening "$ns" "$CONN_PORT" "$WORK/conn-$ns.log" "connection server"
}

# CPU time of the vnetd process in nanoseconds: the sum over its threads of
# the scheduler's own run time (/proc/PID/task/*/schedstat, first field).
# Tick-sampled times (/proc/PID/stat, /proc/stat) are not used: a process
# that wakes and sleeps in step with the timer tick, as iperf3's paced
# senders do, is seen idle at most ticks.
vnetd_cpu_ns() {
    if [[ -n $VNETD_PID && -d /proc/$VNETD_PID/task ]]; then
        cat /proc/"$VNETD_PID"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
    else
        echo 0
    fi
}

ROWS=()
# measure <path label> <workers> <client ns> <server address>: one row per
# variant (TCP x1, TCP xP..., UDP at each rate, small UDP packets). The
# server must already listen.
measure() {
    local label=$1 workers=$2 ns=$3 dst=$4 proto streams rate length test tag out result
    local variants=("tcp 1 - -") v p r
    for p in ${PARALLEL[@]+"${PARALLEL[@]}"}; do variants+=("tcp $p - -"); done
    for r in ${RATES[@]+"${RATES[@]}"}; do variants+=("udp 1 $r 1400"); done
    if ((SMALL)); then variants+=("udp 1 0 64"); fi
    local cpu0 cpu1
    for v in "${variants[@]}"; do
        read -r proto streams rate length <<<"$v"
        if [[ $proto == tcp ]]; then
            test="TCP x$streams"
        elif [[ $rate == 0 ]]; then
            test="UDP unlimited, ${length} B"
        else
            test="UDP $rate, ${length} B"
        fi
        tag="$ns-$proto-$streams-$rate-$length-w$workers"
        if ((WARMUP > 0)); then
            # Discarded: lets TCP leave slow start and fills neighbour and
            # flow tables. (iperf3 -O is not used: iperf3 3.10-3.12 still
            # counts omitted seconds in the end sums, esnet/iperf#1261.)
            run_iperf "$ns" "$dst" "$proto" "$streams" "$rate" "$length" "$WARMUP" "$WORK/warmup-$tag.json" ||
                die "warm-up $label ($test) failed: $(parse_iperf "$WORK/warmup-$tag.json" 2>&1 | tail -n 1) $(cat "$WORK/warmup-$tag.json.err")"
        fi
        out=$WORK/$tag.json
        echo "bench-throughput: measuring $label, $test, ${DURATION}s" >&2
        cpu0=$(vnetd_cpu_ns)
        run_iperf "$ns" "$dst" "$proto" "$streams" "$rate" "$length" "$DURATION" "$out" ||
            die "$label ($test) failed: $(parse_iperf "$out" 2>&1 | tail -n 1) $(cat "$out.err")"
        cpu1=$(vnetd_cpu_ns)
        result=$(parse_iperf "$out") || die "$label ($test): cannot read a result"
        ROWS+=("$label|$workers|$test|$result|$((cpu1 - cpu0))")
    done
    if ((CONNECTIONS)); then
        start_conn_server "$5" "$dst"
        if ((WARMUP > 0)); then
            conn_rate "$ns" "$dst" "$WARMUP" >/dev/null || die "warm-up $label (connections) failed"
        fi
        echo "bench-throughput: measuring $label, TCP connections, ${DURATION}s" >&2
        cpu0=$(vnetd_cpu_ns)
        result=$(conn_rate "$ns" "$dst" "$DURATION") || die "$label (connections) failed"
        cpu1=$(vnetd_cpu_ns)
        # As a UDP row reads: no bits, no bytes, the rate where packets go.
        ROWS+=("$label|$workers|TCP connections|0 0 $result -|$((cpu1 - cpu0))")
    fi
}

# --- a) kernel forwarding -------------------------------------------------
# Documentation prefixes (RFC 5737), in different /24s so the router routes.
KA=$PFX-ka KR=$PFX-kr KB=$PFX-kb
ns_add "$KA"
ns_add "$KR"
ns_add "$KB"
ip -n "$KA" link add eth0 type veth peer name eth-a netns "$KR"
ip -n "$KB" link add eth0 type veth peer name eth-b netns "$KR"
ip -n "$KA" addr add 192.0.2.2/24 dev eth0
ip -n "$KR" addr add 192.0.2.1/24 dev eth-a
ip -n "$KR" addr add 198.51.100.1/24 dev eth-b
ip -n "$KB" addr add 198.51.100.2/24 dev eth0
ip -n "$KA" link set eth0 up
ip -n "$KB" link set eth0 up
ip -n "$KR" link set eth-a up
ip -n "$KR" link set eth-b up
ip -n "$KA" route add default via 192.0.2.1
ip -n "$KB" route add default via 198.51.100.1
ip netns exec "$KR" sysctl -qw net.ipv4.ip_forward=1

check_path "$KA" 198.51.100.2 63
start_server "$KB"
measure "a) kernel: veth, router ns, veth" - "$KA" 198.51.100.2 "$KB"
stop_servers
for ns in "$KA" "$KR" "$KB"; do ip netns del "$ns"; done
CREATED_NS=()

# --- b), c) vnetd -----------------------------------------------------------
# The built-in lab with each NIC's namespace renamed under our prefix.
awk -v pfx="$PFX" '
    /^[^ #]/ { in_nics = ($0 ~ /^network_interfaces:/) }
    { print }
    in_nics && /^  - name: / {
        name = $0; sub(/^  - name: */, "", name); sub(/[ \t]*(#.*)?$/, "", name)
        print "    netns: " pfx "-" name
    }
' "$LAB_TEMPLATE" >"$LAB_CONFIG"
[[ $(grep -c "^    netns: $PFX-" "$LAB_CONFIG") -eq 4 ]] ||
    die "could not derive the lab config from $LAB_TEMPLATE (expected 4 NICs)"
"$BINARY" check "$LAB_CONFIG" >/dev/null || die "the derived lab config is invalid"
VM1=$PFX-vm1 VM2=$PFX-vm2 SHARED1=$PFX-shared1 NVA1=$PFX-nva1
for ns in "$VM1" "$VM2" "$SHARED1" "$NVA1"; do
    if [[ -e /run/netns/$ns ]]; then
        die "network namespace $ns already exists; not touching it"
    fi
done

start_vnetd() {
    local binary=$1 workers=$2 mode=$3 log=$WORK/vnetd-w$2-$3.log i
    local mode_args=()
    if [[ $mode == no-offload ]]; then mode_args=(--no-offload); fi
    "$binary" run "$LAB_CONFIG" --workers "$workers" ${EXTRA_VNETD_ARGS[@]+"${EXTRA_VNETD_ARGS[@]}"} ${mode_args[@]+"${mode_args[@]}"} >"$log" 2>&1 &
    VNETD_PID=$!
    for ((i = 0; i < 300; i++)); do
        grep -q '^vnetd: lab up' "$log" && return 0
        if ! kill -0 "$VNETD_PID" 2>/dev/null; then
            VNETD_PID=""
            cat "$log" >&2
            die "vnetd exited before the lab was up"
        fi
        sleep 0.1
    done
    cat "$log" >&2
    die "vnetd did not report 'lab up' within 30 s"
}

for binary in "${BINARIES[@]}"; do
    mark=""
    if ((${#BINARIES[@]} > 1)); then mark=" [$(basename "$binary")]"; fi
    for w in "${WORKERS[@]}"; do
        for mode in "${MODES[@]}"; do
            start_vnetd "$binary" "$w" "$mode"
            if [[ $mode == offload ]] && grep -q '^vnetd: no offload' "$WORK/vnetd-w$w-$mode.log"; then
                die "vnetd could not offload: $(grep '^vnetd: no offload' "$WORK/vnetd-w$w-$mode.log")"
            fi
            check_path "$VM1" 10.0.2.4 64
            check_path "$VM1" 10.2.1.4 63
            start_server "$SHARED1"
            measure "b) vnetd peering: vm1 -> shared1, $mode$mark" "$w" "$VM1" 10.0.2.4 "$SHARED1"
            stop_servers
            start_server "$VM2"
            # The connection rate is measured once per mode, on the peering.
            CONNECTIONS_ASKED=$CONNECTIONS CONNECTIONS=0
            measure "c) vnetd via NVA: vm1 -> nva1 -> vm2, $mode$mark" "$w" "$VM1" 10.2.1.4 "$VM2"
            CONNECTIONS=$CONNECTIONS_ASKED
            stop_servers
            stop_vnetd
        done
    done
done

# --- report -------------------------------------------------------------------
commit=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown && -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    commit="$commit (uncommitted changes)"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
echo
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  nproc $(nproc), kernel $(uname -r), ${cpu:-cpu unknown}"
echo "load:     $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end (1/5/15 min averages)"
echo "vnetd:    commit $commit, --workers ${WORKERS_LIST}${VNETD_ARGS:+ $VNETD_ARGS}, modes $MODES_LIST, binary $BINARY${COMPARE:+, compared with $COMPARE}"
echo "iperf3:   $(iperf3 --version | head -n 1 | cut -d' ' -f1-2), ${DURATION} s per row after a ${WARMUP} s warm-up run (discarded), MTU 1500 on every link"
echo
# The ratio compares each row with the kernel row of the same test (packets
# per second for small packets, bits per second otherwise). The CPU column
# is vnetd's CPU time, in seconds, per GB (10^9 bytes) received.
printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rows = [l.rstrip("\n").split("|") for l in sys.stdin if l.strip()]
def rate(result):
    bps, _bytes, pps, _extra = result.split(" ", 3)
    return float(pps) if pps != "-" else float(bps)
kernel = {r[2]: rate(r[3]) for r in rows if r[1] == "-"}
print("| path | workers | test | Gbit/s | kpps | retransmits / loss | vnetd/kernel | vnetd CPU s/GB |")
print("|---|---|---|---|---|---|---|---|")
for label, workers, test, result, cpu_ns in rows:
    bps, nbytes, pps, extra = result.split(" ", 3)
    gb = int(nbytes) / 1e9
    ref = kernel.get(test)
    ratio = "%.2f" % (rate(result) / ref) if ref else "-"
    kpps = "%.0f" % (float(pps) / 1e3) if pps != "-" else "-"
    cpu = "%.2f" % (int(cpu_ns) / 1e9 / gb) if gb and workers != "-" else "-"
    gbits = "%.2f" % (float(bps) / 1e9) if test != "TCP connections" else "-"
    if test == "TCP connections":
        kpps = "%.2f k conn/s" % (float(pps) / 1e3)
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (label, workers, test, gbits, kpps, extra, ratio, cpu))
conns = {r[0]: float(r[3].split(" ")[2]) for r in rows if r[2] == "TCP connections" and r[1] != "-"}
on = [v for k, v in conns.items() if ", offload" in k]
off = [v for k, v in conns.items() if ", no-offload" in k]
if on and off:
    print()
    print("connections/s with offload against --no-offload: %.2f" % (on[0] / off[0]))
'
