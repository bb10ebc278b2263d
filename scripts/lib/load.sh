# shellcheck shell=bash
# Load generators for the benchmark scripts, sourced by them. Each sends
# from one network namespace to another and counts at both ends with the
# kernel's own counters, never with the generator's word:
#
#   packets per second   a kernel packet generator, pktgen where the kernel
#                        has it (/proc/net/pktgen in the sender's namespace)
#                        and the sender's eth0 is a veth, else trafgen
#                        (netsniff-ng): one UDP flow of 64-byte frames or of
#                        IMIX, from one core or several, for a fixed window;
#                        offered = the sender's eth0 tx (+ its tx drops),
#                        delivered = an nft counter in the receiver
#   round trips          sockperf ping-pong over UDP or TCP (the Debian
#                        package sockperf), or a python3 ping-pong where
#                        sockperf is missing, labelled so in its rows
#
# The caller defines die MESSAGE and WORK (a scratch directory), and sets
# VNETD_PID (empty when no daemon runs) for the daemon's CPU time.

# The UDP port the generators send to; the receiver's nft sink counts and
# drops what arrives there, so nothing answers (no ICMP port unreachable
# flows back to the sender).
SINK_PORT=9
# The generator's one flow comes from this port.
GENERATOR_SOURCE_PORT=40000

# IPv4 packet sizes (bytes, IP header included) of one round of each mix,
# in the order sent. "64": the smallest Ethernet frame, 64 bytes with the
# FCS (46 bytes of IP). "imix": the simple IMIX, 7:4:1 of 46, 576 and 1500
# bytes of IP (frames of 64, 594 and 1518 bytes), interleaved.
packet_sizes() {
    case $1 in
    64) echo 46 ;;
    imix) echo 46 576 46 576 46 576 46 576 46 46 46 1500 ;;
    *) die "unknown packet mix $1" ;;
    esac
}

