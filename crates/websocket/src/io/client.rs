//! A client: dial a `ws://` URL and run the opening handshake (RFC 6455 §3, §4.1).
//!
//! Plain TCP only: `wss://` needs TLS, which this crate leaves out. A program that has TLS
//! parses the `wss://` URL with [`WsUrl::parse`], makes the TLS stream to
//! [`WsUrl::authority`], and runs the handshake over it with [`handshake_over`] (or, when the
//! TLS stream agreed on `h2` by ALPN, with [`super::Http2Connection`]).

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::WebSocket;
use crate::config::Config;
use crate::connection::Role;
use crate::error::Error;
use crate::handshake::{ClientHandshake, Response, check_target};

/// What a client asks for.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// Limits and timeouts.
    pub config: Config,
}

/// The parts of a `ws://host[:port][/path][?query]` or `wss://...` URL (RFC 6455 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: the connection is TLS (RFC 6455 §3: the `secure` flag).
    pub secure: bool,
    /// `host:port`, to dial (port 80 for `ws://`, 443 for `wss://`, when the URL has none).
    pub authority: String,
    /// The `Host` header (and HTTP/2's `:authority`): the URL's authority as written
    /// (RFC 6455 §4.1 (4): the port only if it is not the default).
    pub host: String,
    /// The resource name: path and query, `/` when empty.
    pub resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL.
    ///
    /// # Errors
    ///
    /// [`Error::BadUrl`] when it is neither, has a fragment or credentials, or has characters
    /// RFC 3986 does not allow in a request target or a `Host` header.
    pub fn parse(url: &str) -> Result<WsUrl, Error> {
        parse_url(url)
    }

    /// The host alone, without the port or an IPv6 literal's brackets: the name a TLS
    /// client checks the certificate against (and sends as SNI).
    pub fn hostname(&self) -> &str {
        let host = match self.authority.rfind(':') {
            Some(colon) => &self.authority[..colon],
            None => &self.authority,
        };
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

// req: ws/3/no-fragment ws/4.1/uri-valid
// ANCHOR: parse_url
fn parse_url(url: &str) -> Result<WsUrl, Error> {
    let bad = || Error::BadUrl(url.to_owned());
    // RFC 3986 §3.1: schemes are case-insensitive.
    let scheme_is = |scheme: &str| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    let (secure, rest) = if scheme_is("ws://") {
        (false, &url[5..])
    } else if scheme_is("wss://") {
        (true, &url[6..])
    } else {
        return Err(bad());
    };
    let default_port = if secure { ":443" } else { ":80" };
    // §3: the fragment is not part of a WebSocket URI.
    if rest.contains('#') {
        return Err(bad());
    }
    let (authority, resource) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let resource = if resource.starts_with('?') {
        format!("/{resource}")
    } else {
        resource.to_owned()
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    // An IPv6 literal is bracketed: the port follows the closing bracket.
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    let host = authority
        .strip_suffix(default_port)
        .unwrap_or(authority)
        .to_owned();
    let authority = if authority[host_end..].contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}{default_port}")
    };
    // Only RFC 3986's characters go into the request line and the Host header.
    check_target(&host, &resource).map_err(|_| bad())?;
    Ok(WsUrl {
        secure,
        authority,
        host,
        resource,
    })
}
// ANCHOR_END: parse_url

/// Connects to a `ws://` URL with the default options.
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response), Error> {
    connect_with(url, &ClientOptions::default()).await
}

// req: ws/4.1/connect-fail ws/4.1/wait
/// Connects to a `ws://` URL: TCP, then the opening handshake ([`handshake_over`]), within
/// `options.config.timeouts.handshake`. A `wss://` URL is [`Error::WssNeedsTls`]: this crate
/// has no TLS.
// ANCHOR: connect_with
pub async fn connect_with(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<TcpStream>, Response), Error> {
    let url = parse_url(url)?;
    if url.secure {
        return Err(Error::WssNeedsTls);
    }
    let connecting = async {
        let stream = TcpStream::connect(&url.authority).await?;
        stream.set_nodelay(true)?;
        handshake_over(stream, &url, options).await
    };
    tokio::time::timeout(options.config.timeouts.handshake, connecting)
        .await
        .unwrap_or(Err(Error::HandshakeIncomplete))
}

