//! A follower stands for election as soon as the leader's lease allows when the leader monitor's
//! process is surely gone, instead of waiting out Raft's randomized election timeout as well.
//!
//! When the leader's heartbeats stop, the follower connects to the leader's Peer port once.
//! A refused connection means nothing listens there any more (the process died or was
//! stopped; a cut link or a frozen process times out instead, and keeps Raft's own timing).
//! openraft's voters refuse every vote until their leader lease (`election_timeout_max` after
//! the last heartbeat) has run out, so the follower waits for that, plus a margin for the other
//! voters' later heartbeat, plus a stagger by its rank among the voters so that two followers
//! do not split the vote, and then campaigns — unless the term moved, a leader spoke, or the
//! elections were switched off (a leader transfer holds them) meanwhile. Raft's voting
//! decides as always: this only starts the election earlier.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::node::{RaftNode, known_leader};
use super::types::{Metrics, NodeId, Replicated};

/// Added to the leader lease before campaigning: the other voters heard the last heartbeat a
/// little later than this node.
const LEASE_MARGIN: Duration = Duration::from_millis(30);
/// Extra wait per rank among the followers, so the first in rank wins without a split vote.
const RANK_STAGGER: Duration = Duration::from_millis(100);

/// What the watcher needs to know of this node's Raft timing.
#[derive(Debug, Clone, Copy)]
pub struct LeaderGoneTiming {
    /// The leader's heartbeat period.
    pub heartbeat: Duration,
    /// How long voters refuse votes after a heartbeat (openraft: `election_timeout_max`).
    pub leader_lease: Duration,
    /// Bound of the connect probe.
    pub probe_timeout: Duration,
}

impl LeaderGoneTiming {
    /// Heartbeats missing this long make the leader silent.
    fn silence(&self) -> Duration {
        self.heartbeat * 3 / 2
    }
}

/// A silent leader this node watches: whom, in which term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silent {
    /// The leader's node id.
    pub leader: NodeId,
    /// Its Peer address.
    pub addr: String,
    /// The term it leads.
    pub term: u64,
    /// This node's rank among the voters other than the leader (0 first).
    pub rank: usize,
}

/// The silent leader `metrics` show, when this node is a voting follower that last heard from
/// it `heard_ago` ago (`None`: never).
pub fn silent_leader(
    metrics: &Metrics,
    me: NodeId,
    heard_ago: Option<Duration>,
    timing: &LeaderGoneTiming,
) -> Option<Silent> {
    if metrics.state != ServerState::Follower {
        return None;
    }
    let leader = known_leader(metrics)?;
    if leader.id == me || heard_ago.is_none_or(|ago| ago < timing.silence()) {
        return None;
    }
    let voters: BTreeSet<NodeId> = metrics.membership_config.membership().voter_ids().collect();
    if !voters.contains(&me) {
        return None;
    }
    let rank = voters
        .iter()
        .filter(|v| **v != leader.id)
        .position(|v| *v == me)?;
    Some(Silent {
        leader: leader.id,
        addr: leader.addr?,
        term: metrics.current_term,
        rank,
    })
}

/// How long to wait before campaigning, `heard_ago` after the leader's last message.
pub fn campaign_after(heard_ago: Duration, rank: usize, timing: &LeaderGoneTiming) -> Duration {
    let rank = u32::try_from(rank).unwrap_or(u32::MAX);
    (timing.leader_lease + LEASE_MARGIN + RANK_STAGGER.saturating_mul(rank))
        .saturating_sub(heard_ago)
}

/// Whether connecting to `addr` is refused within `timeout` (nothing listens there).
async fn refused(addr: &str, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Err(e)) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(Ok(_)) | Err(_) => false,
    }
}

/// What the watcher asks of and tells the monitor around it.
pub struct LeaderGoneHooks {
    /// Whether this node may start elections now (a leader transfer holds them).
    pub elections_on: Box<dyn Fn() -> bool + Send + Sync>,
    /// Called for every election the watcher starts (counted for `/metrics`).
    pub on_campaign: Box<dyn Fn() + Send + Sync>,
}

/// The watcher of one node.
pub struct LeaderGone<S: Replicated> {
    node: Arc<RaftNode<S>>,
    timing: LeaderGoneTiming,
    hooks: LeaderGoneHooks,
}

impl<S: Replicated> LeaderGone<S> {
    /// A watcher of `node`, campaigning only while `hooks` allow elections.
    pub fn new(node: Arc<RaftNode<S>>, timing: LeaderGoneTiming, hooks: LeaderGoneHooks) -> Self {
        LeaderGone {
            node,
            timing,
            hooks,
        }
    }

    fn heard_ago(&self, leader: NodeId) -> Option<Duration> {
        self.node.peer_contact(leader).last_contact
    }

