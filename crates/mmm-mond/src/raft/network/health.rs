//! What one node knows about reaching each peer: when a Raft message last went through in
//! either direction, and since when and why sending fails. It feeds `cluster status`
//! (reachability and last contact per member) and writes the one human log line per streak
//! of failures, e.g. `Can't reach monitor mon2 (10.213.7.22:9990): connection refused`,
//! repeated at most once a minute with a count, and a line when the peer answers again.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mmm_daemon::repeats::{OnFailure, Repeats, suppressed_note};

use crate::raft::types::NodeId;

/// A failing peer's line is repeated at most this often.
const REPEAT_EVERY: Duration = Duration::from_secs(60);

/// One peer as seen from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerContact {
    /// How long ago a Raft message last went through with it (sent and answered, or received).
    pub last_contact: Option<Duration>,
    /// Since how long and why sending to it fails, while it does.
    pub failing: Option<(Duration, String)>,
}

#[derive(Debug, Default)]
struct Peer {
    last_ok: Option<Instant>,
    failing: Option<(Instant, String)>,
}

/// Per-peer contact records of one node, shared by its network clients and its Peer service.
#[derive(Debug, Clone)]
pub struct PeerHealth {
    names: Arc<BTreeMap<NodeId, String>>,
    peers: Arc<Mutex<BTreeMap<NodeId, Peer>>>,
    repeats: Arc<Repeats<NodeId>>,
}

impl PeerHealth {
    /// Records for a node whose peers are called `names` in log lines (`monitor ID` otherwise).
    pub fn new(names: BTreeMap<NodeId, String>) -> Self {
        PeerHealth {
            names: Arc::new(names),
            peers: Arc::default(),
            repeats: Arc::new(Repeats::new(REPEAT_EVERY)),
        }
    }

    /// The monitor's name for log lines (its id when the config lacks it).
    pub(crate) fn name(&self, id: NodeId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, Peer>> {
        self.peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A message from `id` arrived (e.g. the leader's heartbeat on a follower). It also ends a
    /// recorded sending failure: a follower sends nothing to its leader, so a failure from
    /// before the leader was up (a refused vote request at start) would otherwise stand for
    /// good; a later failed send records a new one.
    pub fn heard_from(&self, id: NodeId) {
        let mut peers = self.lock();
        let peer = peers.entry(id).or_default();
        peer.last_ok = Some(Instant::now());
        peer.failing = None;
    }

    /// A message to `id` at `addr` was answered.
    pub fn sent(&self, id: NodeId, addr: &str) {
        let now = Instant::now();
        {
            let mut peers = self.lock();
            let peer = peers.entry(id).or_default();
            peer.last_ok = Some(now);
            peer.failing = None;
        }
        if let Some(r) = self.repeats.success(&id, now) {
            tracing::info!(
                "Monitor {} ({addr}) answers again after {:.1} s{}",
                self.name(id),
                r.failed_for.as_secs_f64(),
                suppressed_note(r.suppressed)
            );
        }
    }

    /// A message to `id` at `addr` failed in transport for `why` (a short human reason).
    pub fn failed(&self, id: NodeId, addr: &str, why: &str) {
        let now = Instant::now();
        {
            let mut peers = self.lock();
            let peer = peers.entry(id).or_default();
            match &mut peer.failing {
                Some((_, reason)) => why.clone_into(reason),
                None => peer.failing = Some((now, why.to_owned())),
            }
        }
        let name = self.name(id);
        match self.repeats.failure(&id, now) {
            OnFailure::Quiet => {}
            OnFailure::First => tracing::warn!("Can't reach monitor {name} ({addr}): {why}"),
            OnFailure::Repeat { suppressed, since } => tracing::warn!(
                "Still can't reach monitor {name} ({addr}) after {} s: {why}{}",
                now.saturating_duration_since(since).as_secs(),
                suppressed_note(suppressed)
            ),
        }
    }

    /// What this node knows about reaching `id`.
    pub fn contact(&self, id: NodeId) -> PeerContact {
        let now = Instant::now();
        let peers = self.lock();
        let Some(peer) = peers.get(&id) else {
            return PeerContact {
                last_contact: None,
                failing: None,
            };
        };
        PeerContact {
            last_contact: peer.last_ok.map(|t| now.saturating_duration_since(t)),
            failing: peer
                .failing
                .as_ref()
                .map(|(since, why)| (now.saturating_duration_since(*since), why.clone())),
        }
    }
}

/// A short human reason for a failed call: the innermost cause, e.g. `connection refused`,
/// `timed out`, `TLS: invalid peer certificate: UnknownIssuer`.
pub fn reason(status: &tonic::Status) -> String {
    let mut deepest: Option<&(dyn std::error::Error + 'static)> = None;
    let mut io: Option<&std::io::Error> = None;
    let mut source = status.source();
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return format!("TLS: {tls}");
        }
        if let Some(found) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = found
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return format!("TLS: {tls}");
            }
            io = Some(found);
        }
        deepest = Some(e);
        source = e.source();
    }
    match (io, deepest) {
        (Some(io), _) => io_reason(io),
        (None, Some(e)) => e.to_string(),
        (None, None) => match status.message() {
            "" => format!("{:?}", status.code()),
            m => m.to_owned(),
        },
    }
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        ErrorKind::ConnectionReset => "connection reset".to_owned(),
        ErrorKind::TimedOut => "timed out".to_owned(),
        ErrorKind::HostUnreachable => "host unreachable".to_owned(),
        ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_lowercase(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_tracks_the_last_success_and_the_current_failure() {
        let h = PeerHealth::new(BTreeMap::from([(2, "mon2".to_owned())]));
        assert_eq!(h.contact(2).last_contact, None);
        h.failed(2, "10.213.7.22:9990", "connection refused");
        h.failed(2, "10.213.7.22:9990", "timed out");
        let c = h.contact(2);
        assert_eq!(c.last_contact, None);
        assert_eq!(c.failing.map(|(_, why)| why), Some("timed out".to_owned()));
        h.sent(2, "10.213.7.22:9990");
        let c = h.contact(2);
        assert!(c.last_contact.is_some() && c.failing.is_none(), "{c:?}");
        h.heard_from(3);
        assert!(h.contact(3).last_contact.is_some());
        // A refused send at start, then the peer's own messages: it is not failing any more.
        h.failed(2, "10.213.7.22:9990", "connection refused");
        h.heard_from(2);
        let c = h.contact(2);
        assert!(c.failing.is_none() && c.last_contact.is_some(), "{c:?}");
        assert_eq!(h.name(3), "3");
    }

    #[test]
    fn reasons_are_short_and_human() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&refused), "connection refused");
        let raw = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_reason(&raw), "no such file or directory");
        assert_eq!(reason(&tonic::Status::unavailable("")), "Unavailable");
        assert_eq!(
            reason(&tonic::Status::unavailable("link 1 -> 2 is partitioned")),
            "link 1 -> 2 is partitioned"
        );
    }
}
