//! Prints the GOMAXPROCS a `#[gort::main]` program gets (used by the tests: a bad value in the
//! environment must stop the program with a clear error instead of a silent default).

#[gort::main]
fn main() {
    println!("gomaxprocs={}", gort::gomaxprocs());
}
