//! The event: 32 bytes as collected; recorded as one of `buf.rs`'s records (a context switch
//! in a dense stretch as 24 bytes without a timestamp), decoded when the trace is
//! collected.
//!
//! An event's `ticks` is either a clock read (exact) or, for an event recorded in a dense
//! stretch, the previous exact read on the same thread, flagged inexact (bit 7 of the kind
//! byte) and placed between its exact neighbours when the trace is written (`buf.rs`).
//!
//! A context switch is one [`Kind::GoSwitch`] event, not three: the goroutine that left the
//! M (blocked, yielded or returned, with its wait reason), the one started, and when that
//! one was made runnable (its waker stored the ticks in the goroutine, `G::trace_unblock`).
//! [`expand`] turns it back into the `GoBlock`/`GoUnblock`/`GoStart` events the writer
//! reads. Why: a traced round trip of two goroutines recorded six events (two unblocks, two
//! blocks, two starts) and ran +40% (PingPong) and +70% (ParkPingPong) on the 2-vCPU EPYC
//! of 2026-12-03; two switch events write 64 bytes instead of 144 and pay the append's
//! fixed cost twice instead of six times. Rejected: keeping 24-byte events and recovering
//! the leaving goroutine from the track's previous start (lost at a chunk recycled by the
//! memory limit, the start of every flight-recorder window); merging only block and start
//! (four events, by the arithmetic +25% on ParkPingPong).

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
    /// This M switched goroutines: `goid` started; `arg` = [`pack_switch`] of the goroutine
    /// that left before it (0 when none: the M was idle) and how, `aux` = the ticks at which
    /// `goid` was made runnable by a wake-up (0: not woken since it last ran). Recorded only;
    /// [`expand`] replaces it before anything reads events.
    GoSwitch = 18,
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
                | Kind::GoSwitch
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
            18 => GoSwitch,
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

/// How the goroutine before a switch left its M (the low 2 bits of [`pack_switch`]).
const LEFT_NONE: u64 = 0;
const LEFT_BLOCK: u64 = 1;
const LEFT_SCHED: u64 = 2;
const LEFT_END: u64 = 3;
/// Bits of a switch's argument: how (2), the wait reason (8), the goid (46).
const SWITCH_REASON_SHIFT: u32 = 2;
const SWITCH_GOID_SHIFT: u32 = 10;
/// The largest goid a switch event names as the one that left (larger ones, 7 * 10^13
/// goroutines in, leave it out: that goroutine's track then misses the transition).
pub(crate) const SWITCH_GOID_MAX: u64 = (1 << 46) - 1;

/// A switch event's argument for the goroutine `goid` that left its M by an event of kind
/// `left` (`GoBlock` with its wait reason `reason`, `GoSched` or `GoEnd`); other kinds (or a
/// goid beyond [`SWITCH_GOID_MAX`]) mean none left.
#[inline(always)]
pub(crate) fn pack_switch(left: Kind, goid: u64, reason: u64) -> u64 {
    let how = match left {
        Kind::GoBlock => LEFT_BLOCK,
        Kind::GoSched => LEFT_SCHED,
        Kind::GoEnd => LEFT_END,
        _ => return 0,
    };
    if goid > SWITCH_GOID_MAX {
        return 0;
    }
    how | ((reason & 0xFF) << SWITCH_REASON_SHIFT) | (goid << SWITCH_GOID_SHIFT)
}

/// The event a [`pack_switch`] stands for when no start follows it on its own: (kind, goid,
/// arg).
pub(crate) fn unpack_leave(left: u64) -> (Kind, u64, u64) {
    let reason = (left >> SWITCH_REASON_SHIFT) & 0xFF;
    let goid = left >> SWITCH_GOID_SHIFT;
    match left & 3 {
        LEFT_SCHED => (Kind::GoSched, goid, 0),
        LEFT_END => (Kind::GoEnd, goid, 0),
        _ => (Kind::GoBlock, goid, reason),
    }
}

/// Set in a switch's `aux` (the wake-up's ticks) when the waker stamped it with its last
/// clock read (a sampled stretch), not a read of its own.
pub(crate) const UNBLOCK_SAMPLED: u64 = 1 << 63;

