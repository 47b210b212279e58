//! Networking: TCP, UDP and Unix sockets whose blocking-style methods park the goroutine,
//! not the thread (Go's `net` package over the runtime netpoller).
//!
//! # The problem
//!
//! A server holds thousands of connections, each served by straight-line code in its own
//! goroutine (`read`, `write`, repeat). A blocking `read(2)` would pin the goroutine's M and
//! with it the whole P; the goroutine must instead park until the socket is ready, and some
//! thread must learn of readiness for all sockets at once, cheaply, without a thread per
//! socket and without adding latency when the runtime is busy or idle.
//!
//! # How
//!
//! * Every socket is non-blocking and registered **once** with one process-wide epoll
//!   instance through mio, edge-triggered for input and output (mio registers
//!   `EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`; `poll.rs`). Its poll descriptor (`desc.rs`) holds a reader and a writer slot: a
//!   "ready" flag and the `Unparker` of the goroutine waiting.
//! * An operation tries the syscall first; on `EAGAIN` it parks on the descriptor (`fd.rs`);
//!   an edge sets the flag and unparks the waiter, which retries. Deadlines are per direction:
//!   checked before each operation, and a per-socket deadline timer (Go's pollDesc rt/wt,
//!   armed by `set_*_deadline`, see `crate::time`) wakes a parked waiter, which then fails
//!   with `TimedOut`; a wait itself arms nothing.
//! * Who polls (`poll.rs`): a P's M without local work, non-blocking, before it steals, unless
//!   an M is already blocked in the poller (Go's `lastpoll` test; without it a P that runs
//!   dry after every message makes one `epoll_wait` per message); one idle M at a time
//!   blocks in `epoll_wait` until its P's next timer (mio's eventfd `Waker` breaks it when its P gets
//!   work: `P::unpark_m`), and when it leaves with goroutines still waiting it wakes another
//!   idle P to take over; sysmon polls when nobody did for 10 ms. Woken goroutines go to
//!   their home P (runnext if the poller is that P's M).
//! * The drained hint (TCP reads, `fd.rs::read_stream`): a short read, or EAGAIN, means the
//!   receive queue was empty; until the poller delivers another read edge (or ever delivered
//!   a hang-up), the next read parks without first trying the syscall that would fail with
//!   EAGAIN. With `TCP_INQ` (`inq.rs`) a read that fills the buffer also reports whether it
//!   drained the queue; that needs `recvmsg` and a control message, which cost measurably
//!   more in the kernel than a plain `recv`, so a socket asks for it only after a read that
//!   filled its buffer (a short read says "drained" by itself). Echo traffic (200k messages,
//!   64 B; the client reads with `read_exact`, the server into 4 KiB): 200k `recvmsg` and 200k
//!   `recv` calls, none failing, where Go makes 800k `read`s, half of them EAGAIN. The
//!   argument is at `PollDesc::drained_unchanged`.
//! * A goroutine parked on I/O is counted in its P's `io_waiters` (only that P's M touches
//!   it); the poller's process-wide `waiters` counts Ps with I/O waiters, so a wait touches no
//!   cache line that another P writes (a shared counter was a third of the wait path's time).
//! * Plain threads using these sockets wait in `poll(2)` on the fd itself.
//! * Name resolution runs on the blocking pool (`resolve.rs`); file I/O should use
//!   `gort::blocking(|| std::fs::...)`, as regular files are always "ready" to epoll.
//!
//! # Rejected alternatives
//!
//! * *Level-triggered epoll*: a ready socket nobody reads yet (its goroutine is queued
//!   behind others) is reported on every poll, so each poll returns the same busy fds
//!   again; it also needs `EPOLL_CTL_MOD` to arm and disarm interest per operation (two
//!   extra syscalls per wait). Edge-triggered with "always try the syscall first" needs one
//!   registration for the socket's life, and the `ready` flag keeps an edge that arrives
//!   before the waiter parks.
//! * *A dedicated poller thread* (older designs, libuv-style): every readiness costs a
//!   cross-thread wake-up even when the runtime is busy, and the poller cannot sleep until
//!   the next timer of a P. Polling from the scheduler's search delivers readiness in the
//!   thread that will run the goroutine whenever it is that P's own.
//! * *An epoll instance per P* (goroutines never migrate, so each P could poll only for its
//!   own): with 2 Ps, 53% of the events a poll delivers wake a goroutine homed on the other
//!   P (echo, measured), but forwarding one through that P's inbox costs less than the extra
//!   `epoll_wait`s of polling twice as often, and a socket shared by goroutines of two Ps
//!   would need two registrations.
//! * *io_uring*: completion-based (buffers owned by the kernel during the operation) fits an
//!   async API, not `Read::read(&mut [u8])` on a goroutine that may be woken by a deadline.
//! * *Raw libc epoll* (our first version): works, but mio is the well-kept layer every Rust
//!   runtime shares; its `Poll::poll(&mut self)` sits inside the mutex that already served as
//!   the one-poller token, a `Registry` clone registers without that lock, and its `Token`
//!   carries our pointer-with-generation tokens unchanged. Echo (50 conns, 64 B) measured
//!   no slower: 5.1–7.3 us/msg with mio vs 5.8–9.3 with libc, alternated, one run.
//! * *polling*: also edge-capable, but its `wait` silently returns 0 when another thread
//!   holds its internal lock (a blocking waiter would spin) and opens a tracing span per wait.
//!
//! # Invariants and orderings
//!
//! * Descriptors are never freed (a free list recycles them): an event for a closed socket
//!   may point at a recycled descriptor, and its 16-bit generation tag drops it.
//! * A direction's `ready`, `waiter`, `deadline` and `closed` change only under its lock;
//!   the poller sets `ready` before it unparks, so the woken goroutine sees it.
//! * A goroutine parked on I/O counts in `Shared::pending` (the deadlock detector) and in
//!   `Poller::waiters` (so idle Ms know the poller is worth blocking in), from before it parks
//!   to after it wakes.
//! * `P::in_netpoll` is stored (SeqCst) before the blocking M's last look for work and read
//!   (after a SeqCst fence) by wakers after they publish work: one of the two sees the other.

mod fd;
mod inq;
mod resolve;
mod serve;
mod tcp;
mod udp;
mod unix;

pub use resolve::resolve;
pub use serve::{is_temporary, serve, BACKOFF_MAX, BACKOFF_MIN};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
