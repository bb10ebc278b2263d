//! Azure DNS's answers: each rule on a lab made for it, and every answer
//! of two labs against a plain reading of the same rules over the
//! topology itself (`reference`), which shares no table with the engine.

use super::*;
use crate::topology::{parse_str, ResolutionPolicy, Topology, VnetIdx};
use std::collections::BTreeSet;

mod forwarding;
mod reference;
mod wire;

/// A lab for every rule: a hub, a spoke, a partner linked to nothing, and
/// a VNet whose link to the `privatelink` zone redirects NXDOMAIN.
const LAB: &str = r#"
vnets:
  - {name: hub, address_space: [10.0.0.0/16], location: westeurope,
     subnets: [{name: shared, address_prefixes: [10.0.2.0/24]}, {name: pe, address_prefixes: [10.0.3.0/24]}]}
  - {name: spoke, address_space: [10.1.0.0/16], location: westeurope,
     subnets: [{name: app, address_prefixes: [10.1.1.0/24]}]}
  - {name: partner, address_space: [10.9.0.0/16], location: westeurope,
     subnets: [{name: app, address_prefixes: [10.9.1.0/24]}]}
  - {name: redirect, address_space: [10.5.0.0/16], location: westeurope,
     subnets: [{name: app, address_prefixes: [10.5.1.0/24]}]}
network_interfaces:
  - {name: shared1, subnet: hub/shared, private_ip_address: 10.0.2.4}
  - {name: web-nic, subnet: hub/shared, private_ip_address: 10.0.2.5}
  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4}
  - {name: vm2, subnet: spoke/app, private_ip_address: 10.1.1.5}
  - {name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4}
  - {name: vmr, subnet: redirect/app, private_ip_address: 10.5.1.4}
virtual_machines:
  - {name: web-vm, size: Standard_D2s_v3, network_interfaces: [web-nic]}
private_dns_zones:
  - name: privatelink.blob.core.windows.net
    virtual_network_links:
      - {name: hub, virtual_network: hub}
      - {name: spoke, virtual_network: spoke}
      - {name: redirect, virtual_network: redirect, resolution_policy: NxDomainRedirect}
  - name: contoso.internal
    records:
      - {name: shared, type: A, ttl: 300, records: [10.0.2.4]}
      - {name: vm1, type: A, ttl: 60, records: [10.99.99.99]}
      - {name: files, type: CNAME, ttl: 30, records: [stcontoso.blob.core.windows.net]}
      - {name: alias, type: CNAME, ttl: 30, records: [web.corp.contoso.internal]}
      - {name: loop1, type: CNAME, records: [loop2.contoso.internal]}
      - {name: loop2, type: CNAME, records: [loop1.contoso.internal]}
      - {name: c0, type: CNAME, records: [c1.contoso.internal]}
      - {name: c1, type: CNAME, records: [c2.contoso.internal]}
      - {name: c2, type: CNAME, records: [c3.contoso.internal]}
      - {name: c3, type: CNAME, records: [c4.contoso.internal]}
      - {name: c4, type: CNAME, records: [c5.contoso.internal]}
      - {name: c5, type: CNAME, records: [c6.contoso.internal]}
      - {name: c6, type: CNAME, records: [c7.contoso.internal]}
      - {name: c7, type: CNAME, records: [c8.contoso.internal]}
      - {name: c8, type: CNAME, records: [c9.contoso.internal]}
      - {name: c9, type: A, records: [10.0.2.9]}
      - {name: "*.wild", type: A, ttl: 20, records: [10.0.2.20]}
      - {name: "@", type: MX, ttl: 3600, records: ["10 mail.contoso.internal"]}
      - {name: _sip._tcp, type: SRV, ttl: 3600, records: ["10 5 5060 sip.contoso.internal"]}
      - {name: "@", type: TXT, ttl: 3600, records: ["v=spf1 -all"]}
      - {name: six, type: AAAA, ttl: 3600, records: ["fd00::6"]}
      - {name: 4.2.0.10, type: PTR, ttl: 3600, records: [shared.contoso.internal]}
    virtual_network_links:
      - {name: hub, virtual_network: hub, registration_enabled: true}
      - {name: spoke, virtual_network: spoke, registration_enabled: true}
  - name: corp.contoso.internal
    records:
      - {name: web, type: A, ttl: 120, records: [10.1.1.50]}
    virtual_network_links:
      - {name: spoke, virtual_network: spoke}
