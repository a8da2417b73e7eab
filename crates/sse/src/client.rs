//! The client: an `EventSource` that you drive with `.next().await`.
//!
//! The HTML Standard describes what a browser's `EventSource` does in §9.2.2 (the constructor:
//! the request, and the checks of the response) and §9.2.3 "Processing model" (announcing,
//! reestablishing and failing the connection), and this client does the same, over HTTP/1.1
//! or HTTP/2, in clear text (`http://`) or over TLS (`https://`); [`Connector`] says how it
//! connects, and lets clients share one HTTP/2 connection per origin:
//!
//! - It sends `GET` with `Accept: text/event-stream` and `Cache-Control: no-cache`, and, once
//!   it knows a last event ID, `Last-Event-ID` on every reconnection (§9.2.4).
//! - It follows redirects (301, 302, 303, 307, 308) up to [`ClientConfig::max_redirects`], as
//!   fetch does.
//! - It "announces the connection" only for `200 OK` with a `Content-Type` whose essence is
//!   `text/event-stream`. Anything else "fails the connection": the client closes for good,
//!   with a [`CloseReason`] that says why (204 No Content, another status, a wrong type). It
//!   never retries those, because a server that said no will say no again.
//! - It "reestablishes the connection" after a network error and after a clean end of the
//!   stream: it waits the reconnection time (3 s unless the server sent `retry:`), plus the
//!   exponential backoff with jitter of [`crate::backoff`] while attempts keep failing, and
//!   connects again. An attempt that opened and then delivered an event, or that the server
//!   ended cleanly, did not fail: it resets the backoff and the count of
//!   [`ClientConfig::max_attempts`].
//!
//! Everything a browser would only show in its network panel is an item here, so that a
//! program (and the book's demo) can show it: the ready state changes ([`ClientEvent::Open`],
//! [`ClientEvent::Reconnecting`], [`ClientEvent::Closed`]), redirects, comments and retry
//! times, besides the messages themselves.
//!
//! Two additions to what a browser does, both off the spec's path and documented where they
//! are configured: an optional [`ClientConfig::timeout`], which turns a silent, dead
//! connection into a reconnection, and [`ClientConfig::max_attempts`]. And, unlike a
//! browser, the client bounds what it buffers ([`ParserConfig::max_event_bytes`]): a
//! stream that exceeds the bound is closed for good with [`CloseReason::Protocol`], since the
//! server would send the same oversized event again after a reconnection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sse::Error> {
//! use sse::client::{Client, ClientConfig, ClientEvent};
//!
//! let mut client = Client::new("http://127.0.0.1:8080/events", ClientConfig::default())?;
//! while let Some(event) = client.next().await {
//!     match event {
//!         ClientEvent::Message(message) => println!("{}: {}", message.event_type, message.data),
//!         ClientEvent::Closed(reason) => eprintln!("closed: {reason}"),
//!         other => eprintln!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode, Uri, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::backoff::{Backoff, BackoffConfig};
use crate::gzip::GzipDecoder;
use crate::{Error, Item, MessageEvent, Parser, ParserConfig};

mod connector;

use connector::{ConnectionTask, Sent};
pub use connector::{Connector, tls_config};

