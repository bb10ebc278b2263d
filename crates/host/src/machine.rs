//! What this machine offers a lab, asked once before one is built: network
//! namespaces, TUN devices, BPF (for the kernel fast path) and `tc` (for
//! the rate caps the kernel applies). Each answer says what works without
//! it; the first two are needed at all.

use std::path::Path;
use std::process::{Command, Stdio};

/// One thing a lab may use, and whether the machine has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub what: &'static str,
    pub present: bool,
    /// Without it, no lab can be built.
    pub needed: bool,
    /// What works, or does not, without it.
    pub without: &'static str,
}

impl Offer {
    /// One line: `BPF: yes`, or `BPF: no (every packet takes ...)`.
    pub fn line(&self) -> String {
        match self.present {
            true => format!("{}: yes", self.what),
            false => format!("{}: no ({})", self.what, self.without),
        }
    }
}

/// What the machine offers, in the order a lab needs it.
pub fn offers() -> Vec<Offer> {
    let tc = Command::new("tc")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    vec![
        Offer {
            what: "network namespaces",
            present: Path::new("/proc/self/ns/net").exists(),
            needed: true,
            without: "no NIC can have a namespace: no lab can be built",
        },
        Offer {
            what: "TUN devices",
            present: Path::new("/dev/net/tun").exists(),
            needed: true,
            without: "/dev/net/tun is missing: no NIC can be attached",
        },
        Offer {
            what: "BPF",
            // Only a kernel with the bpf() system call has this file.
            present: Path::new("/proc/sys/kernel/bpf_stats_enabled").exists(),
            needed: false,
            without: "no kernel fast path: every packet takes the userspace path, with the same \
                      answers",
        },
        Offer {
            what: "tc",
            present: tc,
            needed: false,
            without: "the rate caps tc sets (a single-NIC VM size's, an ExpressRoute circuit's) \
                      cannot be set: iproute2 has it",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_offer_says_what_is_missing_and_what_works_without_it() {
        let offers = offers();
        let names: Vec<&str> = offers.iter().map(|o| o.what).collect();
        assert_eq!(names, ["network namespaces", "TUN devices", "BPF", "tc"]);
        let bpf = Offer {
            present: false,
            ..offers[2].clone()
        };
        assert!(bpf.line().starts_with("BPF: no (no kernel fast path"));
        assert_eq!(
            Offer {
                present: true,
                ..bpf
            }
            .line(),
            "BPF: yes"
        );
        // This machine builds labs: namespaces exist here.
        assert!(offers[0].present);
    }
}
