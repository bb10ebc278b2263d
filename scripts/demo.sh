#!/usr/bin/env bash
# A guided tour of the built-in lab (config/hub-spoke.yaml) that proves
# every path it shows and exits non-zero if one fails.
#
#   sudo scripts/demo.sh            # uses ./target/release/vnetd (built if missing)
#   sudo VNETD=/path/to/vnetd scripts/demo.sh
#
# It starts the lab, then from inside the namespaces: ping over a peering,
# ping and HTTP spoke to spoke through the hub NVA (checking the NVA's
# kernel forwarded them), iperf3 over the peering, and an NSG deny; prints
# the effective routes and next hops that explain each path. Then the hybrid
# lab (config/hybrid.yaml): the hub gateway's BGP session with the branch's
# BIRD, the routes each spoke learned (or did not), and the branch's hosts
# reaching the spoke through the gateway. Last the HA NVA lab
# (config/ha-nva.yaml): two NVAs behind an HA-ports internal load balancer
# carry spoke-to-spoke traffic, two web servers share a frontend, and when
# one NVA's probe listener stops, the load balancer marks it down and new
# flows cross the other. Then the AVS lab (config/avs-expressroute.yaml):
# the hub VM reaches the datacenter and the private cloud over their
# circuits, the datacenter reaches the private cloud through Global Reach,
# and an apply without the Global Reach link cuts that path while the VM
# keeps both. It removes each lab on the way out, whatever happens.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
config=config/hub-spoke.yaml

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (the lab is made of network namespaces)" >&2
  exit 1
fi
vnetd=${VNETD:-./target/release/vnetd}
if [ ! -x "$vnetd" ]; then
  cargo build --release --quiet
fi

