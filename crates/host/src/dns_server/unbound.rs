//! unbound's files: one `unbound.conf`. It drops to the `unbound` user
//! and chroots to its directory, keeps no pid file and no control
//! channel, logs to its standard error (relayed to vnetd's log), does no
//! DNSSEC validation (a lab has no trust anchor) and caches briefly (a
//! lab's records change under it); zones are local data, forwarders
//! forward zones. Every string goes through [`crate::config_text`]:
//! paths and names as quoted strings, each record as `local-data`'s
//! single-quoted master-file text.

use super::DnsServerSpec;
use crate::config_text::dns::absolute_or_root;
use crate::config_text::unbound::{record, string};
use crate::config_text::Refused;
use crate::log_relay::{level_after_word, Level};
use std::path::Path;

/// The configuration file's name in the run directory.
pub const CONFIG: &str = "unbound.conf";

/// unbound's configuration for `spec`, or the value it cannot hold.
pub fn config(spec: &DnsServerSpec) -> Result<String, Refused> {
    let dir = string(&spec.run_dir.display().to_string())?;
    let user = string(spec.software.user())?;
    let mut text = format!(
        "# Written by vnetd.\n\
         server:\n\
         \x20 username: {user}\n\
         \x20 chroot: {dir}\n\
         \x20 directory: {dir}\n\
         \x20 pidfile: \"\"\n\
         \x20 use-syslog: no\n\
         \x20 logfile: \"\"\n\
         \x20 interface: 0.0.0.0\n\
         \x20 port: 53\n\
         \x20 do-ip6: no\n\
         \x20 num-threads: 1\n\
         \x20 so-reuseport: no\n\
         \x20 access-control: 0.0.0.0/0 allow\n\
         \x20 module-config: \"iterator\"\n\
         \x20 cache-max-ttl: 30\n\
         \x20 cache-max-negative-ttl: 5\n\
         \x20 harden-referral-path: no\n\
         \x20 qname-minimisation: no\n"
    );
    for zone in &spec.zones {
        text.push_str(&format!(
            "  local-zone: {} static\n",
            string(&zone.name.absolute())?
        ));
        for r in &zone.records {
            text.push_str(&format!(
                "  local-data: {}\n",
                record(&r.line(&zone.name)?)?
            ));
        }
    }
    text.push_str("remote-control:\n  control-enable: no\n");
    for forwarder in &spec.forwarders {
        text.push_str(&format!(
            "forward-zone:\n  name: {}\n",
            string(&absolute_or_root(forwarder.domain.as_ref()))?
        ));
        for address in &forwarder.addresses {
            text.push_str(&format!(
                "  forward-addr: {}@{}\n",
                address.ip(),
                address.port()
            ));
        }
    }
    Ok(text)
}

/// The files of the run directory: name and text.
pub fn files(spec: &DnsServerSpec) -> Result<Vec<(String, String)>, Refused> {
    Ok(vec![(CONFIG.to_string(), config(spec)?)])
}

/// unbound's own checker of the configuration.
pub fn check_command(dir: &Path) -> (&'static str, Vec<String>) {
    let config = dir.join(CONFIG).display().to_string();
    ("unbound-checkconf", vec![config])
}

/// The arguments unbound is started with: in the foreground (`-d`).
pub fn arguments(dir: &Path) -> Vec<String> {
    let config = dir.join(CONFIG).display().to_string();
    vec!["-d".to_string(), "-c".to_string(), config]
}

/// The level of a line unbound writes: `[1732780000] unbound[12:0] info:
/// start of service`.
pub fn level_of(line: &str) -> (Level, &str) {
    let message = line
        .split_once("] ")
        .and_then(|(_, rest)| rest.split_once("] "))
        .map_or(line, |(_, rest)| rest);
    level_after_word(message)
}

#[cfg(test)]
mod tests {
    use super::super::spec::tests::spec;
    use super::*;
    use crate::dns_server::DnsSoftware;

    #[test]
    fn zones_are_local_data_and_forwarders_forward_zones() {
        let text = config(&spec(DnsSoftware::Unbound)).unwrap();
        assert!(text.contains("  username: \"unbound\"\n  chroot: \"/run/vnetd/lab/dns/dc1\"\n"));
        assert!(text.contains("  local-zone: \"corp.contoso.com.\" static\n"));
        assert!(text.contains("  local-data: 'app.corp.contoso.com. 300 IN A 192.168.1.20'\n"));
        assert!(text
            .contains("  local-data: 'www.corp.contoso.com. 60 IN CNAME app.corp.contoso.com.'\n"));
        assert!(text.contains(
            "  local-data: 'corp.contoso.com. 300 IN TXT \"x\\039 include: \\034/etc/shadow\\034\"'\n"
        ));
        assert!(text.contains(
            "forward-zone:\n  name: \"blob.core.windows.net.\"\n  forward-addr: 10.0.5.4@53\n"
        ));
        assert!(text.contains("forward-zone:\n  name: \".\"\n  forward-addr: 168.63.129.16@53\n"));
    }

    #[test]
    fn levels_are_read_after_the_prefix() {
        assert_eq!(
            level_of("[1795860640] unbound[13511:0] error: bind: address in use"),
            (Level::Error, "bind: address in use")
        );
        assert_eq!(
            level_of("[1795860640] unbound[13511:0] info: start of service (unbound 1.17.1)."),
            (Level::Info, "start of service (unbound 1.17.1).")
        );
        assert_eq!(level_of("odd line"), (Level::Info, "odd line"));
    }
}
