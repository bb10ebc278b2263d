#!/usr/bin/env bash
# What a lab's shaping measures against Azure's figures, and what the
# shaping itself costs, in one run:
#
#   rtt     ping across a global peering, West Europe to East US: the median
#           against the published 84 ms (85 one way, 83 back), and inside
#           West Europe (nothing added)
#   size    iperf3 from a Standard_D2s_v3 VM (1000 Mbps) to a NIC of no VM,
#           and into it from that NIC (ingress is not limited)
#   nics    iperf3 from both NICs of one Standard_D2s_v3 VM at once (their
#           sum against the size's 1000 Mbps)
#   vpngw1  iperf3 from two spokes at once through a VpnGw1 gateway (650
#           Mbps) to a branch host behind BIRD
#   cost    the shaping's own cost, against `--no-shaping` in the same run,
#           with limits far above what the host carries:
#           - userspace: two VNets of one region whose peering caps at 100
#             Gbit/s, the sender a Standard_D96s_v5 (35 Gbit/s), with
#             --no-offload: every packet through the daemon's pacer and the
#             sender's tbf
#           - offload: the same VNets without the peering's cap: the flow
#             is offloaded either way, only the sender's tbf differs
#           - link-cap: the first lab with offload on: the peering's cap
#             keeps the flow in userspace, where --no-shaping offloads it
#
# Every throughput is iperf3's own sum_received; every lab is named under a
# per-run prefix, so a running lab is never touched.
#
# Usage: sudo scripts/bench-shaping.sh [--seconds N] [--repeat N]
#            [--binary PATH] [--only rtt,size,nics,vpngw1,cost]
set -euo pipefail

DURATION=10
REPEAT=3
BINARY=""
ONLY=rtt,size,nics,vpngw1,cost
while (($#)); do
    case "$1" in
    --seconds) DURATION=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --binary) BINARY=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-shaping: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "bench-shaping: run as root" >&2; exit 1; }
cd "$(dirname "$0")/.."
if [[ -z $BINARY ]]; then
    BINARY=target/release/vnetd
    [[ -x $BINARY ]] || cargo build --release --bin vnetd >&2
fi
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

P="bsh$$"
WORK=$(mktemp -d)
export VNETD_SOCKET="$WORK/vnetd.sock"
cleanup() {
    stop_lab
    "$BINARY" down >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

NAME=bench-shaping
# shellcheck source=scripts/lib/lab.sh
source scripts/lib/lab.sh

in_ns() { ip netns exec "$P-$1" "${@:2}"; }

# rate FROM DST PORT: Mbit/s received, one iperf3 run of DURATION seconds.
rate() {
    in_ns "$1" iperf3 -c "$2" -p "$3" -t "$DURATION" -J |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))'
}

serve() { in_ns "$1" iperf3 -s -D -B "$2" -p "$3" --logfile "$WORK/iperf-$3.log"; sleep 0.3; }

# median_rtt FROM DST: the median of 50 pings, in ms.
median_rtt() {
    in_ns "$1" ping -n -c 50 -i 0.05 "$2" |
        python3 -c 'import re,statistics,sys; print(round(statistics.median(float(m) for m in re.findall(r"time=([0-9.]+)", sys.stdin.read())),1))'
}

cat >"$WORK/regions.yaml" <<EOF
vnets:
  - {name: weu, address_space: [10.10.0.0/16], location: westeurope, subnets: [{name: d, address_prefixes: [10.10.1.0/24]}]}
  - {name: eus, address_space: [10.20.0.0/16], location: eastus, subnets: [{name: d, address_prefixes: [10.20.1.0/24]}]}
peerings:
  - {name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus}
  - {name: eus-to-weu, virtual_network: eus, remote_virtual_network: weu}
network_interfaces:
  - {name: small, subnet: weu/d, private_ip_address: 10.10.1.4, netns: $P-small}
  - {name: sink, subnet: weu/d, private_ip_address: 10.10.1.5, netns: $P-sink}
  - {name: twin-a, subnet: weu/d, private_ip_address: 10.10.1.6, netns: $P-twin-a}
  - {name: twin-b, subnet: weu/d, private_ip_address: 10.10.1.7, netns: $P-twin-b}
  - {name: far, subnet: eus/d, private_ip_address: 10.20.1.4, netns: $P-far}
virtual_machines:
  - {name: small, size: Standard_D2s_v3, network_interfaces: [small]}
  - {name: twins, size: Standard_D2s_v3, network_interfaces: [twin-a, twin-b]}
EOF

cat >"$WORK/gateway.yaml" <<EOF
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: default, address_prefixes: [10.0.1.0/24]}
      - {name: GatewaySubnet, address_prefixes: [10.0.255.224/27]}
  - {name: spoke1, address_space: [10.1.0.0/16], location: westeurope, subnets: [{name: app, address_prefixes: [10.1.1.0/24]}]}
  - {name: spoke2, address_space: [10.2.0.0/16], location: westeurope, subnets: [{name: app, address_prefixes: [10.2.1.0/24]}]}
peerings:
  - {name: hub-to-spoke1, virtual_network: hub, remote_virtual_network: spoke1, allow_gateway_transit: true}
  - {name: spoke1-to-hub, virtual_network: spoke1, remote_virtual_network: hub, use_remote_gateways: true}
  - {name: hub-to-spoke2, virtual_network: hub, remote_virtual_network: spoke2, allow_gateway_transit: true}
  - {name: spoke2-to-hub, virtual_network: spoke2, remote_virtual_network: hub, use_remote_gateways: true}
network_interfaces:
  - {name: vm1, subnet: spoke1/app, private_ip_address: 10.1.1.4, netns: $P-vm1}
  - {name: vm2, subnet: spoke2/app, private_ip_address: 10.2.1.4, netns: $P-vm2}
