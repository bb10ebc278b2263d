//! Every shipped topology in `config/` is valid, and topology files parse
//! to exactly the model they describe (load balancers, their defaults and
//! the prober ports vnetd adds for them).

use std::path::Path;

#[test]
fn every_config_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        count += 1;
        if let Err(errors) = vnetd::plan::load_file(&path) {
            let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            panic!("{} is refused:\n{}", path.display(), shown.join("\n"));
        }
    }
    assert!(
        count >= 3,
        "expected at least three example topologies, found {count}"
    );
}

use std::net::IpAddr;
use vnetd::plan::{Plan, PortIdx, PortKind};
use vnetd::topology::{
    parse_str, BackendPool, Frontend, LbProtocol, LbRule, LbRuleSettings, LoadBalancer,
    LoadDistribution, NicIdx, Probe, ProbeProtocol, SubnetIdx, SubnetRef, Topology, VnetIdx,
    PROBE_SOURCE,
};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn subnet(vnet: usize, subnet: usize) -> SubnetRef {
    SubnetRef {
        vnet: VnetIdx::new(vnet),
        subnet: SubnetIdx::new(subnet),
    }
}

fn parse_clean(name: &str, text: &str) -> Topology {
    let loaded = parse_str(name, text).unwrap_or_else(|e| {
        let shown: Vec<String> = e.iter().map(|d| d.to_string()).collect();
        panic!("{name} is refused:\n{}", shown.join("\n"))
    });
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    loaded.topology
}

/// The line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// The HA-ports lab parses to exactly this model, the spokes' routes to
/// the frontend across the peering draw no warning, and the hub gets its
/// prober's port after the file's NICs.
#[test]
fn the_ilb_lab_parses_to_the_expected_model() {
    let text = include_str!("../golden/40-ilb-ha-ports.yaml");
    let topo = parse_clean("40-ilb-ha-ports.yaml", text);
    let at = |needle| line_of(text, needle);
    let nic = |name| topo.nic_by_name(name).unwrap();
    assert_eq!(
        topo.load_balancers.raw,
        vec![
            LoadBalancer {
                name: "nva-ilb".into(),
                vnet: VnetIdx::new(0),
                frontends: vec![Frontend {
                    name: "fe".into(),
                    subnet: Some(subnet(0, 0)),
                    public_ip: None,
                    address: ip("10.0.1.100"),
                    line: at("{name: fe, subnet: hub/nva"),
                }],
                pools: vec![BackendPool {
                    name: "nvas".into(),
                    nics: vec![nic("nva1"), nic("nva2")],
                    line: at("{name: nvas"),
                }],
                probes: vec![Probe {
                    name: "ssh".into(),
                    protocol: ProbeProtocol::Tcp,
                    port: 22,
                    request_path: None,
                    interval_secs: 5,
                    threshold: 1,
                    line: at("{name: ssh"),
                }],
                rules: vec![LbRule {
                    name: "ha-ports".into(),
                    frontend: 0,
                    pool: 0,
                    probe: Some(0),
                    settings: LbRuleSettings::new(LbProtocol::All, 0, 0),
                    line: at("{name: ha-ports"),
                }],
                outbound_rules: Vec::new(),
                line: at("- name: nva-ilb"),
            },
            LoadBalancer {
                name: "web-ilb".into(),
                vnet: VnetIdx::new(0),
                frontends: vec![Frontend {
                    name: "fe".into(),
                    subnet: Some(subnet(0, 1)),
                    public_ip: None,
                    address: ip("10.0.2.100"),
                    line: at("{name: fe, subnet: hub/web"),
                }],
                pools: vec![BackendPool {
                    name: "web".into(),
                    nics: vec![nic("web1"), nic("web2")],
                    line: at("{name: web, network_interfaces"),
                }],
                probes: vec![Probe {
                    name: "http".into(),
                    protocol: ProbeProtocol::Http,
                    port: 80,
                    request_path: Some("/".into()),
                    interval_secs: 15,
                    threshold: 1,
                    line: at("{name: http, protocol: Http"),
                }],
                rules: vec![LbRule {
                    name: "http".into(),
                    frontend: 0,
                    pool: 0,
                    probe: Some(0),
                    settings: LbRuleSettings::new(LbProtocol::Tcp, 80, 80),
                    line: at("{name: http, frontend_ip_configuration"),
                }],
                outbound_rules: Vec::new(),
                line: at("- name: web-ilb"),
            },
        ]
    );

    // Six NICs of the file, then the hub's prober; the spokes have none
    // (each VNet's Azure DNS follows).
    let plan = Plan::derive(&topo);
    assert_eq!(topo.nics.len(), 6);
    assert_eq!(plan.ports.len(), 7 + topo.vnets.len());
    assert_eq!(plan.ports.iter().filter(|n| n.is_vm()).count(), 6);
    let prober = &plan.ports[PortIdx::new(6)];
    assert_eq!(prober.name, "probe-hub");
    assert_eq!(prober.netns, "probe-hub");
    assert_eq!(
        prober.kind,
        PortKind::Prober {
            vnet: VnetIdx::new(0)
        }
    );
    assert_eq!(prober.subnet, subnet(0, 0));
    assert_eq!(prober.ip_configurations.len(), 1);
    assert_eq!(prober.ip_configurations[0].name, "ipconfig1");
    assert_eq!(
        prober.ip_configurations[0].address,
        IpAddr::V4(PROBE_SOURCE)
    );
    assert!(!prober.ip_forwarding);
    assert_eq!(prober.network_security_group, None);
    assert!(prober.application_security_groups.is_empty());
    assert_eq!(prober.line, at("- name: nva-ilb"));
    assert!(!prober.is_vm());
}

