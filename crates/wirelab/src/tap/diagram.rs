//! Sequence diagrams drawn from the tap's transcript, as SVG.
//!
//! The input is the tap's own output: lines `#N C->S text` and `#N S->C text`, plus `#N open
//! ...` and `#N closed`. So a picture of an exchange is made of the same lines as its listing,
//! and cannot disagree with the bytes. Each unit the tap describes becomes one arrow between
//! the client's and the server's lifelines:
//!
//! - an HTTP head (its first line; the header fields listed in [`SHOWN_HEADERS`] below it);
//! - a WebSocket frame (its header; its size on the wire and its payload or close code below
//!   it);
//! - an HTTP chunk (its size; the event-stream fields it carries below it);
//! - the end of a direction (`end of stream`, the TCP FIN), drawn dashed.
//!
//! Connections opening and closing, and the switch to WebSocket frames, are notes across both
//! lifelines. With more than one connection in the transcript, each arrow says which.

use std::fmt::Write as _;

/// Header fields worth seeing in a diagram; the others are in the listing.
pub const SHOWN_HEADERS: [&str; 6] = [
    "upgrade",
    "last-event-id",
    "content-type",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "transfer-encoding",
];

const WIDTH: usize = 820;
const CLIENT_X: usize = 110;
const SERVER_X: usize = 710;
/// Characters of a label or detail line; longer ones are cut with an ellipsis.
const MAX_TEXT: usize = 80;

/// One thing drawn: an arrow with its lines of text, or a note.
#[derive(Debug)]
enum Item {
    Arrow {
        to_server: bool,
        dashed: bool,
        label: String,
        details: Vec<String>,
    },
    Note(String),
}

