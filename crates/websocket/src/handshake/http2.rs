//! The opening handshake of WebSocket over HTTP/2 (RFC 8441): an extended CONNECT, both sides,
//! as values.
//!
//! Over HTTP/2 a WebSocket is one stream of a connection that may carry many others, so there
//! is no connection to upgrade. The client opens a stream with `:method = CONNECT` and the
//! pseudo-header `:protocol = websocket` (RFC 8441 §4), which it may send only once the
//! server's SETTINGS said `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (§3); the server answers
//! `200`, and from then on the stream's DATA frames carry WebSocket frames (§5).
//!
//! What changes against the HTTP/1.1 handshake of the parent module:
//!
//! - no `Upgrade` and no `Connection` header: HTTP/2 forbids connection-specific headers
//!   (RFC 9113 §8.2.2), and `:protocol` says what `Upgrade` said;
//! - no `Sec-WebSocket-Key` and no `Sec-WebSocket-Accept`: RFC 8441 §5 drops them. The Accept
//!   proved that the server read the request as WebSocket, which an HTTP/2 server that did not
//!   know RFC 8441 could not do anyway: it would refuse the unknown `:protocol` (§4);
//! - `200`, not `101`: the stream is not switched, it is connected.
//!
//! What does not change: `Sec-WebSocket-Version: 13`, the subprotocol and extension headers,
//! and the `Origin` check, which run the very same code as over HTTP/1.1 ([`ServerOptions`]),
//! and every rejection gets the status and the reason that HTTP/1.1 gets ([`super::refusal`]).
//! HTTP/2's own framing, HPACK and SETTINGS are hyper's; this module sees the request as
//! hyper hands it over: pseudo-headers and header fields.

use super::{
    Header, ServerOptions, check_offer, check_once, check_origin, check_server_choices,
    choose_subprotocol, single_value,
};
use crate::error::Error;

/// An extended CONNECT request: its pseudo-header fields and its header fields, as an HTTP/2
/// server receives them or a client is about to send them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// `:method`: `CONNECT` for a WebSocket.
    pub method: String,
    /// `:protocol` (RFC 8441 §4): `websocket`.
    pub protocol: Option<String>,
    /// `:scheme`: `http` for `ws://`, `https` for `wss://` (RFC 8441 §5).
    pub scheme: Option<String>,
    /// `:authority`: the host and port, what `Host` carries over HTTP/1.1.
    pub authority: Option<String>,
    /// `:path`: the resource name, `/path?query`.
    pub path: Option<String>,
    /// The header fields, repeats included, in order (names are lower case in HTTP/2).
    pub headers: Vec<Header>,
}

/// The headers an extended CONNECT may carry at most once: only the version, since the key,
/// the other header RFC 6455 §11.3 allows once, has no meaning here (RFC 8441 §5).
const ONCE_IN_CONNECT: [(&str, &str); 1] = [("Sec-WebSocket-Version", "RFC 6455 §11.3.5")];

/// Checks an extended CONNECT against RFC 8441 §4 and §5 and the server's options: the same
/// options, and for the same headers the same checks, as [`super::check_request`]. On
/// success the server answers `200` with the subprotocol chosen, if any.
// req: h2ws/5/protocol h2ws/4/scheme-path h2ws/4/no-tunnel
// ANCHOR: check_connect
pub fn check_connect(req: &ConnectRequest, options: &ServerOptions) -> Result<Accepted, Error> {
    // §4: an extended CONNECT. Any other method is a request this resource does not serve.
    if req.method != "CONNECT" {
        return Err(Error::MethodNotConnect(req.method.clone()));
    }
    // §4, §5: `:protocol` names what the stream carries, as `Upgrade` does over HTTP/1.1. A
    // CONNECT without it asks for a TCP tunnel (RFC 9113 §8.5), which this is not.
    match req.protocol.as_deref() {
        Some("websocket") => {}
        other => return Err(Error::NotWebSocketProtocol(other.map(str::to_owned))),
    }
    // §4: unlike a plain CONNECT, an extended one names its target like any request.
    let pseudo = [
        (":scheme", &req.scheme),
        (":path", &req.path),
        (":authority", &req.authority),
    ];
    if let Some((name, _)) = pseudo
        .iter()
        .find(|(_, v)| v.as_deref().is_none_or(str::is_empty))
    {
        return Err(Error::MissingPseudoHeader(name));
    }
    let h = &req.headers;
    // RFC 6455 §11.3.5, as over HTTP/1.1: two versions are a bad request, not a mismatch.
    check_once(h, &ONCE_IN_CONNECT)?;
    // §5: the version is 13, as over HTTP/1.1; otherwise 426 naming the versions we speak.
    if single_value(h, "sec-websocket-version") != Some(b"13") {
        return Err(Error::UnsupportedVersion);
    }
    // No key to check and no accept to compute (§5); Origin and subprotocol as over HTTP/1.1.
    check_origin(h, options)?;
    Ok(Accepted {
        subprotocol: choose_subprotocol(h, options),
    })
}
// ANCHOR_END: check_connect

