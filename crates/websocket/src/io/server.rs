//! A server's opening handshake over a fresh connection (RFC 6455 §4.2).

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::WebSocket;
use crate::connection::Role;
use crate::error::Error;
use crate::handshake::{Request, ServerHandshake, ServerOptions, check_request, reject_response};

/// How long a rejected client's remaining bytes are read and discarded before the connection
/// is dropped.
const REJECTION_DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads the opening handshake from `stream` and answers it: `101 Switching Protocols` and a
/// [`WebSocket`], or an HTTP error response that says why and an [`Error`].
///
/// The handshake, from the first byte read to the last byte of the `101` written, must
/// complete within `options.config.timeouts.handshake`.
// ANCHOR: accept
pub async fn accept<S>(
    mut stream: S,
    options: &ServerOptions,
) -> Result<(WebSocket<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &options.config;
    let deadline = tokio::time::Instant::now() + config.timeouts.handshake;
    let read_head = async {
        let mut handshake = ServerHandshake::new(&config.limits);
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(Error::HandshakeIncomplete);
            }
            if let Some(done) = handshake.receive(&buf[..n])? {
                return Ok(done);
            }
        }
    };
    let head = tokio::time::timeout_at(deadline, read_head)
        .await
        .unwrap_or(Err(Error::HandshakeIncomplete));
    let checked = head.and_then(|(request, leftover)| {
        let accepted = check_request(&request, options)?;
        Ok((request, leftover, accepted))
    });
    match checked {
        Ok((request, leftover, accepted)) => {
            // The 101 is part of the handshake and under its deadline: a client that asks
            // and then reads nothing must not hold the connection in this write.
            let answer = accepted.response_bytes();
            match tokio::time::timeout_at(deadline, stream.write_all(&answer)).await {
                Ok(written) => written?,
                Err(_elapsed) => return Err(Error::HandshakeIncomplete),
            }
            let ws = WebSocket::from_stream(
                stream,
                Role::Server,
                *config,
                &leftover,
                accepted.subprotocol,
            )
            .with_deflate(accepted.deflate, config.deflate.level);
            Ok((ws, request))
        }
        Err(error) => {
            // Every rejection is an answer, not a dropped connection (unless the peer left).
            if !matches!(error, Error::Io(_) | Error::HandshakeIncomplete) {
                let _ = stream.write_all(&reject_response(&error)).await;
                let _ = stream.shutdown().await;
                // Read, briefly, what the client still sends: closing a socket with unread
                // bytes makes the kernel send a reset at once, discarding whatever of the
                // response above it has not transmitted yet (on loopback it always has; on a
                // real network, a large answer or a slow link loses its tail).
                // On the heap: an array here would make every connection's future, and so
                // every idle connection, 1 KiB larger.
                let mut sink = vec![0u8; 1024];
                let drain = async { while matches!(stream.read(&mut sink).await, Ok(1..)) {} };
                let _ = tokio::time::timeout(REJECTION_DRAIN, drain).await;
            }
            Err(error)
        }
    }
}
// ANCHOR_END: accept
