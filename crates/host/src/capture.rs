//! Packet capture on one device of a network namespace, written as pcapng:
//! what `vnetd capture` and the live page's download stream.
//!
//! A packet socket (`AF_PACKET`, every protocol) bound to the device sees
//! each packet the device sends and receives, whichever path carried it:
//! the kernel hands a copy to packet sockets before the driver transmits,
//! and again on every receive round, a `bpf_redirect_peer` into the device
//! included. So packets the kernel fast path carries are captured where
//! they really are, as `tcpdump -i` in the namespace would capture them.
//!
//! The socket is opened inside the namespace and keeps it after the
//! opening thread leaves, so the capture loop runs on the caller's thread.
//! A filter is a pcap filter expression, compiled by `tcpdump -ddd` into
//! classic BPF and attached to the socket: the kernel drops what it does
//! not match before it is copied. The expression is compiled before the
//! socket exists, by tcpdump running as nobody within a time budget
//! ([`compile_filter`]); the socket starts with a program that takes
//! nothing, what reached it before that is discarded, and only then is the
//! filter attached, so no packet the filter refuses is ever read.

pub use super::capture_filter::{
    compile_filter, parse_bpf, FilterError, Instruction, LinkType, COMPILE_BUDGET, MAX_COMPILERS,
    MAX_FILTER_LEN,
};
use super::netns;
use anyhow::{anyhow, bail, Context, Result};
use nix::ifaddrs::getifaddrs;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, setsockopt, socket, sockopt, AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags,
    SockFlag, SockProtocol, SockType,
};
use nix::sys::time::TimeSpec;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::{DataLink, Endianness};
use std::borrow::Cow;
use std::io::{ErrorKind, IoSliceMut, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The largest packet kept whole: libpcap's limit, above the 64 KiB of a
/// GSO super-packet.
pub const SNAPLEN: usize = 262_144;

/// `sll_pkttype` of a packet the device sent.
const PACKET_OUTGOING: u8 = 4;

/// The pcapng link type of what a socket of `link` captures.
fn data_link(link: LinkType) -> DataLink {
    match link {
        LinkType::Ethernet => DataLink::ETHERNET,
        LinkType::RawIp => DataLink::RAW,
    }
}

/// When a capture ends, besides a stop request or the reader going away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureLimit {
    pub packets: Option<u64>,
    pub duration: Option<Duration>,
}

/// How a capture went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSummary {
    pub packets: u64,
    /// The reader closed its end (a pipe to a Wireshark that quit): not an
    /// error for the one who started the capture.
    pub reader_gone: bool,
}

/// A packet socket bound to one device of one namespace.
#[derive(Debug)]
pub struct CaptureSocket {
    fd: OwnedFd,
    link: LinkType,
    /// The device's index: the socket is not bound (a TUN device has no
    /// link address to bind to), so its filter and the loop keep to it.
    ifindex: u32,
}

impl CaptureSocket {
    /// Opens a capture of `device` in namespace `netns`, with an optional
    /// pcap filter expression; setting `cancelled` ends the filter's
    /// compilation (the one who asked went away).
    ///
    /// The filter is compiled first, then the socket opened with a
    /// program that takes nothing, what it queued before that discarded,
    /// and the filter attached: a packet socket takes packets from the
    /// moment it exists, and those, unfiltered, would otherwise be read
    /// as if the filter had let them through.
    pub fn open(
        netns: &str,
        device: &str,
        filter: Option<&str>,
        cancelled: &AtomicBool,
    ) -> Result<CaptureSocket> {
        let opened = netns::run_in(netns, || {
            let link = link_of(device)?;
            let user = filter
                .map(|expr| compile_filter(expr, link, cancelled))
                .transpose()?;
            let socket = open_here(device, link)?;
            socket.discard_queued()?;
            socket.attach(&on_device_only(socket.ifindex, user))?;
            Ok(socket)
        });
        opened.with_context(|| format!("capturing on {device} in namespace {netns}"))
    }

    fn attach(&self, program: &[Instruction]) -> Result<()> {
        let program: Vec<socket2::SockFilter> = program
            .iter()
            .map(|&(code, jt, jf, k)| socket2::SockFilter::new(code, jt, jf, k))
            .collect();
        socket2::SockRef::from(&self.fd)
            .attach_filter(&program)
            .context("attaching the capture filter")
    }

