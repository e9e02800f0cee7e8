//! The graceful move: `mmmctl move_role writer <other master>` from the client namespace; the
//! value is the client's write pause around it.

use crate::events::{Event, What, ms};
use crate::measure::{failed_writes, first_ack_elsewhere, writer_move};
use crate::recorder::Recorder;
use crate::report::RunResult;
use crate::rig::{Rig, Writer};

use super::failover::{fault, first_ack, the_move};
use super::{host_of, lost, wait_new_writer};

/// How long the move may take.
const MOVE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn run(rig: &mut Rig, rec: Recorder, w: &Writer, n: usize) -> (RunResult, Vec<Event>) {
    let peer = rig
        .cluster
        .topology()
        .node(&w.host)
        .ok()
        .and_then(|node| node.peer.clone());
    let Some(peer) = peer else {
        let events = rec.finish(&rig.cluster);
        let why = format!("the writer {} has no peer", w.host);
        return (RunResult::failed(n, &w.host, why), events);
    };
    let command = format!("move_role writer {peer}");
    let at = fault(&rec, &w.host, &command);
    let (ok, out) = rig.cluster.mmmctl_text(&["move_role", "writer", &peer]);
    rec.note(rec.now(), "client", What::Returned { name: command, ok });
    if ok {
        wait_new_writer(&rec, at, w.server_id, MOVE_LIMIT);
    }
    let events = rec.finish(&rig.cluster);
    if !ok {
        let why = format!("mmmctl move_role failed: {}", out.trim());
        return (RunResult::failed(n, &w.host, why), events);
    }
    let Some(ack) = first_ack_elsewhere(&events, at, w.server_id) else {
        let why = format!("no write landed on {peer} within {MOVE_LIMIT:?}");
        return (RunResult::failed(n, &w.host, why), events);
    };
    let before = events
        .iter()
        .rev()
        .find(|e| e.at < ack.at && e.ack().is_some())
        .map_or(at, |e| e.at);
    let new = ack
        .ack()
        .and_then(|id| host_of(rig, id))
        .unwrap_or_else(|| peer.clone());
    let mut r = RunResult {
        run: n,
        value_ms: Some(ms(ack.at - before)),
        failover: Some(true),
        writer_before: w.host.clone(),
        failed_writes: failed_writes(&events, at, ack.at),
        lost_writes: lost(rig, &new, &events, ack.at),
        writer_after: Some(new.clone()),
        ..RunResult::default()
    };
    let mut milestones = writer_move(&events, at, &the_move(rig, w, &new));
    milestones.push(first_ack(ack.at));
    r.set_milestones(at, &milestones);
    (r, events)
}
