//! The agent's HTTP endpoints for load balancers and monitoring, off unless the host has an
//! `http_port`: `GET /writer`, `GET /reader[?max_lag=N]`, `GET /replica[?max_lag=N]`,
//! `GET /health` and `GET /metrics`.
//! Handlers only read the snapshot the driver publishes on its watch channel, so they never
//! wait on MySQL or the driver and never touch the driver's state.

mod metrics;
mod view;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mmm_core::agent::Mono;
use mmm_daemon::http::{exposition, json, text};
use tokio::sync::watch;

use crate::driver::Snapshot;
pub use view::Facts;

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
    lag_checked(&s, query.as_deref(), "reader", view::reader_ok)
}

async fn replica(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    lag_checked(&s, query.as_deref(), "replica", view::replica_ok)
}

/// A `?max_lag=` endpoint: 400 on a bad query, else `ok`'s verdict.
fn lag_checked(
    s: &Shared,
    query: Option<&str>,
    what: &str,
    ok: fn(&Facts, &Snapshot, Option<u64>) -> bool,
) -> Response {
    let max_lag = match view::parse_lag_query(query) {
        Ok(m) => m,
        Err(why) => return text(StatusCode::BAD_REQUEST, format!("ERROR: {why}\n")),
    };
    let (snap, _) = s.now();
    verdict(ok(&s.facts, &snap, max_lag), what)
}

async fn health(State(s): State<Shared>) -> Response {
    let (snap, now) = s.now();
    json(view::health(&s.facts, &snap, now).to_string())
}

async fn metrics(State(s): State<Shared>) -> Response {
    let (snap, now) = s.now();
    exposition(metrics::render(&s.facts, &snap, now))
}

/// The endpoints over `snapshot`.
pub fn router(facts: Facts, snapshot: watch::Receiver<Snapshot>) -> Router {
    let routes = Router::new()
        .route("/writer", get(writer))
        .route("/reader", get(reader))
        .route("/replica", get(replica))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(Shared { facts, snapshot });
    mmm_daemon::http::finish(routes, "/writer, /reader, /replica, /health, /metrics")
}

/// Binds `addr` now (so a taken port fails the start) and returns the server to spawn;
/// mutual TLS with `tls`.
pub async fn bind(
    addr: SocketAddr,
    tls: Option<mmm_daemon::tls::Tls>,
    facts: Facts,
    snapshot: watch::Receiver<Snapshot>,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    mmm_daemon::http::bind(addr, tls, router(facts, snapshot)).await
}

#[cfg(test)]
mod tests;
