#!/usr/bin/env bash
# `vnetd import az` and `vnetd check` against the number of NSG rules.
#
# For each N given, writes an `az` dump (tests/import/az/hub-spoke-nva with
# N/1000 more NSGs of 1,000 rules each, Azure's limit per NSG) to a
# temporary directory, imports it, checks the file it wrote, and prints:
#
#   rules     N
#   import    seconds and peak RSS (MiB) of `vnetd import az`
#   check     seconds and peak RSS (MiB) of `vnetd check` on its output
#   file      the size of the written topology (MiB)
#
# Needs no root. Usage: scripts/bench-import.sh [--binary PATH] N...
# (N a multiple of 1000; for example 2000 20000 100000).
set -euo pipefail

binary=target/release/vnetd
if [[ ${1:-} == --binary ]]; then
    binary=$2
    shift 2
fi
if [[ $# -eq 0 ]]; then
    echo "usage: scripts/bench-import.sh [--binary PATH] N..." >&2
    exit 2
fi
[[ -x $binary ]] || cargo build --release --quiet
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-8s %-20s %-20s %s\n' rules import check file
for rules in "$@"; do
    dump="$work/az-$rules"
    python3 - "$here/tests/import/az/hub-spoke-nva" "$dump" "$rules" <<'PY'
import copy, json, shutil, sys
source, dump, rules = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copytree(source, dump)
nsgs = json.load(open(f"{dump}/nsgs.json"))
base = nsgs[0]
for k in range(rules // 1000):
    nsg = copy.deepcopy(base)
    nsg["name"] = f"bench{k}"
    nsg["id"] = base["id"].rsplit("/", 1)[0] + f"/bench{k}"
    nsg["subnets"], nsg["networkInterfaces"] = [], []
    nsg["securityRules"] = [
        {
            "name": f"r{i}", "priority": 100 + i, "direction": "Inbound",
            "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": f"10.{i % 250}.0.0/16", "sourceAddressPrefixes": [],
            "sourcePortRange": "*", "sourcePortRanges": [],
            "destinationAddressPrefix": "*", "destinationAddressPrefixes": [],
            "destinationPortRange": str(1000 + i), "destinationPortRanges": [],
            "id": nsg["id"] + f"/securityRules/r{i}",
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        }
        for i in range(1000)
    ]
    nsgs.append(nsg)
json.dump(nsgs, open(f"{dump}/nsgs.json", "w"))
PY
    measure() {
        /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || {
            cat "$work/err" >&2
            exit 1
        }
        read -r seconds kib <"$work/time"
        printf '%s s, %d MiB' "$seconds" $((kib / 1024))
    }
    import=$(measure "$binary" import az "$dump")
    cp "$work/out" "$work/topology.yaml"
    check=$(measure "$binary" check "$work/topology.yaml")
    size=$(stat -c %s "$work/topology.yaml")
    printf '%-8s %-20s %-20s %s MiB\n' "$rules" "$import" "$check" $((size >> 20))
    rm -rf "$dump"
done
