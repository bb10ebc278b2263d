//! Broken topology files are refused by `vnetd check` with exit code 1 and
//! a message that names the file, the line and the problem; none panics.
//! Each case is a real file on disk, checked through the real binary.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

struct Case {
    name: &'static str,
    yaml: &'static str,
    /// (line, words the message must contain) for each expected error.
    expect: &'static [(usize, &'static str)],
}

const BASE_VNET: &str = "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24]\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "yaml-syntax",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16\n",
            expect: &[(4, "YAML syntax")],
        },
        Case {
            name: "unknown-key",
            yaml: "vnets:\n  - name: hub\n    adress_space: [10.0.0.0/16]\n",
            expect: &[(3, "unknown key `adress_space`"), (2, "missing required key `address_space`")],
        },
        Case {
            name: "bad-cidr",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/33]\n",
            expect: &[(3, "`10.0.0.0/33` is not a valid CIDR")],
        },
        Case {
            name: "host-bits",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.1/16]\n",
            expect: &[(3, "host bits set")],
        },
        Case {
            name: "subnet-outside-vnet",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.1.0.0/24]\n",
            expect: &[(6, "outside the address space of VNet `hub`")],
        },
        Case {
            name: "overlapping-subnets",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24]\n      - name: b\n        address_prefixes: [10.0.1.128/25]\n",
            expect: &[(8, "overlaps 10.0.1.0/24 of subnet `a`")],
        },
        Case {
            name: "nic-outside-subnet",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24]\nnetwork_interfaces:\n  - name: vm\n    subnet: hub/a\n    private_ip_address: 10.0.2.4\n",
            expect: &[(10, "10.0.2.4 is outside subnet hub/a")],
        },
        Case {
            name: "nic-reserved-address",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24]\nnetwork_interfaces:\n  - name: vm\n    subnet: hub/a\n    private_ip_address: 10.0.1.255\n",
            expect: &[(10, "10.0.1.255 is one of the 5 addresses Azure reserves")],
        },
        Case {
            name: "peered-overlap",
            yaml: "vnets:\n  - name: va\n    address_space: [10.0.0.0/16]\n  - name: vb\n    address_space: [10.0.128.0/17]\npeerings:\n  - name: a-to-b\n    virtual_network: va\n    remote_virtual_network: vb\n",
            expect: &[(7, "address spaces overlap (10.0.0.0/16 and 10.0.128.0/17)")],
        },
        Case {
            name: "duplicate-priority",
            yaml: "network_security_groups:\n  - name: n\n    security_rules:\n      - {name: r1, priority: 100, direction: Inbound, access: Allow, protocol: Tcp, source_port_range: '*', destination_port_range: '80', source_address_prefix: '*', destination_address_prefix: '*'}\n      - {name: r2, priority: 100, direction: inbound, access: Deny, protocol: Udp, source_port_range: '*', destination_port_range: '53', source_address_prefix: '*', destination_address_prefix: '*'}\n",
            expect: &[(5, "priority 100 is already used by inbound rule `r1`")],
        },
        Case {
            name: "peering-next-hop",
            yaml: "route_tables:\n  - name: rt\n    routes:\n      - name: r\n        address_prefix: 10.2.0.0/16\n        next_hop_type: VNetPeering\n",
            expect: &[(6, "`VNetPeering` is not allowed in a user-defined route")],
        },
        Case {
            name: "interface-endpoint-next-hop",
            yaml: "route_tables:\n  - name: rt\n    routes:\n      - name: r\n        address_prefix: 10.0.3.4/32\n        next_hop_type: interfaceendpoint\n",
            expect: &[(6, "`interfaceendpoint` is not allowed in a user-defined route: Azure creates peering, connected-group, service-endpoint and private-endpoint routes itself")],
        },
        Case {
            name: "next-hop-ip-without-appliance",
            yaml: "route_tables:\n  - name: rt\n    routes:\n      - name: r\n        address_prefix: 10.2.0.0/16\n        next_hop_type: Internet\n        next_hop_in_ip_address: 10.0.1.4\n",
            expect: &[(7, "next_hop_in_ip_address is allowed only with VirtualAppliance")],
        },
        Case {
            name: "dangling-references",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24]\n        route_table: missing-rt\n        network_security_group: missing-nsg\nnetwork_interfaces:\n  - name: vm\n    subnet: hub/b\npeerings:\n  - name: p\n    virtual_network: hub\n    remote_virtual_network: nowhere\n",
            expect: &[
                (7, "no route table named `missing-rt`"),
                (8, "no network security group named `missing-nsg`"),
                (11, "VNet `hub` has no subnet named `b`"),
                (15, "no virtual network named `nowhere`"),
            ],
        },
        Case {
            name: "bad-enum-and-ports",
            yaml: "network_security_groups:\n  - name: n\n    security_rules:\n      - name: r\n        priority: 5000\n        direction: Sideways\n        access: Allow\n        protocol: Gre\n        source_port_range: '*'\n        destination_port_range: '70000'\n        source_address_prefix: Storage\n        destination_address_prefix: '*'\n",
            expect: &[
                (5, "5000 is out of range"),
                (6, "`Sideways` is not one of Inbound, Outbound"),
                (8, "`Gre` is not one of"),
                (10, "`70000` is not a port or port range"),
                (11, "`Storage` is not a valid address prefix"),
            ],
        },
        Case {
            name: "wrong-shapes",
            yaml: "vnets:\n  name: hub\npeerings: 3\n",
            expect: &[(2, "expected a list, found a mapping"), (3, "expected a list, found a scalar")],
        },
        Case {
            name: "ipv6-subnet-size-and-family",
            yaml: "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16, 'fd00::/48']\n    subnets:\n      - name: a\n        address_prefixes: [10.0.1.0/24, 'fd00:0:0:1::/80']\nroute_tables:\n  - name: rt\n    routes:\n      - name: r\n        address_prefix: 'fd00:9::/48'\n        next_hop_type: VirtualAppliance\n        next_hop_in_ip_address: 10.0.1.4\n",
            expect: &[(6, "IPv6 subnets in Azure must be exactly /64"), (10, "not of the same IP version")],
        },
        Case {
            // A "billion laughs": 9 levels of 9 aliases, 10^9 nodes once
            // expanded, in a few hundred bytes. The first anchor is refused.
            name: "alias-bomb",
            yaml: "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\nvnets: *i\n",
            expect: &[(1, "anchors (&name) are not accepted")],
        },
        Case {
            name: "alias",
            yaml: "vnets:\n  - name: hub\n    address_space: *space\n",
            expect: &[(3, "found unknown anchor")],
        },
        Case {
            name: "deep-nesting",
            yaml: Box::leak(format!("vnets:\n  {}x\n", "- ".repeat(200_000)).into_boxed_str()),
            expect: &[(2, "nest deeper than 64 levels")],
        },
        Case {
            name: "deep-flow-nesting",
            yaml: Box::leak(format!("vnets: {}\n", "[".repeat(200_000)).into_boxed_str()),
            expect: &[(1, "recursion limit exceeded")],
        },
        Case {
            name: "empty",
            yaml: "",
            expect: &[(1, "the topology is empty")],
        },
        Case {
            name: "comment-only",
            yaml: "# nothing here yet\n\n",
            expect: &[(1, "the topology is empty")],
        },
        Case {
            name: "empty-lists",
            yaml: "vnets: []\nnetwork_interfaces: []\n",
            expect: &[(1, "the topology is empty")],
        },
    ]
}

