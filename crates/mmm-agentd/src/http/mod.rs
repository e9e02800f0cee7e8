//! The agent's HTTP endpoints for load balancers and monitoring, off unless the host has an
//! `http_port`: `GET /writer`, `GET /reader[?max_lag=N]`, `GET /health` and `GET /metrics`.
//! Handlers only read the snapshot the driver publishes on its watch channel, so they never
//! wait on MySQL or the driver and never touch the driver's state.

mod metrics;
mod view;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mmm_core::agent::Mono;
use tokio::sync::watch;

use crate::driver::Snapshot;
pub use view::Facts;

/// How long one request may take before it is answered 503.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Shared {
    facts: Facts,
    snapshot: watch::Receiver<Snapshot>,
}

impl Shared {
    fn now(&self) -> (Snapshot, Mono) {
        (self.snapshot.borrow().clone(), crate::clock::now())
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

fn verdict(ok: bool, what: &str) -> Response {
    if ok {
        text(StatusCode::OK, format!("OK: {what}\n"))
    } else {
        text(StatusCode::SERVICE_UNAVAILABLE, format!("NOT: {what}\n"))
    }
}

async fn writer(State(s): State<Shared>) -> Response {
    let (snap, now) = s.now();
    verdict(view::writer_ok(&s.facts, &snap, now), "writer")
}

async fn reader(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let max_lag = match view::parse_reader_query(query.as_deref()) {
        Ok(m) => m,
        Err(why) => return text(StatusCode::BAD_REQUEST, format!("ERROR: {why}\n")),
    };
    let (snap, _) = s.now();
    verdict(view::reader_ok(&s.facts, &snap, max_lag), "reader")
}

async fn health(State(s): State<Shared>) -> Response {
    let (snap, now) = s.now();
    let body = view::health(&s.facts, &snap, now).to_string();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn metrics(State(s): State<Shared>) -> Response {
    let (snap, now) = s.now();
    match metrics::render(&s.facts, &snap, now) {
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

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "ERROR: unknown path; try /writer, /reader, /health, /metrics\n",
    )
}

/// Every request is answered within [`HANDLER_TIMEOUT`].
async fn bounded(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(HANDLER_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "ERROR: request timed out\n",
        ),
    }
}

/// The endpoints over `snapshot`.
pub fn router(facts: Facts, snapshot: watch::Receiver<Snapshot>) -> Router {
    Router::new()
        .route("/writer", get(writer))
        .route("/reader", get(reader))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(bounded))
        .with_state(Shared { facts, snapshot })
}

/// Binds `addr` now (so a taken port fails the start) and returns the server to spawn.
pub async fn bind(
    addr: SocketAddr,
    facts: Facts,
    snapshot: watch::Receiver<Snapshot>,
) -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = router(facts, snapshot);
    Ok(async move { axum::serve(listener, app).await })
}

#[cfg(test)]
mod tests;
