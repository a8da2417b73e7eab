//! How the client reaches a server: TCP, TLS with ALPN for `https://`, HTTP/1.1 or HTTP/2,
//! and one HTTP/2 connection per origin shared by every client of a [`Connector`] (whose
//! documentation says how each is chosen).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Request, Uri, Version, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::Error;

/// ALPN identifier of HTTP/2 over TLS (RFC 9113 §3.2).
const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1 (RFC 7301 §6).
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// An open HTTP/2 connection's request handle: cloned for each stream.
type Shared = http2::SendRequest<Empty<Bytes>>;

/// The connection of one origin, locked while it is being opened, so that clients starting
/// together wait for one connection rather than each open their own.
type Slot = Arc<tokio::sync::Mutex<Option<Shared>>>;

// ANCHOR: connector
/// How clients connect, and the HTTP/2 connections they share. Cheap to clone; clones share
/// the connections.
///
/// Over HTTP/1.1 an event stream holds its connection for as long as it lasts: a second
/// stream needs a second connection (which is why a browser, allowing six per host, runs out).
/// Over HTTP/2 each stream is one request on a shared connection, so a connector keeps, per
/// origin (scheme, host and port), the connection that said `h2`, and every client made with
/// a clone of it opens its stream there. Which HTTP a connection speaks:
///
/// - `https://`: what the TLS handshake's ALPN chose (RFC 7301): `h2`, or HTTP/1.1 for
///   `http/1.1` or none;
/// - `http://`: HTTP/1.1, unless [`Connector::with_http2_prior_knowledge`] asks for
///   clear-text HTTP/2 (h2c, RFC 9113 §3.3), which only a server known to speak it answers.
///
/// The event stream itself is the same either way: the same request fields, the same checks
/// of the response, the same parser over the body's bytes, whether they came in chunks or in
/// DATA frames. A stream reset (`RST_STREAM`) or a `GOAWAY` reaches the client as an error of
/// the body, a network error like a TCP reset, and the client reconnects as it would over
/// HTTP/1.1; the next attempt opens a new connection when the shared one is closed.
#[derive(Clone, Default)]
pub struct Connector {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The TLS settings given, or `None` for [`tls_config`] with the system's roots alone,
    /// made on the first `https://` connection.
    tls: Option<Arc<rustls::ClientConfig>>,
    system_tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    prior_knowledge: bool,
    http2: Mutex<HashMap<String, Slot>>,
    tcp_connections: AtomicU64,
}
// ANCHOR_END: connector

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("tls_given", &self.inner.tls.is_some())
            .field("prior_knowledge", &self.inner.prior_knowledge)
            .field("tcp_connections", &self.tcp_connections())
            .finish_non_exhaustive()
    }
}

/// A response, and what carried it.
pub(super) struct Sent {
    pub(super) response: http::Response<Incoming>,
    /// The connection's task when this request owns the connection (HTTP/1.1): dropping it
    /// ends the connection. `None` for a shared HTTP/2 connection.
    pub(super) task: Option<ConnectionTask>,
}

