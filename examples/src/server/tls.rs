//! TLS for the servers: a certificate and its key (a development certificate made at start,
//! or PEM files), the ALPN protocols offered, and the accepting of one connection.
//!
//! rustls does the TLS, on the `ring` provider. What this file adds is what a teaching server
//! needs around it:
//!
//! - [`DevCert::generate`] makes a self-signed certificate for `localhost`, `127.0.0.1` and
//!   `::1` with rcgen, so that `wirelab demo --tls` needs no files: its PEM goes to a file the
//!   user can trust or pass to `wirelab sse --ca`, and the SHA-256 of its public key is what
//!   Chromium's `--ignore-certificate-errors-spki-list` takes;
//! - [`Identity::from_pem_files`] loads a real certificate chain and key instead;
//! - [`Identity::acceptor`] offers the ALPN protocols (RFC 7301) a server speaks: `h2` and
//!   `http/1.1` for the examples' server ([`ALPN_H2_HTTP1`]), `http/1.1` alone for a server
//!   that speaks only that ([`ALPN_HTTP1`]);
//! - [`accept`] runs the handshake within [`HANDSHAKE_TIMEOUT`], and answers a client that
//!   sent plain HTTP to the TLS port with a plain `400` that says so, where rustls alone would
//!   only drop the connection.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::prefixed::{Prefixed, read_start};

/// ALPN identifier of HTTP/2 over TLS (RFC 9113 §3.2).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN identifier of HTTP/1.1 (RFC 7301 §6).
pub const ALPN_HTTP1: &[u8] = b"http/1.1";
/// What the examples' server offers, in its order of preference: HTTP/2, then HTTP/1.1.
pub const ALPN_H2_HTTP1: &[&[u8]] = &[ALPN_H2, ALPN_HTTP1];
/// What a server that speaks only HTTP/1.1 offers.
pub const ALPN_HTTP1_ONLY: &[&[u8]] = &[ALPN_HTTP1];

/// The longest a client may take from connecting to the end of the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The names a development certificate is valid for: the loopback addresses the servers
/// listen on, and the name browsers give them.
pub const DEV_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The TLS record type of a handshake message (RFC 8446 §5.1): every TLS connection starts
/// with one, carrying the ClientHello.
const HANDSHAKE_RECORD: u8 = 0x16;

/// What a client that sent plain HTTP to the TLS port reads, in the body of a `400`.
const PLAIN_HTTP_BODY: &str = "This port speaks TLS: use https:// (or wss://), not http://.\n";

/// A certificate chain and the key of its first certificate: who the server says it is.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// A development certificate: self-signed, made at start, valid for [`DEV_NAMES`].
#[derive(Debug)]
pub struct DevCert {
    /// The certificate and key, for [`Identity::acceptor`].
    pub identity: Identity,
    /// The certificate in PEM: what a client trusts (`wirelab sse --ca FILE`).
    pub cert_pem: String,
    /// The base64 SHA-256 of the certificate's public key (its SubjectPublicKeyInfo): what
    /// Chromium's `--ignore-certificate-errors-spki-list` takes to accept this certificate,
    /// and no other.
    pub spki_sha256: String,
}

/// Why a certificate or key could not be used.
#[derive(Debug)]
pub enum TlsError {
    /// A file could not be read.
    Io(io::Error),
    /// A PEM file held no certificate, or no private key, or is not PEM.
    Pem(String),
    /// rcgen could not make the development certificate.
    Generate(rcgen::Error),
    /// rustls refused the certificate or key (a key that does not match, for instance).
    Rustls(rustls::Error),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Io(e) => write!(f, "{e}"),
            TlsError::Pem(why) => f.write_str(why),
            TlsError::Generate(e) => write!(f, "cannot make a development certificate: {e}"),
            TlsError::Rustls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl DevCert {
    // ANCHOR: dev_cert
    /// A fresh self-signed certificate and key (ECDSA P-256) for [`DEV_NAMES`].
    ///
    /// # Errors
    ///
    /// When rcgen fails (it does not for these names).
    pub fn generate() -> Result<DevCert, TlsError> {
        let names: Vec<String> = DEV_NAMES.iter().map(|name| (*name).to_owned()).collect();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(names).map_err(TlsError::Generate)?;
        let spki = rcgen::PublicKeyData::subject_public_key_info(&signing_key);
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let key = PrivateKeyDer::try_from(signing_key.serialize_der())
            .map_err(|why| TlsError::Pem(format!("rcgen made a key rustls cannot read: {why}")))?;
        Ok(DevCert {
            identity: Identity {
                chain: vec![cert.der().clone()],
                key,
            },
            cert_pem: cert.pem(),
            spki_sha256: base64::engine::general_purpose::STANDARD.encode(digest.as_ref()),
        })
    }
    // ANCHOR_END: dev_cert

    /// Writes the certificate's PEM to `path`, creating its directory if needed.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_cert(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &self.cert_pem)
    }
}

