//! The report every agent reply carries: the agent process, its clock reading (the basis the
//! leader echoes back) and its writer lease.

use mmm_core::agent::Mono;
use mmm_core::agent::clock::millis;
use mmm_proto::pb;

use crate::driver::Snapshot;

/// The report for a reply built at `now` from the driver's latest snapshot.
pub fn build(s: &Snapshot, now: Mono) -> pb::AgentReport {
    pb::AgentReport {
        incarnation: s.incarnation,
        lease_basis_ms: now.as_millis(),
        writer_lease_remaining_ms: s.lease_deadline.map_or(0, |d| millis(now.until(d))),
        writer_ran_out_epoch: s.ran_out_epoch.unwrap_or(0),
        writer_refused: s.writer_refused.clone().unwrap_or_default(),
        server_timer_armed: s.timer_armed_until.is_some_and(|d| d > now),
        server_timer: s.timer.clone(),
        failsafe_remaining_ms: s.failsafe_until.map_or(0, |d| millis(now.until(d))),
        promised_to: s
            .promise
            .as_ref()
            .map(|(h, _)| h.clone())
            .unwrap_or_default(),
        promise_remaining_ms: s.promise.as_ref().map_or(0, |(_, u)| millis(now.until(*u))),
    }
}
