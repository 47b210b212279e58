//! The netpoller of the runtime core: one epoll instance (through mio) and the per-descriptor
//! poll records (`desc.rs`) that goroutines park on. The scheduler polls it (`poller.rs`);
//! `crate::net` builds sockets on the descriptors. The design essay is in `crate::net`.

pub(crate) mod desc;
pub(crate) mod poller;

pub(crate) use poller::{block, has_waiters, interrupt, poll_if_stale, poll_nonblocking};
