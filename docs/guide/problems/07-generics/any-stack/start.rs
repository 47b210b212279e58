// Problem 07-generics/any-stack: the start. Edit this file; `cargo run -p gort-guide -- check
// any-stack` counts the allocations of one call of `sum_via_stack(1000)`.

use std::any::Any;

/// A stack of anything, written the way Go wrote containers before generics (`[]interface{}`):
/// every value is boxed, and every pop downcasts.
#[derive(Default)]
pub struct Stack {
    items: Vec<Box<dyn Any>>,
}

impl Stack {
    pub fn push(&mut self, v: Box<dyn Any>) {
        self.items.push(v);
    }

    pub fn pop(&mut self) -> Option<Box<dyn Any>> {
        self.items.pop()
    }
}

/// Pushes 0..n on a stack, pops them all, returns their sum.
pub fn sum_via_stack(n: u64) -> u64 {
    let mut s = Stack::default();
    for i in 0..n {
        s.push(Box::new(i));
    }
    let mut sum = 0;
    while let Some(v) = s.pop() {
        sum += *v.downcast::<u64>().expect("a u64");
    }
    sum
}