// ANCHOR: config
/// The client's settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The reconnection time until the server sets one with `retry:`. Default: 3 s (the spec
    /// leaves it to the user agent; browsers use a few seconds).
    pub reconnection_time: Duration,
    /// The extra delay while reconnections keep failing.
    pub backoff: BackoffConfig,
    /// The most redirects followed for one connection. Default: 20, fetch's limit.
    pub max_redirects: usize,
    /// The parser's limits.
    pub parser: ParserConfig,
    /// Give up after this many reconnection attempts in a row without a healthy connection
    /// (one that delivered an event, ended cleanly, or lasted [`BackoffConfig::healthy_after`]).
    /// Default: `None`, never give up, like `EventSource`.
    pub max_attempts: Option<u32>,
    /// The longest wait for a connection and its response head, and then for each next
    /// piece of the body; past it the connection counts as lost and the client reconnects.
    /// Default: `None`, wait for ever, like `EventSource`. A server that sends keep-alive
    /// comments every 15 s can be watched with a timeout of, say, 45 s: a silent network
    /// failure (no FIN, no RST) is then noticed instead of waited on without end.
    pub timeout: Option<Duration>,
    /// The last event ID to start from, as if an earlier connection had received it.
    /// Default: empty, none.
    pub last_event_id: String,
    /// How to connect: TLS settings, HTTP/2 in clear text, and the HTTP/2 connections that
    /// clients made with clones of one config share. Default: [`Connector::new`], the
    /// system's roots, a connector of this config's own.
    pub connector: Connector,
    /// Send `Accept-Encoding: gzip`. Default: `false`. A body with `Content-Encoding: gzip`
    /// is decoded either way ([`crate::gzip`]).
    pub accept_gzip: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            reconnection_time: Duration::from_secs(3),
            backoff: BackoffConfig::default(),
            max_redirects: 20,
            parser: ParserConfig::default(),
            max_attempts: None,
            timeout: None,
            last_event_id: String::new(),
            connector: Connector::new(),
            accept_gzip: false,
        }
    }
}
// ANCHOR_END: config

// ANCHOR: ready_state
/// `EventSource.readyState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyState {
    /// Connecting, or waiting to reconnect.
    Connecting,
    /// Receiving events.
    Open,
    /// Closed for good.
    Closed,
}
// ANCHOR_END: ready_state

// ANCHOR: client_event
/// Something that happened to the client, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The connection is announced: the ready state is now [`ReadyState::Open`] (the
    /// `open` event of `EventSource`).
    Open,
    /// An event was dispatched.
    Message(MessageEvent),
    /// A comment arrived (keep-alives, for instance).
    Comment(String),
    /// The server set the reconnection time.
    Retry(Duration),
    /// The server redirected the request to `location`.
    Redirect {
        /// The redirect's status code.
        status: u16,
        /// Where to.
        location: String,
    },
    /// The connection was lost; the client waits `delay`, then reconnects. The ready state is
    /// [`ReadyState::Connecting`] (the `error` event of `EventSource`).
    Reconnecting {
        /// Why the connection ended.
        reason: Disconnect,
        /// The wait: reconnection time plus backoff.
        delay: Duration,
        /// The `Last-Event-ID` the reconnection sends (`""`: none).
        last_event_id: String,
        /// Reconnection attempts in a row since the last healthy connection, this one
        /// included.
        attempt: u32,
    },
    /// The client closed for good. Nothing follows.
    Closed(CloseReason),
}
// ANCHOR_END: client_event

/// Why a connection ended and the client reconnects.
#[derive(Debug)]
pub enum Disconnect {
    /// The server ended the response cleanly.
    EndOfStream,
    /// A network or HTTP error (connection refused, reset, ...).
    Network(Error),
}

impl fmt::Display for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::EndOfStream => f.write_str("the server ended the stream"),
            Disconnect::Network(e) => write!(f, "{e}"),
        }
    }
}

