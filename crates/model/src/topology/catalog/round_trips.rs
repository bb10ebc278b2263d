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
//!
//! Azure's page lists 54 regions; a pair it does not list (West India,
//! Jio India, Brazil Southeast, ...) still has a round trip in Azure, so
//! vnetd estimates it from the regions' coordinates, as Azure's Locations
//! API gives them (`data/region-coordinates.csv`): the great-circle
//! distance at the speed of light in fibre, times a path factor fitted on
//! every published pair by least squares ([`fit`]). A pair of regions
//! without coordinates (Azure Government and China) has no figure, and a
//! link between them is left without a delay, with a warning.

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

/// A round trip between two regions, and whether it is Azure's figure or
/// vnetd's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    pub us: u32,
    pub estimated: bool,
}

/// The round trip from `from` to `to`: Azure's published figure, else the
/// estimate from the regions' coordinates; `None` only for a region
/// without coordinates (Azure Government and China).
pub fn round_trip(from: &str, to: &str) -> Option<RoundTrip> {
    if let Some(ms) = round_trip_ms(from, to) {
        return Some(RoundTrip {
            us: u32::from(ms) * 1000,
            estimated: false,
        });
    }
    let km = distance_km(from, to)?;
    Some(RoundTrip {
        us: (fit().factor * fibre_round_trip_ms(km) * 1000.0).round() as u32,
        estimated: true,
    })
}

/// The delay added to a packet going from region `from` to region `to`:
/// half the round trip of that direction.
pub fn one_way(from: &str, to: &str) -> Option<RoundTrip> {
    round_trip(from, to).map(|r| RoundTrip {
        us: r.us / 2,
        estimated: r.estimated,
    })
}

/// [`one_way`], in microseconds.
pub fn one_way_us(from: &str, to: &str) -> Option<u32> {
    one_way(from, to).map(|r| r.us)
}

/// Where the coordinates come from.
pub const COORDINATES_SOURCE: &str =
    "https://learn.microsoft.com/rest/api/resources/subscriptions/list-locations";

const COORDINATES: &str = include_str!("../data/region-coordinates.csv");

/// The speed of light in silica fibre (refractive index 1.468), km/s.
pub const FIBRE_KM_PER_S: f64 = 299_792.458 / 1.468;
/// The Earth's mean radius, km.
const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Programmatic name -> (latitude, longitude) in degrees.
fn coordinates() -> &'static HashMap<&'static str, (f64, f64)> {
    static COORDS: OnceLock<HashMap<&'static str, (f64, f64)>> = OnceLock::new();
    COORDS.get_or_init(|| parse_coordinates(COORDINATES).expect("the shipped coordinates parse"))
}

/// Reads `region,latitude,longitude` rows (after `#` comments and a
/// header); every region must be known and every figure in range.
fn parse_coordinates(text: &'static str) -> Result<HashMap<&'static str, (f64, f64)>, String> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let [name, lat, lon] = line.split(',').collect::<Vec<_>>()[..] else {
            return Err(format!("`{line}` is not region,latitude,longitude"));
        };
        let region = regions::canonical(name).ok_or(format!("`{name}` is not a region"))?;
        let degrees = |text: &str, limit: f64| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.abs() <= limit)
                .ok_or(format!("`{text}` of `{name}` is not a coordinate"))
        };
        out.insert(region, (degrees(lat, 90.0)?, degrees(lon, 180.0)?));
    }
    Ok(out)
}

/// The great-circle distance between two regions (haversine), km.
pub fn distance_km(from: &str, to: &str) -> Option<f64> {
    let (a, b) = (regions::canonical(from)?, regions::canonical(to)?);
    Some(haversine_km(*coordinates().get(a)?, *coordinates().get(b)?))
}

/// The great-circle distance between two (latitude, longitude) points in
/// degrees, km.
fn haversine_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// A round trip over `km` of fibre laid straight, in milliseconds.
fn fibre_round_trip_ms(km: f64) -> f64 {
    2.0 * km / FIBRE_KM_PER_S * 1000.0
}

/// The path factor and how well it fits the published pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Published round trip over straight-fibre round trip, least squares.
    pub factor: f64,
    /// Pairs the fit was made on (both directions of every published pair).
    pub pairs: usize,
    /// Absolute error of the estimate over those pairs, ms.
    pub median_error_ms: f64,
    pub p90_error_ms: f64,
    pub worst_error_ms: f64,
}

