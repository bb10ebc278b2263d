//! The fuzz targets' seeds, replayed through the targets' own checks
//! (`fuzz/checks.rs`) on every `cargo test`: packets in
//! `fuzz/seeds/decide_packet/`, `fuzz/seeds/balance_packet/` and
//! `fuzz/seeds/coalesce_udp/`, DNS queries in `fuzz/seeds/answer_dns/`,
//! topology files in `config/` and
//! `fuzz/seeds/parse_topology/` (alias bombs, deep nesting, odd scalars).

#[allow(dead_code)]
#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn packet_seeds_keep_the_invariants() {
    let seeds = files("fuzz/seeds/decide_packet");
    assert!(seeds.len() >= 15, "{} seeds", seeds.len());
    for (name, data) in seeds {
        eprintln!("{name}");
        checks::decide_packet(&data);
    }
}

#[test]
fn load_balancer_seeds_keep_the_invariants() {
    let seeds = files("fuzz/seeds/balance_packet");
    assert!(seeds.len() >= 9, "{} seeds", seeds.len());
    for (name, data) in seeds {
        eprintln!("{name}");
        checks::balance_packet(&data);
    }
}

#[test]
fn topology_seeds_keep_the_invariants() {
    let mut seeds = files("config");
    seeds.extend(files("fuzz/seeds/parse_topology"));
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    for (name, data) in seeds {
        eprintln!("{name}");
        checks::parse_topology(&data);
    }
}

#[test]
fn coalescer_seeds_keep_the_invariants() {
    let seeds = files("fuzz/seeds/coalesce_udp");
    assert!(seeds.len() >= 4, "{} seeds", seeds.len());
    for (name, data) in seeds {
        eprintln!("{name}");
        checks::coalesce_udp(&data);
    }
}

#[test]
fn dns_seeds_keep_the_invariants() {
    let seeds = files("fuzz/seeds/answer_dns");
    assert!(seeds.len() >= 8, "{} seeds", seeds.len());
    for (name, data) in seeds {
        eprintln!("{name}");
        checks::answer_dns(&data);
    }
}
