//! Load balancers as the Azure CLI lists them (`az network lb list`),
//! turned into the azurerm resources Terraform would hold for them:
//! `azurerm_lb` with its `frontend_ip_configuration` blocks (a private
//! frontend's `subnet.id`, `privateIPAddress`, `privateIPAllocationMethod`
//! and `privateIPAddressVersion`; a public one's `publicIPAddress.id` or
//! `publicIPPrefix.id`), one `azurerm_lb_backend_address_pool` per pool
//! with one `azurerm_network_interface_backend_address_pool_association`
//! per NIC IP configuration in it (`backendIPConfigurations`), one
//! `azurerm_lb_probe` per probe, one `azurerm_lb_rule` per
//! load-balancing rule (with `disableOutboundSnat`) and one
//! `azurerm_lb_outbound_rule` per outbound rule (`frontendIPConfigurations`,
//! `backendAddressPool`, `protocol`, `allocatedOutboundPorts`,
//! `idleTimeoutInMinutes`, `enableTcpReset`).
//!
//! A part of a load balancer (frontend, pool, probe) is referred to by ID
//! and must be one of the same load balancer, matched without case; it is
//! written as the load balancer's own ID of it. A subnet must be in the
//! dump; a public IP or prefix need not (the writer leaves its frontend
//! out with the reason). A pool member that is not an IP configuration of
//! a NIC of nics.json (a scale set's instance) is left out, with its ID.

use super::attributes::{
    as_map, put_given, put_sku_name, put_text, put_texts, resource, top_level,
};
use super::known::Known;
use super::list::List;
use super::model::{LbFrontend, LbOutboundRule, LbProbe, LbRule, LoadBalancer, Reference};
use crate::json_file::Place;
use crate::write::id_names;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// The azurerm resources of the load balancers of `list`.
pub(super) fn resources(
    list: &List<'_, LoadBalancer>,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    for (at, lb) in list.each() {
        load_balancer(&at, lb, known, out)?;
    }
    Ok(())
}

fn load_balancer(
    at: &Place<'_>,
    lb: &LoadBalancer,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, lb, lb.location.as_deref())?;
    put_sku_name(&mut attributes, "sku", &lb.sku);
    let mut frontends = Vec::new();
    for (index, frontend) in lb.frontends.iter().enumerate() {
        let at = at.key("frontendIPConfigurations").index(index);
        frontends.push(Value::Object(frontend_block(&at, frontend, known)?));
    }
    attributes.insert("frontend_ip_configuration".into(), Value::Array(frontends));
    out.push(resource("azurerm_lb", &name, attributes, &id));
    let parts = Parts {
        lb_id: &id,
        lb: &name,
        frontends: lb.frontends.iter().map(|f| f.name.as_str()).collect(),
        pools: (lb.backend_address_pools.iter())
            .map(|p| p.name.as_str())
            .collect(),
        probes: lb.probes.iter().map(|p| p.name.as_str()).collect(),
    };
    for (index, pool) in lb.backend_address_pools.iter().enumerate() {
        let at = at.key("backendAddressPools").index(index);
        let pool_id = format!("{id}/backendAddressPools/{}", pool.name);
        let attributes = json!({"id": pool_id, "name": pool.name, "loadbalancer_id": id});
        out.push(resource(
            "azurerm_lb_backend_address_pool",
            &pool.name,
            as_map(attributes),
            &pool_id,
        ));
        for (member, config) in pool.backend_ip_configurations.iter().enumerate() {
            let at = at.key("backendIPConfigurations").index(member);
            out.push(pool_member(&at, &config.id, &pool_id, known)?);
        }
    }
    for (index, probe) in lb.probes.iter().enumerate() {
        out.push(probe_resource(
            &at.key("probes").index(index),
            probe,
            &parts,
        )?);
    }
    for (index, rule) in lb.load_balancing_rules.iter().enumerate() {
        let at = at.key("loadBalancingRules").index(index);
        out.push(rule_resource(&at, rule, &parts)?);
    }
    for (index, rule) in lb.outbound_rules.iter().enumerate() {
        let at = at.key("outboundRules").index(index);
        out.push(outbound_rule_resource(&at, rule, &parts)?);
    }
    Ok(())
}

/// The parts of one load balancer, by name, that its rules refer to.
struct Parts<'a> {
    lb_id: &'a str,
    lb: &'a str,
    frontends: Vec<&'a str>,
    pools: Vec<&'a str>,
    probes: Vec<&'a str>,
}

