//! What carries packets: the whole per-packet path of the running lab,
//! from the read of a NIC's TUN queue to the write on the egress one.
//!
//! The files:
//!
//! - [`worker`]: a forwarding worker, one per core: reads, decides and
//!   writes every packet of its queues, run to completion;
//! - [`plane`]: what the workers forward with, the [`Plane`](plane::Plane)
//!   (one compiled snapshot and the ports holding the TUN queues),
//!   published behind `arc-swap` as a
//!   [`PublishedPlane`](plane::PublishedPlane);
//! - [`pacer`]: the egress write: the path's MTU, a tunnel's MSS clamp,
//!   loss, rate caps and delay, then the one write to the egress queue;
//! - [`offload`]: admitted flows handed to the fabric's kernel fast path,
//!   and what the kernel counted for them added back;
//! - [`underlay`]: how the workers write to a port on another machine of
//!   a spread lab, and take in what the other machines send;
//! - [`global_reach`]: the thread that carries the Global Reach links
//!   between edge routers, delayed as the circuits they join;
//! - [`service`]: the room as the daemon holds it ([`service::Forwarding`]),
//!   and what the other rooms and the reports read of it;
//! - [`port_id`]: a port's slot, which keys its counters and flows;
//! - [`stats`]: the per-NIC counters the workers write (each worker its
//!   own block, relaxed adds), and their sums, which the reports read;
//! - [`queue_drops`]: what the queues between the NICs and the workers
//!   dropped, read from the kernel off the packet path and counted where
//!   the workers count, so that no packet a NIC sent goes unseen;
//! - [`housekeeping`]: the slow-path thread that keeps the flow table
//!   roomy for the workers' inserts and reads the queues' drops;
//! - [`deny_feed`] and [`drop_feed`]: the sender's side of the events the
//!   workers report (NSG denies for the flow logs, every drop for the
//!   live page);
//! - [`firewall_log`]: the rows of Azure Firewall's logs, and the handle
//!   every room that judges traffic for a firewall appends them with;
//! - [`firewall_intercept`]: what a firewall's namespace forwards as it
//!   is and what it hands the proxy of its application rules.
//!
//! Its invariants:
//!
//! - **One generation per decision.** A worker loads the published plane
//!   once per wake-up and decides every packet of that wake-up against
//!   its one snapshot, whose generation only grows. What is cached from a
//!   decision carries the generation that filled it and is checked on
//!   every hit: a tracked flow's remembered hop is used only under the
//!   generation it was decided under (otherwise the packet is decided in
//!   full again), and an offloaded entry only while the fabric's
//!   generation is the one its flow was decided under (every publication
//!   raises the fabric's generation first, so the next packet of every
//!   offloaded flow comes back to the workers and is decided again).
//! - **Workers never wait.** The per-packet path takes no lock, allocates
//!   nothing and makes no system call but its read and its write. What a
//!   worker tells the slow threads (an NSG deny for the flow logs, a drop
//!   for the live page, a flow to offload) is a non-blocking `try_send` of
//!   a fixed-size event on a bounded channel: a full channel loses the
//!   event and counts it, never the packet. The offload thread polls its
//!   requests, so asking never wakes a thread. A worker's delay line is
//!   allocated when it first holds a packet, and kept.
//! - **One write per packet.** A packet read is written once to its
//!   egress queue, or dropped and counted with its reason: every packet a
//!   sender puts on a NIC is delivered or counted as a drop. (A packet
//!   cut into fragments by the path's MTU is written fragment by fragment,
//!   each a packet on the wire; consecutive UDP datagrams of one flow to
//!   an egress that takes UDP segmentation offload share one write.)
//!
//! This room uses no other room of the daemon: only the settings
//! ([`crate::daemon::options`]) and the threads' supervision and fault
//! injection ([`crate::daemon::threads`]). The reports read its counters
//! and the rooms that change the lab publish its planes; it knows neither.
//! That is why the senders' ends of the deny and drop events live here
//! rather than with the flow logs and the live page that read them: a
//! worker hands an event to a channel of its own room, and the flow-log
//! thread ([`crate::daemon::reporting::flow_log`]) and the live page hold
//! the receiving ends.

pub mod deny_feed;
pub mod drop_feed;
pub mod firewall_intercept;
pub mod firewall_log;
pub mod global_reach;
pub mod housekeeping;
pub mod offload;
pub mod pacer;
pub mod plane;
pub mod port_id;
pub mod queue_drops;
pub mod release_timer;
pub mod service;
pub mod stats;
pub mod underlay;
pub mod worker;
