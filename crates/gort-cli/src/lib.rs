//! gort's command-line tool: Go's measurement playbook as subcommands.
//!
//! Each subcommand reads a format Go writes (benchmark text, pprof
//! protobuf, gctrace lines) and gort writes the same formats, so every
//! tool works on both. Modules are one idea each: parsers never panic and
//! never fail on content they do not understand (they skip it); only I/O
//! and "nothing usable found" are errors. [`cli`] wires them to clap.

pub mod bench;
pub mod benchfmt;
pub mod benchstat;
pub mod cli;
pub mod doctor;
pub mod env;
pub mod gctrace;
pub mod input;
pub mod pprof;
pub mod trace;
