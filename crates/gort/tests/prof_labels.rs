//! Profiler labels follow goroutines: inherited by goroutines started inside `with_labels`
//! (as in Go), kept across parks even when other labelled goroutines ran on the same thread,
//! and gone after `with_labels` returns.

use std::time::Duration;

use gort::prof::{labels, with_labels};

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[test]
fn labels_are_inherited_and_survive_parks() {
    let rt = gort::Builder::new().gomaxprocs(1).build().unwrap();
    rt.block_on(|| {
        // Inherited by a child (and a grandchild), not by a goroutine started outside.
        let (child, grandchild) = with_labels(&[("req", "login")], || {
            gort::go(|| {
                let mine = labels();
                let gc = gort::go(labels).join().unwrap();
                (mine, gc)
            })
            .join()
            .unwrap()
        });
        assert_eq!(child, vec![kv("req", "login")]);
        assert_eq!(grandchild, vec![kv("req", "login")]);
        assert!(gort::go(labels).join().unwrap().is_empty());
        assert!(labels().is_empty(), "restored after with_labels");

        // One P: two goroutines with different labels take turns on the same thread, each
        // parking inside with_labels; each sees its own labels after every wake-up.
        let hs: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|v| {
                gort::go(move || {
                    with_labels(&[("w", v)], || {
                        for _ in 0..20 {
                            gort::time::sleep(Duration::from_micros(200));
                            assert_eq!(labels(), vec![kv("w", v)]);
                            gort::yield_now();
                            assert_eq!(labels(), vec![kv("w", v)]);
                        }
                    });
                    labels()
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap().is_empty());
        }
    });
}
