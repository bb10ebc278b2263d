//! Open files kept without taking the process's descriptors: each batch is
//! sent to a socket pair of the process's own (`SCM_RIGHTS`) and closed
//! here, and the kernel keeps what is in flight open until the pair is
//! closed.
//!
//! A lab's removal holds every namespace it unmounts until all are
//! unmounted, so that they die together (see `HostLab`'s removal). Held
//! as open files, 16,384 namespaces next to 16,384 TUN queues pass a
//! usual `RLIMIT_NOFILE` of 20,000, which a process without
//! `CAP_SYS_RESOURCE` may not raise; files in flight count against that
//! limit only for a process without `CAP_SYS_ADMIN`, which vnetd has to
//! have anyway (it makes namespaces). Where the kernel refuses a batch,
//! the files stay open here instead, as before.

use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};

/// Files passed in one message: the kernel's `SCM_MAX_FD` is 253.
const BATCH: usize = 250;

/// Files held open until this is dropped.
#[derive(Debug)]
pub struct HeldFiles {
    /// The pair the files are parked in: sent on the first, waiting to be
    /// read at the second. `None` where no pair could be made.
    pair: Option<(OwnedFd, OwnedFd)>,
    /// Files not parked yet (fewer than a batch), or that the kernel
    /// would not take.
    open: Vec<File>,
    /// How many are parked in the pair.
    parked: usize,
    /// The kernel refused a batch: no more are parked.
    refused: bool,
}

impl Default for HeldFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl HeldFiles {
    pub fn new() -> HeldFiles {
        let pair = socketpair(
            AddressFamily::Unix,
            SockType::Datagram,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ok();
        HeldFiles {
            pair,
            open: Vec::new(),
            parked: 0,
            refused: false,
        }
    }

    /// Keeps `file` open until this is dropped.
    pub fn hold(&mut self, file: File) {
        self.open.push(file);
        if self.open.len() >= BATCH && !self.refused {
            self.park();
        }
    }

    /// How many files are held (parked or open here).
    pub fn len(&self) -> usize {
        self.parked + self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of the held files take one of the process's descriptors.
    pub fn open_here(&self) -> usize {
        self.open.len()
    }

    /// Sends the files open here to the pair and closes them here. Where
    /// the kernel refuses (its buffer full, or `ETOOMANYREFS` for a
    /// process that may not have that many in flight), these and every
    /// later file stay open here: a second try would only be refused
    /// again, and the files must not outgrow one message.
    fn park(&mut self) {
        let Some((sender, _)) = &self.pair else {
            return;
        };
        let fds: Vec<RawFd> = self.open.iter().map(|f| f.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&fds)];
        let sent = sendmsg::<UnixAddr>(
            sender.as_raw_fd(),
            &[IoSlice::new(&[0])],
            &rights,
            MsgFlags::MSG_DONTWAIT,
            None,
        );
        if sent.is_ok() {
            self.parked += self.open.len();
            self.open.clear();
        } else {
            // What is parked stays there until the pair is dropped.
            self.refused = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::fcntl::OFlag;

    fn open_descriptors() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() - 1)
    }

    /// What a read of a pipe's reading end gives: `Ok(0)` once every
    /// writing end is closed, `EAGAIN` while one is open.
    fn read_end(reader: &OwnedFd) -> nix::Result<usize> {
        nix::unistd::read(reader, &mut [0u8; 1])
    }

    #[test]
    fn parked_files_stay_open_without_descriptors_and_close_with_the_holder() {
        let mut held = HeldFiles::new();
        let before = open_descriptors();
        let mut readers = Vec::new();
        for _ in 0..(BATCH + 1) {
            let (reader, writer) =
                nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).expect("a pipe");
            readers.push(reader);
            held.hold(File::from(writer));
        }
        assert_eq!(held.len(), BATCH + 1);
        // One batch parked; the last writer is still open here.
        assert_eq!(held.open_here(), 1);
        assert_eq!(open_descriptors(), before + readers.len() + 1);
        for reader in &readers {
            assert_eq!(
                read_end(reader),
                Err(Errno::EAGAIN),
                "a writer closed early"
            );
        }
        drop(held);
        for reader in &readers {
            assert_eq!(read_end(reader), Ok(0), "a writer still open");
        }
    }
}
