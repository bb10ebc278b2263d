//! The words every part of the Azure DNS engine shares: the question
//! types, the fixed suffix and TTLs Azure DNS answers with, a VM as it
//! names it, and how names are compared (lower case, no final dot, in a
//! domain or not).

use crate::topology::RecordType;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use hickory_proto::rr::RecordType as QueryType;

/// The suffix under which Azure DNS answers a VNet's VM names. Azure gives
/// each VNet its own (`<random>.<region>.internal.cloudapp.net`); vnetd
/// uses this one for every VNet, each VNet still answering only its own
/// VMs.
pub const INTERNAL_SUFFIX: &str = "internal.cloudapp.net";

/// TTL of the VM names Azure DNS answers and registers (seconds).
pub const VM_NAME_TTL: u32 = 10;

/// TTL of the public names vnetd answers for Private Link resources
/// (seconds): vnetd's own figure, Azure's public zones being outside the
/// lab.
pub const PUBLIC_NAME_TTL: u32 = 300;

/// The longest chain of CNAMEs followed for one question; one more is
/// SERVFAIL, as a resolver gives up on a chain it cannot finish.
pub const MAX_CNAME_STEPS: usize = 8;

/// A VM as Azure DNS names it: its name (lower case) and its primary NIC's
/// first addresses.
#[derive(Debug, Clone)]
pub(super) struct VmName {
    /// As the file writes it.
    pub(super) name: String,
    pub(super) v4: Option<Ipv4Addr>,
    pub(super) v6: Option<Ipv6Addr>,
}

/// `name` is `domain` or below it (both lower case, without the final
/// dot).
pub(super) fn in_domain(name: &str, domain: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

/// A question's name as the tables hold names: lower case, without the
/// final dot.
pub fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The question type of a record type a zone holds.
pub fn query_type(record_type: RecordType) -> QueryType {
    match record_type {
        RecordType::A => QueryType::A,
        RecordType::Aaaa => QueryType::AAAA,
        RecordType::Cname => QueryType::CNAME,
        RecordType::Mx => QueryType::MX,
        RecordType::Ptr => QueryType::PTR,
        RecordType::Srv => QueryType::SRV,
        RecordType::Txt => QueryType::TXT,
    }
}
