//! Azure Firewall: `azurerm_firewall`, `azurerm_firewall_policy` with its
//! `azurerm_firewall_policy_rule_collection_group`s, `azurerm_ip_group`
//! (and `azurerm_ip_group_cidr`), and the classic rule collections
//! (`azurerm_firewall_network_rule_collection`, `..._application_...`,
//! `..._nat_...`), written as the topology's `azure_firewalls`,
//! `firewall_policies` and `ip_groups`.
//!
//! The topology file has policies only: a firewall's classic rules are
//! written as a policy of the importer's own, `<firewall>-rules`, with one
//! rule collection group `classic`, and the output says so where it is.
//! Azure does not let a firewall have both a policy and classic rules, so
//! such an input is refused. Application rule collections are written
//! with their rules (see `application_rules`), and a policy's tier (`sku`)
//! and DNS settings (`dns { proxy_enabled, servers }`) with it; a classic
//! firewall's `dns_proxy_enabled` and `dns_servers` are written as the
//! DNS settings of the policy written for its classic rules. A network
//! rule with FQDNs where the firewall's DNS proxy is off is refused, as
//! Azure refuses it. DNAT rule collections are written with their rules (see
//! `dnat_rules`). A secured virtual hub's firewall (`AZFW_Hub`, with a
//! `virtual_hub` block) is written in its hub (`virtual_hub`) instead of
//! a VNet; Azure manages it by a policy only, so classic rules naming it
//! are listed as ignored. The firewall's private address is not written:
//! vnetd gives it the first usable address of its `AzureFirewallSubnet`
//! (or of its hub), as Azure does;
//! its public IPs (those of its `ip_configuration`s, not of its management
//! IP configuration, which carries Azure's own traffic) are written by
//! name, in the input's order.

use super::application_rules::ApplicationCollection;
use super::attrs::Attrs;
use super::dnat_rules::{nat_collection, NatCollection};
use super::edge::Edge;
use super::firewall_rules::{collection, NetworkCollection};
use super::model::Model;
use super::output::{flow_list, one_line, plain_or_quoted, scalar, Output};
use super::rules::sorted_prefixes;
use crate::ImportError;
use std::collections::BTreeMap;

/// The name of the group of the policy written for classic rules.
const CLASSIC_GROUP: &str = "classic";

/// The firewalls, policies and IP groups of the input.
#[derive(Debug, Default)]
pub(super) struct Firewalls {
    firewalls: BTreeMap<String, Firewall>,
    /// Firewalls whose classic rules are not written, and why.
    skipped: BTreeMap<String, String>,
    policies: BTreeMap<String, Policy>,
    pub(super) ip_groups: BTreeMap<String, IpGroup>,
}

#[derive(Debug)]
struct Firewall {
    source: String,
    placement: Placement,
    sku_tier: Option<String>,
    sku_name: Option<String>,
    policy: Option<String>,
    /// Its policy is the one written for its classic rules.
    classic: bool,
    /// `private_ip_ranges`, which only classic rules use.
    private_ranges: Vec<String>,
    /// Its public IPs, by name, in the input's order.
    public_ips: Vec<String>,
    /// `dns_proxy_enabled` and `dns_servers`, which only classic rules use.
    dns: Dns,
    /// What of its public IPs is left out, and why.
    public_ip_notes: Vec<String>,
}

/// Where a firewall is: in a VNet's `AzureFirewallSubnet`, or in a
/// secured virtual hub (with `public_ip_count` when given and not 1).
#[derive(Debug)]
enum Placement {
    Vnet(String),
    Hub(String, Option<String>),
}

impl Firewalls {
    /// The hub of the firewall `name` (none: it is in a VNet); none when
    /// the input lacks it.
    pub(super) fn hub_of(&self, name: &str) -> Option<Option<&str>> {
        self.firewalls.get(name).map(|f| match &f.placement {
            Placement::Hub(hub, _) => Some(hub.as_str()),
            Placement::Vnet(_) => None,
        })
    }
}

