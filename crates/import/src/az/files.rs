//! The files of a dump for `vnetd import az`: one per `az ... list -o
//! json` command, in the order they are read (what a reference names is
//! read before it, whichever file holds it: every ID is known first).

/// The files of DIR, each with the command whose output it holds.
pub const FILES: [(&str, &str); 54] = [
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
    ("network-managers.json", "az network manager list -o json"),
    (
        "network-manager-groups.json",
        "az network manager group list --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-static-members.json",
        "az network manager group static-member list --network-group-name NG \
         --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-connectivity-configs.json",
        "az network manager connect-config list --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-security-admin-configs.json",
        "az network manager security-admin-config list --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-admin-rule-collections.json",
        "az network manager security-admin-config rule-collection list --configuration-name \
         CONFIG --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-admin-rules.json",
        "az network manager security-admin-config rule-collection rule list \
         --rule-collection-name COLLECTION --configuration-name CONFIG --network-manager-name NM \
         -g GROUP -o json",
    ),
    (
        "network-manager-routing-configs.json",
        "az network manager routing-config list --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-routing-rule-collections.json",
        "az network manager routing-config rule-collection list --config-name CONFIG \
         --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-routing-rules.json",
        "az network manager routing-config rule-collection rule list --collection-name \
         COLLECTION --config-name CONFIG --network-manager-name NM -g GROUP -o json",
    ),
    (
        "network-manager-deployments.json",
        "az network manager list-deploy-status --network-manager-name NM -g GROUP --regions \
         REGION... --deployment-types Connectivity SecurityAdmin Routing --query value -o json",
    ),
    (
        "policy-definitions.json",
        "az policy definition list --query \"[?mode=='Microsoft.Network.Data']\" -o json",
    ),
    ("virtual-wans.json", "az network vwan list -o json"),
    ("virtual-hubs.json", "az network vhub list -o json"),
    (
        "virtual-hub-connections.json",
        "az network vhub connection list --vhub-name HUB -g GROUP -o json",
    ),
    (
        "virtual-hub-route-tables.json",
        "az network vhub route-table list --vhub-name HUB -g GROUP -o json",
    ),
    (
        "virtual-hub-routing-intents.json",
        "az network vhub routing-intent list --vhub HUB -g GROUP -o json",
    ),
    (
        "virtual-hub-bgp-connections.json",
        "az network vhub bgpconnection list --vhub-name HUB -g GROUP -o json",
    ),
    ("vpn-sites.json", "az network vpn-site list -o json"),
    ("vpn-gateways.json", "az network vpn-gateway list -o json"),
    (
        "express-route-gateways.json",
        "az network express-route gateway list -o json",
    ),
    ("storage-accounts.json", "az storage account list -o json"),
    ("key-vaults.json", "az keyvault list -o json"),
    (
        "service-endpoint-policies.json",
        "az network service-endpoint policy list -o json",
    ),
    (
        "flow-logs.json",
        "az network watcher flow-log list --location REGION -o json",
    ),
];
