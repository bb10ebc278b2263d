//! How a lab spread over machines names its ports between them: the same
//! on every machine, since each derives it from the same file.
//!
//! Azure's hosts carry a VNet's traffic between them encapsulated, with an
//! identifier of the virtual network and the destination VM's own MAC
//! inside. vnetd does the same in VXLAN: each VNet has a VXLAN network
//! identifier ([`vnet_vni`]), and each port a MAC address ([`port_mac`])
//! that the receiving machine turns back into the port.

use super::{Plan, PortIdx};
use crate::topology::VnetIdx;

/// The first three bytes of every port's MAC: locally administered,
/// `56:58` ("VX").
const PORT_MAC_PREFIX: [u8; 3] = [0x02, 0x56, 0x58];

/// The most ports a spread lab names (24 bits of MAC).
pub const MAX_WIRE_PORTS: usize = 1 << 24;

/// The MAC a port is addressed by between machines.
#[inline]
pub fn port_mac(port: PortIdx) -> [u8; 6] {
    let [_, high, middle, low] = (port.index() as u32).to_be_bytes();
    let [a, b, c] = PORT_MAC_PREFIX;
    [a, b, c, high, middle, low]
}

/// The port a MAC names, if it names one.
#[inline]
pub fn port_of_mac(mac: &[u8]) -> Option<PortIdx> {
    match mac {
        [a, b, c, high, middle, low] if [*a, *b, *c] == PORT_MAC_PREFIX => Some(PortIdx::new(
            u32::from_be_bytes([0, *high, *middle, *low]) as usize,
        )),
        _ => None,
    }
}

/// The VXLAN network identifier of a VNet: its position in the file, from
/// 1 (a VNI of 0 is left unused).
#[inline]
pub fn vnet_vni(vnet: VnetIdx) -> u32 {
    vnet.index() as u32 + 1
}

impl Plan {
    /// The VNI a port's packets travel with: its VNet's (a gateway's
    /// ports, and a site's tunnels to it, are in the gateway's VNet).
    #[inline]
    pub fn port_vni(&self, port: PortIdx) -> u32 {
        vnet_vni(self.ports[port].subnet.vnet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ports_mac_names_it_back_and_nothing_else_does() {
        for index in [0, 1, 255, 256, 65_535, MAX_WIRE_PORTS - 1] {
            let port = PortIdx::new(index);
            assert_eq!(port_of_mac(&port_mac(port)), Some(port));
        }
        assert_eq!(port_mac(PortIdx::new(0x01_02_03)), [2, 0x56, 0x58, 1, 2, 3]);
        assert_eq!(port_of_mac(&[2, 0x56, 0x59, 0, 0, 1]), None);
        assert_eq!(port_of_mac(&[2, 0x56, 0x58, 0, 0]), None);
        assert_eq!(vnet_vni(VnetIdx::new(0)), 1);
    }
}
