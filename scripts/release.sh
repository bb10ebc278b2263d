#!/usr/bin/env bash
# Builds vnetd's release into DIR (default dist/): a statically linked
# binary that needs nothing at run time but the kernel (musl; the fabric's
# BPF object is inside it, compiled by build.rs), and a Debian package
# that installs it with its man page and shell completions, and recommends
# the programs each feature runs.
#
#   scripts/release.sh [DIR]
#
# Where the musl target cannot be installed (rustup offline), or no musl C
# compiler is there for the TLS crate's C and assembly (`musl-gcc`, Debian's
# musl-tools), glibc is linked statically instead, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
target_dir=${CARGO_TARGET_DIR:-target}/release-static
musl=x86_64-unknown-linux-musl
if command -v musl-gcc >/dev/null &&
  { rustup target list --installed 2>/dev/null | grep -qx "$musl" ||
    rustup target add "$musl" >/dev/null 2>&1; }; then
  CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --release --locked --target "$musl" --target-dir "$target_dir" --bin vnetd
  bin=$target_dir/$musl/release/vnetd
else
  echo "scripts/release.sh: no $musl target or no musl-gcc here: linking glibc statically" >&2
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
    --target x86_64-unknown-linux-gnu --target-dir "$target_dir" --bin vnetd
  bin=$target_dir/x86_64-unknown-linux-gnu/release/vnetd
fi
# Nothing dynamic: ldd finds no library to load.
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "scripts/release.sh: $bin is linked dynamically:" >&2
  ldd "$bin" >&2
  exit 1
fi
# Without its debug information (kept in the build's own copy).
strip -o "$out/vnetd" "$bin"
bin=$out/vnetd

# The Debian package, assembled as dpkg-deb expects it.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$bin" "$stage/usr/bin/vnetd"
mkdir -p "$stage/usr/share/man/man1"
"$bin" man --dir "$stage/usr/share/man/man1"
gzip -9n "$stage"/usr/share/man/man1/*.1
install -d "$stage/usr/share/bash-completion/completions" \
  "$stage/usr/share/zsh/vendor-completions" \
  "$stage/usr/share/fish/vendor_completions.d"
"$bin" completions bash >"$stage/usr/share/bash-completion/completions/vnetd"
"$bin" completions zsh >"$stage/usr/share/zsh/vendor-completions/_vnetd"
"$bin" completions fish >"$stage/usr/share/fish/vendor_completions.d/vnetd.fish"
install -d "$stage/usr/share/doc/vnetd/examples"
install -m 0644 README.md "$stage/usr/share/doc/vnetd/README.md"
install -m 0644 config/*.yaml "$stage/usr/share/doc/vnetd/examples/"
install -d "$stage/DEBIAN"
size=$(du -sk "$stage/usr" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: vnetd
Version: $version
Architecture: amd64
Maintainer: vnetd developers <vnetd@users.noreply.github.com>
Installed-Size: $size
Section: net
Priority: optional
Depends: iproute2
Recommends: iputils-ping, nftables, tcpdump, curl, gobgpd, bird2, iperf3
Suggests: frr, bind9-dnsutils, unbound, bind9
Homepage: https://github.com/vnetd/vnetd
Description: Azure virtual networks on one Linux host, with real packets
 vnetd turns a Linux host into a set of Azure virtual networks: every NIC
 of a topology file is a network namespace, and the daemon forwards its
 packets by Azure's system, peering and user-defined routes, NSGs, load
 balancers, gateways with real BGP, ExpressRoute, Azure Firewall and the
 Internet edge. vnetd ci tests a lab's expectations in one command.
 .
 Recommended: gobgpd runs the gateways' and Route Servers' BGP speakers,
 bird2 (or frr, suggested) the on-premises routers; nftables translates an
 Azure Firewall's DNAT rules; tcpdump compiles capture filters; ping and
 curl are verify's and the HTTPS probes' tools; iperf3 loads the labs.
EOF
deb=$out/vnetd_${version}_amd64.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "scripts/release.sh: $out/vnetd (static) and $deb"