#[derive(Debug)]
struct Policy {
    source: String,
    /// For the policy written for classic rules: whose rules they are.
    classic_of: Option<String>,
    private_ranges: Vec<String>,
    /// `sku` when not Standard: Basic or Premium.
    sku: Option<String>,
    dns: Dns,
    groups: BTreeMap<String, Group>,
}

/// A policy's DNS settings (or a classic firewall's).
#[derive(Debug, Clone, Default)]
struct Dns {
    proxy_enabled: bool,
    servers: Vec<String>,
}

impl Dns {
    /// `{proxy_enabled: .., servers: [..]}`, or none when nothing is set.
    fn flow(&self) -> Option<String> {
        if !self.proxy_enabled && self.servers.is_empty() {
            return None;
        }
        let mut parts = vec![format!("proxy_enabled: {}", self.proxy_enabled)];
        if !self.servers.is_empty() {
            parts.push(format!("servers: {}", flow_list(&self.servers)));
        }
        Some(format!("{{{}}}", parts.join(", ")))
    }
}

/// The refusal of the network rule `rule` (at `source`) with FQDNs where
/// the DNS proxy is off, with where to turn it on.
fn fqdns_need_proxy((rule, source): (&str, &str), turn_on: &str) -> ImportError {
    ImportError::new(
        source,
        format!(
            "network rule `{rule}` has destination_fqdns, which Azure Firewall resolves through \
             its DNS proxy: Azure refuses FQDNs in network rules while the proxy is off; set \
             {turn_on}"
        ),
    )
}

#[derive(Debug)]
struct Group {
    source: String,
    priority: String,
    network: BTreeMap<String, NetworkCollection>,
    application: BTreeMap<String, ApplicationCollection>,
    nat: BTreeMap<String, NatCollection>,
}

impl Group {
    fn new(source: String, priority: String) -> Self {
        Group {
            source,
            priority,
            network: BTreeMap::new(),
            application: BTreeMap::new(),
            nat: BTreeMap::new(),
        }
    }
}

#[derive(Debug)]
pub(super) struct IpGroup {
    source: String,
    cidrs: Vec<String>,
}

/// What a classic rule collection holds, by its azurerm type.
#[derive(Debug, Clone, Copy)]
enum Classic {
    Network,
    Application,
    Nat,
}