/// What a file may leave out, and the older azurerm spellings.
#[test]
fn load_balancer_defaults_and_older_names() {
    let text = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24], route_table: app-rt}
      - {name: data, address_prefixes: [10.0.2.0/24]}
  - name: other
    address_space: [10.9.0.0/16]
    location: westeurope
    subnets:
      - {name: fw, address_prefixes: [10.9.0.0/24]}
network_interfaces:
  - {name: app1, subnet: hub/app}
  - {name: db1, subnet: hub/data, private_ip_address: 10.0.2.4}
  - {name: fw1, subnet: other/fw, private_ip_address: 10.9.0.4, ip_forwarding_enabled: true}
route_tables:
  - name: app-rt
    routes:
      - {name: data-via-ilb, address_prefix: 10.0.2.0/24, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.2.10}
load_balancers:
  - name: fw-ilb
    frontend_ip_configurations:
      - {name: fe, subnet: other/fw, private_ip_address: 10.9.0.10}
    backend_address_pools:
      - {name: fws, network_interfaces: [fw1]}
    rules:
      - {name: ha-a, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: all, floating_ip_enabled: true}
      - {name: ha-b, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: All, enable_floating_ip: true, floating_ip_enabled: true}
  - name: db-ilb
    frontend_ip_configurations:
      - {name: fe, subnet: hub/data, private_ip_address: 10.0.2.10}
    backend_address_pools:
      - {name: dbs, network_interfaces: [db1]}
      - {name: empty}
    probes:
      - {name: tls, protocol: https, port: 443, request_path: /health, number_of_probes: 3}
      - {name: both, port: 1433, probe_threshold: 2, number_of_probes: 5}
    rules:
      - {name: sql, frontend_ip_configuration: fe, backend_address_pool: dbs, probe: both, protocol: Tcp, frontend_port: 1433, load_distribution: sourceipprotocol, enable_floating_ip: true, idle_timeout_in_minutes: 30}
      - {name: dns, frontend_ip_configuration: fe, backend_address_pool: dbs, protocol: Udp, frontend_port: 53, backend_port: 5353, load_distribution: SourceIP}
";
    let topo = parse_clean("defaults.yaml", text);
    assert_eq!(topo.load_balancers.len(), 2);
    let fw = &topo.load_balancers.raw[0];
    assert_eq!(fw.vnet, VnetIdx::new(1));
    assert!(fw.probes.is_empty());
    let ha: Vec<(LbProtocol, u16, u16, bool, Option<usize>)> = fw
        .rules
        .iter()
        .map(|r| {
            (
                r.settings.protocol,
                r.settings.frontend_port,
                r.settings.backend_port,
                r.settings.floating_ip,
                r.probe,
            )
        })
        .collect();
    assert_eq!(ha, vec![(LbProtocol::All, 0, 0, true, None); 2]);
    assert!(fw.rules.iter().all(|r| r.ha_ports()));

    let db = &topo.load_balancers.raw[1];
    assert_eq!(db.vnet, VnetIdx::new(0));
    assert_eq!(db.pools[1].nics, Vec::<NicIdx>::new());
    let tls = &db.probes[0];
    assert_eq!(tls.protocol, ProbeProtocol::Https);
    assert_eq!(tls.request_path.as_deref(), Some("/health"));
    assert_eq!((tls.interval_secs, tls.threshold), (15, 3));
    let both = &db.probes[1];
    assert_eq!(both.protocol, ProbeProtocol::Tcp);
    assert_eq!((both.port, both.threshold), (1433, 2));
    let sql = &db.rules[0].settings;
    assert_eq!((sql.frontend_port, sql.backend_port), (1433, 1433));
    assert_eq!(sql.distribution, LoadDistribution::SourceIpProtocol);
    assert!(sql.floating_ip);
    assert_eq!(sql.idle_timeout_minutes, 30);
    assert_eq!(db.rules[0].probe, Some(1));
    let dns = &db.rules[1].settings;
    assert_eq!(dns.protocol, LbProtocol::Udp);
    assert_eq!((dns.frontend_port, dns.backend_port), (53, 5353));
    assert_eq!(dns.distribution, LoadDistribution::SourceIp);
    assert!(!dns.floating_ip);
    assert_eq!(dns.idle_timeout_minutes, 4);

    // One prober per VNet with a load balancer, in VNet order, in the
    // subnet of the VNet's first frontend.
    let plan = Plan::derive(&topo);
    let probers: Vec<(&str, SubnetRef, &PortKind)> = plan
        .ports
        .iter()
        .filter(|n| n.kind.is_prober())
        .map(|n| (n.name.as_str(), n.subnet, &n.kind))
        .collect();
    assert_eq!(
        probers,
        vec![
            (
                "probe-hub",
                subnet(0, 1),
                &PortKind::Prober {
                    vnet: VnetIdx::new(0)
                }
            ),
            (
                "probe-other",
                subnet(1, 0),
                &PortKind::Prober {
                    vnet: VnetIdx::new(1)
                }
            ),
        ]
    );
}
