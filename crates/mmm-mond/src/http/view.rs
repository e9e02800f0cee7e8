//! One reading of everything the endpoints show, taken at once so a scrape or a health
//! answer never mixes two moments, and the `/health` JSON made from it.

use mmm_core::checks::CheckKind;
use mmm_core::state::{ClusterState, HostState};
use openraft::ServerState;
use serde_json::{Value, json};

use super::Sources;
use crate::local_checks::LocalView;

/// This monitor's view at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// This monitor's node name.
    pub monitor: String,
    /// Names of every configured host, in config-file order.
    pub hosts: Vec<String>,
    /// Raft role: Leader, Follower, Candidate, Learner or Shutdown.
    pub raft_state: &'static str,
    /// Raft term.
    pub term: u64,
    /// The leader this monitor knows of, by node name (its id when the config lacks it).
    pub leader: Option<String>,
    /// Last log index this monitor holds.
    pub last_log_index: Option<u64>,
    /// Index of the last entry applied to the replicated state (never above the commit index).
    pub applied_index: Option<u64>,
    /// On the leader: milliseconds since a quorum last acknowledged it.
    pub quorum_ack_ms: Option<u64>,
    /// The replicated cluster state as last applied (None before the first entry).
    pub cluster: Option<ClusterState>,
    /// This monitor's own check table.
    pub local: LocalView,
    /// The Raft members in this monitor's membership, by id.
    pub members: Vec<Member>,
}

/// One Raft member as this monitor's metrics list it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// Raft node id.
    pub id: u64,
    /// Node name from the config (its id when the config lacks it).
    pub name: String,
    /// Its Raft address as the membership records it.
    pub address: String,
    /// A voter (else a learner).
    pub voter: bool,
    /// On the leader: the last log index replicated to it.
    pub matched: Option<u64>,
    /// From this monitor: "self", "reachable", "unreachable" or "unknown".
    pub reachability: &'static str,
    /// Milliseconds since a Raft message last went through with it.
    pub last_contact_ms: Option<u64>,
    /// Why sending to it fails, while it does ("" otherwise).
    pub error: String,
}

fn state_name(s: ServerState) -> &'static str {
    match s {
        ServerState::Leader => "Leader",
        ServerState::Follower => "Follower",
        ServerState::Candidate => "Candidate",
        ServerState::Learner => "Learner",
        ServerState::Shutdown => "Shutdown",
    }
}

/// Reads every source once.
pub(super) fn snapshot(s: &Sources) -> Snapshot {
    let m = s.metrics.borrow().clone();
    let node_name = |id: u64| {
        s.config
            .monitor_nodes
            .iter()
            .find(|n| n.id == id)
            .map_or_else(|| id.to_string(), |n| n.name.clone())
    };
    Snapshot {
        monitor: node_name(s.me),
        hosts: s.config.hosts.iter().map(|h| h.name.clone()).collect(),
        raft_state: state_name(m.state),
        term: m.current_term,
        leader: m.current_leader.map(node_name),
        last_log_index: m.last_log_index,
        applied_index: m.last_applied.map(|l| l.index),
        quorum_ack_ms: m.millis_since_quorum_ack,
        cluster: s.state.with_state(|st| st.cluster().cloned()),
        local: s.local.borrow().clone(),
        members: members(&m, s, node_name),
    }
}

fn members(m: &crate::raft::Metrics, s: &Sources, name: impl Fn(u64) -> String) -> Vec<Member> {
    let membership = m.membership_config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    membership
        .nodes()
        .map(|(id, node)| {
            let contact =
                crate::cluster_status::member_contact(m, s.me, *id, &s.health, s.stale_after);
            Member {
                id: *id,
                name: name(*id),
                address: node.addr.clone(),
                voter: voters.contains(id),
                matched: crate::raft::matched_index(m, *id),
                reachability: contact.reachability,
                last_contact_ms: contact.last_contact_ms,
                error: contact.error,
            }
        })
        .collect()
}

/// What the replicated state says of host `name`: state, roles (sorted), agent reachability
/// and flapping; one rendering for `/health` and the status page.
pub(super) fn host_status(snap: &Snapshot, name: &str) -> serde_json::Map<String, Value> {
    let status = snap.cluster.as_ref().and_then(|c| c.host(name));
    let mut roles: Vec<String> = status.map_or_else(Vec::new, |h| {
        h.roles.iter().map(ToString::to_string).collect()
    });
    roles.sort();
    let mut fields = serde_json::Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert(
        "state".into(),
        json!(status.map_or(HostState::Unknown, |h| h.state).as_str()),
    );
    fields.insert("roles".into(), json!(roles));
    fields.insert(
        "agent_down".into(),
        json!(status.is_some_and(|h| h.agent_down)),
    );
    fields.insert("flapping".into(), json!(status.is_some_and(|h| h.flapping)));
    fields
}

fn host_json(snap: &Snapshot, name: &str) -> Value {
    let checks: serde_json::Map<String, Value> = CheckKind::ALL
        .iter()
        .filter_map(|k| {
            let c = snap.local.table.get(name, *k)?;
            Some((
                k.as_str().to_owned(),
                json!({"ok": c.ok, "message": c.message}),
            ))
        })
        .collect();
    let mut fields = host_status(snap, name);
    fields.insert("checks".into(), Value::Object(checks));
    Value::Object(fields)
}

/// This monitor's Raft position: role, term, leader, log and applied index, quorum age.
pub(super) fn raft_json(snap: &Snapshot) -> Value {
    json!({
        "state": snap.raft_state,
        "term": snap.term,
        "leader": snap.leader,
        "last_log_index": snap.last_log_index,
        "applied_index": snap.applied_index,
        "quorum_ack_ms": snap.quorum_ack_ms,
    })
}

/// The `/health` body: Raft, the replicated state and this monitor's checks.
pub(super) fn health(snap: &Snapshot) -> Value {
    let cluster = snap.cluster.as_ref();
    json!({
        "monitor": snap.monitor,
        "raft": raft_json(snap),
        "epoch": cluster.map_or(0, |c| c.epoch),
        "mode": cluster.map(|c| c.mode.as_str()),
        "writer_release_pending": cluster.and_then(|c| c.writer_release.as_ref()).map(|r| r.host.clone()),
        "network_ok": snap.local.network_ok,
        "hosts": snap.hosts.iter().map(|h| host_json(snap, h)).collect::<Vec<_>>(),
    })
}
