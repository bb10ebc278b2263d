#!/usr/bin/env bash
# Throughput, packet rates and round trips of vnetd against kernel
# forwarding, measured in one run so the ratio between them means something
# even on a busy machine:
#
#   a) kernel:  ns A -veth- router ns (ip_forward=1) -veth- ns B
#  a0) no forwarding: ns A -veth- ns B, with --ceiling: what the two ends
#      alone reach, a ceiling no forwarder between them passes
#  a1) with --ceiling and the firewall path: a) with the Azure Firewall
#      namespace's SNAT rule in the router (connection tracking on)
#  a2) with --ceiling and the gateway path: two routers in series, the
#      hops of two gateways done by the kernel alone
#  a3) with --ceiling and the gateway path: a) with TCP's MSS at the VPN
#      tunnel's clamp, 1350 (iperf3 -M 1350)
#   b) vnetd:   vm1 -> shared1 across a peering (one pass through the daemon)
#   c) vnetd:   vm1 -> vm2 through the NVA nva1 (two passes through the
#               daemon plus the NVA namespace's own kernel forwarding)
#   d) vnetd:   client -> an internal load balancer's frontend -> a backend
#               (scripts/labs/internal-lb.yaml)            --paths lb
#   e) vnetd:   vm1 -> Azure Firewall -> vm2, spoke to spoke
#               (config/hub-spoke-firewall.yaml)           --paths firewall
#   f) vnetd:   vm-a -> gateway => Vnet2Vnet => gateway -> vm-b
#               (scripts/labs/vnet2vnet.yaml)              --paths gateway
#  a6) with --paths peering6: a) over IPv6 (one TCP stream), and a60)
#      with --ceiling: a0) over IPv6
#   g) vnetd:   vm1 -> vm2 across a peering over IPv6
#               (scripts/labs/peering-ipv6.yaml)           --paths peering6
#
# b) to g) are measured once per mode (--modes): "offload", vnetd's
# default, where admitted flows leave userspace for the kernel fast path,
# and "no-offload" (`vnetd run --no-offload`), where every packet crosses
# the daemon. e) and f) run with `vnetd run --no-shaping`: a firewall's
# tier and a gateway's SKU cap what they carry (250 Mbps, 650 Mbps), which
# would measure Azure's figure, not the path; the caps are printed.
#
# a) to c) take every row asked for; d) to f) one TCP stream and, with
# --pps, 64-byte frames from one core. The rows:
#   TCP x1, --parallel     iperf3's own sum_received (-P: one process)
#   --streams N,...        N iperf3 processes at once, one stream and one
#                          server port each: the sum of what they received
#                          and of their retransmits
#   --udp-rates, --small   iperf3 UDP
#   --pps                  one UDP flow from a kernel packet generator
#                          (pktgen where the kernel has it, else trafgen),
#                          64-byte frames and IMIX (7:4:1 of 46-, 576- and
#                          1500-byte IP packets), from one core and from
#                          --pps-cpus cores: offered at the sender's eth0,
#                          delivered at an nft counter in the receiver
#   --latency              sockperf ping-pong over UDP and TCP (python3's
#                          where sockperf is missing): round trip average,
#                          p50 and p99
#   --connections          new TCP connections per second (a python3
#                          client loop: connect, one byte each way, close)
#                          on a) and b), and after the table the ratio of
#                          the offload figure to the no-offload one
#
# Every lab runs under a per-run namespace prefix, so a lab that is
# already running (with namespaces vm1, vm2, ...) is never touched.
#
# Any failed measurement stops the run with a non-zero exit and no table.
# Beside each vnetd figure: the CPU time the daemon spent per GB received
# (per packet delivered, for --pps).
#
# Usage: sudo scripts/bench-throughput.sh [--seconds N] [--workers N[,N...]]
#            [--binary PATH] [--warmup N] [--parallel N[,N...]] [--udp]
#            [--udp-rates R[,R...]] [--small] [--connections] [--all]
#            [--streams N[,N...]] [--pps] [--pps-cpus N] [--latency]
#            [--paths peering,nva,lb,firewall,gateway,peering6]
#            [--modes offload,no-offload] [--vnetd-args ARGS]
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-throughput.sh [options]   (as root)

  --seconds N        length of each measured row (default 10)
  --warmup N         length of the discarded warm-up run before each
                     measurement (default 2; 0 skips it; a --pps row sends
                     for at least 1 s before it counts)
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
  --streams N[,N..]  also measure N TCP streams from N separate iperf3
                     processes (one server port each; 1 is the TCP x1 row)
  --pps              also measure packets per second with a kernel packet
                     generator (pktgen, else trafgen): one UDP flow of
                     64-byte frames and of IMIX, from one core and from
                     --pps-cpus cores; offered, delivered and loss
  --pps-cpus N       generator cores of the second --pps row (default
                     nproc; 1 leaves it out)
  --latency          also measure round trips: sockperf ping-pong over UDP
                     and TCP (a python3 ping-pong if sockperf is missing)
  --paths LIST       vnetd paths, comma-separated, of peering, nva, lb,
                     firewall, gateway, peering6 (one TCP stream over IPv6,
                     against the kernel's IPv6 forwarding), or all
                     (default peering,nva); the kernel reference is always
                     measured; firewall and gateway run with --no-shaping,
                     and their caps are printed
  --modes LIST       vnetd modes to measure, comma-separated (default
                     offload,no-offload; no-offload adds --no-offload)
  --all              every row: --parallel 2,4 --udp-rates 500M,1G,2G,0
                     --small --connections --streams 1,2,4,8 --pps
                     --latency; the paths stay --paths'
  --vnetd-args ARGS  extra arguments for `vnetd run` (e.g. "--busy-poll")
  --compare PATH     also measure another vnetd binary (e.g. a build of an
                     earlier commit) in the same run; its rows are marked
                     with the file name
  --ceiling          also measure a0), two namespaces joined by one veth,
                     with every test of a); with --paths firewall a1),
                     the kernel router tracking connections as the
                     firewall's namespace does; with --paths gateway a2),
                     two kernel routers in series, and a3), a) with the
                     VPN tunnel's MSS of 1350; with --paths peering6 a60),
                     a0) over IPv6. The table then gives every row's
                     ratio to the ceiling of its family too
  --rps MASK         after each lab is up, write MASK (hex CPUs, e.g. 3) to
                     rps_cpus of every receive queue of its fabric's host
                     ends: each guest's packets are steered by flow, which
                     keeps one TCP flow in order on the fast path (see
                     benchmarks/throughput.md, 2026-11-27, reordering)
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
RPS_MASK=""
CEILING=0
# Extra iperf3 client arguments for the rows being measured (a3: -M).
IPERF_EXTRA=()
# Appended to the test names of the rows being measured (", IPv6"): each
# row's ratio is to the kernel row of the same test name.
TEST_SUFFIX=""
PARALLEL_LIST=""
UDP_RATES=""
SMALL=0
VNETD_ARGS=""
CONNECTIONS=0
STREAMS_LIST=""
PPS=0
PPS_CPUS=""
LATENCY=0
PATHS_LIST=peering,nva
MODES_LIST=offload,no-offload
# The exact command, printed with the results.
COMMAND="$0"
for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_,./:=@+-]+$ ]]; then COMMAND+=" $arg"; else COMMAND+=" $(printf '%q' "$arg")"; fi
done
while (($#)); do
    case $1 in
    --seconds) DURATION=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --workers) WORKERS_LIST=${2:?--workers needs a value}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --compare) COMPARE=${2:?--compare needs a value}; shift 2 ;;
    --rps) RPS_MASK=${2:?--rps needs a value}; shift 2 ;;
    --ceiling) CEILING=1; shift ;;
    --parallel) PARALLEL_LIST=${2:?--parallel needs a value}; shift 2 ;;
    --udp) UDP_RATES=${UDP_RATES:+$UDP_RATES,}0; shift ;;
    --udp-rate | --udp-rates) UDP_RATES=${UDP_RATES:+$UDP_RATES,}${2:?$1 needs a value}; shift 2 ;;
    --small) SMALL=1; shift ;;
    --connections) CONNECTIONS=1; shift ;;
    --streams) STREAMS_LIST=${2:?--streams needs a value}; shift 2 ;;
    --pps) PPS=1; shift ;;
    --pps-cpus) PPS_CPUS=${2:?--pps-cpus needs a value}; shift 2 ;;
    --latency) LATENCY=1; shift ;;
    --paths) PATHS_LIST=${2:?--paths needs a value}; shift 2 ;;
    --modes) MODES_LIST=${2:?--modes needs a value}; shift 2 ;;
    --all) PARALLEL_LIST=2,4; UDP_RATES=500M,1G,2G,0; SMALL=1; CONNECTIONS=1; STREAMS_LIST=1,2,4,8; PPS=1; LATENCY=1; shift ;;
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
IFS=, read -r -a STREAMS <<<"$STREAMS_LIST"
for n in ${STREAMS[@]+"${STREAMS[@]}"}; do
    is_uint "$n" && ((n >= 1 && n <= 64)) || die "--streams takes stream counts from 1 to 64, comma-separated"
