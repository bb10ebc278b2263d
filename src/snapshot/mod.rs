//! The compiled, immutable snapshot.