    /// Reads and drops whatever the socket holds now.
    fn discard_queued(&self) -> Result<()> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.fd);
        let mut buf = [0u8; 64];
        loop {
            match nix::sys::socket::recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(anyhow!(e).context("emptying the new capture socket")),
            }
        }
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Writes the capture as pcapng to `out` until `limit`, `stop`, or the
    /// reader going away, reading packets into `buf` (at least [`SNAPLEN`]
    /// bytes, which a caller running many captures keeps from one to the
    /// next). `interface` names the device in the file and `description`
    /// says what it is (Wireshark shows both).
    pub fn write_pcapng<W: Write>(
        &self,
        buf: &mut [u8],
        out: W,
        interface: &str,
        description: &str,
        limit: CaptureLimit,
        stop: &AtomicBool,
    ) -> Result<CaptureSummary> {
        if buf.len() < SNAPLEN {
            bail!(
                "a capture buffer of {} bytes, fewer than {SNAPLEN}",
                buf.len()
            );
        }
        let mut writer = match start_file(out, self.link, interface, description) {
            Ok(writer) => writer,
            Err(e) if reader_gone(&e) => return Ok(gone(0)),
            Err(e) => return Err(e),
        };
        let started = Instant::now();
        let mut packets = 0u64;
        while limit.packets.is_none_or(|n| packets < n) {
            // Once asked to stop, what the socket already holds is still
            // written: a Ctrl-C right after the traffic loses none of it.
            let stopping = stop.load(Ordering::Relaxed);
            let wait = match limit.duration {
                _ if stopping => Duration::ZERO,
                Some(total) => match total.checked_sub(started.elapsed()) {
                    Some(left) => left.min(Duration::from_millis(200)),
                    None => break,
                },
                None => Duration::from_millis(200),
            };
            if !self.readable(wait)? {
                if stopping {
                    break;
                }
                continue;
            }
            let Some(packet) = self.receive(buf)? else {
                continue;
            };
            let block = EnhancedPacketBlock {
                interface_id: 0,
                timestamp: packet.time,
                original_len: u32::try_from(packet.len).unwrap_or(u32::MAX),
                data: Cow::Borrowed(&buf[..packet.len.min(SNAPLEN)]),
                options: vec![EnhancedPacketOption::Flags(if packet.outgoing {
                    2
                } else {
                    1
                })],
            };
            let written = writer
                .write_pcapng_block(block)
                .map_err(anyhow::Error::from)
                .and_then(|_| writer.get_mut().flush().map_err(anyhow::Error::from));
            match written {
                Ok(()) => packets += 1,
                Err(e) if reader_gone(&e) => return Ok(gone(packets)),
                Err(e) => return Err(e.context("writing the capture")),
            }
        }
        Ok(CaptureSummary {
            packets,
            reader_gone: false,
        })
    }

    fn readable(&self, wait: Duration) -> Result<bool> {
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(anyhow!(e).context("waiting for packets")),
        }
    }

    /// The next packet, or None for one of another device that reached the
    /// socket before its filter was attached.
    fn receive(&self, buf: &mut [u8]) -> Result<Option<Received>> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut control = nix::cmsg_space!(TimeSpec);
        let msg = recvmsg::<LinkAddr>(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_TRUNC,
        )
        .context("reading a captured packet")?;
        let time = msg
            .cmsgs()
            .ok()
            .and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::ScmTimestampns(ts) => Some(Duration::from(ts)),
                    _ => None,
                })
            })
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
            });
        let Some(address) = msg.address.filter(|a| a.ifindex() == self.ifindex as usize) else {
            return Ok(None);
        };
        Ok(Some(Received {
            len: msg.bytes,
            outgoing: address.pkttype() == PACKET_OUTGOING,
            time,
        }))
    }
}

struct Received {
    /// The packet's whole length (`MSG_TRUNC`), even when the buffer held
    /// less.
    len: usize,
    outgoing: bool,
    time: Duration,
}

fn gone(packets: u64) -> CaptureSummary {
    CaptureSummary {
        packets,
        reader_gone: true,
    }
}

/// Runs inside the namespace: the device's link type. A device with a
/// link address says its type; one without (a TUN device) carries bare IP
/// packets.
fn link_of(device: &str) -> Result<LinkType> {
    nix::net::if_::if_nametoindex(device)
        .map_err(|_| anyhow!("no device {device} in the namespace"))?;
    let hatype = getifaddrs()
        .context("listing the namespace's devices")?
        .filter(|i| i.interface_name == device)
        .find_map(|i| {
            i.address
                .and_then(|a| a.as_link_addr().map(LinkAddr::hatype))
        });
    match hatype {
        Some(nix::libc::ARPHRD_ETHER) => Ok(LinkType::Ethernet),
        None | Some(nix::libc::ARPHRD_NONE) => Ok(LinkType::RawIp),
        Some(other) => bail!("{device} has link type {other}, neither Ethernet nor bare IP"),
    }
}

/// Runs inside the namespace: a packet socket of every protocol whose
/// program takes nothing yet.
fn open_here(device: &str, link: LinkType) -> Result<CaptureSocket> {
    let ifindex = nix::net::if_::if_nametoindex(device)
        .map_err(|_| anyhow!("no device {device} in the namespace"))?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::EthAll,
    )
    .context("opening a packet socket (needs root)")?;
    let socket = CaptureSocket { fd, link, ifindex };
    socket.attach(&[(RETURN, 0, 0, 0)])?;
    setsockopt(&socket.fd, sockopt::ReceiveTimestampns, &true)
        .context("asking for packet times")?;
    // A burst of iperf3 segments must not overflow the default buffer.
    let _ = setsockopt(&socket.fd, sockopt::RcvBufForce, &(8 << 20));
    Ok(socket)
}

/// BPF_RET|BPF_K: the program's answer, the bytes of the packet to keep.
const RETURN: u16 = 0x06;