# True when eth0 in namespace $1 carries Ethernet frames (a veth: vnetd
# with offload, the kernel reference); a TUN eth0 (vnetd --no-offload)
# takes bare IP packets.
eth0_is_ether() {
    [[ $(ip -n "$1" -j link show dev eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0].get("link_type", ""))') == ether ]]
}

# The MAC address of eth0 in namespace $1.
eth0_mac() {
    ip -n "$1" -j link show dev eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'
}

# The MAC address namespace $1 sends packets for $2 to: its next hop's
# (vnetd's fabric answers ARP for every address off the NIC with one MAC;
# the kernel reference's router answers with its veth's), as the
# neighbour table holds it once traffic has flowed; one ping resolves it
# if it is missing.
next_hop_mac() {
    local ns=$1 dst=$2 hop mac try
    hop=$(ip -n "$ns" -j route get "$dst" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r.get("gateway", r["dst"]))')
    for try in 1 2; do
        mac=$(ip -n "$ns" -j neigh show to "$hop" dev eth0 | python3 -c '
import json, sys
for n in json.load(sys.stdin):
    if n.get("lladdr") and "FAILED" not in n.get("state", []):
        print(n["lladdr"]); break')
        [[ -n $mac ]] && break
        if ((try == 1)); then ip netns exec "$ns" ping -n -c 1 -W 1 "$dst" >/dev/null 2>&1 || true; fi
    done
    [[ -n $mac ]] || die "no neighbour entry for $hop (next hop to $dst) in $ns"
    echo "$mac"
}

# Writes trafgen's configuration to $1: one packet per size of mix $2 from
# $3:$GENERATOR_SOURCE_PORT to $4:$SINK_PORT (UDP, DF, TTL 64), each behind
# an Ethernet header from MAC $5 to MAC $6 unless $5 is empty (a TUN eth0).
# trafgen sends the packets in order, round after round.
trafgen_config() {
    local file=$1 mix=$2 src=$3 dst=$4 smac=$5 dmac=$6 size
    : >"$file"
    for size in $(packet_sizes "$mix"); do
        {
            echo "{"
            if [[ -n $smac ]]; then echo "  eth(da=$dmac, sa=$smac, type=0x0800),"; fi
            echo "  ipv4(saddr=$src, daddr=$dst, ttl=64, df),"
            echo "  udp(sp=$GENERATOR_SOURCE_PORT, dp=$SINK_PORT),"
            echo "  fill(0x61, $((size - 28))),"
            echo "}"
        } >>"$file"
    done
}

# True when pktgen can send from namespace $1: the kernel has it (the
# pktgen module makes /proc/net/pktgen, per namespace) and eth0 takes
# Ethernet frames (pktgen builds them).
pktgen_usable() {
    ip netns exec "$1" test -e /proc/net/pktgen/pgctrl && eth0_is_ether "$1"
}

# Runs inside the sender's namespace (bash -c): sets pktgen's threads 0
# to $1-1 each on eth0 for one flow of mix $2 from $3 to $4 (next hop MAC
# $5), then starts them; the start blocks until SIGINT stops them.
# pktgen's sizes are frames without the FCS.
pktgen_send_in_namespace() {
    local cpus=$1 mix=$2 src=$3 dst=$4 dmac=$5 sport=$6 dport=$7 cpu dev
    pg() { echo "$2" >"$1" || { echo "pktgen: '$2' to $1 failed" >&2; exit 1; }; }
    for ((cpu = 0; cpu < cpus; cpu++)); do
        pg "/proc/net/pktgen/kpktgend_$cpu" rem_device_all
        pg "/proc/net/pktgen/kpktgend_$cpu" "add_device eth0@$cpu"
        dev=/proc/net/pktgen/eth0@$cpu
        pg "$dev" "count 0"
        pg "$dev" "clone_skb 0"
        pg "$dev" "burst 1"
        pg "$dev" "delay 0"
        pg "$dev" "pkt_size 60"
        if [[ $mix == imix ]]; then pg "$dev" "imix_weights 60,7 590,4 1514,1"; fi
        pg "$dev" "dst_mac $dmac"
        pg "$dev" "src_min $src"
        pg "$dev" "src_max $src"
        pg "$dev" "dst $dst"
        pg "$dev" "udp_src_min $sport"
        pg "$dev" "udp_src_max $sport"
        pg "$dev" "udp_dst_min $dport"
        pg "$dev" "udp_dst_max $dport"
    done
    echo start >/proc/net/pktgen/pgctrl
}

# Adds to namespace $1 (once) an nft table that counts and drops what
# arrives for UDP port $SINK_PORT: the receiving end of the generators.
sink_add() {
    ip netns exec "$1" nft list table inet vnetd_bench >/dev/null 2>&1 && return 0
    ip netns exec "$1" nft -f - <<EOF || die "cannot add the nft counter in $1"
table inet vnetd_bench {
    counter delivered { }
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport $SINK_PORT counter name "delivered" drop
    }
}
EOF
}

# The generator send_packets uses from namespace $1: "pktgen" or "trafgen".
generator_for() {
    if pktgen_usable "$1"; then echo pktgen; else echo trafgen; fi
}

# send_packets SENDER_NS RECEIVER_NS[,RECEIVER_NS...] SRC DST MIX CPUS
# SETTLE SECS: sends one UDP flow of MIX from SRC to DST:$SINK_PORT from
# CPUS generator cores for SETTLE + SECS seconds and counts the last SECS
# of them (the settle lets the generator start, the neighbour resolve and,
# with offload, the flow move to the kernel). The receivers must hold the
# sink (sink_add); delivered is the sum of their counters (a load
# balancer's flow lands on one backend of several), in datagrams even
# where the receiver was handed UDP super-packets. Prints "<offered
# packets/s> <delivered packets/s> <delivered IP bytes/s> <delivered
# packets> <daemon CPU ns>".
send_packets() {
    local sender=$1 receivers=$2 src=$3 dst=$4 mix=$5 cpus=$6 settle=$7 secs=$8
    local conf=$WORK/gen-$sender-$mix-$cpus.cfg log=$WORK/gen-$sender-$mix-$cpus.log
    local smac="" dmac="" gen_pid rc=0 total=$((settle + secs + 1)) result generator
    if eth0_is_ether "$sender"; then
        smac=$(eth0_mac "$sender")
        dmac=$(next_hop_mac "$sender" "$dst")
    fi
    generator=$(generator_for "$sender")
    if [[ $generator == pktgen ]]; then
        timeout -s INT --kill-after=10 "$total" ip netns exec "$sender" bash -c \
            "$(declare -f pktgen_send_in_namespace); pktgen_send_in_namespace $cpus $mix $src $dst $dmac $GENERATOR_SOURCE_PORT $SINK_PORT" \
            >"$log" 2>&1 &
    else
        trafgen_config "$conf" "$mix" "$src" "$dst" "$smac" "$dmac"
        # --no-sock-mem: leave the host's socket memory settings alone
        # (other people's tests share them).
        timeout -s INT --kill-after=10 "$total" ip netns exec "$sender" \
            trafgen --dev eth0 --conf "$conf" --cpus "$cpus" --no-sock-mem >"$log" 2>&1 &
    fi
    gen_pid=$!
    local sizes
    read -r -a sizes <<<"$(packet_sizes "$mix")"
    result=$(python3 - "$sender" "$receivers" "$settle" "$secs" "${VNETD_PID:-}" "${sizes[@]}" <<'PY'
import glob, json, subprocess, sys, time

sender, receivers, settle, secs, pid = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
sizes = [int(s) for s in sys.argv[6:]]

def offered():
    # What the sender's eth0 took: sent, or dropped at its queue.
    out = subprocess.check_output(["ip", "-n", sender, "-s", "-j", "link", "show", "dev", "eth0"])
    tx = json.loads(out)[0]["stats64"]["tx"]
    return tx["packets"] + tx["dropped"]

def delivered():
    packets = nbytes = 0
    for ns in receivers:
        out = subprocess.check_output(["ip", "netns", "exec", ns, "nft", "-j", "list", "counter", "inet", "vnetd_bench", "delivered"])
        for item in json.loads(out)["nftables"]:
            c = item.get("counter")
            if c:
                packets += c["packets"]
                nbytes += c["bytes"]
    return packets, nbytes

def cpu_ns():
    total = 0
    for f in glob.glob("/proc/%s/task/*/schedstat" % pid) if pid else []:
        try:
            with open(f) as fh:
                total += int(fh.read().split()[0])
        except OSError:
            pass
    return total

time.sleep(settle)
t0, s0, (p0, b0), c0 = time.monotonic(), offered(), delivered(), cpu_ns()
time.sleep(secs)
t1, s1, (p1, b1), c1 = time.monotonic(), offered(), delivered(), cpu_ns()
elapsed = t1 - t0
skbs, nbytes = p1 - p0, b1 - b0
# nft counts what the receiving kernel took in, and a receiver may be
# handed UDP super-packets (segmentation offload: one IPv4 and UDP
# header, the payloads of several datagrams of one size), which it splits
# only for the socket. Datagrams are counted as Azure counts them: of one
# size, from the bytes (each super-packet holds 28 bytes of headers once);
# of a mix, only where none came joined.
if len(set(sizes)) == 1:
    datagrams = (nbytes - 28 * skbs) // (sizes[0] - 28)
    nbytes = datagrams * sizes[0]
else:
    mean = sum(sizes) / len(sizes)
    if skbs and abs(nbytes / skbs - mean) > 0.01 * mean:
        sys.exit("the receiver took %d B per packet where the mix averages %.1f: "
                 "super-packets of several sizes cannot be counted by datagram" % (nbytes / skbs, mean))
    datagrams = skbs
print("%.0f %.0f %.0f %d %d" % ((s1 - s0) / elapsed, datagrams / elapsed, nbytes / elapsed, datagrams, c1 - c0))
PY
    ) || rc=$?
    wait "$gen_pid" || {
        local status=$?
        # 124: stopped by timeout's SIGINT, which is how each run ends.
        ((status == 124)) || die "$generator in $sender exited with status $status: $(tail -n 5 "$log")"
    }
    ((rc == 0)) || die "counting $generator's packets from $sender failed"
    [[ ${result%% *} != 0 ]] || die "$generator in $sender put nothing on eth0: $(tail -n 5 "$log")"
    echo "$result"
}

# The round-trip tool: "sockperf" where installed, else "python3".
latency_tool() {
    if command -v sockperf >/dev/null; then echo sockperf; else echo python3; fi
}

# Ports of the round-trip servers: UDP, then TCP.
PINGPONG_UDP_PORT=11111
PINGPONG_TCP_PORT=11112

# Starts in namespace $1 the round-trip servers (UDP and TCP) on address
# $2, with the tool latency_tool names, and waits until they listen; sets
# PINGPONG_PIDS to their PIDs.
PINGPONG_PIDS=()
start_pingpong_servers() {
    local ns=$1 addr=$2 proto port
    PINGPONG_PIDS=()
    for proto in udp tcp; do
        port=$PINGPONG_UDP_PORT
        [[ $proto == tcp ]] && port=$PINGPONG_TCP_PORT
        if [[ $(latency_tool) == sockperf ]]; then
            local args=(server -i "$addr" -p "$port")
            [[ $proto == tcp ]] && args+=(--tcp)
            ip netns exec "$ns" sockperf "${args[@]}" >"$WORK/pingpong-$ns-$proto.log" 2>&1 &
        else
            ip netns exec "$ns" python3 - "$proto" "$addr" "$port" >"$WORK/pingpong-$ns-$proto.log" 2>&1 <<'PY' &
import socket, sys
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)
else:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen(16)
    while True:
        c, _ = server.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = c.recv(2048)
            if not data:
                break
            c.sendall(data)
        c.close()
PY
        fi
        PINGPONG_PIDS+=($!)
        wait_bound "$ns" "$proto" "$port"
    done
}

