//! `wirelab check sse-client -- CMD ARGS...`: an EventSource-like client's reconnection,
//! from the server's side (HTML Standard §9.2.2-9.2.4), and its parsing of what it receives.
//!
//! WireLab serves HTTP/1.1 on a loopback port, by hand (each response is written as bytes,
//! the body ended by closing the connection), and runs the command with
//! `http://127.0.0.1:PORT/events` as its last argument. The command follows the stream as
//! `EventSource` does and prints each event as one JSON line on standard output,
//! `{"type":T,"data":D,"id":I}` as in `wirelab check sse-parser`'s contract, flushing each
//! line; lines without a `type` key (`wirelab sse`'s state lines, `{"retry":N}`) are
//! ignored.
//!
//! The script of the main run, one response per connection:
//!
//! 1. a stream with `retry: 300`, two events with ids and one without, every kind of line
//!    end, and an unterminated event at the end, then the connection is closed;
//! 2. the client must come back with `Last-Event-ID: 2`, having waited the reconnection time
//!    (the delay is reported; the case passes between half of it and two seconds, so that a
//!    client that ignored `retry:` and waited a default of several seconds fails); it gets a
//!    third event and the end of the stream again;
//! 3. it must come back again, and gets 204 No Content, after which it must not reconnect.
//!
//! A second run answers with `Content-Type: text/plain`: the client must fail the
//! connection, print no event and not reconnect.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::program::{Program, Running};
use super::wire::{Wire, header};
use super::{Reporter, Verdict, same_items};

/// The `retry:` the main run sets, in milliseconds.
const RETRY_MS: u64 = 300;

// ANCHOR: script
/// The first response's body: `retry`, a comment, an event with a type and two data lines
/// (CRLF), one in LF then CR line ends, one without an `id:` field (its last event ID is
/// still 2), and an event the connection cuts before its blank line.
const FIRST: &str = concat!(
    "retry: 300\r\n",
    ": a comment, ignored\r\n",
    "id: 1\r\nevent: tick\r\ndata: a\r\ndata: b\r\n\r\n",
    "id: 2\ndata: two\rdata: lines\r\r",
    "data: no id field, id 2 still\n\n",
    "data: cut before its blank line"
);

/// The second response's body: one event without an id (the last event ID stays 2).
const SECOND: &str = "data: three\n\n";
// ANCHOR_END: script

/// How long the suite waits to see that no reconnection comes.
const QUIET: Duration = Duration::from_millis(1500);

fn expected_events() -> Vec<Value> {
    vec![
        json!({"type": "tick", "data": "a\nb", "id": "1"}),
        json!({"type": "message", "data": "two\nlines", "id": "2"}),
        json!({"type": "message", "data": "no id field, id 2 still", "id": "2"}),
        json!({"type": "message", "data": "three", "id": "2"}),
    ]
}

fn response(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A request that arrived: its connection, head, and when it connected.
struct Arrival {
    wire: Wire,
    request: http_head::RequestHead,
    at: Instant,
}

/// The next request, if one comes within `wait`.
async fn next_request(listener: &TcpListener, wait: Duration) -> Result<Option<Arrival>, String> {
    let Ok(accepted) = tokio::time::timeout(wait, listener.accept()).await else {
        return Ok(None);
    };
    let at = Instant::now();
    let (tcp, _) = accepted.map_err(|e| format!("accepting: {e}"))?;
    let mut wire = Wire::new(tcp);
    let head = (tokio::time::timeout(wait, wire.head()).await)
        .map_err(|_| "no whole request head in time".to_owned())??;
    let request = http_head::parse_request(&head, 100).map_err(|e| format!("the request: {e}"))?;
    Ok(Some(Arrival { wire, request, at }))
}

/// Answers with `bytes` and closes the connection: the end of the body. Returns when.
async fn answer(mut arrival: Arrival, bytes: &[u8]) -> Result<Instant, String> {
    arrival.wire.send(bytes).await?;
    drop(arrival);
    Ok(Instant::now())
}

fn value(request: &http_head::RequestHead, name: &str) -> Option<String> {
    header(&request.headers, name).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The events among the lines the command printed: the objects with a `type`.
fn events(lines: &[String]) -> Result<Vec<Value>, String> {
    let items = super::json_lines(lines.iter().map(String::as_str))?;
    Ok(items
        .into_iter()
        .filter(|item| item.get("type").is_some())
        .collect())
}

async fn listen() -> Result<(TcpListener, String), String> {
    let listener =
        (TcpListener::bind("127.0.0.1:0").await).map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, format!("http://{addr}/events")))
}

