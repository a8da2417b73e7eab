//! A complete head, parsed once by `httparse` into an owned request or response.
//!
//! `httparse` reads a head in place and borrows from it; the types here own their parts, so the
//! buffer the head arrived in can be freed or reused as soon as it is parsed. Header values
//! are kept as bytes: RFC 9110 §5.5 allows obs-text (bytes 0x80-0xFF) in a field value, and
//! what a value means is for the protocol that reads it to say.

use crate::Error;

/// A header line as received: its name, and its value's bytes (RFC 9110 §5.5).
pub type Header = (String, Vec<u8>);

/// A request head (RFC 9112 §3): the request line and the header lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, such as `GET` (RFC 9110 §9).
    pub method: String,
    /// The request-target as sent (RFC 9112 §3.2), such as `/chat?room=1`.
    pub path: String,
    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// Every header line, in order; names as sent (they compare case-insensitively).
    pub headers: Vec<Header>,
}

/// A response head (RFC 9112 §4): the status line and the header lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// The status code, such as 101 (RFC 9110 §15).
    pub status: u16,
    /// The reason phrase as sent; it carries no meaning (RFC 9112 §4).
    pub reason: String,
    /// Every header line, in order; names as sent (they compare case-insensitively).
    pub headers: Vec<Header>,
}

/// Parses a complete request head, such as the first [`HeadBuffer::push`] says ended, with at
/// most `max_headers` header lines.
///
/// [`HeadBuffer::push`]: crate::HeadBuffer::push
// ANCHOR: parse_request
pub fn parse_request(head: &[u8], max_headers: usize) -> Result<RequestHead, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut request = httparse::Request::new(&mut slots);
    complete(request.parse(head), max_headers)?;
    Ok(RequestHead {
        method: request.method.unwrap_or_default().to_owned(),
        path: request.path.unwrap_or_default().to_owned(),
        version: request.version.unwrap_or_default(),
        headers: owned(request.headers),
    })
}
// ANCHOR_END: parse_request

/// Parses a complete response head, with at most `max_headers` header lines.
pub fn parse_response(head: &[u8], max_headers: usize) -> Result<ResponseHead, Error> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut response = httparse::Response::new(&mut slots);
    complete(response.parse(head), max_headers)?;
    Ok(ResponseHead {
        version: response.version.unwrap_or_default(),
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_owned(),
        headers: owned(response.headers),
    })
}

/// The outcome of `httparse` on a head whose end has been found: complete, or an error.
fn complete(parsed: httparse::Result<usize>, max_headers: usize) -> Result<(), Error> {
    match parsed {
        Ok(httparse::Status::Complete(_)) => Ok(()),
        // The empty line came before the start line was whole, as in a head that is only
        // an empty line.
        Ok(httparse::Status::Partial) => Err(Error::Malformed("no start line")),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders { max: max_headers }),
        Err(httparse::Error::HeaderName) => Err(Error::Malformed("invalid header name")),
        Err(httparse::Error::HeaderValue) => Err(Error::Malformed("invalid header value")),
        Err(httparse::Error::NewLine) => Err(Error::Malformed("invalid line ending")),
        Err(httparse::Error::Status) => Err(Error::Malformed("invalid status code")),
        Err(httparse::Error::Token) => Err(Error::Malformed("invalid token")),
        Err(httparse::Error::Version) => Err(Error::Malformed("not HTTP/1.0 or HTTP/1.1")),
    }
}

fn owned(parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| (h.name.to_owned(), h.value.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_head() {
        let head = parse_request(b"GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\n", 4)
            .expect("valid");
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/chat?x=1");
        assert_eq!(head.version, 1);
        // RFC 9110 §5.5: the whitespace around a value is not part of it.
        assert_eq!(
            head.headers,
            [
                ("Host".into(), b"a".to_vec()),
                ("X-Y".into(), b"z".to_vec())
            ]
        );
    }

    #[test]
    fn a_response_head() {
        let head = parse_response(b"HTTP/1.0 404 Not Found\nServer: x\n\n", 4).expect("valid");
        assert_eq!((head.version, head.status), (0, 404));
        assert_eq!(head.reason, "Not Found");
        assert_eq!(head.headers, [("Server".into(), b"x".to_vec())]);
    }

    #[test]
    fn obs_text_in_a_value_is_kept_as_bytes() {
        let head = parse_request(b"GET / HTTP/1.1\r\nX: caf\xe9 \xff\r\n\r\n", 4).expect("valid");
        assert_eq!(head.headers[0].1, b"caf\xe9 \xff");
    }

    #[test]
    fn too_many_headers_is_its_own_error() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert!(parse_request(head, 3).is_ok());
        assert_eq!(
            parse_request(head, 2),
            Err(Error::TooManyHeaders { max: 2 })
        );
    }

    #[test]
    fn malformed_heads() {
        for head in [
            &b"\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
            b"\x01\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request(head, 4), Err(Error::Malformed(_))),
                "{head:?}"
            );
        }
        assert!(matches!(
            parse_response(b"HTTP/1.1 abc OK\r\n\r\n", 4),
            Err(Error::Malformed(_))
        ));
    }
}
