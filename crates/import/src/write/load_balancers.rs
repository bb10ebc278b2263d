//! Standard load balancers, internal and public: `azurerm_lb` with its
//! backend pools, probes, load-balancing rules, outbound rules and the
//! NICs' pool associations, written as the topology's `load_balancers`.
//!
//! A frontend with a `subnet_id` is private (an internal load balancer);
//! one with a `public_ip_address_id` is public, written with the name of
//! that public IP, which must be one the import writes (see `edge`). A
//! frontend vnetd cannot write is left out, listed with the load balancer
//! and the reason: one on a public IP the input does not hold (or leaves
//! out), and one on a public IP prefix only (`public_ip_prefix_id`: Azure
//! gives it the prefix's addresses, a vnetd frontend has one). A rule on a
//! left-out frontend is listed as ignored; an outbound rule loses that
//! frontend, and is listed as ignored when none is left. Frontends public
//! and private in one load balancer are written as they are: the topology
//! file refuses them with Azure's reason.
//!
//! A load-balancing rule keeps `disable_outbound_snat` when true; an
//! outbound rule (`azurerm_lb_outbound_rule`) is written with its
//! frontends, pool, protocol, `allocated_outbound_ports` (azurerm's
//! default, 1024, when the configuration does not say; 0, Azure's
//! allocation by pool size, is not written), idle timeout and TCP reset.
//!
//! A Basic (or Gateway) load balancer is listed as ignored, with
//! everything that belongs to it, and so is one left with no frontend.

use super::attrs::Attrs;
use super::gateways::Part;
use super::ids::id_names;
use super::model::Model;
use super::output::{flow_list, plain_or_quoted, scalar, Output};
use crate::ImportError;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

#[derive(Debug)]
pub(super) struct LoadBalancer {
    pub name: String,
    pub source: String,
    /// Its place in the input, the order of Dynamic allocation.
    pub input_index: usize,
    pub frontends: Vec<Frontend>,
    pub pools: BTreeMap<String, Pool>,
    pub probes: BTreeMap<String, Part>,
    pub rules: BTreeMap<String, Part>,
    pub outbound_rules: BTreeMap<String, Part>,
    /// Frontends that cannot be written, and why.
    pub left_out_frontends: BTreeMap<String, String>,
}

#[derive(Debug)]
pub(super) struct Frontend {
    pub name: String,
    /// The subnet of a private frontend; `None` for a public one.
    pub subnet: Option<(String, String)>,
    /// The public IP of a public frontend, by name.
    pub public_ip: Option<String>,
    pub address: Option<IpAddr>,
    pub ipv6: bool,
}

#[derive(Debug)]
pub(super) struct Pool {
    source: String,
    nics: BTreeSet<String>,
}

impl<'r> Model<'r> {
    pub(super) fn add_load_balancer(
        &mut self,
        a: &Attrs<'r>,
        index: usize,
    ) -> Result<(), ImportError> {
        let name = a.new_name(&self.load_balancers, "load balancer", |f| &f.source)?;
        if !is_standard(&a.r.attributes) {
            let sku = a.str("sku").unwrap_or_default();
            let why =
                format!("{sku} load balancers are not emulated (vnetd emulates Standard ones)");
            return self.skip_load_balancer(a, name, why);
        }
        let mut frontends = Vec::new();
        let mut left_out_frontends = BTreeMap::new();
        for block in a.blocks("frontend_ip_configuration") {
            let b = Attrs::nested(a.r, block);
            let frontend = b.required_str("name")?;
            if let Some(id) = b.str("public_ip_address_id") {
                match self.edge.public_ip_named(&id) {
                    Ok(public_ip) => frontends.push(Frontend {
                        name: frontend,
                        subnet: None,
                        public_ip: Some(public_ip),
                        address: None,
                        ipv6: false,
                    }),
                    Err(why) => {
                        left_out_frontends.insert(frontend, why);
                    }
                }
                continue;
            }
            if let Some(id) = b.str("public_ip_prefix_id") {
                let prefix =
                    id_names(&id, &["publicIPPrefixes"]).map_or(id, |mut names| names.remove(0));
                let why = format!(
                    "it takes its addresses from public IP prefix `{prefix}`; a vnetd frontend \
                     takes one public IP address"
                );
                left_out_frontends.insert(frontend, why);
                continue;
            }
            let Some(subnet_id) = b.str("subnet_id") else {
                return Err(a.error(format!(
                    "frontend `{frontend}` has no subnet_id, public_ip_address_id or \
                     public_ip_prefix_id"
                )));
            };
            let subnet = a.subnet_in_id(&subnet_id, "frontend_ip_configuration.subnet_id")?;
            self.subnet_mut(a, &subnet.0, &subnet.1)?;
            let what = format!("frontend `{frontend}`");
            let address = a.private_address(&b, "private_ip_address_allocation", &what)?;
            frontends.push(Frontend {
                name: frontend,
                subnet: Some(subnet),
                public_ip: None,
                address,
                ipv6: b
                    .str("private_ip_address_version")
                    .is_some_and(|v| v.eq_ignore_ascii_case("ipv6")),
            });
        }
        if frontends.is_empty() && !left_out_frontends.is_empty() {
            let why: Vec<String> = left_out_frontends
                .iter()
                .map(|(name, why)| format!("frontend `{name}` left out: {why}"))
                .collect();
            let why = format!("no frontend vnetd can write ({})", why.join("; "));
            return self.skip_load_balancer(a, name, why);
        }
        frontends.sort_by(|x, y| x.name.cmp(&y.name));
        self.load_balancers.insert(
            name.clone(),
            LoadBalancer {
                name,
                source: a.r.source.clone(),
                input_index: index,
                frontends,
                pools: BTreeMap::new(),
                probes: BTreeMap::new(),
                rules: BTreeMap::new(),
                outbound_rules: BTreeMap::new(),
                left_out_frontends: left_out_frontends.clone(),
            },
        );
        for (frontend, why) in left_out_frontends {
            let note = format!("frontend `{frontend}` left out: {why}");
            self.ignored.push((a.r, note));
        }
        Ok(())
    }

