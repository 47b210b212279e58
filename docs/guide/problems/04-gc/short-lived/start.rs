// Problem 04-gc/short-lived: the start. Edit this file; `cargo run -p gort-guide -- check
// short-lived` measures it. Same result, with no GC cycle caused by `simulate`.

use gort::gc::{Gc, Trace};

/// A position or a velocity.
#[derive(Trace, Clone, Copy, Debug, PartialEq)]
pub struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

fn add(a: &Vec3, b: &Vec3) -> Vec3 {
    Vec3 {
        x: a.x + b.x,
        y: a.y + b.y,
        z: a.z + b.z,
    }
}

/// Moves a particle `steps` steps at a constant velocity, damping it every 1,000 steps;
/// returns its final position.
pub fn simulate(steps: usize) -> Vec3 {
    let vel = Gc::new(Vec3 {
        x: 0.5,
        y: -0.25,
        z: 0.125,
    });
    let mut pos = Gc::new(Vec3 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
    });
    for i in 0..steps {
        pos = Gc::new(add(&pos, &vel));
        if i % 1000 == 999 {
            pos = Gc::new(Vec3 {
                x: pos.x * 0.5,
                y: pos.y * 0.5,
                z: pos.z * 0.5,
            });
        }
    }
    *pos
}
