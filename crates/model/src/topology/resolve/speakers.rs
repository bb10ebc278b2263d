//! What the appliances' BGP speakers are resolved from, kept from the
//! NICs' records and the Route Servers' connections until the virtual
//! hubs' BGP connections are known too: a NIC's BGP keys, and each BGP
//! connection as a claim on a NIC's address.

use super::super::decode::{RawAnnounce, RawNic};
use crate::topology::model::{BgpSpeaker, NicIdx, VnetIdx};
use std::net::IpAddr;

/// The BGP keys of one NIC, taken from its raw record before the NIC is
/// resolved: they become an [`ApplianceSpeaker`], not a NIC field, once
/// the Route Servers are known.
pub(super) struct NicBgp {
    pub(super) name: String,
    pub(super) key: String,
    pub(super) line: usize,
    pub(super) speaker: Option<(Option<BgpSpeaker>, usize)>,
    pub(super) announce: Option<RawAnnounce>,
}

impl NicBgp {
    /// The BGP keys of the NICs that have any, taken out of their records.
    pub(super) fn take(nics: &mut [RawNic]) -> Vec<NicBgp> {
        nics.iter_mut()
            .filter(|n| n.bgp_speaker.is_some() || n.bgp_announce.is_some())
            .map(|n| NicBgp {
                name: n.name.clone(),
                key: n.key.clone(),
                line: n.line,
                speaker: n.bgp_speaker.take(),
                announce: n.bgp_announce.take(),
            })
            .collect()
    }
}

/// One BGP connection as the appliances see it, kept for a refused Route
/// Server too, so that the NIC it names draws no second error.
pub(super) struct Claim {
    /// `None` when missing or refused (reported).
    pub(super) peer_ip: Option<IpAddr>,
    /// `None` when missing or refused (reported).
    pub(super) asn: Option<u32>,
    pub(super) nic: Option<NicIdx>,
    /// The Route Server's VNet, when it exists.
    pub(super) vnet: Option<VnetIdx>,
    /// The connection's key, and the line of its `peer_asn` (or its own).
    pub(super) key: String,
    pub(super) line: usize,
}
