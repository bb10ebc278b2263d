//! A hub connection's `routing` block, the same for a VNet connection, a
//! VPN connection and an ExpressRoute connection: the route table it is
//! associated with, the tables and labels it propagates to, and (a VNet
//! connection's) static routes; each route table named as the file names
//! it, from the hub the connection belongs to.
//!
//! Azure's own routing, written when a connection has no `routing` block
//! (the table `defaultRouteTable` associated, propagation to it and to the
//! label `default`), is what state and `az` show for such a connection:
//! it is not written either, so a configuration and its state give one
//! file.

use super::super::attrs::Nested;
use super::super::ids::id_names;
use super::super::output::{flow_list, scalar, Output};
use super::super::rules::sorted_prefixes;
use crate::ImportError;

/// The route table every hub has, which a connection is associated with
/// and propagates to unless it says otherwise.
pub(super) const DEFAULT_TABLE: &str = "defaultRouteTable";

/// The hub's other built-in route table: propagating to it propagates
/// nowhere.
pub(super) const NONE_TABLE: &str = "noneRouteTable";

/// A route table a connection names: its hub and its name, with the ID
/// it was given as and under which attribute, for messages.
#[derive(Debug, Clone)]
pub(super) struct TableRef {
    pub(super) hub: String,
    pub(super) table: String,
    pub(super) id: String,
    pub(super) key: String,
}

impl TableRef {
    /// The name the file gives the table from `hub`: its own name in that
    /// hub, `hub/table` in another.
    pub(super) fn written_from(&self, hub: &str) -> String {
        if self.hub == hub {
            self.table.clone()
        } else {
            format!("{}/{}", self.hub, self.table)
        }
    }

    fn is_default_of(&self, hub: &str) -> bool {
        self.hub == hub && self.table == DEFAULT_TABLE
    }
}

/// One `static_vnet_route` of a VNet connection.
#[derive(Debug, PartialEq)]
struct StaticRoute {
    name: String,
    address_prefixes: Vec<String>,
    next_hop: Option<String>,
}

/// A connection's `routing` block, read.
#[derive(Debug)]
pub(super) struct Routing {
    /// Where the block came from, for refusals of what it names.
    pub(super) source: String,
    associated: Option<TableRef>,
    /// `propagated_route_table`, when given: its labels (sorted, once
    /// each) and its tables.
    propagated: Option<(Vec<String>, Vec<TableRef>)>,
    static_routes: Vec<StaticRoute>,
    /// `static_vnet_local_route_override_criteria`, when not Azure's
    /// default (`Contains`).
    override_criteria: Option<String>,
    /// `static_vnet_propagate_static_routes_enabled: false` (true is the
    /// default).
    no_static_propagation: bool,
}

impl Routing {
    /// The `routing` block of a connection (`b`, the connection's own
    /// attributes): `associated` names the attribute of the associated
    /// table (`associated_route_table_id`, a VPN connection's
    /// `associated_route_table`). None when there is no block, or when
    /// it says what Azure does without one.
    pub(super) fn read(
        b: &Nested,
        associated: &str,
        own_hub: &str,
    ) -> Result<Option<Routing>, ImportError> {
        let Some(block) = b.blocks("routing").into_iter().next() else {
            return Ok(None);
        };
        let r = Nested {
            values: block,
            resource: b.resource,
        };
        let associated = match r.str(associated) {
            Some(id) => Some(hub_table_ref(&r, &id, &format!("routing.{associated}"))?),
            None => None,
        };
        let propagated = match r.blocks("propagated_route_table").into_iter().next() {
            Some(block) => {
                let p = Nested {
                    values: block,
                    resource: b.resource,
                };
                let mut labels = p.list("labels");
                labels.sort();
                labels.dedup();
                let key = "routing.propagated_route_table.route_table_ids";
                let mut tables = Vec::new();
                for id in p.list("route_table_ids") {
                    tables.push(hub_table_ref(&p, &id, key)?);
                }
                Some((labels, tables))
            }
            None => None,
        };
        let mut static_routes = Vec::new();
        for block in r.blocks("static_vnet_route") {
            let s = Nested {
                values: block,
                resource: b.resource,
            };
            static_routes.push(StaticRoute {
                name: s.required_str("name")?,
                address_prefixes: sorted_prefixes(s.list("address_prefixes")),
                next_hop: s.str("next_hop_ip_address"),
            });
        }
        static_routes.sort_by(|a, b| a.name.cmp(&b.name));
        let override_criteria = r
            .str("static_vnet_local_route_override_criteria")
            .filter(|c| !c.eq_ignore_ascii_case("Contains"));
        let routing = Routing {
            source: r.source(),
            associated,
            propagated,
            static_routes,
            override_criteria,
            no_static_propagation: r.bool("static_vnet_propagate_static_routes_enabled")
                == Some(false),
        };
        Ok((!routing.is_azure_default(own_hub)).then_some(routing))
    }

