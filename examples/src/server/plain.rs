//! Whole HTTP exchanges for handlers: a response with its whole body, a request's body read
//! in full, a query parameter.
//!
//! The other two kinds of answer on the same server are a response that never ends (an event
//! stream, [`super::sse`]) and one that leaves HTTP (a WebSocket, [`super::websocket`]).

use bytes::Bytes;
use http::{HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full, Limited};

use super::{Request, Response};

/// A whole response.
pub fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(Full::new(body.into()).boxed_unsync());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

// req: ws/4.2.2/not-found
/// `404 Not Found`.
pub fn not_found() -> Response {
    full(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "not found\n",
    )
}

/// A JSON response.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    full(status, "application/json", value.to_string())
}

/// The request body, if it is at most `limit` bytes and arrives within
/// [`BODY_TIMEOUT`](super::BODY_TIMEOUT); otherwise the response to send (413, or 408 for a
/// body trickled too slowly: a client must not hold a handler, and its buffer, for as long as
/// it likes).
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, Response> {
    let collecting = Limited::new(request.into_body(), limit).collect();
    match tokio::time::timeout(super::BODY_TIMEOUT, collecting).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(_)) => Err(full(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            "body too large or broken\n",
        )),
        Err(_elapsed) => Err(full(
            StatusCode::REQUEST_TIMEOUT,
            "text/plain; charset=utf-8",
            "body too slow\n",
        )),
    }
}

/// The first value of query parameter `name`, percent-decoded (`+` is a space).
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                // Two hex digits exactly: `from_str_radix` alone would also take a sign, `%+1`.
                let hex = Some(&bytes[i + 1..i + 3])
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_percent_decoded() {
        let uri: Uri = "/x?a=1&name=Ana%20Mar%C3%ADa+B&bad=%zz&end=%4&sign=%+1"
            .parse()
            .unwrap();
        assert_eq!(query_param(&uri, "a").as_deref(), Some("1"));
        assert_eq!(query_param(&uri, "name").as_deref(), Some("Ana María B"));
        assert_eq!(query_param(&uri, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(&uri, "end").as_deref(), Some("%4"));
        // Not an escape: `+` is a space here, and `%` stays.
        assert_eq!(query_param(&uri, "sign").as_deref(), Some("% 1"));
        assert_eq!(query_param(&uri, "missing"), None);
    }
}
