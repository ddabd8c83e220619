//! TLS for the console: the school's own certificate when configured, otherwise a self-signed
//! one generated on first run and kept beside the configuration, so the console is never
//! served in clear over the network by default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of the certificate and key exists.
    #[error("the console certificate {present} exists but its pair {missing} does not; provide both or neither (neither makes a self-signed pair)")]
    HalfPair {
        /// The file that exists.
        present: PathBuf,
        /// The file that does not.
        missing: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not valid PEM of the right kind.
    #[error("{}: {reason}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed console certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate and key.
    #[error("the console certificate and key do not work together: {0}")]
    Config(String),
}

/// What [`load_or_generate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded the configured files.
    Loaded,
    /// Generated a self-signed pair and saved it.
    Generated,
}

/// Load `cert` and `key` (PEM), or, when neither exists, generate a self-signed pair for
/// `names` (host names and addresses), save it (the key readable only by Haven), and use it.
pub fn load_or_generate(cert: &Path, key: &Path, names: &[String]) -> Result<(Arc<ServerConfig>, Origin), TlsError> {
    let origin = match (cert.exists(), key.exists()) {
        (true, true) => Origin::Loaded,
        (false, false) => {
            generate(cert, key, names)?;
            Origin::Generated
        }
        (true, false) => return Err(TlsError::HalfPair { present: cert.into(), missing: key.into() }),
        (false, true) => return Err(TlsError::HalfPair { present: key.into(), missing: cert.into() }),
    };
    Ok((server_config(cert, key)?, origin))
}

fn generate(cert: &Path, key: &Path, names: &[String]) -> Result<(), TlsError> {
    let mut names = names.to_vec();
    if names.is_empty() {
        names = vec!["localhost".into(), "127.0.0.1".into()];
    }
    let pair = rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    for path in [cert, key] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| TlsError::Io { path: dir.into(), source })?;
        }
    }
    write_private(key, pair.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, pair.cert.pem()).map_err(|source| TlsError::Io { path: cert.into(), source })
}

/// Write a file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|source| TlsError::Io { path: path.into(), source })?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|source| TlsError::Io { path: path.into(), source })
}

/// A rustls server configuration (ring, TLS 1.2 and 1.3, HTTP/1.1) from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem = |path: &Path| std::fs::read(path).map_err(|source| TlsError::Io { path: path.into(), source });
    let cert_pem = pem(cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem { path: cert.into(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::Pem { path: cert.into(), reason: "no CERTIFICATE block".into() });
    }
    let key_der = PrivateKeyDer::from_pem_slice(&pem(key)?).map_err(|e| TlsError::Pem { path: key.into(), reason: e.to_string() })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The SHA-256 fingerprint of the first certificate in a PEM file (`AB:CD:...`), printed by
/// `haven init` so the first visit to the console can be checked against it.
pub fn fingerprint(cert: &Path) -> Result<String, TlsError> {
    use sha2::Digest;
    let pem = std::fs::read(cert).map_err(|source| TlsError::Io { path: cert.into(), source })?;
    let der = CertificateDer::pem_slice_iter(&pem)
        .next()
        .ok_or_else(|| TlsError::Pem { path: cert.into(), reason: "no CERTIFICATE block".into() })?
        .map_err(|e| TlsError::Pem { path: cert.into(), reason: e.to_string() })?;
    let digest = sha2::Sha256::digest(der.as_ref());
    Ok(digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}