// req: sse/9.2.2/close
// ANCHOR: close_reason
/// Why the client closed for good.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// HTTP 204 No Content: the server's way to say "stop reconnecting" (HTML §9.2.1 names it; to
    /// §9.2.2 it is one of the statuses that are not 200, which fail the connection).
    NoContent,
    /// A status other than 200 (after redirects).
    Status(u16),
    /// A `Content-Type` other than `text/event-stream` (`""` when there was none).
    ContentType(String),
    /// More than [`ClientConfig::max_redirects`] redirects.
    TooManyRedirects(usize),
    /// A redirect without a usable `Location` (missing, not `http://` or `https://`, or not
    /// absolute).
    BadRedirect(String),
    /// The stream broke the parser's bound ([`Error::EventTooLarge`]).
    Protocol(Error),
    /// The TLS handshake failed ([`Error::Tls`]): an untrusted certificate, or an alert from
    /// the server. HTML §9.2.3 lets a user agent fail the connection rather than reestablish
    /// it when it "knows that to be futile", and the same handshake with the same server
    /// would fail again.
    Tls(Error),
    /// [`ClientConfig::max_attempts`] reconnection attempts failed in a row.
    GaveUp {
        /// How many.
        attempts: u32,
    },
}
// ANCHOR_END: close_reason

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::NoContent => {
                f.write_str("HTTP 204 No Content: the server asked us to stop")
            }
            CloseReason::Status(status) => write!(f, "HTTP status {status}, not 200"),
            CloseReason::ContentType(t) => {
                write!(f, "Content-Type {t:?} is not text/event-stream")
            }
            CloseReason::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            CloseReason::BadRedirect(location) => {
                write!(f, "cannot follow redirect to {location:?}")
            }
            CloseReason::Protocol(e) | CloseReason::Tls(e) => write!(f, "{e}"),
            CloseReason::GaveUp { attempts } => {
                write!(f, "gave up after {attempts} reconnection attempts")
            }
        }
    }
}

// ANCHOR: state
// One `State` per client: boxing the big variant would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    Connecting,
    Open {
        body: Incoming,
        parser: Parser,
        since: Instant,
        /// At least one event arrived on this connection.
        delivered: bool,
        /// The HTTP version of the response.
        version: Version,
        /// The connection, when this stream has it to itself (HTTP/1.1).
        _task: Option<ConnectionTask>,
        /// The body is gzip (`Content-Encoding: gzip`).
        gunzip: Option<Box<GzipDecoder>>,
    },
    Waiting {
        until: Instant,
    },
    Closed,
}
// ANCHOR_END: state

/// Why a connection attempt did not open a stream.
enum Failure {
    Retry(Error),
    Fatal(CloseReason),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Tls(_) => Failure::Fatal(CloseReason::Tls(e)),
            e => Failure::Retry(e),
        }
    }
}

/// A reconnecting event-stream client. See the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    url: Uri,
    config: ClientConfig,
    state: State,
    queue: VecDeque<ClientEvent>,
    reconnection_time: Duration,
    last_event_id: String,
    backoff: Backoff,
}

impl Client {
    // req: sse/9.2.2/url sse/9.2.2/reconnection-time
    /// A client for `url`, which must be an absolute `http://` or `https://` URL. It
    /// connects on the first call to [`Client::next`].
    ///
    /// # Errors
    ///
    /// [`Error::UrlHasCredentials`] for a URL with `user:password@`, which this client would
    /// not send as credentials (and must not send as part of `Host`);
    /// [`Error::InvalidUrl`] for anything else that is not an absolute `http://` or
    /// `https://` URL.
    pub fn new(url: &str, config: ClientConfig) -> Result<Self, Error> {
        let uri: Uri = url.parse().map_err(|_| Error::InvalidUrl(url.into()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::InvalidUrl(url.into()));
        }
        if has_userinfo(&uri) {
            return Err(Error::UrlHasCredentials);
        }
        Ok(Client {
            url: uri,
            reconnection_time: config.reconnection_time,
            last_event_id: config.last_event_id.clone(),
            backoff: Backoff::new(config.backoff),
            config,
            state: State::Connecting,
            queue: VecDeque::new(),
        })
    }

    /// `EventSource.readyState`.
    pub fn ready_state(&self) -> ReadyState {
        match self.state {
            State::Connecting | State::Waiting { .. } => ReadyState::Connecting,
            State::Open { .. } => ReadyState::Open,
            State::Closed => ReadyState::Closed,
        }
    }

    /// The HTTP version of the open stream (`None` unless [`ReadyState::Open`]).
    pub fn http_version(&self) -> Option<Version> {
        match &self.state {
            State::Open { version, .. } => Some(*version),
            _ => None,
        }
    }

