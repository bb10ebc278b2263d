//! Azure Firewall's application rules over
//! `config/firewall-application-rules.yaml` and generated policies: the
//! judgement by name against a naive first match written here (Azure's
//! order, its wildcard), and the traces that carry it: a network rule's
//! match ends processing, a Deny collection of higher priority wins, FQDN
//! tags and web categories match through the file's sets, and a trace to
//! an address (no name) is not judged by name.

use proptest::prelude::*;
use std::net::IpAddr;
use vnetd::diagnostics::trace_words;
use vnetd::policy::firewall::judge_application;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, Access, ApplicationProtocol, Topology};

const EXAMPLE: &str = include_str!("../../config/firewall-application-rules.yaml");

fn topology(text: &str) -> Topology {
    parse_str("application-rules.yaml", text)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .topology
}

/// The trace's verdict, reason, rule and application judgement from vm1.
fn traced(text: &str, to: &str, port: u16) -> (String, Option<String>, Option<String>) {
    let snap = Snapshot::compile(topology(text), 1);
    let found = trace_words(&snap, "vm1", to, None, Some(port)).unwrap();
    (found.verdict, found.rule, found.application_rule)
}

const FQDNS: [&str; 6] = ["*", "*.a.com", "a.com", "*b.com", "x.a.com", "*.c.org"];
const NAMES: [&str; 7] = [
    "a.com",
    "x.a.com",
    "y.x.A.com",
    "b.com",
    "ab.com",
    "c.org",
    "d.c.org",
];
const SOURCES: [&str; 3] = ["10.1.0.0/16", "10.2.0.0/16", "*"];
const PORTS: [(&str, u16); 3] = [("Http", 80), ("Https", 443), ("Https", 8443)];

/// One generated rule: action, FQDN indices, source index, port indices.
type Generated = (bool, Vec<usize>, usize, Vec<usize>);

/// A policy of one group whose collections each hold one generated rule,
/// with the given collection priorities.
fn policy_text(rules: &[(u16, Generated)]) -> String {
    let mut collections = String::new();
    for (i, (priority, (allow, fqdns, source, ports))) in rules.iter().enumerate() {
        let fqdns: Vec<String> = fqdns.iter().map(|f| format!("\"{}\"", FQDNS[*f])).collect();
        let protocols: Vec<String> = ports
            .iter()
            .map(|p| format!("{{type: {}, port: {}}}", PORTS[*p].0, PORTS[*p].1))
            .collect();
        collections.push_str(&format!(
            "          - name: c{i}\n            priority: {priority}\n            action: {}\n            rules:\n              - {{name: r{i}, protocols: [{}], source_addresses: [\"{}\"], destination_fqdns: [{}]}}\n",
            if *allow { "Allow" } else { "Deny" },
            protocols.join(", "),
            SOURCES[*source],
            fqdns.join(", ")
        ));
    }
    let start = EXAMPLE
        .find("        application_rule_collections:\n")
        .unwrap();
    format!(
        "{}        application_rule_collections:\n{collections}",
        &EXAMPLE[..start]
    )
}

/// Azure's wildcard, read naively: `*` alone is every name, a leading `*`
/// any non-empty prefix, anything else the name itself; case aside.
fn naive_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_lowercase(), name.to_lowercase());
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) => (1..name.len()).any(|cut| name[cut..] == *suffix),
        None => pattern == name,
    }
}

