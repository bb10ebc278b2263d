//! Hostile values through the writer of every file vnetd generates,
//! judged by the program that reads the file (needs root: the DNS servers
//! run in a namespace of the test's own, `vnetdt-<pid>-hostile-*`,
//! removed by a guard).
//!
//! Values are made of pieces hostile to one grammar or another (quotes,
//! backslashes, newlines, NUL, braces, semicolons, `include:`, `$INCLUDE`,
//! a `pidfile:` line, long and Unicode strings), and each goes the way a
//! topology file's value goes:
//!
//! - a TXT value of a `dns_server` zone, through the file's checks, the
//!   daemon's spec and the writers, to a real unbound and a real BIND 9,
//!   each started only once its package's checker (`unbound-checkconf`,
//!   `named-checkconf -z`) accepted the files: `dig` gets back exactly the
//!   value, cut where RFC 1035 and Azure cut it, and no file appears
//!   outside the server's directory;
//! - a record's name: the file's checks refuse it, or every writer takes
//!   it;
//! - a namespace name as the lab's paths and command lines carry it: the
//!   file's checks refuse it, or every writer takes it; and BIRD's writer
//!   refuses a path, or `bird -p` accepts the configuration that holds it;
//! - gobgpd's TOML strings: `gobgpd --dry-run` accepts a configuration
//!   naming a prefix set so, and Python's `tomllib` reads back exactly the
//!   name; a generated speaker's configuration passes `gobgpd --dry-run`;
//! - FRR: generated routers' configurations pass `vtysh --dryrun` (its
//!   configuration holds no string of the file);
//! - nftables: an interface name is refused by the writer, or `nft -c`
//!   accepts the ruleset that holds it.

use crate::common;
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use vnetd::daemon::answering::dns_servers::spec_of;
use vnetd::host::config_text::{self, dns::split_strings};
use vnetd::host::dns_server::{DnsServer, DnsSoftware};
use vnetd::host::netns;
use vnetd::host::routing::gobgp::NotHandedOn;
use vnetd::host::routing::{GobgpNeighbor, GobgpSpec};

/// Pieces of values, each hostile to some grammar vnetd writes.
const HOSTILE: &[&str] = &[
    "'",
    "\"",
    "\\",
    "\n",
    "\r",
    "\t",
    "\0",
    "{",
    "}",
    ";",
    "#",
    "(",
    ")",
    "$",
    "@",
    ".",
    " ",
    "include: \"/etc/shadow\"",
    "$INCLUDE /etc/shadow",
    "\npidfile: \"/tmp/vnetd-hostile-pid\"\n",
    "'\nlocal-zone: \"evil.\" redirect\nlocal-data: 'evil. A 6.6.6.6",
    "\";\ninclude \"/etc/shadow\";\n",
    "\\065",
    "\\\"",
    "é",
    "中文",
    "🦀",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
];

/// A file no writer may make: a `pidfile:` a value tries to smuggle in.
const SMUGGLED: &str = "/tmp/vnetd-hostile-pid";

/// A value of hostile pieces and printable or any characters; or a long
/// one, of one or two bytes a character (cut at 255 bytes).
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(HOSTILE).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        4 => prop::collection::vec(piece, 0..24).prop_map(|p| p.concat()),
        1 => (250usize..=1024).prop_map(|n| "y".repeat(n)),
        1 => (100usize..=512).prop_map(|n| "é".repeat(n)),
    ]
    .prop_filter("Azure takes TXT values of up to 1,024 bytes", |t| {
        t.len() <= 1024
    })
}

