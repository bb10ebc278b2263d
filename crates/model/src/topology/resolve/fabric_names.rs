//! The lab's `netns_prefix`, which goes before every namespace name vnetd
//! makes itself (here, a NIC's or a site router's or host's without an
//! explicit `netns`; an explicit `netns` is used as written), and the
//! longest name a namespace may have. The ports vnetd adds and their
//! namespaces are named by the lab plan (`plan::names`).

use super::resolver::Resolver;
use std::collections::HashMap;

/// The longest namespace name vnetd makes or accepts.
pub const MAX_NETNS_LEN: usize = 64;

/// Whether `name` can name a network namespace: 1 to
/// `MAX_NETNS_LEN` (64) letters, digits, `_`, `.` or `-`, not
/// starting with `.` or `-` (a name on a command line must not read as an
/// option).
pub fn valid_netns(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NETNS_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The namespaces taken so far, each with who holds it (NIC `vm1`).
pub(super) type Namespaces = HashMap<String, String>;

/// Why `netns` cannot name a namespace; `prefixed` when vnetd made it from
/// the lab's `netns_prefix` and a name of the file.
pub(super) fn unusable_netns(netns: &str, prefixed: bool) -> String {
    let made = if prefixed {
        " (`netns_prefix` and the name)"
    } else {
        ""
    };
    format!(
        "`{netns}`{made} is not a usable namespace name: 1 to {MAX_NETNS_LEN} letters, digits, \
         `_`, `.` or `-`, not starting with `.` or `-`"
    )
}

impl Resolver<'_> {
    /// Takes the lab's `netns_prefix`: characters a namespace name may
    /// hold, not starting with `.` or `-`, and short enough to leave room for a
    /// name after it.
    pub(super) fn netns_prefix(&mut self, prefix: Option<(String, usize)>) {
        let Some((prefix, line)) = prefix else {
            return;
        };
        if prefix.len() >= MAX_NETNS_LEN || !valid_netns(&prefix) {
            let why = format!(
                "`{prefix}` is not a usable namespace prefix: 1 to {} letters, digits, `_`, `.` \
                 or `-`, not starting with `.` or `-` (a namespace name, prefix included, is at most \
                 {MAX_NETNS_LEN})",
                MAX_NETNS_LEN - 1
            );
            self.diags.error(line, "netns_prefix", why);
            return;
        }
        self.topo.netns_prefix = prefix;
    }

    /// The namespace of a NIC, or of a site's router or host: its `netns`
    /// as written, else `name` behind the lab's `netns_prefix` (on `line`).
    /// Refused at `<key>.netns` when it is no usable name or `taken`
    /// holds it already; else recorded there for `who`.
    pub(super) fn claim_netns(
        &mut self,
        written: &Option<(String, usize)>,
        (name, line): (&str, usize),
        key: &str,
        who: String,
        taken: &mut Namespaces,
    ) -> String {
        let prefixed = written.is_none() && !self.topo.netns_prefix.is_empty();
        let (netns, line) = (written.clone()).unwrap_or_else(|| (self.prefixed(name), line));
        let key = format!("{key}.netns");
        if !valid_netns(&netns) {
            self.diags
                .error(line, &key, unusable_netns(&netns, prefixed));
        } else if let Some(other) = taken.insert(netns.clone(), who) {
            let why = format!("namespace `{netns}` is already used by {other}");
            self.diags.error(line, &key, why);
        }
        netns
    }

    /// `name` behind the lab's `netns_prefix`: a namespace vnetd names
    /// itself.
    pub(super) fn prefixed(&self, name: &str) -> String {
        format!("{}{name}", self.topo.netns_prefix)
    }
}
