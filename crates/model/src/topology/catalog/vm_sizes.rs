//! Each VM size's expected network bandwidth, as the size's series page on
//! learn.microsoft.com gives it ("Max network bandwidth (Mbps)"), shipped
//! in `data/vm-sizes.csv` with the page of every row; and the sizes Azure
//! sells whose series page documents no bandwidth (Bv1, DCsv3, DCdsv3),
//! in `data/vm-sizes-without-bandwidth.csv`. Those are real sizes: a VM of
//! one runs without a rate cap, with a warning.
//!
//! Azure limits what a VM sends, not what it receives: the bandwidth "is
//! metered on egress (outbound) traffic from the virtual machine" and
//! "Ingress is not metered or limited directly"
//! (virtual-machine-network-throughput); it is "the maximum aggregated
//! bandwidth allocated per VM type across all NICs" (the series pages).

use std::sync::OnceLock;

/// Where the limit's semantics are documented.
pub const SOURCE: &str =
    "https://learn.microsoft.com/azure/virtual-network/virtual-machine-network-throughput";

const CSV: &str = include_str!("../data/vm-sizes.csv");
const WITHOUT_BANDWIDTH_CSV: &str = include_str!("../data/vm-sizes-without-bandwidth.csv");

/// One size of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmSize {
    /// As Azure spells it: `Standard_D2s_v3`.
    pub name: &'static str,
    /// Expected network bandwidth, egress, in Mbps; `None` when the
    /// series page documents none.
    pub mbps: Option<u32>,
    /// The series page the figure is from.
    pub source: &'static str,
}

fn table() -> &'static [VmSize] {
    static TABLE: OnceLock<Vec<VmSize>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut sizes = parse(CSV).expect("the shipped size table parses");
        sizes.extend(
            parse_without_bandwidth(WITHOUT_BANDWIDTH_CSV)
                .expect("the shipped sizes without bandwidth parse"),
        );
        sizes
    })
}

/// Reads `size,max_network_mbps,series_page` rows (after a header and `#`
/// comments).
fn parse(text: &'static str) -> Result<Vec<VmSize>, String> {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&'static str> = line.split(',').collect();
        let [name, mbps, source] = cells[..] else {
            return Err(format!("`{line}` is not size,mbps,page"));
        };
        let mbps = mbps
            .parse::<u32>()
            .ok()
            .filter(|m| *m > 0)
            .ok_or(format!("`{mbps}` of `{name}` is not a bandwidth"))?;
        if !name.starts_with("Standard_") || !source.starts_with("https://") {
            return Err(format!("`{line}` has no Azure size name or page"));
        }
        rows.push(VmSize {
            name,
            mbps: Some(mbps),
            source,
        });
    }
    Ok(rows)
}

/// Reads `size,series_page` rows (after a header and `#` comments): sizes
/// whose page documents no bandwidth.
fn parse_without_bandwidth(text: &'static str) -> Result<Vec<VmSize>, String> {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let [name, source] = line.split(',').collect::<Vec<_>>()[..] else {
            return Err(format!("`{line}` is not size,page"));
        };
        if !name.starts_with("Standard_") || !source.starts_with("https://") {
            return Err(format!("`{line}` has no Azure size name or page"));
        }
        rows.push(VmSize {
            name,
            mbps: None,
            source,
        });
    }
    Ok(rows)
}

/// The size named `given` (any case), or `None`.
pub fn find(given: &str) -> Option<VmSize> {
    table()
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(given))
        .copied()
}

/// The known size closest to `given`, for a "did you mean".
pub fn closest(given: &str) -> Option<&'static str> {
    super::closest_name(given, table().iter().map(|s| s.name))
}

/// True for a size Azure sells and documents no bandwidth for.
pub fn undocumented(given: &str) -> bool {
    find(given).is_some_and(|s| s.mbps.is_none())
}

/// Every size of the table.
pub fn all() -> &'static [VmSize] {
    table()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_names_each_size_once() {
        let mut rows = parse(CSV).unwrap();
        assert!(rows.len() > 400, "{} sizes", rows.len());
        rows.extend(parse_without_bandwidth(WITHOUT_BANDWIDTH_CSV).unwrap());
        let mut names: Vec<String> = rows.iter().map(|r| r.name.to_lowercase()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a size listed twice");
    }

    #[test]
    fn every_required_series_is_there() {
        for size in [
            "Standard_B2s_v2",
            "Standard_D2s_v3",
            "Standard_D4_v4",
            "Standard_D8as_v4",
            "Standard_D2ds_v5",
            "Standard_D16as_v5",
            "Standard_E4s_v3",
            "Standard_E8ds_v5",
            "Standard_F4s_v2",
            "Standard_L8s_v3",
        ] {
            assert!(find(size).is_some(), "{size}");
        }
    }

    #[test]
    fn figures_are_the_series_pages() {
        assert_eq!(find("standard_d2s_v3").map(|s| s.mbps), Some(Some(1_000)));
        assert_eq!(find("Standard_A1_v2").map(|s| s.mbps), Some(Some(250)));
        assert_eq!(find("Standard_F4s").map(|s| s.mbps), Some(Some(3_000)));
        assert_eq!(
            find("Standard_D2s_v3").map(|s| s.name),
            Some("Standard_D2s_v3")
        );
        assert!(find("Standard_D2s_v3")
            .unwrap()
            .source
            .ends_with("/dsv3-series"));
    }

    #[test]
    fn an_unknown_size_has_a_near_one() {
        assert_eq!(find("Standard_D2s_v9"), None);
        assert_eq!(closest("Standard_D2s_v9"), Some("Standard_D2s_v3"));
        assert_eq!(closest("standard-d2sv3"), Some("Standard_D2s_v3"));
        assert_eq!(closest("Pizza"), None);
    }

    #[test]
    fn bv1_and_dcsv3_sizes_are_real_and_have_no_figure() {
        for size in [
            "standard_b1s",
            "Standard_B2s",
            "Standard_DC2s_v3",
            "Standard_DC4ds_v3",
        ] {
            assert!(undocumented(size), "{size}");
            assert_eq!(find(size).map(|s| s.mbps), Some(None), "{size}");
        }
        assert!(!undocumented("Standard_B2s_v2"));
        assert!(!undocumented("Standard_D2s_v4x"));
        assert_eq!(closest("Standard_D2s_v4x"), Some("Standard_D2s_v4"));
    }

    #[test]
    fn a_broken_row_is_refused() {
        assert!(parse("h\nStandard_X,0,https://a\n").is_err());
        assert!(parse("h\nStandard_X,10\n").is_err());
        assert!(parse("h\nX,10,https://a\n").is_err());
        assert!(parse("h\nStandard_X,10,https://a\n").is_ok());
    }
}
