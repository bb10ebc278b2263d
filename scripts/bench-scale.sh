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
# With --hosts H the lab is spread over H hosts (h1..hH), each a network
# namespace of this machine on an underlay bridge, as in vnetd's own tests
# (tests/common/hosts.rs): one VNet per host, 10.<k>.0.0/16 on hk, with
# N/H NICs. The hosts' daemons start one after another, each once the one
# before is up, so that no host's bring-up competes with another's for the
# CPUs; up and rss are per host, and down is per host too, each daemon
# stopped in turn once all are up (see "Several hosts" below).
#
# Usage: sudo scripts/bench-scale.sh [--binary PATH] [--workers N] [--runs R] [--no-offload] [--apply M] [--idle S] [--hosts H] N
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench-scale.sh [options] N   (as root)

  N                  number of NICs (1..16384)
  --runs R           repeat the measurement R times (default 1)
  --no-offload       run vnetd with --no-offload (default: offload on)
  --apply M          once up, time `vnetd apply` of the same lab with M more NICs
  --idle S           once up, measure the daemon's CPU use over S idle seconds
  --hosts H          spread the lab over H hosts, namespaces of this machine
                     (1..32; N/H NICs each; not with --apply or --idle)
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
HOSTS=0
while (($#)); do
    case $1 in
    --binary) BINARY=${2:?--binary needs a value}; shift 2 ;;
    --workers) WORKERS=${2:?--workers needs a value}; shift 2 ;;
    --runs) RUNS=${2:?--runs needs a value}; shift 2 ;;
    --no-offload) OFFLOAD=off; shift ;;
    --apply) GROW=${2:?--apply needs a value}; shift 2 ;;
    --idle) IDLE=${2:?--idle needs a value}; shift 2 ;;
    --hosts) HOSTS=${2:?--hosts needs a value}; shift 2 ;;
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
is_uint "$HOSTS" && ((HOSTS <= 32)) || die "--hosts takes a number from 1 to 32"
((HOSTS == 0 || NICS >= HOSTS)) || die "--hosts H needs at least H NICs"
((HOSTS == 0 || (GROW == 0 && IDLE == 0))) || die "--hosts does not go with --apply or --idle"

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
HOST_PIDS=()   # with --hosts: host k's daemon at index k-1 ("" once stopped)
HOST_NS=()     # with --hosts: the host and bridge namespaces made so far