done
if [[ -z $PPS_CPUS ]]; then PPS_CPUS=$(nproc); fi
is_uint "$PPS_CPUS" && ((PPS_CPUS >= 1 && PPS_CPUS <= $(nproc))) || die "--pps-cpus takes a number from 1 to nproc ($(nproc))"
if [[ $PATHS_LIST == all ]]; then PATHS_LIST=peering,nva,lb,firewall,gateway,peering6; fi
IFS=, read -r -a PATHS <<<"$PATHS_LIST"
for p in ${PATHS[@]+"${PATHS[@]}"}; do
    [[ $p =~ ^(peering|nva|lb|firewall|gateway|peering6)$ ]] || die "--paths takes peering, nva, lb, firewall, gateway, peering6 or all, comma-separated"
done
wants_path() { [[ ",$PATHS_LIST," == *",$1,"* ]]; }
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
if ((PPS)); then
    command -v nft >/dev/null || die "--pps counts with nft: apt-get install -y nftables"
fi

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
# shellcheck source=scripts/lib/load.sh
source "$REPO/scripts/lib/load.sh"
if ((PPS)) && ! command -v trafgen >/dev/null && [[ ! -e /proc/net/pktgen/pgctrl ]]; then
    die "--pps needs a packet generator: trafgen (apt-get install -y netsniff-ng) or the kernel's pktgen (modprobe pktgen)"
fi
if ((LATENCY)) && [[ $(latency_tool) != sockperf ]]; then
    echo "bench-throughput: sockperf not found (apt-get install -y sockperf); round trips are measured with a python3 ping-pong, marked (python3) in their rows" >&2
