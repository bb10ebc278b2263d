//! Generic lookup engines. Nothing here knows about Azure: the snapshot
//! compiles Azure policy into these structures.
//!
//! It owns the data structures and their invariants; it may use only
//! [`crate::net`].

pub mod classifier;
pub mod flow_table;
pub mod fragments;
pub mod lpm;
pub(crate) mod sync;
