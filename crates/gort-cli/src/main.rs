fn main() {
    eprintln!("gort: no subcommands yet");
    std::process::exit(2);
}
