//! Azure Firewall's DNS proxy log (`AZFWDnsQuery`): one JSON record per
//! query the proxy answered, appended as a line to
//! `<flow-log dir>/insights-logs-azfwdnsquery/<FIREWALL>.json`, in the
//! record shape of the firewall's other logs (`time`, `resourceId`,
//! `category`, `operationName`, and the table's columns in
//! `properties`, see [`crate::names::query_log`]).

use crate::names::query_log::DnsQueryEntry;
use crate::policy::ids::{RESOURCE_GROUP, SUBSCRIPTION};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The container Azure writes the table's records to.
pub const CONTAINER: &str = "insights-logs-azfwdnsquery";
pub const CATEGORY: &str = "AZFWDnsQuery";

#[derive(Serialize)]
struct Record<'a> {
    time: String,
    #[serde(rename = "resourceId")]
    resource_id: String,
    category: &'static str,
    #[serde(rename = "operationName")]
    operation_name: &'static str,
    properties: &'a DnsQueryEntry,
}

/// Where `firewall`'s proxy log is written under `dir`.
pub fn proxy_log_path(dir: &Path, firewall: &str) -> PathBuf {
    dir.join(CONTAINER)
        .join(format!("{}.json", firewall.to_uppercase()))
}

/// Appends `entry` of `firewall`'s proxy, answered now, to its log under
/// `dir` (the file is never followed through a symbolic link).
pub fn append(dir: &Path, firewall: &str, entry: &DnsQueryEntry) -> std::io::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    let record = Record {
        time: format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.nanosecond() / 100
        ),
        resource_id: format!(
            "/SUBSCRIPTIONS/{SUBSCRIPTION}/RESOURCEGROUPS/{RESOURCE_GROUP}/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/{}",
            firewall.to_uppercase()
        ),
        category: CATEGORY,
        operation_name: CATEGORY,
        properties: entry,
    };
    let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let path = proxy_log_path(dir, firewall);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    file.write_all(&line)
}
