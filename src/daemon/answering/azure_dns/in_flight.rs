//! The questions forwarding rules sent on and that wait for a target's
//! answer, and the bound that cuts a forwarding loop.
//!
//! A loop can pass through servers vnetd cannot see into: a ruleset
//! forwards `corp.example` to an on-premises server that forwards it back
//! to an inbound endpoint of the lab, whose ruleset forwards it again.
//! Each turn is the same question again, from the same asker (the server
//! on the loop, or the lab's own outbound endpoint), waiting while the
//! next is asked. So identical questions (the asker's address, the name in
//! lower case, the type; the class is always IN) waiting at once are
//! counted, and one that would make more than [`MAX_IDENTICAL_IN_FLIGHT`]
//! is answered SERVFAIL unforwarded: the loop unwinds, each turn relaying
//! that SERVFAIL to the one before. Clients that ask one name at the same
//! instant ask from addresses of their own, so none of them is cut for
//! the others. Azure
//! publishes no such figure (it cautions against the loop a ruleset makes
//! by forwarding to its own resolver's inbound endpoint); a loop then costs
//! a bounded number of forwards instead of filling
//! [`super::MAX_PENDING`].

use crate::names::Forwarded;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use std::time::Instant;

/// How long a rule's target has to answer before the next is asked.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);

/// Identical questions forwarded and waiting at once: one more is a loop
/// going round, answered SERVFAIL without being forwarded, and counted
/// ([`super::DnsCounters::forward_loops_cut`]). Eight: a loop is cut at
/// its ninth turn, while one asker's few retries of a slow name are all
/// forwarded.
pub const MAX_IDENTICAL_IN_FLIGHT: usize = 8;

/// A forwarded question waiting for a target's answer.
pub(super) struct Pending {
    /// The answering socket the question came to, and who asked.
    pub(super) asker: (u32, SocketAddr),
    pub(super) query: Vec<u8>,
    pub(super) forwarded: Box<Forwarded>,
    /// The target asked now, by its index in the rule's targets.
    pub(super) target: usize,
    pub(super) deadline: Instant,
}

/// What makes two forwarded questions the same: who asked (the address),
/// the name in lower case and the type.
type Question = (IpAddr, String, u16);

fn question(asker: SocketAddr, forwarded: &Forwarded) -> Question {
    (
        asker.ip(),
        forwarded.forward.name.to_ascii_lowercase(),
        u16::from(forwarded.query_type),
    )
}

/// The waiting questions, by outbound endpoint's serial and the id sent,
/// and how many of each question wait.
#[derive(Default)]
pub(super) struct InFlight {
    pending: HashMap<(u32, u16), Pending>,
    identical: HashMap<Question, usize>,
}

impl InFlight {
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn contains(&self, key: (u32, u16)) -> bool {
        self.pending.contains_key(&key)
    }

    /// Whether one more of `forwarded`'s question from `asker` would be
    /// more than [`MAX_IDENTICAL_IN_FLIGHT`] waiting: a loop to cut.
    pub(super) fn would_loop(&self, asker: SocketAddr, forwarded: &Forwarded) -> bool {
        self.identical
            .get(&question(asker, forwarded))
            .is_some_and(|n| *n >= MAX_IDENTICAL_IN_FLIGHT)
    }

    pub(super) fn insert(&mut self, key: (u32, u16), pending: Pending) {
        *self
            .identical
            .entry(question(pending.asker.1, &pending.forwarded))
            .or_default() += 1;
        if let Some(replaced) = self.pending.insert(key, pending) {
            self.forget(&replaced);
        }
    }

    pub(super) fn remove(&mut self, key: (u32, u16)) -> Option<Pending> {
        let pending = self.pending.remove(&key)?;
        self.forget(&pending);
        Some(pending)
    }

    /// Keeps the questions `keep` says to keep.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&(u32, u16), &Pending) -> bool) {
        let gone: Vec<(u32, u16)> = (self.pending.iter())
            .filter(|(k, p)| !keep(k, p))
            .map(|(k, _)| *k)
            .collect();
        for key in gone {
            self.remove(key);
        }
    }

    /// The questions whose deadline has passed at `now`.
    pub(super) fn overdue(&self, now: Instant) -> Vec<(u32, u16)> {
        (self.pending.iter())
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| *k)
            .collect()
    }

    fn forget(&mut self, pending: &Pending) {
        let q = question(pending.asker.1, &pending.forwarded);
        if let Some(n) = self.identical.get_mut(&q) {
            *n -= 1;
            if *n == 0 {
                self.identical.remove(&q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{Forward, QueryType};

    fn forwarded(name: &str, query_type: QueryType) -> Box<Forwarded> {
        Box::new(Forwarded {
            forward: Forward {
                name: name.to_string(),
                targets: Vec::new(),
                outbound: Vec::new(),
            },
            query_type,
            before: Vec::new(),
        })
    }

    const ASKER: &str = "10.0.0.4:5353";

    fn pending(asker: &str, name: &str, query_type: QueryType) -> Pending {
        Pending {
            asker: (1, asker.parse().unwrap()),
            query: Vec::new(),
            forwarded: forwarded(name, query_type),
            target: 0,
            deadline: Instant::now(),
        }
    }

    #[test]
    fn the_ninth_identical_question_of_one_asker_is_a_loop_and_others_are_not() {
        let mut in_flight = InFlight::default();
        let corp = forwarded("app.corp.example", QueryType::A);
        let asker: SocketAddr = ASKER.parse().unwrap();
        for id in 0..MAX_IDENTICAL_IN_FLIGHT as u16 {
            assert!(!in_flight.would_loop(asker, &corp), "question {id}");
            // Case does not make a question another, nor the asker's port
            // another asker.
            let name = if id % 2 == 0 {
                "app.corp.example"
            } else {
                "APP.Corp.example"
            };
            let from = format!("10.0.0.4:{}", 5353 + id);
            in_flight.insert((7, id), pending(&from, name, QueryType::A));
        }
        assert!(in_flight.would_loop(asker, &corp));
        // Another type, another name or another asker is another question:
        // clients asking one name at once never cut each other.
        assert!(!in_flight.would_loop(asker, &forwarded("app.corp.example", QueryType::AAAA)));
        assert!(!in_flight.would_loop(asker, &forwarded("db.corp.example", QueryType::A)));
        assert!(!in_flight.would_loop("10.0.0.5:5353".parse().unwrap(), &corp));
        // One answered, expired or dropped makes room again.
        in_flight.remove((7, 0));
        assert!(!in_flight.would_loop(asker, &corp));
        in_flight.insert((7, 0), pending(ASKER, "app.corp.example", QueryType::A));
        in_flight.retain(|(_, id), _| *id != 3);
        assert!(!in_flight.would_loop(asker, &corp));
        assert_eq!(in_flight.len(), MAX_IDENTICAL_IN_FLIGHT - 1);
        in_flight.retain(|_, _| false);
        assert!(in_flight.identical.is_empty());
    }
}
