//! The `gort` binary: see [`gort_cli::cli`].

fn main() {
    std::process::exit(gort_cli::cli::main());
}
