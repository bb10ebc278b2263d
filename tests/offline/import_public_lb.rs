//! A public Standard load balancer imported three ways: the Terraform
//! configuration `tests/import/terraform/public-load-balancer` (two
//! frontends on public IPs and one on a public IP prefix, a pool of three
//! NICs, a probe, an HTTP rule with `disable_outbound_snat`, an outbound
//! rule), the state of the same network once applied
//! (`tests/import/tfstate/public-load-balancer.tfstate`) and its `az` dump
//! (`tests/import/az/public-load-balancer`). The state and the dump give
//! the same topology, exactly `public-load-balancer.expected.yaml`; the
//! configuration gives it without the addresses Azure allocated. Each is
//! accepted by `vnetd check`, with expectations of what crosses the
//! load balancer both ways.
//!
//! `VNETD_BLESS=1 cargo test --test offline import_public_lb` rewrites the
//! state's expected file from what the import gives now; read the diff
//! before committing it.

use super::import_state::{imported, repo, vnetd, without_comments};
use std::net::IpAddr;

const TERRAFORM_DIR: &str = "tests/import/terraform/public-load-balancer";
const STATE: &str = "tests/import/tfstate/public-load-balancer.tfstate";
const STATE_EXPECTED: &str = "tests/import/tfstate/public-load-balancer.expected.yaml";
const AZ_DIR: &str = "tests/import/az/public-load-balancer";

/// The `load_balancers` section every source gives (comments aside).
const LOAD_BALANCERS: &str = "load_balancers:
  - name: web-lb
    sku: Standard
    frontend_ip_configurations:
      - name: out-fe
        public_ip_address: out-pip
      - name: web-fe
        public_ip_address: web-pip
    backend_address_pools:
      - name: webs
        network_interfaces: [web1, web2, web3]
    probes:
      - name: http
        protocol: Http
        port: 80
        request_path: \"/\"
        interval_in_seconds: 5
    rules:
      - name: http
        frontend_ip_configuration: web-fe
        backend_address_pool: webs
        probe: http
        protocol: Tcp
        frontend_port: 80
        backend_port: 80
        disable_outbound_snat: true
    outbound_rules:
      - name: web-out
        frontend_ip_configurations: [out-fe]
        backend_address_pool: webs
        protocol: All
        allocated_outbound_ports: 1024
        idle_timeout_in_minutes: 15
        tcp_reset_enabled: true
";

/// The header's lines for the frontend on a public IP prefix, left out.
fn prefix_frontend_left_out(lb: &str, rule: &str) -> String {
    let why = "frontend `prefix-fe` left out: it takes its addresses from public IP prefix \
               `out-prefix`; a vnetd frontend takes one public IP address";
    format!(
        "#   azurerm_lb.web-lb ({lb}): {why}\n#   azurerm_lb_outbound_rule.web-out ({rule}): {why}\n"
    )
}

