// The fabric's kernel fast path: tc programs (direct action) that join
// each port's Ethernet device to its TUN device, to the other ports, and,
// in a lab spread over several hosts, to the other hosts through the
// underlay's VXLAN device.
//
// `from_port` runs at the ingress of a port's host end, a veth whose peer
// is the port's `eth0`. It answers ARP requests and IPv6 neighbour
// solicitations with the fabric's one MAC address, moves the packets of
// flows the daemon has installed in `flows` straight to their egress
// port, and those of flows installed in `to_tunnel` into the VXLAN device,
// with the tunnel key (remote host, VNI) and the receiving port's MAC
// between hosts that the entry holds, and sends every other packet (first
// packets, TCP SYN, FIN and RST, fragments, IP options and extension
// headers, packets larger than the MTU the port's `eth0` was given or than
// the tunnel's, anything unknown) to the port's TUN device, where the
// daemon reads it. A host end's own MTU is the largest a veth takes, so
// whatever MTU a guest gives its `eth0`, every packet reaches the program.
//
// `from_daemon` runs at the ingress of a port's TUN device, where the
// packets the daemon writes arrive: it gives each one an Ethernet header
// and hands it straight into the ingress of the port's `eth0`, behind its
// host end (`bpf_redirect_peer`: no queue in between that could drop it).
//
// A port whose `eth0` was deleted takes its host end with it: a packet an
// entry or the daemon sends there is dropped and counted as such (the
// entry's slot, the port's counters), never counted as delivered.
//
// A frame whose headers are not all in the packet's linear part (a raw
// socket's ring, such as a packet generator's, hands the kernel frames in
// pages) has them pulled in first: it is read like any other.
//
// `from_tunnel` runs at the ingress of the underlay's VXLAN device, before
// the underlay's own program, on the frames other hosts send: a frame from
// a trusted host whose flow is installed in `arrivals`, keyed by its VNI,
// its destination MAC (a port's name between hosts) and its 5-tuple, goes
// straight into the receiving `eth0`; every other frame is left to the
// underlay's program (TC_ACT_UNSPEC), which hands it to the daemon or drops
// it. Both ways between hosts carry frames only from and to the hosts in
// `trusted` (lib/tunnel.h), the map the underlay's programs read: the
// fast path trusts exactly whom the underlay trusts.
//
// A flow entry may rewrite its packets' source or destination address and
// port (an address translation the daemon decided: TCP and UDP of either
// family, to an address of the packet's own family, and the address of an
// ICMP echo of either family, its identifier kept), with
// the IPv4 header's checksum and the TCP, UDP or ICMPv6 checksum fixed
// (its pseudo-header included; a partial checksum stays partial, for the
// receiver or the segmentation to finish; an IPv4 UDP checksum of zero,
// none, stays zero; an IPv6 one, which IPv6 forbids, goes to the daemon).
// The packet's flow key is the one it arrives with.
//
// Every flow entry carries the generation of the rules that decided it,
// and is used only while that generation is at least the fabric's floor
// (`generation`: raised when rules change for every port) and at least the
// generation of each of its two ports (`port_generations`: raised for the
// ports whose rules a change touched, their routes, NSGs or learned
// routes). An entry older than either is not used: its packets go to the
// daemon, which decides them again under the rules it holds now (and
// installs the flow again if it is still admitted). So a change of rules
// reaches every flow it may change at its next packet, an entry installed
// late under old rules never carries one, and the flows of ports a change
// did not touch stay in the kernel.
//
// Every packet that passes a flow entry is counted in the entry's slot of
// `counters` as the packets it stands for on the wire (a GSO super-packet is
// its segments, each with its own copy of the headers), with the time it was
// last used. The slots outlive the entries: the daemon reads them after an
// entry is gone, so that nothing an entry carried goes uncounted. They come
// in chunks of SLOTS_PER_CHUNK, one array element each, so that the daemon
// reads thousands of slots with one system call.
//
// What the programs drop themselves is counted per port, in `port_counters`
// (chunks of PORTS_PER_CHUNK, at the index the port's entry names): IPv6
// that stays on the link, frames of no protocol the fabric carries, and
// what the daemon wrote for a port whose `eth0` is gone.

#pragma once

#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "lib/common.h"
#include "lib/tunnel.h"

#define PORT_HOST_END 1
#define PORT_TUN 2

// A port of the fabric, keyed by the ifindex of its host end or its TUN.
struct port {
	__u32 kind;
	// For a host end: its TUN (the slow path). For a TUN: its host end.
	__u32 peer_ifindex;
	// The MAC address of the port's `eth0`.
	__u8 mac[6];
	// The MTU the port's `eth0` was given (its guest may raise it).
	__u16 mtu;
	// Where the port's drops are counted, in `port_counters`.
	__u32 counters_index;
	__u32 pad;
};

// One direction of an installed flow, as its packets arrive at a host end.
struct flow_key {
	__u32 ifindex;
	__u8 family; // 4 or 6
	__u8 proto;
	__u16 sport; // network order
	__u16 dport; // network order
	__u16 pad;
	__u8 saddr[16]; // IPv4: the first 4 bytes
	__u8 daddr[16];
};

#define REWRITE_NONE 0
#define REWRITE_SOURCE 1
#define REWRITE_DESTINATION 2

