//! The files of a dump for `vnetd import az`: one per `az ... list -o
//! json` command, in the order they are read (what a reference names is
//! read before it, whichever file holds it: every ID is known first).

/// The files of DIR, each with the command whose output it holds.
pub const FILES: [(&str, &str); 29] = [
    ("vnets.json", "az network vnet list -o json"),
    ("nics.json", "az network nic list -o json"),
    ("nsgs.json", "az network nsg list -o json"),
    ("route-tables.json", "az network route-table list -o json"),
    ("asgs.json", "az network asg list -o json"),
    ("vms.json", "az vm list -o json"),
    (
        "express-route-circuits.json",
        "az network express-route list -o json",
    ),
    (
        "vmware-private-clouds.json",
        "az vmware private-cloud list -o json",
    ),
    ("firewalls.json", "az network firewall list -o json"),
    (
        "firewall-policies.json",
        "az network firewall policy list -o json",
    ),
    (
        "firewall-rule-collection-groups.json",
        "az network firewall policy rule-collection-group list --policy-name POLICY -g GROUP -o json",
    ),
    ("ip-groups.json", "az network ip-group list -o json"),
    ("public-ips.json", "az network public-ip list -o json"),
    (
        "public-ip-prefixes.json",
        "az network public-ip prefix list -o json",
    ),
    ("nat-gateways.json", "az network nat gateway list -o json"),
    ("load-balancers.json", "az network lb list -o json"),
    ("route-servers.json", "az network routeserver list -o json"),
    (
        "route-server-peerings.json",
        "az network routeserver peering list --routeserver NAME -g GROUP -o json",
    ),
    (
        "private-dns-zones.json",
        "az network private-dns zone list -o json",
    ),
    (
        "private-dns-links.json",
        "az network private-dns link vnet list -z ZONE -g GROUP -o json",
    ),
    (
        "private-dns-record-sets.json",
        "az network private-dns record-set list -z ZONE -g GROUP -o json",
    ),
    (
        "private-endpoints.json",
        "az network private-endpoint list -o json",
    ),
    (
        "private-dns-zone-groups.json",
        "az network private-endpoint dns-zone-group list --endpoint-name NAME -g GROUP -o json",
    ),
    ("dns-resolvers.json", "az dns-resolver list -o json"),
    (
        "dns-resolver-inbound-endpoints.json",
        "az dns-resolver inbound-endpoint list --dns-resolver-name NAME -g GROUP -o json",
    ),
    (
        "dns-resolver-outbound-endpoints.json",
        "az dns-resolver outbound-endpoint list --dns-resolver-name NAME -g GROUP -o json",
    ),
    (
        "dns-resolver-forwarding-rulesets.json",
        "az dns-resolver forwarding-ruleset list -o json",
    ),
    (
        "dns-resolver-forwarding-rules.json",
        "az dns-resolver forwarding-rule list --ruleset-name NAME -g GROUP -o json",
    ),
    (
        "dns-resolver-vnet-links.json",
        "az dns-resolver vnet-link list --ruleset-name NAME -g GROUP -o json",
    ),
];
