// Problem 04-gc/short-lived: a reference solution.

use gort::gc::Trace;

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

/// Moves a particle `steps` steps. Each position is used once and owned by one variable: a
/// plain value (on the stack, in registers) is freed by going out of scope. `Gc::new` put
/// every intermediate on the collected heap, whose allocation rate paced a cycle per few
/// MiB (in Go, escape analysis keeps such values on the stack; in Rust you choose).
pub fn simulate(steps: usize) -> Vec3 {
    let vel = Vec3 {
        x: 0.5,
        y: -0.25,
        z: 0.125,
    };
    let mut pos = Vec3 {
        x: 0.0,
        y: 0.0,
        z: 0.0,
    };
    for i in 0..steps {
        pos = add(&pos, &vel);
        if i % 1000 == 999 {
            pos = Vec3 {
                x: pos.x * 0.5,
                y: pos.y * 0.5,
                z: pos.z * 0.5,
            };
        }
    }
    pos
}
