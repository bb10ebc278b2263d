//! The median round trip between Azure regions, as Azure publishes it on
//! "Azure network round-trip latency statistics": P50 over 30 days, in
//! milliseconds, per source and destination region (the two directions of
//! a pair differ by a few milliseconds, as measured).
//!
//! vnetd delays a packet that crosses from one region to another by half
//! the figure published for its direction, so that a ping, whose request
//! and reply each take one direction, sees the mean of the two figures.
//! Within a region the added delay is zero: Azure publishes no intra-region
//! figure, and the host's own forwarding already takes tens of
//! microseconds.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::super::regions;

/// Where the figures come from.
pub const SOURCE: &str = "https://learn.microsoft.com/azure/networking/azure-network-latency";
/// The dataset's date, as the page gives it.
pub const DATASET: &str = "2026-07-30 (30 days ending July 30, 2026)";

const CSV: &str = include_str!("../data/region-round-trip-ms.csv");

/// (source, destination) programmatic names → milliseconds.
fn table() -> &'static HashMap<(&'static str, &'static str), u16> {
    static TABLE: OnceLock<HashMap<(&'static str, &'static str), u16>> = OnceLock::new();
    TABLE.get_or_init(|| parse(CSV).expect("the shipped round-trip table parses"))
}

/// Reads the page's CSV table: a header of destination display names, then
/// one row per source region. Every name must be a known region.
fn parse(text: &'static str) -> Result<HashMap<(&'static str, &'static str), u16>, String> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().ok_or("no header")?;
    let columns: Vec<&'static str> = header
        .split(',')
        .skip(1)
        .map(|d| regions::canonical(d).ok_or(format!("`{d}` is not a region")))
        .collect::<Result<_, _>>()?;
    let mut out = HashMap::new();
    for line in lines {
        let mut cells = line.split(',');
        let display = cells.next().unwrap_or_default();
        let source = regions::canonical(display).ok_or(format!("`{display}` is not a region"))?;
        let cells: Vec<&str> = cells.collect();
        if cells.len() != columns.len() {
            return Err(format!("row `{display}` has {} cells", cells.len()));
        }
        for (destination, cell) in columns.iter().zip(cells) {
            if cell.is_empty() {
                continue;
            }
            let ms = cell
                .parse::<u16>()
                .map_err(|_| format!("`{cell}` in row `{display}`"))?;
            out.insert((source, *destination), ms);
        }
    }
    Ok(out)
}

/// The published round trip from `from` to `to` (programmatic names), in
/// milliseconds: 0 within one region, `None` when Azure publishes no
/// figure for the pair (a region the page does not list).
pub fn round_trip_ms(from: &str, to: &str) -> Option<u16> {
    if from == to {
        return Some(0);
    }
    let from = regions::canonical(from)?;
    let to = regions::canonical(to)?;
    table().get(&(from, to)).copied()
}

/// The delay added to a packet going from region `from` to region `to`, in
/// microseconds: half the round trip published for that direction.
pub fn one_way_us(from: &str, to: &str) -> Option<u32> {
    round_trip_ms(from, to).map(|ms| u32::from(ms) * 500)
}

/// The regions the table covers, as programmatic names.
pub fn covered() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = table().keys().map(|(s, _)| *s).collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_is_a_full_matrix_of_known_regions() {
        let table = parse(CSV).unwrap();
        let regions = covered();
        assert_eq!(regions.len(), 54);
        for a in &regions {
            for b in &regions {
                assert_eq!(table.contains_key(&(*a, *b)), a != b, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn figures_are_the_pages_row_and_column() {
        // Spot checks against the page's per-region tabs.
        assert_eq!(round_trip_ms("westeurope", "eastus"), Some(85));
        assert_eq!(round_trip_ms("eastus", "westeurope"), Some(83));
        assert_eq!(round_trip_ms("northeurope", "centralus"), Some(101));
        assert_eq!(
            round_trip_ms("australiacentral", "westcentralus"),
            Some(167)
        );
        assert_eq!(round_trip_ms("uaecentral", "uaenorth"), Some(6));
        assert_eq!(round_trip_ms("West Europe", "East US"), Some(85));
        assert_eq!(one_way_us("westeurope", "eastus"), Some(42_500));
    }

    #[test]
    fn one_region_is_no_delay_and_unlisted_regions_have_no_figure() {
        assert_eq!(round_trip_ms("westeurope", "westeurope"), Some(0));
        assert_eq!(round_trip_ms("westeurope", "westindia"), None);
        assert_eq!(round_trip_ms("usgovvirginia", "eastus"), None);
    }

    #[test]
    fn the_two_directions_of_a_pair_agree_within_a_quarter() {
        let table = parse(CSV).unwrap();
        for ((a, b), ms) in &table {
            let back = table[&(*b, *a)];
            let (lo, hi) = ((*ms).min(back), (*ms).max(back));
            assert!(hi - lo <= hi / 4, "{a}<->{b}: {ms} vs {back}");
        }
    }

    #[test]
    fn a_broken_table_is_refused() {
        assert!(parse("Source,West Europe\nWest Europe,\nEast US,9\n").is_ok());
        assert!(parse("Source,Westt Europe\n").is_err());
        assert!(parse("Source,West Europe\nEast US,9,9\n").is_err());
        assert!(parse("Source,West Europe\nEast US,x\n").is_err());
    }
}