fn naive_source(source: &str, client: IpAddr) -> bool {
    match source {
        "*" => true,
        prefix => prefix.parse::<ipnet::IpNet>().unwrap().contains(&client),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_first_rule_by_priority_that_matches_decides(
        rules in prop::collection::vec(
            (
                100u16..110,
                (any::<bool>(), prop::collection::vec(0..FQDNS.len(), 1..3), 0..SOURCES.len(),
                 prop::collection::vec(0..PORTS.len(), 1..3)),
            ),
            1..6,
        ),
        requests in prop::collection::vec((0..NAMES.len(), 0..3usize, 0..PORTS.len()), 1..12),
    ) {
        let topo = topology(&policy_text(&rules));
        let fw = &topo.firewalls[vnetd::topology::FirewallIdx::new(0)];
        // Collections by priority, the file's order among equals.
        let mut ordered: Vec<(usize, &(u16, Generated))> = rules.iter().enumerate().collect();
        ordered.sort_by_key(|(i, (priority, _))| (*priority, *i));
        for (name, client, port) in requests {
            let client: IpAddr = ["10.1.1.4", "10.2.1.4", "10.3.1.4"][client].parse().unwrap();
            let (protocol, port) = PORTS[port];
            let protocol: ApplicationProtocol = protocol.parse().unwrap();
            let expected = ordered.iter().find(|(_, (_, (_, fqdns, source, ports)))| {
                ports.iter().any(|p| PORTS[*p].1 == port && PORTS[*p].0.parse::<ApplicationProtocol>().unwrap() == protocol)
                    && naive_source(SOURCES[*source], client)
                    && fqdns.iter().any(|f| naive_matches(FQDNS[*f], NAMES[name]))
            });
            let found = judge_application(&topo, fw, client, protocol, port, NAMES[name]);
            prop_assert_eq!(
                found.map(|r| (r.name.clone(), r.action)),
                expected.map(|(i, (_, (allow, ..)))| (
                    format!("r{i}"),
                    if *allow { Access::Allow } else { Access::Deny }
                )),
                "{} from {} over {:?}:{}", NAMES[name], client, protocol, port
            );
        }
    }
}

#[test]
fn a_network_rule_that_matches_ends_processing() {
    let text = EXAMPLE.replacen(
        "destination_addresses: [203.0.113.22], destination_ports: [\"22\"]",
        "destination_addresses: [203.0.113.22, 203.0.113.40], destination_ports: [\"22\", \"443\"]",
        1,
    );
    let (verdict, rule, judged) = traced(&text, "example.org", 443);
    assert_eq!(verdict, "Allow");
    assert_eq!(rule, None);
    assert_eq!(judged, None, "the application rules are not consulted");
    let (verdict, _, judged) = traced(EXAMPLE, "example.org", 443);
    assert_eq!(verdict, "Deny");
    assert_eq!(
        judged.as_deref(),
        Some("hub-fw judges example.org over Https:443: Deny by egress-policy/Default action")
    );
}

#[test]
fn a_deny_collection_of_higher_priority_wins_and_names_its_rule() {
    let text = EXAMPLE.replacen(
        "        application_rule_collections:\n",
        "        application_rule_collections:\n          - name: no-github\n            priority: 250\n            action: Deny\n            rules:\n              - {name: github-denied, protocols: [\"Https:443\"], source_addresses: [\"*\"], destination_fqdns: [github.com]}\n",
        1,
    );
    let (verdict, rule, judged) = traced(&text, "github.com", 443);
    assert_eq!(verdict, "Deny");
    assert_eq!(rule.as_deref(), Some("egress/no-github/github-denied"));
    assert_eq!(
        judged.as_deref(),
        Some("hub-fw judges github.com over Https:443: Deny by egress-policy/egress/no-github/github-denied")
    );
    let (verdict, ..) = traced(&text, "archive.ubuntu.com", 443);
    assert_eq!(verdict, "Allow", "the other rules still hold");
}

#[test]
fn fqdn_tags_and_web_categories_match_through_the_files_sets() {
    let text = EXAMPLE
        .replacen(
            "destination_fqdns: [github.com]}",
            "destination_fqdn_tags: [Code], web_categories: [Search]}",
            1,
        )
        .replacen(
            "internet:\n",
            "fqdn_tags:\n  - {name: Code, fqdns: [github.com]}\nweb_categories:\n  - {name: Search, fqdns: [\"*.org\"]}\ninternet:\n",
            1,
        );
    assert_ne!(text, EXAMPLE);
    for name in ["github.com", "example.org"] {
        let (verdict, _, judged) = traced(&text, name, 443);
        assert_eq!(verdict, "Allow", "{name}: {judged:?}");
        assert!(
            judged
                .unwrap()
                .ends_with("Allow by egress-policy/egress/allow-updates/github"),
            "{name}"
        );
    }
    // A tag the file does not define is warned about, and matches nothing.
    let undefined = EXAMPLE.replacen(
        "destination_fqdns: [github.com]}",
        "destination_fqdn_tags: [WindowsUpdate]}",
        1,
    );
    let loaded = parse_str("undefined-tag.yaml", &undefined).unwrap();
    assert!(
        loaded.warnings.iter().any(|d| d
            .message
            .contains("the FQDN tag `WindowsUpdate` has no FQDNs in this lab")),
        "{:?}",
        loaded.warnings
    );
    assert_eq!(traced(&undefined, "github.com", 443).0, "Deny");
}

#[test]
fn a_trace_to_an_address_is_not_judged_by_name() {
    let (verdict, _, judged) = traced(EXAMPLE, "203.0.113.40", 443);
    assert_eq!(verdict, "Allow", "the network stage passes it on");
    assert_eq!(judged, None);
    // Another port no application rule takes meets the default action.
    let (verdict, rule, _) = traced(EXAMPLE, "example.org", 8080);
    assert_eq!(verdict, "Deny");
    assert_eq!(rule.as_deref(), Some("Default action"));
}

/// The firewall's network stage passes on to the application rules only
/// what the proxy takes: IPv4 TCP from a rule's sources to its ports.
#[test]
fn only_ipv4_tcp_to_a_rules_port_is_passed_on() {
    use vnetd::net::{PacketKey, IPPROTO_TCP, IPPROTO_UDP};
    use vnetd::policy::firewall::{APPLICATION_RULES, DEFAULT_ACTION};
    use vnetd::topology::Direction;
    let text = EXAMPLE.replacen(
        "source_addresses: [10.1.0.0/16], destination_fqdns: [github.com]",
        "source_addresses: [\"*\"], destination_fqdns: [github.com]",
        1,
    );
    let snap = Snapshot::compile(topology(&text), 1);
    let fw = snap.plan.port_by_name("hub-fw").unwrap();
    let judged = |proto, src: &str, dst: &str, port| {
        let key = PacketKey {
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: Some(40000),
            dst_port: Some(port),
        };
        let verdict = snap.evaluate(fw, Direction::Inbound, &key);
        let rule = snap.deciding_rule(fw, Direction::Inbound, &verdict);
        (
            verdict.access,
            rule.map(|(_, r)| r.name.clone()).unwrap_or_default(),
        )
    };
    let passed = (Access::Allow, APPLICATION_RULES.to_string());
    let default = (Access::Deny, DEFAULT_ACTION.to_string());
    assert_eq!(judged(IPPROTO_TCP, "10.1.1.4", "203.0.113.30", 443), passed);
    assert_eq!(judged(IPPROTO_TCP, "10.9.9.9", "203.0.113.30", 443), passed);
    assert_eq!(
        judged(IPPROTO_TCP, "10.1.1.4", "203.0.113.30", 8443),
        default
    );
    assert_eq!(
        judged(IPPROTO_UDP, "10.1.1.4", "203.0.113.30", 443),
        default
    );
    assert_eq!(judged(IPPROTO_TCP, "fd00::4", "2001:db8::30", 443), default);
}
