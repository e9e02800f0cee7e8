//! Raft's heartbeat and election switches, and the leader transfer built on them.
//!
//! Every reason to turn a switch off is a *hold* with an end; a switch is on exactly when
//! no hold covers it. So overlapping holds (two transfers, a transfer during a step-aside)
//! never turn a switch back on early, and one place decides what Raft is told.

use std::collections::BTreeSet;
use std::time::Duration;

use super::Out;
use super::io::{CallId, Effect, NodeId, RequestId, Switches};

/// Why a switch is held off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// This leader hands leadership over (heartbeats and candidacy off).
    Transfer(RequestId),
    /// Another monitor's transfer: do not compete (candidacy off).
    Bystander,
    /// This leader cannot reach the active master's agent (heartbeats and candidacy off).
    StepAside,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    holder: Holder,
    heartbeat_off: bool,
    until: Duration,
}

/// The holds and what Raft was last told.
#[derive(Debug, Clone)]
pub(crate) struct Elections {
    holds: Vec<Hold>,
    applied: Switches,
}

impl Default for Elections {
    fn default() -> Self {
        Elections {
            holds: Vec::new(),
            applied: Switches::ON,
        }
    }
}

impl Elections {
    /// Holds candidacy (and heartbeats when `heartbeat_off`) off until `until`.
    pub(crate) fn hold(&mut self, holder: Holder, heartbeat_off: bool, until: Duration) {
        self.holds.push(Hold {
            holder,
            heartbeat_off,
            until,
        });
    }

    /// Ends `holder`'s holds before their time.
    pub(crate) fn release(&mut self, holder: Holder) {
        self.holds.retain(|h| h.holder != holder);
    }

    /// What Raft was last told.
    pub(crate) fn applied(&self) -> Switches {
        self.applied
    }

    /// Drops ended holds and tells Raft when the switches change.
    pub(crate) fn update(&mut self, now: Duration, out: &mut Out) {
        self.holds.retain(|h| now < h.until);
        let want = Switches {
            heartbeat: !self.holds.iter().any(|h| h.heartbeat_off),
            elect: self.holds.is_empty(),
        };
        if want != self.applied {
            self.applied = want;
            out.effect(Effect::SetElections(want));
        }
    }
}

/// One leader transfer this monitor runs (as the leader that hands over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transfer {
    /// The request to answer.
    pub(crate) request: RequestId,
    /// The successor.
    pub(crate) target: NodeId,
    /// Its name (for the reply).
    pub(crate) name: String,
    /// Where it is.
    pub(crate) phase: Phase,
}

/// The steps of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Asking the bystanders to hold their elections.
    Holding {
        /// Asks not answered yet.
        pending: BTreeSet<CallId>,
    },
    /// Proposals paused; waiting for the successor to replicate the whole log.
    CatchingUp {
        /// The wait.
        wait: CallId,
    },
    /// Heartbeats off, the successor asked to campaign; waiting for it to lead.
    Moving {
        /// The campaign ask.
        ask: CallId,
        /// Why the campaign ask failed, if it did.
        why: Option<String>,
        /// When the transfer gives up.
        deadline: Duration,
    },
}

/// The successor's side of a transfer: campaign until it leads or the window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Campaign {
    /// End of the window.
    pub(crate) until: Duration,
    /// Earliest time of the next election.
    pub(crate) next: Duration,
    /// An election is being started.
    pub(crate) in_flight: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn switches(e: &mut Elections, now: u64) -> (Switches, Vec<Effect>) {
        let mut next = 0;
        let mut out = Out::new(&mut next);
        e.update(ms(now), &mut out);
        (e.applied(), out.effects)
    }

    #[test]
    fn overlapping_holds_keep_elections_off_until_the_last_one_ends() {
        let mut e = Elections::default();
        e.hold(Holder::Bystander, false, ms(3000));
        let (s, fx) = switches(&mut e, 0);
        assert_eq!(
            fx,
            vec![Effect::SetElections(Switches {
                heartbeat: true,
                elect: false
            })]
        );
        assert!(!s.elect);
        // A second transfer's hold arrives a second later.
        e.hold(Holder::Bystander, false, ms(4000));
        assert_eq!(switches(&mut e, 1000).1, vec![]);
        // The first window ends: elections stay off.
        let (s, fx) = switches(&mut e, 3000);
        assert!(!s.elect && fx.is_empty());
        let (s, fx) = switches(&mut e, 4000);
        assert_eq!(s, Switches::ON);
        assert_eq!(fx, vec![Effect::SetElections(Switches::ON)]);
    }

    #[test]
    fn a_released_transfer_leaves_a_step_aside_in_force() {
        let mut e = Elections::default();
        e.hold(Holder::StepAside, true, ms(2400));
        e.hold(Holder::Transfer(RequestId(7)), true, ms(3000));
        let (s, _) = switches(&mut e, 0);
        assert!(!s.heartbeat && !s.elect);
        e.release(Holder::Transfer(RequestId(7)));
        let (s, fx) = switches(&mut e, 100);
        assert!(!s.heartbeat && !s.elect && fx.is_empty());
        assert_eq!(switches(&mut e, 2400).0, Switches::ON);
    }
}