/// The factor by which Azure's paths are longer than fibre laid straight,
/// fitted on every published pair (least squares through the origin), with
/// the estimate's error on those pairs.
pub fn fit() -> Fit {
    static FIT: OnceLock<Fit> = OnceLock::new();
    *FIT.get_or_init(|| {
        let points: Vec<(f64, f64)> = table()
            .iter()
            .filter_map(|((a, b), ms)| {
                Some((fibre_round_trip_ms(distance_km(a, b)?), f64::from(*ms)))
            })
            .collect();
        let factor = points.iter().map(|(x, y)| x * y).sum::<f64>()
            / points.iter().map(|(x, _)| x * x).sum::<f64>();
        let mut errors: Vec<f64> = points.iter().map(|(x, y)| (factor * x - y).abs()).collect();
        errors.sort_by(f64::total_cmp);
        let at = |share: f64| errors[((errors.len() - 1) as f64 * share).round() as usize];
        Fit {
            factor,
            pairs: points.len(),
            median_error_ms: at(0.5),
            p90_error_ms: at(0.9),
            worst_error_ms: at(1.0),
        }
    })
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
    fn one_region_is_no_delay_and_unlisted_regions_have_no_published_figure() {
        assert_eq!(round_trip_ms("westeurope", "westeurope"), Some(0));
        assert_eq!(round_trip_ms("westeurope", "westindia"), None);
        assert_eq!(round_trip_ms("usgovvirginia", "eastus"), None);
    }

    #[test]
    fn every_public_pair_has_a_round_trip_and_only_unlisted_ones_are_estimated() {
        for (a, _) in regions::REGIONS {
            for (b, _) in regions::REGIONS {
                let published = round_trip_ms(a, b);
                let found = round_trip(a, b);
                match (
                    coordinates().contains_key(a) && coordinates().contains_key(b),
                    published,
                ) {
                    (_, Some(ms)) => assert_eq!(
                        found,
                        Some(RoundTrip {
                            us: u32::from(ms) * 1000,
                            estimated: false
                        }),
                        "{a} -> {b}"
                    ),
                    (true, None) => assert!(found.is_some_and(|r| r.estimated), "{a} -> {b}"),
                    (false, None) => assert_eq!(found, None, "{a} -> {b}"),
                }
            }
        }
        // Every public region has coordinates.
        for (name, _) in regions::REGIONS
            .iter()
            .take_while(|(n, _)| *n != "usdodcentral")
        {
            assert!(coordinates().contains_key(name), "{name}");
        }
    }

    /// A reference for the haversine: two points a quarter of the equator
    /// apart, and one degree of latitude.
    #[test]
    fn distances_are_great_circles() {
        let quarter = std::f64::consts::PI / 2.0 * EARTH_RADIUS_KM;
        assert!((haversine_km((0.0, 0.0), (0.0, 90.0)) - quarter).abs() < 1e-6);
        assert!((haversine_km((0.0, 0.0), (1.0, 0.0)) - 111.195).abs() < 0.01);
        assert!((haversine_km((90.0, 0.0), (-90.0, 45.0)) - 2.0 * quarter).abs() < 1e-6);
        // The shipped data: Amsterdam to Mumbai, about 6,800 km.
        let amsterdam_mumbai = distance_km("westeurope", "westindia").unwrap();
        assert!(
            (6_700.0..6_900.0).contains(&amsterdam_mumbai),
            "{amsterdam_mumbai}"
        );
    }

    /// The estimate held against every published pair: the error the docs
    /// state (speeds-and-delays.md) is the error it has.
    #[test]
    fn the_estimate_errs_on_the_published_pairs_as_the_docs_say() {
        let fit = fit();
        assert_eq!(fit.pairs, 54 * 53);
        let mut errors = Vec::new();
        for ((a, b), ms) in table() {
            let estimate = fit.factor * fibre_round_trip_ms(distance_km(a, b).unwrap());
            errors.push((estimate - f64::from(*ms)).abs());
        }
        errors.sort_by(f64::total_cmp);
        assert_eq!(
            errors[errors.len() / 2].round(),
            fit.median_error_ms.round()
        );
        assert_eq!(errors.last().copied(), Some(fit.worst_error_ms));
        let docs = include_str!("../../../../../docs/src/speeds-and-delays.md")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for stated in [
            format!("path factor {:.2}", fit.factor),
            format!("median error {:.0} ms", fit.median_error_ms),
            format!("90th percentile {:.0} ms", fit.p90_error_ms),
            format!("worst {:.0} ms", fit.worst_error_ms),
        ] {
            assert!(docs.contains(&stated), "the docs do not say `{stated}`");
        }
    }

    #[test]
    fn the_three_region_design_is_estimated_from_india_s_coordinates() {
        let sea_mum = round_trip("westus", "westindia").unwrap();
        let lon_mum = round_trip("westeurope", "westindia").unwrap();
        assert!(sea_mum.estimated && lon_mum.estimated);
        // Central India, 120 km from West India, is published: 218 and
        // 140 ms. The estimates are within the fit's 90th percentile of it.
        let near = |us: u32, ms: f64| (f64::from(us) / 1000.0 - ms).abs() <= fit().p90_error_ms;
        assert!(near(sea_mum.us, 218.0), "{sea_mum:?}");
        assert!(near(lon_mum.us, 140.0), "{lon_mum:?}");
        assert_eq!(one_way("westus", "westindia").unwrap().us, sea_mum.us / 2);
        assert_eq!(round_trip("usgovvirginia", "usgovtexas"), None);
    }

    #[test]
    fn broken_coordinates_are_refused() {
        assert!(parse_coordinates("h\nwestus,1,2\n").is_ok());
        assert!(parse_coordinates("h\nwestuss,1,2\n").is_err());
        assert!(parse_coordinates("h\nwestus,91,2\n").is_err());
        assert!(parse_coordinates("h\nwestus,1\n").is_err());
        assert!(parse_coordinates("h\nwestus,1,x\n").is_err());
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
