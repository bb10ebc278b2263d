//! Writing: the topology file's text from the model, with a source comment
//! before each object, the check of the written text, and YAML scalars
//! and lists as the file spells them.

use super::*;
use crate::ImportError;

/// The text, and for each object the line of its source comment.
pub(super) struct Output {
    pub(super) text: String,
    pub(super) sources: Vec<(usize, String)>,
    /// The lines written so far, kept as they are written: counting them
    /// in the text at each object made an import quadratic in its size.
    lines: usize,
}

impl Output {
    pub(super) fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
        self.lines += 1 + text.bytes().filter(|b| *b == b'\n').count();
    }

    pub(super) fn lines(&self) -> usize {
        self.lines
    }

    /// A blank line and `key:`, opening a list of the file.
    pub(super) fn section(&mut self, key: &str) {
        self.line("");
        self.line(&format!("{key}:"));
    }

    /// A list under `key` at `indent` (a section of the file at 0), with
    /// `each` writing each of `items`; nothing when there are none.
    pub(super) fn list<T>(
        &mut self,
        indent: usize,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T),
    ) {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            return;
        }
        if indent == 0 {
            self.section(key);
        } else {
            self.line(&format!("{}{key}:", " ".repeat(indent)));
        }
        for item in items {
            each(self, item);
        }
    }

    /// An object of a list at `indent`: its source comment and `- name:`.
    pub(super) fn item(&mut self, indent: usize, source: &str, name: &str) {
        self.source(indent, source);
        self.line(&format!("{}- name: {}", " ".repeat(indent), scalar(name)));
    }

    /// `key: value` at `indent`, `value` as the file spells it.
    pub(super) fn field(&mut self, indent: usize, key: &str, value: &str) {
        self.line(&format!("{}{key}: {value}", " ".repeat(indent)));
    }

    /// `key: value` at `indent` when there is a value, as a scalar.
    pub(super) fn scalar_field(&mut self, indent: usize, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.field(indent, key, &scalar(value));
        }
    }

    /// A comment `# NOTE` at `indent` for each of `notes`, one line each.
    pub(super) fn notes<'n>(&mut self, indent: usize, notes: impl IntoIterator<Item = &'n String>) {
        for note in notes {
            self.line(&format!("{}# {}", " ".repeat(indent), one_line(note)));
        }
    }

    /// `key: NAME  # SOURCE` at `indent` when there is a `link`.
    pub(super) fn link_field(&mut self, indent: usize, key: &str, link: Option<&Link>) {
        if let Some(link) = link {
            let (name, source) = (scalar(&link.name), one_line(&link.source));
            self.line(&format!("{}{key}: {name}  # {source}", " ".repeat(indent)));
        }
    }

    /// The names of `links` as a list at `indent`, in name order, each
    /// after its source comment.
    pub(super) fn link_list(&mut self, indent: usize, links: &[Link]) {
        for link in by_name(links, |l| &l.name) {
            self.source(indent, &link.source);
            self.line(&format!("{}- {}", " ".repeat(indent), scalar(&link.name)));
        }
    }

    /// `# SOURCE` at `indent`, remembered for mapping refusals back.
    pub(super) fn source(&mut self, indent: usize, source: &str) {
        let line = self.lines() + 1;
        self.sources.push((line, source.to_string()));
        self.line(&format!("{}# {}", " ".repeat(indent), one_line(source)));
    }
}