/// `text` as a YAML double-quoted scalar: `"` and `\` escaped, and every
/// character outside YAML's printable set as `\uXXXX` or `\UXXXXXXXX`.
fn yaml_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        let printable = matches!(c, ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
            && c != '\u{feff}';
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if printable => out.push(c),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// A lab of one VM, `dc1`, whose DNS server holds `corp.example` with one
/// TXT record set `t<i>` per value.
fn lab_with_txt(software: &str, values: &[String]) -> String {
    let mut text = format!(
        "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        \
         address_prefixes: [10.0.1.0/24]\nnetwork_interfaces:\n  - name: dc1\n    subnet: hub/a\n    \
         private_ip_address: 10.0.1.4\n    dns_server:\n      software: {software}\n      zones:\n        \
         - name: corp.example\n          records:\n"
    );
    for (i, value) in values.iter().enumerate() {
        text.push_str(&format!(
            "            - {{name: t{i}, type: TXT, ttl: 60, records: [{}]}}\n",
            yaml_quoted(value)
        ));
    }
    text
}

/// A namespace of the test's own, with its loopback up; removed when
/// dropped.
struct Namespace(String);

impl Namespace {
    fn new(tag: &str) -> Namespace {
        let name = format!("vnetdt-{}-hostile-{tag}", std::process::id());
        let _ = netns::delete(&name);
        netns::create(&name).expect("creating the namespace");
        let ns = Namespace(name);
        vnetd::host::netlink::set_link_up(&ns.0, "lo").expect("lo up");
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

/// The character-strings of `dig +short`'s one line for a TXT record, as
/// bytes: each quoted string read back from dig's escapes.
fn dig_strings(line: &str) -> Vec<Vec<u8>> {
    let bytes = line.trim().as_bytes();
    let mut strings = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        assert_eq!(
            bytes[i], b'"',
            "not a quoted string at byte {i} of {line:?}"
        );
        let mut j = i + 1;
        while bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let token = std::str::from_utf8(&bytes[i..=j]).expect("dig writes ASCII");
        strings.push(config_text::dns::unquote_string(token).expect("dig's quoting"));
        i = j + 1;
    }
    strings
}

/// Loads the lab of `values`, starts its DNS server in a namespace of the
/// test's own (the spec the daemon would give it), and asks it each value.
fn served_exactly(software: DnsSoftware, values: &[String]) {
    common::require_root();
    let tag = match software {
        DnsSoftware::Unbound => "unbound",
        DnsSoftware::Bind => "bind",
    };
    let text = lab_with_txt(tag, values);
    let loaded = vnetd::plan::parse_str("hostile.yaml", &text)
        .unwrap_or_else(|d| panic!("values of up to 1,024 bytes are Azure's: {d:?}\n{text}"));
    let nic = (loaded.topology.nics.iter())
        .find(|n| n.name == "dc1")
        .expect("dc1");
    let ns = Namespace::new(tag);
    let spec = spec_of(&ns.0, nic.dns_server.as_ref().expect("its DNS server"))
        .expect("the writers take what the file's checks took");
    let run_dir = spec.run_dir.clone();
    let _ = std::fs::remove_file(SMUGGLED);
    // Started only once the package's checker accepted the files.
    let server = DnsServer::start(spec).expect("the server starts and answers its zone");
    for (i, value) in values.iter().enumerate() {
        let name = format!("t{i}.corp.example");
        let out = common::stdout_in(
            &ns.0,
            &[
                "dig",
                "@127.0.0.1",
                "+short",
                "+time=2",
                "+tries=3",
                "TXT",
                &name,
            ],
        );
        let expected: Vec<Vec<u8>> = split_strings(value)
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(
            dig_strings(&out),
            expected,
            "{tag}: {name} holds {value:?}; dig said {out:?}"
        );
    }
    assert!(!Path::new(SMUGGLED).exists(), "{tag} wrote {SMUGGLED}");
    let mut held: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    held.sort();
    let expected: &[&str] = match software {
        DnsSoftware::Unbound => &["unbound.conf"],
        DnsSoftware::Bind => &["corp.example.zone", "named.conf", "work"],
    };
    assert_eq!(held, expected, "{tag}'s directory {}", run_dir.display());
    drop(server);
    assert!(!run_dir.exists(), "{} is left", run_dir.display());
}

proptest! {
    // Each case starts a real server: few cases, many values each.
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn unbound_answers_every_txt_value_exactly(values in prop::collection::vec(hostile_text(), 1..10)) {
        served_exactly(DnsSoftware::Unbound, &values);
    }

    #[test]
    fn bind_answers_every_txt_value_exactly(values in prop::collection::vec(hostile_text(), 1..10)) {
        served_exactly(DnsSoftware::Bind, &values);
    }
}

/// The values the issue of a hostile file named: a quote that ended
/// unbound's `local-data` line, a newline that made BIND refuse the zone,
/// and one of 1,024 characters; each held exactly by both servers.
#[test]
fn the_named_hostile_values_are_held_exactly() {
    let values = vec![
        "x' \n include: \"/etc/shadow\"".to_string(),
        "x' include: \"/etc/shadow\"".to_string(),
        "k".repeat(1024),
    ];
    served_exactly(DnsSoftware::Unbound, &values);
    served_exactly(DnsSoftware::Bind, &values);
}

/// A TXT value longer than Azure's 1,024 bytes is refused at its line,
/// with the reason; one with a newline is taken, with a warning at its
/// line.
#[test]
fn an_over_long_value_is_refused_and_a_newline_warned_at_its_line() {
    let text = lab_with_txt("bind", &["k".repeat(1025), "a\nb".to_string()]);
    let refused = vnetd::plan::parse_str("hostile.yaml", &text).unwrap_err();
    let line = common::broken_files::line_of(&text, "t0,", "over-long");
    assert!(
        refused
            .iter()
            .any(|d| d.line == line
                && d.message == "a TXT value is at most 1024 characters in Azure"),
        "{refused:?}"
    );
    let text = lab_with_txt("bind", &["a\nb".to_string()]);
    let loaded = vnetd::plan::parse_str("hostile.yaml", &text).expect("Azure takes it");
    let line = common::broken_files::line_of(&text, "t0,", "newline");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|d| d.line == line && d.message.contains("control character ('\\n' at byte 1)")),
        "{:?}",
        loaded.warnings
    );
}

