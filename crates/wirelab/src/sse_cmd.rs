//! `wirelab sse parse` and `wirelab sse URL`: the SSE parser and client, as JSON lines.
//!
//! Both print one JSON object per line, so that their output can be read by people and by
//! `jq` alike:
//!
//! - `{"type":T,"data":D,"id":I}` for each dispatched event, `I` being the last event ID at
//!   dispatch (`""` when none);
//! - `{"retry":N}` each time the reconnection time is set, in milliseconds.
//!
//! `wirelab sse URL` adds the client's state changes and what it saw besides events:
//! `{"state":"open"}`, `{"state":"reconnecting",...}`, `{"state":"closed","reason":...}`,
//! `{"comment":...}` and `{"redirect":...}`.

use std::fmt;
use std::io::{self, Read, Write};

use http::Version;
use serde_json::{Value, json};
use sse::client::{Client, ClientConfig, ClientEvent, CloseReason};
use sse::{Item, MessageEvent, Parser, ParserConfig};

/// The read size of `parse`: what a typical socket read delivers.
const CHUNK: usize = 8 * 1024;

/// `{"type":T,"data":D,"id":I}`, keys in that order.
fn event_json(event: &MessageEvent) -> String {
    // serde_json's default map sorts keys; the format fixes this order, so it is written by
    // hand, with serde_json escaping each string.
    let quote = |s: &str| Value::from(s).to_string();
    format!(
        "{{\"type\":{},\"data\":{},\"id\":{}}}",
        quote(&event.event_type),
        quote(&event.data),
        quote(&event.last_event_id)
    )
}

/// Reads an event stream from `input` to its end and writes one JSON line per event and per
/// `retry` to `output`. Comments are not printed.
///
/// # Errors
///
/// Read and write errors, and [`io::ErrorKind::InvalidData`] when an event exceeds the
/// parser's default bound (1 MiB).
///
/// ```
/// let mut out = Vec::new();
/// wirelab::sse_cmd::parse(&b"retry: 10\nid: 1\ndata: hi\n\n"[..], &mut out)?;
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "{\"retry\":10}\n{\"type\":\"message\",\"data\":\"hi\",\"id\":\"1\"}\n"
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn parse(input: impl Read, output: impl Write) -> io::Result<()> {
    parse_with_config(ParserConfig::default(), input, output)
}

/// [`parse`] with the parser's limits given.
///
/// # Errors
///
/// As [`parse`].
pub fn parse_with_config(
    config: ParserConfig,
    mut input: impl Read,
    mut output: impl Write,
) -> io::Result<()> {
    let mut parser = Parser::new(config);
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        parser.feed(&buffer[..read]);
        write_items(&mut parser, &mut output)?;
    }
    parser.finish();
    write_items(&mut parser, &mut output)?;
    output.flush()
}

fn write_items(parser: &mut Parser, output: &mut impl Write) -> io::Result<()> {
    while let Some(item) = parser.next_item() {
        match item {
            Ok(Item::Event(event)) => writeln!(output, "{}", event_json(&event))?,
            Ok(Item::Retry(time)) => writeln!(output, "{}", json!({ "retry": time.as_millis() }))?,
            Ok(Item::Comment(_)) => {}
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }
    // Each chunk's events are visible at once, also when piped from `curl -N`.
    output.flush()
}

/// Why [`watch`] stopped with an error.
#[derive(Debug)]
pub enum WatchError {
    /// The URL is not an absolute `http://` or `https://` URL, or has credentials.
    Url(sse::Error),
    /// Writing the output failed.
    Io(io::Error),
    /// The client closed for good.
    Closed(CloseReason),
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::Url(e) => write!(f, "{e}"),
            WatchError::Io(e) => write!(f, "writing output: {e}"),
            WatchError::Closed(reason) => write!(f, "event source closed: {reason}"),
        }
    }
}

impl std::error::Error for WatchError {}

impl From<io::Error> for WatchError {
    fn from(e: io::Error) -> Self {
        WatchError::Io(e)
    }
}

/// Connects to `url` and prints, one JSON line each, every event and retry (as [`parse`]
/// does) and every state change of the client, reconnecting as `EventSource` does, until the
/// client closes for good, or until `max_events` events when given. The `open` line says
/// which HTTP carries the stream (`"http":"HTTP/1.1"` or `"HTTP/2"`) and how many TCP
/// connections the client's [`Connector`](sse::client::Connector) has opened so far.
///
/// # Errors
///
/// [`WatchError::Closed`] when the client stops for good (a 204, a non-200 status, a wrong
/// content type, an oversized event, too many redirects or failed attempts, an untrusted
/// certificate): the CLI exits non-zero. Reaching `max_events` is `Ok`.
pub async fn watch(
    url: &str,
    config: ClientConfig,
    max_events: Option<usize>,
    mut output: impl Write,
) -> Result<(), WatchError> {
    follow(url, config, max_events, |line| {
        let written = writeln!(output, "{line}").and_then(|()| output.flush());
        std::future::ready(written)
    })
    .await
}

