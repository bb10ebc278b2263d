//! The small shapes the CLI prints inside many objects: a reference to
//! another object, an object's SKU, an address space. They are apart from
//! the objects, in a file that uses no other, so that every file of shapes
//! can use them without using the others.

use serde::Deserialize;

/// A reference to another object: `{"id": ...}` (the CLI adds the
/// object's `resourceGroup`, which is not read).
#[derive(Debug, Deserialize)]
pub struct Reference {
    pub id: String,
}

/// An object's `sku` (a private cloud's, a public IP's or prefix's, a
/// NAT gateway's, a load balancer's, an Azure Firewall's): its name, and
/// its tier (read for a firewall).
#[derive(Debug, Deserialize)]
pub struct Sku {
    pub name: Option<String>,
    pub tier: Option<String>,
}

/// A VNet's (or a virtual hub's) `addressSpace`: its prefixes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressSpace {
    #[serde(default)]
    pub address_prefixes: Vec<String>,
}
