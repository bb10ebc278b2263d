// What the fabric's programs and the underlay's share about the other
// hosts of a lab: which of them are trusted, and the tunnel key of a frame
// to or from one of them (a VXLAN device in external mode takes the remote
// address and the VNI of each frame from it).

#pragma once

#include "common.h"

// The other hosts' underlay addresses (host order, as tunnel keys hold
// them) that frames are taken from and sent to. The value is unused. One
// map for every program of the object: the fabric's fast path between
// hosts and the underlay's programs trust the same hosts at every moment.
MAP(trusted, BPF_MAP_TYPE_HASH, __u32, __u8, 4096);

// Whether the host of underlay address `remote` (host order) is trusted.
static __always_inline int trusted_host(__u32 remote)
{
	return bpf_map_lookup_elem(&trusted, &remote) != 0;
}

// The tunnel key of a frame that came out of the tunnel, into `key`.
// Returns nonzero for a frame that has none.
static __always_inline long read_tunnel_key(struct __sk_buff *skb, struct bpf_tunnel_key *key)
{
	return bpf_skb_get_tunnel_key(skb, key, sizeof(*key), 0);
}

// Gives `skb` the tunnel key of a frame from this host's underlay address
// `local` to `remote` (both host order) with VNI `vni`, which the VXLAN
// device encapsulates it with. Returns nonzero when the kernel refused it.
static __always_inline long write_tunnel_key(struct __sk_buff *skb, __u32 remote, __u32 local,
					    __u32 vni)
{
	struct bpf_tunnel_key key = {};
	key.remote_ipv4 = remote;
	key.local_ipv4 = local;
	key.tunnel_id = vni;
	key.tunnel_ttl = 64;
	return bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0);
}
