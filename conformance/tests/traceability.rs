//! Every requirement of the specifications, traced to the code that implements it and the test
//! that checks it, or to the reason it does not apply.
//!
//! The requirements are listed once, in `conformance/requirements/*.txt` (RFC 6455, RFC 7692's
//! permessage-deflate, RFC 8441's WebSocket over HTTP/2, and the HTML Standard's server-sent
//! events). Code and tests point at them with comments of the form
//! `// req: ws/5.2/opcode`. This test reads both and fails when:
//!
//! - a requirement has no test marker and no `n/a:` reason;
//! - a requirement with a reason is also marked (one or the other, not both);
//! - a marker names an ID that is not listed;
//! - the book's table (`book/src/appendix/traceability.md`) is not what the markers say today.
//!
//! The table is generated here, so that it cannot drift from the markers: after changing a
//! marker, run `WIRELAB_BLESS=1 cargo test -p wirelab-conformance --test traceability` to
//! rewrite it, and review the diff.
//!
//! A marker counts as a test when it is in a `tests` directory, in the conformance crate, or in
//! a `#[cfg(test)]` module; anywhere else it marks the implementation. It belongs to the
//! function it precedes (within a few lines) or, failing that, the one it is inside.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The catalogues, in the order the book shows them.
const SPECS: [(&str, &str); 4] = [
    ("rfc6455.txt", "RFC 6455, The WebSocket Protocol"),
    (
        "rfc7692.txt",
        "RFC 7692, Compression Extensions for WebSocket (permessage-deflate)",
    ),
    (
        "rfc8441.txt",
        "RFC 8441, Bootstrapping WebSockets with HTTP/2",
    ),
    (
        "html-sse.txt",
        "HTML Standard §9.2, Server-sent events (processing model and event-stream format)",
    ),
];

/// Where markers are looked for, from the workspace root.
const ROOTS: [&str; 3] = ["crates", "examples", "conformance"];

const TABLE: &str = "book/src/appendix/traceability.md";

struct Requirement {
    id: String,
    level: String,
    text: String,
    not_applicable: Option<String>,
}

/// Where a marker was found: a file and the function it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Site {
    path: String,
    function: Option<String>,
}

#[derive(Default)]
struct Marks {
    code: Vec<Site>,
    tests: Vec<Site>,
}

fn parse_catalogue(text: &str, file: &str) -> Vec<Requirement> {
    let mut requirements: Vec<Requirement> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(reason) = line.trim_start().strip_prefix("n/a:") {
            let last = requirements
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{}: a reason before any requirement", n + 1));
            last.not_applicable = Some(reason.trim().to_owned());
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").collect();
        let [id, level, text] = parts[..] else {
            panic!("{file}:{}: expected `ID | LEVEL | text`: {line}", n + 1);
        };
        requirements.push(Requirement {
            id: id.trim().to_owned(),
            level: level.trim().to_owned(),
            text: text.trim().to_owned(),
            not_applicable: None,
        });
    }
    requirements
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The name of a `fn` declared on `line`, if any.
fn fn_name(line: &str) -> Option<String> {
    let at = line.find("fn ")?;
    // `fn` as a word: at the start, or after a space (`pub fn`, `async fn`).
    if at > 0 && !line[..at].ends_with(' ') {
        return None;
    }
    let rest = &line[at + 3..];
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    (end > 0).then(|| rest[..end].to_owned())
}

/// [`fn_name`], for a line that is code and not a comment.
fn code_fn_name(line: &str) -> Option<String> {
    if line.trim_start().starts_with("//") {
        return None;
    }
    fn_name(line)
}

/// The prefixes of the catalogues' IDs, one per specification.
const PREFIXES: [&str; 4] = ["ws/", "pmd/", "h2ws/", "sse/"];

/// The IDs of a `req:` marker on a comment line.
fn marker_ids(line: &str) -> Vec<String> {
    let trimmed = line.trim_start();
    if !trimmed.starts_with("//") {
        return Vec::new();
    }
    let Some(at) = trimmed.find("req: ") else {
        return Vec::new();
    };
    trimmed[at + 5..]
        .split_whitespace()
        .map(|t| t.trim_end_matches([',', '.', ';']))
        .take_while(|t| PREFIXES.iter().any(|p| t.starts_with(p)))
        .map(str::to_owned)
        .collect()
}

/// Every marker in the workspace: ID -> where it implements or tests it.
fn scan(root: &Path) -> BTreeMap<String, Marks> {
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    let mut marks: BTreeMap<String, Marks> = BTreeMap::new();
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        // This file explains the markers with examples; it marks nothing.
        if relative == "conformance/tests/traceability.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let lines: Vec<&str> = text.lines().collect();
        let test_file = relative.starts_with("conformance/")
            || relative.split('/').any(|component| component == "tests");
        let mut in_test_module = false;
        let mut cfg_test = false;
        let mut current_fn: Option<String> = None;
        for (i, line) in lines.iter().enumerate() {
            if in_test_module && line.starts_with('}') {
                in_test_module = false;
            }
            if line.starts_with("#[cfg(test)]") {
                cfg_test = true;
            } else if cfg_test && !line.trim().is_empty() {
                in_test_module = line.starts_with("mod ") || line.starts_with("pub mod ");
                cfg_test = false;
            }
            if let Some(name) = code_fn_name(line) {
                current_fn = Some(name);
            }
            let ids = marker_ids(line);
            if ids.is_empty() {
                continue;
            }
            // The function the marker precedes, else the one it is in.
            let next_fn = lines[i + 1..]
                .iter()
                .take(40)
                .take_while(|l| {
                    let t = l.trim_start();
                    t.starts_with("//") || t.starts_with("#[") || code_fn_name(l).is_some()
                })
                .find_map(|l| code_fn_name(l));
            let site = Site {
                path: relative.clone(),
                function: next_fn.or_else(|| current_fn.clone()),
            };
            for id in ids {
                let entry = marks.entry(id).or_default();
                if test_file || in_test_module {
                    entry.tests.push(site.clone());
                } else {
                    entry.code.push(site.clone());
                }
            }
        }
    }
    for entry in marks.values_mut() {
        entry.code.sort();
        entry.code.dedup();
        entry.tests.sort();
        entry.tests.dedup();
    }
    marks
}

