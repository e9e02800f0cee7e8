//! The durations the leader works with, derived from the configuration.

use std::time::Duration;

use crate::agent::lease::SERVER_TIMER_ROUNDING;
use crate::checks::CheckKind;
use crate::config::Config;

/// How long a leader transfer may take; bystanders hold their elections this long (public so
/// tests can say how long a hold lasts).
pub const TRANSFER_WINDOW: Duration = Duration::from_secs(3);
/// Bound of one `kill_host_bin` run (power fencing can take a while).
const KILL_HOST_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two elections a transfer's successor starts.
const CAMPAIGN_RETRY: Duration = Duration::from_millis(300);

/// Every duration and count the leader decides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Lease stamped on every status.
    pub agent_lease: Duration,
    /// Extra wait after a lease before the writer may move elsewhere.
    pub lease_margin: Duration,
    /// Re-push period of an unchanged status.
    pub status_interval: Duration,
    /// Bound of one agent call.
    pub agent_timeout: Duration,
    /// A leader whose quorum acknowledged it longer ago than this stops deciding and pushing
    /// (Raft's `election_timeout_max`).
    pub quorum_age: Duration,
    /// Monitors that must see a check failed.
    pub observer_quorum: usize,
    /// How often monitors send their tables.
    pub report_interval: Duration,
    /// Bound of one observation send.
    pub report_timeout: Duration,
    /// Tables older than this do not count in the merge.
    pub max_age: Duration,
    /// Bound of a forwarded Control call, and of a request waiting in the leader.
    pub forward_timeout: Duration,
    /// How long a leader transfer may take.
    pub transfer_window: Duration,
    /// Pause between a successor's elections.
    pub campaign_retry: Duration,
    /// How long a leader that stepped aside keeps its heartbeats and candidacy off.
    pub step_aside_pause: Duration,
    /// Bound of one `kill_host_bin` run.
    pub kill_host_timeout: Duration,
}

impl Timing {
    /// The timing for `config` with `voters` monitor nodes, Raft's `election_timeout_max`
    /// and its `propose_timeout`.
    pub fn new(
        config: &Config,
        voters: usize,
        election_timeout_max: Duration,
        propose_timeout: Duration,
    ) -> Timing {
        let m = config.monitor.as_ref();
        let agent_lease = m.map_or(Duration::from_secs(5), |m| m.agent_lease);
        let lease_margin = m.map_or(Duration::from_secs(1), |m| m.lease_margin);
        let status_interval = m.map_or(Duration::from_secs(1), |m| m.status_interval);
        let agent_timeout = m.map_or(Duration::from_secs(2), |m| m.agent_timeout);
        let majority = voters / 2 + 1;
        let observer_quorum = m.and_then(|m| m.observer_quorum).unwrap_or(majority).max(1);
        let min_period = CheckKind::ALL
            .iter()
            .map(|k| k.config(&config.checks).check_period)
            .min()
            .unwrap_or(Duration::from_secs(1));
        let report_interval = min_period.clamp(Duration::from_millis(50), Duration::from_secs(1));
        Timing {
            agent_lease,
            lease_margin,
            status_interval,
            agent_timeout,
            quorum_age: election_timeout_max,
            observer_quorum,
            report_interval,
            report_timeout: Duration::from_secs(1),
            max_age: report_interval * 3 + Duration::from_secs(1),
            forward_timeout: agent_timeout + propose_timeout + Duration::from_secs(1),
            transfer_window: TRANSFER_WINDOW,
            campaign_retry: CAMPAIGN_RETRY,
            step_aside_pause: election_timeout_max * 4,
            kill_host_timeout: KILL_HOST_TIMEOUT,
        }
    }

    /// How long after the last status that could renew a writer lease the server's own lease
    /// timer has surely fired: the lease, the timer's whole-second rounding (it fires at most a
    /// second after an arm for a shorter remainder), and the lease margin for the scheduler's
    /// own delay and the previous leader's last pushes.
    pub fn server_timer_bound(&self) -> Duration {
        self.agent_lease + SERVER_TIMER_ROUNDING + self.lease_margin
    }

    /// A push without an answer this long is given up (the driver answers every call within
    /// `agent_timeout`; this only guards against an answer that never comes).
    pub fn call_backstop(&self) -> Duration {
        self.agent_timeout * 2 + Duration::from_secs(1)
    }
}