fn write_case(case: &Case) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vnetd-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.yaml", case.name));
    std::fs::write(&path, case.yaml).unwrap();
    path
}

#[test]
fn broken_files_are_refused_with_line_and_reason() {
    let all = cases();
    assert!(all.len() >= 10);
    for case in &all {
        let path = write_case(case);
        let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: exit code; stderr:\n{stderr}",
            case.name
        );
        assert!(
            !stderr.contains("panicked"),
            "{}: panicked:\n{stderr}",
            case.name
        );
        for (line, words) in case.expect {
            let prefix = format!("{}:{}: error: ", path.display(), line);
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains(words)),
                "{}: expected an error at line {line} containing {words:?}; got:\n{stderr}",
                case.name
            );
        }
        let count = case.expect.len();
        assert!(
            stderr.contains(&format!("refused, {count} error")),
            "{}: expected exactly {count} errors; got:\n{stderr}",
            case.name
        );
    }
}

#[test]
fn one_sided_peering_is_valid_with_a_warning() {
    let yaml = format!(
        "{BASE_VNET}  - name: spoke\n    address_space: [10.1.0.0/16]\npeerings:\n  - name: hub-to-spoke\n    virtual_network: hub\n    remote_virtual_network: spoke\n"
    );
    let case = Case {
        name: "one-sided",
        yaml: Box::leak(yaml.into_boxed_str()),
        expect: &[],
    };
    let path = write_case(&case);
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let prefix = format!(
        "{}:10: warning: peerings[hub-to-spoke]: peering is Initiated",
        path.display()
    );
    assert!(
        stderr.lines().any(|l| l.starts_with(&prefix)),
        "got:\n{stderr}"
    );
}

