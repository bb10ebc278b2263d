//! Which BGP sessions of each gateway instance are Established, as the
//! supervisor last found them (it asks each speaker every second): what
//! the lab's convergence report counts, read without asking a speaker and
//! without the lock `apply` takes.

use crate::daemon::reporting::convergence::Established;
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// The Established sessions of every gateway instance.
#[derive(Debug, Default)]
pub struct SessionBook {
    sessions: Mutex<Established>,
}

impl SessionBook {
    /// Every instance's Established neighbours now (an instance not named
    /// has none).
    pub fn established(&self) -> Established {
        self.lock().clone()
    }

    /// Records the Established neighbours of instance `instance` of
    /// `gateway`.
    pub(super) fn set(&self, gateway: &str, instance: usize, neighbors: Vec<Ipv4Addr>) {
        self.lock()
            .insert((gateway.to_owned(), instance), neighbors);
    }

    /// Forgets `gateway` (its speakers are gone).
    pub(super) fn forget(&self, gateway: &str) {
        self.lock().retain(|(g, _), _| g != gateway);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Established> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}
