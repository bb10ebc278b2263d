//! Which ports are on the fabric: a port whose `eth0` is deleted behind
//! the lab's back takes its host end with it, and loses its TUN device
//! here; a port whose `eth0` its guest set down loses its carrier, and
//! leaves `host_ends` until it is up again. Both are learned from the
//! fabric namespace's link notifications, read without waiting.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::super::{netlink, netns};
use super::links;
use super::loaded::{lock, Fabric};

impl Fabric {
    /// Removes the TUN device of each port whose `eth0` is gone (deleted
    /// behind the fabric's back, or with its namespace, which takes its
    /// host end with it), so that whoever writes to that TUN learns the
    /// port is gone, as with a TUN `eth0`. Returns the TUN devices removed.
    /// A port whose `eth0` was set down leaves `host_ends` until it is up
    /// again: the programs count what they would hand it as they count
    /// what they would hand a port that is gone.
    ///
    /// The first call lists the fabric's links; later ones read the
    /// kernel's link notifications since (no waiting, nothing to do when
    /// nothing changed), and list again only if the kernel dropped some.
    pub fn reap_orphans(&self) -> Result<Vec<String>> {
        let mut watch = lock(&self.link_watch);
        let noticed = match watch.as_ref() {
            Some(watch) => watch.deleted()?,
            None => {
                // Subscribed before listing: no deletion falls in between.
                *watch = Some(netns::run_in(&self.namespace, links::LinkWatch::open_here)?);
                links::Deleted::Lost
            }
        };
        let (orphans, carrier): (Vec<String>, Vec<(String, bool)>) = match noticed {
            links::Deleted::Links { deleted, carrier } => (
                deleted
                    .iter()
                    .filter_map(|name| name.strip_prefix("vh"))
                    .map(|number| format!("vt{number}"))
                    .collect(),
                carrier,
            ),
            links::Deleted::Lost => {
                let links = netlink::link_carriers(&self.namespace)?;
                let has = |name: &str| links.iter().any(|(n, _)| n == name);
                let orphans = (links.iter())
                    .filter_map(|(name, _)| name.strip_prefix("vt"))
                    .filter(|number| !has(&format!("vh{number}")))
                    .map(|number| format!("vt{number}"))
                    .collect();
                (orphans, links)
            }
        };
        self.follow_carriers(&carrier)?;
        if orphans.is_empty() {
            return Ok(Vec::new());
        }
        for orphan in &orphans {
            if let Some(number) = orphan
                .strip_prefix("vt")
                .and_then(|n| n.parse::<u32>().ok())
            {
                if let Some(host_end) = lock(&self.live).remove(&number) {
                    lock(&self.down).remove(&host_end);
                }
            }
        }
        netns::run_in(&self.namespace, || links::delete_present_here(&orphans))
            .with_context(|| format!("removing TUN devices of the fabric {}", self.namespace))
    }

    /// Takes the host end of each port whose `eth0` went down (its host
    /// end lost its carrier) out of `host_ends`, and puts back each whose
    /// `eth0` is up again; `carrier` names host ends (`vh<N>`), with
    /// whether they have a carrier now, the last word last.
    fn follow_carriers(&self, carrier: &[(String, bool)]) -> Result<()> {
        let mut now: HashMap<u32, bool> = HashMap::new();
        {
            let live = lock(&self.live);
            for (name, up) in carrier {
                let number = name.strip_prefix("vh").and_then(|n| n.parse::<u32>().ok());
                if let Some(host_end) = number.and_then(|n| live.get(&n)) {
                    now.insert(*host_end, *up);
                }
            }
        }
        let mut down = lock(&self.down);
        let back: Vec<u32> = (now.iter())
            .filter(|(host_end, up)| **up && down.contains(*host_end))
            .map(|(host_end, _)| *host_end)
            .collect();
        for (host_end, up) in &now {
            if !up && down.insert(*host_end) {
                let _ = lock(&self.host_ends).remove(*host_end);
            }
        }
        if !back.is_empty() {
            // A device map takes a device of the namespace it is written
            // from.
            netns::run_in(&self.namespace, || {
                let mut host_ends = lock(&self.host_ends);
                for host_end in &back {
                    host_ends
                        .insert(*host_end, *host_end, None, 0)
                        .map_err(|err| anyhow::anyhow!("{err}"))
                        .with_context(|| format!("putting host end #{host_end} back"))?;
                }
                Ok(())
            })?;
            for host_end in back {
                down.remove(&host_end);
            }
        }
        Ok(())
    }

    /// Whether the port whose host end is `host_end` is still on the
    /// fabric, its `eth0` there and up (not deleted behind the lab's back,
    /// nor set down by its guest).
    pub fn has_port(&self, host_end: u32) -> bool {
        lock(&self.live).values().any(|h| *h == host_end) && !lock(&self.down).contains(&host_end)
    }
}
