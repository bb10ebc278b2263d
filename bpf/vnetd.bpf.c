// vnetd's one BPF object: every tc program the daemon attaches, with the
// maps they read and write. One object, so that what two programs share
// is one map (the hosts the underlay trusts, `lib/tunnel.h`), and one
// loader (crates/host/src/bpf) makes every map and finds every program by name.
//
// - fabric.h: the kernel fast path between a lab's ports and, with the
//   underlay, between hosts (`from_port`, `from_daemon`, `from_tunnel`);
// - underlay.h: the VXLAN underlay between hosts (`to_underlay`,
//   `from_underlay`);
// - lib/: what they share: the kernel's headers, the map definitions, the
//   trusted hosts and the tunnel key.
//
// A loader makes every map of the object (those its side does not use at
// their smallest) and loads only the programs it attaches.

#include "fabric.h"
#include "underlay.h"

char LICENSE[] SEC("license") = "Apache-2.0";
