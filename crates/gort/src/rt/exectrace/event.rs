//! The binary event: 24 bytes, written by hooks, decoded only when the trace is written.
//!
//! An event's `ticks` is either a clock read (exact) or, for an event recorded in a dense
//! stretch, the previous exact read on the same thread, flagged inexact (bit 7 of the kind
//! byte) and placed between its exact neighbours when the trace is written (`buf.rs`).

/// What happened. The `goid` and `arg` fields of an [`Event`] mean what each kind says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A goroutine was created: `goid`, `arg` = the creator's goid (0 outside goroutines).
    GoCreate = 1,
    /// A goroutine was made runnable by a wake-up: `goid` (`arg` unused: the reason is in
    /// its `GoBlock`).
    GoUnblock = 2,
    /// This M resumed `goid`.
    GoStart = 3,
    /// `goid` parked: `arg` = its `WaitReason` as a number.
    GoBlock = 4,
    /// `goid` yielded (Gosched or a preemption point) and stays runnable.
    GoSched = 5,
    /// `goid` returned.
    GoEnd = 6,
    /// This M's P went idle (its M sleeps).
    ProcStop = 7,
    /// This M's P woke up.
    ProcStart = 8,
    /// A blocking-pool thread started `goid`'s call.
    BlockingBegin = 9,
    /// ... and finished it.
    BlockingEnd = 10,
    /// A garbage collection began (`arg` = its number, counted by the trace).
    GcStart = 11,
    /// The garbage collection ended.
    GcEnd = 12,
    /// The world stopped: `arg` = a [`StwReason`].
    StwStart = 13,
    /// The world restarted.
    StwEnd = 14,
    /// Heap size sample: `arg` = bytes allocated and not yet freed.
    HeapAlloc = 15,
    /// sysmon reported a stall episode (`rt/sched/stall.rs`): goroutine `goid` keeps its P's
    /// thread; `arg` = [`pack_stall`] of the episode id, the P's track and the kind.
    StallBegin = 16,
    /// The P scheduled again: the episode ended (`arg` as for `StallBegin`, track 0).
    StallEnd = 17,
}

impl Kind {
    /// A goroutine's own transition (create, unblock, start, block, sched, end): what the
    /// trace's per-goroutine tracks are made of, and the events dense enough to share a clock
    /// read (`buf.rs`, "Timestamps").
    pub(crate) fn is_goroutine_transition(self) -> bool {
        matches!(
            self,
            Kind::GoCreate
                | Kind::GoUnblock
                | Kind::GoStart
                | Kind::GoBlock
                | Kind::GoSched
                | Kind::GoEnd
        )
    }

    pub(crate) fn from_u8(v: u8) -> Option<Kind> {
        use Kind::*;
        Some(match v {
            1 => GoCreate,
            2 => GoUnblock,
            3 => GoStart,
            4 => GoBlock,
            5 => GoSched,
            6 => GoEnd,
            7 => ProcStop,
            8 => ProcStart,
            9 => BlockingBegin,
            10 => BlockingEnd,
            11 => GcStart,
            12 => GcEnd,
            13 => StwStart,
            14 => StwEnd,
            15 => HeapAlloc,
            16 => StallBegin,
            17 => StallEnd,
            _ => return None,
        })
    }
}

/// Why the world is stopped (Go's `stwReason`, the ones a GC needs first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[allow(dead_code)] // The GC calls these; until it lands only tests do.
pub(crate) enum StwReason {
    /// Go's "GC sweep termination": the stop before marking starts.
    GcSweepTermination = 1,
    /// Go's "GC mark termination": the stop after marking ends.
    GcMarkTermination = 2,
    /// Anything else (a user-requested stop, a debug dump).
    Other = 3,
}

impl StwReason {
    pub(crate) fn name(v: u64) -> &'static str {
        match v {
            1 => "GC sweep termination",
            2 => "GC mark termination",
            _ => "other",
        }
    }
}

