//! The gobgpd TOML configuration of a [`GobgpSpec`] (see the parent
//! module for the policies it writes), and the prefix sets it defines, by
//! which a reconfigured gobgpd is checked.
//!
//! Every name (of a policy, a set, a statement) is written as a TOML
//! string by [`crate::config_text::toml`]; addresses, prefixes and numbers
//! are typed values, written by their `Display`, which holds no quote.

use super::spec::{GobgpSpec, NotHandedOn};
use crate::config_text::toml::string;
use ipnet::Ipv4Net;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

pub(super) const IMPORT_POLICY: &str = "refuse-rejected";
const EXPORT_POLICY: &str = "deny-overlapping";
pub(super) const NO_TRANSIT_POLICY: &str = "no-transit";
const WITHHOLD_POLICY: &str = "withhold";
pub(super) const NOT_HANDED_ON_POLICY: &str = "not-handed-on";
pub(super) const NEXT_HOP_SELF_POLICY: &str = "next-hop-self";

/// The prefix-list entries (prefix, mask length range) that match every
/// prefix overlapping `denied`: its more-specifics and itself, and each of
/// its supernets exactly.
pub(super) fn overlapping_entries(denied: Ipv4Net) -> Vec<(Ipv4Net, String)> {
    let len = denied.prefix_len();
    let mut entries = vec![(denied.trunc(), format!("{len}..32"))];
    for shorter in 0..len {
        let supernet = Ipv4Net::new(denied.addr(), shorter)
            .expect("a shorter length is valid")
            .trunc();
        entries.push((supernet, format!("{shorter}..{shorter}")));
    }
    entries
}

fn toml_prefix_set(out: &mut String, name: &str, entries: &[(Ipv4Net, String)]) {
    let _ = write!(
        out,
        "\n[[defined-sets.prefix-sets]]\n  prefix-set-name = {}\n",
        string(name)
    );
    for (prefix, range) in entries {
        let _ = write!(
            out,
            "  [[defined-sets.prefix-sets.prefix-list]]\n    ip-prefix = \"{prefix}\"\n    masklength-range = \"{range}\"\n"
        );
    }
}

/// A policy rejecting the routes of `prefix_set`; with `learned_only`,
/// only routes learned from a neighbor (`route-type = external`), never
/// the ones this speaker originates.
fn toml_reject_policy(out: &mut String, policy: &str, prefix_set: &str, learned_only: bool) {
    // Statement names are global in gobgpd: derive them from the policy.
    let _ = write!(
        out,
        "\n[[policy-definitions]]\n  name = {policy}\n  \
         [[policy-definitions.statements]]\n    name = {statement}\n    \
         [policy-definitions.statements.conditions.match-prefix-set]\n      \
         prefix-set = {prefix_set}\n      match-set-options = \"any\"\n",
        statement = string(&format!("{policy}-reject")),
        policy = string(policy),
        prefix_set = string(prefix_set),
    );
    if learned_only {
        out.push_str(
            "    [policy-definitions.statements.conditions.bgp-conditions]\n      \
             route-type = \"external\"\n",
        );
    }
    out.push_str(
        "    [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n",
    );
}

/// The export policies of `spec`, in the order gobgpd applies them.
pub(super) fn export_policies(spec: &GobgpSpec) -> Vec<&'static str> {
    let mut policies = Vec::new();
    if !spec.withheld.is_empty() {
        policies.push(WITHHOLD_POLICY);
    }
    if !spec.pass_on_learned {
        policies.push(NO_TRANSIT_POLICY);
    }
    if spec.not_handed_on.is_some() {
        policies.push(NOT_HANDED_ON_POLICY);
    }
    policies.push(EXPORT_POLICY);
    if spec.neighbors.iter().any(|n| n.next_hop_self) {
        policies.push(NEXT_HOP_SELF_POLICY);
    }
    policies
}

