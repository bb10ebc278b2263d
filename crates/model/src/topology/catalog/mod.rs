//! Azure's published numbers, shipped as data with their source and date:
//! the median round trip between regions ([`round_trips`]), each VM size's
//! expected network bandwidth ([`vm_sizes`]) and each gateway SKU's
//! aggregate throughput ([`gateway_skus`]). The topology refuses what these
//! tables do not know (an unknown size, a region pair without a published
//! figure where one is needed); the policy layer turns them into the delays
//! and rates a lab applies.

pub mod gateway_skus;
pub mod round_trips;
pub mod vm_sizes;

/// The known name closest to `given` (case and `_`/`-`/space folded), for a
/// "did you mean" hint: the nearest by edit distance, within a third of
/// the name's length.
pub fn closest_name<'k>(given: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = fold(given);
    known
        .map(|k| (strsim::levenshtein(&wanted, &fold(k)), k))
        .filter(|(d, _)| *d <= wanted.len().max(3) / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
