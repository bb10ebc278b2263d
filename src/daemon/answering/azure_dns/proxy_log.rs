//! Azure Firewall's DNS proxy log (`AZFWDnsQuery`): a query the proxy
//! answered, as the row the firewalls' log writes (see
//! [`crate::daemon::forwarding::firewall_log`]), from the columns
//! [`crate::names::query_log`] reads off the query and its answer.

use crate::daemon::forwarding::firewall_log::DnsQuery;
use crate::names::query_log::DnsQueryEntry;

/// The row of `entry`.
pub fn row(entry: DnsQueryEntry) -> DnsQuery {
    DnsQuery {
        source_ip: entry.source_ip,
        source_port: entry.source_port,
        query_id: entry.query_id,
        query_type: entry.query_type,
        query_class: entry.query_class,
        query_name: entry.query_name,
        protocol: entry.protocol.to_string(),
        request_size: entry.request_size as u32,
        dnssec_ok_bit: entry.dnssec_ok_bit,
        edns0_buffer_size: u32::from(entry.edns0_buffer_size),
        response_code: entry.response_code,
        response_flags: entry.response_flags,
        response_size: entry.response_size as u32,
        request_duration_secs: entry.request_duration_secs,
        error_number: entry.error_number,
        error_message: entry.error_message,
    }
}
