//! `#[gort::main]` with arguments: they win over `GOMAXPROCS` and `GORT_STACK_SIZE` (used by
//! the tests).

#[gort::main(gomaxprocs = 3, stack_size = 512 * 1024)]
fn main() {
    let s = gort::debug::stack_stats();
    println!("gomaxprocs={}", gort::gomaxprocs());
    println!("stack_bytes={}", s.bytes_reserved / s.stacks_mapped.max(1));
}