fi

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
# The lab file vnetd runs now (the generated hub-spoke lab, or another
# path's).
RUNNING_CONFIG=$LAB_CONFIG
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
    "$BINARY" down "$RUNNING_CONFIG" >/dev/null 2>&1 || true
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

# Starts an iperf3 server in namespace $1 on port $2 (default $PORT) and
# waits until it listens.
PORT=5201
start_server() {
    local ns=$1 port=${2:-$PORT}
    ip netns exec "$ns" iperf3 -s -p "$port" >"$WORK/server-$ns-$port.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_listening "$ns" "$port" "$WORK/server-$ns-$port.log" "iperf3 server"
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
# output file, $9 = server port (default $PORT). Returns iperf3's status.
run_iperf() {
    local ns=$1 dst=$2 proto=$3 streams=$4 rate=$5 length=$6 secs=$7 out=$8 port=${9:-$PORT}
    local args=(-c "$dst" -p "$port" -t "$secs" -J --connect-timeout 3000)
    if ((streams > 1)); then args+=(-P "$streams"); fi
    # 1400-byte datagrams stay below the 1500-byte MTU, so UDP measures
    # packets, not IP fragments.
    if [[ $proto == udp ]]; then args+=(-u -b "$rate" -l "$length"); fi
    args+=(${IPERF_EXTRA[@]+"${IPERF_EXTRA[@]}"})
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

# Prints "<bits per second> <bytes> <retransmits>" summed over the iperf3
# JSON files given (one per process of a --streams row), or fails with the
# first error.
parse_iperf_sum() {
    python3 - "$@" <<'PY'
import json, sys

bps = nbytes = retransmits = 0
for name in sys.argv[1:]:
    with open(name) as f:
        text = f.read()
    try:
        doc = json.loads(text)
    except ValueError:
        sys.exit("iperf3 printed no JSON: " + text[:300])
    if doc.get("error"):
        sys.exit("iperf3: " + doc["error"])
    received = doc.get("end", {}).get("sum_received", {})
    if not received.get("bits_per_second"):
        sys.exit(name + ": no end.sum_received.bits_per_second")
    bps += received["bits_per_second"]
    nbytes += received.get("bytes", 0)
    retransmits += doc["end"].get("sum_sent", {}).get("retransmits", 0)
print("%.0f %d %d" % (bps, nbytes, retransmits))
PY
}

# Runs $1 iperf3 clients at once from namespace $2 to $3, one stream each,
# the n-th to port $PORT+n-1, for $4 seconds; their JSON goes to
# $5-<n>.json. Fails if any of them fails.
run_iperf_processes() {
    local n=$1 ns=$2 dst=$3 secs=$4 out=$5 i pids=() failed=0
    for ((i = 0; i < n; i++)); do
        run_iperf "$ns" "$dst" tcp 1 - - "$secs" "$out-$i.json" $((PORT + i)) &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed=1
    done
    ((failed == 0)) || die "an iperf3 process of $n failed: $(parse_iperf_sum "$out"-*.json 2>&1 | tail -n 1) $(cat "$out"-*.json.err)"
}

ROWS=()
# The packet generators the --pps rows used, as generator_for names them.
GENERATORS_USED=""
# One row of the table, its fields in this order: path label, workers ("-"
# for the kernel), test (rows of one test are compared), kind (tcp, udp,
# pps, rtt, conn), bits/s, bytes received, offered packets/s, received
# packets/s (connections/s for conn), packets received, retransmits or
# loss, round trip "avg p50 p99" in microseconds, vnetd CPU ns.
add_row() {
    local IFS='|'
    ROWS+=("$*")
}

# Sets VARIANTS to what a path measures: "full" (a) to c)) every row asked
# for, "short" (d) to f)) one TCP stream and, with --pps, 64-byte frames
# from one core.
variants() {
    local p n r mix
    VARIANTS=("tcp 1 - -")
    if [[ $1 == full ]]; then
        for p in ${PARALLEL[@]+"${PARALLEL[@]}"}; do VARIANTS+=("tcp $p - -"); done
        for n in ${STREAMS[@]+"${STREAMS[@]}"}; do
            # 1 is the TCP x1 row, measured anyway.
            if ((n > 1)); then VARIANTS+=("procs $n - -"); fi
        done
        for r in ${RATES[@]+"${RATES[@]}"}; do VARIANTS+=("udp 1 $r 1400"); done
        if ((SMALL)); then VARIANTS+=("udp 1 0 64"); fi
        if ((PPS)); then
            for mix in 64 imix; do
                VARIANTS+=("pps $mix 1 -")
                if ((PPS_CPUS > 1)); then VARIANTS+=("pps $mix $PPS_CPUS -"); fi
            done
        fi
        if ((LATENCY)); then VARIANTS+=("rtt udp - -" "rtt tcp - -"); fi
    elif ((PPS)) && [[ $1 != tcp-only ]]; then
        VARIANTS+=("pps 64 1 -")
    fi
}

# measure <path label> <workers> <client ns> <destination address>
# <server ns[,server ns...]> <full|short|tcp-only> <client address>: one row per
# variant (see variants). An iperf3 server must already listen on $PORT in
# each server namespace (a load balancer's flow reaches one of several);
# the other servers are started here.
measure() {
    local label=$1 workers=$2 ns=$3 dst=$4 servers=$5 set=$6 src=$7
    local server=${servers%%,*} kind a b c test tag out result v cpu0 cpu1 i first
    local bps nbytes pps extra offered delivered rate packets cpu tool pingpong_started=0
    variants "$set"
    for v in "${VARIANTS[@]}"; do
        read -r kind a b c <<<"$v"
        case $kind in
        tcp) test="TCP x$a" ;;
        udp) if [[ $b == 0 ]]; then test="UDP unlimited, ${c} B"; else test="UDP $b, ${c} B"; fi ;;
        procs) test="TCP x$a, $a iperf3 processes" ;;
        pps)
            test="64 B frames"
            [[ $a == imix ]] && test="IMIX 7:4:1"
            test+=", $b core"
            ((b > 1)) && test+="s"
            ;;
        rtt)
            tool=$(latency_tool)
            test="${a^^} ping-pong, 64 B"
            [[ $tool == sockperf ]] || test+=" ($tool)"
            ;;
        esac
        test+=$TEST_SUFFIX
        tag="$ns-$kind-$a-$b-$c-w$workers"
        out=$WORK/$tag
        case $kind in
        tcp | udp)
            if ((WARMUP > 0)); then
                # Discarded: lets TCP leave slow start and fills neighbour and
                # flow tables. (iperf3 -O is not used: iperf3 3.10-3.12 still
                # counts omitted seconds in the end sums, esnet/iperf#1261.)
                run_iperf "$ns" "$dst" "$kind" "$a" "$b" "$c" "$WARMUP" "$WORK/warmup-$tag.json" ||
                    die "warm-up $label ($test) failed: $(parse_iperf "$WORK/warmup-$tag.json" 2>&1 | tail -n 1) $(cat "$WORK/warmup-$tag.json.err")"
            fi
            echo "bench-throughput: measuring $label, $test, ${DURATION}s" >&2
            cpu0=$(vnetd_cpu_ns)
            run_iperf "$ns" "$dst" "$kind" "$a" "$b" "$c" "$DURATION" "$out.json" ||
                die "$label ($test) failed: $(parse_iperf "$out.json" 2>&1 | tail -n 1) $(cat "$out.json.err")"
            cpu1=$(vnetd_cpu_ns)
            result=$(parse_iperf "$out.json") || die "$label ($test): cannot read a result"
            read -r bps nbytes pps extra <<<"$result"
            add_row "$label" "$workers" "$test" "$kind" "$bps" "$nbytes" - "$pps" - "$extra" - $((cpu1 - cpu0))
            ;;
        procs)
            # One server per process, each on its own port; the first
            # is the path's own server.
            first=${#SERVER_PIDS[@]}
            for ((i = 1; i < a; i++)); do start_server "$server" $((PORT + i)); done
            if ((WARMUP > 0)); then run_iperf_processes "$a" "$ns" "$dst" "$WARMUP" "$WORK/warmup-$tag"; fi
            echo "bench-throughput: measuring $label, $test, ${DURATION}s" >&2
            cpu0=$(vnetd_cpu_ns)
            run_iperf_processes "$a" "$ns" "$dst" "$DURATION" "$out"
            cpu1=$(vnetd_cpu_ns)
            result=$(parse_iperf_sum "$out"-*.json) || die "$label ($test): $result"
            read -r bps nbytes extra <<<"$result"
            add_row "$label" "$workers" "$test" tcp "$bps" "$nbytes" - - - "$extra" - $((cpu1 - cpu0))
            for ((i = first; i < ${#SERVER_PIDS[@]}; i++)); do
                kill "${SERVER_PIDS[$i]}" 2>/dev/null || true
                wait "${SERVER_PIDS[$i]}" 2>/dev/null || true
            done
            SERVER_PIDS=("${SERVER_PIDS[@]:0:first}")
            ;;
        pps)
            local receiver
            for receiver in ${servers//,/ }; do sink_add "$receiver"; done
            GENERATORS_USED+=" $(generator_for "$ns")"
            echo "bench-throughput: measuring $label, $test, ${DURATION}s" >&2
            # The settle (the warm-up, at least 1 s) is sent but not counted.
            result=$(send_packets "$ns" "$servers" "$src" "$dst" "$a" "$b" $((WARMUP > 1 ? WARMUP : 1)) "$DURATION") ||
                die "$label ($test) failed"
            read -r offered delivered rate packets cpu <<<"$result"
            extra=$(python3 -c 'import sys; o, d = float(sys.argv[1]), float(sys.argv[2]); print("%.2f%% lost" % max(0.0, 100 * (o - d) / o))' "$offered" "$delivered")
            add_row "$label" "$workers" "$test" pps $((rate * 8)) $((rate * DURATION)) "$offered" "$delivered" "$packets" "$extra" - "$cpu"
            ;;
        rtt)
            if ((!pingpong_started)); then
                start_pingpong_servers "$server" "$dst"
                SERVER_PIDS+=("${PINGPONG_PIDS[@]}")
                pingpong_started=1
            fi
            if ((WARMUP > 0)); then round_trips "$ns" "$dst" "$a" "$WARMUP" >/dev/null; fi
            echo "bench-throughput: measuring $label, $test, ${DURATION}s" >&2
            cpu0=$(vnetd_cpu_ns)
            result=$(round_trips "$ns" "$dst" "$a" "$DURATION") || die "$label ($test) failed"
            cpu1=$(vnetd_cpu_ns)
            read -r rate b c packets <<<"$result"
            add_row "$label" "$workers" "$test" rtt - - - - "$packets" - "$rate $b $c" $((cpu1 - cpu0))
            ;;
        esac
    done
    if [[ $set == full ]] && ((CONNECTIONS)); then
        start_conn_server "$server" "$dst"
        if ((WARMUP > 0)); then
            conn_rate "$ns" "$dst" "$WARMUP" >/dev/null || die "warm-up $label (connections) failed"
        fi
        echo "bench-throughput: measuring $label, TCP connections, ${DURATION}s" >&2
        cpu0=$(vnetd_cpu_ns)
        result=$(conn_rate "$ns" "$dst" "$DURATION") || die "$label (connections) failed"
        cpu1=$(vnetd_cpu_ns)
        add_row "$label" "$workers" "TCP connections" conn 0 0 - "$result" - - - $((cpu1 - cpu0))
    fi
}

# --- a) kernel forwarding -------------------------------------------------
# Documentation prefixes (RFC 5737), in different /24s so the router routes.
KA=$PFX-ka KR=$PFX-kr KB=$PFX-kb
# router_lab: KA -veth- KR (forwarding) -veth- KB, made.
router_lab() {
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
}

# kernel_rows LABEL CLIENT DST SERVER SET SRC TTL: proves the path (the
# reply's TTL), measures LABEL's rows (see measure), then removes the
# namespaces made since the last call.
kernel_rows() {
    local label=$1 client=$2 dst=$3 server=$4 set=$5 src=$6 ttl=$7 ns
    check_path "$client" "$dst" "$ttl"
    start_server "$server"
    measure "$label" - "$client" "$dst" "$server" "$set" "$src"
    stop_servers
    for ns in ${CREATED_NS[@]+"${CREATED_NS[@]}"}; do ip netns del "$ns"; done
    CREATED_NS=()
}

router_lab
kernel_rows "a) kernel: veth, router ns, veth" "$KA" 198.51.100.2 "$KB" full 192.0.2.2 63

# --- a0) no forwarding ------------------------------------------------------
if ((CEILING)); then
    CA=$PFX-ca CB=$PFX-cb
    ns_add "$CA"
    ns_add "$CB"
    ip -n "$CA" link add eth0 type veth peer name eth0 netns "$CB"
    ip -n "$CA" addr add 192.0.2.2/24 dev eth0
    ip -n "$CB" addr add 192.0.2.3/24 dev eth0
    ip -n "$CA" link set eth0 up
    ip -n "$CB" link set eth0 up
    kernel_rows "a0) no forwarding: veth between two namespaces" "$CA" 192.0.2.3 "$CB" full 192.0.2.2 64
fi

# --- a1) the router tracking connections, as the firewall's namespace ------
if ((CEILING)) && wants_path firewall; then
    router_lab
    # The rule of the firewall's namespace: SNAT past its private ranges,
    # which the benchmark's own addresses stay inside, as vm1's and vm2's.
    ip netns exec "$KR" nft -f - <<'NFT'
table ip bench_snat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip daddr != { 192.0.2.0/24, 198.51.100.0/24 } masquerade
    }
}
NFT
    kernel_rows "a1) kernel: veth, router ns tracking connections, veth" "$KA" 198.51.100.2 "$KB" short 192.0.2.2 63
