//! The opening handshake: an HTTP/1.1 Upgrade, both sides, over bytes (RFC 6455 §4).
//!
//! The client sends a GET with `Upgrade: websocket`, `Connection: Upgrade`,
//! `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` of 16 random bytes in base64. The
//! server answers `101 Switching Protocols` with `Sec-WebSocket-Accept`: the SHA-1 of the key
//! followed by a fixed GUID, in base64 (§4.2.2). The Accept proves that the server read this
//! request as WebSocket (a plain HTTP server, or a cache replaying an old answer, would not
//! produce it), and from then on the TCP connection carries frames.
//!
//! # The HTTP head
//!
//! Both sides read their peer's head with the [`http_head`] crate, which SSE's HTTP/1.1 path
//! uses too: [`HeadBuffer`] finds the end of a head that arrives in pieces, scanning each byte
//! once, and `httparse` runs once, when the head is whole. The head's size and header count
//! are bounded ([`Limits`]), and bytes that follow the head in the same read are returned: they
//! are the first frames.
//!
//! # Rejections
//!
//! A server that rejects a handshake answers with an HTTP response that says why
//! ([`reject_response`]), rather than dropping the connection: the status code from
//! [`Error::http_status`], the headers that status calls for ([`rejection_headers`]), and the
//! rule that was broken as the body, all described once by [`refusal`].

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

use crate::config::{Config, DeflateConfig, Limits};
use crate::deflate::{PerMessageDeflate, negotiate};
use crate::error::Error;

pub mod http2;

/// The parts of a request that the server's checks look at.
pub use http_head::RequestHead as Request;
/// The parts of a response that the client's checks look at.
pub use http_head::ResponseHead as Response;
pub use http_head::{HeadBuffer, Header, Refusal};

/// The GUID that RFC 6455 §1.3 appends to the key before hashing.
// ANCHOR: guid
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// ANCHOR_END: guid

// req: ws/4.2.2/response
/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)) (§4.2.2).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     websocket::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
// ANCHOR: accept_key
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}
// ANCHOR_END: accept_key

/// The values of every header named `name` (case-insensitive), in order.
fn values<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// The comma-separated tokens of every header named `name`, trimmed.
fn tokens<'a>(headers: &'a [Header], name: &'a str) -> impl Iterator<Item = &'a str> {
    values(headers, name)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether the token list of header `name` contains `token`, case-insensitively.
/// RFC 6455 §4.2.1 reads `Connection: keep-alive, Upgrade` as containing `upgrade`.
fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// The headers a request may carry at most once, each with the rule that says so. The others
/// of RFC 6455 §11.3 may repeat in a request: `Sec-WebSocket-Protocol` and
/// `Sec-WebSocket-Extensions` are lists, and several headers read as one list.
// ANCHOR: once
const ONCE_IN_REQUEST: [(&str, &str); 3] = [
    ("Host", "RFC 9112 §3.2"),
    ("Sec-WebSocket-Key", "RFC 6455 §11.3.1"),
    ("Sec-WebSocket-Version", "RFC 6455 §11.3.5"),
];

/// The headers a 101 response may carry at most once. `Sec-WebSocket-Extensions` may repeat
/// (RFC 6455 erratum 3433), and `Sec-WebSocket-Version` only appears in a 426.
const ONCE_IN_RESPONSE: [(&str, &str); 2] = [
    ("Sec-WebSocket-Accept", "RFC 6455 §11.3.3"),
    ("Sec-WebSocket-Protocol", "RFC 6455 §11.3.4"),
];

/// Refuses a head that repeats one of the headers in `once`, naming the header and its rule.
fn check_once(headers: &[Header], once: &[(&'static str, &'static str)]) -> Result<(), Error> {
    match once
        .iter()
        .find(|(name, _)| values(headers, name).nth(1).is_some())
    {
        Some(&(name, rule)) => Err(Error::RepeatedHeader { name, rule }),
        None => Ok(()),
    }
}
// ANCHOR_END: once

fn single_value<'a>(headers: &'a [Header], name: &'a str) -> Option<&'a [u8]> {
    let mut all = values(headers, name);
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

/// Whether `text` holds only characters that RFC 3986 (§2, §3.2.2, §3.3, §3.4) allows in a
/// host, path or query: unreserved, sub-delims, `%` with two hex digits, and `extra`.
/// Anything else would change the request it is written into: a space ends the request
/// target, CR LF starts a header of the text's choosing.
fn is_uri_text(text: &str, extra: &[u8]) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        b => b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) || extra.contains(&b),
    })
}