/// Every address `spec` listens on and opens sessions from: its own, then
/// each neighbour's own local address, once each.
pub(super) fn local_addresses(spec: &GobgpSpec) -> Vec<Ipv4Addr> {
    let mut out = vec![spec.local_address];
    for n in &spec.neighbors {
        if let Some(a) = n.local_address {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

fn address_list(addresses: &[Ipv4Addr]) -> String {
    addresses
        .iter()
        .map(|a| format!("\"{a}/32\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A policy of one statement for the routes sent to the neighbours `to`
/// (a neighbour set named like the policy): `rest` is the statement's
/// further conditions and its actions, as TOML.
fn toml_towards(out: &mut String, name: &str, to: &[Ipv4Addr], rest: &str) {
    let _ = write!(
        out,
        "\n[[defined-sets.neighbor-sets]]\n  neighbor-set-name = {name}\n  \
         neighbor-info-list = [{to}]\n\
         \n[[policy-definitions]]\n  name = {name}\n  \
         [[policy-definitions.statements]]\n    name = {statement}\n    \
         [policy-definitions.statements.conditions.match-neighbor-set]\n      \
         neighbor-set = {name}\n{rest}",
        statement = string(&format!("{name}-statement")),
        name = string(name),
        to = address_list(to),
    );
}

/// The routes learned from some neighbours (by next hop), rejected towards
/// others.
fn toml_not_handed_on(out: &mut String, rule: &NotHandedOn) {
    let rest = format!(
        "    [policy-definitions.statements.conditions.bgp-conditions]\n      \
         next-hop-in-list = [{}]\n    \
         [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n",
        address_list(&rule.next_hops)
    );
    toml_towards(out, NOT_HANDED_ON_POLICY, &rule.to, &rest);
}

/// The speaker's own address as next hop towards the neighbours that ask
/// for it.
fn toml_next_hop_self(out: &mut String, neighbors: &[Ipv4Addr]) {
    let rest = "    [policy-definitions.statements.actions.bgp-actions]\n      \
                set-next-hop = \"self\"\n";
    toml_towards(out, NEXT_HOP_SELF_POLICY, neighbors, rest);
}

/// Prefix-set entries matching exactly `prefixes`, no more-specifics.
pub(super) fn exact_entries(prefixes: &[Ipv4Net]) -> Vec<(Ipv4Net, String)> {
    prefixes
        .iter()
        .map(|p| (p.trunc(), format!("{0}..{0}", p.prefix_len())))
        .collect()
}

/// The names of the neighbour set, prefix set and statement that withhold
/// routes from `neighbor` (gobgpd's names are global).
pub(super) fn withhold_set_name(neighbor: Ipv4Addr) -> String {
    format!(
        "{WITHHOLD_POLICY}-{}",
        neighbor.to_string().replace('.', "-")
    )
}

/// Whether `spec` refuses some learned prefixes (an import policy).
pub(super) fn imports_refused(spec: &GobgpSpec) -> bool {
    !spec.reject_exact.is_empty() || !spec.reject_within.is_empty()
}

/// The prefix set of the import policy's refused prefixes.
const REJECT_EXACT_SET: &str = "reject-exact";
/// The prefix set of the export policy's denied prefixes.
const EXPORT_DENY_SET: &str = "export-deny";

/// Every prefix set `spec`'s configuration defines, by name, with its
/// entries (prefix and mask length range): what the configuration file
/// writes, and what a reconfigured gobgpd must hold before it is trusted.
pub(super) fn prefix_sets(spec: &GobgpSpec) -> Vec<(String, Vec<(Ipv4Net, String)>)> {
    let mut sets = Vec::new();
    if imports_refused(spec) {
        let mut entries = exact_entries(&spec.reject_exact);
        entries.extend(
            spec.reject_within
                .iter()
                .map(|p| (p.trunc(), format!("{}..32", p.prefix_len()))),
        );
        sets.push((REJECT_EXACT_SET.to_owned(), entries));
    }
    let mut deny: BTreeSet<(Ipv4Net, String)> = BTreeSet::new();
    deny.insert((Ipv4Net::default(), "0..0".to_owned()));
    for denied in &spec.export_deny_overlapping {
        deny.extend(overlapping_entries(*denied));
    }
    sets.push((EXPORT_DENY_SET.to_owned(), deny.into_iter().collect()));
    for (neighbor, prefixes) in &spec.withheld {
        sets.push((withhold_set_name(*neighbor), exact_entries(prefixes)));
    }
    sets
}

/// The prefix sets gobgpd holds, as [`prefix_sets`] spells them, from
/// `gobgp -j policy prefix`.
pub(super) fn parse_prefix_sets(reply: &Value) -> Vec<(String, BTreeSet<(Ipv4Net, String)>)> {
    reply
        .as_array()
        .into_iter()
        .flatten()
        .map(|set| {
            let entries = set["prefixes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    let prefix = p["ip_prefix"].as_str()?.parse::<Ipv4Net>().ok()?;
                    // gobgp leaves out a length of 0.
                    let (min, max) = (
                        p["mask_length_min"].as_u64().unwrap_or(0),
                        p["mask_length_max"].as_u64().unwrap_or(0),
                    );
                    Some((prefix.trunc(), format!("{min}..{max}")))
                })
                .collect();
            (set["name"].as_str().unwrap_or_default().to_owned(), entries)
        })
        .collect()
}

/// One statement per neighbour: its withheld prefixes are rejected when
/// sent to it.
fn toml_withhold_policy(out: &mut String, withheld: &[(Ipv4Addr, Vec<Ipv4Net>)]) {
    for (neighbor, prefixes) in withheld {
        let name = withhold_set_name(*neighbor);
        let _ = write!(
            out,
            "\n[[defined-sets.neighbor-sets]]\n  neighbor-set-name = {}\n  \
             neighbor-info-list = [\"{neighbor}/32\"]\n",
            string(&name)
        );
        toml_prefix_set(out, &name, &exact_entries(prefixes));
    }
    let _ = write!(
        out,
        "\n[[policy-definitions]]\n  name = {}\n",
        string(WITHHOLD_POLICY)
    );
    for (neighbor, _) in withheld {
        let name = string(&withhold_set_name(*neighbor));
        let _ = write!(
            out,
            "  [[policy-definitions.statements]]\n    name = {name}\n    \
             [policy-definitions.statements.conditions.match-prefix-set]\n      \
             prefix-set = {name}\n    \
             [policy-definitions.statements.conditions.match-neighbor-set]\n      \
             neighbor-set = {name}\n    \
             [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n"
        );
    }
}

/// The gobgpd TOML configuration of `spec` (see the module documentation).
pub fn config(spec: &GobgpSpec) -> String {
    let mut out = String::from("# Written by vnetd.\n");
    let import_list = if !imports_refused(spec) {
        String::new()
    } else {
        string(IMPORT_POLICY)
    };
    let _ = write!(
        out,
        "[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  \
         local-address-list = [{locals}]\n\
         [global.apply-policy.config]\n  import-policy-list = [{import_list}]\n  \
         default-import-policy = \"accept-route\"\n  \
         export-policy-list = [{export_list}]\n  \
         default-export-policy = \"accept-route\"\n\
         [global.route-selection-options.config]\n  \
         external-compare-router-id = true\n",
        export_list = export_policies(spec)
            .iter()
            .map(|p| string(p))
            .collect::<Vec<_>>()
            .join(", "),
        asn = spec.asn,
        router_id = spec.router_id,
        locals = local_addresses(spec)
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    for neighbor in &spec.neighbors {
        let _ = write!(
            out,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{address}\"\n    \
             peer-as = {asn}\n{local_as}{remove}  \
             [neighbors.timers.config]\n    connect-retry = {retry}\n    hold-time = {hold}\n    \
             keepalive-interval = {keepalive}\n  \
             [neighbors.transport.config]\n    local-address = \"{local}\"\n",
            address = neighbor.address,
            asn = neighbor.asn,
            local_as = neighbor
                .local_as
                .map_or(String::new(), |a| format!("    local-as = {a}\n")),
            remove = if neighbor.remove_private_as {
                "    remove-private-as = \"all\"\n"
            } else {
                ""
            },
            retry = spec.connect_retry_secs,
            hold = spec.hold_secs,
            keepalive = spec.keepalive_secs,
            local = neighbor.local_address.unwrap_or(spec.local_address),
        );

        if neighbor.route_reflector_client {
            let _ = write!(
                out,
                "  [neighbors.route-reflector.config]\n    route-reflector-client = true\n    \
                 route-reflector-cluster-id = \"{}\"\n",
                spec.router_id
            );
        }
        if neighbor.multihop {
            out.push_str(
                "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 255\n",
            );
        }
        let _ = write!(
            out,
            "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"ipv4-unicast\"\n    \
             [neighbors.afi-safis.prefix-limit.config]\n      max-prefixes = {max}\n",
            max = spec.max_prefixes,
        );
    }

    let sets = prefix_sets(spec);
    let set = |name: &str| sets.iter().find(|(n, _)| n == name).map(|(_, e)| e);
    if let Some(entries) = set(REJECT_EXACT_SET) {
        toml_prefix_set(&mut out, REJECT_EXACT_SET, entries);
        toml_reject_policy(&mut out, IMPORT_POLICY, REJECT_EXACT_SET, true);
    }
    toml_prefix_set(
        &mut out,
        EXPORT_DENY_SET,
        set(EXPORT_DENY_SET).expect("always"),
    );
    toml_reject_policy(&mut out, EXPORT_POLICY, EXPORT_DENY_SET, true);
    if !spec.withheld.is_empty() {
        toml_withhold_policy(&mut out, &spec.withheld);
    }
    if let Some(rule) = &spec.not_handed_on {
        toml_not_handed_on(&mut out, rule);
    }
    let own_next_hop: Vec<Ipv4Addr> = spec
        .neighbors
        .iter()
        .filter(|n| n.next_hop_self)
        .map(|n| n.address)
        .collect();
    if !own_next_hop.is_empty() {
        toml_next_hop_self(&mut out, &own_next_hop);
    }
    if !spec.pass_on_learned {
        let _ = write!(
            out,
            "\n[[policy-definitions]]\n  name = {policy}\n  \
             [[policy-definitions.statements]]\n    name = {statement}\n    \
             [policy-definitions.statements.conditions.bgp-conditions]\n      \
             route-type = \"external\"\n    \
             [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n",
            policy = string(NO_TRANSIT_POLICY),
            statement = string(&format!("{NO_TRANSIT_POLICY}-reject")),
        );
    }
    out
}