    /// Whether it says what Azure does for a connection without `routing`.
    fn is_azure_default(&self, hub: &str) -> bool {
        let associated = self
            .associated
            .as_ref()
            .is_none_or(|t| t.is_default_of(hub));
        let propagated = match &self.propagated {
            None => true,
            Some((labels, tables)) => {
                labels == &[DEFAULT_LABEL.to_string()]
                    && matches!(tables.as_slice(), [one] if one.is_default_of(hub))
            }
        };
        associated
            && propagated
            && self.static_routes.is_empty()
            && self.override_criteria.is_none()
            && !self.no_static_propagation
    }

    /// Every table it names.
    pub(super) fn tables(&self) -> impl Iterator<Item = &TableRef> {
        let propagated = self.propagated.iter().flat_map(|(_, tables)| tables);
        self.associated.iter().chain(propagated)
    }

    /// Writes `routing:` at `indent` for a connection of `hub`.
    pub(super) fn render(&self, out: &mut Output, indent: usize, hub: &str) {
        let pad = " ".repeat(indent);
        out.line(&format!("{pad}routing:"));
        let inner = indent + 2;
        if let Some(table) = &self.associated {
            out.field(
                inner,
                "associated_route_table",
                &scalar(&table.written_from(hub)),
            );
        }
        if let Some((labels, tables)) = &self.propagated {
            out.line(&format!("{pad}  propagated_route_table:"));
            if !labels.is_empty() {
                out.field(inner + 2, "labels", &flow_list(labels));
            }
            let mut names: Vec<String> = tables.iter().map(|t| t.written_from(hub)).collect();
            names.sort();
            names.dedup();
            if !names.is_empty() {
                out.field(inner + 2, "route_table_ids", &flow_list(&names));
            }
        }
        if !self.static_routes.is_empty() {
            out.line(&format!("{pad}  static_vnet_route:"));
            for route in &self.static_routes {
                out.line(&format!("{pad}    - name: {}", scalar(&route.name)));
                let prefixes = flow_list(&route.address_prefixes);
                out.field(inner + 4, "address_prefixes", &prefixes);
                out.scalar_field(inner + 4, "next_hop_ip_address", route.next_hop.as_deref());
            }
        }
        out.scalar_field(
            inner,
            "static_vnet_local_route_override_criteria",
            self.override_criteria.as_deref(),
        );
        if self.no_static_propagation {
            out.field(
                inner,
                "static_vnet_propagate_static_routes_enabled",
                "false",
            );
        }
    }
}

/// The label of every hub's `defaultRouteTable`.
const DEFAULT_LABEL: &str = "default";

/// The hub route table `id` names (given under `key` of `b`): its hub and
/// its name, a built-in table's spelled as Azure spells it.
pub(super) fn hub_table_ref(b: &Nested, id: &str, key: &str) -> Result<TableRef, ImportError> {
    let Some(names) = id_names(id, &["virtualHubs", "hubRouteTables"]) else {
        return Err(b.error(format!(
            "{key} `{id}` is not the ID of a hub route table \
             (.../virtualHubs/HUB/hubRouteTables/TABLE)"
        )));
    };
    let built_in = [DEFAULT_TABLE, NONE_TABLE]
        .into_iter()
        .find(|t| t.eq_ignore_ascii_case(&names[1]));
    Ok(TableRef {
        hub: names[0].clone(),
        table: built_in.map_or_else(|| names[1].clone(), str::to_string),
        id: id.to_string(),
        key: key.to_string(),
    })
}
