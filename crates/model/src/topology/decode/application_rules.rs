//! Decoders for what application rules and the firewall's DNS proxy add
//! to a firewall policy: the policy's tier (`sku`), its `dns` block, an
//! application rule's `protocols` (`{type, port}` as azurerm writes them,
//! or `Https:443` as the portal shows them), destination FQDNs (a leading
//! `*` is the only wildcard Azure takes, and network rules take none) and
//! the names of FQDN tags and web categories.

use super::reader::{Decoder, Fields};
use crate::topology::model::{ApplicationPort, ApplicationProtocol, FirewallSku, FqdnPattern};

impl Decoder<'_> {
    /// A firewall policy's `sku` (Standard when absent), with its line.
    pub(super) fn policy_sku(&mut self, f: &Fields, key: &str) -> Option<(FirewallSku, usize)> {
        let line = f.given(key).map_or(f.line, |n| n.line);
        let sku = self.one_of_or(f, key, FirewallSku::Standard)?;
        Some((sku, line))
    }

    /// A policy's `dns { proxy_enabled, servers }`.
    pub(super) fn firewall_dns(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<super::RawFirewallDns>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let d = self.fields(
            node,
            &k,
            "a firewall policy's DNS settings",
            &["proxy_enabled", "servers"],
        )?;
        let proxy_enabled = self.flag(&d, "proxy_enabled", false)?;
        let servers = self.dns_servers(&d, "servers")?;
        Some(Some(super::RawFirewallDns {
            proxy_enabled,
            servers,
            line: node.line,
        }))
    }

    /// An application rule's `protocols`: at least one, each `{type,
    /// port}` or `Type:port`; the type Http, Https or Mssql, the port 1 to
    /// 64000 (Azure's range for application rules).
    pub(super) fn application_protocols(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<ApplicationPort>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let items = self.nonempty_items(node, &k, "an application rule needs a protocol")?;
        let mut out = Vec::with_capacity(items.len());
        let mut broken = false;
        for (i, item) in items.iter().enumerate() {
            let ik = format!("{k}[{i}]");
            let read = match &item.value {
                super::Value::Map(_) => {
                    let p = self.fields(item, &ik, "a protocol", &["type", "port"])?;
                    let protocol = self.one_of::<ApplicationProtocol>(&p, "type");
                    let port = self
                        .required(&p, "port")
                        .and_then(|n| self.application_port(n, &p.key("port")));
                    protocol.zip(port)
                }
                _ => self
                    .string(item, &ik)
                    .and_then(|text| self.application_port_text(&text, item.line, &ik)),
            };
            match read {
                Some((protocol, port)) => out.push(ApplicationPort { protocol, port }),
                None => broken = true,
            }
        }
        (!broken).then_some(out)
    }

    fn application_port(&mut self, node: &super::Node, key: &str) -> Option<u16> {
        let why = "application rules take ports 1 to 64000";
        self.number_in(node, key, 1..=64_000, why).map(|p| p as u16)
    }

    /// `Https:443` (or `Https=443`, as `az` takes it).
    fn application_port_text(
        &mut self,
        text: &str,
        line: usize,
        key: &str,
    ) -> Option<(ApplicationProtocol, u16)> {
        let parsed = text.split_once([':', '=']).and_then(|(t, p)| {
            let protocol = t.trim().parse::<ApplicationProtocol>().ok()?;
            let port = p
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| (1..=64_000).contains(p))?;
            Some((protocol, port))
        });
        if parsed.is_none() {
            let why = format!(
                "`{text}` is not a protocol and port of an application rule (expected Http, \
                 Https or Mssql with a port 1 to 64000, such as Https:443 or {{type: Https, \
                 port: 443}})"
            );
            self.diags.error(line, key, why);
        }
        parsed
    }

    /// An application rule's (or a named set's) FQDNs: `*`, a name, or a
    /// name after a leading `*` (`*.ubuntu.com`, `*ubuntu.com`).
    pub(super) fn application_fqdns(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<(FqdnPattern, usize)>> {
        self.fqdn_list(f, key, true)
    }

    /// A network rule's FQDNs: names without wildcards ("Network rules
    /// don't support wildcard FQDNs", Azure Firewall FQDN filtering in
    /// network rules).
    pub(super) fn network_fqdns(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<(FqdnPattern, usize)>> {
        self.fqdn_list(f, key, false)
    }

    /// The FQDNs under `key`, each with its line; `wildcards` allows the
    /// leading `*`.
    fn fqdn_list(
        &mut self,
        f: &Fields,
        key: &str,
        wildcards: bool,
    ) -> Option<Vec<(FqdnPattern, usize)>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            match fqdn_pattern(&text, wildcards) {
                Ok(p) => Some((p, line)),
                Err(why) => {
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        read.into_iter().collect()
    }

    /// Names of FQDN tags or web categories, each with its line.
    pub(super) fn named_sets(&mut self, f: &Fields, key: &str) -> Option<Vec<(String, usize)>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |_, text, line, _| Some((text, line)));
        read.into_iter().collect()
    }
}

/// The pattern `text` stands for; `wildcards` allows the leading `*`.
pub fn fqdn_pattern(text: &str, wildcards: bool) -> Result<FqdnPattern, String> {
    let trimmed = text.trim();
    if trimmed == "*" && wildcards {
        return Ok(FqdnPattern("*".into()));
    }
    let (star, name) = match trimmed.strip_prefix('*') {
        Some(rest) if wildcards => ("*", rest),
        Some(_) => {
            return Err(format!(
                "`{text}`: network rules take FQDNs without wildcards (Azure Firewall FQDN \
                 filtering in network rules); write the name, or use an application rule"
            ))
        }
        None => ("", trimmed),
    };
    let dot = if name.starts_with('.') { "." } else { "" };
    let bare = name.strip_prefix('.').unwrap_or(name);
    if bare.contains('*') {
        return Err(format!(
            "`{text}`: Azure Firewall takes a wildcard only at the start of an FQDN \
             (`*.contoso.com`)"
        ));
    }
    let lower = super::dns::dns_name(bare)?;
    Ok(FqdnPattern(format!("{star}{dot}{lower}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_a_leading_wildcard_only_where_azure_does() {
        let p = |t, w| fqdn_pattern(t, w).map(|p| p.0);
        assert_eq!(p("*.Ubuntu.com", true).unwrap(), "*.ubuntu.com");
        assert_eq!(p("*ubuntu.com", true).unwrap(), "*ubuntu.com");
        assert_eq!(p("*", true).unwrap(), "*");
        assert_eq!(p("GitHub.com.", true).unwrap(), "github.com");
        assert!(p("a.*.com", true).is_err());
        assert!(p("*.ubuntu.com", false).is_err());
        assert!(p("*", false).is_err());
        assert!(p("bad name", true).is_err());
    }

    #[test]
    fn a_wildcard_matches_below_its_suffix_only() {
        let w = FqdnPattern("*.ubuntu.com".into());
        assert!(w.matches("archive.ubuntu.com"));
        assert!(w.matches("a.b.UBUNTU.com."));
        assert!(!w.matches("ubuntu.com"));
        assert!(!w.matches("evilubuntu.com"));
        let any = FqdnPattern("*".into());
        assert!(any.matches("example.org"));
        let exact = FqdnPattern("github.com".into());
        assert!(exact.matches("GitHub.com"));
        assert!(!exact.matches("api.github.com"));
    }
}
