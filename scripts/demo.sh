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
# reaching the spoke through the gateway. It removes each lab on the way
# out, whatever happens.
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
cleanup() {
  [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  [ -n "${web:-}" ] && kill "$web" 2>/dev/null || true
  "$vnetd" down "$config" >/dev/null 2>&1 || true
  "$vnetd" down config/hybrid.yaml >/dev/null 2>&1 || true
  rm -f "$log"
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

step "Done: every path behaved as the effective routes, NSGs and BGP say"
