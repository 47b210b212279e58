//! Reading input files with one-line errors and a size cap.
//!
//! Every subcommand reads its inputs through here so that a missing,
//! unreadable, endless or oversized input becomes a single clear `anyhow`
//! error naming the path, never a panic or unbounded memory. `-` means
//! standard input. Paths are `Path`s, so names that are not UTF-8 open.
//!
//! Character and block devices (`/dev/zero`, `/dev/urandom`, a terminal)
//! and sockets are refused up front: no profile or log lives there. Pipes
//! and standard input are read up to [`MAX_STREAM`] bytes and refused
//! beyond it, so an endless stream costs a bounded amount of memory;
//! regular files up to [`MAX_FILE`].

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// Largest regular file read (1 GiB).
pub const MAX_FILE: u64 = 1 << 30;
/// Largest pipe or standard input read (256 MiB): the end of a stream is
/// not known in advance, so the cap is what an endless one costs.
pub const MAX_STREAM: u64 = 256 << 20;

/// `-` or the path, for messages.
pub fn display(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn mib(n: u64) -> String {
    format!("{} MiB", n >> 20)
}

/// Reads `r` to its end, failing once more than `cap` bytes arrive.
fn read_capped(r: impl Read, cap: u64, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {what}"))?;
    if buf.len() as u64 > cap {
        bail!(
            "{what}: more than {} of input (an endless stream? give a file)",
            mib(cap)
        );
    }
    Ok(buf)
}

/// Reads a whole file (or stdin for `-`) as bytes.
pub fn read_bytes(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    if is_stdin(path) {
        return read_capped(std::io::stdin().lock(), MAX_STREAM, "standard input");
    }
    let what = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {what}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {what}"))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        bail!("cannot read {what}: it is a directory");
    }
    if ft.is_file() {
        if meta.len() > MAX_FILE {
            bail!(
                "{what}: {} MiB is larger than the {} input limit",
                meta.len() >> 20,
                mib(MAX_FILE)
            );
        }
        return read_capped(file, MAX_FILE, &what);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_char_device() {
            Some("a character device")
        } else if ft.is_block_device() {
            Some("a block device")
        } else if ft.is_socket() {
            Some("a socket")
        } else {
            None
        };
        if let Some(kind) = kind {
            bail!("cannot read {what}: it is {kind}, not a file or a pipe");
        }
    }
    read_capped(file, MAX_STREAM, &what)
}

/// Reads a whole file (or stdin for `-`) as text; invalid UTF-8 is replaced.
pub fn read_text(path: impl AsRef<Path>) -> Result<String> {
    let bytes = read_bytes(path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_caps_streams() {
        let e = read_bytes("/dev/zero").unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
        let e = read_capped(std::io::repeat(0), 1 << 20, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 1 MiB"), "{e}");
        assert_eq!(read_capped(&b"abc"[..], 3, "x").unwrap(), b"abc");
        let e = read_bytes("/").unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }
}
