//! The control socket (to be written).