private_endpoints:
  - name: pe-stcontoso-blob
    subnet: hub/pe
    private_ip_address: 10.0.3.4
    private_service_connection: {resource: stcontoso, kind: storage_account, subresource_names: [blob]}
    private_dns_zone_group: {zones: [privatelink.blob.core.windows.net]}
  - name: pe-stother-blob
    subnet: hub/pe
    private_ip_address: 10.0.3.5
    private_service_connection: {resource: stother, kind: storage_account, subresource_names: [blob], public_ip_address: 198.18.7.7}
"#;

fn topology(text: &str) -> Topology {
    match parse_str("lab.yaml", text) {
        Ok(loaded) => loaded.topology,
        Err(e) => panic!("{e:?}"),
    }
}

fn lab() -> (Topology, NameTables) {
    let t = topology(LAB);
    let tables = NameTables::compile(&t);
    (t, tables)
}

fn vnet(t: &Topology, name: &str) -> VnetIdx {
    t.vnets
        .position(|v| v.name == name)
        .expect("a VNet of the lab")
}

/// The answer as `dig` lines: `name ttl TYPE value`.
fn lines(r: &Resolution) -> Vec<String> {
    r.answers
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a.name,
                a.ttl,
                a.record_type().as_str(),
                a.data.text()
            )
        })
        .collect()
}

fn ask(t: &Topology, tables: &NameTables, from: &str, name: &str, q: QueryType) -> Resolution {
    tables.resolve(vnet(t, from), name, q)
}

/// The status of an A question for `name` asked from `from`.
fn a_status(t: &Topology, tables: &NameTables, from: &str, name: &str) -> Rcode {
    ask(t, tables, from, name, QueryType::A).rcode
}

#[test]
fn a_linked_vnet_gets_the_private_address_an_unlinked_one_the_public() {
    let (t, n) = lab();
    let name = "StContoso.blob.core.windows.net.";
    let linked = ask(&t, &n, "spoke", name, QueryType::A);
    assert_eq!(linked.rcode, Rcode::NoError);
    assert_eq!(
        lines(&linked),
        [
            "stcontoso.blob.core.windows.net 300 CNAME stcontoso.privatelink.blob.core.windows.net",
            "stcontoso.privatelink.blob.core.windows.net 10 A 10.0.3.4",
        ]
    );
    assert_eq!(
        linked.chain[1].source,
        Source::Zone {
            zone: "privatelink.blob.core.windows.net".into(),
            link: "spoke".into(),
            resolution_policy: ResolutionPolicy::Default,
            origin: Some(Origin::ZoneGroup {
                endpoint: "pe-stcontoso-blob".into()
            }),
            wildcard: None,
        }
    );
    let unlinked = ask(&t, &n, "partner", name, QueryType::A);
    assert_eq!(unlinked.rcode, Rcode::NoError);
    let public = t.private_endpoints[crate::topology::PrivateEndpointIdx::new(0)]
        .target
        .public_address;
    assert_eq!(
        lines(&unlinked),
        [
            "stcontoso.blob.core.windows.net 300 CNAME stcontoso.privatelink.blob.core.windows.net"
                .to_string(),
            format!("stcontoso.privatelink.blob.core.windows.net 300 A {public}"),
        ]
    );
    assert!(matches!(
        unlinked.chain[1].source,
        Source::PublicNames { .. }
    ));
}