fi

# --- a2) two routers in series, as two gateways; a3) the tunnel's MSS -----
if ((CEILING)) && wants_path gateway; then
    KR2=$PFX-kr2
    ns_add "$KA"
    ns_add "$KR"
    ns_add "$KR2"
    ns_add "$KB"
    ip -n "$KA" link add eth0 type veth peer name eth-a netns "$KR"
    ip -n "$KR" link add eth-m type veth peer name eth-m netns "$KR2"
    ip -n "$KB" link add eth0 type veth peer name eth-b netns "$KR2"
    ip -n "$KA" addr add 192.0.2.2/24 dev eth0
    ip -n "$KR" addr add 192.0.2.1/24 dev eth-a
    ip -n "$KR" addr add 203.0.113.1/24 dev eth-m
    ip -n "$KR2" addr add 203.0.113.2/24 dev eth-m
    ip -n "$KR2" addr add 198.51.100.1/24 dev eth-b
    ip -n "$KB" addr add 198.51.100.2/24 dev eth0
    for link in "$KA eth0" "$KR eth-a" "$KR eth-m" "$KR2 eth-m" "$KR2 eth-b" "$KB eth0"; do
        read -r ns dev <<<"$link"
        ip -n "$ns" link set "$dev" up
    done
    ip -n "$KA" route add default via 192.0.2.1
    ip -n "$KR" route add 198.51.100.0/24 via 203.0.113.2
    ip -n "$KR2" route add 192.0.2.0/24 via 203.0.113.1
    ip -n "$KB" route add default via 198.51.100.1
    ip netns exec "$KR" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$KR2" sysctl -qw net.ipv4.ip_forward=1
    kernel_rows "a2) kernel: veth, two router ns in series, veth" "$KA" 198.51.100.2 "$KB" short 192.0.2.2 62

    # One router, TCP at the tunnel's MSS: the clamp's own cost.
    router_lab
    IPERF_EXTRA=(-M 1350)
    kernel_rows "a3) kernel: veth, router ns, veth, MSS 1350" "$KA" 198.51.100.2 "$KB" tcp-only 192.0.2.2 63
    IPERF_EXTRA=()