/// Runs the client's opening handshake for `url` over `stream`, a connection already open
/// to the server (a TCP socket, or the TLS stream of a `wss://` URL), within
/// `options.config.timeouts.handshake`.
pub async fn handshake_over<S>(
    mut stream: S,
    url: &WsUrl,
    options: &ClientOptions,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = &options.config;
    let protocols: Vec<&str> = options.protocols.iter().map(String::as_str).collect();
    let handshake = async {
        let (mut handshake, request) =
            ClientHandshake::with_config(&url.host, &url.resource, &protocols, config)?;
        stream.write_all(&request).await?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(Error::HandshakeIncomplete);
            }
            if let Some((response, subprotocol, leftover)) = handshake.receive(&buf[..n])? {
                return Ok((response, subprotocol, leftover, handshake.deflate()));
            }
        }
    };
    let (response, subprotocol, leftover, deflate) =
        tokio::time::timeout(config.timeouts.handshake, handshake)
            .await
            .unwrap_or(Err(Error::HandshakeIncomplete))?;
    let ws = WebSocket::from_stream(stream, Role::Client, *config, &leftover, subprotocol)
        .with_deflate(deflate, config.deflate.level);
    Ok((ws, response))
}
// ANCHOR_END: connect_with

#[cfg(test)]
mod tests {
    use super::*;

    // req: ws/3/no-fragment ws/4.1/uri-valid
    #[test]
    fn urls() {
        let u = parse_url("ws://127.0.0.1:9001/runCase?case=1&agent=x").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.resource.as_str()),
            ("127.0.0.1:9001", "/runCase?case=1&agent=x")
        );
        let u = parse_url("ws://[::1]?q").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.resource.as_str()),
            ("[::1]:80", "/?q")
        );
        assert_eq!(u.host, "[::1]");
        assert_eq!(
            parse_url("ws://example.com:80/").unwrap().host,
            "example.com"
        );
        assert_eq!(
            parse_url("ws://example.com:8080").unwrap().host,
            "example.com:8080"
        );
        // RFC 3986 §3.1: the scheme is case-insensitive.
        assert_eq!(parse_url("WS://example.com/x").unwrap().resource, "/x");
        let u = parse_url("wss://example.com/x").unwrap();
        assert!(u.secure);
        assert_eq!(
            (u.authority.as_str(), u.host.as_str()),
            ("example.com:443", "example.com")
        );
        assert_eq!(u.hostname(), "example.com");
        let u = parse_url("WSS://[::1]:8443").unwrap();
        assert_eq!((u.host.as_str(), u.hostname()), ("[::1]:8443", "::1"));
        assert!(!parse_url("ws://example.com:443/").unwrap().secure);
        assert_eq!(
            parse_url("ws://example.com:443/").unwrap().host,
            "example.com:443"
        );
        assert!(parse_url("http://example.com/").is_err());
        assert!(parse_url("ws://example.com/#frag").is_err());
    }

    /// Only RFC 3986's characters reach the request: a CR LF would start a header of the
    /// URL's choosing, a space would end the request target.
    #[test]
    fn urls_cannot_change_the_request() {
        for url in [
            "ws://h/a\r\nX-Injected: y",
            "ws://h/a b",
            "ws://h/?q=a b",
            "ws://h\r\nX-Injected: y/",
            "ws://h x/",
            "ws://h/%zz",
            "ws://h/caf\u{e9}",
        ] {
            assert!(
                matches!(parse_url(url), Err(Error::BadUrl(_))),
                "{url:?} accepted"
            );
        }
        let u = parse_url("ws://h/a%20b/c-d_e.f~g!$&'()*+,;=:@?x=/?").unwrap();
        assert_eq!(u.resource, "/a%20b/c-d_e.f~g!$&'()*+,;=:@?x=/?");
    }
}
