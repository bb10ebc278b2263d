#!/usr/bin/env bash
# Checks an installed vnetd (the Debian package's, by default) as a user
# gets it: a static binary, its man page and bash completions, `vnetd ci`
# on the hybrid example (exit 0) and on a copy with one expectation made
# false (exit 1, the JUnit naming the case, a capture tcpdump reads with
# the failed flow in it), and `vnetd run` carrying a TCP stream on the
# kernel fast path with the BPF object the binary holds. Every lab it
# builds is removed, also when a check fails.
#
#   scripts/package-check.sh [VNETD]     (default /usr/bin/vnetd; root)
set -euo pipefail
cd "$(dirname "$0")/.."
vnetd=${1:-/usr/bin/vnetd}
work=$(mktemp -d)
export VNETD_SOCKET=$work/vnetd.sock
run_pid=
cleanup() {
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid"
    wait "$run_pid" || true
  fi
  for lab in "$work"/*.yaml; do
    [ -e "$lab" ] && "$vnetd" down "$lab" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "scripts/package-check.sh: $*" >&2
  exit 1
}

# Static, with its man page and completions where the package put them.
if ldd "$vnetd" 2>&1 | grep -q '=>'; then
  fail "$vnetd is linked dynamically"
fi
man -w vnetd >/dev/null || fail "man vnetd finds no page"
man vnetd 2>/dev/null | grep -q 'vnetd-ci' || fail "the man page does not list vnetd ci"
man vnetd-ci 2>/dev/null | grep -q 'artifacts' || fail "man vnetd-ci does not say what vnetd ci does"
bash -c 'source /usr/share/bash-completion/completions/vnetd && complete -p vnetd' >/dev/null ||
  fail "the bash completion does not load"

# vnetd ci: the hybrid example holds.
{ echo "netns_prefix: pkgh-"; cat config/hybrid.yaml; } >"$work/hybrid.yaml"
"$vnetd" ci "$work/hybrid.yaml" --junit "$work/hybrid.xml" --artifacts "$work/hybrid" \
  >"$work/hybrid.out" 2>&1 || {
  cat "$work/hybrid.out" >&2
  fail "vnetd ci on the hybrid example failed"
}

# One expectation made false: exit 1, the case named, its flow captured.
{ echo "netns_prefix: pkgf-"; sed 's/protocol: Tcp, port: 22, result: Allow, via: \[hub-vpngw\]}/protocol: Tcp, port: 22, result: Deny}/' config/hybrid.yaml; } >"$work/false.yaml"
grep -q 'port: 22, result: Deny}' "$work/false.yaml" || fail "the false expectation was not written"
set +e
"$vnetd" ci "$work/false.yaml" --junit "$work/false.xml" --artifacts "$work/false" >"$work/false.out" 2>&1
code=$?
set -e
[ "$code" = 1 ] || {
  cat "$work/false.out" >&2
  fail "vnetd ci on a false expectation exited $code, not 1"
}
grep -q 'name="transit-spoke-reaches-branch"' "$work/false.xml" || fail "the JUnit does not name the case"
grep -q '<failure' "$work/false.xml" || fail "the JUnit has no failure"
tcpdump -nr "$work/false/transit-spoke-reaches-branch/capture-vm1.pcapng" 'tcp and dst port 22' 2>/dev/null |
  grep -q '> 192.168.1.10.22' || fail "the capture does not hold the failed flow"

# vnetd run: a TCP stream between two VMs leaves userspace for the kernel
# fast path (the binary's own BPF object; no compiler at run time).
{ echo "netns_prefix: pkgr-"; cat config/hub-spoke.yaml; } >"$work/run.yaml"
"$vnetd" run "$work/run.yaml" >"$work/run.out" 2>&1 &
run_pid=$!
"$vnetd" wait --timeout 30 >/dev/null 2>&1 || {
  cat "$work/run.out" >&2
  fail "vnetd run did not come up"
}
ip netns exec pkgr-shared1 iperf3 -s -1 -D -B 10.0.2.4 --logfile "$work/iperf3.log"
for _ in $(seq 50); do
  ip netns exec pkgr-shared1 ss -ltn | grep -q ':5201' && break
  sleep 0.1
done
ip netns exec pkgr-vm1 iperf3 -c 10.0.2.4 -t 2 >/dev/null || fail "iperf3 from vm1 to shared failed"
offloaded=$("$vnetd" stats --json | python3 -c '
import json, sys
stats = json.load(sys.stdin)
print(stats["nics"]["vm1"]["offloaded_packets_sent"])')
[ "$offloaded" -gt 0 ] || fail "no packet of vm1 was carried by the kernel fast path"
kill -TERM "$run_pid"
wait "$run_pid"
run_pid=
echo "scripts/package-check.sh: $vnetd: static, man page and completions, vnetd ci passed and failed as it should, $offloaded packets on the kernel fast path"
