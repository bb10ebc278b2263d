//! Azure's decisions on a topology, independent of any packet I/O.

pub mod ids;
pub mod nsg;
pub mod routes;
pub mod tags;
