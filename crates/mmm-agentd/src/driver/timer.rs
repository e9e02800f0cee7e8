//! The server's own lease timer (`mmm_mysql::timer`): probed at start, armed before writes are
//! allowed and moved forward with every renewal, so the server fences itself at the lease
//! deadline even when this process is stopped or killed.

use mmm_core::agent::Mono;
use mmm_mysql::timer::Scheduler;

use super::Driver;
use crate::clock;

/// What the agent knows about its server's lease timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerState {
    /// Not probed yet (MySQL did not answer so far).
    Unknown,
    /// The event exists and the scheduler runs: renewals arm it.
    Ready,
    /// The timer cannot fire, and why (the writer lease is then enforced by this process only).
    Unusable(String),
}

impl TimerState {
    /// How the report names it.
    pub fn describe(&self) -> String {
        match self {
            TimerState::Unknown => "unknown (MySQL not reached yet)".into(),
            TimerState::Ready => "ON".into(),
            TimerState::Unusable(why) => why.clone(),
        }
    }
}

impl Driver {
    /// Creates the timer event and reads the event scheduler's state, once MySQL answers.
    pub(super) async fn probe_timer(&mut self) {
        if self.timer != TimerState::Unknown {
            return;
        }
        self.timer = match self.db.prepare_lease_timer().await {
            Ok(Scheduler::On) => {
                tracing::info!(
                    "Event scheduler is ON: the server fences itself when the writer lease runs out"
                );
                TimerState::Ready
            }
            Ok(s) => {
                tracing::warn!(
                    scheduler = s.as_str(),
                    "Event scheduler is {}: a stopped or killed agent cannot fence this server; \
                     set event_scheduler=ON",
                    s.as_str()
                );
                TimerState::Unusable(format!("event_scheduler is {}", s.as_str()))
            }
            Err(crate::db::DbError::Mysql(e)) if e.is_connection_lost() => return,
            Err(e) => {
                tracing::warn!(
                    "Lease timer unavailable: {e}; a stopped or killed agent cannot fence this server"
                );
                TimerState::Unusable(format!("lease timer unavailable: {e}"))
            }
        };
    }

    /// Arms the server's timer for a lease ending at `deadline` (this host's clock). Ok when it
    /// is armed or the server has no usable timer (reported); Err when arming failed.
    pub(super) async fn arm_timer(&mut self, deadline: Mono) -> Result<(), String> {
        self.probe_timer().await;
        if self.timer != TimerState::Ready {
            return Ok(());
        }
        let remaining = clock::now().until(deadline);
        if remaining.is_zero() {
            return Err("the lease ends before the server timer could be armed".into());
        }
        match self.db.arm_lease_timer(remaining).await {
            Ok(Scheduler::On) => {
                self.timer_armed_until = Some(deadline);
                Ok(())
            }
            Ok(s) => {
                tracing::warn!(
                    scheduler = s.as_str(),
                    "Event scheduler was switched to {}: the server's lease timer cannot fire; \
                     a stopped or killed agent cannot fence this server; set event_scheduler=ON",
                    s.as_str()
                );
                self.timer = TimerState::Unusable(format!("event_scheduler is {}", s.as_str()));
                self.timer_armed_until = None;
                Err(format!(
                    "the server's lease timer cannot fire: event_scheduler was switched to {}",
                    s.as_str()
                ))
            }
            Err(e) => Err(format!("could not arm the server's lease timer: {e}")),
        }
    }

    /// Disables the timer after writes were denied on the leader's word (best effort: a timer
    /// that fires on a read-only server changes nothing).
    pub(super) async fn disarm_timer(&mut self) {
        if self.timer_armed_until.take().is_none() {
            return;
        }
        if let Err(e) = self.db.disarm_lease_timer().await {
            tracing::debug!(error = %e, "could not disarm the server's lease timer");
        }
    }

    /// Whether the server's timer covers the running writer lease now.
    pub(super) fn timer_armed(&self, now: Mono) -> bool {
        self.timer == TimerState::Ready && self.timer_armed_until.is_some_and(|d| d > now)
    }
}
