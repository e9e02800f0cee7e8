//! The monitor's HTTP endpoints, off unless its node has an `http_port`: `GET /metrics`
//! (Prometheus), `GET /health` (this monitor's view as JSON) and the read-only status page
//! (`GET /` with its script and stylesheet, and `GET /status`, the JSON it redraws from). Handlers only read what
//! the monitor already publishes — Raft's metrics, the replicated state as last applied,
//! this monitor's own check table — so they never wait on the driver, Raft or MySQL.

mod metrics;
mod status;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use mmm_core::config::Config;
use mmm_daemon::http::{exposition, json};
use tokio::sync::watch;

use crate::local_checks::LocalView;
use crate::machine::MonitorState;
use crate::raft::{Metrics, NodeId, StateReader};
pub use view::Snapshot;

/// What the handlers read from; clones share the same sources.
#[derive(Clone)]
pub struct Sources {
    /// The cluster configuration (host and role names).
    pub config: Arc<Config>,
    /// This monitor's Raft id.
    pub me: NodeId,
    /// Raft's metrics as openraft last published them.
    pub metrics: watch::Receiver<Metrics>,
    /// The replicated state as last applied on this monitor.
    pub state: StateReader<MonitorState>,
    /// This monitor's own check table.
    pub local: watch::Receiver<LocalView>,
    /// The driver's counters (agent calls, observations received).
    pub counters: crate::counters::Counters,
    /// The Peer network's contact records, for each member's reachability.
    pub health: crate::raft::PeerHealth,
    /// Contact older than this makes a member unreachable.
    pub stale_after: std::time::Duration,
}

impl Sources {
    fn snapshot(&self) -> Snapshot {
        view::snapshot(self)
    }
}

async fn health(State(s): State<Sources>) -> Response {
    json(view::health(&s.snapshot()).to_string())
}

async fn metrics(State(s): State<Sources>) -> Response {
    exposition(metrics::render(&s.snapshot(), &s.counters))
}

async fn status(State(s): State<Sources>) -> Response {
    let doc = status::document(&s.snapshot(), &s.config, crate::checks::now());
    json(doc.to_string())
}

/// The endpoints over `sources`.
pub fn router(sources: Sources) -> Router {
    let routes = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/", get(|| async { status::page() }))
        .route("/status.js", get(|| async { status::script() }))
        .route("/status.css", get(|| async { status::style() }))
        .with_state(sources);
    mmm_daemon::http::finish(routes, "/, /status, /metrics, /health")
}

#[cfg(test)]
mod tests;