on_premises_sites:
  - name: branch
    address_space: [192.168.0.0/16]
    router: {netns: $P-branch, asn: 65050, bgp_speaker: bird}
    hosts: [{name: onprem, private_ip_address: 192.168.1.10, netns: $P-onprem}]
virtual_network_gateways:
  - {name: $P-gw, virtual_network: hub, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, bgp_enabled: true}
local_network_gateways:
  - {name: branch-lng, site: branch, gateway_address: 203.0.113.10, bgp_settings: {asn: 65050, bgp_peering_address: 192.168.255.1}}
virtual_network_gateway_connections:
  - {name: hub-to-branch, type: IPsec, virtual_network_gateway: $P-gw, local_network_gateway: branch-lng, bgp_enabled: true, shared_key: lab}
EOF

cat >"$WORK/cost-link.yaml" <<EOF
vnets:
  - {name: x1, address_space: [10.31.0.0/16], location: westeurope, subnets: [{name: d, address_prefixes: [10.31.1.0/24]}]}
  - {name: x2, address_space: [10.32.0.0/16], location: westeurope, subnets: [{name: d, address_prefixes: [10.32.1.0/24]}]}
peerings:
  - {name: x1-to-x2, virtual_network: x1, remote_virtual_network: x2, impairments: {rate_mbps: 100000}}
  - {name: x2-to-x1, virtual_network: x2, remote_virtual_network: x1, impairments: {rate_mbps: 100000}}
network_interfaces:
  - {name: src, subnet: x1/d, private_ip_address: 10.31.1.4, netns: $P-src}
  - {name: dst, subnet: x2/d, private_ip_address: 10.32.1.4, netns: $P-dst}
virtual_machines:
  - {name: src, size: Standard_D96s_v5, network_interfaces: [src]}
EOF
sed 's/, impairments: {rate_mbps: 100000}//' "$WORK/cost-link.yaml" >"$WORK/cost-size.yaml"

row() { printf '%-8s %-58s %s\n' "$1" "$2" "$3"; }
row what measured against
row ---- -------- -------

if wants rtt || wants size || wants nics; then
    start_lab "$WORK/regions.yaml"
    if wants rtt; then
        row rtt "weu -> eus median $(median_rtt small 10.20.1.4) ms" "published 84 ms"
        row rtt "weu -> weu median $(median_rtt small 10.10.1.5) ms" "nothing added"
    fi
    if wants size; then
        serve sink 10.10.1.5 5201
        serve small 10.10.1.4 5401
        for i in $(seq 1 "$REPEAT"); do
            row size "D2s_v3 -> sink run $i: $(rate small 10.10.1.5 5201) Mbit/s" "cap 1000 Mbps"
            row size "sink -> D2s_v3 run $i: $(rate sink 10.10.1.4 5401) Mbit/s" "ingress not limited"
        done
        pkill -f "iperf3 -s -D -B 10.10.1.4" || true
    fi
    if wants nics; then
        serve sink 10.10.1.5 5301
        serve sink 10.10.1.5 5302
        for i in $(seq 1 "$REPEAT"); do
            rate twin-a 10.10.1.5 5301 >"$WORK/a" &
            first=$!
            b=$(rate twin-b 10.10.1.5 5302)
            wait "$first"
            a=$(cat "$WORK/a")
            row nics "two NICs run $i: $a + $b = $((a + b)) Mbit/s" "cap 1000 Mbps"
        done
    fi
    pkill -f "iperf3 -s -D -B 10.10.1.5" || true
    stop_lab
fi

if wants vpngw1; then
    start_lab "$WORK/gateway.yaml"
    for _ in $(seq 1 600); do
        in_ns vm1 ping -c 1 -W 1 192.168.1.10 >/dev/null 2>&1 &&
            in_ns vm2 ping -c 1 -W 1 192.168.1.10 >/dev/null 2>&1 && break
        sleep 0.1
    done
    serve onprem 192.168.1.10 5301
    serve onprem 192.168.1.10 5302
    for i in $(seq 1 "$REPEAT"); do
        rate vm1 192.168.1.10 5301 >"$WORK/a" &
        first=$!
        b=$(rate vm2 192.168.1.10 5302)
        wait "$first"
        a=$(cat "$WORK/a")
        row vpngw1 "two spokes run $i: $a + $b = $((a + b)) Mbit/s" "VpnGw1 650 Mbps"
    done
    pkill -f "iperf3 -s -D -B 192.168.1.10" || true
    stop_lab
fi

if wants cost; then
    for case in "userspace cost-link --no-offload" "offload cost-size" "link-cap cost-link"; do
        read -r label file mode <<<"$case"
        declare -A sum=([on]=0 [off]=0)
        for i in $(seq 1 "$REPEAT"); do
            for shaping in on off; do
                extra=()
                [[ -n ${mode:-} ]] && extra+=("$mode")
                [[ $shaping == off ]] && extra+=(--no-shaping)
                start_lab "$WORK/$file.yaml" "${extra[@]}"
                serve dst 10.32.1.4 5201
                r=$(rate src 10.32.1.4 5201)
                pkill -f "iperf3 -s -D -B 10.32.1.4" || true
                stop_lab
                sum[$shaping]=$((sum[$shaping] + r))
                row cost "$label shaping $shaping run $i: $r Mbit/s" ""
            done
        done
        on=${sum[on]} off=${sum[off]}
        goal="within 5 %"
        [[ $label == link-cap ]] && goal="userspace against the fast path"
        row cost "$label: shaping on / off = $(python3 -c "print(round($on / $off, 3))")" "$goal"
    done
fi