#[test]
fn arbitrary_text_never_panics() {
    // Truncations of a valid file exercise every partial shape the decoder
    // can meet.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/hub-spoke.yaml"
    ))
    .unwrap();
    for cut in (0..text.len()).step_by(7) {
        if !text.is_char_boundary(cut) {
            continue;
        }
        let _ = vnetd::topology::parse_str("cut.yaml", &text[..cut]);
    }
    for junk in [
        "- - -",
        "{",
        "vnets: [[[]]]",
        "vnets:\n - name: [1]\n",
        "\u{0}",
        "peerings:\n  - {}\n",
        "vnets: &a [*a]",
        "vnets: &a [*b]\nx: *a",
    ] {
        let _ = vnetd::topology::parse_str("junk.yaml", junk);
    }
}

/// `vnetd check` with a deadline: a reader that hangs (a FIFO with no
/// writer) is killed by `timeout`, which exits 124.
fn check_within_deadline(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("timeout")
        .arg("20")
        .arg(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn only_regular_files_of_bounded_size_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.yaml");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let random = dir.join("random.yaml");
    let _ = std::fs::remove_file(&random);
    std::os::unix::fs::symlink("/dev/urandom", &random).unwrap();
    // One byte over the limit, sparse: it is refused by its size, unread.
    let big = dir.join("big.yaml");
    std::fs::write(&big, "vnets: []\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(vnetd::topology::MAX_FILE_BYTES + 1)
        .unwrap();
    let too_large = format!(
        "bytes is larger than the {} bytes a topology may have",
        vnetd::topology::MAX_FILE_BYTES
    );
    let cases: [(&std::path::Path, &str); 5] = [
        (
            std::path::Path::new("/dev/zero"),
            "it is a character device, not a regular file",
        ),
        (&random, "it is a character device, not a regular file"),
        (&fifo, "it is a FIFO, not a regular file"),
        (&dir, "it is a directory, not a regular file"),
        (&big, too_large.as_str()),
    ];
    for (path, reason) in cases {
        let out = check_within_deadline(&[path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", path.display());
        let expected = format!("{}:0: error: cannot read the file: ", path.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&expected) && l.contains(reason)),
            "{}: expected {reason:?}; got:\n{stderr}",
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_topology_needs_allow_empty() {
    let case = Case {
        name: "empty-allowed",
        yaml: "# an empty lab, on purpose\n",
        expect: &[],
    };
    let path = write_case(&case);
    let out = check_within_deadline(&[path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let out = check_within_deadline(&[path.as_os_str(), "--allow-empty".as_ref()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains(": ok (0 VNets, 0 peering links, 0 NICs"),
        "{stdout}"
    );
}

/// A valid file naming one resource of every kind vnetd models; `{kind}`
/// placeholders are replaced by names under test.
const NAMED_TEMPLATE: &str = "\
vnets:
  - name: {vnet}
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - name: {subnet}
        address_prefixes: [10.0.1.0/24]
        network_security_group: {nsg}
        route_table: {rt}
  - name: other
    address_space: [10.1.0.0/16]
    location: West Europe
peerings:
  - name: {peering}
    virtual_network: {vnet}
    remote_virtual_network: other
  - name: back
    virtual_network: other
    remote_virtual_network: {vnet}
network_interfaces:
  - name: {nic}
    subnet: {vnet}/{subnet}
    private_ip_address: 10.0.1.4
    application_security_groups: [{asg}]
    netns: named-ns
route_tables:
  - name: {rt}
    routes:
      - name: {route}
        address_prefix: 10.9.0.0/16
        next_hop_type: None
network_security_groups:
  - name: {nsg}
    security_rules:
      - name: {rule}
        priority: 100
        direction: Inbound
        access: Allow
        protocol: Tcp
        source_port_range: '*'
        destination_port_range: '80'
        source_address_prefix: '*'
        destination_application_security_groups: [{asg}]
application_security_groups:
  - name: {asg}
";

/// (placeholder, kind in messages, shortest, longest) per resource, from
/// "Naming rules and restrictions for Azure resources" (Microsoft.Network),
/// learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules:
/// virtualNetworks 2-64, every other kind here 1-80; alphanumerics,
/// underscores, periods and hyphens; start with an alphanumeric, end with
/// an alphanumeric or an underscore.
const NAME_RULES: &[(&str, &str, usize, usize)] = &[
    ("vnet", "virtual network", 2, 64),
    ("subnet", "subnet", 1, 80),
    ("peering", "peering", 1, 80),
    ("nic", "network interface", 1, 80),
    ("rt", "route table", 1, 80),
    ("route", "route", 1, 80),
    ("nsg", "network security group", 1, 80),
    ("rule", "security rule", 1, 80),
    ("asg", "application security group", 1, 80),
];

fn named_file(bad_kind: &str, bad_name: &str) -> String {
    let mut text = NAMED_TEMPLATE.to_string();
    for (kind, ..) in NAME_RULES {
        let name = if *kind == bad_kind {
            bad_name.to_string()
        } else {
            format!("ok-{kind}")
        };
        text = text.replace(&format!("{{{kind}}}"), &name);
    }
    text
}

/// `vnetd check` on a file of this test's own (see the shared harness).
fn check_text(name: &str, text: &str) -> (Option<i32>, String, PathBuf) {
    common::broken_files::check("named", name, text)
}

#[test]
fn names_follow_azure_rules_per_resource_kind() {
    let (code, stderr, _) = check_text("names-ok", &named_file("", ""));
    assert_eq!(code, Some(0), "the template itself is valid: {stderr}");
    for (kind, words, min, max) in NAME_RULES {
        let longest = "a".repeat(*max);
        let (code, stderr, _) =
            check_text(&format!("name-{kind}-max"), &named_file(kind, &longest));
        assert_eq!(code, Some(0), "{kind}: {max} characters are fine: {stderr}");
        let cases = [
            (
                "a".repeat(max + 1),
                format!("{} characters, where Azure allows {min} to {max}", max + 1),
            ),
            ("web!".to_string(), "`!` is not allowed".to_string()),
            (
                "web-".to_string(),
                "it must end with a letter, digit or `_`".to_string(),
            ),
            (
                "_web".to_string(),
                "it must start with a letter or digit".to_string(),
            ),
        ];
        for (bad, reason) in cases {
            let text = named_file(kind, &bad);
            let line = text
                .lines()
                .position(|l| l.trim_start() == format!("- name: {bad}"))
                .unwrap()
                + 1;
            let (code, stderr, path) = check_text(&format!("name-{kind}"), &text);
            assert_eq!(code, Some(1), "{kind} `{bad}`: {stderr}");
            let expected = format!("{}:{line}: error: {}", path.display(), "");
            let message = format!("`{bad}` is not a valid {words} name: {reason}");
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with(&expected) && l.contains(&message)),
                "{kind} `{bad}`: expected line {line} and {message:?}; got:\n{stderr}"
            );
        }
    }
    // A one-letter VNet name is too short (2 to 64).
    let (code, stderr, _) = check_text("name-vnet-short", &named_file("vnet", "v"));
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "`v` is not a valid virtual network name: 1 characters, where Azure allows 2 to 64"
        ),
        "{stderr}"
    );
}

#[test]
fn locations_are_azure_regions_in_either_form() {
    // `az account list-locations` gives each region a name (westeurope)
    // and a display name (West Europe); both are accepted, and they are
    // one region: the peering between them is local, not global.
    let text = named_file("", "");
    let (code, stderr, path) = check_text("regions-ok", &text);
    assert_eq!(code, Some(0), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["routes", "--nic", "ok-nic", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&out.stdout);
    assert!(routes.contains("\"VNetPeering\""), "{routes}");
    assert!(!routes.contains("VNetGlobalPeering"), "{routes}");

    let bad = text.replace("location: West Europe", "location: westeuroop");
    let (code, stderr, path) = check_text("regions-bad", &bad);
    assert_eq!(code, Some(1));
    let expected = format!(
        "{}:12: error: vnets[other].location: `westeuroop` is not an Azure region; did you mean `westeurope`?",
        path.display()
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    let far = text.replace("location: West Europe", "location: Atlantis");
    let (code, stderr, _) = check_text("regions-far", &far);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("`Atlantis` is not an Azure region (see `az account list-locations`)"),
        "{stderr}"
    );
}

#[test]
fn a_rule_with_asgs_of_two_vnets_is_refused() {
    // "Application security groups" (learn.microsoft.com/azure/
    // virtual-network/application-security-groups): all ASGs of a rule,
    // source and destination, must be in the same virtual network.
    let text = named_file("", "").replace(
        "network_interfaces:\n",
        "network_interfaces:\n  - name: far\n    subnet: other/far\n    private_ip_address: 10.1.1.4\n    application_security_groups: [far-asg]\n",
    );
    let text = text
        .replace(
            "    location: West Europe\n",
            "    location: West Europe\n    subnets:\n      - name: far\n        address_prefixes: [10.1.1.0/24]\n",
        )
        .replace(
            "        source_address_prefix: '*'\n",
            "        source_application_security_groups: [far-asg]\n",
        )
        .replace(
            "application_security_groups:\n  - name: ok-asg\n",
            "application_security_groups:\n  - name: ok-asg\n  - name: far-asg\n",
        );
    let line = text
        .lines()
        .position(|l| l.contains("- name: ok-rule"))
        .unwrap()
        + 1;
    let (code, stderr, path) = check_text("asg-two-vnets", &text);
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "{}:{line}: error: network_security_groups[ok-nsg].security_rules[ok-rule]: application security groups `far-asg` (VNet `other`) and `ok-asg` (VNet `ok-vnet`) are in different VNets",
        path.display()
    );
    assert!(
        stderr.lines().any(|l| l.starts_with(&expected)),
        "expected {expected:?}; got:\n{stderr}"
    );
    assert!(stderr.contains("refused, 1 error"), "{stderr}");
}

#[test]
fn a_netns_prefix_is_checked_as_namespace_names_are() {
    let nic =
        "network_interfaces:\n  - name: vm1\n    subnet: hub/a\n    private_ip_address: 10.0.1.4\n";
    let file = |prefix: &str| format!("netns_prefix: '{prefix}'\n{BASE_VNET}{nic}");
    for (case, prefix) in [
        ("prefix-dot", ".lab-"),
        ("prefix-option", "-lab-"),
        ("prefix-space", "lab 1"),
        ("prefix-empty", ""),
        ("prefix-long", &"p".repeat(64)),
    ] {
        let (code, stderr, path) = check_text(case, &file(prefix));
        assert_eq!(code, Some(1), "{case}: {stderr}");
        let expected = format!(
            "{}:1: error: netns_prefix: `{prefix}` is not a usable namespace prefix: 1 to 63 \
             letters, digits, `_`, `.` or `-`, not starting with `.` or `-` (a namespace name, \
             prefix included, is at most 64)",
            path.display()
        );
        assert!(stderr.lines().any(|l| l == expected), "{case}: {stderr}");
    }
    // A prefix that fits, but not with the NIC's name after it: refused at
    // the NIC, which takes the namespace.
    let prefix = "p".repeat(62);
    let (code, stderr, path) = check_text("prefix-nic-long", &file(&prefix));
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "{}:9: error: network_interfaces[vm1].netns: `{prefix}vm1` (`netns_prefix` and the name) \
         is not a usable namespace name: 1 to 64 letters, digits, `_`, `.` or `-`, not starting \
         with `.` or `-`",
        path.display()
    );
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    // Within the limit, the file is valid.
    let (code, stderr, _) = check_text("prefix-ok", &file(&"p".repeat(60)));
    assert_eq!(code, Some(0), "{stderr}");
}
