//! The concurrent prime sieve (Go's classic doc/play/sieve.go): a generator goroutine feeds
//! 2, 3, 4, ... into a chain of filter goroutines, one per prime found, each passing on the
//! numbers its prime does not divide. Every link is an unbuffered channel.
//!
//! Run: `cargo run -p gort --example sieve -- 20` (prints the first N primes; default 10).

use gort::chan::{bounded, Receiver, Sender};

/// Sends 2, 3, 4, ... to `ch` until the channel is closed.
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return;
        }
    }
}

/// Copies values from `input` to `output`, dropping those divisible by `prime`.
fn filter(input: Receiver<u64>, output: Sender<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 && output.send(i).is_err() {
            return;
        }
    }
}

#[gort::main]
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let (tx, mut rx) = bounded(0);
    gort::go(move || generate(tx));
    for _ in 0..n {
        let prime = rx.recv().expect("the generator never closes");
        println!("{prime}");
        let (tx1, rx1) = bounded(0);
        let input = rx;
        gort::go(move || filter(input, tx1, prime));
        rx = rx1;
    }
    // Returning from main ends the program, like Go: the filters are still parked.
}