log=$(mktemp)
daemon=
servers=()
cleanup() {
  [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  [ -n "${web:-}" ] && kill "$web" 2>/dev/null || true
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$vnetd" down "$config" >/dev/null 2>&1 || true
  "$vnetd" down config/hybrid.yaml >/dev/null 2>&1 || true
  "$vnetd" down config/ha-nva.yaml >/dev/null 2>&1 || true
  "$vnetd" down config/avs-expressroute.yaml >/dev/null 2>&1 || true
  rm -f "$log" "${no_reach:-}"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '   FAILED: %s\n' "$*" >&2; exit 1; }
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Runs `vnetd run $config` in the background and waits until it says the
# lab is up.
start_lab() {
  : >"$log"
  "$vnetd" run "$config" >"$log" 2>&1 &
  daemon=$!
  for _ in $(seq 1 100); do
    grep -q "lab up" "$log" && return 0
    kill -0 "$daemon" 2>/dev/null || { cat "$log"; fail "vnetd run exited"; }
    sleep 0.1
  done
  fail "the lab $config did not come up"
}

step "Starting the built-in lab ($config)"
start_lab
cat "$log"

step "Why vm1 reaches the hub directly and vm2 through the NVA"
"$vnetd" routes --config "$config" --nic vm1
"$vnetd" next-hop --config "$config" --nic vm1 --dst 10.0.2.4
"$vnetd" next-hop --config "$config" --nic vm1 --dst 10.2.1.4

step "vm1 -> shared1 (10.0.2.4): VNet peering"
on vm1 ping -n -q -c 3 -i 0.2 -W 1 10.0.2.4 >/dev/null || fail "ping vm1 -> shared1"
ok "ping over the peering"

step "vm1 -> vm2 (10.2.1.4): user route to the hub NVA (service chaining)"
forwarded() { on nva1 awk '/^Ip:/ { if (n++) print $7 }' /proc/net/snmp; }
before=$(forwarded)
on vm1 ping -n -q -c 3 -i 0.2 -W 1 10.2.1.4 >/dev/null || fail "ping vm1 -> vm2"
# socketserver rather than `python3 -m http.server`, which looks up its own
# name in DNS first (and there is no DNS in the lab). `ip netns exec`
# execs python3, so $! is the server itself and cleanup can stop it.
ip netns exec vm2 python3 -c '
import http.server, socketserver
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass
socketserver.TCPServer(("10.2.1.4", 8080), Quiet).serve_forever()
' >/dev/null 2>&1 &
web=$!
for _ in $(seq 1 50); do on vm2 ss -ltn 2>/dev/null | grep -q ':8080' && break; sleep 0.1; done
on vm1 curl -sS --max-time 3 -o /dev/null http://10.2.1.4:8080/ || fail "HTTP vm1 -> vm2"
after=$(forwarded)
[ $((after - before)) -ge 6 ] || fail "the NVA forwarded only $((after - before)) packets"
ok "ping and HTTP through nva1, whose kernel forwarded $((after - before)) packets"

step "iperf3 vm1 -> shared1, 3 seconds"
on shared1 iperf3 -s -1 -D -B 10.0.2.4 >/dev/null
sleep 0.3
on vm1 iperf3 -c 10.0.2.4 -t 3 -f g | grep -E "sender|receiver" || fail "iperf3"
ok "iperf3 over the peering"

step "An NSG at work: spoke2-app-nsg denies TCP 23 into vm2"
"$vnetd" flow-verify --config "$config" --nic vm2 --direction Inbound --protocol TCP \
  --local 10.2.1.4:23 --remote 10.1.1.4:50000
if on vm1 curl -sS --max-time 2 -o /dev/null http://10.2.1.4:23/ 2>/dev/null; then
  fail "TCP 23 to vm2 should be denied"
fi
ok "TCP 23 to vm2 is dropped by the fabric, as flow-verify says"

step "Stopping the built-in lab"
kill -TERM "$daemon" && wait "$daemon" 2>/dev/null || true
daemon=

config=config/hybrid.yaml
step "Starting the hybrid lab ($config): a BGP gateway in the hub, a BIRD branch"
start_lab
for _ in $(seq 1 300); do
  "$vnetd" gateway bgp-peer-status --gateway hub-vpngw 2>/dev/null | grep -q Connected && break
  sleep 0.2
done
"$vnetd" gateway bgp-peer-status --gateway hub-vpngw | grep -q Connected || fail "BGP never came up"
"$vnetd" gateway bgp-peer-status --gateway hub-vpngw
ok "the gateway's session with the branch is up"

step "What the gateway learned, and what each spoke's routes say"
for _ in $(seq 1 100); do
  "$vnetd" routes --nic vm1 | grep -q "192.168.0.0/16 *VirtualNetworkGateway" && break
  sleep 0.1
done
"$vnetd" gateway learned-routes --gateway hub-vpngw
"$vnetd" routes --nic vm1
"$vnetd" routes --nic vm2
"$vnetd" next-hop --nic vm1 --dst 192.168.1.10

step "The branch reaches the transit spoke and the hub; spoke2 does not reach the branch"
on onprem-vm ping -n -q -c 3 -i 0.2 -W 1 10.1.1.4 >/dev/null || fail "ping branch -> vm1"
on onprem-vm ping -n -q -c 3 -i 0.2 -W 1 10.0.1.4 >/dev/null || fail "ping branch -> hub-vm"
if on vm2 ping -n -q -c 2 -i 0.2 -W 1 192.168.1.10 >/dev/null 2>&1; then
  fail "vm2 turns gateway routes off: it should not reach the branch"
fi
ip netns exec branch1 ip route
ok "gateway transit to vm1, and spoke2's route table keeps the branch out"

step "Stopping the hybrid lab"
kill -TERM "$daemon" && wait "$daemon" 2>/dev/null || true
daemon=

config=config/ha-nva.yaml
step "Starting the HA NVA lab ($config): two NVAs behind HA ports, two web servers behind an ILB"
start_lab
# What the probes need: a TCP listener on 22 in each NVA (their sshd), and
# a web server on 80 in each web server that answers with its name.
for nva in nva1 nva2; do
  ip netns exec "$nva" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22))
s.listen()
while True:
    s.accept()[0].close()
' >/dev/null 2>&1 &
  servers+=($!)
done
for w in web1 web2; do
  ip netns exec "$w" python3 -c '
import http.server, socketserver, sys
name = sys.argv[1].encode()
class Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(name)
    def log_message(self, *args): pass
socketserver.TCPServer(("0.0.0.0", 80), Named).serve_forever()
' "$w" >/dev/null 2>&1 &
  servers+=($!)
done
nva_listener=( "${servers[0]}" "${servers[1]}" )
# Backends count as up until probed: probes run every 5 s, so after 6 s
# every backend has answered one (or been marked down).
up_count() { "$vnetd" lb show --lb "$1" --json | grep -c '"state": "Up"' || true; }
sleep 6
"$vnetd" lb show --lb nva-ilb
"$vnetd" lb show --lb web-ilb
[ "$(up_count nva-ilb)" -eq 2 ] || fail "the NVAs never answered their probes"
ok "the probes from 168.63.129.16 find every backend up"

step "Why vm1 reaches vm2 through the load balancer"
"$vnetd" next-hop --nic vm1 --dst 10.2.1.4