/// One recorded event. `word` packs the kind (low 7 bits), the inexact flag (bit 7) and
/// `arg` (high 56 bits); `aux` is a second argument (only [`Kind::GoSwitch`] uses it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Event {
    pub(crate) ticks: u64,
    pub(crate) goid: u64,
    word: u64,
    pub(crate) aux: u64,
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
            aux: 0,
        }
    }

    /// The packed kind and argument of an event (`word`, exact).
    #[inline(always)]
    pub(crate) fn word(kind: Kind, arg: u64) -> u64 {
        kind as u64 | (arg.min(ARG_MAX) << 8)
    }

    /// The `word` of a [`Kind::GoSwitch`] after the goroutine `left` (a [`pack_switch`]).
    #[inline(always)]
    pub(crate) fn switch_word(left: u64) -> u64 {
        debug_assert!(left <= ARG_MAX);
        Kind::GoSwitch as u64 | (left << 8)
    }

    /// An event from its parts: `word` from [`Event::word`] or [`Event::switch_word`], flagged
    /// inexact unless `exact`; `aux` as the kind says (a switch's wake-up ticks).
    #[inline(always)]
    pub(crate) fn from_parts(ticks: u64, exact: bool, goid: u64, word: u64, aux: u64) -> Event {
        Event {
            ticks,
            goid,
            word: word | if exact { 0 } else { INEXACT },
            aux,
        }
    }

    /// An event from its four words as [`Event::raw`] returns them (`buf.rs`'s full record).
    #[inline(always)]
    pub(crate) fn from_raw(ticks: u64, goid: u64, word: u64, aux: u64) -> Event {
        Event {
            ticks,
            goid,
            word,
            aux,
        }
    }

    /// The event's four words: ticks, goid, the packed kind, flag and argument, and `aux`.
    #[inline(always)]
    pub(crate) fn raw(&self) -> (u64, u64, u64, u64) {
        (self.ticks, self.goid, self.word, self.aux)
    }

    /// A [`Kind::GoSwitch`]: `goid` starts after the goroutine `left` (a [`pack_switch`]),
    /// made runnable at `unblock` ticks (0: not by a wake-up); `exact` as for [`Event::new`].
    #[cfg(test)]
    pub(crate) fn switch(ticks: u64, exact: bool, goid: u64, left: u64, unblock: u64) -> Event {
        Event::from_parts(ticks, exact, goid, Event::switch_word(left), unblock)
    }

    /// An event whose `ticks` is the previous exact read on its thread (see the module doc).
    #[cfg(test)]
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

