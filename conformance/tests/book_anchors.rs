//! The book and the code agree on their anchors: every `{{#include path:anchor}}` in
//! `book/src` names a file that exists and has that anchor pair, and every anchor in the code
//! is included by some chapter (a pair that no chapter uses is noise in the file it marks).
//!
//! mdBook itself only reports a missing anchor as a warning, and says nothing about an unused
//! one, so this test is what keeps both lists empty. It walks the directories with `std::fs`
//! and prints every offender as `file:line`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Where code that the book may include lives, relative to the workspace root.
const CODE_DIRS: &[&str] = &["crates", "examples", "conformance", "bench", "scripts"];
/// The kinds of file whose anchors count.
const CODE_EXTENSIONS: &[&str] = &["rs", "js", "html", "toml", "sh"];

/// One `{{#include ...}}` of a chapter.
struct Include {
    /// The chapter and the line it is on, for the report.
    at: String,
    /// The included file, as the chapter names it (relative to the chapter).
    target: String,
    /// The file, resolved and canonical, if it exists.
    file: Option<PathBuf>,
    /// The anchor, if the include names one (not a line range, not the whole file).
    anchor: Option<String>,
}

/// One start marker of an anchor pair in the code.
struct Anchor {
    file: PathBuf,
    line: usize,
    name: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("conformance/ sits in the workspace")
        .to_path_buf()
}

/// Every file under `dir` (skipping hidden directories and build output) whose extension is
/// one of `extensions`.
fn files_under(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                files_under(&path, extensions, found);
            }
        } else if path
            .extension()
            .is_some_and(|ext| extensions.iter().any(|e| ext == *e))
        {
            found.push(path);
        }
    }
}

/// The name after `marker` on `line`, if there is one: mdBook's anchor names are letters,
/// digits, `_` and `-`.
fn name_after(line: &str, marker: &str) -> Option<String> {
    let start = line.find(marker)? + marker.len();
    let name: String = line[start..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Whether `text` has the pair for anchor `name`.
fn has_pair(text: &str, name: &str) -> bool {
    let named = |marker: &str| {
        text.lines()
            .any(|line| name_after(line, marker).as_deref() == Some(name))
    };
    named("ANCHOR: ") && named("ANCHOR_END: ")
}

fn includes(root: &Path) -> Vec<Include> {
    let mut chapters = Vec::new();
    files_under(&root.join("book/src"), &["md"], &mut chapters);
    chapters.sort();
    let mut found = Vec::new();
    for chapter in chapters {
        let text = fs::read_to_string(&chapter).expect("a chapter is UTF-8");
        let dir = chapter.parent().expect("a chapter is in a directory");
        for (index, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("{{#include ") {
                let after = &rest[start + "{{#include ".len()..];
                let Some(end) = after.find("}}") else {
                    break;
                };
                let spec = after[..end].trim();
                rest = &after[end..];
                let (target, selector) = spec.split_once(':').unwrap_or((spec, ""));
                // A selector of digits and colons is a line range; anything else names an
                // anchor.
                let anchor = (!selector.is_empty()
                    && !selector.chars().all(|c| c.is_ascii_digit() || c == ':'))
                .then(|| selector.to_owned());
                found.push(Include {
                    at: format!("{}:{}", relative(root, &chapter), index + 1),
                    target: target.to_owned(),
                    file: fs::canonicalize(dir.join(target)).ok(),
                    anchor,
                });
            }
        }
    }
    found
}

fn anchors(root: &Path) -> Vec<Anchor> {
    let mut files = Vec::new();
    for dir in CODE_DIRS {
        files_under(&root.join(dir), CODE_EXTENSIONS, &mut files);
    }
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let file = fs::canonicalize(&file).expect("a file just listed exists");
        for (index, line) in text.lines().enumerate() {
            if let Some(name) = name_after(line, "ANCHOR: ") {
                found.push(Anchor {
                    file: file.clone(),
                    line: index + 1,
                    name,
                });
            }
        }
    }
    found
}

fn relative(root: &Path, path: &Path) -> String {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn every_include_resolves_and_every_anchor_is_included() {
    let root = workspace_root();
    let includes = includes(&root);
    assert!(!includes.is_empty(), "no includes found under book/src");

    let mut broken = Vec::new();
    for include in &includes {
        match (&include.file, &include.anchor) {
            (None, _) => broken.push(format!("{}: no file {}", include.at, include.target)),
            (Some(file), Some(anchor)) => {
                let text = fs::read_to_string(file).unwrap_or_default();
                if !has_pair(&text, anchor) {
                    broken.push(format!(
                        "{}: {} has no anchor pair `{anchor}`",
                        include.at, include.target
                    ));
                }
            }
            (Some(_), None) => {}
        }
    }

    let used: BTreeSet<(&Path, &str)> = includes
        .iter()
        .filter_map(|i| Some((i.file.as_deref()?, i.anchor.as_deref()?)))
        .collect();
    let unused: Vec<String> = anchors(&root)
        .into_iter()
        .filter(|a| !used.contains(&(a.file.as_path(), a.name.as_str())))
        .map(|a| {
            format!(
                "{}:{}: anchor `{}` is included by no chapter",
                relative(&root, &a.file),
                a.line,
                a.name
            )
        })
        .collect();

    for offender in broken.iter().chain(&unused) {
        println!("{offender}");
    }
    assert!(
        broken.is_empty() && unused.is_empty(),
        "{} broken includes and {} unused anchors (listed above, file:line)",
        broken.len(),
        unused.len()
    );
}
