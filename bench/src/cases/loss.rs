//! 300 ms of total packet loss at the writer (its bridge port drops everything, both ways), then
//! a quiet window long enough for any failover it caused to show: a blip that should move
//! nothing.

use std::time::{Duration, Instant};

use crate::events::{Event, What, ms};
use crate::measure::{failed_writes, longest_ack_gap, state_changed, writer_moved};
use crate::profiles::quiet_window;
use crate::recorder::Recorder;
use crate::report::RunResult;
use crate::rig::{Rig, Writer};

use super::failover::fault;
use super::{last_writer, lost};

/// How long everything to and from the writer is dropped.
pub const LOSS: Duration = Duration::from_millis(300);

pub(super) fn run(rig: &mut Rig, rec: Recorder, w: &Writer, n: usize) -> (RunResult, Vec<Event>) {
    let host = match rig.cluster.topology().host(&w.host) {
        Ok(h) => h.clone(),
        Err(e) => {
            let events = rec.finish(&rig.cluster);
            return (RunResult::failed(n, &w.host, e.to_string()), events);
        }
    };
    let at = fault(&rec, &w.host, "all traffic dropped for 300 ms");
    let lab = rig.cluster.lab();
    let isolated = lab.isolate(&host);
    // The loss lasts at least LOSS: counted from when the drop rule is surely in place.
    let in_place = Instant::now();
    if isolated.is_ok() {
        std::thread::sleep(LOSS.saturating_sub(in_place.elapsed()));
    }
    rec.note(
        rec.now(),
        &w.host,
        What::Heal {
            name: "rejoin".into(),
        },
    );
    let rejoined = lab.rejoin(&host);
    std::thread::sleep(quiet_window(&rig.profile.timings));
    let end = rec.now();
    let events = rec.finish(&rig.cluster);
    if let Err(e) = isolated.and(rejoined) {
        return (RunResult::failed(n, &w.host, format!("loss: {e}")), events);
    }
    let vip = rig.cluster.writer_vip();
    let writer_after = last_writer(rig, &events, &w.host);
    let gap = longest_ack_gap(&events, at, end);
    let r = RunResult {
        run: n,
        value_ms: gap.map(|g| ms(g.us())),
        error: gap.is_none().then(|| "no window".to_owned()),
        failover: Some(writer_moved(&events, at, end, &w.host, w.server_id, vip)),
        state_changed: Some(state_changed(&events, at, end, &w.host)),
        failed_writes: failed_writes(&events, at, end),
        writer_before: w.host.clone(),
        lost_writes: lost(rig, &writer_after, &events, end),
        writer_after: Some(writer_after),
        ..RunResult::default()
    };
    (r, events)
}