struct flow_entry {
	// The generation of the rules that decided the flow.
	__u64 generation;
	// The host end of the egress port.
	__u32 out_ifindex;
	// Where its packets are counted, in `counters`.
	__u32 slot;
	// The MAC of the egress port's `eth0`.
	__u8 dst_mac[6];
	// What the packets' headers become on the way (TCP, UDP and ICMP echo,
	// whose identifier stays, of either family):
	// REWRITE_NONE, or their source (REWRITE_SOURCE) or destination
	// (REWRITE_DESTINATION) address and port, to `to_addr` and `to_port`.
	__u8 rewrite;
	// The family of `to_addr` (4 or 6), the packet's: read by the daemon.
	__u8 to_family;
	__u16 to_port; // network order
	// The largest packet the path carries (a VPN tunnel's MTU, say), when
	// less than the sender's port takes; 0: no bound of its own. A larger
	// packet (a super-packet, by its segments) goes to the daemon, which
	// drops or fragments it and says so.
	__u16 mtu;
	// Where the egress port's generation is, in `port_generations` (its
	// index in `port_counters`).
	__u32 out_port;
	// Network order, of the packet's family: IPv4 in the first 4 bytes.
	__u8 to_addr[16];
};

// What the entries using one slot carried.
struct flow_counters {
	__u64 packets;
	__u64 bytes;
	// bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last packet.
	__u64 last_used_ns;
	// Wire packets, and their IP bytes, dropped because the entry's egress
	// port was gone (its `eth0` deleted): not in `packets` and `bytes`.
	__u64 gone_packets;
	__u64 gone_bytes;
	// A cache line each: a flow's two directions take neighbouring slots
	// and are counted on different CPUs, which would otherwise pass one
	// line back and forth at every packet.
	__u64 pad[3];
};

// Sized by the loader: two entries per NIC the lab may hold.
MAP(ports, BPF_MAP_TYPE_HASH, __u32, struct port, 1);

// Sized by the loader: the cap on offloaded flows.
MAP(flows, BPF_MAP_TYPE_HASH, struct flow_key, struct flow_entry, 1);

#define SLOTS_PER_CHUNK 1024

struct counters_chunk {
	struct flow_counters slot[SLOTS_PER_CHUNK];
};

// Sized by the loader: enough chunks for twice the cap, so that the slots
// of removed entries can wait to be read while new entries take others.
MAP(counters, BPF_MAP_TYPE_ARRAY, __u32, struct counters_chunk, 1);

// The host ends of the ports, by ifindex (each its own value): a device
// map, whose entries the kernel removes as their devices are unregistered,
// so that a port whose `eth0` was deleted (its host end with it) is gone
// from here before the deletion returns. Sized by the loader: one entry
// per port the lab may hold.
MAP(host_ends, BPF_MAP_TYPE_DEVMAP_HASH, __u32, struct bpf_devmap_val, 1);

// What the programs dropped of one port's packets, or of the daemon's
// packets for it.
struct port_counters {
	// Sent by its `eth0` and kept on the link: router solicitations,
	// neighbour discovery but solicitations (which are answered), and
	// link-scope multicast; with their IP bytes.
	__u64 unroutable_packets;
	__u64 unroutable_bytes;
	// Sent by its `eth0`: frames of no protocol the fabric carries (not
	// IPv4, IPv6 or ARP), with their bytes past the Ethernet header.
	__u64 malformed_packets;
	__u64 malformed_bytes;
	// Written by the daemon for it while its host end was gone, as wire
	// packets and their IP bytes.
	__u64 undelivered_packets;
	__u64 undelivered_bytes;
};

#define PORTS_PER_CHUNK 1024

struct port_counters_chunk {
	struct port_counters port[PORTS_PER_CHUNK];
};

// Sized by the loader: enough chunks for every port the lab may hold.
MAP(port_counters, BPF_MAP_TYPE_ARRAY, __u32, struct port_counters_chunk, 1);

// The fabric's floor: no entry of an older generation is used.
SINGLE(generation, BPF_MAP_TYPE_ARRAY, __u64);

// Each port's generation, at its index in `port_counters`: no entry of an
// older generation is used for a packet from or to the port. Sized by the
// loader: one per port the lab may hold.
MAP(port_generations, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1);

// One direction of a flow that leaves by the tunnel, to a port of another
// host: where its packets go, as `flows` keys them (the `flow_key` of the
// host end they arrive at).
struct tunnel_entry {
	// The generation of the rules that decided the flow.
	__u64 generation;
	// Where its packets are counted, in `counters`.
	__u32 slot;
	// The receiving host's underlay address, host order (as tunnel keys
	// hold it).
	__u32 remote_ipv4;
	__u32 vni;
	// The receiving port's MAC between hosts.
	__u8 dst_mac[6];
	__u8 pad[6];
};

// One direction of a flow as it arrives from another host: its VNI, the
// MAC it is addressed to (the receiving port's name between hosts) and its
// 5-tuple (`flow.ifindex` is 0). A frame of another VNI or for another port
// never matches.
struct arrival_key {
	struct flow_key flow;
	__u32 vni;
	__u8 mac[6];
	__u8 pad[2];
};

// Where the tunnel is, in its one element (vxlan_ifindex 0: no tunnel).
struct tunnel_settings {
	__u32 vxlan_ifindex;
	// This host's underlay address, host order.
	__u32 local_ipv4;
	// The largest inner packet the tunnel carries.
	__u32 mtu;
};

