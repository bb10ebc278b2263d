//! Aggregate throughput of virtual network gateways by SKU, as Azure
//! documents it: the "Aggregate Throughput Benchmark" of VPN gateways per
//! generation (the AZ SKUs carry what their non-AZ twins carry), and the
//! estimated performance of ExpressRoute gateways. The figure covers
//! everything the gateway carries, all its connections together.

/// Where the VPN figures come from.
pub const VPN_SOURCE: &str = "https://learn.microsoft.com/azure/vpn-gateway/about-gateway-skus";
/// Where the ExpressRoute figures come from.
pub const EXPRESS_ROUTE_SOURCE: &str =
    "https://learn.microsoft.com/azure/expressroute/expressroute-about-virtual-network-gateways";

/// A VPN gateway's generation (`generation` in Terraform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumString, strum::IntoStaticStr)]
#[strum(ascii_case_insensitive)]
pub enum Generation {
    #[default]
    Generation1,
    Generation2,
}

/// (SKU, generation, aggregate Mbps). Basic, Standard and HighPerformance
/// are the legacy SKUs, generation 1 only.
const VPN: &[(&str, Generation, u32)] = &[
    ("Basic", Generation::Generation1, 100),
    ("Standard", Generation::Generation1, 100),
    ("HighPerformance", Generation::Generation1, 200),
    ("VpnGw1", Generation::Generation1, 650),
    ("VpnGw2", Generation::Generation1, 1_000),
    ("VpnGw3", Generation::Generation1, 1_250),
    ("VpnGw1AZ", Generation::Generation1, 650),
    ("VpnGw2AZ", Generation::Generation1, 1_000),
    ("VpnGw3AZ", Generation::Generation1, 1_250),
    ("VpnGw2", Generation::Generation2, 1_250),
    ("VpnGw3", Generation::Generation2, 2_500),
    ("VpnGw4", Generation::Generation2, 5_000),
    ("VpnGw5", Generation::Generation2, 10_000),
    ("VpnGw2AZ", Generation::Generation2, 1_250),
    ("VpnGw3AZ", Generation::Generation2, 2_500),
    ("VpnGw4AZ", Generation::Generation2, 5_000),
    ("VpnGw5AZ", Generation::Generation2, 10_000),
];

/// (SKU, aggregate Mbps) of ExpressRoute gateways, every SKU of
/// `EXPRESS_ROUTE_SKUS` in the topology's resolution.
const EXPRESS_ROUTE: &[(&str, u32)] = &[
    ("Standard", 1_000),
    ("HighPerformance", 2_000),
    ("UltraPerformance", 10_000),
    ("ErGw1AZ", 1_000),
    ("ErGw2AZ", 2_000),
    ("ErGw3AZ", 10_000),
    // 1 Gbps per scale unit; vnetd gives it one unit and does not scale.
    ("ErGwScale", 1_000),
];

/// A VPN SKU's aggregate throughput in the given generation, with its
/// spelling as Azure writes it, or `None` when the pair does not exist.
pub fn vpn_mbps(sku: &str, generation: Generation) -> Option<(&'static str, u32)> {
    VPN.iter()
        .find(|(name, g, _)| *g == generation && name.eq_ignore_ascii_case(sku))
        .map(|(name, _, mbps)| (*name, *mbps))
}

/// The SKUs of a generation, for a refusal's list.
pub fn vpn_skus(generation: Generation) -> Vec<&'static str> {
    VPN.iter()
        .filter(|(_, g, _)| *g == generation)
        .map(|(name, _, _)| *name)
        .collect()
}

/// An ExpressRoute gateway SKU's aggregate throughput.
pub fn express_route_mbps(sku: &str) -> Option<u32> {
    EXPRESS_ROUTE
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(sku))
        .map(|(_, mbps)| *mbps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_carry_what_the_table_says() {
        use Generation::{Generation1 as G1, Generation2 as G2};
        for (sku, generation, found) in [
            ("VpnGw1", G1, Some(("VpnGw1", 650))),
            ("vpngw2", G1, Some(("VpnGw2", 1_000))),
            ("VpnGw2", G2, Some(("VpnGw2", 1_250))),
            ("VpnGw5AZ", G2, Some(("VpnGw5AZ", 10_000))),
            ("VpnGw1", G2, None),
            ("VpnGw4", G1, None),
            ("VpnGw9", G1, None),
        ] {
            assert_eq!(vpn_mbps(sku, generation), found, "{sku} {generation:?}");
        }
        assert_eq!(express_route_mbps("ErGw3AZ"), Some(10_000));
        assert_eq!(express_route_mbps("standard"), Some(1_000));
    }

    #[test]
    fn az_skus_carry_what_their_twins_carry() {
        for (name, generation, mbps) in VPN {
            if let Some(twin) = name.strip_suffix("AZ") {
                assert_eq!(
                    vpn_mbps(twin, *generation).map(|t| t.1),
                    Some(*mbps),
                    "{name}"
                );
            }
        }
    }
}