/// A lab whose dc1 serves `corp.example` with one A record named `owner`.
fn lab_with_owner(owner: &str) -> String {
    format!(
        "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets:\n      - name: a\n        \
         address_prefixes: [10.0.1.0/24]\nnetwork_interfaces:\n  - name: dc1\n    subnet: hub/a\n    \
         private_ip_address: 10.0.1.4\n    dns_server:\n      software: unbound\n      zones:\n        \
         - name: corp.example\n          records:\n            - {{name: {}, type: A, records: [10.0.1.9]}}\n",
        yaml_quoted(owner)
    )
}

/// Names made of labels and hostile pieces.
fn hostile_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-z0-9_-]{1,12}",
        1 => Just(".".to_string()),
        1 => prop::sample::select(HOSTILE).prop_map(str::to_owned),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 1..10).prop_map(|p| p.concat())
}

/// Namespace names made of plain characters and hostile pieces.
fn hostile_netns() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[A-Za-z0-9_.-]{1,10}",
        1 => prop::sample::select(HOSTILE).prop_map(str::to_owned),
        1 => Just("-".to_string()),
        1 => Just("/".to_string()),
    ];
    prop::collection::vec(piece, 1..6).prop_map(|p| p.concat())
}

/// A BIRD router whose run directory ends in `name`.
fn bird_spec(
    name: &str,
    asn: u32,
    announce: Vec<ipnet::Ipv4Net>,
) -> vnetd::host::routing::BgpRouterSpec {
    vnetd::host::routing::BgpRouterSpec {
        netns: "r1".into(),
        asn,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        announce,
        neighbors: vec![vnetd::host::routing::BgpNeighbor {
            address: Ipv4Addr::new(10, 0, 0, 2),
            asn: 65515,
            local_address: Some(Ipv4Addr::new(10, 0, 0, 1)),
            multihop: true,
            pass_on: false,
        }],
        install_learned: true,
        run_dir: PathBuf::from("/run/vnetd-bgp").join(name),
    }
}