    /// The last event ID string: what the next reconnection sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The current reconnection time.
    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    // ANCHOR: close
    /// `EventSource.close()`: drops the connection; [`Client::next`] returns `None` from now
    /// on.
    pub fn close(&mut self) {
        self.state = State::Closed;
        self.queue.clear();
    }
    // ANCHOR_END: close

    // ANCHOR: next
    /// The next thing that happens, or `None` after [`ClientEvent::Closed`] (or
    /// [`Client::close`]).
    ///
    /// Dropping the future before it completes loses nothing already received: a connection
    /// attempt in flight is started over (its redirects are reported by the attempt that
    /// finishes, once), a wait keeps its deadline.
    pub async fn next(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            match &mut self.state {
                State::Closed => return None,
                State::Waiting { until } => {
                    tokio::time::sleep_until(*until).await;
                    self.state = State::Connecting;
                }
                State::Connecting => {
                    // Redirects are queued only when the attempt is over, so that an attempt
                    // cancelled with the future, and started over, does not report them twice.
                    let mut redirects = Vec::new();
                    let result = within(self.config.timeout, self.connect(&mut redirects)).await;
                    self.queue.extend(redirects);
                    match result {
                        Ok((body, version, gunzip, task)) => {
                            self.state = State::Open {
                                version,
                                gunzip,
                                body,
                                parser: Parser::with_last_event_id(
                                    self.config.parser,
                                    &self.last_event_id,
                                ),
                                since: Instant::now(),
                                delivered: false,
                                _task: task,
                            };
                            self.queue.push_back(ClientEvent::Open);
                        }
                        Err(Failure::Retry(e)) => self.reconnect(Disconnect::Network(e)),
                        Err(Failure::Fatal(reason)) => self.fail(reason),
                    }
                }
                State::Open {
                    body,
                    parser,
                    gunzip,
                    ..
                } => match within(self.config.timeout, async {
                    body.frame().await.transpose().map_err(Error::Http)
                })
                .await
                {
                    Ok(Some(frame)) => {
                        let fed = match (frame.into_data(), gunzip) {
                            (Ok(data), Some(gunzip)) => {
                                gunzip.decode(&data, |plain| parser.feed(plain))
                            }
                            (Ok(data), None) => {
                                parser.feed(&data);
                                Ok(())
                            }
                            (Err(_), _) => Ok(()),
                        };
                        self.drain_parser();
                        if let Err(e) = fed {
                            self.reconnect(Disconnect::Network(Error::Io(e)));
                        }
                    }
                    Err(e) => {
                        self.drain_parser();
                        self.reconnect(Disconnect::Network(e));
                    }
                    Ok(None) => {
                        parser.finish();
                        self.drain_parser();
                        self.reconnect(Disconnect::EndOfStream);
                    }
                },
            }
        }
    }
    // ANCHOR_END: next

    // ANCHOR: drain_parser
    /// Moves what the parser found into the queue, acting on `retry` and on errors.
    fn drain_parser(&mut self) {
        let State::Open {
            parser, delivered, ..
        } = &mut self.state
        else {
            return;
        };
        let mut error = None;
        while let Some(item) = parser.next_item() {
            match item {
                Ok(Item::Event(event)) => {
                    *delivered = true;
                    self.queue.push_back(ClientEvent::Message(event));
                }
                Ok(Item::Comment(text)) => self.queue.push_back(ClientEvent::Comment(text)),
                Ok(Item::Retry(time)) => {
                    self.reconnection_time = time;
                    self.queue.push_back(ClientEvent::Retry(time));
                }
                Err(e) => error = Some(e),
            }
        }
        self.last_event_id.clear();
        self.last_event_id.push_str(parser.last_event_id());
        if let Some(e) = error {
            self.fail(CloseReason::Protocol(e));
        }
    }
    // ANCHOR_END: drain_parser

    // req: sse/9.2.3/fail sse/9.2.3/reestablish sse/9.2.2/network-error sse/9.2.2/end-of-body
    // ANCHOR: fail_reconnect
    /// HTML §9.2.3, "fail the connection": closed for good.
    fn fail(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.queue.push_back(ClientEvent::Closed(reason));
    }

    /// HTML §9.2.3, "reestablish the connection".
    fn reconnect(&mut self, reason: Disconnect) {
        if matches!(self.state, State::Closed) {
            return;
        }
        // An announced connection that delivered an event, or that the server ended cleanly,
        // succeeded: only failed attempts back off (see `crate::backoff`).
        let (open_for, succeeded) = match &self.state {
            State::Open {
                since, delivered, ..
            } => (
                Some(since.elapsed()),
                *delivered || matches!(reason, Disconnect::EndOfStream),
            ),
            _ => (None, false),
        };
        self.backoff.connection_ended(open_for, succeeded);
        if let Some(max) = self.config.max_attempts
            && self.backoff.attempts() >= max
        {
            return self.fail(CloseReason::GaveUp {
                attempts: self.backoff.attempts(),
            });
        }
        // A failure of the random source only costs the jitter.
        let delay = self
            .backoff
            .next_delay(self.reconnection_time, getrandom::u32().unwrap_or(0));
        let now = Instant::now();
        let until = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365));
        self.state = State::Waiting { until };
        self.queue.push_back(ClientEvent::Reconnecting {
            reason,
            delay,
            last_event_id: self.last_event_id.clone(),
            attempt: self.backoff.attempts(),
        });
    }
    // ANCHOR_END: fail_reconnect

    // req: sse/9.2.2/status-type sse/9.2.2/announce sse/9.2.3/announce
    // ANCHOR: connect
    /// One connection: request, redirects (each one pushed to `redirects`), and the checks
    /// that announce it.
    async fn connect(
        &self,
        redirects: &mut Vec<ClientEvent>,
    ) -> Result<
        (
            Incoming,
            Version,
            Option<Box<GzipDecoder>>,
            Option<ConnectionTask>,
        ),
        Failure,
    > {
        let mut url = self.url.clone();
        loop {
            let Sent { response, task } = self.request(&url).await?;
            let status = response.status();
            if status == StatusCode::OK {
                // HTML §9.2.2, the constructor's fetch: announce the connection only if the
                // Content-Type's essence is text/event-stream; parameters such as charset are
                // ignored.
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .unwrap_or_default();
                let essence = content_type.split(';').next().unwrap_or("").trim();
                if !essence.eq_ignore_ascii_case("text/event-stream") {
                    return Err(Failure::Fatal(CloseReason::ContentType(content_type)));
                }
                let version = response.version();
                let gzip = response
                    .headers()
                    .get(header::CONTENT_ENCODING)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
                let gunzip = gzip.then(Box::<GzipDecoder>::default);
                return Ok((response.into_body(), version, gunzip, task));
            }
            if status == StatusCode::NO_CONTENT {
                return Err(Failure::Fatal(CloseReason::NoContent));
            }
            // Fetch §2.2.6: the redirect statuses are 301, 302, 303, 307 and 308; any other
            // 3xx (300, 304, 305, 306) is a final answer, and not 200.
            if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                return Err(Failure::Fatal(CloseReason::Status(status.as_u16())));
            }
            if redirects.len() == self.config.max_redirects {
                return Err(Failure::Fatal(CloseReason::TooManyRedirects(
                    redirects.len(),
                )));
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            url = resolve(&url, &location)
                .ok_or_else(|| Failure::Fatal(CloseReason::BadRedirect(location.clone())))?;
            redirects.push(ClientEvent::Redirect {
                status: status.as_u16(),
                location,
            });
        }
    }
    // ANCHOR_END: connect

    // req: sse/9.2.2/request sse/9.2.4/last-event-id
    // ANCHOR: request
    async fn request(&self, url: &Uri) -> Result<Sent, Failure> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if self.config.accept_gzip {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        // HTML §9.2.3: "If the EventSource object's last event ID string is not the empty
        // string, set (`Last-Event-ID`, last event ID string)". An id that is not a valid
        // header value (a control character) cannot be sent, so it is left out.
        if !self.last_event_id.is_empty()
            && let Ok(value) = HeaderValue::from_bytes(self.last_event_id.as_bytes())
        {
            headers.insert("last-event-id", value);
        }
        Ok(self.config.connector.send(url, headers).await?)
    }
    // ANCHOR_END: request
}

