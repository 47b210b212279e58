//! Reading input files with one-line errors.
//!
//! Every subcommand reads its inputs through here so that a missing,
//! unreadable or non-UTF-8 file becomes a single clear `anyhow` error
//! naming the path, never a panic. `-` means standard input.

use anyhow::{Context, Result};
use std::io::Read;

/// Reads a whole file (or stdin for `-`) as bytes.
pub fn read_bytes(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("cannot read {path}"))
}

/// Reads a whole file (or stdin for `-`) as text; invalid UTF-8 is replaced.
pub fn read_text(path: &str) -> Result<String> {
    let bytes = read_bytes(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