// Sized by the loader: the cap on offloaded flows. Not preallocated: a
// lab on one host never fills it.
MAP_WITH_FLAGS(to_tunnel, BPF_MAP_TYPE_HASH, struct flow_key, struct tunnel_entry, 1,
	       BPF_F_NO_PREALLOC);

// Sized by the loader: the cap on offloaded flows. Its values are
// `flow_entry`s: the receiving port's host end and its `eth0`'s MAC.
MAP_WITH_FLAGS(arrivals, BPF_MAP_TYPE_HASH, struct arrival_key, struct flow_entry, 1,
	       BPF_F_NO_PREALLOC);

SINGLE(tunnel, BPF_MAP_TYPE_ARRAY, struct tunnel_settings);

static const __u8 fabric_mac[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};

#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define ICMPV6_NS 135
#define ICMPV6_NA 136
#define IPPROTO_ICMPV6_ 58

struct arp_eth_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

// ARP: every address off the NIC is at the fabric's MAC. Gratuitous ARP
// and ARP probes (sender 0.0.0.0) get no answer, so a NIC's own address is
// never claimed.
static __always_inline int answer_arp(struct __sk_buff *skb, __u32 ifindex)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct arp_eth_ipv4 *arp = (void *)(eth + 1);
	if ((void *)(arp + 1) > end)
		return TC_ACT_SHOT;
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) ||
	    arp->hlen != 6 || arp->plen != 4 || arp->op != bpf_htons(ARPOP_REQUEST))
		return TC_ACT_SHOT;
	__u32 spa, tpa;
	__builtin_memcpy(&spa, arp->spa, 4);
	__builtin_memcpy(&tpa, arp->tpa, 4);
	if (spa == 0 || spa == tpa)
		return TC_ACT_SHOT;
	__u8 requester[6];
	__builtin_memcpy(requester, arp->sha, 6);
	arp->op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->tha, requester, 6);
	__builtin_memcpy(arp->tpa, &spa, 4);
	__builtin_memcpy(arp->sha, fabric_mac, 6);
	__builtin_memcpy(arp->spa, &tpa, 4);
	__builtin_memcpy(eth->h_dest, requester, 6);
	__builtin_memcpy(eth->h_source, fabric_mac, 6);
	return bpf_redirect(ifindex, 0);
}

// The neighbour advertisement sent for a solicitation: its pseudo-header
// (for the checksum) followed by the ICMPv6 message.
struct na_message {
	__u8 src[16];
	__u8 dst[16];
	__be32 length;
	__be32 next_header;
	__u8 type;
	__u8 code;
	__u16 checksum;
	__be32 flags;
	__u8 target[16];
	__u8 option_type;
	__u8 option_len;
	__u8 mac[6];
};

#define NA_ICMP_LEN 32
#define NA_FRAME_LEN (ETH_HLEN + 40 + NA_ICMP_LEN)

static __always_inline __u16 fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

