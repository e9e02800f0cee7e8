//! Mutual TLS from `<socket type ssl>`: the Control server's settings and the client
//! settings the monitor uses towards agents and other monitors' Control services.

use std::path::{Path, PathBuf};

use mmm_core::config::{Config, SocketType};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `<socket type ssl>` without one of its files.
    #[error("<socket> type ssl needs {0}")]
    Missing(&'static str),
    /// A file could not be read.
    #[error("can't read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

fn read(p: &Option<PathBuf>, what: &'static str) -> Result<Vec<u8>, TlsError> {
    let p: &Path = p.as_deref().ok_or(TlsError::Missing(what))?;
    std::fs::read(p).map_err(|source| TlsError::Read {
        path: p.to_path_buf(),
        source,
    })
}

fn files(config: &Config) -> Result<Option<Files>, TlsError> {
    if config.socket.kind != SocketType::Ssl {
        return Ok(None);
    }
    Ok(Some(Files {
        cert: read(&config.socket.cert_file, "cert_file")?,
        key: read(&config.socket.key_file, "key_file")?,
        ca: read(&config.socket.ca_file, "ca_file")?,
    }))
}

/// The Control server's TLS (client certificates required), None for plain sockets.
pub fn server_tls(config: &Config) -> Result<Option<ServerTlsConfig>, TlsError> {
    Ok(files(config)?.map(|f| {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(f.cert, f.key))
            .client_ca_root(Certificate::from_pem(f.ca))
    }))
}

/// The client TLS towards agents and monitors, None for plain sockets.
pub fn client_tls(config: &Config) -> Result<Option<ClientTlsConfig>, TlsError> {
    Ok(files(config)?.map(|f| {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(f.ca))
            .identity(Identity::from_pem(f.cert, f.key))
    }))
}

/// `http://addr` or `https://addr` depending on TLS.
pub fn url(addr: &str, tls: bool) -> String {
    if tls {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    }
}
