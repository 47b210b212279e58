//! File system calls off the P: thin wrappers that run `std::fs` on the blocking pool.
//!
//! Regular files are always "ready" to epoll, so the netpoller cannot help with them (Go
//! also does file I/O as blocking syscalls, handing its P off). Each function here runs the
//! std call through [`crate::blocking`], so the calling goroutine parks and its P runs other
//! goroutines meanwhile. For anything not wrapped, call `gort::blocking(|| std::fs::...)`
//! directly; outside a goroutine these run inline.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

fn owned(p: impl AsRef<Path>) -> PathBuf {
    p.as_ref().to_path_buf()
}

/// `std::fs::read` on the blocking pool.
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let p = owned(path);
    crate::blocking(move || std::fs::read(p))
}

/// `std::fs::read_to_string` on the blocking pool.
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let p = owned(path);
    crate::blocking(move || std::fs::read_to_string(p))
}

/// `std::fs::write` on the blocking pool (the data is moved to the pool thread).
pub fn write(path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) -> io::Result<()> {
    let (p, c) = (owned(path), contents.into());
    crate::blocking(move || std::fs::write(p, c))
}

/// `std::fs::metadata` on the blocking pool.
pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let p = owned(path);
    crate::blocking(move || std::fs::metadata(p))
}

/// `std::fs::remove_file` on the blocking pool.
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    crate::blocking(move || std::fs::remove_file(p))
}

/// `std::fs::create_dir_all` on the blocking pool.
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    crate::blocking(move || std::fs::create_dir_all(p))
}

/// `std::fs::rename` on the blocking pool.
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (a, b) = (owned(from), owned(to));
    crate::blocking(move || std::fs::rename(a, b))
}