// IPv6 neighbour discovery: a solicitation for any address is answered
// with the fabric's MAC (solicited, override). Duplicate address detection
// (source ::) gets no answer, so a NIC's own address stays its own.
static __always_inline int answer_ns(struct __sk_buff *skb, __u32 ifindex)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u8 *icmp = (void *)(ip6 + 1);
	if ((void *)(icmp + 24) > end)
		return TC_ACT_SHOT;
	__u32 *source = (__u32 *)&ip6->saddr;
	if ((source[0] | source[1] | source[2] | source[3]) == 0 || ip6->hop_limit != 255)
		return TC_ACT_SHOT;
	struct na_message na = {};
	__builtin_memcpy(na.src, icmp + 8, 16);
	__builtin_memcpy(na.dst, &ip6->saddr, 16);
	na.length = bpf_htonl(NA_ICMP_LEN);
	na.next_header = bpf_htonl(IPPROTO_ICMPV6_);
	na.type = ICMPV6_NA;
	na.flags = bpf_htonl(0x60000000); // solicited, override
	__builtin_memcpy(na.target, icmp + 8, 16);
	na.option_type = 2; // target link-layer address
	na.option_len = 1;
	__builtin_memcpy(na.mac, fabric_mac, 6);
	__s64 sum = bpf_csum_diff(0, 0, (__be32 *)&na, sizeof(na), 0);
	if (sum < 0)
		return TC_ACT_SHOT;
	na.checksum = fold((__u64)sum);
	__u8 requester[6];
	__builtin_memcpy(requester, eth->h_source, 6);

	if (bpf_skb_change_tail(skb, NA_FRAME_LEN, 0))
		return TC_ACT_SHOT;
	struct ethhdr new_eth = {};
	__builtin_memcpy(new_eth.h_dest, requester, 6);
	__builtin_memcpy(new_eth.h_source, fabric_mac, 6);
	new_eth.h_proto = bpf_htons(ETH_P_IPV6);
	struct ipv6hdr new_ip6 = {};
	new_ip6.version = 6;
	new_ip6.payload_len = bpf_htons(NA_ICMP_LEN);
	new_ip6.nexthdr = IPPROTO_ICMPV6_;
	new_ip6.hop_limit = 255;
	__builtin_memcpy(&new_ip6.saddr, na.src, 16);
	__builtin_memcpy(&new_ip6.daddr, na.dst, 16);
	if (bpf_skb_store_bytes(skb, 0, &new_eth, sizeof(new_eth), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &new_ip6, sizeof(new_ip6), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 40, &na.type, NA_ICMP_LEN, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(ifindex, 0);
}

// The most bytes of headers the programs read: Ethernet, an IPv6 header,
// and the 24 bytes after it (a neighbour solicitation up to its target, a
// TCP header up to its flags).
#define HEADERS_READ (ETH_HLEN + 40 + 24)

// Makes the headers the programs read part of the packet's linear data,
// where they may not be (a frame from a raw socket's ring comes in pages).
// Returns nonzero when they could not be.
static __always_inline int pull_headers(struct __sk_buff *skb)
{
	__u32 want = skb->len < HEADERS_READ ? skb->len : HEADERS_READ;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (data + want <= end)
		return 0;
	return bpf_skb_pull_data(skb, want);
}

// Whether the host end `ifindex` still exists: a port whose `eth0` was
// deleted took its host end with it.
static __always_inline int exists(__u32 ifindex)
{
	return bpf_map_lookup_elem(&host_ends, &ifindex) != 0;
}

// The counters of port `port`, if the map has them.
static __always_inline struct port_counters *port_counted(const struct port *port)
{
	__u32 index = port->counters_index;
	__u32 chunk_index = index / PORTS_PER_CHUNK;
	struct port_counters_chunk *chunk = bpf_map_lookup_elem(&port_counters, &chunk_index);
	if (!chunk)
		return 0;
	return &chunk->port[index % PORTS_PER_CHUNK];
}

// Whether an entry of `entry_generation` between the ports at indexes
// `from` and `to` of `port_generations` holds: not older than the fabric's
// floor nor than either port's generation.
static __always_inline int current(__u64 entry_generation, __u32 from, __u32 to)
{
	__u64 *floor = only_element(&generation);
	if (!floor || entry_generation < *(volatile __u64 *)floor)
		return 0;
	__u64 *sender = bpf_map_lookup_elem(&port_generations, &from);
	if (!sender || entry_generation < *(volatile __u64 *)sender)
		return 0;
	__u64 *receiver = bpf_map_lookup_elem(&port_generations, &to);
	return receiver && entry_generation >= *(volatile __u64 *)receiver;
}

// What a packet of `ip_len` IP bytes and `headers_len` bytes of headers
// stands for on the wire: a GSO super-packet is its segments, each with
// its own copy of the headers.
struct on_the_wire {
	__u64 packets;
	__u64 bytes;
};

static __always_inline struct on_the_wire wire(struct __sk_buff *skb, __u32 ip_len,
					       __u32 headers_len)
{
	struct on_the_wire out = {1, ip_len};
	__u32 gso_size = skb->gso_size;
	if (gso_size && ip_len > headers_len) {
		__u32 payload = ip_len - headers_len;
		__u32 segments = (payload + gso_size - 1) / gso_size;
		if (segments == 0)
			segments = 1;
		out.packets = segments;
		out.bytes = payload + (__u64)segments * headers_len;
	}
	return out;
}

// The counters of slot `slot`, if there is such a slot.
static __always_inline struct flow_counters *slot_counted(__u32 slot)
{
	__u32 chunk_index = slot / SLOTS_PER_CHUNK;
	struct counters_chunk *chunk = bpf_map_lookup_elem(&counters, &chunk_index);
	if (!chunk)
		return 0;
	return &chunk->slot[slot % SLOTS_PER_CHUNK];
}

// Counts a packet of `ip_len` IP bytes and `headers_len` bytes of headers
// in `counted` (a slot's counters) as the packets it stands for on the
// wire.
static __always_inline void count_in(struct flow_counters *counted, struct __sk_buff *skb,
				     __u32 ip_len, __u32 headers_len)
{
	struct on_the_wire packet = wire(skb, ip_len, headers_len);
	__sync_fetch_and_add(&counted->packets, packet.packets);
	__sync_fetch_and_add(&counted->bytes, packet.bytes);
	counted->last_used_ns = bpf_ktime_get_ns();
}

// Counts a packet in slot `slot`, as `count_in` does. Returns -1, counting
// nothing, for a slot out of range.
static __always_inline int count(struct __sk_buff *skb, __u32 slot, __u32 ip_len,
				 __u32 headers_len)
{
	struct flow_counters *counted = slot_counted(slot);
	if (!counted)
		return -1;
	count_in(counted, skb, ip_len, headers_len);
	return 0;
}

// Drops a packet of an entry in slot `slot` whose egress port is gone,
// counting the packets it stands for on the wire as the slot's `gone`.
// Returns -1, counting and dropping nothing, for a slot out of range.
static __always_inline int gone(struct __sk_buff *skb, __u32 slot, __u32 ip_len,
				__u32 headers_len)
{
	struct flow_counters *counted = slot_counted(slot);
	if (!counted)
		return -1;
	struct on_the_wire packet = wire(skb, ip_len, headers_len);
	__sync_fetch_and_add(&counted->gone_packets, packet.packets);
	__sync_fetch_and_add(&counted->gone_bytes, packet.bytes);
	counted->last_used_ns = bpf_ktime_get_ns();
	return TC_ACT_SHOT;
}

// Writes the Ethernet addresses of a packet the fabric sends on: to `dst`,
// from the fabric's MAC. Returns -1 for a packet too short to have them.
static __always_inline int address(struct __sk_buff *skb, const __u8 *dst)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth->h_dest, dst, 6);
	__builtin_memcpy(eth->h_source, fabric_mac, 6);
	return 0;
}

