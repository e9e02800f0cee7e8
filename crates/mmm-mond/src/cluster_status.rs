//! `ClusterStatus` and the membership checks of `cluster add` / `cluster remove`.
//!
//! `ClusterStatus` is this monitor's own view of the Raft cluster — leader, term, log
//! positions, and per member its Control address, vote, replication progress (leader only,
//! from openraft's replication metrics) and this monitor's contact with it (from the Peer
//! network's records: openraft 0.9 exposes no per-member heartbeat times).

use std::net::SocketAddr;
use std::time::Duration;

use mmm_core::config::MonitorNode;
use mmm_proto::pb;

use crate::control::ControlService;
use crate::machine::MonitorState;
use crate::raft::PeerContact;

/// Contact older than this (and at least a second) makes a member "unreachable", in units
/// of the quorum-freshness window.
const STALE_WINDOWS: u32 = 3;

/// How old the last contact with a member may be for it to count as reachable.
pub fn stale_after(quorum_age: Duration) -> Duration {
    (quorum_age * STALE_WINDOWS).max(Duration::from_secs(1))
}

/// The reply of `ClusterStatus` from this monitor.
pub fn local_view(s: &ControlService) -> pb::ClusterStatusReply {
    let m = s.metrics.borrow().clone();
    let membership = m.membership_config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let stale = stale_after(s.timing.quorum_age);
    let members = membership
        .nodes()
        .map(|(id, n)| {
            let contact = member_contact(&m, s.me, *id, &s.health, stale);
            pb::MemberView {
                id: *id,
                name: s.node_name(*id).unwrap_or_default(),
                // mmmctl's address for the member: its Control service from the config
                // (the Raft address only for a member the config does not name).
                address: s
                    .config
                    .monitor_nodes
                    .iter()
                    .find(|node| node.id == *id)
                    .map_or_else(
                        || n.addr.clone(),
                        |node| SocketAddr::new(node.ip, node.port).to_string(),
                    ),
                voter: voters.contains(id),
                matched: crate::raft::matched_index(&m, *id),
                reachability: contact.reachability.to_owned(),
                last_contact_ms: contact.last_contact_ms,
                error: contact.error,
            }
        })
        .collect();
    pb::ClusterStatusReply {
        leader_id: m.current_leader.unwrap_or(0),
        leader_name: m
            .current_leader
            .and_then(|id| s.node_name(id))
            .unwrap_or_default(),
        term: m.current_term,
        last_applied: m.last_applied.map_or(0, |l| l.index),
        last_log: m.last_log_index.unwrap_or(0),
        members,
        epoch: s.state.with_state(MonitorState::epoch),
        this_id: s.me,
    }
}

/// Why `cluster add` of `node` is refused: it is a voter already (`None`: go ahead, also
/// for a learner, which the add promotes).
pub fn refuse_add(s: &ControlService, node: &MonitorNode) -> Option<pb::CommandReply> {
    is_voter(s, node.id).then(|| pb::CommandReply {
        text: format!(
            "ERROR: Monitor '{}' is already a member of the cluster.",
            node.name
        ),
        ok: false,
    })
}

/// Why `cluster remove` of `node` is refused: it is not a member (`None`: go ahead).
pub fn refuse_remove(s: &ControlService, node: &MonitorNode) -> Option<pb::CommandReply> {
    let member = s
        .metrics
        .borrow()
        .membership_config
        .membership()
        .get_node(&node.id)
        .is_some();
    (!member).then(|| pb::CommandReply {
        text: format!(
            "ERROR: Monitor '{}' is not a member of the cluster.",
            node.name
        ),
        ok: false,
    })
}

fn is_voter(s: &ControlService, id: u64) -> bool {
    s.metrics
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .any(|v| v == id)
}

/// This monitor's contact with one member, as `cluster status` and the status page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberContact {
    /// "self", "reachable", "unreachable" or "unknown".
    pub reachability: &'static str,
    /// Milliseconds since a Raft message last went through with it.
    pub last_contact_ms: Option<u64>,
    /// Why sending to it fails, while it does ("" otherwise).
    pub error: String,
}

/// The contact of node `me` (metrics `m`) with member `id`, from the Peer network's records;
/// a contact older than `stale` is a failure only from a member that should be talking.
pub fn member_contact(
    m: &crate::raft::Metrics,
    me: u64,
    id: u64,
    health: &crate::raft::PeerHealth,
    stale: Duration,
) -> MemberContact {
    let contact = health.contact(id);
    MemberContact {
        reachability: reachability(id == me, expects_contact(m, id), &contact, stale),
        last_contact_ms: contact.last_contact.map(millis),
        error: contact.failing.map(|(_, why)| why).unwrap_or_default(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether this node (metrics `m`) exchanges Raft messages with member `id` all the time: a
/// leader with every member, a follower only with its leader.
fn expects_contact(m: &crate::raft::Metrics, id: u64) -> bool {
    m.state == openraft::ServerState::Leader || m.current_leader == Some(id)
}

/// "self", "reachable", "unreachable" or "unknown" (see control.proto's `MemberView`). A
/// member this node does not expect to hear from (`expects` false: a follower and another
/// follower) is "unknown" once its last contact is old, unless sending to it fails.
fn reachability(
    is_self: bool,
    expects: bool,
    contact: &PeerContact,
    stale: Duration,
) -> &'static str {
    if is_self {
        return "self";
    }
    if contact.failing.is_some() {
        return "unreachable";
    }
    match contact.last_contact {
        Some(ago) if ago <= stale => "reachable",
        Some(_) if expects => "unreachable",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachability_follows_failures_and_the_age_of_the_last_contact() {
        let stale = Duration::from_secs(2);
        let contact = |last: Option<u64>, failing: bool| PeerContact {
            last_contact: last.map(Duration::from_millis),
            failing: failing.then(|| (Duration::from_secs(1), "connection refused".to_owned())),
        };
        for expects in [true, false] {
            let r = |last, failing| reachability(false, expects, &contact(last, failing), stale);
            assert_eq!(
                reachability(true, expects, &contact(None, true), stale),
                "self"
            );
            assert_eq!(r(Some(100), false), "reachable");
            assert_eq!(r(Some(100), true), "unreachable");
            assert_eq!(r(None, true), "unreachable");
            assert_eq!(r(None, false), "unknown");
        }
        // Silence is a failure only from a member that should be talking: a follower hears
        // the leader all the time, another follower never.
        let old = contact(Some(5000), false);
        assert_eq!(reachability(false, true, &old, stale), "unreachable");
        assert_eq!(reachability(false, false, &old, stale), "unknown");
    }
}