fn sites(sites: &[Site]) -> String {
    sites
        .iter()
        .map(|s| match &s.function {
            Some(f) => format!("`{}` `{f}`", s.path),
            None => format!("`{}`", s.path),
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[test]
fn every_requirement_is_tested_or_explained() {
    let root = wirelab_conformance::workspace_root();
    let marks = scan(&root);
    let mut problems = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    let mut book = String::new();
    let mut summary = String::new();
    let mut sections = String::new();
    for (file, title) in SPECS {
        let text = std::fs::read_to_string(root.join("conformance/requirements").join(file))
            .expect("catalogue");
        let requirements = parse_catalogue(&text, file);
        let (mut tested, mut not_applicable, mut implemented) = (0, 0, 0);
        let _ = writeln!(sections, "\n## {title}\n");
        let _ = writeln!(
            sections,
            "| requirement | level | what it asks | implemented in | tested by |\n|---|---|---|---|---|"
        );
        for r in &requirements {
            assert!(known.insert(r.id.clone()), "{} is listed twice", r.id);
            let empty = Marks::default();
            let m = marks.get(&r.id).unwrap_or(&empty);
            match &r.not_applicable {
                Some(reason) => {
                    not_applicable += 1;
                    if !m.code.is_empty() || !m.tests.is_empty() {
                        problems.push(format!("{}: has a reason and markers too", r.id));
                    }
                    let _ = writeln!(
                        sections,
                        "| `{}` | {} | {} | not applicable: {} | |",
                        r.id,
                        r.level,
                        cell(&r.text),
                        cell(reason)
                    );
                }
                None => {
                    if m.tests.is_empty() {
                        problems.push(format!("{}: no test and no reason", r.id));
                    } else {
                        tested += 1;
                    }
                    if !m.code.is_empty() {
                        implemented += 1;
                    }
                    let _ = writeln!(
                        sections,
                        "| `{}` | {} | {} | {} | {} |",
                        r.id,
                        r.level,
                        cell(&r.text),
                        sites(&m.code),
                        sites(&m.tests)
                    );
                }
            }
        }
        let _ = writeln!(
            summary,
            "| {title} | {} | {tested} | {implemented} | {not_applicable} |",
            requirements.len()
        );
    }
    for id in marks.keys() {
        if !known.contains(id) {
            problems.push(format!("a marker names {id}, which no catalogue lists"));
        }
    }
    let _ = write!(
        book,
        "# Traceability: every requirement, its code and its test\n\n\
         <!-- Generated by conformance/tests/traceability.rs from conformance/requirements/*.txt \
         and the `// req:` markers in the code; do not edit by hand. -->\n\n\
         Each requirement of the four specifications is listed once, in WireLab's words, with \
         the code that implements it and the test that checks it, or the reason it does not \
         apply. The list lives in `conformance/requirements/`; code and tests point at a \
         requirement with a comment `// req: ID`; and \
         `cargo test -p wirelab-conformance --test traceability` generates this page from them \
         and fails when a requirement has neither a test nor a reason, so the page cannot \
         disagree with the code. A test listed here may check a requirement among others: the \
         Autobahn|Testsuite runs, for instance, check hundreds of cases at once.\n\n\
         | specification | requirements | tested | with an implementation marked | not applicable |\n\
         |---|---|---|---|---|\n{summary}{sections}"
    );
    let path = root.join(TABLE);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != book {
        if std::env::var_os("WIRELAB_BLESS").is_some() {
            std::fs::write(&path, &book).expect("write the table");
        } else {
            problems.push(format!(
                "{TABLE} is out of date: run `WIRELAB_BLESS=1 cargo test -p wirelab-conformance \
                 --test traceability` and review the diff"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn markers_are_read_as_written() {
    assert_eq!(
        marker_ids("    // req: ws/5.2/opcode ws/5.2/rsv, then prose"),
        ["ws/5.2/opcode", "ws/5.2/rsv"]
    );
    assert_eq!(marker_ids("/// req: sse/9.2.6/id."), ["sse/9.2.6/id"]);
    assert_eq!(
        marker_ids("// req: pmd/6/rsv1-fail h2ws/5/protocol"),
        ["pmd/6/rsv1-fail", "h2ws/5/protocol"]
    );
    assert!(marker_ids("let s = \"// req: ws/5.2/opcode\";").is_empty());
    assert_eq!(
        fn_name("    pub async fn accept<S>(x: S)"),
        Some("accept".into())
    );
    assert_eq!(fn_name("    let f = defn(1);"), None);
}
