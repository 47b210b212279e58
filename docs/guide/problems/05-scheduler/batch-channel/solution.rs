// Problem 05-scheduler/batch-channel: a reference solution.

/// Items per message: enough that a channel operation (a lock, often a park and a wake-up,
/// hundreds of nanoseconds) is paid once per 256 items instead of once per item.
const BATCH: usize = 256;

/// A producer goroutine sends `0..n` in batches to a consumer goroutine, which returns the
/// sum. The unbuffered channel made every item a rendezvous: the producer parked until the
/// consumer took it (schedtrace and the trace show the two goroutines alternating).
pub fn pipeline(n: u64) -> u64 {
    let (tx, rx) = gort::chan::bounded::<Vec<u64>>(4);
    let consumer = gort::go(move || {
        let mut sum = 0u64;
        while let Ok(batch) = rx.recv() {
            for v in batch {
                sum = sum.wrapping_add(v);
            }
        }
        sum
    });
    gort::go(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for i in 0..n {
            batch.push(i);
            if batch.len() == BATCH {
                tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .unwrap();
            }
        }
        if !batch.is_empty() {
            tx.send(batch).unwrap();
        }
        tx.close().unwrap();
    });
    consumer.join().unwrap()
}
