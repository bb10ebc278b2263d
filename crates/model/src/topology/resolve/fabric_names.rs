//! The lab's `netns_prefix`, which goes before every namespace name vnetd
//! makes itself (here, a NIC's or a site router's or host's without an
//! explicit `netns`; an explicit `netns` is used as written), and the
//! longest name a namespace may have. The ports vnetd adds and their
//! namespaces are named by the lab plan (`plan::names`).

use super::{valid_netns, Resolver};

/// The longest namespace name vnetd makes or accepts.
pub const MAX_NETNS_LEN: usize = 64;

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
         `_`, `.` or `-`, not starting with `.`"
    )
}

impl Resolver<'_> {
    /// Takes the lab's `netns_prefix`: characters a namespace name may
    /// hold, not starting with `.`, and short enough to leave room for a
    /// name after it.
    pub(super) fn netns_prefix(&mut self, prefix: Option<(String, usize)>) {
        let Some((prefix, line)) = prefix else {
            return;
        };
        if prefix.len() >= MAX_NETNS_LEN || !valid_netns(&prefix) {
            let why = format!(
                "`{prefix}` is not a usable namespace prefix: 1 to {} letters, digits, `_`, `.` \
                 or `-`, not starting with `.` (a namespace name, prefix included, is at most \
                 {MAX_NETNS_LEN})",
                MAX_NETNS_LEN - 1
            );
            self.diags.error(line, "netns_prefix", why);
            return;
        }
        self.topo.netns_prefix = prefix;
    }

    /// `name` behind the lab's `netns_prefix`: a namespace vnetd names
    /// itself.
    pub(super) fn prefixed(&self, name: &str) -> String {
        format!("{}{name}", self.topo.netns_prefix)
    }
}
