//! Writing `virtual_wans`, `virtual_hubs` (each hub with its parts) and
//! `vpn_sites`, every list in name order.

use super::super::model::Model;
use super::super::output::{flow_list, scalar, Output};
use super::{Connection, Hub, Part, VpnSite};

impl Model<'_> {
    pub(in crate::write) fn render_virtual_wans(&self, out: &mut Output) {
        let v = &self.virtual_wans;
        out.list(0, "virtual_wans", &v.wans, |out, (name, wan)| {
            render_part(out, 2, name, wan);
        });
        out.list(0, "virtual_hubs", &v.hubs, |out, (name, hub)| {
            render_hub(out, name, hub);
        });
        if v.sites.is_empty() {
            return;
        }
        out.line("");
        out.line("# A VPN site's `site` is vnetd's own: the on_premises_sites entry that runs");
        out.line("# the branch's device. It is written when a local network gateway of the");
        out.line("# input has the address of one of the site's links; otherwise write that");
        out.line("# site and name it here.");
        out.line("vpn_sites:");
        for (name, site) in &v.sites {
            self.render_vpn_site(out, name, site);
        }
    }

    fn render_vpn_site(&self, out: &mut Output, name: &str, site: &VpnSite) {
        out.item(2, &site.source, name);
        out.field(4, "virtual_wan", &scalar(&site.wan));
        let device = (site.links.iter())
            .filter_map(|l| l.ip_address.as_deref())
            .find_map(|ip| self.site_at_address(ip));
        out.scalar_field(4, "site", device.as_deref());
        if !site.address_cidrs.is_empty() {
            out.field(4, "address_cidrs", &flow_list(&site.address_cidrs));
        }
        out.list(4, "links", &site.links, |out, link| {
            out.line(&format!("      - name: {}", scalar(&link.name)));
            for (key, value) in &link.fields {
                out.field(8, key, value);
            }
        });
    }
}

/// An object of a list at `indent`: its source, name and fields.
fn render_part(out: &mut Output, indent: usize, name: &str, part: &Part) {
    out.item(indent, &part.source, name);
    for (key, value) in &part.fields {
        out.field(indent + 2, key, value);
    }
}

/// A mapping under `key` at 4 (a hub's gateway): its source, name and
/// fields.
fn render_one(out: &mut Output, key: &str, (name, part): &(String, Part)) {
    out.line(&format!("    {key}:"));
    out.source(6, &part.source);
    out.field(6, "name", &scalar(name));
    for (field, value) in &part.fields {
        out.field(6, field, value);
    }
}

fn render_hub(out: &mut Output, name: &str, hub: &Hub) {
    out.item(2, &hub.source, name);
    out.notes(4, &hub.notes);
    for (key, value) in &hub.fields {
        out.field(4, key, value);
    }
    // A built-in table is written for what the file adds to it.
    let tables = (hub.route_tables.iter()).filter(|(name, t)| {
        let adds = !(t.labels.is_empty() && t.routes.is_empty() && t.notes.is_empty());
        !super::is_built_in(name) || adds
    });
    out.list(4, "route_tables", tables, |out, (table_name, table)| {
        out.item(6, &table.source, table_name);
        out.notes(8, &table.notes);
        if !table.labels.is_empty() {
            out.field(8, "labels", &flow_list(&table.labels));
        }
        let routes = super::super::output::by_name(&table.routes, |r| &r.name);
        out.list(8, "routes", routes, |out, route| {
            out.item(10, &route.source, &route.name);
            out.scalar_field(12, "destinations_type", route.destinations_type.as_deref());
            out.field(12, "destinations", &flow_list(&route.destinations));
            out.field(12, "next_hop", &scalar(&route.next_hop.written_from(name)));
        });
    });
    let connections = &hub.connections;
    out.list(4, "connections", connections, |out, (c_name, c)| {
        render_connection(out, name, c_name, c);
    });
    out.list(
        4,
        "bgp_connections",
        &hub.bgp_connections,
        |out, (b_name, b)| {
            out.source(6, &b.source);
            let mut parts = vec![format!("name: {}", scalar(b_name))];
            parts.extend(
                b.fields
                    .iter()
                    .map(|(key, value)| format!("{key}: {value}")),
            );
            out.line(&format!("      - {{{}}}", parts.join(", ")));
        },
    );
    if let Some((intent_name, intent)) = &hub.routing_intent {
        out.line("    routing_intent:");
        out.source(6, &intent.source);
        out.field(6, "name", &scalar(intent_name));
        out.list(6, "routing_policies", &intent.policies, |out, policy| {
            let (policy_name, destinations, next_hop) = policy;
            out.line(&format!("        - name: {}", scalar(policy_name)));
            out.field(10, "destinations", &flow_list(destinations));
            out.field(10, "next_hop", &scalar(next_hop));
        });
    }
    if let Some(gateway) = &hub.vpn_gateway {
        render_one(out, "vpn_gateway", gateway);
    }
    out.list(
        4,
        "vpn_connections",
        &hub.vpn_connections,
        |out, (c_name, c)| {
            render_connection(out, name, c_name, c);
        },
    );
    if let Some(gateway) = &hub.express_route_gateway {
        render_one(out, "express_route_gateway", gateway);
    }
    let er = &hub.express_route_connections;
    out.list(4, "express_route_connections", er, |out, (c_name, c)| {
        render_connection(out, name, c_name, c);
    });
}

/// A connection of `hub` at 6: its fields, its routing and its links.
fn render_connection(out: &mut Output, hub: &str, name: &str, c: &Connection) {
    out.item(6, &c.source, name);
    for (key, value) in &c.fields {
        out.field(8, key, value);
    }
    if let Some(routing) = &c.routing {
        routing.render(out, 8, hub);
    }
    out.list(8, "vpn_links", &c.links, |out, (link_name, fields)| {
        out.line(&format!("          - name: {}", scalar(link_name)));
        for (key, value) in fields {
            out.field(12, key, value);
        }
    });
}
