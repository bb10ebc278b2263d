//! BIND 9's files: `named.conf` and one zone file per zone. named runs as
//! `bind`, chrooted to its directory (`-t`), so every path in
//! `named.conf` is inside the chroot: the configuration and zone files at
//! its top (root's; `bind` reads them), the working directory `work/`
//! (`bind`'s: the only place it writes). No pid file, no session key, no
//! control channel; its log goes to standard error with each line's
//! severity (relayed to vnetd's log). Recursion for anyone, no DNSSEC
//! validation, short caches; zones as primary zones, forwarders by domain
//! as forward zones (the root's in the options). Every string goes
//! through [`crate::config_text`]: paths and names as `named.conf`'s
//! quoted strings, records as master-file text.

use super::{DnsServerSpec, ZoneSpec};
use crate::config_text::dns::DnsName;
use crate::config_text::named::string;
use crate::config_text::Refused;
use crate::log_relay::{level_after_word, Level};
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// The configuration file's name in the run directory.
pub const CONFIG: &str = "named.conf";

/// named's working directory, inside the chroot.
pub const WORK_DIR: &str = "work";

/// A zone's file name in the run directory: the zone's name (plain
/// characters only, see [`DnsName`]) and `.zone`.
pub fn zone_file_name(zone: &DnsName) -> String {
    format!("{zone}.zone")
}

fn forwarders_clause(addresses: &[SocketAddr]) -> String {
    let listed: Vec<String> = addresses
        .iter()
        .map(|a| format!("{} port {};", a.ip(), a.port()))
        .collect();
    format!("forwarders {{ {} }}; forward only;", listed.join(" "))
}

/// `named.conf` for `spec`, or the value it cannot hold.
pub fn config(spec: &DnsServerSpec) -> Result<String, Refused> {
    let root = spec
        .forwarders
        .iter()
        .find(|f| f.domain.is_none())
        .map(|f| format!("  {}\n", forwarders_clause(&f.addresses)))
        .unwrap_or_default();
    let work = string(&format!("/{WORK_DIR}"))?;
    let mut text = format!(
        "# Written by vnetd.\n\
         options {{\n\
         \x20 directory {work};\n\
         \x20 pid-file none;\n\
         \x20 session-keyfile none;\n\
         \x20 listen-on port 53 {{ any; }};\n\
         \x20 listen-on-v6 {{ none; }};\n\
         \x20 allow-query {{ any; }};\n\
         \x20 allow-recursion {{ any; }};\n\
         \x20 recursion yes;\n\
         \x20 dnssec-validation no;\n\
         \x20 max-cache-ttl 30;\n\
         \x20 max-ncache-ttl 5;\n\
         {root}}};\n\
         controls {{ }};\n\
         logging {{\n\
         \x20 channel vnetd {{ stderr; severity info; print-severity yes; print-category yes; }};\n\
         \x20 category default {{ vnetd; }};\n\
         \x20 category lame-servers {{ null; }};\n\
         }};\n"
    );
    for zone in &spec.zones {
        text.push_str(&format!(
            "zone {} {{ type primary; file {}; }};\n",
            string(zone.name.as_str())?,
            string(&format!("/{}", zone_file_name(&zone.name)))?
        ));
    }
    for forwarder in &spec.forwarders {
        let Some(domain) = &forwarder.domain else {
            continue;
        };
        text.push_str(&format!(
            "zone {} {{ type forward; {} }};\n",
            string(domain.as_str())?,
            forwarders_clause(&forwarder.addresses)
        ));
    }
    Ok(text)
}

/// A zone file: its SOA and NS (the server itself, `ns`, at 127.0.0.1
/// unless the zone names `ns`), then the records.
pub fn zone_file(zone: &ZoneSpec) -> Result<String, Refused> {
    let ns = DnsName::new("ns")?.below(&zone.name)?;
    let hostmaster = DnsName::new("hostmaster")?.below(&zone.name)?;
    let mut text = format!(
        "$TTL 300\n@ IN SOA {} {} 1 3600 600 86400 5\n@ IN NS {}\n",
        ns.absolute(),
        hostmaster.absolute(),
        ns.absolute()
    );
    let names_ns =
        |r: &super::ZoneRecord| matches!(&r.owner, super::Owner::Below(n) if n.as_str() == "ns");
    if !zone.records.iter().any(names_ns) {
        text.push_str(&format!("{} 300 IN A 127.0.0.1\n", ns.absolute()));
    }
    for r in &zone.records {
        text.push_str(&r.line(&zone.name)?);
        text.push('\n');
    }
    Ok(text)
}