impl Identity {
    /// The chain in `cert` (PEM, the server's certificate first) and the key in `key` (PEM:
    /// PKCS #8, PKCS #1 or SEC1).
    ///
    /// # Errors
    ///
    /// When a file cannot be read, or holds no certificate or no key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
        let pem_error = |path: &Path, what: &str, e: rustls_pki_types::pem::Error| match e {
            rustls_pki_types::pem::Error::Io(e) => {
                TlsError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            }
            e => TlsError::Pem(format!("{}: no {what} ({e:?})", path.display())),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_error(cert, "certificate", e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(cert, "certificate", e))?;
        if chain.is_empty() {
            return Err(TlsError::Pem(format!(
                "{}: no certificate in PEM (-----BEGIN CERTIFICATE-----)",
                cert.display()
            )));
        }
        let key =
            PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, "private key", e))?;
        Ok(Identity { chain, key })
    }

    // ANCHOR: acceptor
    /// A TLS acceptor that presents this identity and offers `alpn` (in order of preference:
    /// the server picks the first of its own list that the client offers, RFC 7301 §3.2).
    ///
    /// # Errors
    ///
    /// When rustls refuses the certificate or the key.
    pub fn acceptor(&self, alpn: &[&[u8]]) -> Result<TlsAcceptor, TlsError> {
        // rustls's process-wide provider: with only its `ring` feature in the build, ring.
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(TlsError::Rustls)?;
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
    // ANCHOR_END: acceptor
}

// ANCHOR: accept
/// Runs the server side of the TLS handshake on `stream`, within [`HANDSHAKE_TIMEOUT`].
///
/// A client that speaks plain HTTP to this port (its first byte is not a TLS handshake record
/// but a letter, as a request line starts) gets a plain-text `400 Bad Request` telling it to
/// use `https://`, then the connection closes: the answer `curl http://` or a mistyped
/// browser URL can show. The ALPN protocol the handshake chose is
/// `stream.get_ref().1.alpn_protocol()`.
///
/// # Errors
///
/// When the handshake fails (rustls has sent its alert), times out, or the client sent plain
/// HTTP ([`io::ErrorKind::InvalidData`], after the answer).
pub async fn accept<S>(acceptor: &TlsAcceptor, mut stream: S) -> io::Result<TlsStream<Prefixed<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = async {
        let first = read_start(&mut stream, 1, |_| true).await?;
        if first.first().is_some_and(u8::is_ascii_alphabetic) {
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
                 Connection: close\r\nContent-Length: {}\r\n\r\n{PLAIN_HTTP_BODY}",
                PLAIN_HTTP_BODY.len()
            );
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain HTTP sent to the TLS port",
            ));
        }
        if first.first() != Some(&HANDSHAKE_RECORD) && !first.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a TLS handshake",
            ));
        }
        acceptor.accept(Prefixed::new(first, stream)).await
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake not done in time",
            ))
        })
}
// ANCHOR_END: accept

/// The ALPN protocol a TLS stream's handshake chose, as text (`None`: the client offered
/// none the server speaks, or none at all).
pub fn alpn<S>(stream: &TlsStream<S>) -> Option<String> {
    let (_, connection) = stream.get_ref();
    connection
        .alpn_protocol()
        .map(|protocol| String::from_utf8_lossy(protocol).into_owned())
}