# Waits until namespace $1 has a socket of protocol $2 (tcp|udp) bound to
# port $3, for at most 5 s.
wait_bound() {
    local ns=$1 proto=$2 port=$3 i flag=-Hltn
    [[ $proto == udp ]] && flag=-Hlun
    for ((i = 0; i < 50; i++)); do
        [[ -n $(ip netns exec "$ns" ss "$flag" "sport = :$port") ]] && return 0
        sleep 0.1
    done
    die "nothing listens on $proto port $port in $ns"
}

# round_trips NS DST PROTO SECS: ping-pong of 64-byte messages from
# namespace NS to the server on DST for SECS seconds, one message in
# flight. Prints "<average> <p50> <p99> <round trips>" in microseconds of
# round trip (sockperf --full-rtt, which leaves out its first 400 ms).
round_trips() {
    local ns=$1 dst=$2 proto=$3 secs=$4 port=$PINGPONG_UDP_PORT out=$WORK/pingpong-$1-$3.out
    [[ $proto == tcp ]] && port=$PINGPONG_TCP_PORT
    if [[ $(latency_tool) == sockperf ]]; then
        local args=(ping-pong -i "$dst" -p "$port" -t "$secs" -m 64 --full-rtt)
        [[ $proto == tcp ]] && args+=(--tcp)
        timeout --kill-after=5 $((secs + 30)) ip netns exec "$ns" sockperf "${args[@]}" >"$out" 2>&1 ||
            die "sockperf ping-pong ($proto) from $ns to $dst failed: $(tail -n 5 "$out")"
        python3 - "$out" <<'PY'
import re, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1]).read())
def find(pattern):
    m = re.search(pattern, text)
    if not m:
        sys.exit("sockperf printed no %r: %s" % (pattern, text[-300:]))
    return float(m.group(1))