/// Runs `program ARGS`; its exit status and what it said.
fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// A file of the test's own, written with `text`.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vnetdt-{}-writers", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn any_prefix() -> impl Strategy<Value = ipnet::Ipv4Net> {
    (any::<u32>(), 8u8..=32)
        .prop_map(|(a, len)| ipnet::Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// A record name the file's checks take, every writer takes: nothing
    /// passes `check` to fail when the lab runs.
    #[test]
    fn a_record_name_is_refused_by_check_or_taken_by_every_writer(owner in hostile_name()) {
        let text = lab_with_owner(&owner);
        let Ok(loaded) = vnetd::plan::parse_str("hostile.yaml", &text) else {
            return Ok(());
        };
        let nic = loaded.topology.nics.iter().find(|n| n.name == "dc1").unwrap();
        let config = nic.dns_server.as_ref().unwrap();
        let spec = spec_of("dc1", config).expect("the writers take what check took");
        prop_assert!(vnetd::host::dns_server::unbound::config(&spec).is_ok());
        prop_assert!(vnetd::host::dns_server::named::files(&spec).is_ok());
    }

    /// A namespace name the file's checks take, every writer that carries
    /// a namespace's name (a path in a configuration, an operand of `ip
    /// netns exec`) takes.
    #[test]
    fn a_namespace_name_is_refused_by_check_or_taken_by_every_writer(name in hostile_netns()) {
        if !vnetd::topology::resolve::valid_netns(&name) {
            return Ok(());
        }
        let path = format!("/run/vnetd-dns/{name}");
        prop_assert!(config_text::argv::operand(&name).is_ok());
        prop_assert!(config_text::unbound::string(&path).is_ok());
        prop_assert!(config_text::named::string(&path).is_ok());
        prop_assert!(config_text::bird::string(&path).is_ok());
    }

    /// BIRD's writer refuses a path its strings cannot hold, or `bird -p`
    /// accepts the configuration that holds it.
    #[test]
    fn bird_parses_every_path_its_writer_takes(
        name in hostile_netns(),
        asn in 1u32..=4_294_967_294,
        announce in prop::collection::vec(any_prefix(), 0..4),
    ) {
        let spec = bird_spec(&name, asn, announce);
        match vnetd::host::routing::bird::config(&spec) {
            Err(_) => prop_assert!(name.contains(['"', '\n', '\r', '\0']) || name.chars().any(char::is_control)),
            Ok(text) => {
                let file = scratch("bird.conf", &text);
                let (ok, said) = run("bird", &["-p", "-c", &file.display().to_string()]);
                prop_assert!(ok, "bird -p refused {name:?}: {said}\n{text}");
            }
        }
    }

    /// A TOML string of any value reads back exactly (Python's
    /// `tomllib`), and gobgpd takes a prefix set named so.
    #[test]
    fn gobgpd_takes_every_toml_string(name in hostile_text().prop_filter("short", |t| t.len() < 200)) {
        let quoted = config_text::toml::string(&name);
        let text = format!(
            "[global.config]\n  as = 65001\n  router-id = \"10.0.0.1\"\n\
             [[defined-sets.prefix-sets]]\n  prefix-set-name = {quoted}\n  \
             [[defined-sets.prefix-sets.prefix-list]]\n    ip-prefix = \"10.0.0.0/8\"\n    \
             masklength-range = \"8..32\"\n"
        );
        let file = scratch("gobgpd.toml", &text);
        let (ok, said) = run("gobgpd", &["-d", "-t", "toml", "-f", &file.display().to_string()]);
        prop_assert!(ok, "gobgpd refused {name:?}: {said}");
        let read = "import sys, tomllib; sys.stdout.buffer.write(tomllib.load(open(sys.argv[1], 'rb'))\
                    ['defined-sets']['prefix-sets'][0]['prefix-set-name'].encode('utf-8', 'surrogatepass'))";
        let out = Command::new("python3").args(["-c", read, &file.display().to_string()]).output().unwrap();
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        prop_assert_eq!(out.stdout, name.as_bytes());
    }

    /// FRR's configuration holds only typed values: every generated
    /// router's passes `vtysh --dryrun`.
    #[test]
    fn frr_parses_every_generated_router(
        asn in 1u32..=4_294_967_294,
        announce in prop::collection::vec(any_prefix(), 0..4),
        install in any::<bool>(),
    ) {
        let mut spec = bird_spec("frr", asn, announce);
        spec.install_learned = install;
        let file = scratch("bgpd.conf", &vnetd::host::routing::frr::bgpd_config(&spec));
        let (ok, said) = run("vtysh", &["--dryrun", "-f", &file.display().to_string()]);
        prop_assert!(ok, "vtysh --dryrun refused: {said}");
    }

    /// nftables' writer refuses an interface name, or `nft -c` accepts
    /// the ruleset that holds it.
    #[test]
    fn nft_parses_every_interface_name_its_writer_takes(name in hostile_netns()) {
        common::require_root();
        let except: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        match vnetd::host::nat::masquerade_ruleset(&name, &except, &Default::default()) {
            Err(_) => prop_assert!(
                name.len() > 15 || name.contains(['"', '/', ' ']) || !name.is_ascii() || name.chars().any(|c| c.is_control())
            ),
            Ok(ruleset) => {
                let file = scratch("ruleset.nft", &ruleset);
                let (ok, said) = run("nft", &["-c", "-f", &file.display().to_string()]);
                prop_assert!(ok, "nft -c refused {name:?}: {said}\n{ruleset}");
            }
        }
    }
}