/// The files of the run directory: name and text.
pub fn files(spec: &DnsServerSpec) -> Result<Vec<(String, String)>, Refused> {
    let mut files = vec![(CONFIG.to_string(), config(spec)?)];
    for zone in &spec.zones {
        files.push((zone_file_name(&zone.name), zone_file(zone)?));
    }
    Ok(files)
}

/// The working directory, `bind`'s alone (0700).
pub(super) fn make_work_dir(dir: &Path, user: &nix::unistd::User) -> Result<()> {
    let work = dir.join(WORK_DIR);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&work)
        .with_context(|| format!("creating {}", work.display()))?;
    nix::unistd::chown(&work, Some(user.uid), Some(user.gid))
        .with_context(|| format!("giving {} to {}", work.display(), user.name))
}

/// BIND's own checker of the configuration and, with `-z`, of every zone
/// it loads, inside the chroot.
pub fn check_command(dir: &Path) -> (&'static str, Vec<String>) {
    let args = [
        "-z",
        "-t",
        &dir.display().to_string(),
        &format!("/{CONFIG}"),
    ]
    .map(str::to_owned)
    .to_vec();
    ("named-checkconf", args)
}

/// The arguments named is started with: in the foreground (`-f`), as
/// `bind`, chrooted to `dir`.
pub fn arguments(dir: &Path) -> Vec<String> {
    [
        "-f",
        "-u",
        "bind",
        "-t",
        &dir.display().to_string(),
        "-c",
        &format!("/{CONFIG}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The level of a line named writes with `print-category` and
/// `print-severity`: `general: notice: running`.
pub fn level_of(line: &str) -> (Level, &str) {
    match line.split_once(": ") {
        Some((_category, rest)) if level_after_word(rest).1 != rest => level_after_word(rest),
        _ => level_after_word(line),
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::tests::spec;
    use super::*;
    use crate::dns_server::DnsSoftware;

    #[test]
    fn zones_are_primary_and_forwarders_forward_by_domain() {
        let s = spec(DnsSoftware::Bind);
        let text = config(&s).unwrap();
        assert!(text.contains("  forwarders { 168.63.129.16 port 53; }; forward only;\n"));
        assert!(text.contains(
            "zone \"blob.core.windows.net\" { type forward; forwarders { 10.0.5.4 port 53; }; \
             forward only; };\n"
        ));
        assert!(text.contains(
            "zone \"corp.contoso.com\" { type primary; file \"/corp.contoso.com.zone\"; };\n"
        ));
        assert!(text.contains("  directory \"/work\";\n"));
        let zone = zone_file(&s.zones[0]).unwrap();
        assert!(zone.contains("app.corp.contoso.com. 300 IN A 192.168.1.20\n"));
        assert!(zone.contains("www.corp.contoso.com. 60 IN CNAME app.corp.contoso.com.\n"));
        assert!(zone
            .contains("corp.contoso.com. 300 IN TXT \"x\\039 include: \\034/etc/shadow\\034\"\n"));
        assert!(zone.starts_with("$TTL 300\n@ IN SOA ns.corp.contoso.com. "));
    }

    #[test]
    fn levels_are_read_after_the_category() {
        assert_eq!(
            level_of("general: notice: running"),
            (Level::Info, "running")
        );
        assert_eq!(
            level_of("zoneload: error: zone x/IN: loading failed"),
            (Level::Error, "zone x/IN: loading failed")
        );
        assert_eq!(level_of("general: warning: odd"), (Level::Warn, "odd"));
        assert_eq!(
            level_of("no severity here"),
            (Level::Info, "no severity here")
        );
    }
}