    fn skip_load_balancer(
        &mut self,
        a: &Attrs<'r>,
        name: String,
        why: String,
    ) -> Result<(), ImportError> {
        self.ignored.push((a.r, why.clone()));
        self.skipped_load_balancers.insert(name, why);
        Ok(())
    }

    /// The load balancer `lb` names, or `None` when it is one vnetd does
    /// not emulate (then `a` is listed as ignored with it).
    fn load_balancer_named(
        &mut self,
        a: &Attrs<'r>,
        lb: &str,
        key: &str,
    ) -> Result<Option<&mut LoadBalancer>, ImportError> {
        if self.skipped_load_balancers.contains_key(lb) {
            let note = format!("belongs to load balancer `{lb}`, which is not emulated");
            self.ignored.push((a.r, note));
            return Ok(None);
        }
        match self.load_balancers.get_mut(lb) {
            Some(found) => Ok(Some(found)),
            None => Err(a.dangling(key)),
        }
    }

    /// True when `frontend` of load balancer `lb` is left out: then `a`,
    /// which needs it, is listed as ignored with the reason.
    fn on_left_out_frontend(&mut self, a: &Attrs<'r>, lb: &str, frontend: &str) -> bool {
        let why = self
            .load_balancers
            .get(lb)
            .and_then(|lb| lb.left_out_frontends.get(frontend));
        let Some(why) = why else {
            return false;
        };
        let note = format!("its frontend `{frontend}` is left out: {why}");
        self.ignored.push((a.r, note));
        true
    }

    pub(super) fn add_pool(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let lb = a.id_name("loadbalancer_id", "loadBalancers")?;
        let source = a.r.source.clone();
        let Some(lb) = self.load_balancer_named(a, &lb, "loadbalancer_id")? else {
            return Ok(());
        };
        let what = format!("backend pool of load balancer `{}`", lb.name);
        let pool = Pool {
            source,
            nics: BTreeSet::new(),
        };
        a.insert_unique(&mut lb.pools, &what, name, pool, |f| &f.source)
    }

    pub(super) fn add_probe(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let lb = a.id_name("loadbalancer_id", "loadBalancers")?;
        let mut fields = vec![
            (
                "protocol",
                scalar(&a.str("protocol").unwrap_or_else(|| "Tcp".into())),
            ),
            ("port", plain_or_quoted(&a.required_str("port")?)),
        ];
        if let Some(path) = a.str("request_path") {
            fields.push(("request_path", scalar(&path)));
        }
        if let Some(interval) = a.str("interval_in_seconds").filter(|i| i != "15") {
            fields.push(("interval_in_seconds", plain_or_quoted(&interval)));
        }
        // As vnetd reads it: probe_threshold, else the older number_of_probes.
        let threshold = a
            .str("probe_threshold")
            .or_else(|| a.str("number_of_probes"));
        if let Some(threshold) = threshold.filter(|t| t != "1") {
            fields.push(("probe_threshold", plain_or_quoted(&threshold)));
        }
        let part = Part::new(a, fields);
        let Some(lb) = self.load_balancer_named(a, &lb, "loadbalancer_id")? else {
            return Ok(());
        };
        let what = format!("probe of load balancer `{}`", lb.name);
        a.insert_unique(&mut lb.probes, &what, name, part, |f| &f.source)
    }