/// A gobgpd speaker of generated neighbours and policies.
fn gobgp_spec() -> impl Strategy<Value = GobgpSpec> {
    let neighbor = (any::<u32>(), 1u32..=4_294_967_294, any::<[bool; 4]>()).prop_map(
        |(address, asn, [multihop, remove, next_hop_self, reflect])| GobgpNeighbor {
            remove_private_as: remove,
            next_hop_self,
            route_reflector_client: reflect,
            ..GobgpNeighbor::new(Ipv4Addr::from(address), asn, multihop)
        },
    );
    let prefixes = || prop::collection::vec(any_prefix(), 0..3);
    (
        1u32..=4_294_967_294,
        prop::collection::vec(neighbor, 1..4),
        (prefixes(), prefixes(), prefixes()),
        any::<bool>(),
        prop::collection::vec((any::<u32>(), prefixes()), 0..3),
    )
        .prop_map(
            |(asn, neighbors, (exact, within, deny), pass_on, withheld)| GobgpSpec {
                netns: "rs1".into(),
                asn,
                router_id: Ipv4Addr::new(10, 0, 0, 1),
                local_address: Ipv4Addr::new(10, 0, 0, 1),
                not_handed_on: Some(NotHandedOn {
                    to: neighbors.iter().map(|n| n.address).collect(),
                    next_hops: vec![Ipv4Addr::new(10, 0, 0, 9)],
                }),
                neighbors,
                keepalive_secs: 60,
                hold_secs: 180,
                connect_retry_secs: 2,
                max_prefixes: 1000,
                reject_exact: exact,
                reject_within: within,
                export_deny_overlapping: deny,
                pass_on_learned: pass_on,
                withheld: withheld
                    .into_iter()
                    .map(|(a, p)| (Ipv4Addr::from(a), p))
                    .collect(),
                run_dir: "/run/vnetd-bgp/rs1".into(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// The configuration of a generated speaker passes
    /// `gobgpd --dry-run`.
    #[test]
    fn gobgpd_parses_every_generated_speaker(spec in gobgp_spec()) {
        let text = vnetd::host::routing::gobgp::config(&spec);
        let file = scratch("speaker.toml", &text);
        let (ok, said) = run("gobgpd", &["-d", "-t", "toml", "-f", &file.display().to_string()]);
        prop_assert!(ok, "gobgpd refused: {said}\n{text}");
    }
}
