// The fabric's kernel fast path: two tc programs (direct action) that join
// each port's Ethernet device to its TUN device and to the other ports.
//
// `from_port` runs at the ingress of a port's host end, a veth whose peer
// is the port's `eth0`. It answers ARP requests and IPv6 neighbour
// solicitations with the fabric's one MAC address, moves the packets of
// flows the daemon has installed in `flows` straight to their egress
// port, and sends every other packet (first packets, TCP SYN, FIN and RST,
// fragments, IP options and extension headers, packets larger than the
// MTU the port's `eth0` was given, anything unknown) to the port's TUN
// device, where the daemon reads it. A host end's own MTU is the largest
// a veth takes, so whatever MTU a guest gives its `eth0`, every packet
// reaches the program.
//
// `from_daemon` runs at the ingress of a port's TUN device, where the
// packets the daemon writes arrive: it gives each one an Ethernet header
// and sends it out of the port's host end, to `eth0`.
//
// Every flow entry carries the generation of the rules that decided it;
// the daemon's current generation is in `generation`, and an entry of any
// other generation is not used: its packets go to the daemon, which decides
// them again under the rules it holds now (and installs the flow again if it
// is still admitted). So a change of rules reaches every flow at its next
// packet, and an entry installed late under old rules never carries one.
//
// Every packet that passes a flow entry is counted in the entry's slot of
// `counters` as the packets it stands for on the wire (a GSO super-packet is
// its segments, each with its own copy of the headers), with the time it was
// last used. The slots outlive the entries: the daemon reads them after an
// entry is gone, so that nothing an entry carried goes uncounted. They come
// in chunks of SLOTS_PER_CHUNK, one array element each, so that the daemon
// reads thousands of slots with one system call.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

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

struct flow_entry {
	// The generation of the rules that decided the flow.
	__u64 generation;
	// The host end of the egress port.
	__u32 out_ifindex;
	// Where its packets are counted, in `counters`.
	__u32 slot;
	// The MAC of the egress port's `eth0`.
	__u8 dst_mac[6];
	__u8 pad[2];
};

// What the entries using one slot carried.
struct flow_counters {
	__u64 packets;
	__u64 bytes;
	// bpf_ktime_get_ns (CLOCK_MONOTONIC) of the last packet.
	__u64 last_used_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	// Set by the loader: two entries per NIC the lab may hold.
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct port);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	// Set by the loader: the cap on offloaded flows.
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_entry);
} flows SEC(".maps");

#define SLOTS_PER_CHUNK 2048

struct counters_chunk {
	struct flow_counters slot[SLOTS_PER_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	// Set by the loader: enough chunks for twice the cap, so that the
	// slots of removed entries can wait to be read while new entries
	// take others.
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct counters_chunk);
} counters SEC(".maps");

// The daemon's current generation, in its one element.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} generation SEC(".maps");

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

// Moves a packet of an installed flow to its egress port's `eth0`, counting
// it.
// Returns -1 when the packet is not for the fast path: no entry, or one
// decided under rules the daemon no longer holds.
static __always_inline int fast_path(struct __sk_buff *skb, struct flow_key *key,
				     __u32 ip_len, __u32 headers_len)
{
	struct flow_entry *flow = bpf_map_lookup_elem(&flows, key);
	if (!flow)
		return -1;
	__u32 zero = 0;
	__u64 *current = bpf_map_lookup_elem(&generation, &zero);
	if (!current || flow->generation != *(volatile __u64 *)current)
		return -1;
	__u32 chunk_index = flow->slot / SLOTS_PER_CHUNK;
	__u32 slot = flow->slot % SLOTS_PER_CHUNK;
	struct counters_chunk *chunk = bpf_map_lookup_elem(&counters, &chunk_index);
	if (!chunk)
		return -1;
	struct flow_counters *counted = &chunk->slot[slot];
	__u64 packets = 1, bytes = ip_len;
	__u32 gso_size = skb->gso_size;
	if (gso_size && ip_len > headers_len) {
		__u32 payload = ip_len - headers_len;
		__u32 segments = (payload + gso_size - 1) / gso_size;
		if (segments == 0)
			segments = 1;
		packets = segments;
		bytes = payload + (__u64)segments * headers_len;
	}
	__sync_fetch_and_add(&counted->packets, packets);
	__sync_fetch_and_add(&counted->bytes, bytes);
	counted->last_used_ns = bpf_ktime_get_ns();
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_SHOT;
	__builtin_memcpy(eth->h_dest, flow->dst_mac, 6);
	__builtin_memcpy(eth->h_source, fabric_mac, 6);
	// Straight into the ingress of the egress host end's peer, the
	// receiving `eth0`, in its namespace: no trip through the egress host
	// end and the CPU's backlog queue.
	return bpf_redirect_peer(flow->out_ifindex, 0);
}