    fn silent(&self) -> Option<Silent> {
        let metrics = self.node.metrics();
        let metrics = metrics.borrow();
        let heard = metrics.current_leader.and_then(|l| self.heard_ago(l));
        silent_leader(&metrics, self.node.id(), heard, &self.timing)
    }

    /// Watches until `stop` turns true; probes each silence of a leader once.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(self.timing.heartbeat / 2);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut probed: Option<(NodeId, u64)> = None;
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let Some(s) = self.silent() else {
                probed = None;
                continue;
            };
            if probed == Some((s.leader, s.term)) {
                continue;
            }
            probed = Some((s.leader, s.term));
            if refused(&s.addr, self.timing.probe_timeout).await {
                self.campaign_when_due(&s).await;
            }
        }
    }

    async fn campaign_when_due(&self, s: &Silent) {
        let Some(ago) = self.heard_ago(s.leader) else {
            return;
        };
        let wait = campaign_after(ago, s.rank, &self.timing);
        let name = self.node.peer_health().name(s.leader);
        tracing::info!(
            leader = s.leader,
            addr = %s.addr,
            term = s.term,
            wait_ms = wait.as_millis() as u64,
            "Leader monitor {name} ({}) refuses connections: its process is gone",
            s.addr
        );
        tokio::time::sleep(wait).await;
        if self.silent().as_ref() != Some(s) || !(self.hooks.elections_on)() {
            return;
        }
        (self.hooks.on_campaign)();
        tracing::info!(
            leader = s.leader,
            term = s.term,
            "Standing for election: the leader lease of monitor {name} (term {}) has run out",
            s.term
        );
        if let Err(e) = self.node.campaign().await {
            tracing::warn!(error = %e, "could not start an election");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: LeaderGoneTiming = LeaderGoneTiming {
        heartbeat: Duration::from_millis(100),
        leader_lease: Duration::from_millis(350),
        probe_timeout: Duration::from_millis(100),
    };

    #[test]
    fn the_wait_ends_after_the_lease_margin_and_rank() {
        let ms = Duration::from_millis;
        assert_eq!(campaign_after(ms(160), 0, &T), ms(220));
        assert_eq!(campaign_after(ms(160), 1, &T), ms(320));
        assert_eq!(campaign_after(ms(900), 0, &T), Duration::ZERO);
        assert!(campaign_after(ms(0), usize::MAX, &T) > Duration::from_secs(86_400));
    }

    fn follower_of(leader: NodeId, me: NodeId) -> Metrics {
        use openraft::{BasicNode, Membership, StoredMembership};
        let nodes: std::collections::BTreeMap<NodeId, BasicNode> = (1..=3)
            .map(|id| {
                (
                    id,
                    BasicNode {
                        addr: format!("127.0.0.{id}:9990"),
                    },
                )
            })
            .collect();
        let voters = BTreeSet::from([1, 2, 3]);
        let mut m = Metrics::new_initial(me);
        m.state = ServerState::Follower;
        m.current_term = 4;
        m.current_leader = Some(leader);
        m.membership_config = Arc::new(StoredMembership::new(
            None,
            Membership::new(vec![voters], nodes),
        ));
        m
    }

    #[test]
    fn only_a_voting_follower_of_a_silent_leader_watches_it() {
        let ms = Duration::from_millis;
        let m = follower_of(1, 3);
        let s = silent_leader(&m, 3, Some(ms(200)), &T).expect("silent");
        assert_eq!(
            s,
            Silent {
                leader: 1,
                addr: "127.0.0.1:9990".into(),
                term: 4,
                rank: 1
            }
        );
        let s = silent_leader(&follower_of(1, 2), 2, Some(ms(200)), &T).expect("silent");
        assert_eq!(s.rank, 0, "the first voter after the leader goes first");
        assert_eq!(
            silent_leader(&m, 3, Some(ms(100)), &T),
            None,
            "heard from it lately"
        );
        assert_eq!(silent_leader(&m, 3, None, &T), None, "never heard from it");
        let mut leading = m.clone();
        leading.state = ServerState::Leader;
        assert_eq!(silent_leader(&leading, 3, Some(ms(200)), &T), None);
        let mut learner = follower_of(1, 4);
        learner.state = ServerState::Learner;
        assert_eq!(silent_leader(&learner, 4, Some(ms(200)), &T), None);
        let mut no_leader = m;
        no_leader.current_leader = None;
        assert_eq!(silent_leader(&no_leader, 3, Some(ms(200)), &T), None);
    }

    #[test]
    fn nothing_listening_is_refused_and_a_listener_is_not() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr").to_string();
            assert!(!refused(&addr, T.probe_timeout).await, "a listener answers");
            drop(listener);
            assert!(refused(&addr, T.probe_timeout).await, "nothing listens");
        });
    }
}
