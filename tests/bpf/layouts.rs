//! Every map of vnetd's BPF object laid out as the daemon reads and writes
//! it: each struct the maps hold, read from the object's BTF (`.BTF`),
//! against the sizes and member offsets of `crates/host/src/fabric/entries.rs`
//! and `crates/host/src/underlay/entries.rs` (their `layout` constants, which the
//! daemon writes with), and each map's key and value types, as Cilium's
//! alignchecker does. A member added to a struct in `bpf/` and not to
//! `entries.rs` fails it, and so does a map of the object that is not in
//! the table below: every map is checked, the fabric's and the
//! underlay's.
//!
//! Reads the object vnetd embeds: needs no root, but a build that
//! compiled it.

use super::btf::Btf;
use std::ops::Range;
use vnetd::host::{fabric, underlay};

/// A struct of the object: its name, its length, and where the daemon
/// writes or reads each of its members (padding aside).
type Struct = (&'static str, usize, Vec<(&'static str, Range<usize>)>);

/// Each struct a map of the object holds.
fn structs() -> Vec<Struct> {
    use fabric::layout::*;
    use underlay::layout::*;
    vec![
        (
            "flow_key",
            fabric::FLOW_KEY_LEN,
            vec![
                ("ifindex", FLOW_KEY_IFINDEX),
                ("family", FLOW_KEY_FAMILY),
                ("proto", FLOW_KEY_PROTO),
                ("sport", FLOW_KEY_SPORT),
                ("dport", FLOW_KEY_DPORT),
                ("saddr", FLOW_KEY_SADDR),
                ("daddr", FLOW_KEY_DADDR),
            ],
        ),
        (
            "flow_entry",
            fabric::FLOW_ENTRY_LEN,
            vec![
                ("generation", FLOW_ENTRY_GENERATION),
                ("out_ifindex", FLOW_ENTRY_OUT_IFINDEX),
                ("slot", FLOW_ENTRY_SLOT),
                ("dst_mac", FLOW_ENTRY_DST_MAC),
                ("rewrite", FLOW_ENTRY_REWRITE),
                ("to_family", FLOW_ENTRY_TO_FAMILY),
                ("to_port", FLOW_ENTRY_TO_PORT),
                ("mtu", FLOW_ENTRY_MTU),
                ("out_port", FLOW_ENTRY_OUT_PORT),
                ("to_addr", FLOW_ENTRY_TO_ADDR),
            ],
        ),
        (
            "flow_counters",
            fabric::FLOW_COUNTERS_LEN,
            vec![
                ("packets", FLOW_COUNTERS_PACKETS),
                ("bytes", FLOW_COUNTERS_BYTES),
                ("last_used_ns", FLOW_COUNTERS_LAST_USED_NS),
                ("gone_packets", FLOW_COUNTERS_GONE_PACKETS),
                ("gone_bytes", FLOW_COUNTERS_GONE_BYTES),
            ],
        ),
        (
            "counters_chunk",
            fabric::CHUNK_LEN,
            vec![("slot", COUNTERS_CHUNK_SLOT)],
        ),
        (
            "port",
            fabric::PORT_LEN,
            vec![
                ("kind", PORT_KIND),
                ("peer_ifindex", PORT_PEER_IFINDEX),
                ("mac", PORT_MAC),
                ("mtu", PORT_MTU),
                ("counters_index", PORT_COUNTERS_INDEX),
            ],
        ),
        (
            "port_counters",
            fabric::PORT_COUNTERS_LEN,
            vec![
                ("unroutable_packets", PORT_COUNTERS_UNROUTABLE_PACKETS),
                ("unroutable_bytes", PORT_COUNTERS_UNROUTABLE_BYTES),
                ("malformed_packets", PORT_COUNTERS_MALFORMED_PACKETS),
                ("malformed_bytes", PORT_COUNTERS_MALFORMED_BYTES),
                ("undelivered_packets", PORT_COUNTERS_UNDELIVERED_PACKETS),
                ("undelivered_bytes", PORT_COUNTERS_UNDELIVERED_BYTES),
            ],
        ),
        (
            "port_counters_chunk",
            fabric::PORT_CHUNK_LEN,
            vec![("port", PORT_COUNTERS_CHUNK_PORT)],
        ),
        (
            "tunnel_entry",
            fabric::TUNNEL_ENTRY_LEN,
            vec![
                ("generation", TUNNEL_ENTRY_GENERATION),
                ("slot", TUNNEL_ENTRY_SLOT),
                ("remote_ipv4", TUNNEL_ENTRY_REMOTE_IPV4),
                ("vni", TUNNEL_ENTRY_VNI),
                ("dst_mac", TUNNEL_ENTRY_DST_MAC),
            ],
        ),
        (
            "arrival_key",
            fabric::ARRIVAL_KEY_LEN,
            vec![
                ("flow", ARRIVAL_KEY_FLOW),
                ("vni", ARRIVAL_KEY_VNI),
                ("mac", ARRIVAL_KEY_MAC),
            ],
        ),
        (
            "tunnel_settings",
            fabric::TUNNEL_SETTINGS_LEN,
            vec![
                ("vxlan_ifindex", TUNNEL_SETTINGS_VXLAN_IFINDEX),
                ("local_ipv4", TUNNEL_SETTINGS_LOCAL_IPV4),
                ("mtu", TUNNEL_SETTINGS_MTU),
            ],
        ),
        (
            "underlay_settings",
            underlay::UNDERLAY_SETTINGS_LEN,
            vec![
                ("vxlan_ifindex", UNDERLAY_SETTINGS_VXLAN_IFINDEX),
                ("tap_ifindex", UNDERLAY_SETTINGS_TAP_IFINDEX),
                ("local_ipv4", UNDERLAY_SETTINGS_LOCAL_IPV4),
            ],
        ),
        ("mac_key", underlay::MAC_KEY_LEN, vec![("mac", MAC_KEY_MAC)]),
        (
            "destination",
            underlay::DESTINATION_LEN,
            vec![
                ("remote_ipv4", DESTINATION_REMOTE_IPV4),
                ("vni", DESTINATION_VNI),
                ("trusted", DESTINATION_TRUSTED),
            ],
        ),
        (
            "frame_counters",
            underlay::FRAME_COUNTERS_LEN,
            vec![
                ("sent", FRAME_COUNTERS_SENT),
                ("received", FRAME_COUNTERS_RECEIVED),
                ("untrusted", FRAME_COUNTERS_UNTRUSTED),
                ("no_destination", FRAME_COUNTERS_NO_DESTINATION),
                ("failed", FRAME_COUNTERS_FAILED),
                ("not_trusted", FRAME_COUNTERS_NOT_TRUSTED),
            ],
        ),
        (
            "host_counters",
            underlay::HOST_COUNTERS_LEN,
            vec![
                ("refused", HOST_COUNTERS_REFUSED),
                ("not_sent", HOST_COUNTERS_NOT_SENT),
            ],
        ),
    ]
}