step "vm1 -> vm2 (10.2.1.4): one flow crosses one NVA"
forwarded_by() { on "$1" awk '/^Ip:/ { if (n++) print $7 }' /proc/net/snmp; }
before1=$(forwarded_by nva1); before2=$(forwarded_by nva2)
on vm1 ping -n -q -c 3 -i 0.2 -W 1 10.2.1.4 >/dev/null || fail "ping vm1 -> vm2"
d1=$(( $(forwarded_by nva1) - before1 )); d2=$(( $(forwarded_by nva2) - before2 ))
if [ "$d1" -ge 6 ] && [ "$d2" -eq 0 ]; then carrier=nva1; survivor=nva2; listener=${nva_listener[0]}
elif [ "$d2" -ge 6 ] && [ "$d1" -eq 0 ]; then carrier=nva2; survivor=nva1; listener=${nva_listener[1]}
else fail "the ping crossed nva1 $d1 times and nva2 $d2 times"; fi
ok "the ping and its replies crossed $carrier only"

step "vm1 -> the web frontend (10.0.2.100:80), six new connections"
for _ in 1 2 3 4 5 6; do on vm1 curl -sS --max-time 3 http://10.0.2.100/; echo; done | sort | uniq -c
"$vnetd" lb show --lb web-ilb

step "$carrier's probe listener stops: the load balancer marks it down"
kill "$listener"
for _ in $(seq 1 120); do
  "$vnetd" lb show --lb nva-ilb | grep "$carrier" | grep -q Down && break
  sleep 0.1
done
"$vnetd" lb show --lb nva-ilb
"$vnetd" lb show --lb nva-ilb | grep "$carrier" | grep -q Down || fail "$carrier was never marked down"
before=$(forwarded_by "$survivor")
on vm1 ping -n -q -c 3 -i 0.2 -W 1 10.2.1.4 >/dev/null || fail "ping vm1 -> vm2 after the failover"
[ $(( $(forwarded_by "$survivor") - before )) -ge 6 ] || fail "the new flow did not cross $survivor"
ok "new flows cross $survivor"

step "Stopping the HA NVA lab"
kill -TERM "$daemon" && wait "$daemon" 2>/dev/null || true
daemon=

config=config/avs-expressroute.yaml
step "Starting the AVS lab ($config): a datacenter and a private cloud on circuits, Global Reach"
start_lab
reaches() { on "$1" ping -n -q -c 3 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
# Each path comes up when its BGP routes arrive, in no set order: wait for
# every one the checks below ping.
for _ in $(seq 1 300); do
  reaches hub-vm 172.20.1.10 && reaches hub-vm 10.110.1.10 &&
    reaches dc-host 10.110.1.10 && reaches avs-vm 172.20.1.10 && break
  sleep 0.2
done
reaches hub-vm 172.20.1.10 || fail "ping hub-vm -> dc-host"
reaches hub-vm 10.110.1.10 || fail "ping hub-vm -> avs-vm"
ok "the hub VM reaches the datacenter and the private cloud over their circuits"
reaches dc-host 10.110.1.10 || fail "ping dc-host -> avs-vm"
reaches avs-vm 172.20.1.10 || fail "ping avs-vm -> dc-host"
ok "the datacenter and the private cloud reach each other through Global Reach"
"$vnetd" circuit routes --circuit dc1-circuit
"$vnetd" circuit routes --circuit avs1

step "An apply without the Global Reach link"
no_reach=$(mktemp --suffix=.yaml)
awk '/^express_route_circuit_connections:/ { skip = 1; next }
     skip && /^[^ ]/ { skip = 0 }
     !skip' "$config" >"$no_reach"
"$vnetd" apply "$no_reach"
start=$(date +%s%N)
while on dc-host ping -n -q -c 1 -W 0.5 10.110.1.10 >/dev/null 2>&1; do
  [ $(( $(date +%s%N) - start )) -le 5000000000 ] || fail "dc-host still reaches avs-vm 5 s after the apply"
  sleep 0.1
done
ok "the datacenter lost the private cloud $(( ($(date +%s%N) - start) / 1000000 )) ms after the apply"
reaches avs-vm 172.20.1.10 && fail "avs-vm still reaches dc-host"
ok "and the private cloud the datacenter"
for _ in $(seq 1 300); do
  reaches hub-vm 172.20.1.10 && reaches hub-vm 10.110.1.10 && break
  sleep 0.2
done
reaches hub-vm 172.20.1.10 || fail "ping hub-vm -> dc-host without Global Reach"
reaches hub-vm 10.110.1.10 || fail "ping hub-vm -> avs-vm without Global Reach"
ok "the hub VM still reaches both sites"

step "Done: every path behaved as the effective routes, NSGs, BGP, the probes and the circuits say"
