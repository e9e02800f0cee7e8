//! The connecting side: gRPC channels whose every new connection is made with the client
//! configuration current at that moment (so a reload reaches reconnects without rebuilding
//! the channels), verifying the server's certificate for the address dialled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::codegen::http::Uri;
use tonic::transport::{Channel, Endpoint};

use super::Tls;

/// A tower connector for tonic's [`Endpoint::connect_with_connector`]: TCP, then a TLS
/// handshake with this process's certificate. The endpoint's URI stays `http://HOST:PORT`
/// (TLS is below HTTP/2 here); its connect timeout bounds TCP and handshake together.
#[derive(Debug, Clone)]
pub struct Connector {
    tls: Tls,
}

impl Connector {
    /// A connector using `tls`'s settings at the time of each connection.
    pub fn new(tls: Tls) -> Self {
        Connector { tls }
    }
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<TokioIo<TlsStream<TcpStream>>, std::io::Error>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.tls.client_config();
        Box::pin(async move {
            let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
            let host = uri
                .host()
                .ok_or_else(|| invalid(format!("{uri} names no host")))?;
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri
                .port_u16()
                .ok_or_else(|| invalid(format!("{uri} names no port")))?;
            let name = ServerName::try_from(host.clone())
                .map_err(|e| invalid(format!("{host} is not a host name or address: {e}")))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream = TlsConnector::from(config).connect(name, tcp).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// A channel that connects on first use (and reconnects after a failure): over mutual TLS
/// with `tls`, plain TCP without.
pub fn lazy_channel(endpoint: Endpoint, tls: Option<&Tls>) -> Channel {
    match tls {
        Some(tls) => endpoint.connect_with_connector_lazy(Connector::new(tls.clone())),
        None => endpoint.connect_lazy(),
    }
}

/// A lazily connecting channel to `addr` (`host:port`, or a URI) with per-connection and
/// per-call bounds. Always `http://`: TLS, when on, is done below HTTP/2 by the connector.
pub fn bounded_lazy_channel(
    addr: &str,
    tls: Option<&Tls>,
    connect_timeout: std::time::Duration,
    call_timeout: std::time::Duration,
) -> Result<Channel, tonic::transport::Error> {
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let endpoint = Endpoint::from_shared(uri)?
        .connect_timeout(connect_timeout)
        .timeout(call_timeout)
        .tcp_nodelay(true);
    Ok(lazy_channel(endpoint, tls))
}

/// A channel connected now (bounded by the endpoint's connect timeout): over mutual TLS with
/// `tls`, plain TCP without.
pub async fn connect_channel(
    endpoint: Endpoint,
    tls: Option<&Tls>,
) -> Result<Channel, tonic::transport::Error> {
    match tls {
        Some(tls) => {
            endpoint
                .connect_with_connector(Connector::new(tls.clone()))
                .await
        }
        None => endpoint.connect().await,
    }
}
