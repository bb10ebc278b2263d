//! Broken load balancers are refused by `vnetd check` with exit code 1 and
//! exact messages naming the file, the line, the key and the problem; none
//! panics. Each case is `tests/golden/40-ilb-ha-ports.yaml` with one change,
//! checked through the real binary, so every other line of the file stays
//! valid and each refusal stands alone (no cascade).

use crate::common;

use common::broken_files::{check, Case};
use std::process::Command;

/// The directory of this test's files under the system's temporary one.
const TAG: &str = "lb";

const BASE: &str = include_str!("../golden/40-ilb-ha-ports.yaml");

#[allow(
    clippy::too_many_lines,
    reason = "the table of broken files, one case each"
)]
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "frontend-outside-its-subnet",
            edits: &[(
                "subnet: hub/nva, private_ip_address: 10.0.1.100",
                "subnet: hub/nva, private_ip_address: 10.0.3.100",
            )],
            expect: &[(
                "private_ip_address: 10.0.3.100",
                "load_balancers[nva-ilb].frontend_ip_configurations[fe].private_ip_address: \
                 10.0.3.100 is outside subnet hub/nva (10.0.1.0/24)",
            )],
        },
        Case {
            name: "frontend-on-a-reserved-address",
            edits: &[(
                "subnet: hub/web, private_ip_address: 10.0.2.100",
                "subnet: hub/web, private_ip_address: 10.0.2.255",
            )],
            expect: &[(
                "private_ip_address: 10.0.2.255",
                "load_balancers[web-ilb].frontend_ip_configurations[fe].private_ip_address: \
                 10.0.2.255 is one of the 5 addresses Azure reserves in every subnet (network, \
                 .1 gateway, .2 and .3 DNS, broadcast) of 10.0.2.0/24",
            )],
        },
        Case {
            name: "frontend-address-taken-by-a-nic",
            edits: &[(
                "subnet: hub/web, private_ip_address: 10.0.2.100",
                "subnet: hub/web, private_ip_address: 10.0.2.5",
            )],
            expect: &[(
                "{name: fe, subnet: hub/web",
                "load_balancers[web-ilb].frontend_ip_configurations[fe].private_ip_address: \
                 10.0.2.5 is already used by NIC `web2` in the same VNet",
            )],
        },
        Case {
            name: "frontend-address-taken-by-another-frontend",
            edits: &[(
                "subnet: hub/web, private_ip_address: 10.0.2.100",
                "subnet: hub/nva, private_ip_address: 10.0.1.100",
            )],
            expect: &[(
                "- {name: fe, subnet: hub/nva, private_ip_address: 10.0.1.100}\n    backend_address_pools:\n      - {name: web,",
                "load_balancers[web-ilb].frontend_ip_configurations[fe].private_ip_address: \
                 10.0.1.100 is already used by frontend `fe` of load balancer `nva-ilb` in the \
                 same VNet",
            )],
        },
        Case {
            name: "frontend-in-gateway-subnet",
            edits: &[
                (
                    "        address_prefixes: [10.0.2.0/24]\n",
                    "        address_prefixes: [10.0.2.0/24]\n      - name: GatewaySubnet\n        address_prefixes: [10.0.255.0/27]\n",
                ),
                (
                    "subnet: hub/web, private_ip_address: 10.0.2.100",
                    "subnet: hub/GatewaySubnet, private_ip_address: 10.0.255.10",
                ),
            ],
            expect: &[(
                "subnet: hub/GatewaySubnet",
                "load_balancers[web-ilb].frontend_ip_configurations[fe].subnet: \
                 hub/GatewaySubnet is reserved for virtual network gateways: no load balancer \
                 frontend may be placed in it",
            )],
        },
        Case {
            name: "backend-in-another-vnet",
            edits: &[("network_interfaces: [nva1, nva2]", "network_interfaces: [nva1, vm1]")],
            expect: &[(
                "network_interfaces: [nva1, vm1]",
                "load_balancers[nva-ilb].backend_address_pools[nvas].network_interfaces[1]: NIC \
                 `vm1` is in VNet `spoke1`, but load balancer `nva-ilb` is in VNet `hub`: a \
                 backend must be in its load balancer's VNet",
            )],
        },
        Case {
            name: "backend-nic-misspelt",
            edits: &[("network_interfaces: [web1, web2]", "network_interfaces: [web1, wbe2]")],
            expect: &[(
                "network_interfaces: [web1, wbe2]",
                "load_balancers[web-ilb].backend_address_pools[web].network_interfaces[1]: no \
                 network interface named `wbe2` in this file; did you mean `web2`?",
            )],
        },
        Case {
            name: "rule-names-a-missing-probe",
            edits: &[("probe: ssh,", "probe: shh,")],
            expect: &[(
                "probe: shh,",
                "load_balancers[nva-ilb].rules[ha-ports].probe: load balancer `nva-ilb` has no \
                 probe named `shh`; did you mean `ssh`?",
            )],
        },
        Case {
            name: "rule-names-a-missing-pool",
            edits: &[("backend_address_pool: web,", "backend_address_pool: webs,")],
            expect: &[(
                "backend_address_pool: webs,",
                "load_balancers[web-ilb].rules[http].backend_address_pool: load balancer \
                 `web-ilb` has no backend address pool named `webs`; did you mean `web`?",
            )],
        },
        Case {
            name: "ha-ports-with-non-zero-ports",
            edits: &[(
                "protocol: All, frontend_port: 0, backend_port: 0",
                "protocol: All, frontend_port: 0, backend_port: 22",
            )],
            expect: &[(
                "backend_port: 22",
                "load_balancers[nva-ilb].rules[ha-ports].backend_port: HA ports (protocol All) \
                 take frontend_port 0 and backend_port 0, not 22",
            )],
        },
        Case {
            name: "two-rules-with-the-same-frontend-and-port",
            edits: &[(
                "protocol: Tcp, frontend_port: 80, backend_port: 80}\n",
                "protocol: Tcp, frontend_port: 80, backend_port: 80}\n      - {name: http-alt, frontend_ip_configuration: fe, backend_address_pool: web, protocol: Tcp, frontend_port: 80, backend_port: 8080}\n",
            )],
            expect: &[(
                "name: http-alt",
                "load_balancers[web-ilb].rules[http-alt]: rule `http-alt` repeats frontend `fe`, \
                 protocol Tcp and port 80 of rule `http`: a frontend has one rule per protocol \
                 and port",
            )],
        },
        Case {
            name: "ha-ports-beside-a-rule-without-floating-ip",
            edits: &[(
                "idle_timeout_in_minutes: 4}\n",
                "idle_timeout_in_minutes: 4}\n      - {name: ssh-direct, frontend_ip_configuration: fe, backend_address_pool: nvas, protocol: Tcp, frontend_port: 2222, backend_port: 22, floating_ip_enabled: true}\n",
            )],
            expect: &[(
                "name: ssh-direct",
                "load_balancers[nva-ilb].rules[ssh-direct]: rule `ssh-direct` shares frontend \
                 `fe` with HA-ports rule `ha-ports`: both need floating IP for that",
            )],
        },
        Case {
            name: "floating-ip-under-both-names-disagreeing",
            edits: &[(
                "floating_ip_enabled: false,",
                "floating_ip_enabled: false, enable_floating_ip: true,",
            )],
            expect: &[(
                "enable_floating_ip: true",
                "load_balancers[nva-ilb].rules[ha-ports].enable_floating_ip: \
                 `floating_ip_enabled` and `enable_floating_ip` are the same setting and they \
                 disagree (false and true): give one",
            )],
        },
        Case {
            name: "basic-sku",
            edits: &[("sku: Standard", "sku: Basic")],
            expect: &[(
                "sku: Basic",
                "load_balancers[nva-ilb].sku: Basic load balancers were retired on 2025-09-30; \
                 vnetd emulates Standard ones",
            )],
        },
        Case {
            name: "http-probe-without-request-path",
            edits: &[(", request_path: /}", "}")],
            expect: &[(
                "{name: http, protocol: Http, port: 80}",
                "load_balancers[web-ilb].probes[http].request_path: an Http probe needs \
                 `request_path`, the path it requests (such as /)",
            )],
        },
        Case {
            name: "probe-interval-below-5",
            edits: &[("interval_in_seconds: 5", "interval_in_seconds: 4")],
            expect: &[(
                "interval_in_seconds: 4",
                "load_balancers[nva-ilb].probes[ssh].interval_in_seconds: 4 is out of range: \
                 Azure probes every 5 seconds or more",
            )],
        },
        Case {
            name: "duplicate-load-balancer-name",
            edits: &[("- name: web-ilb", "- name: NVA-ilb")],
            expect: &[(
                "- name: NVA-ilb",
                "load_balancers[NVA-ilb]: duplicate load balancer name `NVA-ilb`",
            )],
        },
        Case {
            name: "prober-port-name-taken-by-a-nic",
            edits: &[("{name: vm1,", "{name: probe-hub,")],
            expect: &[(
                "- name: nva-ilb",
                "network_interfaces[probe-hub]: vnetd names a port of the fabric `probe-hub`, \
                 which is already a NIC's name",
            )],
        },
    ]
}

