//! Prints the GOMAXPROCS and goroutine stack size a `#[gort::main]` program gets (used by the
//! tests: a bad value in the environment must stop the program with a clear error instead of a
//! silent default).

#[gort::main]
fn main() {
    println!("gomaxprocs={}", gort::gomaxprocs());
    println!("stack_bytes={}", stack_bytes());
}

/// Address space per mapped goroutine stack (its usable size plus the guard page).
fn stack_bytes() -> usize {
    let s = gort::debug::stack_stats();
    s.bytes_reserved / s.stacks_mapped.max(1)
}
