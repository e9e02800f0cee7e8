//! The monitor's mutual TLS from `<socket type ssl>`: one [`Tls`] per monitor (files read
//! once at start and on SIGHUP, see `mmm_daemon::tls`) shared by the Peer and Control
//! servers and by every client — Raft RPCs, observation reports, forwarded Control calls and
//! agent calls.

use std::time::Duration;

use mmm_core::config::Config;
pub use mmm_daemon::tls::{Tls, TlsError};
use tonic::transport::{Channel, Endpoint};

/// The TLS settings `config` asks for, read now; `None` for plain sockets.
pub fn load(config: &Config) -> Result<Option<Tls>, TlsError> {
    Tls::from_config(config)
}

/// The endpoint for `addr` (`host:port`, or a URI): always `http://` because TLS, when on,
/// is done below HTTP/2 by the connector.
pub fn endpoint(addr: &str) -> Result<Endpoint, tonic::transport::Error> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    Endpoint::from_shared(uri)
}

/// A lazily connecting channel to `addr` with per-connection and per-call bounds.
pub fn lazy_channel(
    addr: &str,
    tls: Option<&Tls>,
    connect_timeout: Duration,
    call_timeout: Duration,
) -> Result<Channel, tonic::transport::Error> {
    mmm_daemon::tls::bounded_lazy_channel(addr, tls, connect_timeout, call_timeout)
}
