//! TLS on the command line: the certificate a server subcommand presents (`--tls` for a
//! development certificate, or `--cert` and `--key`), and the extra roots a client trusts
//! (`--ca`).
//!
//! The TLS itself (rustls, the development certificate, ALPN, the handshake) is the examples'
//! server's, [`wirelab_examples::server::tls`], which `wirelab demo` runs on; this module only
//! turns the options into an acceptor, writes the development certificate where the user can
//! find it, and says so.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_rustls::TlsAcceptor;
use wirelab_examples::server::tls::{DEV_NAMES, DevCert, Identity};

/// A server's TLS, and the lines that tell the user how to trust it.
pub struct ServerTls {
    /// What accepts the connections.
    pub acceptor: TlsAcceptor,
    /// What to print at start: where the development certificate is, and how to trust it.
    pub notes: Vec<String>,
}

// ANCHOR: dev_cert_path
/// Where `--tls` writes the development certificate of a server on `port`: a file in the
/// system's temporary directory, named by the port, so that a script finds it and two servers
/// on different ports do not overwrite each other's.
pub fn dev_cert_path(port: u16) -> PathBuf {
    std::env::temp_dir()
        .join("wirelab")
        .join(format!("dev-cert-{port}.pem"))
}
// ANCHOR_END: dev_cert_path

/// The TLS a server subcommand asked for, offering `alpn`: the certificate and key in `cert`
/// and `key` when given, or else, when `tls` is set, a fresh development certificate written
/// to [`dev_cert_path`]. `None` when neither was asked for.
///
/// # Errors
///
/// A message for the user: a file that cannot be read or written, a key that does not match.
pub fn server_tls(
    tls: bool,
    files: Option<(&Path, &Path)>,
    port: u16,
    alpn: &[&[u8]],
) -> Result<Option<ServerTls>, String> {
    if let Some((cert, key)) = files {
        let identity = Identity::from_pem_files(cert, key).map_err(|e| e.to_string())?;
        let acceptor = identity.acceptor(alpn).map_err(|e| e.to_string())?;
        let notes = vec![format!("TLS with the certificate in {}", cert.display())];
        return Ok(Some(ServerTls { acceptor, notes }));
    }
    if !tls {
        return Ok(None);
    }
    let dev = DevCert::generate().map_err(|e| e.to_string())?;
    let path = dev_cert_path(port);
    dev.write_cert(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let acceptor = dev.identity.acceptor(alpn).map_err(|e| e.to_string())?;
    let path = path.display();
    let notes = vec![
        format!(
            "TLS with a development certificate for {}, made now, written to {path}",
            DEV_NAMES.join(", ")
        ),
        format!(
            "  programs: wirelab sse --ca {path} URL, wirelab ws --ca {path} URL, curl --cacert {path} URL"
        ),
        format!(
            "  Chromium: --ignore-certificate-errors-spki-list={} (this certificate only)",
            dev.spki_sha256
        ),
    ];
    Ok(Some(ServerTls { acceptor, notes }))
}

/// The certificates in the PEM file `path`, to trust besides the system's roots.
///
/// # Errors
///
/// A message for the user when the file cannot be read or holds no certificate.
pub fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e:?}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}
