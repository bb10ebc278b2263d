#!/usr/bin/env bash
# Throughput through a NAT gateway against the kernel's own source NAT,
# measured in one run so the ratio means something on a busy machine:
#
#   a) kernel: ns A -veth- router ns (ip_forward=1, nftables masquerade)
#              -veth- ns B (an iperf3 server at 203.0.113.10)
#   b) vnetd:  vm1 (a subnet with a NAT gateway) -> the lab's Internet,
#              where the iperf3 server runs at 203.0.113.10
#
# b) is measured once per mode (--modes): vnetd's default and
# `--no-offload`. Every figure is iperf3's sum_received; a failed
# measurement stops the run with a non-zero exit and no table.
#
# Usage: sudo scripts/bench-nat.sh [--seconds N] [--warmup N]
#            [--binary PATH] [--modes offload,no-offload]
set -euo pipefail

die() {
    echo "bench-nat: $*" >&2
    exit 1
}

DURATION=10
WARMUP=2
BINARY=""
MODES_LIST=offload,no-offload
while (($#)); do
    case $1 in
    --seconds) DURATION=${2:?--seconds needs a value}; shift 2 ;;
    --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --modes) MODES_LIST=${2:?--modes needs a value}; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 1)) || die "--seconds must be a whole number >= 1"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "--warmup must be a whole number"
