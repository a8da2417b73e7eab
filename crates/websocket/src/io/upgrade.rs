//! Upgrading a hyper 1 request, so one port serves pages, Server-Sent Events and WebSocket.
//!
//! hyper parses the request; [`upgrade`] runs the same checks as the byte-level handshake
//! ([`check_request`]) and returns the 101 response for the service to return, plus an
//! [`Upgrading`] that becomes a [`WebSocket`] once hyper hands over the connection
//! (`hyper::upgrade::on`). The same call accepts WebSocket over HTTP/2 (RFC 8441): on an
//! HTTP/2 connection the request is an extended CONNECT, checked in [`super::http2`], and the
//! response is `200`; either way [`Upgrading::finish`] gives the same [`WebSocket`].

use bytes::Bytes;
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use super::WebSocket;
use crate::config::Config;
use crate::connection::Role;
use crate::deflate::PerMessageDeflate;
use crate::error::Error;
use crate::handshake::{Header, Request, ServerOptions, check_request, refusal};

/// A request that was accepted; [`Upgrading::finish`] waits for hyper to hand over the
/// connection (after the 101 response is written).
#[derive(Debug)]
pub struct Upgrading {
    pub(super) on_upgrade: OnUpgrade,
    pub(super) config: Config,
    pub(super) subprotocol: Option<String>,
    pub(super) deflate: Option<PerMessageDeflate>,
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

/// Checks `req` as an opening handshake: an HTTP/1.1 Upgrade (RFC 6455 §4.2.1), or over
/// HTTP/2 an extended CONNECT (RFC 8441 §4, §5). On success, returns the response
/// (`101 Switching Protocols`, or `200` over HTTP/2) and the pending upgrade; on failure, the
/// error, which [`rejection`] turns into the response to send.
// ANCHOR: upgrade
pub fn upgrade<B>(
    req: &mut http::Request<B>,
    options: &ServerOptions,
) -> Result<(http::Response<Full<Bytes>>, Upgrading), Error> {
    if req.version() == http::Version::HTTP_2 {
        return super::http2::upgrade(req, options);
    }
    let version = match req.version() {
        http::Version::HTTP_09 | http::Version::HTTP_10 => 0,
        _ => 1,
    };
    let request = Request {
        method: req.method().as_str().to_owned(),
        path: req.uri().to_string(),
        version,
        headers: header_list(req.headers()),
    };
    let accepted = check_request(&request, options)?;
    let response = http::Response::builder()
        .status(http::StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::SEC_WEBSOCKET_ACCEPT, accepted.accept.as_str());
    accepting(
        req,
        response,
        accepted.subprotocol,
        accepted.deflate,
        options,
    )
}
// ANCHOR_END: upgrade

/// The response that accepts a handshake, `response` with the subprotocol chosen, the
/// permessage-deflate answer if one was agreed, and an empty body, and the pending upgrade
/// of `req`.
pub(super) fn accepting<B>(
    req: &mut http::Request<B>,
    mut response: http::response::Builder,
    subprotocol: Option<String>,
    deflate: Option<PerMessageDeflate>,
    options: &ServerOptions,
) -> Result<(http::Response<Full<Bytes>>, Upgrading), Error> {
    if let Some(p) = &subprotocol {
        response = response.header(http::header::SEC_WEBSOCKET_PROTOCOL, p.as_str());
    }
    if let Some(deflate) = &deflate {
        response = response.header(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            deflate.response_value(),
        );
    }
    // An empty body: over HTTP/2, hyper then sends the `200` without END_STREAM, and the
    // stream stays open for the WebSocket.
    let response = response
        .body(Full::new(Bytes::new()))
        .map_err(|e| Error::MalformedHttp(e.to_string()))?;
    let upgrading = Upgrading {
        on_upgrade: hyper::upgrade::on(req),
        config: options.config,
        subprotocol,
        deflate,
    };
    Ok((response, upgrading))
}

/// Every value of every header, repeats included, as the checks read them. `HeaderMap::iter`
/// yields a name once per value, so a request with two `Sec-WebSocket-Key`s reaches the checks
/// with both and is refused for it, as on the byte-level path. (The values of one name come
/// out together, in the order they were sent; no check depends on how different names
/// interleave.)
pub(super) fn header_list(headers: &http::HeaderMap) -> Vec<Header> {
    (headers.iter())
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

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
