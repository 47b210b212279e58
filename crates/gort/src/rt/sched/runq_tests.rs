//! Unit tests of the run queue (std atomics).

mod tests {
    use crate::rt::sched::g::tests_support::dummy_g;
    use crate::rt::sched::runq::*;
    use std::sync::atomic::Ordering::{Acquire, Release};
    use std::sync::Arc;

    #[test]
    fn push_pop_fifo_and_overflow() {
        let q = RunQueue::new();
        for i in 0..CAP as u64 {
            q.push(dummy_g(i)).unwrap();
        }
        assert_eq!(q.len(), CAP as usize);
        let spill = q.push(dummy_g(999)).unwrap_err();
        assert_eq!(spill.len(), CAP as usize / 2 + 1);
        assert_eq!(spill[0].id(), 0);
        assert_eq!(spill.last().unwrap().id(), 999);
        assert_eq!(q.pop().unwrap().id(), CAP as u64 / 2);
    }

    #[test]
    fn steal_half() {
        let a = RunQueue::new();
        let b = RunQueue::new();
        for i in 0..10 {
            a.push(dummy_g(i)).unwrap();
        }
        let first = a.steal_into(&b).unwrap();
        assert_eq!(first.id(), 0);
        assert_eq!(a.len(), 5);
        assert_eq!(b.len(), 4);
        assert_eq!(b.pop().unwrap().id(), 1);
        assert_eq!(a.pop().unwrap().id(), 5);
    }

    #[test]
    fn concurrent_steal_loses_nothing() {
        let q = Arc::new(RunQueue::new());
        let total = 20_000u64;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mine = RunQueue::new();
                    let mut got = Vec::new();
                    while !stop.load(Acquire) || !q.is_empty() {
                        if let Some(g) = q.steal_into(&mine) {
                            got.push(g.id());
                            while let Some(g) = mine.pop() {
                                got.push(g.id());
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        let mut owner_got = Vec::new();
        for i in 0..total {
            if let Err(spill) = q.push(dummy_g(i)) {
                owner_got.extend(spill.iter().map(|g| g.id()));
            }
            if i % 3 == 0 {
                if let Some(g) = q.pop() {
                    owner_got.push(g.id());
                }
            }
        }
        stop.store(true, Release);
        let mut all = owner_got;
        for t in thieves {
            all.extend(t.join().unwrap());
        }
        while let Some(g) = q.pop() {
            all.push(g.id());
        }
        all.sort_unstable();
        assert_eq!(all, (0..total).collect::<Vec<_>>());
    }
}