// Counts one frame of `port`'s that the program drops as `reason` (the
// members `<reason>_packets` and `<reason>_bytes` of `struct
// port_counters`, its bytes past the Ethernet header), and drops it.
#define DROPPED(skb, port, reason)                                                                \
	({                                                                                        \
		struct port_counters *counted = port_counted(port);                               \
		if (counted) {                                                                    \
			__sync_fetch_and_add(&counted->reason##_packets, 1);                      \
			__sync_fetch_and_add(&counted->reason##_bytes,                            \
					     (skb)->len > ETH_HLEN ? (skb)->len - ETH_HLEN : 0);  \
		}                                                                                 \
		TC_ACT_SHOT;                                                                      \
	})

// Rewrites the port of a TCP or UDP packet whose transport header starts
// at `l4_at` (its source port, or its destination port), fixing the
// checksum at `check_at` (`mangled`: a UDP checksum's zero is kept).
// Returns 0 when done, 1 when it failed (the packet maybe half rewritten).
static __always_inline int rewrite_port(struct __sk_buff *skb, __u32 l4_at, __u32 check_at,
					 int source, __be16 old_port, __be16 new_port,
					 __u64 mangled)
{
	__u32 port_at = l4_at + (source ? 0 : 2);
	if (bpf_l4_csum_replace(skb, check_at, old_port, new_port, mangled | sizeof(new_port)) ||
	    bpf_skb_store_bytes(skb, port_at, &new_port, sizeof(new_port), 0))
		return 1;
	return 0;
}

// The offset of the checksum of a TCP or UDP header at `l4_at`, and in
// `mangled` the flag that keeps a UDP checksum of zero (none) as none and
// sends a computed zero as all ones. Returns -1 for another protocol.
static __always_inline int l4_checksum_at(__u8 proto, __u32 l4_at, __u32 *check_at,
					  __u64 *mangled)
{
	if (proto == IPPROTO_TCP) {
		*check_at = l4_at + __builtin_offsetof(struct tcphdr, check);
		*mangled = 0;
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		*check_at = l4_at + __builtin_offsetof(struct udphdr, check);
		*mangled = BPF_F_MARK_MANGLED_0;
		return 0;
	}
	return -1;
}

// Where an ICMP header holds its checksum.
#define ICMP_CHECKSUM_AT 2

// `rewrite` for an IPv6 TCP or UDP packet or ICMPv6 echo (no extension
// headers: `read_flow` saw to that). IPv6 has no header checksum; the
// address is in the transport checksum's pseudo-header (ICMPv6's too),
// whose sum changes by the difference of the 16 bytes (`bpf_csum_diff`),
// applied as a partial checksum's pseudo-header sum or the full one alike
// (BPF_F_PSEUDO_HDR). A UDP checksum of zero, which IPv6 forbids, is the
// daemon's to judge.
static __always_inline int rewrite6(struct __sk_buff *skb, const struct flow_entry *flow,
				    const struct flow_key *key)
{
	const __u32 ip_at = ETH_HLEN;
	const __u32 l4_at = ip_at + sizeof(struct ipv6hdr);
	int source = flow->rewrite == REWRITE_SOURCE;
	__u32 addr_at = ip_at + (source ? __builtin_offsetof(struct ipv6hdr, saddr)
					: __builtin_offsetof(struct ipv6hdr, daddr));
	__u32 check_at;
	__u64 mangled = 0;
	int echo = key->proto == IPPROTO_ICMPV6_;
	if (echo) {
		// An echo keeps its identifier, the entry's port.
		if (flow->to_port != key->sport)
			return -1;
		check_at = l4_at + ICMP_CHECKSUM_AT;
	} else if (l4_checksum_at(key->proto, l4_at, &check_at, &mangled)) {
		return -1;
	}
	if (key->proto == IPPROTO_UDP) {
		__u16 check;
		if (bpf_skb_load_bytes(skb, check_at, &check, sizeof(check)) || check == 0)
			return -1;
	}
	// The key holds the address and port as the packet carries them.
	__be32 old_addr[4], new_addr[4];
	__builtin_memcpy(old_addr, source ? key->saddr : key->daddr, 16);
	__builtin_memcpy(new_addr, flow->to_addr, 16);
	__be16 old_port = source ? key->sport : key->dport;
	__s64 diff = bpf_csum_diff(old_addr, sizeof(old_addr), new_addr, sizeof(new_addr), 0);
	if (diff < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, check_at, 0, (__u32)diff, BPF_F_PSEUDO_HDR | mangled))
		return -1;
	if (bpf_skb_store_bytes(skb, addr_at, new_addr, sizeof(new_addr), 0))
		return 1;
	if (echo)
		return 0;
	return rewrite_port(skb, l4_at, check_at, source, old_port, flow->to_port, mangled);
}