impl<'r> Model<'r> {
    pub(super) fn add_ip_group(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.firewalls.ip_groups, "IP group", |f| &f.source)?;
        let group = IpGroup {
            source: a.r.source.clone(),
            cidrs: a.list("cidrs"),
        };
        self.firewalls.ip_groups.insert(name, group);
        Ok(())
    }

    /// `azurerm_ip_group_cidr`: one more CIDR of an IP group.
    pub(super) fn add_ip_group_cidr(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.id_name("ip_group_id", "ipGroups")?;
        let cidr = a.required_str("cidr")?;
        match self.firewalls.ip_groups.get_mut(&name) {
            Some(group) if group.cidrs.contains(&cidr) => Ok(()),
            Some(group) => {
                group.cidrs.push(cidr);
                Ok(())
            }
            None => Err(a.dangling("ip_group_id")),
        }
    }

    pub(super) fn add_firewall_policy(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.firewalls.policies, "firewall policy", |f| &f.source)?;
        if let Some(base) = a.str("base_policy_id") {
            return Err(a.error(format!(
                "firewall policy `{name}` inherits the rules of `{base}` (base_policy_id), and \
                 vnetd does not import policy inheritance: copy the base policy's rule \
                 collection groups into it"
            )));
        }
        let policy = Policy {
            source: a.r.source.clone(),
            classic_of: None,
            private_ranges: a.list("private_ip_ranges"),
            // Standard is the topology's default, which state writes too.
            sku: a.str("sku").filter(|s| !s.eq_ignore_ascii_case("Standard")),
            dns: a.first_block("dns").map_or_else(Dns::default, |d| Dns {
                proxy_enabled: d.bool("proxy_enabled") == Some(true),
                servers: d.list("servers"),
            }),
            groups: BTreeMap::new(),
        };
        self.firewalls.policies.insert(name, policy);
        Ok(())
    }

    pub(super) fn add_rule_collection_group(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let policy_name = a.id_name("firewall_policy_id", "firewallPolicies")?;
        let mut group = Group::new(a.r.source.clone(), a.required_str("priority")?);
        let proxy = (self.firewalls.policies.get(&policy_name)).map(|p| p.dns.proxy_enabled);
        for block in a.blocks("network_rule_collection") {
            let c = collection(self, a, block)?;
            if let (Some(rule), Some(false)) = (c.first_fqdn_rule(), proxy) {
                let turn_on = format!("dns {{ proxy_enabled = true }} on policy `{policy_name}`");
                return Err(fqdns_need_proxy(rule, &turn_on));
            }
            group.network.insert(c.name.clone(), c);
        }
        for block in a.blocks("application_rule_collection") {
            let c = ApplicationCollection::read(self, a, &Attrs::nested(a.r, block))?;
            group.application.insert(c.name.clone(), c);
        }
        for block in a.blocks("nat_rule_collection") {
            let c = nat_collection(self, a, block)?;
            group.nat.insert(c.name.clone(), c);
        }
        let Some(policy) = self.firewalls.policies.get_mut(&policy_name) else {
            return Err(a.dangling("firewall_policy_id"));
        };
        let what = format!("rule collection group of policy `{policy_name}`");
        a.insert_unique(&mut policy.groups, &what, name, group, |f| &f.source)
    }

    pub(super) fn add_firewall(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.firewalls.firewalls, "Azure Firewall", |f| &f.source)?;
        let sku_name = a.str("sku_name");
        let placement = match a.first_block("virtual_hub") {
            Some(hub) => {
                let id = hub.required_str("virtual_hub_id")?;
                let hub_name = a.name_in_id(&id, "virtualHubs", "virtual_hub.virtual_hub_id")?;
                if !self.virtual_wans.has_hub(&hub_name) {
                    return Err(a.not_in_input("virtual_hub.virtual_hub_id", &id));
                }
                let count = hub.str("public_ip_count").filter(|c| c != "1");
                let why = "a secured virtual hub's firewall, which Azure manages by a firewall \
                           policy only";
                self.firewalls.skipped.insert(name.clone(), why.to_string());
                Placement::Hub(hub_name, count)
            }
            None => {
                let subnet_id = a
                    .blocks("ip_configuration")
                    .into_iter()
                    .find_map(|block| Attrs::nested(a.r, block).str("subnet_id"));
                let in_hub =
                    (sku_name.as_deref()).is_some_and(|s| s.eq_ignore_ascii_case("AZFW_Hub"));
                let Some(subnet_id) = subnet_id.filter(|_| !in_hub) else {
                    let why = if in_hub {
                        format!("Azure Firewall `{name}` is a hub's (AZFW_Hub) without a virtual_hub block")
                    } else {
                        format!(
                            "Azure Firewall `{name}` has no ip_configuration with a subnet_id (its \
                             AzureFirewallSubnet)"
                        )
                    };
                    return Err(a.error(why));
                };
                let (vnet, subnet) = a.subnet_in_id(&subnet_id, "ip_configuration.subnet_id")?;
                self.subnet_mut(a, &vnet, &subnet)?;
                Placement::Vnet(vnet)
            }
        };
        let policy = match a.str("firewall_policy_id") {
            Some(id) => {
                let policy = a.name_in_id(&id, "firewallPolicies", "firewall_policy_id")?;
                if !self.firewalls.policies.contains_key(&policy) {
                    return Err(a.dangling("firewall_policy_id"));
                }
                Some(policy)
            }
            None => None,
        };
        let mut public_ips = Vec::new();
        let mut public_ip_notes = Vec::new();
        for block in a.blocks("ip_configuration") {
            let Some(id) = Attrs::nested(a.r, block).str("public_ip_address_id") else {
                continue;
            };
            match self.edge.public_ip_named(&id) {
                Ok(name) if public_ips.contains(&name) => {}
                Ok(name) => public_ips.push(name),
                Err(why) => public_ip_notes.push(format!("a public IP left out: {why}")),
            }
        }
        let firewall = Firewall {
            source: a.r.source.clone(),
            placement,
            sku_tier: a.str("sku_tier"),
            sku_name,
            policy,
            classic: false,
            private_ranges: a.list("private_ip_ranges"),
            public_ips,
            public_ip_notes,
            dns: Dns {
                proxy_enabled: a.bool("dns_proxy_enabled") == Some(true),
                servers: a.list("dns_servers"),
            },
        };
        self.firewalls.firewalls.insert(name, firewall);
        Ok(())
    }

    pub(super) fn add_classic_network_rules(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        self.add_classic_collection(a, Classic::Network)
    }

    pub(super) fn add_classic_application_rules(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        self.add_classic_collection(a, Classic::Application)
    }

    pub(super) fn add_classic_nat_rules(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        self.add_classic_collection(a, Classic::Nat)
    }

    /// A classic rule collection, into the group `classic` of the policy
    /// written for its firewall's classic rules.
    fn add_classic_collection(&mut self, a: &Attrs<'r>, kind: Classic) -> Result<(), ImportError> {
        let name = a.name()?;
        let firewall = a.required_str("azure_firewall_name")?;
        if let Some(why) = self.firewalls.skipped.get(&firewall) {
            let note = format!("belongs to Azure Firewall `{firewall}`, {why}");
            self.ignored.push((a.r, note));
            return Ok(());
        }
        let first = match kind {
            Classic::Network => {
                let c = collection(self, a, &a.r.attributes)?;
                let proxy = (self.firewalls.firewalls.get(&firewall)).map(|f| f.dns.proxy_enabled);
                if let (Some(rule), Some(false)) = (c.first_fqdn_rule(), proxy) {
                    let turn_on =
                        format!("dns_proxy_enabled = true on Azure Firewall `{firewall}`");
                    return Err(fqdns_need_proxy(rule, &turn_on));
                }
                let group = self.classic_group(a, &firewall)?;
                group.network.insert(name.clone(), c).map(|c| c.source)
            }
            Classic::Application => {
                let c = ApplicationCollection::read(self, a, &a.own())?;
                let group = self.classic_group(a, &firewall)?;
                group.application.insert(name.clone(), c).map(|c| c.source)
            }
            Classic::Nat => {
                let c = nat_collection(self, a, &a.r.attributes)?;
                let group = self.classic_group(a, &firewall)?;
                group.nat.insert(name.clone(), c).map(|c| c.source)
            }
        };
        match first {
            Some(first) => {
                let what = format!("classic rule collection of Azure Firewall `{firewall}`");
                Err(a.duplicate(&what, &name, &first))
            }
            None => Ok(()),
        }
    }

    /// The group of the policy written for the classic rules of
    /// `firewall`, made with the policy on its first collection.
    fn classic_group(&mut self, a: &Attrs<'r>, firewall: &str) -> Result<&mut Group, ImportError> {
        let Some(fw) = self.firewalls.firewalls.get_mut(firewall) else {
            let why =
                format!("Azure Firewall `{firewall}` (azure_firewall_name) is not in the input");
            return Err(a.error(why));
        };
        let policy_name = format!("{firewall}-rules");
        match &fw.policy {
            Some(_) if fw.classic => {}
            Some(policy) => {
                return Err(a.error(format!(
                    "Azure Firewall `{firewall}` has the policy `{policy}` and classic rules \
                     (this rule collection): Azure does not allow both on one firewall"
                )))
            }
            None => {
                if let Some(other) = self.firewalls.policies.get(&policy_name) {
                    return Err(a.error(format!(
                        "the classic rules of Azure Firewall `{firewall}` are written as the \
                         policy `{policy_name}`, the name of a policy of the input (at {})",
                        other.source
                    )));
                }
                fw.policy = Some(policy_name.clone());
                fw.classic = true;
                let mut groups = BTreeMap::new();
                // One group: its priority orders nothing.
                let group = Group::new(fw.source.clone(), "100".to_string());
                groups.insert(CLASSIC_GROUP.to_string(), group);
                let policy = Policy {
                    source: fw.source.clone(),
                    classic_of: Some(firewall.to_string()),
                    private_ranges: fw.private_ranges.clone(),
                    sku: None,
                    dns: fw.dns.clone(),
                    groups,
                };
                self.firewalls.policies.insert(policy_name.clone(), policy);
            }
        }
        let policy = self.firewalls.policies.get_mut(&policy_name);
        let group = policy.and_then(|p| p.groups.get_mut(CLASSIC_GROUP));
        group.ok_or_else(|| a.error("internal: the classic rules' group is missing"))
    }

    pub(super) fn render_firewalls(&self, out: &mut Output) {
        let f = &self.firewalls;
        out.list(0, "ip_groups", &f.ip_groups, |out, (name, group)| {
            out.item(2, &group.source, name);
            let cidrs = sorted_prefixes(group.cidrs.clone());
            out.field(4, "cidrs", &flow_list(&cidrs));
        });
        let policies = &f.policies;
        out.list(0, "firewall_policies", policies, |out, (name, policy)| {
            render_policy(out, name, policy, &self.edge);
        });
        out.list(0, "azure_firewalls", &f.firewalls, |out, (name, fw)| {
            out.item(2, &fw.source, name);
            match &fw.placement {
                Placement::Vnet(vnet) => out.field(4, "virtual_network", &scalar(vnet)),
                Placement::Hub(hub, count) => {
                    let count = count.as_deref().map(plain_or_quoted);
                    let count = count.map(|c| format!(", public_ip_count: {c}"));
                    let value = format!(
                        "{{virtual_hub: {}{}}}",
                        scalar(hub),
                        count.unwrap_or_default()
                    );
                    out.field(4, "virtual_hub", &value);
                }
            }
            out.scalar_field(4, "sku_tier", fw.sku_tier.as_deref());
            out.scalar_field(4, "sku_name", fw.sku_name.as_deref());
            out.scalar_field(4, "firewall_policy", fw.policy.as_deref());
            out.notes(4, &fw.public_ip_notes);
            if !fw.public_ips.is_empty() {
                out.field(4, "public_ip_addresses", &flow_list(&fw.public_ips));
            }
        });
    }

    /// Whether a DNAT rule names a public IP written without an address,
    /// whose address vnetd gives it: the file must be read back for it.
    pub(super) fn dnat_needs_allocations(&self) -> bool {
        let policies = self.firewalls.policies.values();
        let mut collections = policies.flat_map(|p| p.groups.values().flat_map(|g| g.nat.values()));
        collections.any(|c| c.public_ips().any(|ip| self.edge.lacks_address(ip)))
    }
}