/// The socket's program: packets of device `ifindex` only, then `user`'s
/// filter, or the whole packet. Classic BPF jumps are relative, so a
/// compiled program runs unchanged after the three instructions in front.
fn on_device_only(ifindex: u32, user: Option<Vec<Instruction>>) -> Vec<Instruction> {
    // BPF_LD|BPF_W|BPF_ABS of the ancillary field SKF_AD_IFINDEX
    // (SKF_AD_OFF + 8), BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K.
    const LOAD_IFINDEX: (u16, u32) = (0x20, 0xffff_f000 + 8);
    const JUMP_IF_EQUAL: u16 = 0x15;
    let mut program = vec![
        (LOAD_IFINDEX.0, 0, 0, LOAD_IFINDEX.1),
        (JUMP_IF_EQUAL, 1, 0, ifindex),
        (RETURN, 0, 0, 0),
    ];
    program.extend(user.unwrap_or_else(|| vec![(RETURN, 0, 0, SNAPLEN as u32)]));
    program
}

fn start_file<W: Write>(
    out: W,
    link: LinkType,
    interface: &str,
    description: &str,
) -> Result<PcapNgWriter<W>> {
    let section = SectionHeaderBlock {
        endianness: Endianness::native(),
        major_version: 1,
        minor_version: 0,
        section_length: -1,
        options: vec![SectionHeaderOption::UserApplication(Cow::Owned(format!(
            "vnetd {}",
            env!("CARGO_PKG_VERSION")
        )))],
    };
    let mut writer = PcapNgWriter::with_section_header(out, section)?;
    writer.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: data_link(link),
        snaplen: SNAPLEN as u32,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Owned(interface.to_string())),
            InterfaceDescriptionOption::IfDescription(Cow::Owned(description.to_string())),
            // The writer stores nanoseconds; without this option readers
            // take them for microseconds.
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    })?;
    writer.get_mut().flush()?;
    Ok(writer)
}

/// Whether writing failed because the reader closed its end.
fn reader_gone(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            match cause.downcast_ref::<pcap_file::PcapError>() {
                Some(pcap_file::PcapError::IoError(io)) => Some(io),
                _ => None,
            }
        });
        io.is_some_and(|e| matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_the_reader_going_away() {
        let io = std::io::Error::from(ErrorKind::BrokenPipe);
        assert!(reader_gone(&anyhow::Error::from(io)));
        let wrapped = anyhow::Error::from(pcap_file::PcapError::IoError(std::io::Error::from(
            ErrorKind::BrokenPipe,
        )));
        assert!(reader_gone(&wrapped.context("writing")));
        let other = std::io::Error::from(ErrorKind::PermissionDenied);
        assert!(!reader_gone(&anyhow::Error::from(other)));
    }

    #[test]
    fn a_filter_runs_only_on_the_device_s_packets() {
        let user = parse_bpf("2\n40 0 0 12\n6 0 0 0\n").unwrap();
        let program = on_device_only(7, Some(user.clone()));
        assert_eq!(program.len(), 3 + 2);
        let whole = on_device_only(7, None);
        assert_eq!(whole.len(), 4);
        assert_eq!(program[..3], whole[..3]);
        assert_eq!(
            program[1],
            (0x15, 1, 0, 7),
            "jumps over the drop on a match"
        );
        assert_eq!(program[3..], user[..]);
        assert_eq!(whole[3], (0x06, 0, 0, SNAPLEN as u32));
    }

    /// What tcpdump reads back: the interface's name and description and
    /// the packet's time to the microsecond (the writer stores
    /// nanoseconds, which readers take for microseconds unless told).
    #[test]
    fn tcpdump_reads_the_file_s_interface_and_times() {
        let mut out = Vec::new();
        let mut writer = start_file(&mut out, LinkType::RawIp, "eth0", "vnetd NIC vm1").unwrap();
        let ping = [
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 1, 1, 4, 10, 2, 1, 4, 8, 0, 0xf7, 0xfe, 0,
            1, 0, 0,
        ];
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::new(1_700_000_000, 123_456_789),
                original_len: ping.len() as u32,
                data: Cow::Borrowed(&ping),
                options: vec![EnhancedPacketOption::Flags(2)],
            })
            .unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &out).unwrap();
        let read = std::process::Command::new("tcpdump")
            .args(["-nn", "-tt", "-r"])
            .arg(file.path())
            .output()
            .expect("tcpdump is installed");
        let text = String::from_utf8_lossy(&read.stdout);
        assert_eq!(
            text.trim(),
            "1700000000.123456 IP 10.1.1.4 > 10.2.1.4: ICMP echo request, id 1, seq 0, length 8"
        );
        let header = String::from_utf8_lossy(&read.stderr);
        assert!(header.contains("link-type RAW"), "{header}");
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&out[..]).unwrap();
        while reader.next_block().is_some() {}
        let idb = &reader.interfaces()[0];
        assert!(idb
            .options
            .contains(&InterfaceDescriptionOption::IfName("eth0".into())));
        assert!(idb
            .options
            .contains(&InterfaceDescriptionOption::IfDescription(
                "vnetd NIC vm1".into()
            )));
    }
}
