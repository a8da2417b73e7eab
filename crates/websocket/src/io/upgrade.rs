//! Upgrading a hyper 1 request, so one port serves pages, Server-Sent Events and WebSocket.
//!
//! hyper parses the request; [`upgrade`] runs the same checks as the byte-level handshake
//! ([`check_request`]) and returns the 101 response for the service to return, plus an
//! [`Upgrading`] that becomes a [`WebSocket`] once hyper hands over the connection
//! (`hyper::upgrade::on`). HTTP/1.1 only: WebSocket over HTTP/2 (RFC 8441) is another chapter.

use bytes::Bytes;
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use super::WebSocket;
use crate::config::Config;
use crate::connection::Role;
use crate::deflate::PerMessageDeflate;
use crate::error::Error;
use crate::handshake::{Request, ServerOptions, check_request, refusal};

/// A request that was accepted; [`Upgrading::finish`] waits for hyper to hand over the
/// connection (after the 101 response is written).
#[derive(Debug)]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    config: Config,
    subprotocol: Option<String>,
    deflate: Option<PerMessageDeflate>,
}

impl Upgrading {
    /// The WebSocket, once hyper has switched protocols. Spawn a task that awaits this, and
    /// return the response from the service.
    // ANCHOR: finish
    pub async fn finish(self) -> Result<WebSocket<TokioIo<Upgraded>>, Error> {
        let upgraded = self.on_upgrade.await.map_err(std::io::Error::other)?;
        Ok(WebSocket::from_stream(
            TokioIo::new(upgraded),
            Role::Server,
            self.config,
            &[],
            self.subprotocol,
        )
        .with_deflate(self.deflate, self.config.deflate.level))
    }
    // ANCHOR_END: finish
}

/// Checks `req` as an opening handshake (RFC 6455 §4.2.1). On success, returns the
/// `101 Switching Protocols` response and the pending upgrade; on failure, the error, which
/// [`rejection`] turns into the response to send.
// ANCHOR: upgrade
pub fn upgrade<B>(
    req: &mut http::Request<B>,
    options: &ServerOptions,
) -> Result<(http::Response<Full<Bytes>>, Upgrading), Error> {
    let version = match req.version() {
        http::Version::HTTP_09 | http::Version::HTTP_10 => 0,
        _ => 1,
    };
    // Every value of every header, repeats included: `HeaderMap::iter` yields a name once per
    // value, so a request with two `Sec-WebSocket-Key`s reaches `check_request` with both and
    // is refused for it, as on the byte-level path. (The values of one name come out together,
    // in the order they were sent; no check depends on how different names interleave.)
    let request = Request {
        method: req.method().as_str().to_owned(),
        path: req.uri().to_string(),
        version,
        headers: req
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect(),
    };
    let accepted = check_request(&request, options)?;
    let mut response = http::Response::builder()
        .status(http::StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::SEC_WEBSOCKET_ACCEPT, accepted.accept.as_str());
    if let Some(p) = &accepted.subprotocol {
        response = response.header(http::header::SEC_WEBSOCKET_PROTOCOL, p.as_str());
    }
    if let Some(extensions) = accepted.extensions_value() {
        response = response.header(http::header::SEC_WEBSOCKET_EXTENSIONS, extensions);
    }
    let response = response
        .body(Full::new(Bytes::new()))
        .map_err(|e| Error::MalformedHttp(e.to_string()))?;
    let upgrading = Upgrading {
        on_upgrade: hyper::upgrade::on(req),
        config: options.config,
        subprotocol: accepted.subprotocol,
        deflate: accepted.deflate,
    };
    Ok((response, upgrading))
}
// ANCHOR_END: upgrade

/// The HTTP response that rejects a handshake and says why: hyper's form of the same
/// [`refusal`] that [`crate::handshake::reject_response`] writes as bytes (hyper adds the
/// framing headers itself).
pub fn rejection(error: &Error) -> http::Response<Full<Bytes>> {
    let refusal = refusal(error);
    let mut response = http::Response::builder().status(refusal.status);
    for (name, value) in refusal.headers() {
        response = response.header(name, value);
    }
    let body = Full::new(Bytes::from(refusal.body()));
    response.body(body).unwrap_or_else(|_| {
        let mut fallback = http::Response::new(Full::new(Bytes::from_static(b"bad request\n")));
        *fallback.status_mut() = http::StatusCode::BAD_REQUEST;
        fallback
    })
}