fi

# --- a6) kernel forwarding over IPv6; a60) no forwarding over IPv6 ---------
# Documentation prefixes (RFC 3849) in two /64s; nodad: usable at once.
if wants_path peering6; then
    ns_add "$KA"
    ns_add "$KR"
    ns_add "$KB"
    ip -n "$KA" link add eth0 type veth peer name eth-a netns "$KR"
    ip -n "$KB" link add eth0 type veth peer name eth-b netns "$KR"
    ip -n "$KA" addr add 2001:db8:a::2/64 dev eth0 nodad
    ip -n "$KR" addr add 2001:db8:a::1/64 dev eth-a nodad
    ip -n "$KR" addr add 2001:db8:b::1/64 dev eth-b nodad
    ip -n "$KB" addr add 2001:db8:b::2/64 dev eth0 nodad
    for link in "$KA eth0" "$KR eth-a" "$KR eth-b" "$KB eth0"; do
        read -r ns dev <<<"$link"
        ip -n "$ns" link set "$dev" up
    done
    ip -n "$KA" route add default via 2001:db8:a::1
    ip -n "$KB" route add default via 2001:db8:b::1
    ip netns exec "$KR" sysctl -qw net.ipv6.conf.all.forwarding=1
    TEST_SUFFIX=", IPv6"
    kernel_rows "a6) kernel IPv6: veth, router ns, veth" "$KA" 2001:db8:b::2 "$KB" tcp-only 2001:db8:a::2 63
    if ((CEILING)); then
        CA=$PFX-ca CB=$PFX-cb
        ns_add "$CA"
        ns_add "$CB"
        ip -n "$CA" link add eth0 type veth peer name eth0 netns "$CB"
        ip -n "$CA" addr add 2001:db8:a::2/64 dev eth0 nodad
        ip -n "$CB" addr add 2001:db8:a::3/64 dev eth0 nodad
        ip -n "$CA" link set eth0 up
        ip -n "$CB" link set eth0 up
        kernel_rows "a60) no forwarding IPv6: veth between two namespaces" "$CA" 2001:db8:a::3 "$CB" tcp-only 2001:db8:a::2 64
    fi
    TEST_SUFFIX=""
