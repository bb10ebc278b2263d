//! TUN devices with the virtio-net header and offloads on.
//!
//! Every device is opened with `IFF_TUN | IFF_NO_PI | IFF_VNET_HDR`, and
//! `IFF_MULTI_QUEUE` when it has more than one queue (the kernel gives a
//! multi-queue device 256 queues whatever it uses: about 120 KB allocated
//! and cleared under the RTNL lock, per device, which a lab of thousands
//! of single-queue ports does not need), and `TUNSETOFFLOAD` enables checksum offload and TCP
//! segmentation offload (TSO4, TSO6), plus UDP segmentation offload (USO4,
//! USO6) when the kernel accepts it (Linux 6.2 and later). With offload on
//! the kernel hands over TCP super-packets of up to 64 KiB and takes them
//! back, which is what makes a userspace forwarder fast (see the design
//! notes). `tun-rs` is used because it can open such devices; `tokio-tun`
//! cannot set `IFF_VNET_HDR`.
//!
//! Each read and write on a queue carries one packet preceded by a
//! [`VNET_HDR_LEN`]-byte `virtio_net_hdr`; a packet written with an all-zero
//! header is an ordinary, fully checksummed packet.
//!
//! The device is created in the caller's network namespace under a fresh
//! kernel-chosen name (`vndtmp<N>`, so an existing device is never attached
//! to), with all its queues opened at once: a queue can only be attached by
//! name in the namespace where the device lives, so it must be done before
//! the device is moved elsewhere. Queue fds stay valid across the move.

use std::io;

use anyhow::{bail, Context, Result};
use tun_rs::{DeviceBuilder, SyncDevice};

/// Length of the `virtio_net_hdr` that precedes every packet on a queue.
pub const VNET_HDR_LEN: usize = tun_rs::VIRTIO_NET_HDR_LEN;

/// The `gso_type` flag of TCP super-packets with ECN set (not a type of
/// its own). `tun-rs` defines it but does not export it.
const GSO_ECN: u8 = 0x80;

/// The transport payload each segment of a GSO super-packet carries, as
/// the packet's leading `virtio_net_hdr` gives it: TCP segmentation (TSO4,
/// TSO6) or UDP segmentation (USO). 0 for a packet the kernel did not mark
/// for segmentation, or for a header too short to read.
#[inline]
pub fn gso_segment_size(vnet_header: &[u8]) -> u16 {
    match tun_rs::VirtioNetHdr::decode(vnet_header) {
        Ok(header)
            if matches!(
                header.gso_type & !GSO_ECN,
                tun_rs::VIRTIO_NET_HDR_GSO_TCPV4
                    | tun_rs::VIRTIO_NET_HDR_GSO_TCPV6
                    | tun_rs::VIRTIO_NET_HDR_GSO_UDP_L4
            ) =>
        {
            header.gso_size
        }
        _ => 0,
    }
}

/// Largest number of queues the kernel allows on one TUN device.
pub const MAX_QUEUES: usize = 256;

/// Name pattern for new devices; the kernel replaces `%d` with the lowest
/// free number, atomically.
const TEMPORARY_NAME_PATTERN: &str = "vndtmp%d";

/// How to open a TUN device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunOptions {
    /// Number of queues (1..=[`MAX_QUEUES`]); each one is its own fd.
    pub queues: usize,
    /// Open the queue fds in non-blocking mode (for epoll loops).
    pub nonblocking: bool,
    /// The device outlives its fds and goes with its namespace instead
    /// (`TUNSETPERSIST`). For a device in a namespace of its own: closing
    /// the last fd of a device that is not persistent unregisters it on
    /// its own, with its own RCU waits, while the devices of namespaces
    /// that go away together are unregistered in one batch.
    pub persistent: bool,
}

impl Default for TunOptions {
    fn default() -> Self {
        TunOptions {
            queues: 1,
            nonblocking: false,
            persistent: false,
        }
    }
}

/// The offloads the kernel accepted for a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offloads {
    /// Checksum offload (`TUN_F_CSUM`): packets may carry a partial checksum.
    pub csum: bool,
    /// TCP over IPv4 segmentation offload (`TUN_F_TSO4`).
    pub tso4: bool,
    /// TCP over IPv6 segmentation offload (`TUN_F_TSO6`).
    pub tso6: bool,
    /// UDP over IPv4 segmentation offload (`TUN_F_USO4`).
    pub uso4: bool,
    /// UDP over IPv6 segmentation offload (`TUN_F_USO6`).
    pub uso6: bool,
}

/// One queue of a TUN device: one fd, read and written by one thread.
///
/// [`recv`](TunQueue::recv) and [`send`](TunQueue::send) move one packet
/// with its leading `virtio_net_hdr` ([`VNET_HDR_LEN`] bytes).
pub struct TunQueue {
    device: SyncDevice,
    /// The device takes UDP segmentation-offload super-packets (USO).
    udp_segmentation: bool,
}