impl Model<'_> {
    pub(super) fn render(&self, origin: &str) -> Output {
        let mut out = Output {
            text: String::new(),
            sources: Vec::new(),
            lines: 0,
        };
        out.line(&format!(
            "# Imported by `vnetd import` from {}.",
            one_line(origin)
        ));
        out.line("# The comment before each object names where it came from.");
        if !self.ignored.is_empty() {
            out.line("# Ignored (vnetd does not emulate these):");
            let mut ignored: Vec<String> = self
                .ignored
                .iter()
                .map(|(r, note)| {
                    let what = if r.name.is_empty() {
                        r.kind.clone()
                    } else {
                        format!("{}.{}", r.kind, r.name)
                    };
                    let note = if note.is_empty() {
                        String::new()
                    } else {
                        format!(": {note}")
                    };
                    format!(
                        "#   {} ({}){}",
                        one_line(&what),
                        one_line(&r.source),
                        one_line(&note)
                    )
                })
                .collect();
            ignored.sort();
            for line in ignored {
                out.line(&line);
            }
        }
        // The file's sections, in the order it has them.
        let sections: [fn(&Self, &mut Output); 19] = [
            Self::render_vnets,
            Self::render_peerings,
            Self::render_nics,
            Self::render_vms,
            Self::render_route_tables,
            Self::render_nsgs,
            Self::render_asgs,
            Self::render_express_route,
            Self::render_gateways,
            Self::render_load_balancers,
            Self::render_edge,
            Self::render_firewalls,
            Self::render_route_servers,
            Self::render_virtual_wans,
            Self::render_services,
            Self::render_names,
            Self::render_resolvers,
            Self::render_flow_logs,
            Self::render_network_managers,
        ];
        for render in sections {
            render(self, &mut out);
        }
        out
    }

    fn render_asgs(&self, out: &mut Output) {
        out.list(
            0,
            "application_security_groups",
            &self.asgs,
            |out, (name, source)| out.item(2, source, name),
        );
    }

    pub(super) fn render_vnets(&self, out: &mut Output) {
        out.list(0, "vnets", self.vnets.values(), |out, vnet| {
            out.item(2, &vnet.source, &vnet.name);
            out.field(4, "address_space", &flow_list(&vnet.address_space));
            out.scalar_field(4, "location", vnet.location.as_deref());
            if !vnet.dns_servers.is_empty() {
                out.field(4, "dns_servers", &flow_list(&vnet.dns_servers));
            }
            if !vnet.tags.is_empty() {
                out.field(4, "tags", &flow_map(&vnet.tags));
            }
            out.list(4, "subnets", vnet.subnets.values(), |out, subnet| {
                out.item(6, &subnet.source, &subnet.name);
                let prefixes: Vec<String> = subnet.prefixes.iter().map(|p| p.to_string()).collect();
                out.field(8, "address_prefixes", &flow_list(&prefixes));
                out.link_field(8, "network_security_group", subnet.nsg.as_ref());
                out.link_field(8, "route_table", subnet.route_table.as_ref());
                // Disabled is Azure's default, and the file's.
                let policies = subnet.endpoint_policies.as_deref();
                if let Some(p) = policies.filter(|p| !p.eq_ignore_ascii_case("Disabled")) {
                    out.field(8, "private_endpoint_network_policies", &scalar(p));
                }
                let delegation = &subnet.delegation;
                if !delegation.others.is_empty() {
                    out.line(&format!(
                        "        # Also delegated to {}: the file keeps one delegation, the first",
                        one_line(&delegation.others.join(", "))
                    ));
                }
                out.scalar_field(8, "delegation", delegation.service.as_deref());
                subnet.services.render(out);
                // Azure's default (and azurerm's) is on, the file's off:
                // written either way.
                let outbound = subnet.default_outbound.unwrap_or(true);
                out.field(8, "default_outbound_access", &outbound.to_string());
            });
        });
    }

    pub(super) fn render_peerings(&self, out: &mut Output) {
        let mut peerings: Vec<&Peering> = self.peerings.iter().collect();
        peerings.sort_by(|a, b| (&a.name, &a.vnet).cmp(&(&b.name, &b.vnet)));
        out.list(0, "peerings", peerings, |out, p| {
            out.item(2, &p.source, &p.name);
            out.field(4, "virtual_network", &scalar(&p.vnet));
            out.field(4, "remote_virtual_network", &scalar(&p.remote));
            for (key, value) in &p.flags {
                out.field(4, key, &value.to_string());
            }
        });
    }

    pub(super) fn render_nics(&self, out: &mut Output) {
        let nics = by_name(&self.nics, |n| &n.name);
        out.list(0, "network_interfaces", nics, |out, nic| {
            out.item(2, &nic.source, &nic.name);
            let (vnet, subnet) = &nic.configs[0].subnet;
            out.field(4, "subnet", &scalar(&format!("{vnet}/{subnet}")));
            let address = |c: &IpConfig| c.address.map(|a| a.to_string()).unwrap_or_default();
            if let [only] = nic.configs.as_slice() {
                out.field(4, "private_ip_address", &scalar(&address(only)));
            } else {
                out.line("    ip_configurations:");
                for c in &nic.configs {
                    out.line(&format!("      - name: {}", scalar(&c.name)));
                    out.field(8, "private_ip_address", &scalar(&address(c)));
                }
            }
            if nic.ip_forwarding {
                out.line("    ip_forwarding_enabled: true");
            }
            if !nic.dns_servers.is_empty() {
                out.field(4, "dns_servers", &flow_list(&nic.dns_servers));
            }
            out.link_field(4, "network_security_group", nic.nsg.as_ref());
            if !nic.asgs.is_empty() {
                let names: Vec<String> = nic.asgs.iter().cloned().collect();
                out.field(4, "application_security_groups", &flow_list(&names));
            }
            out.notes(4, &nic.public_ip_notes);
            out.scalar_field(4, "public_ip_address", nic.public_ip.as_deref());
        });
    }

    pub(super) fn render_vms(&self, out: &mut Output) {
        let vms = by_name(&self.vms, |v| &v.name);
        out.list(0, "virtual_machines", vms, |out, vm| {
            out.item(2, &vm.source, &vm.name);
            out.field(4, "size", &scalar(&vm.size));
            out.field(4, "network_interfaces", &flow_list(&vm.nics));
        });
    }

    pub(super) fn render_route_tables(&self, out: &mut Output) {
        let tables = self.route_tables.values();
        out.list(0, "route_tables", tables, |out, table| {
            out.item(2, &table.source, &table.name);
            if !table.propagation_enabled {
                out.line("    bgp_route_propagation_enabled: false");
            }
            let routes = by_name(&table.routes, |r| &r.name);
            out.list(4, "routes", routes, |out, route| {
                out.item(6, &route.source, &route.name);
                out.field(8, "address_prefix", &scalar(&route.address_prefix));
                out.field(8, "next_hop_type", &scalar(&route.next_hop_type));
                out.scalar_field(8, "next_hop_in_ip_address", route.next_hop_ip.as_deref());
            });
        });
    }

    pub(super) fn render_nsgs(&self, out: &mut Output) {
        let nsgs = self.nsgs.values();
        out.list(0, "network_security_groups", nsgs, |out, nsg| {
            out.item(2, &nsg.source, &nsg.name);
            let rules = by_name(&nsg.rules, |r| &r.name);
            out.list(4, "security_rules", rules, |out, rule| {
                out.item(6, &rule.source, &rule.name);
                for (key, value) in &rule.fields {
                    out.field(8, key, value);
                }
            });
        });
    }
}