/// Bits of a stall event's argument: the kind (2), the trace track (22), the episode (32).
const STALL_KIND_BITS: u32 = 2;
const STALL_TRACK_BITS: u32 = 22;

/// A stall event's argument: episode `id`, the stuck P's trace `track` (0: unknown) and the
/// stall kind (`stall::StallKind` as a number). Ids and tracks are cut to their bits (ids
/// wrap after 2^32 episodes; a thread beyond 2^22 gets track 0).
pub(crate) fn pack_stall(id: u64, track: u64, kind: u8) -> u64 {
    let track = if track < 1 << STALL_TRACK_BITS {
        track
    } else {
        0
    };
    ((id & 0xFFFF_FFFF) << (STALL_KIND_BITS + STALL_TRACK_BITS))
        | (track << STALL_KIND_BITS)
        | u64::from(kind & 3)
}

/// `(id, track, kind)` of a stall event's argument.
pub(crate) fn unpack_stall(arg: u64) -> (u64, u64, u8) {
    (
        arg >> (STALL_KIND_BITS + STALL_TRACK_BITS),
        (arg >> STALL_KIND_BITS) & ((1 << STALL_TRACK_BITS) - 1),
        (arg & 3) as u8,
    )
}

/// One recorded event. `word` packs the kind (low 7 bits), the inexact flag (bit 7) and
/// `arg` (high 56 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Event {
    pub(crate) ticks: u64,
    pub(crate) goid: u64,
    word: u64,
}

/// Bit 7 of the kind byte: `ticks` is a lower bound, not a clock read.
const INEXACT: u64 = 0x80;

/// The largest `arg` an event can carry.
pub(crate) const ARG_MAX: u64 = (1 << 56) - 1;

impl Event {
    #[inline]
    pub(crate) fn new(ticks: u64, kind: Kind, goid: u64, arg: u64) -> Event {
        Event {
            ticks,
            goid,
            word: kind as u64 | (arg.min(ARG_MAX) << 8),
        }
    }

    /// An event whose `ticks` is the previous exact read on its thread (see the module doc).
    #[inline]
    pub(crate) fn new_inexact(ticks: u64, kind: Kind, goid: u64, arg: u64) -> Event {
        let mut e = Event::new(ticks, kind, goid, arg);
        e.word |= INEXACT;
        e
    }

    pub(crate) fn kind(&self) -> Option<Kind> {
        Kind::from_u8(self.word as u8 & !(INEXACT as u8))
    }

    /// Whether `ticks` is a clock read.
    pub(crate) fn exact(&self) -> bool {
        self.word & INEXACT == 0
    }

    pub(crate) fn arg(&self) -> u64 {
        self.word >> 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_kind_and_arg() {
        for k in 1..=17u8 {
            let kind = Kind::from_u8(k).unwrap();
            let e = Event::new(7, kind, 9, 12345);
            assert_eq!(
                (e.kind(), e.goid, e.arg(), e.ticks),
                (Some(kind), 9, 12345, 7)
            );
        }
        assert_eq!(Event::new(0, Kind::HeapAlloc, 0, u64::MAX).arg(), ARG_MAX);
        let e = Event::new_inexact(3, Kind::GoStart, 4, ARG_MAX);
        assert_eq!(
            (e.kind(), e.arg(), e.exact()),
            (Some(Kind::GoStart), ARG_MAX, false)
        );
        assert!(Event::new(3, Kind::GoStart, 4, 0).exact());
        assert_eq!(Kind::from_u8(0), None);
        assert_eq!(Kind::from_u8(18), None);
        let a = pack_stall(0x1_2345_6789, 77, 2);
        assert!(a <= ARG_MAX);
        assert_eq!(unpack_stall(a), (0x2345_6789, 77, 2));
        assert_eq!(unpack_stall(pack_stall(5, 1 << 22, 1)), (5, 0, 1));
        assert_eq!(std::mem::size_of::<Event>(), 24);
    }
}
