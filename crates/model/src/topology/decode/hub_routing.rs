//! A hub connection's `propagated_route_table` (azurerm's name): the
//! labels and hub route tables its routes are propagated to. VNet, VPN and
//! ExpressRoute connections of a virtual hub all hold one, so it is apart
//! from each of their decoders.

use super::reader::{Decoder, Fields, NameRef};

/// `propagated_route_table`: labels and tables (`table` in the hub, or
/// `hub/table`).
#[derive(Debug)]
pub struct RawPropagation {
    pub labels: Vec<(String, usize)>,
    pub tables: Vec<NameRef>,
    pub line: usize,
}

const PROPAGATION_KEYS: &[&str] = &["labels", "route_table_ids"];

impl Decoder<'_> {
    pub(super) fn hub_propagation(&mut self, f: &Fields, key: &str) -> Option<RawPropagation> {
        let node = f.given(key)?;
        let p = self.fields(node, &f.key(key), "a propagation", PROPAGATION_KEYS)?;
        let labels = self.labels(&p, "labels").unwrap_or_default();
        let tables = self.ref_list(&p, "route_table_ids").unwrap_or_default();
        Some(RawPropagation {
            labels,
            tables,
            line: node.line,
        })
    }
}
