//! Pushes each agent its desired status: at once when it changes, every `status_interval`
//! otherwise, one task per host so a hung agent delays nobody else.
//!
//! Every call happens only while `allowed()` holds (the leader still has a fresh quorum),
//! checked right before the call: a deposed leader stops renewing leases.
//!
//! Each push echoes the lease basis (incarnation and clock reading) of the agent's latest
//! reply, so the agent counts the lease from a moment before the send. A reply from a new
//! agent process (first contact, or the agent restarted) is answered with a push at once: that
//! first push could grant no writer lease, so contact costs one extra round trip, not one
//! status interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mmm_core::desired::AgentStatus;
use mmm_proto::convert;
use mmm_proto::pb::{LeaseBasis, SetStatusReply};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agents::AgentClients;

/// One status to push, with the fence of the leader that sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The desired status (carries the epoch).
    pub status: AgentStatus,
    /// Raft term of the sender.
    pub term: u64,
    /// Node id of the sender.
    pub leader_id: u64,
}

/// The answer to one push.
#[derive(Debug)]
pub struct PushResult {
    /// Host name.
    pub host: String,
    /// Epoch that was sent.
    pub sent_epoch: u64,
    /// The agent's reply or why there was none.
    pub outcome: Result<SetStatusReply, PushFailure>,
}

/// Why a push got no reply.
#[derive(Debug)]
pub struct PushFailure {
    /// The agent answered with an error (it is reachable); false for transport failures.
    pub answered: bool,
    /// What went wrong.
    pub error: String,
}

/// The running push tasks.
pub struct Pusher {
    slots: BTreeMap<String, watch::Sender<Option<Push>>>,
    _tasks: JoinSet<()>,
}

impl Pusher {
    /// One task per host; results go to `results`.
    pub fn start(
        hosts: &[String],
        clients: AgentClients,
        lease: Duration,
        interval: Duration,
        allowed: Arc<dyn Fn() -> bool + Send + Sync>,
        results: mpsc::Sender<PushResult>,
    ) -> Pusher {
        let mut slots = BTreeMap::new();
        let mut tasks = JoinSet::new();
        for host in hosts {
            let (tx, rx) = watch::channel(None);
            slots.insert(host.clone(), tx);
            tasks.spawn(push_loop(
                rx,
                clients.clone(),
                lease,
                interval,
                allowed.clone(),
                results.clone(),
            ));
        }
        Pusher {
            slots,
            _tasks: tasks,
        }
    }

    /// Sets what `host` should receive (None: send nothing).
    pub fn set(&self, host: &str, push: Option<Push>) {
        if let Some(slot) = self.slots.get(host) {
            slot.send_if_modified(|cur| {
                if *cur == push {
                    return false;
                }
                *cur = push;
                true
            });
        }
    }

    /// Stops sending anything to anybody.
    pub fn pause_all(&self) {
        for slot in self.slots.values() {
            slot.send_if_modified(|cur| cur.take().is_some());
        }
    }
}

/// How soon a push held back (no fresh quorum) is looked at again.
const RETRY: Duration = Duration::from_millis(50);

async fn push_loop(
    mut rx: watch::Receiver<Option<Push>>,
    clients: AgentClients,
    lease: Duration,
    interval: Duration,
    allowed: Arc<dyn Fn() -> bool + Send + Sync>,
    results: mpsc::Sender<PushResult>,
) {
    let mut last: Option<(Push, Instant)> = None;
    let mut due: Option<Instant> = None;
    let mut basis: Option<LeaseBasis> = None;
    let mut again = false;
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return },
            _ = sleep_until(due) => {}
        }
        let Some(push) = rx.borrow_and_update().clone() else {
            due = None;
            continue;
        };
        if let Some((p, at)) = &last
            && *p == push
            && at.elapsed() < interval
            && !again
        {
            due = Some(*at + interval);
            continue;
        }
        if !allowed() {
            // Not allowed to renew leases right now: look again shortly.
            due = Some(Instant::now() + RETRY);
            continue;
        }
        let outcome = clients
            .set_status(&push.status, push.term, push.leader_id, lease, basis)
            .await
            .map_err(|e| PushFailure {
                answered: e.agent_answered(),
                error: e.to_string(),
            });
        let now = Instant::now();
        again = learn_basis(&mut basis, &outcome);
        last = Some((push.clone(), now));
        due = Some(if again { now } else { now + interval });
        let result = PushResult {
            host: push.status.host.clone(),
            sent_epoch: push.status.epoch,
            outcome,
        };
        if results.send(result).await.is_err() {
            return;
        }
    }
}

/// Keeps the basis of a successful reply; true when it comes from an agent process the
/// previous pushes did not know (the push just made could not grant a writer lease).
fn learn_basis(
    basis: &mut Option<LeaseBasis>,
    outcome: &Result<SetStatusReply, PushFailure>,
) -> bool {
    let Some(fresh) = outcome
        .as_ref()
        .ok()
        .and_then(|r| r.report.as_ref())
        .and_then(convert::basis_of)
    else {
        return false;
    };
    let new_process = basis.as_ref().map(|b| b.incarnation) != Some(fresh.incarnation);
    *basis = Some(fresh);
    new_process
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