// ANCHOR: within
/// Runs `future`, failing with [`std::io::ErrorKind::TimedOut`] after `limit`, if given.
async fn within<T, E: From<Error>>(
    limit: Option<Duration>,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let Some(limit) = limit else {
        return future.await;
    };
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| {
            let message = format!("nothing received for {} ms", limit.as_millis());
            Err(Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message)).into())
        })
}
// ANCHOR_END: within

// ANCHOR: resolve
/// Where a redirect's `Location` points, relative to `base`: an absolute `http://` or
/// `https://` URL or an absolute path. Other forms (other schemes, relative paths, URLs with
/// credentials) are refused.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let target: Uri = location.parse().ok()?;
    if target.scheme().is_some() {
        let usable = matches!(target.scheme_str(), Some("http" | "https"))
            && target.host().is_some()
            && !has_userinfo(&target);
        return usable.then_some(target);
    }
    if !location.starts_with('/') || location.starts_with("//") {
        return None;
    }
    Uri::builder()
        .scheme(base.scheme()?.clone())
        .authority(base.authority()?.clone())
        .path_and_query(location)
        .build()
        .ok()
}
// ANCHOR_END: resolve

/// Whether the URL's authority has a `user:password@` part.
fn has_userinfo(uri: &Uri) -> bool {
    uri.authority().is_some_and(|a| a.as_str().contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets() {
        let base: Uri = "http://127.0.0.1:8080/a/b?x=1".parse().expect("valid");
        let resolved = |l: &str| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(
            resolved("/c?y=2").as_deref(),
            Some("http://127.0.0.1:8080/c?y=2")
        );
        assert_eq!(
            resolved("http://localhost:9/e").as_deref(),
            Some("http://localhost:9/e")
        );
        assert_eq!(
            resolved("https://example.com/").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(resolved("ftp://example.com/"), None);
        assert_eq!(resolved("http://user:pw@localhost:9/e"), None);
        assert_eq!(resolved("c"), None);
        assert_eq!(resolved(""), None);
    }

    // req: sse/9.2.2/url
    #[test]
    fn only_http_and_https_urls() {
        let config = ClientConfig::default;
        assert!(Client::new("http://127.0.0.1:1/events", config()).is_ok());
        assert!(Client::new("https://localhost/events", config()).is_ok());
        for url in ["wss://example.com/", "/events", "not a url", "ws://x/"] {
            assert!(
                matches!(Client::new(url, config()), Err(Error::InvalidUrl(_))),
                "{url}"
            );
        }
        // Credentials in the URL would end up in the Host header: refused, and not echoed.
        for url in ["http://user:pw@127.0.0.1:1/", "http://user@127.0.0.1:1/"] {
            let error = Client::new(url, config()).expect_err(url);
            assert!(matches!(error, Error::UrlHasCredentials), "{url}");
            assert!(!error.to_string().contains("pw"));
        }
    }

    // req: sse/9.2.2/reconnection-time
    #[test]
    fn the_reconnection_time_starts_at_a_few_seconds() {
        let time = ClientConfig::default().reconnection_time;
        assert!((1..=10).contains(&time.as_secs()), "{time:?}");
    }

    // req: sse/9.2.2/close
    #[tokio::test]
    async fn close_is_for_good() {
        // Nothing listens on port 1: an attempt, had one been made, would fail and reconnect.
        let mut client = Client::new("http://127.0.0.1:1/events", ClientConfig::default()).unwrap();
        client.close();
        assert_eq!(client.ready_state(), ReadyState::Closed);
        assert!(client.next().await.is_none());
        assert!(client.next().await.is_none());
    }
}
