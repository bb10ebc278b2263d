//! Azure's decisions on a topology, independent of any packet I/O.
//!
//! It owns Azure's rules as plain functions over a topology (effective
//! routes, effective security rules, service tags, resource IDs); it may use
//! [`crate::topology`] and [`crate::net`], never an engine, a packet or a
//! device.

pub mod admin;
pub mod bgp;
pub mod egress;
pub mod firewall;
pub mod gateways;
pub mod ids;
pub mod learned;
pub mod load_balancers;
pub mod nsg;
pub mod route_server;
pub mod routes;
pub mod service_access;
pub mod shaping;
pub mod tags;
pub mod virtual_wan;