/// Checks what a client puts in its request line and `Host` header: a host (with its port,
/// an IPv6 literal in brackets) and a resource name, `/path?query` (RFC 6455 §3).
// req: ws/3/no-fragment ws/4.1/uri-valid
// ANCHOR: check_target
pub(crate) fn check_target(host: &str, resource: &str) -> Result<(), Error> {
    let host_ok = !host.is_empty() && is_uri_text(host, b":[]");
    let resource_ok = resource.starts_with('/') && is_uri_text(resource, b":@/?");
    if host_ok && resource_ok {
        Ok(())
    } else {
        Err(Error::BadUrl(format!("{host}{resource}")))
    }
}
// ANCHOR_END: check_target

// req: ws/4.1/protocol-tokens
/// RFC 9110 §5.6.2: a token, what a subprotocol name must be (RFC 6455 §4.1).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Checks what a client is about to send: the host and resource ([`check_target`]) and the
/// subprotocols, each an HTTP token (RFC 6455 §4.1).
fn check_offer(host: &str, resource: &str, protocols: &[&str]) -> Result<(), Error> {
    check_target(host, resource)?;
    match protocols.iter().find(|p| !is_token(p)) {
        Some(bad) => Err(Error::MalformedHttp(format!(
            "subprotocol {bad:?} is not a token"
        ))),
        None => Ok(()),
    }
}

/// A head that could not be read, as this crate's error: both bounds answer 431.
fn head_error(error: http_head::Error) -> Error {
    match error {
        http_head::Error::TooLarge { .. } | http_head::Error::TooManyHeaders { .. } => {
            Error::HandshakeTooLarge
        }
        http_head::Error::Malformed(why) => Error::MalformedHttp(why.to_owned()),
    }
}

/// Picks the subprotocol from the client's offer (`Sec-WebSocket-Protocol`, in the client's
/// order of preference); `None` accepts the connection with no subprotocol.
pub type SubprotocolSelector = Arc<dyn Fn(&[&str]) -> Option<String> + Send + Sync>;

/// What a server accepts, beyond RFC 6455's own rules.
// ANCHOR: server_options
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// If set, a request whose `Origin` is not in this list is rejected with 403 (§4.2.2,
    /// §10.2). Requests with no `Origin` are accepted: browsers always send one, and the
    /// check exists to stop other sites' pages from connecting with the user's cookies.
    pub allowed_origins: Option<Vec<String>>,
    /// Chooses a subprotocol. A choice that the client did not offer is ignored.
    pub select_subprotocol: Option<SubprotocolSelector>,
    /// The connection's limits and timeouts (the handshake itself uses the head size and
    /// header count; the I/O layer's `accept` the handshake timeout).
    pub config: Config,
}
// ANCHOR_END: server_options

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("allowed_origins", &self.allowed_origins)
            .field("select_subprotocol", &self.select_subprotocol.is_some())
            .field("config", &self.config)
            .finish()
    }
}

/// The server's side: reads the request head, then [`check_request`] decides.
#[derive(Debug)]
pub struct ServerHandshake {
    head: HeadBuffer,
    max_headers: usize,
}

impl ServerHandshake {
    /// A handshake bounded by `limits`' head size and header count.
    pub fn new(limits: &Limits) -> ServerHandshake {
        ServerHandshake {
            head: HeadBuffer::new(limits.max_handshake_size),
            max_headers: limits.max_headers,
        }
    }

    /// Feeds received bytes. Once the head is complete, returns the request and the bytes
    /// that followed it (frames the client sent without waiting).
    // ANCHOR: server_receive
    pub fn receive(&mut self, data: &[u8]) -> Result<Option<(Request, Vec<u8>)>, Error> {
        let Some(end) = self.head.push(data).map_err(head_error)? else {
            return Ok(None);
        };
        let bytes = self.head.bytes();
        let request = http_head::parse_request(&bytes[..end], self.max_headers);
        Ok(Some((request.map_err(head_error)?, bytes[end..].to_vec())))
    }
    // ANCHOR_END: server_receive
}

/// A request the server accepts: what goes into the 101 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The subprotocol chosen, if any.
    pub subprotocol: Option<String>,
    /// permessage-deflate, if the client offered it and the server's
    /// `config.deflate` accepted an offer (RFC 7692 §5).
    pub deflate: Option<PerMessageDeflate>,
}

