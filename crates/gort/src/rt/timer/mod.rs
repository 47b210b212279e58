//! The timer heap of the runtime core: per-P 4-ary heaps of timer entries, and the timer
//! record with its two kinds (wake a goroutine, call a short function). Go's `time` package
//! (`crate::time`) builds `Timer`, `Ticker`, `after` and `after_func` on the call kind; the
//! netpoller's deadlines use it too. The design essay is in `crate::time`.

pub(crate) mod clock;
pub(crate) mod queue;
pub(crate) mod record;

pub(crate) use queue::TimerHeap;
pub(crate) use record::{run_due, run_due_at, sleep, Callback, Kind, TimerInner};