/// Replaces each [`Kind::GoSwitch`] of one track (in recording order, timestamps final) by
/// the events it stands for, in this order: the wake-up of the started goroutine (`GoUnblock`
/// at its own, earlier time: the only event of a track that may step back in time, which the
/// writer allows for), how the previous goroutine left (`GoBlock` with its reason, `GoSched`,
/// `GoEnd`), and the start (`GoStart`). Other events are kept.
pub(crate) fn expand(events: Vec<Event>) -> Vec<Event> {
    if !events.iter().any(|e| e.kind() == Some(Kind::GoSwitch)) {
        return events;
    }
    let mut out = Vec::with_capacity(events.len() * 2);
    let mut left_at: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for e in events {
        if e.kind() != Some(Kind::GoSwitch) {
            out.push(e);
            continue;
        }
        let exact = |mut x: Event| {
            if !e.exact() {
                x.word |= INEXACT;
            }
            x
        };
        if e.aux != 0 {
            // Not before the goroutine last left this track: the waker's stamp may be a
            // sampled one from before that (and the leave's was interpolated since).
            // A sampled stamp is only a lower bound: the wake-up was somewhere between it
            // (or the leave) and the start; the middle, as interpolation would place it.
            let after = left_at.get(&e.goid).copied().unwrap_or(0);
            let lo = (e.aux & !UNBLOCK_SAMPLED).max(after).min(e.ticks);
            let t = if e.aux & UNBLOCK_SAMPLED != 0 {
                lo + (e.ticks - lo) / 2
            } else {
                lo
            };
            out.push(Event::new(t, Kind::GoUnblock, e.goid, 0));
        }
        let left = e.arg();
        let (how, reason, from) = (
            left & 3,
            (left >> SWITCH_REASON_SHIFT) & 0xFF,
            left >> SWITCH_GOID_SHIFT,
        );
        let leave = match how {
            LEFT_BLOCK => Some(Kind::GoBlock),
            LEFT_SCHED => Some(Kind::GoSched),
            LEFT_END => Some(Kind::GoEnd),
            _ => None,
        };
        if let Some(k) = leave {
            let arg = if k == Kind::GoBlock { reason } else { 0 };
            out.push(exact(Event::new(e.ticks, k, from, arg)));
            left_at.insert(from, e.ticks);
        }
        debug_assert!(how != LEFT_NONE || left == 0);
        out.push(exact(Event::new(e.ticks, Kind::GoStart, e.goid, 0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_kind_and_arg() {
        for k in 1..=18u8 {
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
        assert_eq!(Kind::from_u8(19), None);
        let a = pack_stall(0x1_2345_6789, 77, 2);
        assert!(a <= ARG_MAX);
        assert_eq!(unpack_stall(a), (0x2345_6789, 77, 2));
        assert_eq!(unpack_stall(pack_stall(5, 1 << 22, 1)), (5, 0, 1));
        assert_eq!(std::mem::size_of::<Event>(), 32);
    }

    #[test]
    fn a_switch_expands_to_unblock_leave_and_start() {
        let k = |v: &[Event]| -> Vec<(u64, Option<Kind>, u64, u64, bool)> {
            v.iter()
                .map(|e| (e.ticks, e.kind(), e.goid, e.arg(), e.exact()))
                .collect()
        };
        let v = expand(vec![
            Event::new(10, Kind::ProcStart, 0, 0),
            // First start after idling: nothing left, not woken.
            Event::switch(20, true, 7, 0, 0),
            // 7 blocks (reason 5); 8, woken at 15, starts.
            Event::switch(30, false, 8, pack_switch(Kind::GoBlock, 7, 5), 15),
            // 8 yields and starts again; 8 returns and 9 starts (a wake-up stamped later
            // than the switch is placed at it).
            Event::switch(40, true, 8, pack_switch(Kind::GoSched, 8, 0), 0),
            Event::switch(50, true, 9, pack_switch(Kind::GoEnd, 8, 0), 55),
            // 7 is woken, by the waker's clock read, before it left at 30 (seen as 30), and
            // again by a sampled stamp of 62 (placed halfway from its leave at 70).
            Event::switch(60, true, 7, 0, 25),
            Event::switch(70, true, 9, pack_switch(Kind::GoBlock, 7, 1), 0),
            Event::switch(
                90,
                true,
                7,
                pack_switch(Kind::GoBlock, 9, 1),
                62 | UNBLOCK_SAMPLED,
            ),
        ]);
        use Kind::*;
        assert_eq!(
            k(&v),
            [
                (10, Some(ProcStart), 0, 0, true),
                (20, Some(GoStart), 7, 0, true),
                (15, Some(GoUnblock), 8, 0, true),
                (30, Some(GoBlock), 7, 5, false),
                (30, Some(GoStart), 8, 0, false),
                (40, Some(GoSched), 8, 0, true),
                (40, Some(GoStart), 8, 0, true),
                (50, Some(GoUnblock), 9, 0, true),
                (50, Some(GoEnd), 8, 0, true),
                (50, Some(GoStart), 9, 0, true),
                (30, Some(GoUnblock), 7, 0, true),
                (60, Some(GoStart), 7, 0, true),
                (70, Some(GoBlock), 7, 1, true),
                (70, Some(GoStart), 9, 0, true),
                (80, Some(GoUnblock), 7, 0, true),
                (90, Some(GoBlock), 9, 1, true),
                (90, Some(GoStart), 7, 0, true),
            ]
        );
        // A goid past the limit names nobody rather than a wrong goroutine.
        assert_eq!(pack_switch(Kind::GoBlock, SWITCH_GOID_MAX + 1, 3), 0);
        assert_eq!(pack_switch(Kind::GoStart, 1, 0), 0);
        assert!(pack_switch(Kind::GoBlock, SWITCH_GOID_MAX, 0xFF) <= ARG_MAX);
    }
}
