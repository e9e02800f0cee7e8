//! The status page: one HTML file, its stylesheet and its script (served as they are, no build
//! step), and `GET /status`, the JSON document the script fetches every second to redraw the
//! page without reloading it. The document is this monitor's view at one moment: the `show`
//! table exactly as mmmctl prints it, the same hosts as fields, this monitor's checks, the Raft
//! members and leader, and the newest history entries.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mmm_core::checks::CheckKind;
use mmm_core::config::Config;
use mmm_core::state::ClusterState;
use mmm_core::time::Timestamp;
use serde_json::{Value, json};

use super::view::Snapshot;

/// How many history entries the page lists, newest first.
pub const HISTORY_SHOWN: usize = 20;

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/status.js");
const STYLE: &str = include_str!("page/status.css");

/// Only this origin's own files may run or style the page; nothing may frame it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /status.js`: the script that fills the page from `/status`.
pub fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /status.css`: the page's stylesheet.
pub fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The `/status` document of `snap` under `config`, stamped `now`.
pub fn document(snap: &Snapshot, config: &Config, now: Timestamp) -> Value {
    let cluster = snap.cluster.as_ref();
    json!({
        "monitor": snap.monitor,
        "generated_at_ms": now.as_millis(),
        "raft": raft(snap),
        "started": cluster.is_some_and(|c| c.started),
        "epoch": cluster.map(|c| c.epoch),
        "mode": cluster.map(|c| c.mode.as_str()),
        "show": cluster.map_or_else(String::new, |c| show_text(c, config, &snap.monitor)),
        "hosts": hosts(snap, config),
        "network_ok": snap.local.network_ok,
        "checks": checks(snap),
        "history": cluster.map_or_else(Vec::new, history),
    })
}

/// `show` as mmmctl prints it from this state.
fn show_text(cluster: &ClusterState, config: &Config, monitor: &str) -> String {
    let reply = crate::show::reply(cluster, config, monitor.to_owned());
    mmm_core::render::render_show(&mmm_proto::convert::show_view(&reply))
}

fn raft(snap: &Snapshot) -> Value {
    let members: Vec<Value> = snap
        .members
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "name": m.name,
                "address": m.address,
                "voter": m.voter,
                "leader": snap.leader.as_deref() == Some(m.name.as_str()),
                "this": m.name == snap.monitor,
                "matched": m.matched,
                "reachability": m.reachability,
                "last_contact_ms": m.last_contact_ms,
                "error": m.error,
            })
        })
        .collect();
    let mut raft = super::view::raft_json(snap);
    raft["members"] = Value::Array(members);
    raft
}

fn hosts(snap: &Snapshot, config: &Config) -> Vec<Value> {
    config
        .hosts
        .iter()
        .map(|h| {
            let mut fields = super::view::host_status(snap, &h.name);
            fields.insert("ip".into(), json!(h.ip.to_string()));
            fields.insert("mode".into(), json!(h.mode.as_str()));
            Value::Object(fields)
        })
        .collect()
}

fn checks(snap: &Snapshot) -> Vec<Value> {
    snap.hosts
        .iter()
        .map(|host| {
            let of_host: serde_json::Map<String, Value> = CheckKind::ALL
                .iter()
                .map(|k| {
                    let value = snap.local.table.get(host, *k).map_or(Value::Null, |c| {
                        json!({
                            "ok": c.ok,
                            "message": c.message,
                            "last_change_ms": c.last_change.as_millis(),
                        })
                    });
                    (k.as_str().to_owned(), value)
                })
                .collect();
            json!({"host": host, "checks": of_host})
        })
        .collect()
}

fn history(cluster: &ClusterState) -> Vec<Value> {
    cluster
        .history
        .iter()
        .rev()
        .take(HISTORY_SHOWN)
        .map(|e| json!({"epoch": e.epoch, "at_ms": e.at.as_millis(), "line": e.line}))
        .collect()
}