avg = find(r"avg-rtt=\s*([0-9.]+)")
p50 = find(r"percentile 50\.000 =\s*([0-9.]+)")
p99 = find(r"percentile 99\.000 =\s*([0-9.]+)")
n = find(r"Total (\d+) observations")
print("%.1f %.1f %.1f %d" % (avg, p50, p99, n))
PY
    else
        timeout --kill-after=5 $((secs + 30)) ip netns exec "$ns" python3 - "$proto" "$dst" "$port" "$secs" >"$out" 2>&1 <<'PY' ||
import socket, sys, time
proto, dst, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
message = b"x" * 64
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, port))
    s.settimeout(1)
    def exchange():
        s.send(message)
        s.recv(2048)
else:
    s = socket.create_connection((dst, port), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def exchange():
        s.sendall(message)
        got = 0
        while got < len(message):
            got += len(s.recv(2048))
# As sockperf does: the first 400 ms warm up and are not counted.
end = time.monotonic() + 0.4
while time.monotonic() < end:
    exchange()
samples, end = [], time.monotonic() + secs - 0.4
while time.monotonic() < end:
    t = time.perf_counter_ns()
    exchange()
    samples.append(time.perf_counter_ns() - t)
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] / 1e3
print("%.1f %.1f %.1f %d" % (sum(samples) / len(samples) / 1e3, pick(0.5), pick(0.99), len(samples)))
PY
            die "python3 ping-pong ($proto) from $ns to $dst failed: $(tail -n 5 "$out")"
        cat "$out"
    fi
}