impl Accepted {
    /// The `101 Switching Protocols` response.
    // req: ws/4.2.2/response
    // ANCHOR: response_bytes
    pub fn response_bytes(&self) -> Vec<u8> {
        let headers = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", self.accept.as_str()),
        ];
        let protocol = self.subprotocol.as_deref();
        let protocol = protocol.map(|p| ("Sec-WebSocket-Protocol", p));
        let extensions = self.extensions_value();
        let extensions = extensions.as_deref();
        let extensions = extensions.map(|e| ("Sec-WebSocket-Extensions", e));
        let mut out = Vec::with_capacity(160);
        let all = headers.into_iter().chain(protocol).chain(extensions);
        http_head::write_response_head(&mut out, 101, all);
        out
    }
    // ANCHOR_END: response_bytes

    /// The `Sec-WebSocket-Extensions` value of the 101 response, if an extension was accepted.
    pub fn extensions_value(&self) -> Option<String> {
        self.deflate.as_ref().map(PerMessageDeflate::response_value)
    }
}

/// Checks a request against RFC 6455 §4.2.1 and the server's options.
// req: ws/4.2.1/request ws/4.2.1/upgrade-connection ws/4.2.1/key ws/4.2.2/version
// req: ws/11.3/request-once ws/10.2/origin ws/4.2.1/no-origin ws/4.2.2/protocol ws/4.2.2/extensions
// req: ws/5.8/negotiated
// req: ws/9.1/malformed pmd/5/accept-name
// ANCHOR: check_request
pub fn check_request(req: &Request, options: &ServerOptions) -> Result<Accepted, Error> {
    let h = &req.headers;
    // §4.2.1 (1): "An HTTP/1.1 or higher GET request".
    if req.method != "GET" {
        return Err(Error::MethodNotGet(req.method.clone()));
    }
    if req.version < 1 {
        return Err(Error::HttpVersionTooOld);
    }
    // RFC 9112 §3.2 and RFC 6455 §11.3: a repeated Host, key or version is refused as what it
    // is (400), before any of them is read: two versions are not a version mismatch (426), and
    // a server that picked one of two keys or hosts would read the request differently from a
    // proxy in front of it that picked the other.
    check_once(h, &ONCE_IN_REQUEST)?;
    // §4.2.1 (2): a Host header.
    if single_value(h, "host").is_none() {
        return Err(Error::BadHost);
    }
    // §4.2.1 (3), (4): Upgrade and Connection are token lists, compared case-insensitively.
    if !has_token(h, "upgrade", "websocket") {
        return Err(Error::MissingUpgradeWebsocket);
    }
    if !has_token(h, "connection", "upgrade") {
        return Err(Error::MissingConnectionUpgrade);
    }
    // §4.2.1 (6): version 13; §4.4: otherwise 426 naming the versions we speak.
    if single_value(h, "sec-websocket-version") != Some(b"13") {
        return Err(Error::UnsupportedVersion);
    }
    // §4.2.1 (5): the key is base64 of 16 bytes. Its value is hashed as received.
    let key = single_value(h, "sec-websocket-key").ok_or(Error::BadKey)?;
    match BASE64.decode(key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return Err(Error::BadKey),
    }
    check_origin(h, options)?;
    let subprotocol = choose_subprotocol(h, options);
    // §9.1: the server answers with the extensions it accepts among those offered; the one
    // this crate knows is permessage-deflate (RFC 7692 §5). A header that breaks §9.1's
    // grammar is refused (400) even when the extension is off, as the request is malformed.
    let offers = negotiate::parse_extensions(values(h, "sec-websocket-extensions"))?;
    let deflate = negotiate::select_offer(&offers, &options.config.deflate);
    Ok(Accepted {
        accept: accept_key(key),
        subprotocol,
        deflate,
    })
}
// ANCHOR_END: check_request