/// The SVG of `transcript` (the tap's lines, in the order it printed them), titled `title`.
pub fn svg(title: &str, transcript: &[String]) -> String {
    let items = items(transcript);
    let mut body = String::new();
    let mut y = 70;
    for item in &items {
        match item {
            Item::Note(text) => {
                let _ = writeln!(
                    body,
                    r##"<rect x="{}" y="{}" width="{}" height="22" rx="4" fill="#f3f0e6" stroke="#c9c2a8"/>"##,
                    CLIENT_X - 40,
                    y,
                    SERVER_X - CLIENT_X + 80
                );
                let _ = writeln!(
                    body,
                    r##"<text x="{}" y="{}" text-anchor="middle" class="note">{}</text>"##,
                    WIDTH / 2,
                    y + 15,
                    escape(text)
                );
                y += 34;
            }
            Item::Arrow {
                to_server,
                dashed,
                label,
                details,
            } => {
                let _ = writeln!(
                    body,
                    r#"<text x="{}" y="{}" text-anchor="middle" class="label">{}</text>"#,
                    WIDTH / 2,
                    y + 12,
                    escape(label)
                );
                let mut line_y = y + 12;
                for detail in details {
                    line_y += 15;
                    let _ = writeln!(
                        body,
                        r#"<text x="{}" y="{}" text-anchor="middle" class="detail">{}</text>"#,
                        WIDTH / 2,
                        line_y,
                        escape(detail)
                    );
                }
                let arrow_y = line_y + 9;
                let (from, to) = if *to_server {
                    (CLIENT_X, SERVER_X - 8)
                } else {
                    (SERVER_X, CLIENT_X + 8)
                };
                let dash = if *dashed {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                };
                let _ = writeln!(
                    body,
                    r##"<line x1="{from}" y1="{arrow_y}" x2="{to}" y2="{arrow_y}" stroke="#2b4c7e" stroke-width="1.6"{dash} marker-end="url(#head)"/>"##
                );
                y = arrow_y + 16;
            }
        }
    }
    let height = y + 20;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    out.push_str(concat!(
        "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" ",
        "markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">",
        "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#2b4c7e\"/></marker></defs>\n",
        "<style>.label{font-size:12px;fill:#111}.detail{font-size:11px;fill:#555}",
        ".note{font-size:11px;fill:#5a5235}.who{font-size:14px;font-weight:bold;fill:#111}",
        "</style>\n",
    ));
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{height}" fill="#fffdf8"/>"##
    );
    for (x, who) in [(CLIENT_X, "client"), (SERVER_X, "server")] {
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="30" text-anchor="middle" class="who">{who}</text>"#
        );
        let _ = writeln!(
            out,
            r##"<line x1="{x}" y1="42" x2="{x}" y2="{}" stroke="#999" stroke-width="1"/>"##,
            height - 12
        );
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// The transcript's lines as arrows and notes.
fn items(transcript: &[String]) -> Vec<Item> {
    let many = connections(transcript) > 1;
    let mut items: Vec<Item> = Vec::new();
    // For each (connection, direction): whether a head is being read, and the index of the
    // arrow that its detail lines go to.
    let mut open: Vec<(String, bool, bool, Option<usize>)> = Vec::new();
    for line in transcript {
        let Some((id, rest)) = line.strip_prefix('#').and_then(|l| l.split_once(' ')) else {
            continue;
        };
        let tag = if many {
            format!("#{id} ")
        } else {
            String::new()
        };
        let (to_server, text) = match rest.split_once(' ') {
            Some(("C->S", text)) => (true, text),
            Some(("S->C", text)) => (false, text),
            _ => {
                let note = if rest.starts_with("open ") {
                    format!("{tag}TCP connection opened")
                } else if rest == "closed" {
                    format!("{tag}TCP connection closed")
                } else {
                    format!("{tag}{rest}")
                };
                items.push(Item::Note(note));
                continue;
            }
        };
        let state = match open
            .iter()
            .position(|(i, d, _, _)| i == id && *d == to_server)
        {
            Some(at) => at,
            None => {
                open.push((id.to_owned(), to_server, false, None));
                open.len() - 1
            }
        };
        let (_, _, in_head, current) = &mut open[state];
        let detail = |items: &mut Vec<Item>, text: String| {
            if let Some(Item::Arrow { details, .. }) = current.and_then(|i| items.get_mut(i)) {
                details.push(cut(&text));
            }
        };
        if *in_head {
            if let Some(size) = text.strip_prefix("(end of head, ") {
                detail(&mut items, format!("(head: {}", size));
                *in_head = false;
            } else if let Some((name, value)) = text.split_once(": ")
                && SHOWN_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            {
                detail(&mut items, format!("{name}: {value}"));
            }
            continue;
        }
        if let Some(indented) = text.strip_prefix("  ") {
            // A frame's payload or close code, or an event-stream line inside a chunk.
            if !indented.starts_with("masked:") && !indented.starts_with("(blank line") {
                detail(&mut items, indented.trim().to_owned());
            }
            continue;
        }
        if text.starts_with("(switching protocols") {
            items.push(Item::Note(format!("{tag}{text}")));
            continue;
        }
        let is_head = text.starts_with("HTTP/") || text.ends_with(" HTTP/1.1");
        *in_head = is_head;
        let dashed = text == "end of stream";
        // A frame's header on the arrow, its size on the wire below it.
        let (label, details) = match text
            .strip_prefix("frame ")
            .and_then(|f| f.rsplit_once(", "))
        {
            Some((header, size)) => (header.to_owned(), vec![size.to_owned()]),
            None if dashed => ("FIN: end of stream".to_owned(), Vec::new()),
            None => (text.to_owned(), Vec::new()),
        };
        items.push(Item::Arrow {
            to_server,
            dashed,
            label: cut(&format!("{tag}{label}")),
            details,
        });
        *current = Some(items.len() - 1);
    }
    items
}

/// Collects the tap's lines by connection and writes each connection's diagram,
/// `DIR/connection-N.svg`, when it closes (`wirelab tap --svg DIR`).
#[derive(Debug)]
pub struct Collector {
    dir: std::path::PathBuf,
    open: std::collections::HashMap<String, Vec<String>>,
}

impl Collector {
    /// A collector writing into `dir` (created if missing).
    pub fn new(dir: std::path::PathBuf) -> Self {
        Collector {
            dir,
            open: std::collections::HashMap::new(),
        }
    }

