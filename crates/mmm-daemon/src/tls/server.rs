//! The accepting side: each TCP connection is handshaken with the server configuration
//! current at that moment, in a task of its own (bounded in number and time) so a slow or
//! hostile client delays only itself; a refused handshake is logged, once per streak and
//! client address.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{Router, TcpIncoming};

use super::Tls;
use crate::repeats::{OnFailure, Repeats, suppressed_note};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Handshakes in progress at once; further connections wait to be accepted.
const MAX_HANDSHAKES: usize = 128;
/// Handshaken connections waiting for the gRPC server to take them.
const READY_BACKLOG: usize = 64;
/// Refusals of one client address are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why a gRPC server stopped.
pub type ServeError = tonic::transport::Error;

/// Serves `router` on `listener` until `shutdown` completes: plain TCP without `tls`, mutual
/// TLS with it. `service` names the service in log lines ("Peer", "Control", "Agent").
pub async fn serve<F>(
    router: Router,
    listener: TcpListener,
    tls: Option<Tls>,
    service: &'static str,
    shutdown: F,
) -> Result<(), ServeError>
where
    F: Future<Output = ()>,
{
    match tls {
        None => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
        }
        Some(tls) => {
            let (ready, incoming) = mpsc::channel(READY_BACKLOG);
            let acceptor = tokio::spawn(accept(listener, tls, service, ready));
            let served = router
                .serve_with_incoming_shutdown(ReceiverStream::new(incoming), shutdown)
                .await;
            acceptor.abort();
            served
        }
    }
}

pub(crate) type Ready = mpsc::Sender<Result<TlsStream<TcpStream>, std::io::Error>>;

/// Accepts connections until the server drops its end of `ready`.
pub(crate) async fn accept(listener: TcpListener, tls: Tls, service: &'static str, ready: Ready) {
    let refusals: Arc<Repeats<IpAddr>> = Arc::new(Repeats::new(REFUSAL_LOG_EVERY));
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("{service} service: accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = ready.closed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(tls.server_config());
        let (ready, refusals) = (ready.clone(), refusals.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    refusals.success(&peer.ip(), Instant::now());
                    let _ = ready.send(Ok(stream)).await;
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no TLS handshake within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            };
            log_refusal(&refusals, service, peer, &why);
        });
    }
}

fn log_refusal(refusals: &Repeats<IpAddr>, service: &str, peer: SocketAddr, why: &str) {
    let note = match refusals.failure(&peer.ip(), Instant::now()) {
        OnFailure::Quiet => return,
        OnFailure::First => String::new(),
        OnFailure::Repeat { suppressed, .. } => suppressed_note(suppressed),
    };
    let hint = hint(why);
    tracing::warn!("Refused a connection to the {service} service from {peer}: {why}{hint}{note}");
}

/// What an operator should check for a handshake failure, as far as the reason tells.
fn hint(why: &str) -> &'static str {
    if why.contains("invalid peer certificate") || why.contains("no certificates") {
        " (clients need a certificate signed by this host's ca_file)"
    } else if why.contains("received fatal alert") {
        " (the client does not accept this host's certificate: check its ca_file)"
    } else if why.contains("corrupt message") || why.contains("InvalidContentType") {
        " (the client speaks plain TCP: set <socket> type ssl on it)"
    } else {
        ""
    }
}