// Rewrites the source or destination address and port of a TCP or UDP
// packet (no IPv4 options nor IPv6 extension headers: `read_flow` saw to
// that), or the address of an ICMP echo whose identifier the entry
// keeps, as `flow` says, and fixes its checksums. Returns -1, the packet
// unchanged, when it cannot start (the addresses or ports unreadable), 1
// when it failed midway (the packet half rewritten), 0 when done or when
// there is nothing to rewrite.
static __always_inline int rewrite(struct __sk_buff *skb, const struct flow_entry *flow,
				   const struct flow_key *key)
{
	if (flow->rewrite == REWRITE_NONE)
		return 0;
	// An address of the other family is never written into a packet.
	if (flow->to_family != key->family)
		return -1;
	if (key->family == 6)
		return rewrite6(skb, flow, key);
	if (key->family != 4)
		return -1;
	const __u32 ip_at = ETH_HLEN;
	const __u32 l4_at = ip_at + sizeof(struct iphdr);
	const __u32 ip_check_at = ip_at + __builtin_offsetof(struct iphdr, check);
	int source = flow->rewrite == REWRITE_SOURCE;
	__u32 addr_at = ip_at + (source ? __builtin_offsetof(struct iphdr, saddr)
					: __builtin_offsetof(struct iphdr, daddr));
	__be32 old_addr, new_addr;
	__builtin_memcpy(&new_addr, flow->to_addr, 4);
	if (key->proto == IPPROTO_ICMP) {
		// An echo keeps its identifier; its checksum does not cover the
		// addresses, so only the IP header's changes.
		if (flow->to_port != key->sport)
			return -1;
		if (bpf_skb_load_bytes(skb, addr_at, &old_addr, 4))
			return -1;
		if (bpf_l3_csum_replace(skb, ip_check_at, old_addr, new_addr, sizeof(new_addr)))
			return -1;
		if (bpf_skb_store_bytes(skb, addr_at, &new_addr, sizeof(new_addr), 0))
			return 1;
		return 0;
	}
	__u32 check_at;
	__u64 mangled;
	if (l4_checksum_at(key->proto, l4_at, &check_at, &mangled))
		return -1;
	__be16 old_port;
	if (bpf_skb_load_bytes(skb, addr_at, &old_addr, 4) ||
	    bpf_skb_load_bytes(skb, l4_at + (source ? 0 : 2), &old_port, 2))
		return -1;
	// The address is in the pseudo-header: with a partial checksum (the
	// sender's stack left it to the device) the helper updates the
	// pseudo-header sum the field holds, and leaves the rest alone.
	if (bpf_l4_csum_replace(skb, check_at, old_addr, new_addr,
				BPF_F_PSEUDO_HDR | mangled | sizeof(new_addr)))
		return -1;
	if (bpf_l3_csum_replace(skb, ip_check_at, old_addr, new_addr, sizeof(new_addr)) ||
	    bpf_skb_store_bytes(skb, addr_at, &new_addr, sizeof(new_addr), 0))
		return 1;
	return rewrite_port(skb, l4_at, check_at, source, old_port, flow->to_port, mangled);
}

// Moves a packet of an installed flow to its egress port's `eth0`,
// rewriting it as the entry says, counting it. `on_wire` is the size of
// the largest packet it stands for.
// Returns -1 when the packet is not for the fast path: no entry, one
// decided under rules the daemon no longer holds, a packet larger than
// the entry's path carries, or one whose rewrite cannot be applied to it.
static __always_inline int fast_path(struct __sk_buff *skb, const struct port *port,
				     struct flow_key *key, __u32 ip_len, __u32 headers_len,
				     __u32 on_wire)
{
	struct flow_entry *flow = bpf_map_lookup_elem(&flows, key);
	if (!flow || !current(flow->generation, port->counters_index, flow->out_port))
		return -1;
	if (flow->mtu && on_wire > flow->mtu)
		return -1;
	// Its `eth0` deleted: what the kernel would hand nowhere is counted
	// as lost to a port that is gone.
	if (!exists(flow->out_ifindex))
		return gone(skb, flow->slot, ip_len, headers_len);
	// Out of range, the slot counts nothing: the daemon takes the packet.
	struct flow_counters *counted = slot_counted(flow->slot);
	if (!counted)
		return -1;
	int rewritten = rewrite(skb, flow, key);
	if (rewritten < 0)
		return -1;
	// Half rewritten (the kernel could not make the packet writable): no
	// path can take it any more; it is dropped where it was sent, counted.
	if (rewritten > 0)
		return DROPPED(skb, port, malformed);
	count_in(counted, skb, ip_len, headers_len);
	if (address(skb, flow->dst_mac))
		return TC_ACT_SHOT;
	// Straight into the ingress of the egress host end's peer, the
	// receiving `eth0`, in its namespace: no trip through the egress host
	// end and the CPU's backlog queue.
	return bpf_redirect_peer(flow->out_ifindex, 0);
}

// Moves a packet of a flow installed to leave by the tunnel into the VXLAN
// device, with the entry's tunnel key and addressed to the receiving
// port's MAC between hosts, counting it. `on_wire` is the size of the
// largest packet it stands for.
// Returns -1 when the packet is not for the fast path: no tunnel, no entry,
// one decided under rules the daemon no longer holds, a packet larger than
// the tunnel carries, or one for a host not trusted.
static __always_inline int into_tunnel(struct __sk_buff *skb, const struct port *port,
				       struct flow_key *key, __u32 ip_len, __u32 headers_len,
				       __u32 on_wire)
{
	struct tunnel_settings *settings = only_element(&tunnel);
	if (!settings || !settings->vxlan_ifindex)
		return -1;
	// The receiving port is another host's, which judges its own half.
	struct tunnel_entry *flow = bpf_map_lookup_elem(&to_tunnel, key);
	if (!flow || !current(flow->generation, port->counters_index, port->counters_index))
		return -1;
	if (on_wire > settings->mtu)
		return -1;
	// Only to a host the underlay trusts (one that runs the same lab).
	if (!trusted_host(flow->remote_ipv4))
		return -1;
	if (write_tunnel_key(skb, flow->remote_ipv4, settings->local_ipv4, flow->vni))
		return -1;
	if (count(skb, flow->slot, ip_len, headers_len))
		return -1;
	if (address(skb, flow->dst_mac))
		return TC_ACT_SHOT;
	// Out of the VXLAN device, which encapsulates it (a super-packet
	// whole: the underlay's device segments it, if anything does).
	return bpf_redirect(settings->vxlan_ifindex, 0);
}