#[test]
fn a_name_the_linked_zone_lacks_is_nxdomain_unless_the_link_redirects() {
    let (t, n) = lab();
    // stother has an endpoint but no zone group: its record is missing
    // from the zone, so linked VNets cannot resolve it (Azure's classic
    // failure), while a redirecting link falls back to the public answer.
    let name = "stother.blob.core.windows.net";
    let spoke = ask(&t, &n, "spoke", name, QueryType::A);
    assert_eq!(spoke.rcode, Rcode::NxDomain);
    assert_eq!(
        lines(&spoke),
        ["stother.blob.core.windows.net 300 CNAME stother.privatelink.blob.core.windows.net"]
    );
    assert_eq!(spoke.chain[1].result, StepResult::NxDomain);
    let redirect = ask(&t, &n, "redirect", name, QueryType::A);
    assert_eq!(redirect.rcode, Rcode::NoError);
    assert_eq!(
        redirect.addresses(),
        ["198.18.7.7".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(redirect.chain[1].result, StepResult::Redirected);
    assert_eq!(
        redirect.chain[2].source,
        Source::PublicNames {
            resource: "stother (blob)".into()
        }
    );
    // Only A, AAAA and CNAME questions are redirected.
    let txt = ask(
        &t,
        &n,
        "redirect",
        "nosuch.privatelink.blob.core.windows.net",
        QueryType::TXT,
    );
    assert_eq!((txt.rcode, txt.chain.len()), (Rcode::NxDomain, 1));
    // Redirected to public resolution, a name nobody knows stays NXDOMAIN.
    let nobody = ask(
        &t,
        &n,
        "redirect",
        "nosuch.privatelink.blob.core.windows.net",
        QueryType::A,
    );
    assert_eq!(nobody.rcode, Rcode::NxDomain);
    assert_eq!(nobody.chain[1].source, Source::Nobody);
}

#[test]
fn registration_links_register_every_vm_and_written_records_win() {
    let (t, n) = lab();
    let shared1 = ask(&t, &n, "spoke", "shared1.contoso.internal", QueryType::A);
    assert_eq!(lines(&shared1), ["shared1.contoso.internal 10 A 10.0.2.4"]);
    assert!(matches!(
        &shared1.chain[0].source,
        Source::Zone { origin: Some(Origin::Registered { vm }), .. } if vm == "shared1"
    ));
    // A VM entry registers under its own name, with its primary NIC's address.
    let web = ask(&t, &n, "hub", "web-vm.contoso.internal", QueryType::A);
    assert_eq!(lines(&web), ["web-vm.contoso.internal 10 A 10.0.2.5"]);
    assert_eq!(
        a_status(&t, &n, "hub", "web-nic.contoso.internal"),
        Rcode::NxDomain
    );
    // vm1 registers, but the file wrote vm1's A record set.
    let vm1 = ask(&t, &n, "hub", "vm1.contoso.internal", QueryType::A);
    assert_eq!(lines(&vm1), ["vm1.contoso.internal 60 A 10.99.99.99"]);
    // A VNet linked to no registering zone registers nothing.
    assert_eq!(
        a_status(&t, &n, "spoke", "vm3.contoso.internal"),
        Rcode::NxDomain
    );
}

#[test]
fn cnames_are_chased_across_zones_of_the_same_view() {
    let (t, n) = lab();
    // From the spoke, the longer zone corp.contoso.internal holds the target.
    let spoke = ask(&t, &n, "spoke", "alias.contoso.internal", QueryType::A);
    assert_eq!(
        lines(&spoke),
        [
            "alias.contoso.internal 30 CNAME web.corp.contoso.internal",
            "web.corp.contoso.internal 120 A 10.1.1.50",
        ]
    );
    // The hub is not linked to it: contoso.internal is authoritative.
    let hub = ask(&t, &n, "hub", "alias.contoso.internal", QueryType::A);
    assert_eq!(hub.rcode, Rcode::NxDomain);
    assert_eq!(hub.answers.len(), 1);
    // From a zone to a public name and back into a linked zone.
    let files = ask(&t, &n, "hub", "files.contoso.internal", QueryType::A);
    assert_eq!(
        files.addresses(),
        ["10.0.3.4".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(files.chain.len(), 3);
    // A CNAME question gets the CNAME, not its target.
    let cname = ask(&t, &n, "hub", "files.contoso.internal", QueryType::CNAME);
    assert_eq!(
        lines(&cname),
        ["files.contoso.internal 30 CNAME stcontoso.blob.core.windows.net"]
    );
}

#[test]
fn a_loop_or_a_chain_too_long_is_servfail() {
    let (t, n) = lab();
    let looped = ask(&t, &n, "hub", "loop1.contoso.internal", QueryType::A);
    assert_eq!(looped.rcode, Rcode::ServFail);
    assert!(looped.answers.is_empty());
    assert_eq!(
        looped.chain.last().unwrap().result,
        StepResult::Loop {
            target: "loop1.contoso.internal".into()
        }
    );
    // c1 .. c9: eight CNAMEs are followed; c0 .. c9 is one too many.
    let eight = ask(&t, &n, "hub", "c1.contoso.internal", QueryType::A);
    assert_eq!((eight.rcode, eight.answers.len()), (Rcode::NoError, 9));
    let nine = ask(&t, &n, "hub", "c0.contoso.internal", QueryType::A);
    assert_eq!(nine.rcode, Rcode::ServFail);
    assert!(matches!(
        nine.chain.last().unwrap().result,
        StepResult::TooLong { .. }
    ));
}

#[test]
fn a_name_with_other_types_is_nodata() {
    let (t, n) = lab();
    for (name, q) in [
        ("shared.contoso.internal", QueryType::AAAA),
        ("shared.contoso.internal", QueryType::MX),
        // An empty non-terminal exists too.
        ("_tcp.contoso.internal", QueryType::SRV),
        ("contoso.internal", QueryType::A),
        ("vm1.internal.cloudapp.net", QueryType::AAAA),
        (
            "stcontoso.privatelink.blob.core.windows.net",
            QueryType::TXT,
        ),
    ] {
        let r = ask(&t, &n, "spoke", name, q);
        assert_eq!(
            (r.rcode, r.answers.len()),
            (Rcode::NoError, 0),
            "{name} {q}"
        );
        assert_eq!(
            r.chain.last().unwrap().result,
            StepResult::NoData,
            "{name} {q}"
        );
    }
}

#[test]
fn zones_answer_every_type_they_hold_and_wildcards() {
    let (t, n) = lab();
    for (name, q, want) in [
        (
            "contoso.internal",
            QueryType::MX,
            "contoso.internal 3600 MX 10 mail.contoso.internal",
        ),
        (
            "contoso.internal",
            QueryType::TXT,
            "contoso.internal 3600 TXT v=spf1 -all",
        ),
        (
            "_sip._tcp.contoso.internal",
            QueryType::SRV,
            "_sip._tcp.contoso.internal 3600 SRV 10 5 5060 sip.contoso.internal",
        ),
        (
            "six.contoso.internal",
            QueryType::AAAA,
            "six.contoso.internal 3600 AAAA fd00::6",
        ),
        (
            "4.2.0.10.contoso.internal",
            QueryType::PTR,
            "4.2.0.10.contoso.internal 3600 PTR shared.contoso.internal",
        ),
        (
            "anything.wild.contoso.internal",
            QueryType::A,
            "anything.wild.contoso.internal 20 A 10.0.2.20",
        ),
    ] {
        assert_eq!(lines(&ask(&t, &n, "spoke", name, q)), [want], "{name} {q}");
    }
    // The wildcard stands for names below its parent only.
    assert_eq!(
        a_status(&t, &n, "spoke", "a.b.contoso.internal"),
        Rcode::NxDomain
    );
}

#[test]
fn vm_names_answer_in_their_own_vnet_only() {
    let (t, n) = lab();
    let own = ask(&t, &n, "spoke", "VM2.internal.cloudapp.net", QueryType::A);
    assert_eq!(lines(&own), ["vm2.internal.cloudapp.net 10 A 10.1.1.5"]);
    assert_eq!(
        own.chain[0].source,
        Source::VmNames {
            vm: Some("vm2".into())
        }
    );
    let other = ask(&t, &n, "hub", "vm2.internal.cloudapp.net", QueryType::A);
    assert_eq!(other.rcode, Rcode::NxDomain);
    let vm_entry = ask(&t, &n, "hub", "web-vm.internal.cloudapp.net", QueryType::A);
    assert_eq!(
        vm_entry.addresses(),
        ["10.0.2.5".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn names_nobody_knows_are_nxdomain_and_never_asked_of_the_internet() {
    let (t, n) = lab();
    for name in ["www.example.com", "blob.core.windows.net", "", "internal"] {
        let r = ask(&t, &n, "hub", name, QueryType::A);
        assert_eq!(r.rcode, Rcode::NxDomain, "{name}");
        assert_eq!(
            r.chain,
            [Step {
                name: normalise(name),
                source: Source::Nobody,
                result: StepResult::NxDomain
            }]
        );
    }
}

#[test]
fn a_nics_servers_are_its_own_then_its_vnets_then_azure_dns() {
    let text = LAB
        .replace(
            "{name: vm2, subnet: spoke/app, private_ip_address: 10.1.1.5}",
            "{name: vm2, subnet: spoke/app, private_ip_address: 10.1.1.5, dns_servers: [10.0.2.4]}",
        )
        .replace(
            "{name: redirect, address_space: [10.5.0.0/16],",
            "{name: redirect, address_space: [10.5.0.0/16], dns_servers: [168.63.129.16, 10.0.2.4],",
        )
        .replace(
            "{name: partner, address_space: [10.9.0.0/16],",
            "{name: partner, address_space: [10.9.0.0/16], dns_servers: [10.0.2.4, 10.0.2.5],",
        );
    let t = topology(&text);
    let of = |nic| NameServers::of(&t, t.nic_by_name(nic).unwrap());
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(of("vm1"), NameServers::AzureDns);
    assert_eq!(of("vm2"), NameServers::Nic(vec![ip("10.0.2.4")]));
    assert_eq!(
        of("vm3"),
        NameServers::Vnet(vec![ip("10.0.2.4"), ip("10.0.2.5")])
    );
    assert_eq!(of("vmr"), NameServers::AzureDns);
}

/// Every name the labs know, and names near them, asked from every VNet
/// with every type: the engine and the reference agree on the code and
/// the records.
#[test]
fn the_engine_agrees_with_the_reference() {
    let example = include_str!("../../../../config/private-endpoints.yaml");
    for text in [LAB, example] {
        let t = topology(text);
        let tables = NameTables::compile(&t);
        let names = reference::names_to_ask(&t);
        assert!(names.len() >= 30, "{} names", names.len());
        let types = [
            QueryType::A,
            QueryType::AAAA,
            QueryType::CNAME,
            QueryType::MX,
            QueryType::TXT,
            QueryType::SRV,
            QueryType::PTR,
            QueryType::NS,
            QueryType::ANY,
        ];
        let mut codes = BTreeSet::new();
        for v in t.vnets.keys() {
            for name in &names {
                for q in types {
                    let got = tables.resolve(v, name, q);
                    let (rcode, records) = reference::resolve(&t, v, name, q);
                    let mut got_records = lines(&got);
                    got_records.sort();
                    assert_eq!(
                        (got.rcode, got_records),
                        (rcode, records),
                        "{} asks {name} {q}",
                        t.vnets[v].name
                    );
                    codes.insert(rcode.as_str());
                }
            }
        }
        // The corpus reaches every kind of answer.
        if text == LAB {
            assert_eq!(codes.len(), 3, "{codes:?}");
        }
    }
}
