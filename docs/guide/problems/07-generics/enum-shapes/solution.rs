// Problem 07-generics/enum-shapes: a reference solution.

/// The shapes are a closed set: an enum holds each one inline (no Box, no allocation per
/// shape), and `area` is a `match` the compiler can inline, instead of a call through a
/// vtable. (Go has no enums: the same program there is a slice of a concrete struct with a
/// kind field, instead of a `[]Shape` of interface values, each of which may allocate.)
pub enum Shape {
    Circle { r: f64 },
    Rect { w: f64, h: f64 },
}

impl Shape {
    pub fn area(&self) -> f64 {
        match *self {
            Shape::Circle { r } => 3.0 * r * r,
            Shape::Rect { w, h } => w * h,
        }
    }
}

/// Builds `n` shapes (even: a circle of radius i % 7, odd: an i % 5 by 2 rectangle) and
/// returns the sum of their areas: one allocation, the vector.
pub fn total_area(n: usize) -> f64 {
    let mut shapes = Vec::with_capacity(n);
    for i in 0..n {
        if i % 2 == 0 {
            shapes.push(Shape::Circle { r: (i % 7) as f64 });
        } else {
            shapes.push(Shape::Rect {
                w: (i % 5) as f64,
                h: 2.0,
            });
        }
    }
    shapes.iter().map(Shape::area).sum()
}
