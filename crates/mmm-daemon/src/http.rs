//! The daemons' HTTP endpoints (`/metrics`, health checks for load balancers, the status
//! page) share one way of serving: HTTP/1.1, one request per connection, each connection in a
//! task of its own with a deadline for its headers and for its whole life, a bound on how many
//! are open at once, and a bound on every handler. A slow or hostile client costs one slot
//! for a few seconds and delays nobody else. With `<socket type ssl>` the port speaks the
//! same mutual TLS as the gRPC services, handshaken as [`crate::tls`] does for them.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::tls::Tls;

/// How long one handler may take before the request is answered 503.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one connection may stay open in all.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; further ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;
/// Request headers larger than this are answered 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// TLS connections handshaken and waiting to be served.
const READY_BACKLOG: usize = 64;

/// A plain-text answer, the form every error and health verdict takes.
pub fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// A JSON answer with status 200.
pub fn json(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The Prometheus exposition `body` with its content type, or a 500 naming what failed.
pub fn exposition(body: Result<String, std::fmt::Error>) -> Response {
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("ERROR: {e}\n")),
    }
}

/// Answers every request within [`HANDLER_TIMEOUT`].
async fn bounded(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(HANDLER_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR: request timed out\n",
        ),
    }
}

/// `router` with every handler bounded in time and unknown paths answered 404 with the
/// list of known ones (`paths`, e.g. "/metrics, /health").
pub fn finish(router: Router, paths: &'static str) -> Router {
    router
        .fallback(move || async move {
            text(
                StatusCode::NOT_FOUND,
                format!("ERROR: unknown path; try {paths}\n"),
            )
        })
        .layer(axum::middleware::from_fn(bounded))
}

/// Binds `addr` now (so a taken port fails the start) and returns the server to spawn.
pub async fn bind(
    addr: std::net::SocketAddr,
    tls: Option<Tls>,
    app: Router,
) -> std::io::Result<impl Future<Output = ()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(serve(listener, tls, app))
}

/// Serves `app` on `listener` until dropped: plain HTTP without `tls`, mutual TLS with it.
pub async fn serve(listener: TcpListener, tls: Option<Tls>, app: Router) {
    let slots = std::sync::Arc::new(Semaphore::new(MAX_CONNECTIONS));
    match tls {
        None => loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let app = app.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        connection(tcp, app).await;
                    });
                }
                Err(e) => {
                    tracing::warn!("HTTP: accepting a connection failed: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        },
        Some(tls) => {
            let (ready, mut incoming) = mpsc::channel(READY_BACKLOG);
            let acceptor = tokio::spawn(crate::tls::server::accept(listener, tls, "HTTP", ready));
            while let Some(stream) = incoming.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let Ok(stream) = stream else { continue };
                let app = app.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    connection(stream, app).await;
                });
            }
            acceptor.abort();
        }
    }
}

/// Serves the one request of a connection, within the header and connection deadlines.
async fn connection<S>(io: S, app: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), service);
    match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("HTTP connection ended: {e}"),
        Err(_) => tracing::debug!(
            "HTTP connection closed after {} s",
            CONNECTION_TIMEOUT.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start() -> std::net::SocketAddr {
        let app = finish(Router::new().route("/ok", get(|| async { "ok" })), "/ok");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(serve(listener, None, app));
        addr
    }

    async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(request).await.expect("send");
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out));
        read.await.expect("the server closes").expect("read");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off_and_costs_others_nothing() {
        let addr = start().await;
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("send half a request");
        // Another client is served while the slow one holds its connection.
        let reply = exchange(addr, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            reply.contains("connection: close"),
            "one request per connection: {reply}"
        );
        // The slow one is closed once the header deadline passes, well before the
        // connection's own deadline would close it.
        let within = HEADER_TIMEOUT + Duration::from_secs(2);
        assert!(within < CONNECTION_TIMEOUT);
        let mut out = Vec::new();
        let closed = tokio::time::timeout(within, slow.read_to_end(&mut out)).await;
        assert!(
            closed.is_ok(),
            "the slow connection stays open past the deadline"
        );
    }

    #[tokio::test]
    async fn unknown_paths_name_the_known_ones_and_garbage_gets_400() {
        let addr = start().await;
        let reply = exchange(addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
        assert!(reply.ends_with("ERROR: unknown path; try /ok\n"), "{reply}");
        let reply = exchange(addr, b"\x16\x03\x01 not http at all\r\n\r\n").await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    }
}
