//! Rates from counters: what a NIC and a link carried per second between
//! two readings, as the live page shows them (a link both ways, and each
//! way apart for a NAT gateway's node). Pure arithmetic on readings; the
//! readings themselves are taken in [`super::live`].

use crate::api::{FlowReport, NicStats};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One NIC's rates, per second; bits count IP bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NicRate {
    pub tx_pps: u64,
    pub rx_pps: u64,
    pub tx_bps: u64,
    pub rx_bps: u64,
    pub offloaded_tx_pps: u64,
    pub offloaded_rx_pps: u64,
}

impl NicRate {
    fn is_zero(&self) -> bool {
        *self == NicRate::default()
    }
}

/// What crossed one link (a peering, an appliance route), per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LinkRate {
    pub bps: u64,
    pub pps: u64,
}

/// What crossed one link between two readings, each way: forward is the
/// way its flows' first packets went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkTraffic {
    pub bytes_forward: u64,
    pub packets_forward: u64,
    pub bytes_reverse: u64,
    pub packets_reverse: u64,
    pub seconds: f64,
}

impl LinkTraffic {
    /// Both ways together, per second.
    pub fn rate(&self) -> LinkRate {
        LinkRate {
            bps: 8 * per_second(self.bytes_forward + self.bytes_reverse, self.seconds),
            pps: per_second(self.packets_forward + self.packets_reverse, self.seconds),
        }
    }

    /// Each way apart, as a port's rates are: sent is forward (towards
    /// where the flows were opened to), received the replies.
    pub fn port_rate(&self) -> NicRate {
        NicRate {
            tx_pps: per_second(self.packets_forward, self.seconds),
            rx_pps: per_second(self.packets_reverse, self.seconds),
            tx_bps: 8 * per_second(self.bytes_forward, self.seconds),
            rx_bps: 8 * per_second(self.bytes_reverse, self.seconds),
            offloaded_tx_pps: 0,
            offloaded_rx_pps: 0,
        }
    }
}

fn per_second(delta: u64, seconds: f64) -> u64 {
    if seconds <= 0.0 {
        return 0;
    }
    (delta as f64 / seconds).round() as u64
}

/// The rates of every NIC between two readings `seconds` apart; NICs that
/// carried nothing are left out. A counter that went down (a NIC removed
/// and added again by `apply`) counts from zero.
pub fn nic_rates(
    before: &BTreeMap<String, NicStats>,
    now: &BTreeMap<String, NicStats>,
    seconds: f64,
) -> BTreeMap<String, NicRate> {
    let zero = NicStats::default();
    now.iter()
        .filter_map(|(name, n)| {
            let b = before.get(name).unwrap_or(&zero);
            let delta =
                |now: u64, before: u64| per_second(now.checked_sub(before).unwrap_or(now), seconds);
            let rate = NicRate {
                tx_pps: delta(n.packets_sent, b.packets_sent),
                rx_pps: delta(n.packets_received, b.packets_received),
                tx_bps: 8 * delta(n.bytes_sent, b.bytes_sent),
                rx_bps: 8 * delta(n.bytes_received, b.bytes_received),
                offloaded_tx_pps: delta(n.offloaded_packets_sent, b.offloaded_packets_sent),
                offloaded_rx_pps: delta(n.offloaded_packets_received, b.offloaded_packets_received),
            };
            (!rate.is_zero()).then(|| (name.clone(), rate))
        })
        .collect()
}

/// A tracked flow as the link meter remembers it between readings.
type FlowId = (String, String, String, String, String);

fn flow_id(f: &FlowReport) -> FlowId {
    (
        f.nic.clone(),
        f.direction.clone(),
        f.protocol.clone(),
        f.source.clone(),
        f.destination.clone(),
    )
}

/// A flow's counters at one reading: bytes and packets forward, then
/// reverse.
type FlowCounters = [u64; 4];

fn counters(f: &FlowReport) -> FlowCounters {
    [
        f.bytes_forward,
        f.packets_forward,
        f.bytes_reverse,
        f.packets_reverse,
    ]
}

/// The links' rates from the flow table: each flow's bytes and packets
/// since the previous reading, each way, put on the links its route
/// crosses.
#[derive(Debug, Default)]
pub struct LinkMeter {
    previous: HashMap<FlowId, FlowCounters>,
}

