// The underlay's tc programs (direct action): they join a TAP device, whose
// queues the daemon reads and writes, to a VXLAN device in external
// (collect_md) mode, which carries Ethernet frames to other hosts.
//
// `to_underlay` runs at the ingress of the TAP, where the frames the daemon
// writes arrive. Each one's destination MAC is looked up in `destinations`
// for the host (its underlay IPv4 address) and the VNI it goes to; the
// frame is given that tunnel key and sent out of the VXLAN device, which
// encapsulates it. A frame whose MAC has no entry is dropped, and so is
// one for a host the entry says is not trusted (not in `trusted`,
// lib/tunnel.h): a host is sent nothing until it is known to number the
// lab's ports as this one does.
//
// `from_underlay` runs at the ingress of the VXLAN device, where the
// frames other hosts sent arrive, decapsulated, with their tunnel key. A
// frame from an address not in `trusted` is dropped: anyone who can reach
// UDP port 4789 could otherwise put frames on any VNI. The others carry
// their VNI in their source MAC (02:00:<VNI, 24 bits>:00), so that the
// daemon, which sees only the frame, learns it, and leave by the TAP's
// egress, which is what the daemon reads.
//
// Every frame either program carries or drops is counted, in `frames`,
// and what was refused from or not sent to one of the other hosts of the
// lab also in that host's entry of `hosts`.

#pragma once

#include "lib/common.h"
#include "lib/tunnel.h"

// Where each program finds the other's device.
struct underlay_settings {
	__u32 vxlan_ifindex;
	__u32 tap_ifindex;
	// This host's underlay address, host order (as tunnel keys hold it).
	__u32 local_ipv4;
};

struct mac_key {
	__u8 mac[6];
};

struct destination {
	// The remote host's underlay address, host order.
	__u32 remote_ipv4;
	__u32 vni;
	// Whether the remote host is trusted (as `trusted` says, kept here so
	// that a frame takes one lookup).
	__u32 trusted;
};

// What became of the frames, by what the daemon reads: the frames either
// program carried, and those it dropped, by why.
struct frame_counters {
	// Written by the daemon and sent into the tunnel.
	__u64 sent;
	// From a trusted host, handed to the daemon.
	__u64 received;
	// From an address not trusted.
	__u64 untrusted;
	// Written by the daemon for a MAC with no destination.
	__u64 no_destination;
	// Without a tunnel key (or of an IPv6 underlay), or a helper failed.
	__u64 failed;
	// Written by the daemon for a host not trusted.
	__u64 not_trusted;
};

// What was dropped of one other host's frames, and of the frames for it,
// while it was not trusted.
struct host_counters {
	__u64 refused;
	__u64 not_sent;
};

SINGLE(underlay, BPF_MAP_TYPE_ARRAY, struct underlay_settings);

// Not preallocated: a lab on one host (whose fabric loads this object too)
// never fills it.
MAP_WITH_FLAGS(destinations, BPF_MAP_TYPE_HASH, struct mac_key, struct destination, 65536,
	       BPF_F_NO_PREALLOC);

// One element per CPU: no atomic operation per frame.
SINGLE(frames, BPF_MAP_TYPE_PERCPU_ARRAY, struct frame_counters);

// Every other host of the lab (underlay address, host order), trusted or
// not, with its own counters, per CPU. Not preallocated, as `destinations`.
MAP_WITH_FLAGS(hosts, BPF_MAP_TYPE_PERCPU_HASH, __u32, struct host_counters, 4096,
	       BPF_F_NO_PREALLOC);

// Counts one frame in the member `reason` of `struct frame_counters`.
#define COUNTED(reason)                                                                           \
	({                                                                                        \
		struct frame_counters *counted = only_element(&frames);                           \
		if (counted)                                                                      \
			counted->reason += 1;                                                     \
	})

// Counts one frame dropped as `reason`, and drops it.
#define DROPPED_FRAME(reason)                                                                     \
	({                                                                                        \
		COUNTED(reason);                                                                  \
		TC_ACT_SHOT;                                                                      \
	})

SEC("classifier")
int to_underlay(struct __sk_buff *skb)
{
	struct underlay_settings *config = only_element(&underlay);
	if (!config || !config->vxlan_ifindex)
		return DROPPED_FRAME(failed);
	// Loaded, not read in place: a frame's head need not be linear.
	struct mac_key key;
	if (bpf_skb_load_bytes(skb, 0, key.mac, sizeof(key.mac)))
		return DROPPED_FRAME(failed);
	struct destination *destination = bpf_map_lookup_elem(&destinations, &key);
	if (!destination)
		return DROPPED_FRAME(no_destination);
	if (!destination->trusted) {
		__u32 remote = destination->remote_ipv4;
		struct host_counters *host = bpf_map_lookup_elem(&hosts, &remote);
		if (host)
			host->not_sent += 1;
		return DROPPED_FRAME(not_trusted);
	}
	if (write_tunnel_key(skb, destination->remote_ipv4, config->local_ipv4, destination->vni))
		return DROPPED_FRAME(failed);
	COUNTED(sent);
	return bpf_redirect(config->vxlan_ifindex, 0);
}

SEC("classifier")
int from_underlay(struct __sk_buff *skb)
{
	struct underlay_settings *config = only_element(&underlay);
	if (!config || !config->tap_ifindex)
		return DROPPED_FRAME(failed);
	struct bpf_tunnel_key tunnel = {};
	if (read_tunnel_key(skb, &tunnel))
		return DROPPED_FRAME(failed);
	__u32 remote = tunnel.remote_ipv4;
	if (!trusted_host(remote)) {
		struct host_counters *host = bpf_map_lookup_elem(&hosts, &remote);
		if (host)
			host->refused += 1;
		return DROPPED_FRAME(untrusted);
	}
	__u32 vni = tunnel.tunnel_id;
	__u8 source[6] = {0x02, 0x00, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0};
	if (bpf_skb_store_bytes(skb, ETH_ALEN, source, sizeof(source), 0))
		return DROPPED_FRAME(failed);
	COUNTED(received);
	return bpf_redirect(config->tap_ifindex, 0);
}