impl Parts<'_> {
    /// The name and ID of the part of kind `kind` that `r` (at `at`)
    /// names, which must be one of this load balancer's.
    fn named(
        &self,
        at: &Place<'_>,
        kind: &str,
        r: &Reference,
    ) -> Result<(String, String), ImportError> {
        let names = match kind {
            "frontendIPConfigurations" => &self.frontends,
            "backendAddressPools" => &self.pools,
            _ => &self.probes,
        };
        let own =
            r.id.to_ascii_lowercase()
                .starts_with(&format!("{}/", self.lb_id.to_ascii_lowercase()));
        let name = id_names(&r.id, &[kind])
            .map(|mut n| n.remove(0))
            .and_then(|n| names.iter().find(|k| k.eq_ignore_ascii_case(&n)).copied());
        match name.filter(|_| own) {
            Some(name) => Ok((name.to_string(), format!("{}/{kind}/{name}", self.lb_id))),
            None => Err(at.error(format!(
                "`{}` names no {kind} of load balancer `{}`",
                r.id, self.lb
            ))),
        }
    }

    /// The name and ID of the part of kind `kind` that member `key` of
    /// `what` (a rule, at `at`) names: it must name one.
    fn required(
        &self,
        at: &Place<'_>,
        what: &str,
        key: &str,
        kind: &str,
        r: Option<&Reference>,
    ) -> Result<(String, String), ImportError> {
        let Some(r) = r else {
            return Err(at.error(format!("{what} has no `{key}`")));
        };
        self.named(&at.key(key).key("id"), kind, r)
    }

    /// What every part's resource carries: its ID, name and load balancer.
    fn attributes(&self, kind: &str, name: &str) -> (String, Map<String, Value>) {
        let id = format!("{}/{kind}/{name}", self.lb_id);
        let mut attributes = Map::new();
        attributes.insert("id".into(), json!(id));
        attributes.insert("name".into(), json!(name));
        attributes.insert("loadbalancer_id".into(), json!(self.lb_id));
        (id, attributes)
    }
}

fn probe_resource(
    at: &Place<'_>,
    probe: &LbProbe,
    parts: &Parts<'_>,
) -> Result<Resource, ImportError> {
    let (probe_id, mut attributes) = parts.attributes("probes", &probe.name);
    put_text(&mut attributes, "protocol", probe.protocol.as_deref());
    let Some(port) = probe.port else {
        return Err(at.error(format!("probe `{}` has no `port`", probe.name)));
    };
    attributes.insert("port".into(), json!(port));
    put_text(
        &mut attributes,
        "request_path",
        probe.request_path.as_deref(),
    );
    put_given(
        &mut attributes,
        [
            ("interval_in_seconds", probe.interval_in_seconds),
            ("number_of_probes", probe.number_of_probes),
            ("probe_threshold", probe.probe_threshold),
        ],
    );
    let kind = "azurerm_lb_probe";
    Ok(resource(kind, &probe.name, attributes, &probe_id))
}

fn rule_resource(
    at: &Place<'_>,
    rule: &LbRule,
    parts: &Parts<'_>,
) -> Result<Resource, ImportError> {
    let (rule_id, mut attributes) = parts.attributes("loadBalancingRules", &rule.name);
    let what = format!("rule `{}`", rule.name);
    let frontend = rule.frontend.as_ref();
    let (frontend, _) = parts.required(
        at,
        &what,
        "frontendIPConfiguration",
        "frontendIPConfigurations",
        frontend,
    )?;
    attributes.insert("frontend_ip_configuration_name".into(), json!(frontend));
    let mut pools = Vec::new();
    for (i, pool) in rule.backend_address_pools.iter().enumerate() {
        let at = at.key("backendAddressPools").index(i).key("id");
        pools.push(parts.named(&at, "backendAddressPools", pool)?.1);
    }
    if let Some(pool) = rule.backend_address_pool.as_ref() {
        let at = at.key("backendAddressPool").key("id");
        let (_, pool) = parts.named(&at, "backendAddressPools", pool)?;
        if !pools.contains(&pool) {
            pools.push(pool);
        }
    }
    attributes.insert("backend_address_pool_ids".into(), json!(pools));
    if let Some(probe) = &rule.probe {
        let (_, probe) = parts.named(&at.key("probe").key("id"), "probes", probe)?;
        attributes.insert("probe_id".into(), json!(probe));
    }
    put_text(&mut attributes, "protocol", rule.protocol.as_deref());
    put_given(
        &mut attributes,
        [
            ("frontend_port", rule.frontend_port),
            ("backend_port", rule.backend_port),
            ("idle_timeout_in_minutes", rule.idle_timeout_in_minutes),
        ],
    );
    put_text(
        &mut attributes,
        "load_distribution",
        rule.load_distribution.as_deref(),
    );
    put_given(
        &mut attributes,
        [
            ("enable_floating_ip", rule.enable_floating_ip),
            ("disable_outbound_snat", rule.disable_outbound_snat),
        ],
    );
    let kind = "azurerm_lb_rule";
    Ok(resource(kind, &rule.name, attributes, &rule_id))
}

