// Problem 07-generics/any-stack: a reference solution.

/// A generic stack: `Stack<u64>` stores the values inline (the vector's growth is the only
/// allocation) and `pop` returns a `u64`, no downcast. Rust monomorphises it: a copy of the
/// code per element type. (Go 1.18's `Stack[T any]` also stores values inline; its code is
/// shared per GC shape, with a dictionary, see the lesson.)
pub struct Stack<T> {
    items: Vec<T>,
}

impl<T> Default for Stack<T> {
    fn default() -> Self {
        Stack { items: Vec::new() }
    }
}

impl<T> Stack<T> {
    pub fn push(&mut self, v: T) {
        self.items.push(v);
    }

    pub fn pop(&mut self) -> Option<T> {
        self.items.pop()
    }
}

/// Pushes 0..n on a stack, pops them all, returns their sum.
pub fn sum_via_stack(n: u64) -> u64 {
    let mut s = Stack::default();
    for i in 0..n {
        s.push(i);
    }
    let mut sum = 0;
    while let Some(v) = s.pop() {
        sum += v;
    }
    sum
}
