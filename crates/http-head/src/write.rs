//! Writing a response head, and the whole answer that refuses a request.

/// Appends a response head (RFC 9112 §4): the status line `HTTP/1.1 <status> <reason>`, one
/// line per header, and the empty line that ends the head.
///
/// Names and values are written as given, so they must be valid field names and values (RFC
/// 9110 §5.1, §5.5): a CR or LF in one would end the line early.
///
/// ```
/// let mut out = Vec::new();
/// http_head::write_response_head(&mut out, 101, [("Upgrade", "websocket")]);
/// assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
/// ```
// ANCHOR: write_response_head
pub fn write_response_head<'a>(
    out: &mut Vec<u8>,
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    // RFC 9112 §4: "status-line = HTTP-version SP status-code SP [ reason-phrase ]".
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
// ANCHOR_END: write_response_head

/// The reason phrase RFC 9110 §15 gives a status code (and RFC 6585 §5 gives 431); empty for
/// a code it does not define, which RFC 9112 §4 allows: a client ignores the phrase.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The answer to a request a server refuses: a status, the header lines that status calls
/// for, and a text body that says which rule was broken.
///
/// It is the one description of a refusal: [`Refusal::to_bytes`] writes it on a connection
/// the server then closes, and a server built on an HTTP library builds the library's
/// response from [`Refusal::status`], [`Refusal::headers`] and [`Refusal::body`].
///
/// ```
/// let refusal = http_head::Refusal::new(405, "use GET").header("Allow", "GET");
/// assert_eq!(
///     String::from_utf8(refusal.to_bytes()).unwrap(),
///     "HTTP/1.1 405 Method Not Allowed\r\n\
///      Allow: GET\r\n\
///      Content-Type: text/plain; charset=utf-8\r\n\
///      Content-Length: 8\r\n\
///      Connection: close\r\n\
///      \r\n\
///      use GET\n"
/// );
/// ```
// ANCHOR: refusal
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status code, 4xx or 5xx.
    pub status: u16,
    /// Header lines the status calls for, such as `Allow` with a 405 (RFC 9110 §15.5.6), in
    /// the order they are written.
    pub fields: Vec<(&'static str, String)>,
    /// The broken rule, in one line; the body is this and a newline.
    pub reason: String,
}

impl Refusal {
    /// The body's media type.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    /// A refusal with `status`, explained by `reason`, with no header fields yet.
    pub fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            fields: Vec::new(),
            reason: reason.into(),
        }
    }

    /// The same refusal with one more header line.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Refusal {
        self.fields.push((name, value.into()));
        self
    }

    /// The header lines that describe the answer: the status's own, then `Content-Type`.
    /// Framing (`Content-Length`, `Connection`) is left to whoever writes the bytes.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain([("Content-Type", Self::CONTENT_TYPE)])
    }

    /// The body: the reason and a newline.
    pub fn body(&self) -> String {
        format!("{}\n", self.reason)
    }

    /// The whole answer as bytes, framed by `Content-Length` and with `Connection: close`
    /// (RFC 9112 §9.6): a server that refuses a head does not read another request after it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.body();
        let length = body.len().to_string();
        let framing = [("Content-Length", length.as_str()), ("Connection", "close")];
        let mut out = Vec::with_capacity(128 + body.len());
        write_response_head(&mut out, self.status, self.headers().chain(framing));
        out.extend_from_slice(body.as_bytes());
        out
    }
}
// ANCHOR_END: refusal

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_without_headers_is_the_status_line_and_the_empty_line() {
        let mut out = Vec::new();
        write_response_head(&mut out, 200, []);
        assert_eq!(out, b"HTTP/1.1 200 OK\r\n\r\n");
        // An unknown code keeps the space before its empty reason phrase.
        out.clear();
        write_response_head(&mut out, 599, [("A", "b")]);
        assert_eq!(out, b"HTTP/1.1 599 \r\nA: b\r\n\r\n");
    }

    #[test]
    fn a_refusal_reads_back_as_the_same_response() {
        let refusal =
            Refusal::new(426, "upgrade to version 13").header("Sec-WebSocket-Version", "13");
        let bytes = refusal.to_bytes();
        let end = crate::HeadBuffer::new(1024)
            .push(&bytes)
            .expect("in bound")
            .expect("an end");
        let head = crate::parse_response(&bytes[..end], 8).expect("valid");
        assert_eq!(head.status, 426);
        assert_eq!(head.reason, "Upgrade Required");
        let names: Vec<&str> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Sec-WebSocket-Version",
                "Content-Type",
                "Content-Length",
                "Connection"
            ]
        );
        assert_eq!(&bytes[end..], b"upgrade to version 13\n");
        assert_eq!(head.headers[2].1, b"22");
    }
}
