//! The kinds of port, one module each: what identifies a port of the kind,
//! how it and its namespace and interface are named, and in which order the
//! kind's ports are derived from the topology. The plan lists the kinds in
//! this order: VM NICs, gateway instances, site tunnels, health probers,
//! firewalls, Route Server instances, Azure DNS, Private Endpoints, DNS Private Resolver endpoints, the Internet.

pub mod azure_dns;
pub mod firewall;
pub mod gateway_instance;
pub mod internet;
pub mod private_endpoint;
pub mod prober;
pub mod resolver_endpoint;
pub mod route_server_instance;
pub mod site_tunnel;
pub mod vm;