fn missing(what: &str) -> Verdict {
    Err(format!("not checked: {what}"))
}

/// The main run; reports its cases as it goes.
async fn main_run<W: std::io::Write>(
    program: &Program,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    let (listener, url) = listen().await?;
    let mut running: Running = program.start(&url)?;
    let first = (next_request(&listener, timeout).await?).ok_or_else(|| {
        format!(
            "the command did not connect within {} ms",
            timeout.as_millis()
        )
    })?;
    let accept = value(&first.request, "accept").unwrap_or_default();
    let verdict = if first.request.method != "GET" {
        Err(format!("a {} request", first.request.method))
    } else if accept
        .split(',')
        .any(|t| t.trim().starts_with("text/event-stream"))
    {
        Ok(Some(format!(
            "GET {} with Accept: {accept}",
            first.request.path
        )))
    } else {
        Err(format!("Accept: {accept:?}, without text/event-stream"))
    };
    reporter.case(
        "the request is a GET with Accept: text/event-stream",
        "sse/9.2.2/request",
        verdict,
    );
    let cut = answer(first, &response("200 OK", "text/event-stream", FIRST)).await?;

    let second = next_request(&listener, timeout).await?;
    let Some(second) = second else {
        reporter.case(
            "the client reconnects when the stream ends",
            "sse/9.2.2/end-of-body",
            Err(format!("no new request within {} ms", timeout.as_millis())),
        );
        reporter.case(
            "the reconnection sends Last-Event-ID: 2",
            "sse/9.2.4/last-event-id",
            missing("no reconnection"),
        );
        reporter.case(
            "the reconnection waits the retry: time (300 ms)",
            "sse/9.2.3/reestablish",
            missing("no reconnection"),
        );
        return finish_events(&mut running, timeout, reporter).await;
    };
    let delay = second.at.duration_since(cut);
    reporter.case(
        "the client reconnects when the stream ends",
        "sse/9.2.2/end-of-body",
        Ok(None),
    );
    let verdict = match value(&second.request, "last-event-id") {
        Some(id) if id == "2" => Ok(None),
        Some(id) => Err(format!("Last-Event-ID: {id}")),
        None => Err("no Last-Event-ID".into()),
    };
    reporter.case(
        "the reconnection sends Last-Event-ID: 2",
        "sse/9.2.4/last-event-id",
        verdict,
    );
    let ms = delay.as_millis();
    let verdict = if ms < u128::from(RETRY_MS / 2) {
        Err(format!(
            "reconnected after {ms} ms, sooner than retry: {RETRY_MS}"
        ))
    } else if ms > 2000 {
        Err(format!(
            "reconnected after {ms} ms: retry: {RETRY_MS} was not honoured"
        ))
    } else {
        Ok(Some(format!(
            "reconnected after {ms} ms (retry: {RETRY_MS})"
        )))
    };
    reporter.case(
        "the reconnection waits the retry: time (300 ms)",
        "sse/9.2.3/reestablish",
        verdict,
    );
    answer(second, &response("200 OK", "text/event-stream", SECOND)).await?;

    let verdict = match next_request(&listener, timeout).await? {
        None => {
            reporter.case(
                "a 204 No Content stops the reconnections",
                "sse/9.2.2/status-type",
                missing("no third request came"),
            );
            return finish_events(&mut running, timeout, reporter).await;
        }
        Some(third) => {
            answer(
                third,
                b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            )
            .await?;
            match next_request(&listener, QUIET).await? {
                None => Ok(Some(format!(
                    "no request in the {} ms after it",
                    QUIET.as_millis()
                ))),
                Some(_) => Err("the client came back after the 204".into()),
            }
        }
    };
    reporter.case(
        "a 204 No Content stops the reconnections",
        "sse/9.2.2/status-type",
        verdict,
    );
    finish_events(&mut running, timeout, reporter).await
}