impl TunQueue {
    /// Reads one packet (header included) into `buf`; returns its length.
    /// A buffer of `VNET_HDR_LEN + 65535` bytes holds any packet.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.device.recv(buf)
    }

    /// Writes one packet (header included).
    pub fn send(&self, packet: &[u8]) -> io::Result<usize> {
        self.device.send(packet)
    }

    /// Whether writes may carry UDP super-packets (`GSO_UDP_L4`): the
    /// device accepted USO4 and USO6.
    pub fn udp_segmentation(&self) -> bool {
        self.udp_segmentation
    }

    /// Switches the fd between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.device.set_nonblocking(nonblocking)
    }
}

/// Gives a queue type whose `device` field is a [`SyncDevice`] that
/// device's fd (`AsRawFd`, `AsFd`) and a `Debug` that shows the fd.
macro_rules! queue_fd {
    ($queue:ident) => {
        impl std::os::fd::AsRawFd for $queue {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.device)
            }
        }

        impl std::os::fd::AsFd for $queue {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.device)
            }
        }

        impl std::fmt::Debug for $queue {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($queue))
                    .field("fd", &std::os::fd::AsRawFd::as_raw_fd(self))
                    .finish()
            }
        }
    };
}
pub(crate) use queue_fd;

queue_fd!(TunQueue);

/// A TUN device and the queues opened on it.
///
/// The device lives as long as at least one of its queue fds is open (it is
/// not persistent), or until the network namespace it lives in goes away.
#[derive(Debug)]
pub struct TunDevice {
    created_name: String,
    created_index: u32,
    queues: Vec<TunQueue>,
    offloads: Offloads,
}

impl TunDevice {
    /// Creates a TUN device in the caller's network namespace and opens
    /// `options.queues` queues on it.
    pub fn create(options: TunOptions) -> Result<TunDevice> {
        Self::create_as(TEMPORARY_NAME_PATTERN, options)
    }

    /// [`TunDevice::create`] under the name `name`, which must be free in
    /// the caller's namespace (a device of that name would be attached to
    /// instead). Where a namespace holds thousands of devices this spares
    /// the kernel a pattern's search, which reads every device's name to
    /// find the lowest free number, under the RTNL lock.
    pub fn create_as(name: &str, options: TunOptions) -> Result<TunDevice> {
        if options.queues == 0 || options.queues > MAX_QUEUES {
            bail!(
                "a TUN device needs 1 to {MAX_QUEUES} queues, not {}",
                options.queues
            );
        }
        let first = DeviceBuilder::new()
            .name(name)
            .offload(true)
            .multi_queue(options.queues > 1)
            // Left down: it is renamed and configured before it goes up.
            .enable(false)
            .build_sync()
            .context("creating a TUN device (IFF_VNET_HDR, offload)")?;
        if options.persistent {
            first
                .persist()
                .context("making a new TUN device persistent (TUNSETPERSIST)")?;
        }
        let created_name = first
            .name()
            .context("reading the name of a new TUN device")?;
        let created_index = nix::net::if_::if_nametoindex(created_name.as_str())
            .with_context(|| format!("looking up the index of TUN device {created_name}"))?;
        // tun-rs requires CSUM+TSO4+TSO6 (else creation fails) and reports
        // whether the kernel also took USO4+USO6.
        let offloads = Offloads {
            csum: first.tcp_gso(),
            tso4: first.tcp_gso(),
            tso6: first.tcp_gso(),
            uso4: first.udp_gso(),
            uso6: first.udp_gso(),
        };
        let mut devices = Vec::with_capacity(options.queues);
        for queue in 1..options.queues {
            let more = first
                .try_clone()
                .with_context(|| format!("opening queue {queue} of TUN device {created_name}"))?;
            devices.push(more);
        }
        devices.insert(0, first);
        let queues: Vec<TunQueue> = devices
            .into_iter()
            .map(|device| TunQueue {
                device,
                udp_segmentation: offloads.uso4 && offloads.uso6,
            })
            .collect();
        for (number, queue) in queues.iter().enumerate() {
            queue
                .set_nonblocking(options.nonblocking)
                .with_context(|| {
                    format!("setting the blocking mode of queue {number} of {created_name}")
                })?;
        }
        Ok(TunDevice {
            created_name,
            created_index,
            queues,
            offloads,
        })
    }

    /// The name the kernel gave the device at creation, in the caller's
    /// namespace (it changes when the device is moved and renamed).
    pub fn created_name(&self) -> &str {
        &self.created_name
    }

    /// The interface index at creation, in the caller's namespace.
    pub fn created_index(&self) -> u32 {
        self.created_index
    }

    /// The offloads the kernel accepted.
    pub fn offloads(&self) -> Offloads {
        self.offloads
    }

    /// The open queues, in creation order.
    pub fn queues(&self) -> &[TunQueue] {
        &self.queues
    }

    /// Hands the queues over, e.g. one to each worker thread.
    pub fn take_queues(&mut self) -> Vec<TunQueue> {
        std::mem::take(&mut self.queues)
    }
}
