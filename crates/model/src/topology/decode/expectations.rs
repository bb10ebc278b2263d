//! Decoding `expectations`, in their two forms:
//!
//! - a conversation: `{name, from, to, protocol, port, result, via,
//!   reason}`, `to` an address or a name (a NIC's, a host's, or a DNS
//!   name), `result` Allow or Deny;
//! - a name's answer: `{name, from, resolves, to, result}`, `to` the list
//!   of addresses the answer ends at, `result` its status (NOERROR,
//!   NXDOMAIN, SERVFAIL). `to: []` alone stands for NXDOMAIN; an answer
//!   with addresses is NOERROR. The packet's keys (`protocol`, `port`,
//!   `via`, `reason`) are refused there, each with its line.

use super::dns::dns_name;
use super::reader::{Decoder, Fields, Head, NameRef, Record};
use crate::topology::model::{Access, DnsStatus, ExpectedProtocol};
use crate::topology::yaml::Value;
use std::net::IpAddr;

/// An expectation as written: names stay names until resolution.
#[derive(Debug)]
pub struct RawExpectation {
    pub name: String,
    pub line: usize,
    pub from: NameRef,
    pub test: RawTest,
}

/// What an expectation states, as written.
#[derive(Debug)]
pub enum RawTest {
    Reach(RawReach),
    Resolve {
        /// The name, lower case, without its final dot.
        name: String,
        addresses: Option<Vec<IpAddr>>,
        status: DnsStatus,
    },
}

/// A conversation as written.
#[derive(Debug)]
pub struct RawReach {
    pub to: NameRef,
    pub protocol: ExpectedProtocol,
    pub port: Option<(u16, usize)>,
    pub result: Access,
    pub via: Vec<NameRef>,
    pub reason: Option<(String, usize)>,
}

pub(super) const EXPECTATION_KEYS: &[&str] = &[
    "name", "from", "to", "protocol", "port", "result", "via", "reason", "resolves",
];

/// The keys of a packet, which a `resolves` expectation has none of.
const PACKET_KEYS: &[&str] = &["protocol", "port", "via", "reason"];

impl Record for RawExpectation {
    const WHAT: &'static str = "an expectation";
    const KEYS: &'static [&'static str] = EXPECTATION_KEYS;

    fn decode(d: &mut Decoder, f: &Fields, head: Head) -> Option<Self> {
        let from = d.required_ref(f, "from");
        let test = if f.has("resolves") {
            d.name_test(f)
        } else {
            d.reach_test(f)
        };
        Some(RawExpectation {
            name: head.name,
            line: head.line,
            from: from?,
            test: test?,
        })
    }
}

impl Decoder<'_> {
    /// A conversation: every key read before a broken one drops the item.
    fn reach_test(&mut self, f: &Fields) -> Option<RawTest> {
        let to = self.required_ref(f, "to");
        let protocol = self.one_of(f, "protocol");
        let port = self.optional_port(f, "port");
        let result = self.one_of(f, "result");
        let via = self.ref_list(f, "via");
        let reason = self.optional_text(f, "reason");
        Some(RawTest::Reach(RawReach {
            to: to?,
            protocol: protocol?,
            port: port?,
            result: result?,
            via: via?,
            reason: reason?,
        }))
    }

    /// A name's answer: the name, the addresses (`to`) and the status
    /// (`result`), one of which at least.
    fn name_test(&mut self, f: &Fields) -> Option<RawTest> {
        let mut broken = false;
        for key in PACKET_KEYS {
            if let Some(node) = f.get(key) {
                self.diags.error(
                    node.line,
                    &f.key(key),
                    format!(
                        "`{key}` makes no sense in a `resolves` expectation: it states the \
                         answer to a DNS question, not a packet (write a second expectation \
                         with `to: NAME` for the conversation)"
                    ),
                );
                broken = true;
            }
        }
        let name = self.required_string(f, "resolves").and_then(|text| {
            let line = f.get("resolves").map_or(f.line, |n| n.line);
            match dns_name(&text) {
                Ok(name) => Some(name),
                Err(why) => {
                    self.diags.error(line, &f.key("resolves"), why);
                    None
                }
            }
        });
        let addresses = self.answer_addresses(f);
        let status = self.dns_status(f);
        let (Some(name), Some(addresses), Some(status)) = (name, addresses, status) else {
            return None;
        };
        let status = match (status, &addresses) {
            (Some((status, line)), Some(addresses))
                if status != DnsStatus::NoError && !addresses.is_empty() =>
            {
                self.diags.error(
                    line,
                    &f.key("result"),
                    format!(
                        "an answer with status {} holds no address: `to` must be `[]` or left out",
                        status.as_str()
                    ),
                );
                return None;
            }
            (Some((status, _)), _) => status,
            (None, Some(addresses)) if addresses.is_empty() => DnsStatus::NxDomain,
            (None, Some(_)) => DnsStatus::NoError,
            (None, None) => {
                self.diags.error(
                    f.line,
                    &f.path,
                    "a `resolves` expectation needs `to` (the addresses the answer ends at, `[]` \
                     for none) or `result` (NOERROR, NXDOMAIN or SERVFAIL)",
                );
                return None;
            }
        };
        (!broken).then_some(RawTest::Resolve {
            name,
            addresses,
            status,
        })
    }

    /// `to` of a `resolves` expectation: a list of addresses (or one
    /// address), sorted, each once; `Some(None)` when left out.
    fn answer_addresses(&mut self, f: &Fields) -> Option<Option<Vec<IpAddr>>> {
        let Some(node) = f.get("to") else {
            return Some(None);
        };
        let key = f.key("to");
        let items = match &node.value {
            Value::Scalar { .. } => std::slice::from_ref(node),
            _ => self.items(Some(node), &key),
        };
        let read = self.texts(items, &key, |d, text, line, k| {
            match text.parse::<IpAddr>() {
                Ok(address) => Some(address),
                Err(_) => {
                    d.diags.error(
                        line,
                        k,
                        format!(
                        "`{text}` is not an address: a `resolves` expectation's `to` lists the \
                         addresses the answer ends at"
                    ),
                    );
                    None
                }
            }
        });
        let mut addresses: Vec<IpAddr> = read.into_iter().collect::<Option<_>>()?;
        addresses.sort();
        addresses.dedup();
        Some(Some(addresses))
    }

    /// `result` of a `resolves` expectation: a DNS status, with its line;
    /// `Some(None)` when left out.
    fn dns_status(&mut self, f: &Fields) -> Option<Option<(DnsStatus, usize)>> {
        let Some((text, line)) = self.optional_text(f, "result")? else {
            return Some(None);
        };
        match DnsStatus::parse(&text) {
            Some(status) => Some(Some((status, line))),
            None => {
                let known: Vec<&str> = DnsStatus::ALL.iter().map(|s| s.as_str()).collect();
                self.diags.error(
                    line,
                    &f.key("result"),
                    format!(
                        "`{text}` is not a DNS status: a `resolves` expectation's `result` is \
                         one of {}",
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }
}