    pub(super) fn add_lb_rule(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let lb_name = a.id_name("loadbalancer_id", "loadBalancers")?;
        let frontend = a.required_str("frontend_ip_configuration_name")?;
        let mut pool_ids = a.list("backend_address_pool_ids");
        pool_ids.extend(a.str("backend_address_pool_id"));
        let [pool_id] = pool_ids.as_slice() else {
            return Err(a.error(format!(
                "load-balancing rule `{name}` has {} backend pools; vnetd takes one",
                pool_ids.len()
            )));
        };
        let pool = part_of(
            a,
            pool_id,
            &lb_name,
            "backendAddressPools",
            "backend_address_pool_ids",
        )?;
        let probe = match a.str("probe_id") {
            Some(id) => Some(part_of(a, &id, &lb_name, "probes", "probe_id")?),
            None => None,
        };
        let mut fields = vec![
            ("frontend_ip_configuration", scalar(&frontend)),
            ("backend_address_pool", scalar(&pool)),
        ];
        if let Some(probe) = &probe {
            fields.push(("probe", scalar(probe)));
        }
        fields.push(("protocol", scalar(&a.required_str("protocol")?)));
        fields.push((
            "frontend_port",
            plain_or_quoted(&a.required_str("frontend_port")?),
        ));
        fields.push((
            "backend_port",
            plain_or_quoted(&a.required_str("backend_port")?),
        ));
        if let Some(d) = a
            .str("load_distribution")
            .filter(|d| !d.eq_ignore_ascii_case("default"))
        {
            fields.push(("load_distribution", scalar(&d)));
        }
        if a.bool("floating_ip_enabled") == Some(true) || a.bool("enable_floating_ip") == Some(true)
        {
            fields.push(("floating_ip_enabled", "true".to_string()));
        }
        if let Some(idle) = a.str("idle_timeout_in_minutes").filter(|i| i != "4") {
            fields.push(("idle_timeout_in_minutes", plain_or_quoted(&idle)));
        }
        if a.bool("disable_outbound_snat") == Some(true) {
            fields.push(("disable_outbound_snat", "true".to_string()));
        }
        let part = Part::new(a, fields);
        if self.on_left_out_frontend(a, &lb_name, &frontend) {
            return Ok(());
        }
        let Some(lb) = self.load_balancer_named(a, &lb_name, "loadbalancer_id")? else {
            return Ok(());
        };
        if !lb.frontends.iter().any(|f| f.name == frontend) {
            return Err(a.error(format!(
                "load balancer `{lb_name}` has no frontend named `{frontend}`"
            )));
        }
        if !lb.pools.contains_key(&pool) {
            return Err(a.dangling("backend_address_pool_ids"));
        }
        if probe.as_ref().is_some_and(|p| !lb.probes.contains_key(p)) {
            return Err(a.dangling("probe_id"));
        }
        let what = format!("rule of load balancer `{lb_name}`");
        a.insert_unique(&mut lb.rules, &what, name, part, |f| &f.source)
    }

    /// `azurerm_lb_outbound_rule`: one more outbound rule of its load
    /// balancer, without its frontends that are left out.
    pub(super) fn add_outbound_rule(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let lb_name = a.id_name("loadbalancer_id", "loadBalancers")?;
        let mut frontends = Vec::new();
        for block in a.blocks("frontend_ip_configuration") {
            let b = Attrs::nested(a.r, block);
            // State holds each frontend's ID beside its name.
            let name = b.str("name").or_else(|| {
                let id = b.str("id")?;
                id_names(&id, &["loadBalancers", "frontendIPConfigurations"])
                    .map(|mut names| names.remove(1))
            });
            let Some(name) = name else {
                return Err(b.error("a frontend_ip_configuration block has no name"));
            };
            if !frontends.contains(&name) {
                frontends.push(name);
            }
        }
        let pool_id = a.required_str("backend_address_pool_id")?;
        let pool = part_of(
            a,
            &pool_id,
            &lb_name,
            "backendAddressPools",
            "backend_address_pool_id",
        )?;
        let mut notes = Vec::new();
        let mut kept = Vec::new();
        for frontend in frontends {
            let left_out = self
                .load_balancers
                .get(&lb_name)
                .and_then(|lb| lb.left_out_frontends.get(&frontend));
            match left_out {
                Some(why) => notes.push(format!("frontend `{frontend}` left out: {why}")),
                None => kept.push(frontend),
            }
        }
        if kept.is_empty() && !notes.is_empty() {
            let note = format!("no frontend left ({})", notes.join("; "));
            self.ignored.push((a.r, note));
            return Ok(());
        }
        let mut fields = vec![
            ("frontend_ip_configurations", flow_list(&kept)),
            ("backend_address_pool", scalar(&pool)),
            ("protocol", scalar(&a.required_str("protocol")?)),
        ];
        // Absent, azurerm sends its default of 1024; 0 asks Azure for its
        // allocation by pool size, the file's default.
        let ports = a
            .str("allocated_outbound_ports")
            .unwrap_or_else(|| "1024".into());
        if ports != "0" {
            fields.push(("allocated_outbound_ports", plain_or_quoted(&ports)));
        }
        if let Some(idle) = a.str("idle_timeout_in_minutes").filter(|i| i != "4") {
            fields.push(("idle_timeout_in_minutes", plain_or_quoted(&idle)));
        }
        // v3 `enable_tcp_reset`, v4 `tcp_reset_enabled`.
        if a.bool("tcp_reset_enabled") == Some(true) || a.bool("enable_tcp_reset") == Some(true) {
            fields.push(("tcp_reset_enabled", "true".to_string()));
        }
        let part = Part::new(a, fields);
        let Some(lb) = self.load_balancer_named(a, &lb_name, "loadbalancer_id")? else {
            return Ok(());
        };
        if let Some(missing) = kept
            .iter()
            .find(|f| !lb.frontends.iter().any(|fe| &fe.name == *f))
        {
            return Err(a.error(format!(
                "load balancer `{lb_name}` has no frontend named `{missing}`"
            )));
        }
        if !lb.pools.contains_key(&pool) {
            return Err(a.dangling("backend_address_pool_id"));
        }
        let what = format!("outbound rule of load balancer `{lb_name}`");
        a.insert_unique(&mut lb.outbound_rules, &what, name, part, |f| &f.source)?;
        for note in notes {
            self.ignored.push((a.r, note));
        }
        Ok(())
    }