fn outbound_rule_resource(
    at: &Place<'_>,
    rule: &LbOutboundRule,
    parts: &Parts<'_>,
) -> Result<Resource, ImportError> {
    let (rule_id, mut attributes) = parts.attributes("outboundRules", &rule.name);
    let mut blocks = Vec::new();
    for (i, frontend) in rule.frontends.iter().enumerate() {
        let at = at.key("frontendIPConfigurations").index(i).key("id");
        let (name, id) = parts.named(&at, "frontendIPConfigurations", frontend)?;
        blocks.push(json!({"id": id, "name": name}));
    }
    attributes.insert("frontend_ip_configuration".into(), Value::Array(blocks));
    let what = format!("outbound rule `{}`", rule.name);
    let pool = rule.backend_address_pool.as_ref();
    let (_, pool) = parts.required(at, &what, "backendAddressPool", "backendAddressPools", pool)?;
    attributes.insert("backend_address_pool_id".into(), json!(pool));
    put_text(&mut attributes, "protocol", rule.protocol.as_deref());
    // Azure's 0 (or nothing) is its allocation by pool size, not
    // azurerm's default of 1024.
    let ports = rule.allocated_outbound_ports.unwrap_or(0);
    attributes.insert("allocated_outbound_ports".into(), json!(ports));
    if let Some(minutes) = rule.idle_timeout_in_minutes {
        attributes.insert("idle_timeout_in_minutes".into(), json!(minutes));
    }
    if let Some(reset) = rule.enable_tcp_reset {
        attributes.insert("enable_tcp_reset".into(), json!(reset));
    }
    let kind = "azurerm_lb_outbound_rule";
    Ok(resource(kind, &rule.name, attributes, &rule_id))
}

/// A frontend as azurerm's `frontend_ip_configuration` block.
fn frontend_block(
    at: &Place<'_>,
    frontend: &LbFrontend,
    known: &Known,
) -> Result<Map<String, Value>, ImportError> {
    let mut block = Map::new();
    block.insert("name".into(), json!(frontend.name));
    if let Some(subnet) = known.reference("subnet", &at.key("subnet"), frontend.subnet.as_ref())? {
        block.insert("subnet_id".into(), json!(subnet));
    }
    put_texts(
        &mut block,
        [
            ("private_ip_address", frontend.private_ip_address.as_deref()),
            (
                "private_ip_address_allocation",
                frontend.private_ip_allocation_method.as_deref(),
            ),
            (
                "private_ip_address_version",
                frontend.private_ip_address_version.as_deref(),
            ),
        ],
    );
    if let Some(ip) = &frontend.public_ip_address {
        let ip = known.own_id_or_given("public_ip", &ip.id);
        block.insert("public_ip_address_id".into(), json!(ip));
    }
    if let Some(prefix) = &frontend.public_ip_prefix {
        let prefix = known.own_id_or_given("public_ip_prefix", &prefix.id);
        block.insert("public_ip_prefix_id".into(), json!(prefix));
    }
    Ok(block)
}

/// The NIC IP configuration `config` of pool `pool_id`, as the provider's
/// association resource (its ID `CONFIG|POOL`); one that is not of a NIC
/// of the dump is left out, with its ID.
fn pool_member(
    at: &Place<'_>,
    config: &str,
    pool_id: &str,
    known: &Known,
) -> Result<Resource, ImportError> {
    let association = format!("{config}|{pool_id}");
    let kind = "azurerm_network_interface_backend_address_pool_association";
    let parts: Vec<&str> = config.trim_end_matches('/').split('/').collect();
    let nic = (parts.len() > 2 && parts[parts.len() - 2].eq_ignore_ascii_case("ipConfigurations"))
        .then(|| parts[..parts.len() - 2].join("/"))
        .filter(|nic| id_names(nic, &["networkInterfaces"]).is_some());
    let resolved = nic.and_then(|nic| known.resolve("nic", at, &nic).ok());
    let Some(nic) = resolved else {
        return Ok(Resource {
            kind: kind.into(),
            name: format!("`{config}` (not an IP configuration of a NIC of nics.json)"),
            attributes: Value::Null,
            source: association,
        });
    };
    let attributes = json!({"id": association, "network_interface_id": nic,
                            "ip_configuration_name": parts[parts.len() - 1],
                            "backend_address_pool_id": pool_id});
    let nic_name = parts[parts.len() - 3];
    Ok(resource(kind, nic_name, as_map(attributes), &association))
}
