//! Panics in goroutines and elsewhere, for tests/diagnostics.rs: `gort-panic-check SCENARIO`
//! prints `LINE name=N` for the lines it panics and spawns at, then panics as the scenario says.

use std::sync::mpsc;

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    if scenario == "hook-before" {
        std::panic::set_hook(Box::new(|_| eprintln!("user hook (installed before)")));
    }
    let rt = gort::Builder::new().gomaxprocs(2).build().unwrap();
    if scenario == "hook-after" {
        std::panic::set_hook(Box::new(|_| eprintln!("user hook (installed after)")));
    }
    let (tx, rx) = mpsc::channel();
    rt.block_on(move || {
        let outer = gort::go(move || {
            let id = gort::goid();
            println!("PARENT {id}");
            println!("SPAWN {}", line!() + 1);
            let h = gort::go(move || -> u32 {
                println!("CHILD {}", gort::goid());
                println!("PANIC {}", line!() + 1);
                panic!("boom {}", 7)
            });
            tx.send(h.join().is_err()).unwrap();
        });
        outer.join().unwrap();
    });
    assert!(rx.recv().unwrap());
    // A panic on a plain thread: the previous hook's text.
    let t = std::thread::Builder::new()
        .name("plain".into())
        .spawn(|| panic!("on a plain thread"))
        .unwrap();
    assert!(t.join().is_err());
    println!("DONE");
}