/// An extended CONNECT the server accepts: it answers [`Accepted::STATUS`], with
/// `sec-websocket-protocol` when a subprotocol was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol chosen, if any.
    pub subprotocol: Option<String>,
}

impl Accepted {
    /// The status that accepts: a CONNECT that succeeds is answered with a 2xx (RFC 9113
    /// §8.5), and RFC 8441 §5's example answers `200`.
    pub const STATUS: u16 = 200;
}

impl ConnectRequest {
    /// The extended CONNECT a client sends for `scheme://authority/path` (`scheme` is `http`
    /// over clear text, `https` over TLS), offering `protocols`, most preferred first. The
    /// authority and path are checked as [`super::ClientHandshake::new`] checks its host and
    /// path, and so are the subprotocols.
    // req: h2ws/5/protocol h2ws/4/scheme-path h2ws/5/no-connection-upgrade
    pub fn client(
        scheme: &str,
        authority: &str,
        path: &str,
        protocols: &[&str],
    ) -> Result<ConnectRequest, Error> {
        check_offer(authority, path, protocols)?;
        let mut headers = vec![("sec-websocket-version".to_owned(), b"13".to_vec())];
        if !protocols.is_empty() {
            let offer = protocols.join(", ").into_bytes();
            headers.push(("sec-websocket-protocol".to_owned(), offer));
        }
        Ok(ConnectRequest {
            method: "CONNECT".into(),
            protocol: Some("websocket".into()),
            scheme: Some(scheme.into()),
            authority: Some(authority.into()),
            path: Some(path.into()),
            headers,
        })
    }
}

/// The client's check of the server's answer to its extended CONNECT: status 200, at most one
/// subprotocol, one that was offered, and no extension (none is offered). Returns the
/// subprotocol chosen.
// ANCHOR: check_response
pub fn check_response(
    status: u16,
    headers: &[Header],
    offered: &[String],
) -> Result<Option<String>, Error> {
    if status != Accepted::STATUS {
        return Err(Error::ConnectRefused(status));
    }
    check_once(headers, &[("Sec-WebSocket-Protocol", "RFC 6455 §11.3.4")])?;
    // No permessage-deflate offer goes over HTTP/2 here, so any extension in the answer is
    // one the client did not ask for.
    let (subprotocol, _) = check_server_choices(headers, offered, None)?;
    Ok(subprotocol)
}
// ANCHOR_END: check_response

#[cfg(test)]
mod tests {
    use super::*;

    fn websocket_connect() -> ConnectRequest {
        ConnectRequest::client("http", "example.com", "/chat", &["chat", "superchat"])
            .expect("a valid target")
    }

    // req: h2ws/5/protocol h2ws/4/scheme-path
    #[test]
    fn the_clients_request_passes_the_servers_check() {
        let accepted = check_connect(&websocket_connect(), &ServerOptions::default());
        assert_eq!(accepted.unwrap(), Accepted { subprotocol: None });
    }

    #[test]
    fn a_key_is_not_needed_and_not_read() {
        let mut req = websocket_connect();
        req.headers
            .push(("sec-websocket-key".into(), b"not base64 at all".to_vec()));
        req.headers
            .push(("sec-websocket-key".into(), b"twice".to_vec()));
        assert!(check_connect(&req, &ServerOptions::default()).is_ok());
    }

    #[test]
    fn the_response_is_checked_like_a_101() {
        let offered = ["chat".to_owned()];
        let chose = |p: &str| vec![("sec-websocket-protocol".to_owned(), p.as_bytes().to_vec())];
        assert_eq!(
            check_response(200, &chose("chat"), &offered).unwrap(),
            Some("chat".into())
        );
        assert!(matches!(
            check_response(200, &chose("other"), &offered),
            Err(Error::UnofferedSubprotocol(_))
        ));
        assert!(matches!(
            check_response(101, &[], &offered),
            Err(Error::ConnectRefused(101))
        ));
        let mut twice = chose("chat");
        twice.extend(chose("chat"));
        assert!(matches!(
            check_response(200, &twice, &offered),
            Err(Error::RepeatedHeader { .. })
        ));
    }
}