    pub(super) fn add_pool_member(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let nic = a.id_name("network_interface_id", "networkInterfaces")?;
        let pool_id = a.required_str("backend_address_pool_id")?;
        let Some(names) = id_names(&pool_id, &["loadBalancers", "backendAddressPools"]) else {
            return Err(a.error(format!(
                "backend_address_pool_id `{pool_id}` is not the ID of a backend pool \
                 (.../loadBalancers/LB/backendAddressPools/POOL)"
            )));
        };
        if !self.nics.iter().any(|n| n.name == nic) {
            return Err(a.dangling("network_interface_id"));
        }
        let Some(lb) = self.load_balancer_named(a, &names[0], "backend_address_pool_id")? else {
            return Ok(());
        };
        match lb.pools.get_mut(&names[1]) {
            Some(pool) => {
                pool.nics.insert(nic);
                Ok(())
            }
            None => Err(a.dangling("backend_address_pool_id")),
        }
    }

    pub(super) fn render_load_balancers(&self, out: &mut Output) {
        let lbs = self.load_balancers.values();
        out.list(0, "load_balancers", lbs, |out, lb| {
            out.item(2, &lb.source, &lb.name);
            out.line("    sku: Standard");
            out.line("    frontend_ip_configurations:");
            for f in &lb.frontends {
                out.line(&format!("      - name: {}", scalar(&f.name)));
                out.scalar_field(8, "public_ip_address", f.public_ip.as_deref());
                if let Some((vnet, subnet)) = &f.subnet {
                    let address = f.address.map(|a| a.to_string()).unwrap_or_default();
                    out.field(8, "subnet", &scalar(&format!("{vnet}/{subnet}")));
                    out.field(8, "private_ip_address", &scalar(&address));
                }
            }
            out.line("    backend_address_pools:");
            for (name, pool) in &lb.pools {
                let nics: Vec<String> = pool.nics.iter().cloned().collect();
                out.item(6, &pool.source, name);
                out.field(8, "network_interfaces", &flow_list(&nics));
            }
            for (key, parts) in [
                ("probes", &lb.probes),
                ("rules", &lb.rules),
                ("outbound_rules", &lb.outbound_rules),
            ] {
                out.list(4, key, parts, |out, (name, part)| part.render(out, 6, name));
            }
        });
    }
}

/// The name of a load balancer's pool or probe from its ID, which must be
/// of load balancer `lb`.
fn part_of(a: &Attrs, id: &str, lb: &str, kind: &str, key: &str) -> Result<String, ImportError> {
    match id_names(id, &["loadBalancers", kind]) {
        Some(names) if names[0] == lb => Ok(names[1].clone()),
        Some(names) => Err(a.error(format!(
            "{key} `{id}` is of load balancer `{}`, not of `{lb}`",
            names[0]
        ))),
        None => Err(a.error(format!(
            "{key} `{id}` is not the ID of a load balancer's {kind} (.../loadBalancers/LB/{kind}/NAME)"
        ))),
    }
}

/// Whether an `azurerm_lb`'s attributes are a Standard load balancer's,
/// the one SKU vnetd emulates (a `sku` not given is taken as Standard).
pub(super) fn is_standard(attributes: &serde_json::Value) -> bool {
    match attributes.get("sku") {
        Some(serde_json::Value::String(sku)) => {
            sku.is_empty() || sku.eq_ignore_ascii_case("standard")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests;
