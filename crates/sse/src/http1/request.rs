//! Reading the one request of an event-stream connection, and this server's rules for it.

use http::{Method, Request, StatusCode, Uri, Version};
use http_head::HeadBuffer;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};

use super::Http1Config;
use super::refuse::send_error;
use crate::Error;

/// How many bytes the head is read by at a time: a browser's request fits in one step.
const HEAD_READ_STEP: usize = 1024;

/// A status to answer with, and the rule that was broken.
#[derive(Debug)]
struct Refused(StatusCode, &'static str);

#[derive(Debug)]
enum HeadError {
    Io(std::io::Error),
    Refused(Refused),
}

// ANCHOR: read_request
/// Reads one request head from `stream` and returns it as an [`http::Request`], so that
/// [`streaming::last_event_id`](crate::streaming::last_event_id) and routing by
/// [`uri()`](http::Request::uri) work as with hyper.
///
/// A head that is refused (see the [module documentation](super)) is answered with its status,
/// the write side is shut down, and the result is [`Error::RequestRejected`]. A client that
/// closes before its head is complete gets no answer: [`Error::Io`] with
/// [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof).
pub async fn read_request<S>(stream: &mut S, config: &Http1Config) -> Result<Request<()>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let read = tokio::time::timeout(config.head_timeout, read_head(stream, config)).await;
    // The head's buffers live only inside `read_head`: whatever the outcome, they are freed
    // here, before any answer is written.
    let Refused(status, reason) = match read {
        Err(_elapsed) => Refused(
            StatusCode::REQUEST_TIMEOUT,
            "request head not received in time",
        ),
        Ok(Err(HeadError::Io(error))) => return Err(Error::Io(error)),
        Ok(Err(HeadError::Refused(refused))) => refused,
        Ok(Ok(request)) => return Ok(request),
    };
    // The client hears why; if it has gone meanwhile, the refusal is still the error.
    let _ = send_error(stream, status, reason).await;
    Err(Error::RequestRejected { status, reason })
}
// ANCHOR_END: read_request

/// Reads until the empty line that ends the head ([`HeadBuffer`] finds it, looking at each
/// byte once), then parses it and applies this server's rules.
async fn read_head<S>(stream: &mut S, config: &Http1Config) -> Result<Request<()>, HeadError>
where
    S: AsyncRead + Unpin,
{
    let mut head = HeadBuffer::new(config.max_head_size);
    // On the heap and freed on return, like `head`: an array here would be part of
    // `read_request`'s future, and so of every connection's task for its whole life.
    let mut read = vec![0; HEAD_READ_STEP];
    let end = loop {
        let n = match stream.read(&mut read).await {
            Ok(0) => {
                let eof = std::io::ErrorKind::UnexpectedEof;
                return Err(HeadError::Io(eof.into()));
            }
            Ok(n) => n,
            Err(error) => return Err(HeadError::Io(error)),
        };
        match head.push(read.get(..n).unwrap_or_default()) {
            Ok(Some(end)) => break end,
            Ok(None) => {}
            Err(_too_large) => {
                return Err(HeadError::Refused(Refused(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "request head too large",
                )));
            }
        }
    };
    // Bytes after `end` (a body, a pipelined request) are dropped with `head`.
    let bytes = head.bytes().get(..end).unwrap_or_default();
    check(bytes, config.max_headers).map_err(HeadError::Refused)
}

// ANCHOR: check
/// Parses a complete head and applies this server's rules: HTTP/1.1, `GET`, a valid target,
/// exactly one `Host`.
fn check(head: &[u8], max_headers: usize) -> Result<Request<()>, Refused> {
    let malformed = |reason| Refused(StatusCode::BAD_REQUEST, reason);
    let parsed = match http_head::parse_request(head, max_headers) {
        Ok(parsed) => parsed,
        Err(http_head::Error::TooManyHeaders { .. } | http_head::Error::TooLarge { .. }) => {
            return Err(Refused(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ));
        }
        Err(http_head::Error::Malformed(_)) => {
            return Err(malformed("malformed request head (RFC 9112 §2)"));
        }
    };
    // httparse reads only HTTP/1.0 and HTTP/1.1; anything else failed above. Both are
    // served: HTTP/1.0 gets the body delimited by the connection's close instead of chunked
    // (see `serve_version`), which is what nginx's default `proxy_http_version 1.0` needs.
    let version = if parsed.version == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    if parsed.method != "GET" {
        return Err(Refused(
            StatusCode::METHOD_NOT_ALLOWED,
            "an event stream is read with GET",
        ));
    }
    let uri = Uri::try_from(parsed.path)
        .map_err(|_| malformed("malformed request target (RFC 9112 §3.2)"))?;
    let mut request = Request::new(());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    let map = request.headers_mut();
    for (name, value) in parsed.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| malformed("malformed header name"))?;
        let value = http::HeaderValue::from_bytes(&value)
            .map_err(|_| malformed("malformed header value"))?;
        map.append(name, value);
    }
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field and to any request message that
    // contains more than one Host header field line".
    // HTTP/1.0 had no Host requirement; more than one is wrong in either version.
    let hosts = map.get_all(http::header::HOST).iter().count();
    if hosts > 1 || (version == Version::HTTP_11 && hosts == 0) {
        return Err(malformed(
            "an HTTP/1.1 request has exactly one Host, and no request more (RFC 9112 §3.2)",
        ));
    }
    Ok(request)
}
// ANCHOR_END: check

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request<()>, StatusCode> {
        check(head.as_bytes(), Http1Config::default().max_headers).map_err(|r| r.0)
    }

    #[test]
    fn check_applies_the_rules() {
        let request = parse("GET /events?x=1 HTTP/1.1\r\nHost: a\r\nLast-Event-ID: 7\r\n\r\n")
            .expect("valid");
        assert_eq!(request.uri().path(), "/events");
        assert_eq!(request.uri().query(), Some("x=1"));
        assert_eq!(crate::streaming::last_event_id(&request), Some("7"));
        let status = |head| parse(head).err();
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            status("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        // HTTP/1.0 is served, with or without a Host, but not with two.
        for head in [
            "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.0\r\n\r\n",
        ] {
            assert_eq!(parse(head).map(|r| r.version()), Ok(Version::HTTP_10));
        }
        assert_eq!(
            status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            Some(StatusCode::BAD_REQUEST)
        );
        assert_eq!(status("GET\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("\u{1}\r\n\r\n"), Some(StatusCode::BAD_REQUEST));
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: y\r\n".repeat(64));
        assert_eq!(
            status(&many),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }

    #[test]
    fn a_head_with_bare_lf_is_read() {
        let request = parse("GET /events HTTP/1.1\nHost: a\n\n").expect("valid");
        assert_eq!(request.uri().path(), "/events");
    }
}
