//! Changes of `config/internet-edge.yaml` that several edge tests make.

/// The example with a NAT gateway (`legacy-nat`, 198.51.100.40) on
/// `spoke2/legacy`, vm3's subnet.
pub fn with_legacy_nat_gateway(text: &str) -> String {
    let changed = text
        .replacen(
            "public_ip_addresses:\n",
            "public_ip_addresses:\n  - {name: legacy-pip, ip_address: 198.51.100.40}\n",
            1,
        )
        .replacen(
            "nat_gateways:\n",
            "nat_gateways:\n  - {name: legacy-nat, public_ip_addresses: [legacy-pip], \
             subnets: [spoke2/legacy]}\n",
            1,
        );
    assert!(changed.contains("legacy-nat") && changed.contains("legacy-pip"));
    changed
}
