//! The topology file: model, decoding and validation.

pub mod model;

pub use model::*;