IFS=, read -r -a MODES <<<"$MODES_LIST"
[[ $(id -u) -eq 0 ]] || die "must run as root (it creates network namespaces)"
for tool in iperf3 ip nft python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y iperf3 iproute2 nftables python3)"
done
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -n $BINARY && $BINARY != /* ]]; then BINARY=$PWD/$BINARY; fi
cd "$REPO"
BINARY=${BINARY:-$REPO/target/release/vnetd}
[[ -x $BINARY ]] || die "$BINARY missing: cargo build --release"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

PFX=vnn$$
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnetd-bench-nat.XXXXXX")
export VNETD_SOCKET=$WORK/vnetd.sock
CREATED_NS=()
PIDS=()
VNETD_PID=""
LAB=$WORK/lab.yaml

stop_vnetd() {
    [[ -n $VNETD_PID ]] || return 0
    local pid=$VNETD_PID i
    VNETD_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    "$BINARY" down "$LAB" >/dev/null 2>&1 || true
}

cleanup() {
    local rc=$? pid ns
    set +e
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    stop_vnetd
    for ns in ${CREATED_NS[@]+"${CREATED_NS[@]}"}; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ns_add() {
    [[ ! -e /run/netns/$1 ]] || die "network namespace $1 already exists; not touching it"
    ip netns add "$1"
    CREATED_NS+=("$1")
    ip -n "$1" link set lo up
}

# An iperf3 server in namespace $1, waited for.
serve() {
    local i
    ip netns exec "$1" iperf3 -s -p 5201 >"$WORK/server-$1.log" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 50; i++)); do
        [[ -n $(ip netns exec "$1" ss -Hltn "sport = :5201") ]] && return 0
        sleep 0.1
    done
    die "the iperf3 server in $1 did not start"
}

# "<bits per second> <retransmits or loss>" of iperf3 from ns $1 to $2,
# $3 = tcp|udp, for $4 seconds.
run() {
    local args=(-c "$2" -p 5201 -t "$4" -J --connect-timeout 3000) out=$WORK/iperf.json
    [[ $3 == udp ]] && args+=(-u -b 0 -l 1400)
    timeout --kill-after=5 $(($4 + 30)) ip netns exec "$1" iperf3 "${args[@]}" >"$out" 2>&1 ||
        die "iperf3 from $1 to $2 ($3) failed: $(head -c 300 "$out")"
    python3 - "$out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
if doc.get("error"):
    sys.exit("iperf3: " + doc["error"])
end = doc["end"]
received = end["sum_received"]
if doc["start"]["test_start"]["protocol"] == "UDP":
    extra = "%.2f%% lost" % received.get("lost_percent", float("nan"))
else:
    extra = "%s retr" % end.get("sum_sent", {}).get("retransmits", "?")
print("%.0f %s" % (received["bits_per_second"], extra.replace(" ", "_")))
PY
}

ROWS=()
measure() {
    local label=$1 ns=$2 proto result
    for proto in tcp udp; do
        if ((WARMUP > 0)); then run "$ns" 203.0.113.10 "$proto" "$WARMUP" >/dev/null; fi
        echo "bench-nat: measuring $label, $proto, ${DURATION}s" >&2
        result=$(run "$ns" 203.0.113.10 "$proto" "$DURATION")
        ROWS+=("$label|$proto|$result")
    done
}

# a) The kernel: a router namespace masquerading what it forwards.
A=${PFX}a R=${PFX}r B=${PFX}b
ns_add "$A"; ns_add "$R"; ns_add "$B"
ip link add "${PFX}ar" type veth peer name "${PFX}ra"
ip link add "${PFX}rb" type veth peer name "${PFX}br"
ip link set "${PFX}ar" netns "$A"; ip link set "${PFX}ra" netns "$R"
ip link set "${PFX}rb" netns "$R"; ip link set "${PFX}br" netns "$B"
ip -n "$A" addr add 10.99.1.2/24 dev "${PFX}ar"; ip -n "$A" link set "${PFX}ar" up
ip -n "$R" addr add 10.99.1.1/24 dev "${PFX}ra"; ip -n "$R" link set "${PFX}ra" up
ip -n "$R" addr add 203.0.113.1/24 dev "${PFX}rb"; ip -n "$R" link set "${PFX}rb" up
ip -n "$B" addr add 203.0.113.10/24 dev "${PFX}br"; ip -n "$B" link set "${PFX}br" up
ip -n "$A" route add default via 10.99.1.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$R" nft -f - <<EOF
table ip bench_snat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${PFX}rb" masquerade
  }
}
EOF
serve "$B"
measure "kernel, nftables SNAT" "$A"

# b) vnetd: a NAT gateway on vm1's subnet, the server on the Internet.
cat >"$LAB" <<EOF
netns_prefix: ${PFX}-
internet:
  servers: [{name: far, address: 203.0.113.10, ports: [80]}]
public_ip_addresses:
  - {name: nat-pip, ip_address: 198.51.100.10}
nat_gateways:
  - {name: nat, public_ip_addresses: [nat-pip], subnets: [spoke/app]}
vnets:
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
network_interfaces:
  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4}
EOF
for mode in "${MODES[@]}"; do
    args=()
    [[ $mode == no-offload ]] && args+=(--no-offload)
    "$BINARY" run "$LAB" "${args[@]}" >"$WORK/vnetd-$mode.log" 2>&1 &
    VNETD_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q "converged" "$WORK/vnetd-$mode.log" && break
        kill -0 "$VNETD_PID" 2>/dev/null || die "vnetd exited: $(cat "$WORK/vnetd-$mode.log")"
        sleep 0.1
    done
    serve "${PFX}-vm1.internet"
    measure "vnetd ($mode), NAT gateway" "${PFX}-vm1"
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    unset 'PIDS[-1]'
    stop_vnetd
done

printf '\nNAT throughput, %ss each, load at start %s, %s\n' "$DURATION" "$LOAD_START" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
printf '%-32s %-5s %12s %8s  %s\n' path proto Gbit/s "x kernel" note
declare -A KERNEL
for row in "${ROWS[@]}"; do
    IFS='|' read -r label proto result <<<"$row"
    read -r bps extra <<<"$result"
    [[ $label == kernel* ]] && KERNEL[$proto]=$bps
done
for row in "${ROWS[@]}"; do
    IFS='|' read -r label proto result <<<"$row"
    read -r bps extra <<<"$result"
    ratio=$(python3 -c "print('%.2f' % ($bps / ${KERNEL[$proto]}))")
    printf '%-32s %-5s %12.2f %8s  %s\n' "$label" "$proto" "$(python3 -c "print($bps / 1e9)")" "$ratio" "${extra//_/ }"
done
