// The underlay's tc programs (direct action): they join a TAP device, whose
// queues the daemon reads and writes, to a VXLAN device in external
// (collect_md) mode, which carries Ethernet frames to other hosts.
//
// `to_underlay` runs at the ingress of the TAP, where the frames the daemon
// writes arrive. Each one's destination MAC is looked up in `destinations`
// for the host (its underlay IPv4 address) and the VNI it goes to; the
// frame is given that tunnel key and sent out of the VXLAN device, which
// encapsulates it. A frame whose MAC has no entry is dropped, and so is
// one for a host the entry says is not trusted (not in `trusted`): a host
// is sent nothing until it is known to number the lab's ports as this one
// does.
//
// `from_underlay` runs at the ingress of the VXLAN device, where the
// frames other hosts sent arrive, decapsulated, with their tunnel key. A
// frame from an address not in `trusted` is dropped: anyone who can reach
// UDP port 4789 could otherwise put frames on any VNI. The others carry
// their VNI in their source MAC (02:00:<VNI, 24 bits>:00), so that the
// daemon, which sees only the frame, learns it, and leave by the TAP's
// egress, which is what the daemon reads.
//
// Everything either program drops is counted, in `counters`, and what
// was refused from or not sent to one of the other hosts of the lab also
// in that host's entry of `hosts`.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

// Where each program finds the other's device, in its one element.
struct settings {
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

// Indexes into `struct counters`.
#define SENT 0
#define RECEIVED 1
#define UNTRUSTED 2
#define NO_DESTINATION 3
#define FAILED 4
#define NOT_TRUSTED 5
#define COUNTERS 6

struct counters {
	__u64 count[COUNTERS];
};

// What was dropped of one other host's frames, and of the frames for it,
// while it was not trusted.
struct host_counters {
	__u64 refused;
	__u64 not_sent;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mac_key);
	__type(value, struct destination);
} destinations SEC(".maps");

// The other hosts' underlay addresses (host order); the value is unused.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} trusted SEC(".maps");

// One element per CPU: no atomic operation per frame.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

// Every other host of the lab (underlay address, host order), trusted or
// not, with its own counters, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct host_counters);
} hosts SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u32 zero = 0;
	struct counters *counted = bpf_map_lookup_elem(&counters, &zero);
	if (counted && which < COUNTERS)
		counted->count[which] += 1;
}

static __always_inline int drop(__u32 which)
{
	count(which);
	return TC_ACT_SHOT;
}

SEC("classifier")
int to_underlay(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct settings *config = bpf_map_lookup_elem(&settings, &zero);
	if (!config || !config->vxlan_ifindex)
		return drop(FAILED);
	// Loaded, not read in place: a frame's head need not be linear.
	struct mac_key key;
	if (bpf_skb_load_bytes(skb, 0, key.mac, sizeof(key.mac)))
		return drop(FAILED);
	struct destination *destination = bpf_map_lookup_elem(&destinations, &key);
	if (!destination)
		return drop(NO_DESTINATION);
	if (!destination->trusted) {
		__u32 remote = destination->remote_ipv4;
		struct host_counters *host = bpf_map_lookup_elem(&hosts, &remote);
		if (host)
			host->not_sent += 1;
		return drop(NOT_TRUSTED);
	}
	struct bpf_tunnel_key tunnel = {};
	tunnel.remote_ipv4 = destination->remote_ipv4;
	tunnel.local_ipv4 = config->local_ipv4;
	tunnel.tunnel_id = destination->vni;
	tunnel.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &tunnel, sizeof(tunnel), 0))
		return drop(FAILED);
	count(SENT);
	return bpf_redirect(config->vxlan_ifindex, 0);
}

SEC("classifier")
int from_underlay(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct settings *config = bpf_map_lookup_elem(&settings, &zero);
	if (!config || !config->tap_ifindex)
		return drop(FAILED);
	struct bpf_tunnel_key tunnel = {};
	if (bpf_skb_get_tunnel_key(skb, &tunnel, sizeof(tunnel), 0))
		return drop(FAILED);
	__u32 remote = tunnel.remote_ipv4;
	if (!bpf_map_lookup_elem(&trusted, &remote)) {
		struct host_counters *host = bpf_map_lookup_elem(&hosts, &remote);
		if (host)
			host->refused += 1;
		return drop(UNTRUSTED);
	}
	__u32 vni = tunnel.tunnel_id;
	__u8 source[6] = {0x02, 0x00, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, 0};
	if (bpf_skb_store_bytes(skb, ETH_ALEN, source, sizeof(source), 0))
		return drop(FAILED);
	count(RECEIVED);
	return bpf_redirect(config->tap_ifindex, 0);
}

char LICENSE[] SEC("license") = "Apache-2.0";
