// Problem 07-generics/enum-shapes: the start. Edit this file; `cargo run -p gort-guide --
// check enum-shapes` counts the allocations of one call of `total_area(1000)`.

/// A shape with an area.
pub trait Shape {
    fn area(&self) -> f64;
}

pub struct Circle {
    pub r: f64,
}

pub struct Rect {
    pub w: f64,
    pub h: f64,
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        3.0 * self.r * self.r
    }
}

impl Shape for Rect {
    fn area(&self) -> f64 {
        self.w * self.h
    }
}

/// Builds `n` shapes (even: a circle of radius i % 7, odd: an i % 5 by 2 rectangle) and
/// returns the sum of their areas.
pub fn total_area(n: usize) -> f64 {
    let mut shapes: Vec<Box<dyn Shape>> = Vec::with_capacity(n);
    for i in 0..n {
        if i % 2 == 0 {
            shapes.push(Box::new(Circle { r: (i % 7) as f64 }));
        } else {
            shapes.push(Box::new(Rect {
                w: (i % 5) as f64,
                h: 2.0,
            }));
        }
    }
    shapes.iter().map(|s| s.area()).sum()
}
