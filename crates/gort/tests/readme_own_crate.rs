//! README's "Use it in your crate" works: a fresh crate outside the workspace, made from exactly
//! the lines between the README's `own-crate` markers (only the placeholder path of the checkout
//! is filled in), builds offline and runs its `#[gort::main]` program. The same crate then
//! shows what a user sees for three mistakes, at the user's lines: a refutable `select!`
//! pattern, a field type that is not `Trace`, and an unknown `#[gort::main]` argument.
//!
//! The fresh crate's target directory is kept under cargo's `CARGO_TARGET_TMPDIR`, so only the
//! first run compiles gort's dependencies (about a minute); later runs rebuild what changed.
//! The workspace's `Cargo.lock` is copied in, so that the offline build resolves the versions
//! the workspace already has.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fenced block of the README section: the file it belongs to (the first backticked word of
/// the paragraph before it, e.g. `Cargo.toml`), its language, and its lines.
#[derive(Debug)]
struct Block {
    file: Option<String>,
    lang: String,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The blocks between `<!-- own-crate:begin` and `<!-- own-crate:end -->`.
fn readme_blocks(readme: &str) -> Vec<Block> {
    let start = readme
        .find("<!-- own-crate:begin")
        .expect("README.md lost its own-crate:begin marker");
    let end = readme
        .find("<!-- own-crate:end -->")
        .expect("README.md lost its own-crate:end marker");
    let section = &readme[start..end];
    let mut blocks = Vec::new();
    let mut lines = section.lines().skip(1);
    let mut paragraph = String::new();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```") {
            let mut text = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            let file = paragraph.split('`').nth(1).map(str::to_string);
            blocks.push(Block {
                file,
                lang: lang.trim().to_string(),
                text,
            });
            paragraph.clear();
        } else {
            paragraph.push_str(line);
            paragraph.push('\n');
        }
    }
    blocks
}

fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    // The fresh crate gets its flags from its own .cargo/config.toml, as a user's would: none
    // from this process (CI may set RUSTFLAGS for other builds).
    for v in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTDOCFLAGS",
    ] {
        c.env_remove(v);
    }
    c.env(
        "CARGO_TARGET_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-own-crate-target"),
    );
    c
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn readme_lines_make_a_working_crate() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = readme_blocks(&readme);
    let by_file = |f: &str| -> &Block {
        blocks
            .iter()
            .find(|b| b.file.as_deref() == Some(f))
            .unwrap_or_else(|| panic!("README's own-crate section has no `{f}` block: {blocks:?}"))
    };
    let manifest = by_file("Cargo.toml");
    let config = by_file(".cargo/config.toml");
    let main = by_file("src/main.rs");
    assert_eq!(
        (&*manifest.lang, &*config.lang, &*main.lang),
        ("toml", "toml", "rust")
    );
    assert!(manifest.text.contains("debug = 1"), "{manifest:?}");
    assert!(
        config.text.contains("force-frame-pointers=yes"),
        "{config:?}"
    );
    assert!(
        main.text.contains("#[gort::main]")
            && main.text.contains("gort::go")
            && main.text.contains("gort::chan::"),
        "the README's program should show go and a channel: {main:?}"
    );

    // The install line names this checkout's CLI crate, whose binary is `gort`.
    let sh = blocks.iter().find(|b| b.lang == "sh").expect("an sh block");
    let install = sh
        .text
        .lines()
        .find(|l| l.starts_with("cargo install --path "))
        .expect("a `cargo install --path` line");
    let cli = install
        .split_whitespace()
        .nth(3)
        .expect("the path of `cargo install --path`");
    let cli_manifest = std::fs::read_to_string(root.join(cli).join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("{install}: {e}"));
    assert!(
        cli_manifest.contains("[[bin]]\nname = \"gort\""),
        "{cli} does not build a `gort` binary"
    );

    // A fresh crate outside the workspace: a [package] header, then the README's lines, with
    // the checkout's path filled in.
    const PLACEHOLDER: &str = "/path/to/gort";
    assert!(
        manifest.text.contains(PLACEHOLDER),
        "the dependency line should name {PLACEHOLDER:?}, which this test fills in"
    );
    let dir = std::env::temp_dir().join(format!("gort-readme-crate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"hello-gort\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{}",
            manifest
                .text
                .replace(PLACEHOLDER, root.to_str().expect("a UTF-8 checkout path"))
        ),
    );
    write(&dir.join(".cargo/config.toml"), &config.text);
    write(&dir.join("src/main.rs"), &main.text);
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let out = cargo()
        .args(["build", "--offline", "-v"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README's crate does not build:\n{stderr}"
    );
    assert!(
        !stderr.contains("warning: unused manifest key"),
        "a README manifest line means nothing to cargo:\n{stderr}"
    );
    // -v shows the rustc command of the crate itself (always rebuilt: a new directory).
    let own = stderr
        .lines()
        .find(|l| l.contains("Running") && l.contains("--crate-name hello_gort"))
        .unwrap_or_else(|| panic!("no rustc line for hello-gort:\n{stderr}"));
    assert!(
        own.contains("force-frame-pointers=yes"),
        "the .cargo/config.toml flags were not applied: {own}"
    );
    let exe =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme-own-crate-target/debug/hello-gort");
    let run = Command::new(&exe)
        .env_remove("GORT_STACK_SIZE")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from a goroutine\n"
    );

    // What the user sees for mistakes: errors at their own lines, not in gort's sources.
    let bad = [
        (
            "bad_select",
            "fn main() {\n    let (_tx, rx) = gort::chan::bounded::<u32>(1);\n    \
             let _v = gort::select! {\n        recv(rx) -> Ok(v) => v,\n        \
             default => 0,\n    };\n}\n",
            vec![
                "examples/bad_select.rs:4:21",
                "pattern `Err(_)` not covered",
            ],
        ),
        (
            "bad_trace",
            "struct Config;\n#[derive(gort::gc::Trace)]\nstruct Node {\n    \
             next: Option<gort::Gc<Node>>,\n    config: Config,\n}\nfn main() {}\n",
            vec![
                "examples/bad_trace.rs:5:13",
                "`Config` cannot be stored on gort's GC heap",
                "#[gc(skip)]",
            ],
        ),
        (
            "bad_main_args",
            "#[gort::main(gomaxprocs = 2, threads = 4)]\nfn main() {}\n",
            vec![
                "examples/bad_main_args.rs:1:30",
                "unknown #[gort::main] argument `threads`",
            ],
        ),
    ];
    for (name, src, wants) in bad {
        write(&dir.join(format!("examples/{name}.rs")), src);
        let out = cargo()
            .args(["build", "--offline", "--example", name])
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} compiled");
        for want in wants {
            assert!(stderr.contains(want), "{name}: no {want:?} in\n{stderr}");
        }
        assert!(
            !stderr.contains("crates/gort/src/"),
            "{name}: the error points into gort's sources:\n{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