cleanup() {
    local rc=$?
    set +e
    if [[ -n $VNETD_PID ]]; then
        kill -TERM "$VNETD_PID" 2>/dev/null
        wait "$VNETD_PID" 2>/dev/null
    fi
    if ((HOSTS > 0)); then
        hosts_cleanup
        rm -rf "$WORK"
        exit "$rc"
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
now() { date +%s.%N; }

# ---------------------------------------------------------------------------
# Several hosts (--hosts H): the lab over H hosts, each a namespace of this
# machine. Host k is $PFX-host<k>, with 192.0.2.<k>/24 on its eth0 (MTU
# 1550, room for VXLAN around Azure's 1500), a veth to the bridge br0 in
# $PFX-underlay; its NICs' namespaces are $PFX-h<k>-n<i> (its fabric's,
# with offload, $PFX-h<k>-n<first>.fabric), so "down" per host counts
# $PFX-h<k>-*. Each daemon runs inside its host's namespace with
# `nsenter --net` (not `ip netns exec`, whose mount namespace would hide
# the namespaces the daemon makes) and a control socket of its own.

host_ns() { echo "$PFX-host$1"; }
host_socket() { echo "$WORK/h$1.sock"; }
host_share() { echo $((NICS / HOSTS + ($1 <= NICS % HOSTS ? 1 : 0))); }

# vnetd ARGS, as host k: inside its namespace, against its daemon.
host_vnetd() {
    local k=$1
    shift
    VNETD_SOCKET=$(host_socket "$k") nsenter --net="/run/netns/$(host_ns "$k")" "$BINARY" "$@"
}

# hosts_lab_file: H VNets, one per host, 250 NICs per /24 subnet of each.
hosts_lab_file() {
    local k i=0 j s h share
    echo "hosts:"
    for ((k = 1; k <= HOSTS; k++)); do
        echo "  - {name: h$k, underlay_address: 192.0.2.$k}"
    done
    echo "vnets:"
    for ((k = 1; k <= HOSTS; k++)); do
        echo "  - name: v$k"
        echo "    host: h$k"
        echo "    address_space: [10.$k.0.0/16]"
        echo "    location: westeurope"
        echo "    subnets:"
        share=$(host_share "$k")
        for ((s = 0; s * 250 < share; s++)); do
            echo "      - {name: s$s, address_prefixes: [10.$k.$s.0/24]}"
        done
    done
    echo "network_interfaces:"
    for ((k = 1; k <= HOSTS; k++)); do
        share=$(host_share "$k")
        for ((j = 0; j < share; j++, i++)); do
            s=$((j / 250)) h=$((j % 250 + 4))
            echo "  - {name: n$i, subnet: v$k/s$s, private_ip_address: 10.$k.$s.$h, netns: $PFX-h$k-n$i}"
        done
    done
}

# The bridge's namespace and the hosts' namespaces, each recorded in
# HOST_NS as soon as it exists.
hosts_build() {
    local k ns bridge=$PFX-underlay
    ip netns add "$bridge"
    HOST_NS+=("$bridge")
    ip -n "$bridge" link add br0 type bridge
    ip -n "$bridge" link set br0 up
    for ((k = 1; k <= HOSTS; k++)); do
        ns=$(host_ns "$k")
        ip netns add "$ns"
        HOST_NS+=("$ns")
        ip -n "$bridge" link add "p$k" mtu 1550 type veth peer name eth0 netns "$ns"
        ip -n "$bridge" link set "p$k" master br0 up
        ip -n "$ns" link set eth0 mtu 1550 up
        ip -n "$ns" addr add "192.0.2.$k/24" dev eth0
        ip -n "$ns" link set lo up
    done
}

# On any exit: stop the daemons, `vnetd down --host` on each host, then
# the hosts' and the bridge's namespaces.
hosts_cleanup() {
    local k pid ns
    for ((k = 1; k <= ${#HOST_PIDS[@]}; k++)); do
        pid=${HOST_PIDS[k - 1]}
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ((k = 1; k <= HOSTS; k++)); do
        [[ -e /run/netns/$(host_ns "$k") ]] || continue
        host_vnetd "$k" down "$LAB_CONFIG" --host "h$k" >/dev/null 2>&1
    done
    for ns in "${HOST_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
}

# Namespaces of host k's share left under /run/netns.
host_left() {
    find /run/netns -maxdepth 1 -name "$PFX-h$1-*" 2>/dev/null | wc -l
}

# The runs: each host's daemon started once the one before is up; then,
# all up, each stopped in turn.
hosts_bench() {
    local r k pid out err start up rss_kib stop rc
    local -a ups rsss downs
    echo "# vnetd $(basename "$BINARY"), $NICS NICs over $HOSTS hosts, offload $OFFLOAD, $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-4s %-4s %6s %8s %8s %10s\n' run host nics up_s down_s rss_mib
    for ((r = 1; r <= RUNS; r++)); do
        HOST_PIDS=()
        for ((k = 1; k <= HOSTS; k++)); do
            out=$WORK/run$r-h$k.out err=$WORK/run$r-h$k.err
            start=$(now)
            VNETD_SOCKET=$(host_socket "$k") nsenter --net="/run/netns/$(host_ns "$k")" \
                "$BINARY" "${args[@]}" --host "h$k" >"$out" 2>"$err" &
            pid=$!
            HOST_PIDS+=("$pid")
            until grep -q "lab up" "$out" 2>/dev/null; do
                if ! kill -0 "$pid" 2>/dev/null; then
                    cat "$err" >&2
                    HOST_PIDS[k - 1]=""
                    die "host h$k's vnetd exited before its lab was up"
                fi
                sleep 0.02
            done
            up=$(now)
            ups[k]=$(awk -v a="$start" -v b="$up" 'BEGIN { printf "%.2f", b - a }')
            rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
            rsss[k]=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
            echo "# h$k up in ${ups[k]} s, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
        done
        for ((k = 1; k <= HOSTS; k++)); do
            pid=${HOST_PIDS[k - 1]}
            stop=$(now)
            kill -TERM "$pid"
            rc=0
            wait "$pid" || rc=$?
            HOST_PIDS[k - 1]=""
            ((rc == 0)) || { cat "$WORK/run$r-h$k.err" >&2; die "host h$k's vnetd exited with status $rc"; }
            while (($(host_left "$k") > 0)); do sleep 0.02; done
            downs[k]=$(awk -v a="$stop" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
        done
        for ((k = 1; k <= HOSTS; k++)); do
            printf '%-4s %-4s %6s %8s %8s %10s\n' "$r" "h$k" "$(host_share "$k")" "${ups[k]}" "${downs[k]}" "${rsss[k]}"
        done
    done
}
# --------------------------------------------------------------- end of --hosts

if ((HOSTS > 0)); then
    command -v nsenter >/dev/null || die "--hosts needs nsenter (util-linux)"
    hosts_lab_file >"$LAB_CONFIG"
    [[ -z $(find /run/netns -maxdepth 1 -name "$PFX-*" 2>/dev/null) ]] ||
        die "network namespaces $PFX-* already exist; not touching them"
    hosts_build
    args=(run "$LAB_CONFIG")
    [[ -z $WORKERS ]] || args+=(--workers "$WORKERS")
    if [[ $OFFLOAD == on ]]; then unset VNETD_NO_OFFLOAD; else args+=(--no-offload); fi
    hosts_bench
    exit 0
fi

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