// ANCHOR: watch_all
/// [`watch`] for several streams at once, each line tagged with its stream's place in `urls`
/// (`"stream":N`, from 0; one URL alone is [`watch`], untagged). The clients share `config`'s
/// connector, so streams of one origin share one HTTP/2 connection when the server speaks
/// HTTP/2, as a browser's `EventSource`s do. `max_events` counts each stream's events.
///
/// # Errors
///
/// As [`watch`]: the first stream that closed for good, once every stream has stopped.
pub async fn watch_all(
    urls: &[String],
    config: ClientConfig,
    max_events: Option<usize>,
    mut output: impl Write,
) -> Result<(), WatchError> {
    if let [url] = urls {
        return watch(url, config, max_events, output).await;
    }
    // Bounded: a slow terminal slows the clients down rather than filling memory.
    let (lines, mut received) = tokio::sync::mpsc::channel::<String>(1024);
    let mut streams = tokio::task::JoinSet::new();
    for (n, url) in urls.iter().enumerate() {
        let (url, config, lines) = (url.clone(), config.clone(), lines.clone());
        streams.spawn(async move {
            follow(&url, config, max_events, |line| {
                // `{"...` becomes `{"stream":N,"...`: the same object, one key more.
                let tagged = format!("{{\"stream\":{n},{}", &line[1..]);
                let lines = lines.clone();
                async move {
                    lines
                        .send(tagged)
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
                }
            })
            .await
        });
    }
    drop(lines);
    while let Some(line) = received.recv().await {
        writeln!(output, "{line}")?;
        output.flush()?;
    }
    let mut outcome = Ok(());
    while let Some(ended) = streams.join_next().await {
        if let Ok(Err(e)) = ended
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    outcome
}
// ANCHOR_END: watch_all

/// The loop of [`watch`]: each line (a JSON object) goes to `emit`.
async fn follow<F: Future<Output = io::Result<()>>>(
    url: &str,
    config: ClientConfig,
    max_events: Option<usize>,
    mut emit: impl FnMut(String) -> F,
) -> Result<(), WatchError> {
    let connector = config.connector.clone();
    let mut client = Client::new(url, config).map_err(WatchError::Url)?;
    emit(json!({ "state": "connecting", "url": url }).to_string()).await?;
    let mut seen = 0;
    while max_events.is_none_or(|max| seen < max) {
        let Some(event) = client.next().await else {
            break;
        };
        let line = match event {
            ClientEvent::Message(message) => {
                seen += 1;
                event_json(&message)
            }
            ClientEvent::Retry(time) => json!({ "retry": time.as_millis() }).to_string(),
            ClientEvent::Open => json!({
                "state": "open",
                "http": http_name(client.http_version()),
                "tcp_connections": connector.tcp_connections(),
            })
            .to_string(),
            ClientEvent::Comment(text) => json!({ "comment": text }).to_string(),
            ClientEvent::Redirect { status, location } => {
                json!({ "redirect": location, "status": status }).to_string()
            }
            ClientEvent::Reconnecting {
                reason,
                delay,
                last_event_id,
                attempt,
            } => json!({
                "state": "reconnecting",
                "reason": reason.to_string(),
                "delay_ms": delay.as_millis(),
                "last_event_id": last_event_id,
                "attempt": attempt,
            })
            .to_string(),
            ClientEvent::Closed(reason) => {
                let closed = json!({ "state": "closed", "reason": reason.to_string() });
                emit(closed.to_string()).await?;
                return Err(WatchError::Closed(reason));
            }
            // ClientEvent is non-exhaustive: print what a newer sse reports as debug text.
            other => json!({ "other": format!("{other:?}") }).to_string(),
        };
        emit(line).await?;
    }
    Ok(())
}

/// `HTTP/1.1` or `HTTP/2`, as people write them.
fn http_name(version: Option<Version>) -> &'static str {
    match version {
        Some(Version::HTTP_2) => "HTTP/2",
        Some(Version::HTTP_11) => "HTTP/1.1",
        Some(Version::HTTP_10) => "HTTP/1.0",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one byte per `read`, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn json_lines_in_the_fixed_format_whatever_the_read_sizes() {
        let stream = "\u{FEFF}: hi\r\nretry: 250\r\nid: 7\r\nevent: \"q\"\r\ndata: a\\b\r\ndata: é\r\n\r\ndata: x\n\nid:\ndata: tail";
        let expected = concat!(
            "{\"retry\":250}\n",
            "{\"type\":\"\\\"q\\\"\",\"data\":\"a\\\\b\\né\",\"id\":\"7\"}\n",
            "{\"type\":\"message\",\"data\":\"x\",\"id\":\"7\"}\n",
        );
        let mut whole = Vec::new();
        parse(stream.as_bytes(), &mut whole).expect("parse");
        assert_eq!(String::from_utf8(whole).expect("utf-8"), expected);
        let mut trickled = Vec::new();
        parse(Trickle(stream.as_bytes()), &mut trickled).expect("parse");
        assert_eq!(String::from_utf8(trickled).expect("utf-8"), expected);
    }

    #[test]
    fn an_oversized_event_is_invalid_data() {
        let config = ParserConfig { max_event_bytes: 8 };
        let error = parse_with_config(config, &b"data: 0123456789\n\n"[..], io::sink())
            .expect_err("too large");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
