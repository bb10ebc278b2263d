#!/usr/bin/env bash
# The steps of the GitHub Action (action.yml), as a script that runs the
# same anywhere (CI runs it on this repository's own machine): say what
# the runner's kernel and machine offer, install vnetd (a given .deb, or
# one built from this repository) and the daemons a lab may need, then
# run `vnetd ci` on FILE. Its exit code is vnetd ci's.
#
#   scripts/action.sh FILE [JUNIT] [ARTIFACTS] [DEB]      (as root)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
file=$1
junit=${2:-vnetd-results.xml}
artifacts=${3:-vnetd-artifacts}
deb=${4:-}

# What the machine offers, one line each; vnetd needs the first three.
echo "vnetd action: kernel $(uname -r)"
[ -e /proc/self/ns/net ] && echo "vnetd action: network namespaces: yes" ||
  { echo "vnetd action: network namespaces: no (vnetd cannot build a lab)"; exit 2; }
[ -c /dev/net/tun ] && echo "vnetd action: TUN devices: yes" ||
  { echo "vnetd action: TUN devices: no (/dev/net/tun is missing: vnetd cannot attach NICs)"; exit 2; }
[ "$(id -u)" = 0 ] && echo "vnetd action: root: yes" ||
  { echo "vnetd action: root: no (run it with sudo)"; exit 2; }
if mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
  echo "vnetd action: BPF: yes (the kernel fast path carries admitted flows)"
else
  echo "vnetd action: BPF: no (every packet stays in userspace: slower, the same answers)"
fi

export DEBIAN_FRONTEND=noninteractive
if [ -z "$deb" ] && ! command -v vnetd >/dev/null; then
  # No package given and none installed: build one from this repository.
  "$here/scripts/release.sh" "$here/dist"
  deb=$(ls "$here"/dist/vnetd_*_amd64.deb | head -1)
fi
if [ -n "$deb" ]; then
  # apt installs its dependencies; with an absolute path, it reads the file.
  apt-get install -y -qq "$(readlink -f "$deb")" >/dev/null
fi
# The daemons a lab may run, when the machine has none of them yet.
need=()
for pkg in gobgpd bird2 nftables tcpdump iputils-ping curl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "vnetd action: $(vnetd --version)"
exec vnetd ci "$file" --junit "$junit" --artifacts "$artifacts"
