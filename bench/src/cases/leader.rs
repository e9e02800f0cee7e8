//! kill -9 of the leader monitor: how soon a new leader pushes statuses (seen in the agents'
//! leases), and the longest gap in the client's writes meanwhile.

use std::time::Duration;

use crate::events::{Event, Micros, ms};
use crate::measure::{
    Milestone, failed_writes, lease_renewal, longest_ack_gap, new_leader, not_leading_until,
};
use crate::recorder::Recorder;
use crate::report::RunResult;
use crate::rig::{Rig, Writer};

use super::failover::fault;
use super::{last_writer, lost};

/// How long a new leader may take to push.
const PUSH_LIMIT: Duration = Duration::from_secs(30);

pub(super) fn run(rig: &mut Rig, rec: Recorder, w: &Writer, n: usize) -> (RunResult, Vec<Event>) {
    let Some(leader) = rig.cluster.leader() else {
        let events = rec.finish(&rig.cluster);
        return (RunResult::failed(n, &w.host, "no leader".into()), events);
    };
    let t = rig.profile.timings.clone();
    let lease_ms = u64::try_from(t.agent_lease.as_millis()).unwrap_or(u64::MAX);
    let at = fault(&rec, &leader, "kill -9 the leader monitor");
    let killed = rig.cluster.kill9(&leader);
    let pushed = |ev: &[Event]| {
        let mut sorted = ev.to_vec();
        crate::events::sort(&mut sorted);
        lease_renewal(&sorted, at, lease_ms).is_some()
    };
    if killed.is_ok() {
        rec.wait(PUSH_LIMIT, pushed);
    }
    // Watch the writes for a whole lease after the kill (and 2 s): a writer whose lease ran out
    // before the new leader renewed it would show as a gap.
    let watch = t.agent_lease + Duration::from_secs(2);
    let watched = Duration::from_micros(u64::try_from(rec.now() - at).unwrap_or(0));
    std::thread::sleep(watch.saturating_sub(watched));
    let end = rec.now();
    let events = rec.finish(&rig.cluster);
    if let Err(e) = killed {
        return (RunResult::failed(n, &w.host, format!("kill: {e}")), events);
    }
    let kill = Kill {
        at,
        end,
        leader: &leader,
        lease_ms,
    };
    (measure(rig, &events, &kill, w, n), events)
}

/// The kill and the window watched after it.
struct Kill<'a> {
    at: Micros,
    end: Micros,
    leader: &'a str,
    lease_ms: u64,
}

fn measure(rig: &Rig, events: &[Event], k: &Kill<'_>, w: &Writer, n: usize) -> RunResult {
    let (at, end) = (k.at, k.end);
    let elected = new_leader(events, at, k.leader);
    // The old leader's last statuses may still land just after the kill: only a renewal after
    // the new leader knew it led is its push.
    let since = elected
        .as_ref()
        .map_or(at, |(_, new)| not_leading_until(events, at, new));
    let push = lease_renewal(events, since, k.lease_ms);
    let writer_after = last_writer(rig, events, &w.host);
    let mut r = RunResult {
        run: n,
        value_ms: push.as_ref().map(|(t, _)| ms(t - at)),
        error: push
            .is_none()
            .then(|| format!("no agent's lease was renewed within {PUSH_LIMIT:?}")),
        secondary_ms: longest_ack_gap(events, at, end).map(|g| ms(g.us())),
        failover: Some(writer_after != w.host),
        failed_writes: failed_writes(events, at, end),
        writer_before: w.host.clone(),
        lost_writes: lost(rig, &writer_after, events, end),
        writer_after: Some(writer_after),
        ..RunResult::default()
    };
    let milestones = [
        Milestone {
            name: "elected",
            phase: "election",
            at: elected.map(|(t, _)| t),
        },
        Milestone {
            name: "first_push",
            phase: "first push",
            at: push.map(|(t, _)| t),
        },
    ];
    r.set_milestones(at, &milestones);
    r
}
