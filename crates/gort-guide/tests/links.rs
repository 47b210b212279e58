//! The guide is reachable and whole: README's first screen and the tour's last line point at
//! it, and every relative link in the guide's Markdown names a file or directory that exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn readme_first_screen_and_the_tour_point_at_the_guide() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(
        first.contains("(docs/guide/README.md)"),
        "README's first screen links the guide"
    );
    let tour = std::fs::read_to_string(root().join("crates/gort/examples/tour.rs")).unwrap();
    let last = tour.rfind("println!").unwrap();
    assert!(
        tour[last..].contains("docs/guide/README.md"),
        "the tour ends at the guide"
    );
}

/// Relative link targets of Markdown `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(j) = rest.find(')') else { break };
        let t = rest[..j].split('#').next().unwrap_or("").trim();
        if !t.is_empty() && !t.contains("://") && !t.starts_with("mailto:") && !t.contains(' ') {
            out.push(t.to_string());
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_guide_resolves() {
    let mut bad = Vec::new();
    let mut stack = vec![root().join("docs/guide")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                let text = std::fs::read_to_string(&p).unwrap();
                for l in links(&text) {
                    if !p.parent().unwrap().join(&l).exists() {
                        bad.push(format!("{}: {l}", p.display()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "broken links: {bad:#?}");
}