fn render_policy(out: &mut Output, name: &str, policy: &Policy, edge: &Edge) {
    out.source(2, &policy.source);
    if let Some(firewall) = &policy.classic_of {
        out.line(&format!(
            "  # The classic rules of Azure Firewall `{}` (azurerm_firewall_*_rule_collection),",
            one_line(firewall)
        ));
        out.line("  # as a policy of vnetd import's own: the topology file has policies only.");
    }
    out.line(&format!("  - name: {}", scalar(name)));
    if !policy.private_ranges.is_empty() {
        out.field(4, "private_ranges", &flow_list(&policy.private_ranges));
    }
    out.scalar_field(4, "sku", policy.sku.as_deref());
    if let Some(dns) = policy.dns.flow() {
        out.field(4, "dns", &dns);
    }
    out.list(
        4,
        "rule_collection_groups",
        &policy.groups,
        |out, (group_name, group)| {
            out.item(6, &group.source, group_name);
            out.field(8, "priority", &plain_or_quoted(&group.priority));
            out.list(
                8,
                "network_rule_collections",
                &group.network,
                |out, (name, c)| {
                    c.render(out, name);
                },
            );
            let application = group.application.values();
            out.list(8, "application_rule_collections", application, |out, c| {
                c.render(out);
            });
            if group.nat.values().any(NatCollection::is_written) {
                out.line("        nat_rule_collections:");
            }
            for c in group.nat.values() {
                c.render(out, edge);
            }
        },
    );
}