#define TCP_CONTROL (0x01 | 0x02 | 0x04) // FIN, SYN, RST

#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
// Type, code, checksum, identifier, sequence number.
#define ICMP_ECHO_LEN 8

// Reads the flow of an Ethernet frame's IP packet into `key` (all but its
// ifindex), with the packet's IP length and the length of its headers (IP
// and TCP, UDP or ICMP echo). Returns -1 for a frame that is not for a
// fast path: not TCP, UDP or an ICMP echo request or reply, a TCP SYN,
// FIN or RST, a fragment, IPv4 options or IPv6 extension headers, or too
// short. (An ICMP echo has entries only where the daemon translates it.)
static __always_inline int read_flow(struct __sk_buff *skb, struct flow_key *key,
				     __u32 *ip_len, __u32 *headers_len)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__u32 l3_len;
	__u8 *l4;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return -1;
		// Options and fragments are the slow path's.
		if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
			return -1;
		key->family = 4;
		key->proto = ip->protocol;
		__builtin_memcpy(key->saddr, &ip->saddr, 4);
		__builtin_memcpy(key->daddr, &ip->daddr, 4);
		*ip_len = bpf_ntohs(ip->tot_len);
		l3_len = sizeof(*ip);
		l4 = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return -1;
		key->family = 6;
		key->proto = ip6->nexthdr;
		__builtin_memcpy(key->saddr, &ip6->saddr, 16);
		__builtin_memcpy(key->daddr, &ip6->daddr, 16);
		*ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		l3_len = sizeof(*ip6);
		l4 = (void *)(ip6 + 1);
	} else {
		return -1;
	}

	if (key->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)l4;
		if ((void *)(tcp + 1) > end)
			return -1;
		if (((__u8 *)tcp)[13] & TCP_CONTROL)
			return -1;
		key->sport = tcp->source;
		key->dport = tcp->dest;
		*headers_len = l3_len + tcp->doff * 4;
	} else if (key->proto == IPPROTO_UDP) {
		struct udphdr *udp = (void *)l4;
		if ((void *)(udp + 1) > end)
			return -1;
		key->sport = udp->source;
		key->dport = udp->dest;
		*headers_len = l3_len + sizeof(*udp);
	} else if ((key->proto == IPPROTO_ICMP && key->family == 4) ||
		   (key->proto == IPPROTO_ICMPV6_ && key->family == 6)) {
		// An echo request or reply, keyed by its identifier both ways,
		// as the daemon keys it.
		if ((void *)(l4 + ICMP_ECHO_LEN) > end)
			return -1;
		int echo = key->family == 4 ? (l4[0] == ICMP_ECHO_REPLY || l4[0] == ICMP_ECHO_REQUEST)
					    : (l4[0] == ICMPV6_ECHO_REQUEST || l4[0] == ICMPV6_ECHO_REPLY);
		if (!echo || l4[1] != 0)
			return -1;
		__builtin_memcpy(&key->sport, l4 + 4, 2);
		key->dport = key->sport;
		*headers_len = l3_len + ICMP_ECHO_LEN;
	} else {
		return -1;
	}
	return 0;
}

// The largest packet a frame of `ip_len` IP bytes and `headers_len` bytes
// of headers stands for on the wire (one segment of a super-packet).
static __always_inline __u32 on_wire(struct __sk_buff *skb, __u32 ip_len, __u32 headers_len)
{
	return skb->gso_size ? headers_len + skb->gso_size : ip_len;
}

// What stays on a port's link, for an IPv6 packet: neighbour solicitations
// are answered, the rest of neighbour discovery and link-scope multicast
// dropped, counted as unroutable. Returns -1 for a packet that goes on.
static __always_inline int on_link(struct __sk_buff *skb, const struct port *port, __u32 ifindex)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ipv6hdr *ip6 = data + ETH_HLEN;
	if ((void *)(ip6 + 1) > end)
		return -1;
	if (ip6->nexthdr == IPPROTO_ICMPV6_) {
		__u8 *icmp = (void *)(ip6 + 1);
		if ((void *)(icmp + 1) > end)
			return -1;
		if (*icmp == ICMPV6_NS)
			return answer_ns(skb, ifindex);
		// Router solicitations and the rest of neighbour discovery stay
		// on the link, as on Azure's.
		if (*icmp >= 133 && *icmp <= 137)
			return DROPPED(skb, port, unroutable);
	}
	// Link-scope multicast (MLD reports and the like) stays on the link
	// too.
	if (ip6->daddr.in6_u.u6_addr8[0] == 0xff && (ip6->daddr.in6_u.u6_addr8[1] & 0x0f) == 0x02)
		return DROPPED(skb, port, unroutable);
	return -1;
}