#[test]
fn the_base_lab_itself_is_valid() {
    let (code, stderr, path) = check(TAG, "unchanged", BASE);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.is_empty(), "warnings: {stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.ends_with(", 6 NICs, 2 route tables, 0 NSGs, 2 load balancers)\n"),
        "{stdout}"
    );
}

#[test]
fn broken_load_balancers_are_refused_with_line_and_reason() {
    let all = cases();
    assert!(all.len() >= 9);
    for case in &all {
        let text = case.edited(BASE);
        let (code, stderr, path) = check(TAG, case.name, &text);
        assert_eq!(code, Some(1), "{}: exit code; stderr:\n{stderr}", case.name);
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked:\n{stderr}",
            case.name
        );
        for (needle, message) in case.expect {
            let start = text
                .find(needle)
                .unwrap_or_else(|| panic!("{}: `{needle}` not in the edited file", case.name));
            let line = text[..start].matches('\n').count() + 1;
            let want = format!("{}:{line}: error: {message}", path.display());
            assert!(
                stderr.lines().any(|l| l == want),
                "{}: expected the line\n{want}\ngot:\n{stderr}",
                case.name
            );
        }
        let count = case.expect.len();
        let suffix = if count == 1 { "error" } else { "errors" };
        assert!(
            stderr.contains(&format!("refused, {count} {suffix}")),
            "{}: expected exactly {count} errors; got:\n{stderr}",
            case.name
        );
    }
}
