//! What the Mermaid and DOT spellings of a picture share: the colours
//! that tell load balancing, Route Servers, the Internet and NAT gateways
//! apart, and how label text is escaped and quoted.

/// The colour of load-balancing edges and of frontends' outline.
pub(super) const LOAD_BALANCING: &str = "#2f855a";
/// The fill of a load balancer frontend's node.
pub(super) const FRONTEND_FILL: &str = "#d9f2e3";
/// The outline and fill of a Route Server's node.
pub(super) const ROUTE_SERVER: &str = "#6b46c1";
pub(super) const ROUTE_SERVER_FILL: &str = "#e9e1fb";
/// The colour of the ways to and from the Internet, and the outline and
/// fill of the Internet's node.
pub(super) const INTERNET: &str = "#2b6cb0";
pub(super) const INTERNET_FILL: &str = "#e3eefa";
/// The outline and fill of a NAT gateway's node.
pub(super) const NAT_GATEWAY: &str = "#0f766e";
pub(super) const NAT_GATEWAY_FILL: &str = "#dcf3ef";

/// `text` on one line (a line break becomes a space), each character
/// `escapes` names replaced by its escape: how both languages protect
/// label text.
pub(super) fn escaped(text: &str, escapes: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match escapes.iter().find(|(e, _)| *e == c) {
            Some((_, escape)) => out.push_str(escape),
            None if c == '\n' || c == '\r' => out.push(' '),
            None => out.push(c),
        }
    }
    out
}

/// A label of `lines`, each escaped with `escape`, joined by `separator`
/// and double-quoted.
pub(super) fn quoted_label(
    lines: &[String],
    escape: fn(&str) -> String,
    separator: &str,
) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    format!("\"{}\"", escaped.join(separator))
}
