//! The daemon's end of the control socket: a Unix socket (by default
//! `/run/vnetd/vnetd.sock`, mode 0600, so only root can drive the lab; no
//! TCP listener) that takes the control API's requests and answers each
//! with typed data ([`crate::api`] holds the requests, the answers, the
//! wire format and the client). `vnetd apply`, `flows`, `stats`, `verify`
//! and the diagnostic commands without `--config` are its clients; the
//! daemon answers from the plane it is forwarding with.
//!
//! [`server`] listens and answers. It may use the daemon's reports and the
//! diagnostics; nothing below it knows it.

pub mod server;

pub use super::reporting::report::{flows_of, flows_report, stats_of};
pub use server::{
    answer, claim_socket_path, socket_state, ControlServer, SocketState, MAX_REQUEST_BYTES,
    REQUEST_TIMEOUT, WRITE_TIMEOUT,
};
