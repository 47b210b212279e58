// Problem 03-allocations/dyn-box: a reference solution.

/// A shape as read from the input: a kind (0 circle, 1 square, 2 rectangle) and a size.
pub type Spec = (u8, f64);

/// The closed set of shapes as an enum: a value, no box, dispatch by `match` (which the
/// compiler can inline). `Box<dyn Shape>` cost an allocation per shape plus the vector of
/// boxes (Go: storing a non-pointer value in an interface boxes it the same way).
enum Shape {
    Circle(f64),
    Square(f64),
    Rect(f64, f64),
}

impl Shape {
    fn from_spec(spec: Spec) -> Shape {
        match spec {
            (0, r) => Shape::Circle(r),
            (1, s) => Shape::Square(s),
            (_, w) => Shape::Rect(w, 2.0 * w),
        }
    }

    fn area(&self) -> f64 {
        match *self {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Square(s) => s * s,
            Shape::Rect(w, h) => w * h,
        }
    }
}

/// The total area of the shapes `specs` describe, summed in the same order as before (so the
/// floating-point result is identical), with no intermediate vector.
pub fn total_area(specs: &[Spec]) -> f64 {
    specs.iter().map(|&s| Shape::from_spec(s).area()).sum()
}
