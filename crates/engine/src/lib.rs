//! Generic lookup engines. Nothing here knows about Azure: the snapshot
//! compiles Azure policy into these structures.
//!
//! It owns the data structures and their invariants; it may use only
//! [`net`] (`vnetd-net`), and the compiler holds it to that: this crate
//! depends on no other of vnetd's.

use vnetd_net as net;

pub mod classifier;
pub mod flow_table;
pub mod fragments;
pub mod lpm;
pub(crate) mod sync;