/// The `load_balancers` section of `text`, without comments: its key and
/// the indented lines after it.
fn load_balancers(text: &str) -> String {
    let bare = without_comments(text);
    let mut lines = bare.lines().skip_while(|l| *l != "load_balancers:");
    let key = lines.next().unwrap_or_else(|| panic!("{text}"));
    let body = lines.take_while(|l| l.starts_with(' '));
    std::iter::once(key)
        .chain(body)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `vnetd check` on `text` with expectations of what crosses the load
/// balancer to `frontend` (its HTTP frontend's address) and out through
/// `outbound` (the outbound rule's): exit 0, every expectation met, no
/// warning.
fn checked(text: &str, frontend: IpAddr, outbound: IpAddr) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    let with_expectations = format!(
        "{text}
internet:
  servers:
    - {{name: echo, address: 192.0.2.80, ports: [80]}}

expectations:
  - {{name: http-in, from: internet, to: {frontend}, protocol: Tcp, port: 80, result: Allow}}
  - {{name: no-rule-for-ssh, from: internet, to: {frontend}, protocol: Tcp, port: 22, result: Deny, reason: lb_no_rule}}
  - {{name: outbound-address-takes-nothing, from: internet, to: {outbound}, protocol: Tcp, port: 80, result: Deny, reason: lb_no_rule}}
  - {{name: web1-out, from: web1, to: 192.0.2.80, protocol: Tcp, port: 80, result: Allow}}
"
    );
    std::fs::write(&path, &with_expectations).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{stderr}\n{with_expectations}"
    );
    assert!(stdout.contains("4 passed, 0 failed"), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

fn topology(text: &str) -> vnetd::topology::Topology {
    vnetd::plan::parse_str("import", text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The state imports exactly to its expected file; the parser reads the
/// load balancer as Azure has it: public frontends on Azure's addresses,
/// the outbound rule as web1's way out (with 1,024 ports on out-pip), the
/// rule without implicit SNAT, web3 leaving by its own public IP.
#[test]
fn the_state_imports_the_public_load_balancer() {
    let text = imported(&["import", "tfstate", STATE]);
    if std::env::var_os("VNETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(repo(STATE_EXPECTED), &text).unwrap();
    }
    let expected = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    assert_eq!(text, expected);
    assert_eq!(load_balancers(&text), LOAD_BALANCERS);
    let ids = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-plb/\
               providers/Microsoft.Network/loadBalancers/web-lb";
    let header = prefix_frontend_left_out(ids, &format!("{ids}/outboundRules/web-out"));
    assert!(text.contains(&header), "{text}");
    checked(&text, ip("203.0.113.50"), ip("203.0.113.51"));

    let t = topology(&text);
    let [lb] = t.load_balancers.raw.as_slice() else {
        panic!("{:?}", t.load_balancers)
    };
    let frontends: Vec<(&str, IpAddr, bool)> = lb
        .frontends
        .iter()
        .map(|f| (f.name.as_str(), f.address, f.is_public()))
        .collect();
    assert_eq!(
        frontends,
        [
            ("out-fe", ip("203.0.113.51"), true),
            ("web-fe", ip("203.0.113.50"), true)
        ]
    );
    assert!(lb.rules[0].settings.disable_outbound_snat);
    let web1 = t.nic_by_name("web1").unwrap();
    let (l, way) = t.lb_egress(web1).unwrap();
    let way = t.load_balancers[l].outbound_way(way);
    assert_eq!(
        (way.name, way.frontends, way.ports_per_backend),
        ("web-out", vec![0], 1024)
    );
    assert_eq!(way.idle_timeout_minutes, 15);
    assert!(lb.outbound_rules[0].tcp_reset);
    let web3 = t.nic_by_name("web3").unwrap();
    assert_eq!(t.edge.nic_public_address(web3), Some(ip("203.0.113.52")));
}

/// The az dump of the same deployment gives the state's topology.
#[test]
fn the_az_dump_gives_the_states_topology() {
    let text = imported(&["import", "az", AZ_DIR]);
    let state = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    assert_eq!(without_comments(&text), without_comments(&state));
    assert_eq!(load_balancers(&text), LOAD_BALANCERS);
    let ids = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-plb/\
               providers/Microsoft.Network/loadBalancers/web-lb";
    let header = prefix_frontend_left_out(ids, &format!("{ids}/outboundRules/web-out"));
    assert!(text.contains(&header), "{text}");
    checked(&text, ip("203.0.113.50"), ip("203.0.113.51"));
}

/// Before apply the configuration knows no public address: vnetd gives
/// the public IPs its own (in the file's order, by name), and the load
/// balancer is the state's.
#[test]
fn the_configuration_gives_the_states_load_balancer() {
    let text = imported(&["import", "terraform", TERRAFORM_DIR]);
    assert_eq!(load_balancers(&text), LOAD_BALANCERS);
    assert!(
        text.contains(&prefix_frontend_left_out("main.tf:88", "main.tf:137")),
        "{text}"
    );
    let t = topology(&text);
    let pips: Vec<(&str, IpAddr)> = (t.edge.public_ips.iter())
        .map(|p| (p.name.as_str(), p.address))
        .collect();
    assert_eq!(
        pips,
        [
            ("out-pip", ip("198.51.100.1")),
            ("web-pip", ip("198.51.100.2")),
            ("web3-pip", ip("198.51.100.3"))
        ]
    );
    checked(&text, ip("198.51.100.2"), ip("198.51.100.1"));

    let state = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    let known_after_apply: String = without_comments(&state)
        .lines()
        .filter(|l| !l.starts_with("    ip_address: 203.0.113."))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(without_comments(&text), known_after_apply);
}

/// A rule of the dump naming a pool of another load balancer is refused
/// at the reference, with the file, line and path; a pool member that is
/// not a NIC of nics.json (a scale set's instance) is left out and listed.
#[test]
fn an_az_rule_naming_another_load_balancers_pool_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(AZ_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("load-balancers.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let pool = "loadBalancers/web-lb/backendAddressPools/webs";
    let vmss = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-plb/\
                providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0/\
                networkInterfaces/n/ipConfigurations/c";
    let member = "networkInterfaces/web1/ipConfigurations/ipconfig1\",\n            \
                  \"resourceGroup\": \"RG-PLB\"\n          },";
    assert!(text.contains(member), "{text}");
    let with_vmss = text.replacen(
        member,
        &format!("{member}\n          {{\"id\": \"{vmss}\"}},"),
        1,
    );
    std::fs::write(&path, &with_vmss).unwrap();
    let out = imported(&["import", "az", dir.path().to_str().unwrap()]);
    let note = format!(
        "#   azurerm_network_interface_backend_address_pool_association.`{vmss}` (not an IP \
         configuration of a NIC of nics.json) ({vmss}|"
    );
    assert!(out.contains(&note), "{out}");

    // The rule's `backendAddressPool`, the first reference to the pool
    // after the rule's start, named as another load balancer's.
    let rule_at = text.find("\n    \"loadBalancingRules\": [").unwrap();
    let at = rule_at + text[rule_at..].find(pool).unwrap();
    let other = format!(
        "{}loadBalancers/other-lb/backendAddressPools/webs{}",
        &text[..at],
        &text[at + pool.len()..]
    );
    std::fs::write(&path, &other).unwrap();
    let stderr = super::import_state::refused(&["import", "az", dir.path().to_str().unwrap()]);
    let line = other[..at].lines().count();
    let id = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/RG-PLB/\
              providers/Microsoft.Network/loadBalancers/other-lb/backendAddressPools/webs";
    assert_eq!(
        stderr,
        format!(
            "{}:{line}: [0].loadBalancingRules[0].backendAddressPool.id: `{id}` names no \
             backendAddressPools of load balancer `web-lb`\n",
            path.display()
        )
    );
}
