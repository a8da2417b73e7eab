//! Refusing a request: the answer, and the tear-down that lets the client read it.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use http_head::Refusal;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::date::http_date;

/// How long a refused client's remaining bytes are read and discarded after the answer (RFC
/// 9112 §9.6, "tear-down"), and at most how many.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// Answers with `status` and a one-line text body (`Connection: close`), shuts the write side
/// down, then reads and discards what the client still sends until it closes, for at most
/// one second (RFC 9112 §9.6: closing at once with unread bytes makes the kernel reset the
/// connection, which can destroy the answer before the client reads it).
///
/// For the answers a caller gives after [`read_request`](super::read_request), such as 404
/// for an unknown path.
pub async fn respond_error<S>(stream: &mut S, status: StatusCode) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send_error(stream, status, status.canonical_reason().unwrap_or("error")).await
}

/// Answers with `status` and `detail` as the body, then tears the connection down.
pub(super) async fn send_error<S>(
    stream: &mut S,
    status: StatusCode,
    detail: &str,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(&error_response(status, detail)).await?;
    stream.flush().await?;
    stream.shutdown().await?;
    // On the heap: an array here would be part of `read_request`'s future, and so of every
    // connection's task for its whole life.
    let mut sink = vec![0u8; 256];
    let drain = async {
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
    Ok(())
}

/// A complete error response: status line, `Date`, the status's own headers, and `detail` as
/// a text body, written as WebSocket's rejections are ([`Refusal`]).
fn error_response(status: StatusCode, detail: &str) -> Vec<u8> {
    // RFC 9110 §6.6.1: "An origin server with a clock ... MUST generate a Date header field in
    // all 2xx, 3xx, and 4xx responses".
    let mut refusal =
        Refusal::new(status.as_u16(), detail).header("Date", http_date(SystemTime::now()));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        // RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405".
        refusal = refusal.header("Allow", "GET");
    }
    refusal.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_are_complete() {
        let out = error_response(StatusCode::METHOD_NOT_ALLOWED, "use GET");
        let text = String::from_utf8(out).expect("ASCII");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\nDate: "),
            "{head}"
        );
        assert!(head.contains("\r\nAllow: GET\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(head.contains("\r\nContent-Length: 8"), "{head}");
        assert_eq!(body, "use GET\n");
    }
}