fi

# --- b) to g) vnetd ---------------------------------------------------------
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

# The other paths' labs, each under a prefix of this run (netns_prefix).
# The firewall's policy gains one rule for the benchmark's own traffic
# (iperf3's port and the generators' datagrams; it allows web and ping).
LB_CONFIG=$WORK/internal-lb.yaml
FW_CONFIG=$WORK/hub-spoke-firewall.yaml
GW_CONFIG=$WORK/vnet2vnet.yaml
V6_CONFIG=$WORK/peering-ipv6.yaml
{ echo "netns_prefix: $PFX-lb-"; cat "$REPO/scripts/labs/internal-lb.yaml"; } >"$LB_CONFIG"
{
    echo "netns_prefix: $PFX-fw-"
    sed '/name: ping-between-spokes/a\              - {name: benchmark-traffic, protocols: [TCP, UDP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: ["'"$PORT"'", "'"$SINK_PORT"'"]}' \
        "$REPO/config/hub-spoke-firewall.yaml"
} >"$FW_CONFIG"
grep -q 'name: benchmark-traffic' "$FW_CONFIG" || die "could not add the benchmark's rule to config/hub-spoke-firewall.yaml"
{ echo "netns_prefix: $PFX-gw-"; cat "$REPO/scripts/labs/vnet2vnet.yaml"; } >"$GW_CONFIG"
{ echo "netns_prefix: $PFX-v6-"; cat "$REPO/scripts/labs/peering-ipv6.yaml"; } >"$V6_CONFIG"
# The cap each path's lab applies with shaping on, as `vnetd trace` names
# the path's bottleneck; the runs below lift it (--no-shaping).
bottleneck() {
    "$BINARY" trace --config "$1" --from "$2" --to "$3" --protocol tcp --port "$PORT" --json |
        python3 -c 'import json,sys; b=json.load(sys.stdin).get("bottleneck"); print(b["what"] if b else "none")'
}
CAPS=()
for p in lb firewall gateway peering6; do
    wants_path "$p" || continue
    case $p in
    lb) config=$LB_CONFIG ;;
    firewall) config=$FW_CONFIG ;;
    gateway) config=$GW_CONFIG ;;
    peering6) config=$V6_CONFIG ;;
    esac
    "$BINARY" check "$config" >"$WORK/check-$p.log" 2>&1 || { cat "$WORK/check-$p.log" >&2; die "the $p lab does not pass vnetd check"; }
done
if wants_path firewall; then CAPS+=("e) $(bottleneck "$FW_CONFIG" vm1 10.2.1.4)"); fi
if wants_path gateway; then CAPS+=("f) $(bottleneck "$GW_CONFIG" vm-a 10.71.1.4)"); fi

# --rps: writes RPS_MASK to the receive queues of every host end (vh*) in
# this run's fabric namespaces.
steer_host_ends() {
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep "^$PFX.*\.fabric$"); do
        ip netns exec "$ns" sh -c 'for q in /sys/class/net/vh*/queues/rx-*; do echo "$1" > "$q/rps_cpus"; done' sh "$RPS_MASK" ||
            die "could not write --rps $RPS_MASK in $ns"
    done
}