/// Aborts the hyper connection task when the connection is done with.
#[derive(Debug)]
pub(super) struct ConnectionTask(JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connector {
    /// Verifies `https://` servers against the system's roots, offers `h2` and `http/1.1`,
    /// and speaks HTTP/1.1 to `http://` URLs.
    pub fn new() -> Self {
        Connector::default()
    }

    /// The same, with these TLS settings instead (roots, ALPN protocols: [`tls_config`]
    /// makes them with extra roots). Offering no ALPN protocol means HTTP/1.1 over TLS.
    pub fn with_tls(self, config: Arc<rustls::ClientConfig>) -> Self {
        Connector {
            inner: Arc::new(Inner {
                tls: Some(config),
                prior_knowledge: self.inner.prior_knowledge,
                ..Inner::default()
            }),
        }
    }

    /// The same, speaking HTTP/2 to `http://` URLs without asking first (h2c with prior
    /// knowledge, RFC 9113 §3.3): for servers known to accept it.
    pub fn with_http2_prior_knowledge(self) -> Self {
        Connector {
            inner: Arc::new(Inner {
                tls: self.inner.tls.clone(),
                prior_knowledge: true,
                ..Inner::default()
            }),
        }
    }

    /// How many TCP connections this connector (and its clones) has opened.
    pub fn tcp_connections(&self) -> u64 {
        self.inner.tcp_connections.load(Ordering::Relaxed)
    }

    fn tls(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(config) = &self.inner.tls {
            return Ok(config.clone());
        }
        self.inner
            .system_tls
            .get_or_init(|| tls_config(Vec::new()).map_err(|e| e.to_string()))
            .clone()
            .map_err(|why| Error::Io(std::io::Error::other(why)))
    }

    // ANCHOR: send
    /// Sends a `GET` for `url` with `headers`: on the origin's shared HTTP/2 connection if
    /// there is one, or on a new connection.
    pub(super) async fn send(&self, url: &Uri, headers: HeaderMap) -> Result<Sent, Error> {
        let https = url.scheme_str() == Some("https");
        if !https && !self.inner.prior_knowledge {
            let stream = self.tcp(url).await?;
            return http1_request(stream, url, headers).await;
        }
        // The lock is held while a connection is being opened, not while a response is
        // awaited: a slow response head holds up no other stream.
        let mut sender = {
            let slot = self.slot(url);
            let mut shared = slot.lock().await;
            let open = match shared.as_mut() {
                Some(sender) => !sender.is_closed() && sender.ready().await.is_ok(),
                None => false,
            };
            match shared.as_ref().filter(|_| open) {
                Some(sender) => sender.clone(),
                None => {
                    *shared = None;
                    let stream = self.tcp(url).await?;
                    let sender = if https {
                        let stream = self.tls_handshake(url, stream).await?;
                        if stream.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
                            drop(shared);
                            return http1_request(stream, url, headers).await;
                        }
                        http2_connection(stream).await?
                    } else {
                        http2_connection(stream).await?
                    };
                    *shared = Some(sender.clone());
                    sender
                }
            }
        };
        let response = sender.send_request(http2_request(url, headers)?).await?;
        Ok(Sent {
            response,
            task: None,
        })
    }
    // ANCHOR_END: send

    /// The shared-connection slot of `url`'s origin.
    fn slot(&self, url: &Uri) -> Slot {
        let origin = format!(
            "{}://{}",
            url.scheme_str().unwrap_or_default(),
            url.authority().map_or("", |a| a.as_str())
        );
        let mut slots = self
            .inner
            .http2
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(origin).or_default().clone()
    }

    async fn tcp(&self, url: &Uri) -> Result<TcpStream, Error> {
        let (host, port) = host_port(url)?;
        let stream = TcpStream::connect((host, port)).await?;
        // Events are small and wanted at once: no Nagle delay on our requests either.
        let _ = stream.set_nodelay(true);
        self.inner.tcp_connections.fetch_add(1, Ordering::Relaxed);
        Ok(stream)
    }

    // ANCHOR: tls_handshake
    async fn tls_handshake(
        &self,
        url: &Uri,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        let (host, _) = host_port(url)?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| Error::InvalidUrl(url.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls()?);
        connector.connect(name, stream).await.map_err(|e| {
            // tokio-rustls reports rustls's verdicts (an untrusted certificate, an alert from
            // the server) inside an I/O error; they are not network trouble, and are told apart.
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => Error::Tls(tls.clone()),
                None => Error::Io(e),
            }
        })
    }
    // ANCHOR_END: tls_handshake
}

// ANCHOR: tls_config
/// TLS settings for the client: the system's roots (as `rustls-native-certs` finds them, on
/// Linux the `SSL_CERT_FILE`/`SSL_CERT_DIR` or the distribution's bundle), plus `extra_roots`
/// (a development certificate, say), offering `h2` then `http/1.1` by ALPN.
///
/// # Errors
///
/// [`Error::Tls`] when an extra root is not a usable certificate.
pub fn tls_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    // A system certificate rustls cannot parse is skipped, as browsers skip it; the others
    // still verify.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for root in extra_roots {
        roots.add(root).map_err(Error::Tls)?;
    }
    // rustls's process-wide provider: with only its `ring` feature in the build, ring.
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}
// ANCHOR_END: tls_config

/// The host (IPv6 literals without their brackets) and port of `url`.
fn host_port(url: &Uri) -> Result<(&str, u16), Error> {
    let authority = url
        .authority()
        .ok_or_else(|| Error::InvalidUrl(url.to_string()))?;
    let default_port = if url.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    Ok((host, authority.port_u16().unwrap_or(default_port)))
}

/// An HTTP/2 connection on `stream`, its task running on its own: it ends when the server
/// closes it or when every handle to it is gone.
async fn http2_connection<S>(stream: S) -> Result<Shared, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Its errors reach each stream through its response body.
        let _ = connection.await;
    });
    Ok(sender)
}

// ANCHOR: requests
/// The request over HTTP/2: the URL whole, since its scheme and authority become the
/// `:scheme` and `:authority` pseudo-header fields (RFC 9113 §8.3.1), in place of `Host`.
fn http2_request(url: &Uri, headers: HeaderMap) -> Result<Request<Empty<Bytes>>, Error> {
    let mut request = Request::get(url.clone())
        .version(Version::HTTP_2)
        .body(Empty::new())
        .map_err(|_| Error::InvalidUrl(url.to_string()))?;
    *request.headers_mut() = headers;
    Ok(request)
}

/// The request over HTTP/1.1, on a connection of its own: the path in the request line, the
/// authority in `Host`.
async fn http1_request<S>(stream: S, url: &Uri, headers: HeaderMap) -> Result<Sent, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    let task = ConnectionTask(tokio::spawn(async move {
        // Its errors reach us through the response body.
        let _ = connection.await;
    }));
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let authority = url
        .authority()
        .ok_or_else(|| Error::InvalidUrl(url.to_string()))?;
    let mut request = Request::get(path)
        // Never holds `user:password@`: `Client::new` and `resolve` refuse such URLs.
        .header(header::HOST, authority.as_str())
        .body(Empty::new())
        .map_err(|_| Error::InvalidUrl(url.to_string()))?;
    request.headers_mut().extend(headers);
    let response = sender.send_request(request).await?;
    Ok(Sent {
        response,
        task: Some(task),
    })
}
// ANCHOR_END: requests
