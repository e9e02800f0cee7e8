//! Mutual TLS for every hop — Peer (Raft and observations), Control, Agent — from the config's
//! `<socket type ssl>`: the one TLS loader of the three programs.
//!
//! The PEM files are read once into rustls configurations (with ring, the project's one
//! crypto provider) and again only on [`Tls::reload`] (SIGHUP in the daemons, see
//! [`reload_on_sighup`]). Servers take the configuration current at each new connection and
//! require a client certificate signed by `ca_file`; clients present `cert_file` and verify
//! the server's certificate against `ca_file` for the address they dial. Connections made
//! before a reload keep the certificates they were made with.

mod client;
pub(crate) mod server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use mmm_core::config::{Config, SocketType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

pub use client::{Connector, bounded_lazy_channel, connect_channel, lazy_channel};
pub use server::{ServeError, serve};

/// HTTP/2, the only protocol gRPC speaks (negotiated with ALPN).
const ALPN_H2: &[u8] = b"h2";

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// `<socket> type ssl` without one of its files.
    #[error("<socket> type ssl needs {0}")]
    Missing(&'static str),
    /// A file could not be read or holds no usable PEM data.
    #[error("can't use {what} {path}: {why}")]
    File {
        /// Which file (`cert_file`, `key_file`, `ca_file`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// rustls refused the combination (e.g. the key does not match the certificate).
    #[error("TLS setup with {cert} and {key} failed: {why}")]
    Setup {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        why: String,
    },
}

/// The three PEM files of `<socket type ssl>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `ca_file`: the CA that signs every monitor's, agent's and client's certificate.
    pub ca: PathBuf,
    /// `cert_file`: this program's certificate (chain).
    pub cert: PathBuf,
    /// `key_file`: its private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// The files `config` names, `None` for `<socket type plain>` (or no `<socket>`).
    pub fn from_config(config: &Config) -> Result<Option<TlsFiles>, TlsError> {
        let socket = &config.socket;
        if socket.kind != SocketType::Ssl {
            return Ok(None);
        }
        let need = |p: &Option<PathBuf>, what| p.clone().ok_or(TlsError::Missing(what));
        Ok(Some(TlsFiles {
            ca: need(&socket.ca_file, "ca_file")?,
            cert: need(&socket.cert_file, "cert_file")?,
            key: need(&socket.key_file, "key_file")?,
        }))
    }
}

/// The rustls configurations built from one reading of the files.
#[derive(Debug)]
struct Material {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// Mutual TLS settings shared by every server and client of one process; clones share them,
/// and [`Tls::reload`] replaces them for every new connection.
#[derive(Debug, Clone)]
pub struct Tls {
    files: Arc<TlsFiles>,
    current: Arc<RwLock<Arc<Material>>>,
}

impl Tls {
    /// Reads `files` and builds the server and client configurations.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let material = Material::read(&files)?;
        Ok(Tls {
            files: Arc::new(files),
            current: Arc::new(RwLock::new(Arc::new(material))),
        })
    }

    /// [`Tls::load`] of the files `config` names; `None` for plain sockets.
    pub fn from_config(config: &Config) -> Result<Option<Tls>, TlsError> {
        TlsFiles::from_config(config)?.map(Tls::load).transpose()
    }

    /// Reads the files again; on success new connections use them, on failure the settings
    /// loaded before stay in force and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        let material = Material::read(&self.files)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(material);
        Ok(())
    }

    /// The files these settings come from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    fn material(&self) -> Arc<Material> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The server configuration for a connection accepted now.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.material().server.clone()
    }

    /// The client configuration for a connection made now.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.material().client.clone()
    }
}

impl Material {
    fn read(files: &TlsFiles) -> Result<Material, TlsError> {
        let certs = certificates(&files.cert, "cert_file")?;
        let key = private_key(&files.key)?;
        let roots = Arc::new(roots(&files.ca)?);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let setup = |why: String| TlsError::Setup {
            cert: files.cert.clone(),
            key: files.key.clone(),
            why,
        };
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| setup(e.to_string()))?;
        server.alpn_protocols = vec![ALPN_H2.to_vec()];
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| setup(e.to_string()))?;
        client.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Material {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

fn file_error(what: &'static str, path: &Path, why: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("key_file", path, e))
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, "ca_file")? {
        roots
            .add(cert)
            .map_err(|e| file_error("ca_file", path, e))?;
    }
    Ok(roots)
}

/// Reloads `tls` on every SIGHUP, logging the outcome; runs until the process ends. Without
/// TLS, a SIGHUP is logged and otherwise ignored (instead of ending the process).
pub fn reload_on_sighup(tls: Option<Tls>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(hup) => hup,
            Err(e) => {
                tracing::error!(
                    "Couldn't install the SIGHUP handler ({e}): certificates can't be reloaded"
                );
                return;
            }
        };
        while hup.recv().await.is_some() {
            match &tls {
                None => tracing::info!("SIGHUP received: nothing to reload (<socket> type plain)"),
                Some(tls) => log_reload(tls),
            }
        }
    })
}

fn log_reload(tls: &Tls) {
    let f = tls.files();
    match tls.reload() {
        Ok(()) => tracing::info!(
            "Reloaded TLS certificates ({}, {}, {}); new connections use them",
            f.cert.display(),
            f.key.display(),
            f.ca.display()
        ),
        Err(e) => tracing::error!(
            "Couldn't reload TLS certificates: {e}; the certificates loaded before stay in use"
        ),
    }
}
