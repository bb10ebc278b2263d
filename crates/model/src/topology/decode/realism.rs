//! Decoders for the keys that make a lab as slow as Azure: a NIC's `mtu`,
//! a site's or circuit's `latency_ms`, a link's `impairments` and a virtual
//! machine's own keys. Every figure is checked here, with its line, so an
//! absurd one is refused before anything runs.
//!
//! A delay is given one way (`latency_ms`: what a packet takes in each
//! direction) or as a round trip (`round_trip_ms`: what `ping` shows and
//! Azure's latency page publishes, halved for each direction); not both.

use super::super::model::{Impairments, DEFAULT_MTU, MAX_MTU, MIN_MTU};
use super::super::yaml::Node;
use super::reader::{Decoder, Fields, NameRef};

const IMPAIRMENT_KEYS: &[&str] = &[
    "latency_ms",
    "round_trip_ms",
    "jitter_ms",
    "loss_percent",
    "rate_mbps",
];
/// The longest delay a link may add, each way: ten seconds is already
/// beyond any path on Earth (and beyond TCP's patience).
const MAX_DELAY_MS: f64 = 10_000.0;
/// The fastest rate cap: 100 Gbit/s, beyond any Azure NIC.
const MAX_RATE_MBPS: i64 = 100_000;

impl Decoder<'_> {
    /// A NIC's `mtu`: Azure's default when left out.
    pub(super) fn mtu(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let Some(node) = f.given(key) else {
            return Some(DEFAULT_MTU);
        };
        let allowed = format!(
            "Azure NICs take {MIN_MTU} to {MAX_MTU} (default {DEFAULT_MTU}; Mellanox NICs stop at 3900, and {MIN_MTU} is IPv6's minimum)"
        );
        let range = i64::from(MIN_MTU)..=i64::from(MAX_MTU);
        let mtu = self.number_in(node, &f.key(key), range, &allowed);
        Some(mtu.map_or(DEFAULT_MTU, |v| v as u16))
    }

    /// A one-way delay in microseconds, from `one_way` (milliseconds,
    /// decimals allowed) or `round_trip` (halved); 0 when neither is
    /// given.
    pub(super) fn latency(&mut self, f: &Fields, one_way: &str, round_trip: &str) -> Option<u32> {
        Some(self.one_way_delay(f, one_way, round_trip)?.unwrap_or(0))
    }

    /// The one-way delay of `one_way` or `round_trip` (refused together),
    /// in microseconds; `None` inside when neither is given.
    fn one_way_delay(
        &mut self,
        f: &Fields,
        one_way: &str,
        round_trip: &str,
    ) -> Option<Option<u32>> {
        if f.has(one_way) && f.has(round_trip) {
            let why = format!(
                "`{one_way}` (one way) and `{round_trip}` say the same delay twice: give one"
            );
            self.diags.error(f.line, &f.key(round_trip), why);
            return None;
        }
        if let Some(node) = f.given(one_way) {
            return Some(Some(self.delay_us(node, &f.key(one_way))?));
        }
        if let Some(node) = f.given(round_trip) {
            let us = self.delay_us(node, &f.key(round_trip))?;
            return Some(Some(us / 2));
        }
        Some(None)
    }

    /// A link's `impairments`: each key optional, each figure in range.
    pub(super) fn impairments(&mut self, f: &Fields, key: &str) -> Option<Option<Impairments>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let path = f.key(key);
        let fields = self.fields(node, &path, "impairments", IMPAIRMENT_KEYS)?;
        let mut out = Impairments {
            latency_us: self.one_way_delay(&fields, "latency_ms", "round_trip_ms")?,
            ..Impairments::default()
        };
        if let Some(n) = fields.given("jitter_ms") {
            out.jitter_us = self.delay_us(n, &fields.key("jitter_ms"))?;
        }
        if let Some(n) = fields.given("loss_percent") {
            let k = fields.key("loss_percent");
            let share = self.decimal_in(n, &k, 100.0, "a share from 0 to 100 percent")?;
            out.loss_ppm = (share * 10_000.0).round() as u32;
        }
        if let Some(n) = fields.given("rate_mbps") {
            let k = fields.key("rate_mbps");
            let allowed = format!("a rate from 1 to {MAX_RATE_MBPS} Mbps");
            out.rate_mbps = Some(self.number_in(n, &k, 1..=MAX_RATE_MBPS, &allowed)? as u32);
        }
        if out.jitter_us > out.latency_us.unwrap_or(0) {
            let why = format!(
                "jitter of {} ms is more than the latency of {} ms it varies: a packet cannot arrive before it was sent",
                out.jitter_us as f64 / 1000.0,
                out.latency_us.unwrap_or(0) as f64 / 1000.0
            );
            self.diags.error(node.line, &fields.key("jitter_ms"), why);
            return None;
        }
        Some(Some(out))
    }

    /// A required text with the line it is written on.
    pub(super) fn required_text_with_line(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<(String, usize)> {
        let node = self.required(f, key)?;
        Some((self.string(node, &f.key(key))?, node.line))
    }

    /// A list of names under either of two spellings (not both).
    pub(super) fn either_ref_list(
        &mut self,
        f: &Fields,
        new: &str,
        old: &str,
    ) -> Option<Vec<NameRef>> {
        let key = self.either_key(f, new, old);
        self.ref_list(f, key)
    }

    fn delay_us(&mut self, node: &Node, key: &str) -> Option<u32> {
        let ms = self.decimal_in(node, key, MAX_DELAY_MS, "a delay from 0 to 10000 ms")?;
        Some((ms * 1000.0).round() as u32)
    }

    /// A number from 0 to `max`, decimals allowed.
    fn decimal_in(&mut self, node: &Node, key: &str, max: f64, allowed: &str) -> Option<f64> {
        let text = self.string(node, key)?;
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => Some(v),
            Ok(_) => {
                let why = format!("{text} is out of range: {allowed}");
                self.diags.error(node.line, key, why);
                None
            }
            Err(_) => {
                let why = format!("`{text}` is not a number");
                self.diags.error(node.line, key, why);
                None
            }
        }
    }
}