/// §4.2.2 and §10.2: the Origin check protects against other sites' pages. A browser sends
/// one Origin; a request with two is refused like a forbidden one, never waved through.
// ANCHOR: check_origin
fn check_origin(h: &[Header], options: &ServerOptions) -> Result<(), Error> {
    if let Some(allowed) = &options.allowed_origins {
        let mut origins = values(h, "origin");
        if let Some(first) = origins.next() {
            let origin = String::from_utf8_lossy(first);
            if origins.next().is_some() || !allowed.iter().any(|a| a == origin.as_ref()) {
                return Err(Error::OriginNotAllowed(origin.into_owned()));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: check_origin

/// §4.2.2 (5.4): the subprotocol the server's selector picks, if the client offered it.
fn choose_subprotocol(h: &[Header], options: &ServerOptions) -> Option<String> {
    let offered: Vec<&str> = tokens(h, "sec-websocket-protocol").collect();
    match &options.select_subprotocol {
        Some(select) if !offered.is_empty() => {
            select(&offered).filter(|p| offered.contains(&p.as_str()))
        }
        _ => None,
    }
}

// req: ws/4.2.2/version
/// The headers that a rejection with `status` carries besides its body: for 426, the versions
/// this server speaks (§4.4); for 405, the method it allows (RFC 9110 §15.5.6).
// ANCHOR: rejection_headers
pub fn rejection_headers(status: u16) -> &'static [(&'static str, &'static str)] {
    match status {
        426 => &[("Sec-WebSocket-Version", "13")],
        405 => &[("Allow", "GET")],
        _ => &[],
    }
}
// ANCHOR_END: rejection_headers

// req: ws/4.2.1/refuse ws/4.2.2/refuse-status ws/10.7/validate
/// The one description of the response that rejects a handshake: the status from
/// [`Error::http_status`] (or 400), the headers of [`rejection_headers`], and the error as the
/// body. [`reject_response`] writes it as bytes, and the I/O layer's hyper rejection is built
/// from it too.
// ANCHOR: refusal
pub fn refusal(error: &Error) -> Refusal {
    let status = error.http_status().unwrap_or(400);
    let mut refusal = Refusal::new(status, error.to_string());
    // Over HTTP/2 the method a WebSocket needs is CONNECT (RFC 8441 §4), not GET.
    let headers = match error {
        Error::MethodNotConnect(_) => &[("Allow", "CONNECT")],
        _ => rejection_headers(status),
    };
    for (name, value) in headers {
        refusal = refusal.header(name, *value);
    }
    refusal
}
// ANCHOR_END: refusal

/// The bytes of the HTTP response that rejects a handshake, saying why ([`refusal`]).
pub fn reject_response(error: &Error) -> Vec<u8> {
    refusal(error).to_bytes()
}

/// §4.1: what the server chose, as a client checks it: no subprotocol header, or one (the
/// caller has checked that it is one), naming a subprotocol we offered; and no extension but
/// an answer to the permessage-deflate offer `deflate`, if one was made (an extension the
/// client did not ask for fails the connection; RFC 7692 §7.1: so does an answer to the offer
/// that the client may not accept).
// req: ws/9.1/offer-only ws/9.1/malformed pmd/5/invalid-response
// ANCHOR: check_server_choices
fn check_server_choices(
    h: &[Header],
    offered: &[String],
    deflate: Option<&DeflateConfig>,
) -> Result<(Option<String>, Option<PerMessageDeflate>), Error> {
    let chosen = single_value(h, "sec-websocket-protocol");
    let subprotocol = match chosen.map(String::from_utf8_lossy) {
        None => None,
        Some(p) if offered.iter().any(|o| *o == p) => Some(p.into_owned()),
        Some(p) => return Err(Error::UnofferedSubprotocol(p.into_owned())),
    };
    let answered = values(h, "sec-websocket-extensions").next().is_some();
    let deflate = match deflate {
        None if answered => return Err(Error::UnofferedExtension),
        None => None,
        Some(offer) => {
            let answer = negotiate::parse_extensions(values(h, "sec-websocket-extensions"))?;
            negotiate::check_response(&answer, offer)?
        }
    };
    Ok((subprotocol, deflate))
}
// ANCHOR_END: check_server_choices

/// What [`ClientHandshake::receive`] returns once the server has switched protocols: the
/// response, the subprotocol it chose, and the bytes after the head (the first frames).
pub type Switched = (Response, Option<String>, Vec<u8>);

/// The client's side: builds the request, then checks the response.
#[derive(Debug)]
pub struct ClientHandshake {
    expected_accept: String,
    protocols: Vec<String>,
    /// What we offered of permessage-deflate, if anything, and then what was agreed.
    deflate_offer: Option<DeflateConfig>,
    deflate: Option<PerMessageDeflate>,
    head: HeadBuffer,
    max_headers: usize,
}

impl ClientHandshake {
    // req: ws/4.1/key ws/4.1/protocol-tokens
    /// Starts a handshake with a fresh random key (§4.1: "randomly selected", 16 bytes).
    /// Returns the handshake and the request bytes to send.
    ///
    /// `host` is the `Host` header's value (`example.com:8080`), `path` the request target,
    /// `protocols` the subprotocols offered, most preferred first. A host or path with
    /// characters that RFC 3986 does not allow there (percent-encode them) is
    /// [`Error::BadUrl`]; a subprotocol that is not an HTTP token is
    /// [`Error::MalformedHttp`].
    pub fn new(
        host: &str,
        path: &str,
        protocols: &[&str],
        limits: &Limits,
    ) -> Result<(ClientHandshake, Vec<u8>), Error> {
        let config = Config {
            limits: *limits,
            ..Config::default()
        };
        Self::with_config(host, path, protocols, &config)
    }

    /// Like [`ClientHandshake::new`], bounded by `config.limits`, and offering
    /// permessage-deflate when `config.deflate.enabled` (RFC 7692 §5); once the response
    /// has arrived, [`ClientHandshake::deflate`] says what the server agreed to.
    pub fn with_config(
        host: &str,
        path: &str,
        protocols: &[&str],
        config: &Config,
    ) -> Result<(ClientHandshake, Vec<u8>), Error> {
        check_offer(host, path, protocols)?;
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|_| Error::Random)?;
        let (mut handshake, mut request) =
            Self::with_key(key, host, path, protocols, &config.limits);
        if config.deflate.enabled {
            handshake.offer_deflate(&mut request, config.deflate);
        }
        Ok((handshake, request))
    }

    /// Adds a permessage-deflate offer for `deflate` to `request`, a request this handshake
    /// built that has not been sent yet.
    // req: pmd/5/offer-name
    // ANCHOR: offer_deflate
    pub fn offer_deflate(&mut self, request: &mut Vec<u8>, deflate: DeflateConfig) {
        let header = format!(
            "Sec-WebSocket-Extensions: {}\r\n\r\n",
            negotiate::offer_value(&deflate)
        );
        // The request ends with the empty line; the header goes before it.
        request.truncate(request.len() - 2);
        request.extend_from_slice(header.as_bytes());
        self.deflate_offer = Some(deflate);
    }
    // ANCHOR_END: offer_deflate

    /// permessage-deflate as the server agreed to it, once [`ClientHandshake::receive`] has
    /// returned the response; `None` if it was not offered or the server declined.
    pub fn deflate(&self) -> Option<PerMessageDeflate> {
        self.deflate
    }

    /// Like [`ClientHandshake::new`], with a chosen key: for tests and snapshots only. A real
    /// client must not reuse keys. Its arguments are not checked.
    // req: ws/4.1/request ws/4.1/host ws/4.1/upgrade-connection ws/4.1/version
    // ANCHOR: client_with_key
    pub fn with_key(
        key: [u8; 16],
        host: &str,
        path: &str,
        protocols: &[&str],
        limits: &Limits,
    ) -> (ClientHandshake, Vec<u8>) {
        let key = BASE64.encode(key);
        let mut request = format!(
            "GET {path} HTTP/1.1\r\n\
             Host: {host}\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n"
        );
        if !protocols.is_empty() {
            request.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                protocols.join(", ")
            ));
        }
        request.push_str("\r\n");
        let handshake = ClientHandshake {
            expected_accept: accept_key(key.as_bytes()),
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
            deflate_offer: None,
            deflate: None,
            head: HeadBuffer::new(limits.max_handshake_size),
            max_headers: limits.max_headers,
        };
        (handshake, request.into_bytes())
    }
    // ANCHOR_END: client_with_key

    /// Feeds received bytes. Once the response head is complete and valid, returns it, the
    /// subprotocol the server chose, and the bytes that followed the head (the first frames).
    // req: ws/4.1/check-101 ws/4.1/check-upgrade ws/4.1/check-connection ws/4.1/check-accept
    // req: ws/4.1/check-protocol ws/4.1/check-extensions ws/11.3/response-once
    // ANCHOR: client_receive
    pub fn receive(&mut self, data: &[u8]) -> Result<Option<Switched>, Error> {
        let Some(end) = self.head.push(data).map_err(head_error)? else {
            return Ok(None);
        };
        let bytes = self.head.bytes();
        let response = http_head::parse_response(&bytes[..end], self.max_headers);
        let response = response.map_err(head_error)?;
        let h = &response.headers;
        // §4.1, the client's checks of the server's response, in the RFC's order.
        if response.status != 101 {
            return Err(Error::UnexpectedStatus(response.status));
        }
        // §11.3.3, §11.3.4: one Accept and at most one subprotocol, or the connection fails.
        check_once(h, &ONCE_IN_RESPONSE)?;
        if !has_token(h, "upgrade", "websocket") {
            return Err(Error::MissingUpgradeWebsocket);
        }
        if !has_token(h, "connection", "upgrade") {
            return Err(Error::MissingConnectionUpgrade);
        }
        if single_value(h, "sec-websocket-accept") != Some(self.expected_accept.as_bytes()) {
            return Err(Error::BadAccept);
        }
        let (subprotocol, deflate) =
            check_server_choices(h, &self.protocols, self.deflate_offer.as_ref())?;
        self.deflate = deflate;
        Ok(Some((response, subprotocol, bytes[end..].to_vec())))
    }
    // ANCHOR_END: client_receive
}
