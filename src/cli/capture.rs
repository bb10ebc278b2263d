//! `vnetd capture`: what crosses one port's device in the running lab, as
//! pcapng, to stdout or a file. The port is looked up in the running lab's
//! own topology, so the capture is of the namespace that lab built.

use super::lab::running_plan;
use super::{say_err, Failure};
use crate::host::capture::{CaptureLimit, CaptureSocket, SNAPLEN};
use crate::host::netns;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct CaptureArgs<'a> {
    pub nic: &'a str,
    pub filter: Option<&'a str>,
    pub write: Option<&'a Path>,
    pub count: Option<u64>,
    pub seconds: Option<u64>,
}

pub(super) fn capture(args: &CaptureArgs) -> Result<(), Failure> {
    super::lab::require_root("capture", "opens a packet socket in the NIC's namespace")?;
    let (topology, plan) = running_plan()?;
    let port = plan
        .port_by_name(args.nic)
        .map(|i| &plan.ports[i])
        .ok_or_else(|| {
            Failure::refused(format!(
                "no NIC or gateway instance named `{}` in the running lab ({})",
                args.nic, topology.source
            ))
        })?;
    if !netns::exists(&port.netns) {
        return Err(Failure::refused(format!(
            "{} has no namespace {} on this machine: in a lab spread over several hosts, \
             capture on the host it is placed on",
            args.nic, port.netns
        )));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Failure::refused(format!("vnetd capture: {e}")))?;
    }
    // Ctrl-C while the filter compiles ends the compiler too.
    let socket = CaptureSocket::open(&port.netns, &port.interface, args.filter, &stop)
        .map_err(|e| Failure::refused(format!("vnetd capture: {e:#}")))?;
    let limit = CaptureLimit {
        packets: args.count,
        duration: args.seconds.map(Duration::from_secs),
    };
    let description = port.capture_description(&topology);
    let out: Box<dyn Write> = match args.write {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|e| {
            Failure::refused(format!("vnetd capture: creating {}: {e}", path.display()))
        })?),
        None => Box::new(std::io::stdout()),
    };
    let summary = socket
        .write_pcapng(
            &mut vec![0u8; SNAPLEN],
            std::io::BufWriter::new(out),
            &port.interface,
            &description,
            limit,
            &stop,
        )
        .map_err(|e| Failure::refused(format!("vnetd capture: {e:#}")))?;
    say_err(&format!(
        "vnetd capture: {} packets on {} ({}){}\n",
        summary.packets,
        args.nic,
        port.interface,
        if summary.reader_gone {
            ", until the reader closed its end"
        } else {
            ""
        }
    ));
    Ok(())
}