impl LinkMeter {
    /// `links_of` names the links a flow crosses (none for a flow inside
    /// one VNet with no appliance). A flow seen for the first time counts
    /// from zero: it began since the previous reading. Links that carried
    /// nothing are left out.
    pub fn measure<'a>(
        &mut self,
        flows: &'a [FlowReport],
        seconds: f64,
        mut links_of: impl FnMut(&'a FlowReport) -> Vec<String>,
    ) -> BTreeMap<String, LinkTraffic> {
        let mut totals: BTreeMap<String, FlowCounters> = BTreeMap::new();
        let mut seen = HashMap::with_capacity(flows.len());
        for flow in flows {
            let now = counters(flow);
            let id = flow_id(flow);
            let before = self.previous.get(&id).copied().unwrap_or_default();
            seen.insert(id, now);
            // A counter that went down (the flow ended and began again)
            // counts from zero.
            let delta: FlowCounters =
                std::array::from_fn(|i| now[i].checked_sub(before[i]).unwrap_or(now[i]));
            if delta == [0; 4] {
                continue;
            }
            for link in links_of(flow) {
                let t = totals.entry(link).or_default();
                for (total, d) in t.iter_mut().zip(delta) {
                    *total += d;
                }
            }
        }
        self.previous = seen;
        totals
            .into_iter()
            .map(|(link, [bf, pf, br, pr])| {
                let traffic = LinkTraffic {
                    bytes_forward: bf,
                    packets_forward: pf,
                    bytes_reverse: br,
                    packets_reverse: pr,
                    seconds,
                };
                (link, traffic)
            })
            .filter(|(_, t)| t.rate() != LinkRate::default())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(packets: u64, bytes: u64, offloaded: u64) -> NicStats {
        NicStats {
            packets_sent: packets,
            bytes_sent: bytes,
            packets_received: packets / 2,
            bytes_received: bytes / 2,
            offloaded_packets_sent: offloaded,
            offloaded_packets_received: 0,
            drops: BTreeMap::new(),
        }
    }

    #[test]
    fn a_nic_rate_is_its_counters_difference_per_second() {
        let before = BTreeMap::from([
            ("vm1".to_string(), stats(100, 150_000, 10)),
            ("vm2".to_string(), stats(5, 500, 0)),
        ]);
        let now = BTreeMap::from([
            ("vm1".to_string(), stats(300, 450_000, 110)),
            ("vm2".to_string(), stats(5, 500, 0)),
            ("vm3".to_string(), stats(4, 400, 0)),
        ]);
        let rates = nic_rates(&before, &now, 2.0);
        assert_eq!(
            rates["vm1"],
            NicRate {
                tx_pps: 100,
                rx_pps: 50,
                tx_bps: 1_200_000,
                rx_bps: 600_000,
                offloaded_tx_pps: 50,
                offloaded_rx_pps: 0,
            }
        );
        assert!(!rates.contains_key("vm2"), "idle NICs are left out");
        assert_eq!(rates["vm3"].tx_pps, 2, "a new NIC counts from zero");
        let reset = nic_rates(&now, &before, 1.0);
        assert_eq!(
            reset["vm1"].tx_pps, 100,
            "a counter that went down restarts"
        );
    }

    fn flow(nic: &str, destination: &str, bytes: u64) -> FlowReport {
        FlowReport {
            packets_forward: bytes / 1000,
            bytes_forward: bytes,
            ..crate::api::report::sample_flow(nic, "10.1.1.4:40000", destination)
        }
    }

    /// The meter against a plain reference: per link, the sum of its flows'
    /// byte differences.
    #[test]
    fn links_carry_the_sum_of_their_flows_differences() {
        let mut meter = LinkMeter::default();
        let links = |f: &FlowReport| match f.destination.as_str() {
            "10.2.1.4:80" => vec!["route_0".to_string(), "peering_0".to_string()],
            "10.0.2.4:80" => vec!["peering_0".to_string()],
            _ => vec![],
        };
        let first = [
            flow("vm1", "10.2.1.4:80", 10_000),
            flow("vm1", "10.0.2.4:80", 2_000),
        ];
        // Each link's rate as (bits, packets) per second.
        let measured = |meter: &mut LinkMeter, flows: &[FlowReport], seconds: f64| {
            let rates = meter.measure(flows, seconds, links);
            let mut seen: Vec<(String, u64, u64)> = rates
                .iter()
                .map(|(link, t)| (link.clone(), t.rate().bps, t.rate().pps))
                .collect();
            seen.sort();
            seen
        };
        let link = |name: &str, bps: u64, pps: u64| (name.to_string(), bps, pps);
        assert_eq!(
            measured(&mut meter, &first, 1.0),
            [link("peering_0", 96_000, 12), link("route_0", 80_000, 10)]
        );
        let second = [
            flow("vm1", "10.2.1.4:80", 30_000),
            flow("vm1", "10.0.2.4:80", 2_000),
            flow("vm1", "10.1.1.5:80", 9_000),
        ];
        assert_eq!(
            measured(&mut meter, &second, 2.0),
            [link("peering_0", 80_000, 10), link("route_0", 80_000, 10)]
        );
        let idle = meter.measure(&second, 1.0, links);
        assert!(idle.is_empty(), "{idle:?}");
    }

    /// A link's traffic each way: forward is what the flows' openers
    /// sent, reverse the replies; as a port's rates, sent and received.
    #[test]
    fn a_link_keeps_each_way_apart() {
        let mut meter = LinkMeter::default();
        let mut out = flow("vm2", "203.0.113.10:80", 4_000);
        out.bytes_reverse = 10_000;
        out.packets_reverse = 8;
        let to_internet = |_: &FlowReport| vec!["internet_2".to_string()];
        let traffic = meter.measure(std::slice::from_ref(&out), 2.0, to_internet);
        let link = traffic["internet_2"];
        assert_eq!(
            link.rate(),
            LinkRate {
                bps: 56_000,
                pps: 6
            }
        );
        assert_eq!(
            link.port_rate(),
            NicRate {
                tx_pps: 2,
                rx_pps: 4,
                tx_bps: 16_000,
                rx_bps: 40_000,
                offloaded_tx_pps: 0,
                offloaded_rx_pps: 0,
            }
        );
    }
}