    /// Takes one line of the tap's output; writes the diagram of a connection it closes.
    pub fn push(&mut self, line: String) -> std::io::Result<()> {
        let Some(id) = line
            .strip_prefix('#')
            .and_then(|l| l.split(' ').next())
            .map(str::to_owned)
        else {
            return Ok(());
        };
        let closed = line
            .split_once(' ')
            .is_some_and(|(_, rest)| rest == "closed");
        self.open.entry(id.clone()).or_default().push(line);
        if !closed {
            return Ok(());
        }
        let lines = self.open.remove(&id).unwrap_or_default();
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(format!("connection-{id}.svg"));
        std::fs::write(&path, svg(&format!("connection #{id}"), &lines))
    }
}

/// How many connections the transcript shows.
fn connections(transcript: &[String]) -> usize {
    let mut ids: Vec<&str> = transcript
        .iter()
        .filter_map(|l| l.strip_prefix('#')?.split(' ').next())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_TEXT - 1).collect();
    short.push('…');
    short
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn heads_frames_and_notes_become_arrows_with_their_details() {
        let transcript = lines(
            "#1 open from a to b\n\
             #1 C->S GET /chat HTTP/1.1\n\
             #1 C->S Host: x\n\
             #1 C->S Upgrade: websocket\n\
             #1 C->S (end of head, 120 bytes)\n\
             #1 S->C HTTP/1.1 101 Switching Protocols\n\
             #1 S->C (end of head, 90 bytes)\n\
             #1 S->C (switching protocols: WebSocket frames follow, both ways)\n\
             #1 C->S frame FIN - - - Text MASK=<random> len=2 (7-bit length), 8 bytes on the wire\n\
             #1 C->S   masked:   <2 bytes>\n\
             #1 C->S   payload:  \"hi\"\n\
             #1 S->C end of stream\n\
             #1 closed",
        );
        let items = items(&transcript);
        let arrows: Vec<(bool, &str, &[String])> = items
            .iter()
            .filter_map(|i| match i {
                Item::Arrow {
                    to_server,
                    label,
                    details,
                    ..
                } => Some((*to_server, label.as_str(), details.as_slice())),
                Item::Note(_) => None,
            })
            .collect();
        assert_eq!(arrows.len(), 4);
        assert_eq!(arrows[0].1, "GET /chat HTTP/1.1");
        // Host is in the listing, not the picture; the head's size is.
        assert_eq!(arrows[0].2, ["Upgrade: websocket", "(head: 120 bytes)"]);
        assert!(!arrows[1].0);
        assert_eq!(
            arrows[2].1,
            "FIN - - - Text MASK=<random> len=2 (7-bit length)"
        );
        assert_eq!(arrows[2].2, ["8 bytes on the wire", "payload:  \"hi\""]);
        assert_eq!(arrows[3].1, "FIN: end of stream");
        let notes = items.iter().filter(|i| matches!(i, Item::Note(_))).count();
        assert_eq!(notes, 3);
    }

    #[test]
    fn text_is_escaped_and_cut() {
        let svg = svg("a <b>", &lines("#1 C->S GET /?a=<1>&b HTTP/1.1"));
        assert!(svg.contains("GET /?a=&lt;1&gt;&amp;b HTTP/1.1"));
        assert!(svg.contains("<title>a &lt;b&gt;</title>"));
        assert_eq!(cut(&"x".repeat(100)).chars().count(), MAX_TEXT);
    }

    #[test]
    fn the_collector_draws_a_connection_when_it_closes() {
        let dir = std::env::temp_dir().join(format!("wirelab-diagram-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut collector = Collector::new(dir.clone());
        for line in lines("#7 open from a to b\n#8 open from a to b\n#7 C->S GET / HTTP/1.1") {
            collector.push(line).unwrap();
        }
        assert!(
            !dir.join("connection-7.svg").exists(),
            "not before it closes"
        );
        collector.push("#7 closed".into()).unwrap();
        let drawn = std::fs::read_to_string(dir.join("connection-7.svg")).unwrap();
        assert!(drawn.contains("GET / HTTP/1.1"));
        assert!(!dir.join("connection-8.svg").exists(), "#8 is still open");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