/// The events case: what the command printed, compared with what the streams held.
async fn finish_events<W: std::io::Write>(
    running: &mut Running,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    let want = expected_events();
    let mut lines = Vec::new();
    // What it printed so far, and, for a command that prints late, up to the timeout more.
    lines.extend(running.lines_so_far());
    let enough = |lines: &[String]| events(lines).is_ok_and(|e| e.len() >= want.len());
    if !enough(&lines) {
        let more = running.lines_until(timeout, |new| {
            let all: Vec<String> = lines.iter().chain(new).cloned().collect();
            enough(&all)
        });
        lines.extend(more.await);
    }
    let got = events(&lines);
    // The types and data first, then the IDs: a client can split lines right and still lose
    // the last event ID, and the two are different rules.
    let verdict =
        (got.clone()).and_then(|got| same_items("event", &without_ids(&want), &without_ids(&got)));
    reporter.case(
        "the events' types and data are parsed right (CRLF, LF, CR, two data lines; the cut event dropped)",
        "sse/9.2.5/line-ends",
        verdict,
    );
    let verdict = got.and_then(|got| same_items("event ID", &ids(&want), &ids(&got)));
    reporter.case(
        "every event carries the last event ID, also without an id: field and after the reconnection",
        "sse/9.2.6/dispatch-id",
        verdict,
    );
    Ok(())
}

/// The events with their `id` keys removed.
fn without_ids(events: &[Value]) -> Vec<Value> {
    let strip = |event: &Value| {
        let mut event = event.clone();
        if let Some(fields) = event.as_object_mut() {
            fields.remove("id");
        }
        event
    };
    events.iter().map(strip).collect()
}

/// The events' `id` values alone.
fn ids(events: &[Value]) -> Vec<Value> {
    events.iter().map(|event| event["id"].clone()).collect()
}

/// The second run: `Content-Type: text/plain` must fail the connection for good.
async fn wrong_type(program: &Program, timeout: Duration) -> Verdict {
    let (listener, url) = listen().await?;
    let mut running = program.start(&url)?;
    let first = (next_request(&listener, timeout).await?).ok_or_else(|| {
        format!(
            "the command did not connect within {} ms",
            timeout.as_millis()
        )
    })?;
    // A retry and an event, which a client that wrongly reads the body takes and acts on.
    answer(
        first,
        &response(
            "200 OK",
            "text/plain",
            "retry: 100\ndata: not an event stream\n\n",
        ),
    )
    .await?;
    if next_request(&listener, QUIET).await?.is_some() {
        return Err("the client came back after a text/plain response".into());
    }
    let printed = events(&running.lines_so_far())?;
    if !printed.is_empty() {
        return Err(format!(
            "it printed {} event(s) from a text/plain body",
            printed.len()
        ));
    }
    Ok(Some(format!(
        "no request in the {} ms after it, no event",
        QUIET.as_millis()
    )))
}

/// Runs the suite against `program`, each wait bounded by `timeout`.
///
/// # Errors
///
/// When the command cannot be run or does not connect.
pub async fn run<W: std::io::Write>(
    program: &Program,
    timeout: Duration,
    reporter: &mut Reporter<W>,
) -> Result<(), String> {
    main_run(program, timeout, reporter).await?;
    let verdict = wrong_type(program, timeout).await;
    reporter.case(
        "Content-Type: text/plain fails the connection, with no event and no reconnection",
        "sse/9.2.2/status-type",
        verdict,
    );
    Ok(())
}
