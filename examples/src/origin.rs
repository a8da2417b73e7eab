//! Which pages may open the examples' WebSockets and send them commands: the page's own
//! origin, and the origins the server names, as RFC 6455 §10.2 teaches.
//!
//! A browser lets any page open a WebSocket to any server, and lets any page POST a form to
//! any server, each time with the user's cookies and network position. What tells the server
//! which page asked is the `Origin` header, which the browser sets and the page cannot.
//! So a server that serves its own pages refuses a request whose `Origin` is present and
//! foreign; `Origin: null` (a sandboxed frame, a `file:` page, a redirect across sites) is as
//! foreign as any. A request with no `Origin` is let through: browsers send one on every
//! WebSocket handshake and every cross-origin POST, so its absence means a program (`wirelab
//! ws`, `curl`, a Python script), which could forge any `Origin` it liked anyway. The check
//! protects the user's browser from other sites; it is not authentication.
//!
//! [`crate::server::websocket`] applies the rule to every upgrade through the `websocket`
//! crate's [`ServerOptions::allowed_origins`](websocket::handshake::ServerOptions), so a
//! refusal is that crate's `403 Forbidden`. A server adds origins with [`Origins::allow`],
//! carried to the examples' handlers in the request's extensions.

use http::Request;
use http::header::{HOST, ORIGIN};

use crate::server::Protocol;

/// The header in which a browser says how the page that made a request relates to its target
/// (Fetch Metadata): `same-origin`, `same-site`, `cross-site` or `none`.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// The origins allowed besides a request's own. The default allows the own origin only.
///
/// A server that allows more puts its `Origins` in each request's extensions
/// (`request.extensions_mut().insert(origins.clone())`) before handing it to an example's
/// handler; a request without one gets the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    also: Vec<String>,
}

impl Origins {
    /// The own origin, and each of `origins` besides (`http://localhost:3000`, as a browser
    /// serializes it: scheme, host, and the port unless it is the scheme's default).
    pub fn allow(origins: impl IntoIterator<Item = String>) -> Origins {
        Origins {
            also: origins.into_iter().collect(),
        }
    }

    /// Every origin that may make this request: its own, then those allowed besides.
    pub fn for_request<B>(&self, request: &Request<B>) -> Vec<String> {
        own_origin(request)
            .into_iter()
            .chain(self.also.iter().cloned())
            .collect()
    }

    // ANCHOR: check
    /// Whether a request other than an upgrade (a POST that changes something) comes from
    /// an allowed page, or from no page at all; `Err` says why not. Refused: an `Origin` that
    /// is not allowed, two `Origin` headers (as the `websocket` crate refuses them: a browser
    /// sends one), and a request the browser itself calls cross-site (`Sec-Fetch-Site:
    /// cross-site`, which it sends with or without `Origin`).
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), String> {
        let headers = request.headers();
        if headers
            .get(SEC_FETCH_SITE)
            .is_some_and(|site| site == "cross-site")
        {
            return Err("Sec-Fetch-Site: cross-site".to_owned());
        }
        let mut origins = headers.get_all(ORIGIN).iter();
        let Some(first) = origins.next() else {
            return Ok(());
        };
        let origin = String::from_utf8_lossy(first.as_bytes()).into_owned();
        if origins.next().is_none() && self.for_request(request).contains(&origin) {
            Ok(())
        } else {
            Err(format!("Origin: {origin}"))
        }
    }
    // ANCHOR_END: check
}

// ANCHOR: own_origin
/// The request's own origin: `http://`, or `https://` for a request that came over TLS, and
/// its `Host` header (HTTP/1.1) or its `:authority` (HTTP/2, which hyper puts in the URI).
///
/// Taken from `Host` rather than from the address the server listens on, because `Host` is
/// what the browser put in the page's address bar: a page opened as `http://localhost:8080/`
/// sends `Origin: http://localhost:8080` and `Host: localhost:8080`, and one seen through
/// `wirelab tap` or a forwarded port names the address the user typed, not the one the server
/// bound. Both headers come from the same URL, so they agree for every page the server
/// served itself. (A page that reaches the server through a hostile DNS name, DNS rebinding,
/// is same-origin under this rule; refusing that takes a check of `Host` itself, which these
/// loopback examples do not make.) The scheme is the one of the connection, which the server
/// records in each request's extensions ([`Protocol`]).
pub fn own_origin<B>(request: &Request<B>) -> Option<String> {
    let tls = request
        .extensions()
        .get::<Protocol>()
        .is_some_and(|protocol| protocol.tls);
    let scheme = if tls { "https" } else { "http" };
    let host = match request.uri().authority() {
        Some(authority) => authority.as_str(),
        None => request.headers().get(HOST)?.to_str().ok()?,
    };
    Some(format!("{scheme}://{host}"))
}
// ANCHOR_END: own_origin

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> Request<()> {
        let mut request = Request::new(());
        for (name, value) in pairs {
            request
                .headers_mut()
                .append(*name, http::HeaderValue::from_static(value));
        }
        request
    }

    #[test]
    fn over_tls_and_http2_the_own_origin_is_https_and_the_authority() {
        let mut request = Request::get("https://127.0.0.1:8443/chat/send")
            .body(())
            .expect("request");
        request.extensions_mut().insert(Protocol {
            tls: true,
            alpn: Some("h2".to_owned()),
            version: http::Version::HTTP_2,
        });
        assert_eq!(
            own_origin(&request).as_deref(),
            Some("https://127.0.0.1:8443")
        );
        request.headers_mut().insert(
            ORIGIN,
            http::HeaderValue::from_static("https://127.0.0.1:8443"),
        );
        assert_eq!(Origins::default().check(&request), Ok(()));
        request.headers_mut().insert(
            ORIGIN,
            http::HeaderValue::from_static("http://127.0.0.1:8443"),
        );
        assert!(Origins::default().check(&request).is_err());
    }

    #[test]
    fn own_origin_and_no_origin_pass_others_do_not() {
        let same = Origins::default();
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(same.check(&headers(&[host])), Ok(()));
        assert_eq!(
            same.check(&headers(&[host, ("origin", "http://127.0.0.1:8080")])),
            Ok(())
        );
        for foreign in ["http://evil.example", "null", "http://127.0.0.1:8081"] {
            let refused = same.check(&headers(&[host, ("origin", foreign)]));
            assert_eq!(refused, Err(format!("Origin: {foreign}")));
        }
        let twice = headers(&[
            host,
            ("origin", "http://127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(same.check(&twice).is_err());
        let cross_site = headers(&[host, ("sec-fetch-site", "cross-site")]);
        assert!(same.check(&cross_site).is_err());
    }

    #[test]
    fn allowed_origins_pass_besides_the_own() {
        let origins = Origins::allow(["http://localhost:3000".to_owned()]);
        let request = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://localhost:3000"),
        ]);
        assert_eq!(origins.check(&request), Ok(()));
        assert_eq!(
            origins.for_request(&request),
            ["http://127.0.0.1:8080", "http://localhost:3000"]
        );
    }
}
