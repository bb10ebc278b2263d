//! Generic lookup engines. Nothing here knows about Azure: the snapshot
//! compiles Azure policy into these structures.

pub mod classifier;
pub mod flow_table;
pub mod fragments;
pub mod lpm;