/// `items` in the order of their names (`name` gives an item's).
pub(super) fn by_name<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by(|a, b| name(a).cmp(name(b)));
    sorted
}

/// Parses the written text as `vnetd check` would; a refusal is reported
/// at the source of the object the refused line belongs to.
pub(super) fn check(out: &Output, origin: &str) -> Result<(), ImportError> {
    let Err(diagnostics) = vnetd_model::plan::parse_str(origin, &out.text) else {
        return Ok(());
    };
    let Some(first) = diagnostics
        .iter()
        .find(|d| d.severity == vnetd_model::topology::Severity::Error)
    else {
        return Ok(());
    };
    let location = out
        .sources
        .iter()
        .rev()
        .find(|(line, _)| *line <= first.line)
        .map_or(origin, |(_, source)| source.as_str());
    let what = if first.key.is_empty() {
        first.message.clone()
    } else {
        format!("{}: {}", first.key, first.message)
    };
    let more = diagnostics.len() - 1;
    let more = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    Err(ImportError::new(
        location,
        format!("vnetd refuses what this imports to: {what}{more}"),
    ))
}

/// A YAML scalar: plain when it cannot be read as anything but this text,
/// double-quoted otherwise (`*`, port numbers, IPv6 addresses, ...).
pub(super) fn scalar(text: &str) -> String {
    let plain_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_'));
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let reads_as_text = text
        .chars()
        .any(|c| c.is_ascii_alphabetic() || c == '.' || c == '/');
    let reserved = ["true", "false", "yes", "no", "on", "off", "null", "y", "n"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(text));
    if plain_chars && starts_well && reads_as_text && !reserved {
        return text.to_string();
    }
    crate::quoting::double_quoted(text, &[])
}

/// A number as a plain scalar, anything else quoted.
pub(super) fn plain_or_quoted(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        text.to_string()
    } else {
        scalar(text)
    }
}

/// A mapping on one line (`{role: spoke, env: "1"}`), keys and values as
/// [`scalar`]s, in key order.
pub(super) fn flow_map(entries: &std::collections::BTreeMap<String, String>) -> String {
    let parts: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{}: {}", scalar(key), scalar(value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

pub(super) fn flow_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| scalar(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// Text for a comment: one line.
pub(super) fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod line_count_tests {
    use super::*;

    /// The count kept as lines are written is the text's own, source
    /// comments land on the line they name, and a value spelled over
    /// several lines counts each.
    #[test]
    fn the_lines_counted_are_the_texts() {
        let mut out = Output {
            text: String::new(),
            sources: Vec::new(),
            lines: 0,
        };
        out.line("# header");
        out.section("virtual_networks");
        out.item(2, "vnets.json: hub", "hub");
        out.line("    address_space:\n      - 10.0.0.0/16");
        out.item(2, "vnets.json: spoke", "spoke");
        assert_eq!(out.lines(), out.text.lines().count());
        for (line, source) in &out.sources {
            let written = out.text.lines().nth(line - 1).unwrap();
            assert_eq!(written.trim_start(), format!("# {source}"));
        }
        assert_eq!(
            out.sources.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [4, 8]
        );
    }
}