# start_vnetd BINARY WORKERS MODE CONFIG [vnetd run args...]: runs the lab
# until it says it is up.
start_vnetd() {
    local binary=$1 workers=$2 mode=$3 config=$4 log i
    shift 4
    log=$WORK/vnetd-$(basename "$config" .yaml)-w$workers-$mode.log
    local mode_args=()
    if [[ $mode == no-offload ]]; then mode_args=(--no-offload); fi
    RUNNING_CONFIG=$config
    "$binary" run "$config" --workers "$workers" "$@" ${EXTRA_VNETD_ARGS[@]+"${EXTRA_VNETD_ARGS[@]}"} ${mode_args[@]+"${mode_args[@]}"} >"$log" 2>&1 &
    VNETD_PID=$!
    for ((i = 0; i < 300; i++)); do
        if grep -qs '^vnetd: lab up' "$log"; then
            if [[ $mode == offload ]] && grep -q '^vnetd: no offload' "$log"; then
                die "vnetd could not offload: $(grep '^vnetd: no offload' "$log")"
            fi
            if [[ -n $RPS_MASK ]]; then steer_host_ends; fi
            return 0
        fi
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

# The running lab's own expectations, with real packets (`vnetd verify`):
# proves a path that a TTL cannot (a gateway or a load balancer does not
# decrement it).
verify_lab() {
    "$1" verify >"$WORK/verify.log" 2>&1 || { cat "$WORK/verify.log" >&2; die "vnetd verify failed in $(basename "$RUNNING_CONFIG")"; }
}

# A TCP listener in namespace $1 on port 8080 that accepts and closes:
# what the internal load balancer's probe asks of a backend.
start_probe_listener() {
    ip netns exec "$1" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
' >"$WORK/probe-$1.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_listening "$1" 8080 "$WORK/probe-$1.log" "probe listener"
}

# Fails unless every backend of load balancer $2 is up (`vnetd lb show`).
check_backends_up() {
    "$1" lb show --lb "$2" --json | python3 -c '
import json, sys
down = [b["nic"] for b in json.load(sys.stdin)["backends"] if b["state"] != "Up"]
sys.exit("backends down: " + ", ".join(down) if down else 0)' || die "load balancer $2 has a backend down"
}

for binary in "${BINARIES[@]}"; do
    mark=""
    if ((${#BINARIES[@]} > 1)); then mark=" [$(basename "$binary")]"; fi
    for w in "${WORKERS[@]}"; do
        for mode in "${MODES[@]}"; do
            if wants_path peering || wants_path nva; then
                start_vnetd "$binary" "$w" "$mode" "$LAB_CONFIG"
                if wants_path peering; then
                    check_path "$VM1" 10.0.2.4 64
                    start_server "$SHARED1"
                    # The connection rate is measured once per mode, on the peering.
                    measure "b) vnetd peering: vm1 -> shared1, $mode$mark" "$w" "$VM1" 10.0.2.4 "$SHARED1" full 10.1.1.4
                    stop_servers
                fi
                if wants_path nva; then
                    check_path "$VM1" 10.2.1.4 63
                    start_server "$VM2"
                    CONNECTIONS_ASKED=$CONNECTIONS CONNECTIONS=0
                    measure "c) vnetd via NVA: vm1 -> nva1 -> vm2, $mode$mark" "$w" "$VM1" 10.2.1.4 "$VM2" full 10.1.1.4
                    CONNECTIONS=$CONNECTIONS_ASKED
                    stop_servers
                fi
                stop_vnetd
            fi
            if wants_path lb; then
                start_vnetd "$binary" "$w" "$mode" "$LB_CONFIG"
                for ns in "$PFX-lb-backend1" "$PFX-lb-backend2"; do
                    start_probe_listener "$ns"
                    start_server "$ns"
                done
                verify_lab "$binary"
                check_backends_up "$binary" bench-ilb
                measure "d) vnetd internal LB: client -> 10.60.2.100 -> backend, $mode$mark" "$w" \
                    "$PFX-lb-client" 10.60.2.100 "$PFX-lb-backend1,$PFX-lb-backend2" short 10.60.1.4
                check_backends_up "$binary" bench-ilb
                stop_servers
                stop_vnetd
            fi
            if wants_path firewall; then
                start_vnetd "$binary" "$w" "$mode" "$FW_CONFIG" --no-shaping
                # The firewall's namespace forwards: TTL 63, as through the NVA.
                check_path "$PFX-fw-vm1" 10.2.1.4 63
                start_server "$PFX-fw-vm2"
                measure "e) vnetd Azure Firewall: vm1 -> hub-fw -> vm2, $mode, --no-shaping$mark" "$w" \
                    "$PFX-fw-vm1" 10.2.1.4 "$PFX-fw-vm2" short 10.1.1.4
                stop_servers
                stop_vnetd
            fi
            if wants_path gateway; then
                start_vnetd "$binary" "$w" "$mode" "$GW_CONFIG" --no-shaping
                verify_lab "$binary"
                start_server "$PFX-gw-vm-b"
                measure "f) vnetd gateways: vm-a -> gw-a -> gw-b -> vm-b, $mode, --no-shaping$mark" "$w" \
                    "$PFX-gw-vm-a" 10.71.1.4 "$PFX-gw-vm-b" short 10.70.1.4
                stop_servers
                stop_vnetd
            fi
            if wants_path peering6; then
                start_vnetd "$binary" "$w" "$mode" "$V6_CONFIG"
                check_path "$PFX-v6-vm1" fd00:82:0:1::4 64
                start_server "$PFX-v6-vm2"
                TEST_SUFFIX=", IPv6"
                measure "g) vnetd IPv6 peering: vm1 -> vm2, $mode$mark" "$w" \
                    "$PFX-v6-vm1" fd00:82:0:1::4 "$PFX-v6-vm2" tcp-only fd00:81:0:1::4
                TEST_SUFFIX=""
                stop_servers
                stop_vnetd
            fi
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
echo "command:  $COMMAND"
if ((PPS)); then
    gen=""
    for g in $(tr ' ' '\n' <<<"$GENERATORS_USED" | sort -u); do
        # trafgen --version exits 1 after printing its version.
        [[ $g == trafgen ]] && g="trafgen $({ trafgen --version 2>/dev/null || true; } | head -n 1 | cut -d' ' -f2)"
        gen+="${gen:+ and }$g"
    done
    echo "packets:  ${gen:-no generator ran}: one UDP flow per row; 64 B frames are 46-byte IPv4 packets, IMIX 7:4:1 of 46-, 576- and 1500-byte IPv4 packets (frames of 64, 594 and 1518 B); ${DURATION} s counted after $((WARMUP > 1 ? WARMUP : 1)) s of sending; offered = the sender's eth0 tx (and its tx drops), delivered = an nft counter in the receiver"
fi
if ((LATENCY)); then
    tool=$(latency_tool)
    [[ $tool == sockperf ]] && tool="sockperf $({ sockperf --version 2>/dev/null || true; } | head -n 1 | sed 's/.*version //; s/-no\.git$//')"
    echo "latency:  $tool ping-pong, 64-byte messages, one in flight, round trip in microseconds (sockperf --full-rtt)"
fi
if ((${#CAPS[@]})); then
    caps=$(printf '%s; ' "${CAPS[@]}")
    echo "caps:     ${caps%; }: what the labs carry with shaping on; their rows run with vnetd run --no-shaping, which lifts the caps"
fi
echo
# The ratio compares each row with the kernel row of the same test: packets
# (or connections) per second where the row counts them, round trips per
# second (the inverse of the average round trip) for ping-pong, bits per
# second otherwise. The CPU column is vnetd's CPU time, in seconds, per GB
# (10^9 bytes) received, or in nanoseconds per packet delivered (--pps).
printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rows = [l.rstrip("\n").split("|") for l in sys.stdin if l.strip()]
# label, workers, test, kind, bps, bytes, offered, pps, packets, extra, rtt, cpu_ns
def rate(r):
    kind, bps, pps, rtt = r[3], r[4], r[7], r[10]
    if kind == "rtt":
        return 1 / float(rtt.split()[0])
    return float(pps) if pps != "-" else float(bps)
kernel = {r[2]: rate(r) for r in rows if r[0].startswith(("a) kernel", "a6) kernel"))}
# The ceiling of each test (--ceiling): two namespaces, one veth, nothing
# forwarding; each row is given as a share of it too.
ceiling = {r[2]: rate(r) for r in rows if r[0].startswith(("a0) ", "a60) "))}
has_pps = any(r[3] == "pps" for r in rows)
has_rtt = any(r[3] == "rtt" for r in rows)
header = ["path", "workers", "test", "Gbit/s"]
if has_pps:
    header.append("offered kpps")
header += ["kpps", "retransmits / loss"]
if has_rtt:
    header.append("round trip µs avg / p50 / p99")
header.append("vnetd/kernel")
if ceiling:
    header.append("of the ceiling")
header.append("vnetd CPU s/GB (pps: ns/packet)" if has_pps else "vnetd CPU s/GB")
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for r in rows:
    label, workers, test, kind, bps, nbytes, offered, pps, packets, extra, rtt, cpu_ns = r
    gbits = "%.2f" % (float(bps) / 1e9) if kind in ("tcp", "udp", "pps") else "-"
    kpps = "%.0f" % (float(pps) / 1e3) if pps != "-" else "-"
    if kind == "conn":
        kpps = "%.2f k conn/s" % (float(pps) / 1e3)
    ref = kernel.get(test)
    ratio = "%.2f" % (rate(r) / ref) if ref else "-"
    top = ceiling.get(test)
    of_ceiling = "%.2f" % (rate(r) / top) if top else "-"
    cpu = "-"
    if workers != "-":
        if kind == "pps" and int(packets):
            cpu = "%.0f ns/packet" % (int(cpu_ns) / int(packets))
        elif kind in ("tcp", "udp") and int(nbytes):
            cpu = "%.2f" % (int(cpu_ns) / 1e9 / (int(nbytes) / 1e9))
    cells = [label, workers, test, gbits]
    if has_pps:
        cells.append("%.0f" % (float(offered) / 1e3) if offered != "-" else "-")
    cells += [kpps, extra]
    if has_rtt:
        cells.append(" / ".join(rtt.split()) if rtt != "-" else "-")
    cells.append(ratio)
    if ceiling:
        cells.append(of_ceiling)
    cells.append(cpu)
    print("| " + " | ".join(cells) + " |")
conns = {r[0]: float(r[7]) for r in rows if r[3] == "conn" and r[1] != "-"}
on = [v for k, v in conns.items() if ", offload" in k]
off = [v for k, v in conns.items() if ", no-offload" in k]
if on and off:
    print()
    print("connections/s with offload against --no-offload: %.2f" % (on[0] / off[0]))
'