#define TCP_CONTROL (0x01 | 0x02 | 0x04) // FIN, SYN, RST

SEC("classifier")
int from_port(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct port *port = bpf_map_lookup_elem(&ports, &ifindex);
	if (!port || port->kind != PORT_HOST_END)
		return TC_ACT_SHOT;
	__u32 slow = port->peer_ifindex;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_SHOT;
	__u16 proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_ARP))
		return answer_arp(skb, ifindex);

	struct flow_key key = {};
	key.ifindex = ifindex;
	__u32 ip_len, l3_len;
	__u8 *l4;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return bpf_redirect(slow, 0);
		// Options and fragments are the slow path's.
		if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
			return bpf_redirect(slow, 0);
		key.family = 4;
		key.proto = ip->protocol;
		__builtin_memcpy(key.saddr, &ip->saddr, 4);
		__builtin_memcpy(key.daddr, &ip->daddr, 4);
		ip_len = bpf_ntohs(ip->tot_len);
		l3_len = sizeof(*ip);
		l4 = (void *)(ip + 1);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return bpf_redirect(slow, 0);
		if (ip6->nexthdr == IPPROTO_ICMPV6_) {
			__u8 *icmp = (void *)(ip6 + 1);
			if ((void *)(icmp + 1) > end)
				return bpf_redirect(slow, 0);
			if (*icmp == ICMPV6_NS)
				return answer_ns(skb, ifindex);
			// Router solicitations and the rest of neighbour
			// discovery stay on the link, as on Azure's.
			if (*icmp >= 133 && *icmp <= 137)
				return TC_ACT_SHOT;
		}
		// Link-scope multicast (MLD reports and the like) stays on the
		// link too.
		if (ip6->daddr.in6_u.u6_addr8[0] == 0xff && (ip6->daddr.in6_u.u6_addr8[1] & 0x0f) == 0x02)
			return TC_ACT_SHOT;
		key.family = 6;
		key.proto = ip6->nexthdr;
		__builtin_memcpy(key.saddr, &ip6->saddr, 16);
		__builtin_memcpy(key.daddr, &ip6->daddr, 16);
		ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		l3_len = sizeof(*ip6);
		l4 = (void *)(ip6 + 1);
	} else {
		return TC_ACT_SHOT;
	}

	__u32 headers_len;
	if (key.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)l4;
		if ((void *)(tcp + 1) > end)
			return bpf_redirect(slow, 0);
		if (((__u8 *)tcp)[13] & TCP_CONTROL)
			return bpf_redirect(slow, 0);
		key.sport = tcp->source;
		key.dport = tcp->dest;
		headers_len = l3_len + tcp->doff * 4;
	} else if (key.proto == IPPROTO_UDP) {
		struct udphdr *udp = (void *)l4;
		if ((void *)(udp + 1) > end)
			return bpf_redirect(slow, 0);
		key.sport = udp->source;
		key.dport = udp->dest;
		headers_len = l3_len + sizeof(*udp);
	} else {
		return bpf_redirect(slow, 0);
	}
	// A packet larger than the MTU the sender's NIC was given (its guest
	// raised it) may not fit its receiver's `eth0`, which would drop it
	// unseen: the daemon fragments or drops and counts it.
	__u32 on_wire = skb->gso_size ? headers_len + skb->gso_size : ip_len;
	if (on_wire > port->mtu)
		return bpf_redirect(slow, 0);
	int done = fast_path(skb, &key, ip_len, headers_len);
	if (done >= 0)
		return done;
	return bpf_redirect(slow, 0);
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
	return bpf_redirect(out, 0);
}

char LICENSE[] SEC("license") = "Apache-2.0";
