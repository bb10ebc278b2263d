//! What a speaker originates: each prefix with the AS path and ORIGIN it
//! carries ([`Announcement`]). A route learned elsewhere and handed to this speaker to
//! announce keeps its path after the speaker's own ASN, which gobgpd puts
//! first when it sends it over eBGP.
//!
//! [`GobgpSpeaker::set_announcements`] makes gobgpd's own routes exactly
//! the wanted ones: it deletes the prefixes no longer wanted and adds the
//! new ones and those whose path or ORIGIN changed (gobgpd replaces a
//! local route given again for the same prefix).

use super::routes::Announcement;
use super::GobgpSpeaker;
use anyhow::{Context, Result};
use ipnet::Ipv4Net;
use std::collections::BTreeSet;

/// `wanted` with each prefix truncated, once (its first), by prefix.
fn normalised(wanted: &[Announcement]) -> Vec<Announcement> {
    let mut out: Vec<Announcement> = Vec::new();
    for a in wanted {
        let prefix = a.prefix.trunc();
        if !out.iter().any(|o| o.prefix == prefix) {
            out.push(Announcement {
                prefix,
                ..a.clone()
            });
        }
    }
    out.sort();
    out
}

impl GobgpSpeaker {
    /// What the speaker was last made to originate.
    pub fn announcements(&self) -> &[Announcement] {
        &self.originated
    }

    /// Makes the originated routes exactly `wanted`: deletes the other
    /// prefixes, adds the missing ones and those whose path or ORIGIN is
    /// not what was last given.
    pub fn set_announcements(&mut self, wanted: &[Announcement]) -> Result<()> {
        let wanted = normalised(wanted);
        // Remembered first: a restart after a failure half-way still aims
        // at the wanted set.
        let before = std::mem::replace(&mut self.originated, wanted.clone());
        let current: BTreeSet<Ipv4Net> = self.announced()?.into_iter().collect();
        let prefixes: BTreeSet<Ipv4Net> = wanted.iter().map(|a| a.prefix).collect();
        for extra in current.difference(&prefixes) {
            self.gobgp(&["global", "rib", "del", "-a", "ipv4", &extra.to_string()])
                .with_context(|| format!("withdrawing {extra}"))?;
        }
        for a in &wanted {
            if current.contains(&a.prefix) && before.contains(a) {
                continue;
            }
            let prefix = a.prefix.to_string();
            let origin = if a.egp { "egp" } else { "igp" };
            let path: Vec<String> = a.as_path.iter().map(u32::to_string).collect();
            let path = path.join(",");
            let mut args = vec![
                "global", "rib", "add", "-a", "ipv4", &prefix, "origin", origin,
            ];
            if !a.as_path.is_empty() {
                args.extend(["aspath", path.as_str()]);
            }
            self.gobgp(&args)
                .with_context(|| format!("announcing {prefix}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn each_prefix_is_announced_once_truncated_its_first_attributes_kept() {
        let remote = Announcement {
            prefix: net("10.2.1.0/16"),
            as_path: vec![65520, 65520],
            egp: true,
        };
        let again = Announcement::plain(net("10.2.0.0/16"));
        let own = Announcement::plain(net("10.1.0.0/16"));
        let got = normalised(&[remote, again, own.clone()]);
        assert_eq!(
            got,
            [
                own,
                Announcement {
                    prefix: net("10.2.0.0/16"),
                    as_path: vec![65520, 65520],
                    egp: true,
                },
            ]
        );
    }
}