/// A type as C names it, and its length.
type Type = (&'static str, usize);

/// Every map of the object, with the key and value types the daemon's
/// side of it is made of.
fn maps() -> Vec<(&'static str, Type, Type)> {
    use fabric::*;
    use underlay::*;
    let index = ("__u32", 4);
    let flow_key = ("struct flow_key", FLOW_KEY_LEN);
    let flow_entry = ("struct flow_entry", FLOW_ENTRY_LEN);
    vec![
        // The fabric's.
        ("flows", flow_key, flow_entry),
        ("ports", index, ("struct port", PORT_LEN)),
        ("counters", index, ("struct counters_chunk", CHUNK_LEN)),
        // Written through aya's `DevMapHash`: an ifindex, and no program.
        ("host_ends", index, ("struct bpf_devmap_val", 8)),
        (
            "port_counters",
            index,
            ("struct port_counters_chunk", PORT_CHUNK_LEN),
        ),
        ("generation", index, ("__u64", 8)),
        ("port_generations", index, ("__u64", 8)),
        (
            "to_tunnel",
            flow_key,
            ("struct tunnel_entry", TUNNEL_ENTRY_LEN),
        ),
        (
            "arrivals",
            ("struct arrival_key", ARRIVAL_KEY_LEN),
            flow_entry,
        ),
        (
            "tunnel",
            index,
            ("struct tunnel_settings", TUNNEL_SETTINGS_LEN),
        ),
        // Both sides': the trusted hosts.
        ("trusted", index, ("__u8", 1)),
        // The underlay's.
        (
            "underlay",
            index,
            ("struct underlay_settings", UNDERLAY_SETTINGS_LEN),
        ),
        (
            "destinations",
            ("struct mac_key", MAC_KEY_LEN),
            ("struct destination", DESTINATION_LEN),
        ),
        (
            "frames",
            index,
            ("struct frame_counters", FRAME_COUNTERS_LEN),
        ),
        ("hosts", index, ("struct host_counters", HOST_COUNTERS_LEN)),
    ]
}

fn object_btf() -> Btf {
    let object = vnetd::host::bpf::object();
    assert!(
        !object.is_empty(),
        "this build has no BPF object, so there is no BTF to check: {}",
        vnetd::host::bpf::unbuilt().unwrap_or_default()
    );
    Btf::of_object(object).expect("the object's BTF")
}

/// What differs between struct `name` in `btf` and the daemon's layout of
/// it, `len` bytes with `members`.
fn struct_differences(btf: &Btf, (name, len, members): &Struct) -> Vec<String> {
    let Some(id) = btf.struct_id(name) else {
        return vec![format!("struct {name} is not in the object")];
    };
    let mut wrong = Vec::new();
    if btf.size_of(id) != *len as u64 {
        wrong.push(format!(
            "struct {name}: {} bytes in the object, {len} in entries.rs",
            btf.size_of(id)
        ));
    }
    for m in btf.members(id) {
        let at = (m.bit_offset / 8) as usize;
        let bytes = at..at + btf.size_of(m.type_id) as usize;
        if m.bitfield_size != 0 || m.bit_offset % 8 != 0 {
            wrong.push(format!("{name}.{}: a bitfield", m.name));
        } else if let Some((_, rust)) = members.iter().find(|(n, _)| *n == m.name) {
            if *rust != bytes {
                wrong.push(format!(
                    "{name}.{}: bytes {bytes:?} in the object, {rust:?} in entries.rs",
                    m.name
                ));
            }
        } else if !m.name.starts_with("pad") {
            // Padding is written as zeros wherever it lies.
            wrong.push(format!(
                "{name}.{} (bytes {bytes:?}) is not written by entries.rs",
                m.name
            ));
        }
    }
    for (member, _) in members {
        if !btf.members(id).iter().any(|m| m.name == *member) {
            wrong.push(format!("{name}.{member} is not in the object"));
        }
    }
    wrong
}

#[test]
fn every_struct_the_maps_hold_is_laid_out_as_the_daemon_writes_it() {
    let btf = object_btf();
    let wrong: Vec<String> = (structs().iter())
        .flat_map(|layout| struct_differences(&btf, layout))
        .collect();
    assert!(
        wrong.is_empty(),
        "the structs' layouts disagree:\n{}",
        wrong.join("\n")
    );
    // A chunk is SLOTS_PER_CHUNK counters (PORTS_PER_CHUNK ports'), one
    // after the other.
    for (chunk, element) in [
        (
            "counters_chunk",
            format!("struct flow_counters[{}]", fabric::SLOTS_PER_CHUNK),
        ),
        (
            "port_counters_chunk",
            format!("struct port_counters[{}]", fabric::PORTS_PER_CHUNK),
        ),
    ] {
        let id = btf
            .struct_id(chunk)
            .unwrap_or_else(|| panic!("struct {chunk}"));
        assert_eq!(btf.name_of(btf.members(id)[0].type_id), element);
    }
}

#[test]
fn every_map_of_the_object_holds_the_keys_and_values_the_daemon_reads() {
    let btf = object_btf();
    let expected = maps();
    let mut wrong = Vec::new();
    let in_object = btf.maps();
    for map in &in_object {
        if !expected.iter().any(|(name, _, _)| name == map) {
            wrong.push(format!("the object's map {map} is not checked here"));
        }
    }
    for (map, key, value) in expected {
        if !in_object.iter().any(|name| name == map) {
            wrong.push(format!("the object has no map {map}"));
            continue;
        }
        let Some((key_id, value_id)) = btf.map_key_value(map) else {
            wrong.push(format!("the map {map} has no key or no value type"));
            continue;
        };
        for (what, id, (c_name, len)) in [("key", key_id, key), ("value", value_id, value)] {
            let found = (btf.name_of(id), btf.size_of(id) as usize);
            if found != (c_name.to_owned(), len) {
                wrong.push(format!(
                    "map {map}'s {what}: {found:?} in the object, ({c_name}, {len}) in the daemon"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the maps' layouts disagree:\n{}",
        wrong.join("\n")
    );
}
