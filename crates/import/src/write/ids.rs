//! What an Azure resource ID names: the names of its last segments, by
//! their types. References are IDs whichever reader produced them, so the
//! writer finds what each names here, and the readers find the parts of
//! the IDs they synthesise or follow.

/// The names of the last segments of an Azure resource ID, when their types
/// are `kinds` (compared without case, as Azure does): `id_names(id,
/// ["virtualNetworks", "subnets"])` of `.../virtualNetworks/hub/subnets/nva`
/// is `["hub", "nva"]`.
pub fn id_names(id: &str, kinds: &[&str]) -> Option<Vec<String>> {
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let needed = kinds.len() * 2;
    if parts.len() < needed + 1 {
        return None;
    }
    let tail = &parts[parts.len() - needed..];
    let mut names = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let (t, n) = (tail[2 * i], tail[2 * i + 1]);
        if !t.eq_ignore_ascii_case(kind) || n.is_empty() {
            return None;
        }
        names.push(n.to_string());
    }
    Some(names)
}
