//! An example lab spread over machines: the example's text with a `hosts`
//! list added and a `host` under each VNet (and site) the test places, so
//! the same example runs on one machine or on several.

/// `text` with `hosts` (name, underlay address) appended and `host: H`
/// written under the `- name: X` line of each `(X, H)` of `placed`, the
/// VNets and sites of the file (matched by their name's line, at the
/// indentation of the top-level lists' items).
pub fn place(text: &str, hosts: &[(&str, &str)], placed: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some((_, host)) = placed
            .iter()
            .find(|(name, _)| line == format!("  - name: {name}"))
        {
            out.push_str(&format!("    host: {host}\n"));
        }
    }
    out.push_str("\nhosts:\n");
    for (name, address) in hosts {
        out.push_str(&format!(
            "  - {{name: {name}, underlay_address: {address}}}\n"
        ));
    }
    out
}

/// The hub-and-spoke example over three machines: the hub on `h1`, each
/// spoke on a machine of its own.
pub fn hub_spoke_three_hosts() -> String {
    place(
        include_str!("../../config/hub-spoke.yaml"),
        &THREE_HOSTS,
        &[("hub", "h1"), ("spoke1", "h2"), ("spoke2", "h3")],
    )
}

/// Three machines on 192.0.2.0/24 (documentation addresses: the test
/// harness's underlay bridge).
pub const THREE_HOSTS: [(&str, &str); 3] = [
    ("h1", "192.0.2.1"),
    ("h2", "192.0.2.2"),
    ("h3", "192.0.2.3"),
];

/// The hybrid example over three machines: the hub, its gateway and the
/// branch on `h1`, each spoke on a machine of its own. The branch's
/// namespaces are named by the lab's `netns_prefix` (the example names
/// them itself), so that clusters run side by side.
pub fn hybrid_three_hosts() -> String {
    let text = include_str!("../../config/hybrid.yaml")
        .replace("router: {netns: branch1, ", "router: {")
        .replace(", netns: onprem-vm}", "}");
    place(
        &text,
        &THREE_HOSTS,
        &[("hub", "h1"), ("spoke1", "h2"), ("spoke2", "h3")],
    )
}

/// The highly available NVAs example over three machines: the hub (the
/// NVAs, the web servers and both load balancers) on `h1`, each spoke on a
/// machine of its own.
pub fn ha_nva_three_hosts() -> String {
    place(
        include_str!("../../config/ha-nva.yaml"),
        &THREE_HOSTS,
        &[("hub", "h1"), ("spoke1", "h2"), ("spoke2", "h3")],
    )
}

/// The Azure Firewall example over three machines: the hub and its
/// firewall on `h1`, each spoke on a machine of its own.
pub fn hub_spoke_firewall_three_hosts() -> String {
    place(
        include_str!("../../config/hub-spoke-firewall.yaml"),
        &THREE_HOSTS,
        &[("hub", "h1"), ("spoke1", "h2"), ("spoke2", "h3")],
    )
}