SEC("classifier")
int from_port(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct port *port = bpf_map_lookup_elem(&ports, &ifindex);
	if (!port || port->kind != PORT_HOST_END)
		return TC_ACT_SHOT;
	__u32 slow = port->peer_ifindex;
	// Headers in pages: the daemon reads them all the same.
	if (pull_headers(skb))
		return bpf_redirect(slow, 0);
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return DROPPED(skb, port, malformed);
	__u16 proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_ARP))
		return answer_arp(skb, ifindex);
	if (proto == bpf_htons(ETH_P_IPV6)) {
		int done = on_link(skb, port, ifindex);
		if (done >= 0)
			return done;
	} else if (proto != bpf_htons(ETH_P_IP)) {
		return DROPPED(skb, port, malformed);
	}

	struct flow_key key = {};
	key.ifindex = ifindex;
	__u32 ip_len = 0, headers_len = 0;
	if (read_flow(skb, &key, &ip_len, &headers_len))
		return bpf_redirect(slow, 0);
	// A packet larger than the MTU the sender's NIC was given (its guest
	// raised it) may not fit its receiver's `eth0`, which would drop it
	// unseen: the daemon fragments or drops and counts it.
	__u32 largest = on_wire(skb, ip_len, headers_len);
	if (largest > port->mtu)
		return bpf_redirect(slow, 0);
	int done = fast_path(skb, port, &key, ip_len, headers_len, largest);
	if (done >= 0)
		return done;
	done = into_tunnel(skb, port, &key, ip_len, headers_len, largest);
	if (done >= 0)
		return done;
	return bpf_redirect(slow, 0);
}

// Drops a packet the daemon wrote for `port`, whose host end is gone,
// counting it as the daemon counted it: the packets it stands for on the
// wire and their IP bytes. `skb` has its Ethernet header.
static __always_inline int undelivered(struct __sk_buff *skb, const struct port *port)
{
	struct port_counters *counted = port_counted(port);
	if (!counted)
		return TC_ACT_SHOT;
	struct flow_key key = {};
	__u32 ip_len = skb->len - ETH_HLEN, headers_len = 0;
	struct on_the_wire packet = {1, ip_len};
	if (pull_headers(skb) == 0 && read_flow(skb, &key, &ip_len, &headers_len) == 0)
		packet = wire(skb, ip_len, headers_len);
	__sync_fetch_and_add(&counted->undelivered_packets, packet.packets);
	__sync_fetch_and_add(&counted->undelivered_bytes, packet.bytes);
	return TC_ACT_SHOT;
}

SEC("classifier")
int from_daemon(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct port *port = bpf_map_lookup_elem(&ports, &ifindex);
	if (!port || port->kind != PORT_TUN)
		return TC_ACT_SHOT;
	__u32 out = port->peer_ifindex;
	struct ethhdr eth = {};
	__builtin_memcpy(eth.h_dest, port->mac, 6);
	__builtin_memcpy(eth.h_source, fabric_mac, 6);
	eth.h_proto = skb->protocol;
	if (bpf_skb_change_head(skb, ETH_HLEN, 0))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	if (!exists(out))
		return undelivered(skb, port);
	// Straight into the receiving `eth0`'s ingress, as the fast path
	// hands its packets over: no queue of the fabric's in between.
	return bpf_redirect_peer(out, 0);
}

SEC("classifier")
int from_tunnel(struct __sk_buff *skb)
{
	struct bpf_tunnel_key tunnel_key = {};
	if (read_tunnel_key(skb, &tunnel_key))
		return TC_ACT_UNSPEC;
	// A frame from anywhere else is the underlay's program's to drop and
	// count.
	if (!trusted_host(tunnel_key.remote_ipv4))
		return TC_ACT_UNSPEC;
	if (pull_headers(skb))
		return TC_ACT_UNSPEC;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	struct arrival_key key = {};
	key.vni = tunnel_key.tunnel_id;
	__builtin_memcpy(key.mac, eth->h_dest, 6);
	__u32 ip_len = 0, headers_len = 0;
	if (read_flow(skb, &key.flow, &ip_len, &headers_len))
		return TC_ACT_UNSPEC;
	// The sending port is another host's, which judges its own half.
	struct flow_entry *flow = bpf_map_lookup_elem(&arrivals, &key);
	if (!flow || !current(flow->generation, flow->out_port, flow->out_port))
		return TC_ACT_UNSPEC;
	__u32 out = flow->out_ifindex;
	struct port *port = bpf_map_lookup_elem(&ports, &out);
	if (!port || port->kind != PORT_HOST_END)
		return TC_ACT_UNSPEC;
	// What would not fit the receiving `eth0` is the daemon's.
	if (on_wire(skb, ip_len, headers_len) > port->mtu)
		return TC_ACT_UNSPEC;
	if (!exists(out))
		return gone(skb, flow->slot, ip_len, headers_len) == TC_ACT_SHOT ? TC_ACT_SHOT
										 : TC_ACT_UNSPEC;
	// Addressed to a MAC that is not the VXLAN device's, the frame came in
	// as another host's; the receiving `eth0` takes it as its own.
	if (bpf_skb_change_type(skb, PACKET_HOST))
		return TC_ACT_UNSPEC;
	if (count(skb, flow->slot, ip_len, headers_len))
		return TC_ACT_UNSPEC;
	if (address(skb, flow->dst_mac))
		return TC_ACT_SHOT;
	return bpf_redirect_peer(out, 0);
}
