//! Cases where the writer fails and another master takes over: its mysqld killed, its host
//! powered off, or its host cut from every monitor (then healed).

use std::time::Duration;

use crate::events::{Event, Micros, What, ms};
use crate::measure::{
    Milestone, Move, failed_writes, first_ack_elsewhere, has_vip, read_only, recovery_after,
    sampled_change, writer_move,
};
use crate::profiles::failover_limit;
use crate::recorder::Recorder;
use crate::report::RunResult;
use crate::rig::{Rig, Writer};

use super::{host_of, last_writer, lost, wait_new_writer};

/// How long the cut lasts after the new writer took its first write.
const CUT_HOLD: Duration = Duration::from_secs(3);
/// Writes must have landed without a failure for this long before a heal's watch may end.
const HEAL_STABLE: Duration = Duration::from_secs(2);
/// The longest a heal is watched.
const HEAL_WATCH_MAX: Duration = Duration::from_secs(40);

/// kill -9 of the writer's mysqld.
pub(super) fn kill_mysqld(
    rig: &mut Rig,
    rec: Recorder,
    w: &Writer,
    n: usize,
) -> (RunResult, Vec<Event>) {
    let at = fault(&rec, &w.host, "kill -9 mysqld");
    let done = rig
        .cluster
        .topology_mut()
        .db_mut(&w.host)
        .map_err(anyhow::Error::from)
        .and_then(|db| Ok(db.kill9()?));
    finish_failover(rig, rec, w, n, at, done)
}

/// The writer's host loses power: everything at its bridge port dropped, its agent and mysqld
/// killed.
pub(super) fn power_off(
    rig: &mut Rig,
    rec: Recorder,
    w: &Writer,
    n: usize,
) -> (RunResult, Vec<Event>) {
    let at = fault(&rec, &w.host, "power off");
    let done = rig.power_off(&w.host);
    finish_failover(rig, rec, w, n, at, done)
}

/// Notes a fault about to be applied; returns its stamp.
pub(super) fn fault(rec: &Recorder, host: &str, name: &str) -> Micros {
    let at = rec.now();
    rec.note(
        at,
        host,
        What::Fault {
            name: name.to_owned(),
        },
    );
    at
}

fn finish_failover(
    rig: &Rig,
    rec: Recorder,
    w: &Writer,
    n: usize,
    at: Micros,
    done: anyhow::Result<()>,
) -> (RunResult, Vec<Event>) {
    if let Err(e) = done {
        let events = rec.finish(&rig.cluster);
        return (
            RunResult::failed(n, &w.host, format!("fault: {e:#}")),
            events,
        );
    }
    let limit = failover_limit(&rig.profile.timings);
    wait_new_writer(&rec, at, w.server_id, limit);
    let events = rec.finish(&rig.cluster);
    let r = measure_failover(rig, &events, at, w, n, limit);
    (r, events)
}

/// The failover that began at `at`: its length, milestones and lost writes.
fn measure_failover(
    rig: &Rig,
    events: &[Event],
    at: Micros,
    w: &Writer,
    n: usize,
    limit: Duration,
) -> RunResult {
    let Some(ack) = first_ack_elsewhere(events, at, w.server_id) else {
        let why = format!("no write landed on another server within {limit:?}");
        return RunResult::failed(n, &w.host, why);
    };
    let Some(new) = ack.ack().and_then(|id| host_of(rig, id)) else {
        return RunResult::failed(n, &w.host, "a write landed on an unknown server".into());
    };
    let mut r = RunResult {
        run: n,
        value_ms: Some(ms(ack.at - at)),
        failover: Some(true),
        writer_before: w.host.clone(),
        writer_after: Some(new.clone()),
        failed_writes: failed_writes(events, at, ack.at),
        lost_writes: lost(rig, &new, events, ack.at),
        ..RunResult::default()
    };
    let mut milestones = writer_move(events, at, &the_move(rig, w, &new));
    milestones.push(first_ack(ack.at));
    r.set_milestones(at, &milestones);
    r
}

pub(super) fn the_move<'a>(rig: &Rig, w: &'a Writer, new: &'a str) -> Move<'a> {
    Move {
        old: &w.host,
        new,
        vip: rig.cluster.writer_vip(),
    }
}

/// The milestone of the client's first acknowledged write on the new writer.
pub(super) fn first_ack(at: Micros) -> Milestone {
    Milestone {
        name: "first_ack",
        phase: "client reconnect",
        at: Some(at),
    }
}

/// The writer cut from every monitor until another master took writes (and [`CUT_HOLD`] more),
/// then healed; measured from the heal.
pub(super) fn cut_heal(
    rig: &mut Rig,
    rec: Recorder,
    w: &Writer,
    n: usize,
) -> (RunResult, Vec<Event>) {
    let cut_at = fault(&rec, &w.host, "cut from every monitor");
    if let Err(e) = set_cut(rig, w, true) {
        let events = rec.finish(&rig.cluster);
        return (RunResult::failed(n, &w.host, format!("cut: {e:#}")), events);
    }
    let limit = failover_limit(&rig.profile.timings);
    let moved = wait_new_writer(&rec, cut_at, w.server_id, limit);
    if moved {
        std::thread::sleep(CUT_HOLD);
    }
    let heal_at = rec.now();
    rec.note(
        heal_at,
        &w.host,
        What::Heal {
            name: "heal the cuts".into(),
        },
    );
    let healed = set_cut(rig, w, false);
    let min_watch = rig.profile.timings.agent_lease + Duration::from_secs(5);
    watch_heal(&rec, heal_at, min_watch);
    let end = rec.now();
    let events = rec.finish(&rig.cluster);
    if let Err(e) = healed {
        return (
            RunResult::failed(n, &w.host, format!("heal: {e:#}")),
            events,
        );
    }
    let mut r = measure_heal(rig, &events, heal_at, end, w, n);
    r.secondary_ms = first_ack_elsewhere(&events, cut_at, w.server_id)
        .filter(|a| a.at < heal_at)
        .map(|a| ms(a.at - cut_at));
    (r, events)
}

fn set_cut(rig: &Rig, w: &Writer, cut: bool) -> anyhow::Result<()> {
    let lab = rig.cluster.lab();
    let writer = rig.cluster.topology().host(&w.host)?.clone();
    for m in rig.cluster.monitor_names() {
        let Some(mon) = rig.cluster.host(&m) else {
            continue;
        };
        if cut {
            lab.cut(&writer, &mon)?;
        } else {
            lab.heal(&writer, &mon)?;
        }
    }
    Ok(())
}

/// Watches the writes after a heal: at least `min_watch`, then until they have landed without a
/// failure for [`HEAL_STABLE`], at most [`HEAL_WATCH_MAX`].
fn watch_heal(rec: &Recorder, heal_at: Micros, min_watch: Duration) {
    let stable_us = i64::try_from(HEAL_STABLE.as_micros()).unwrap_or(i64::MAX);
    std::thread::sleep(min_watch);
    rec.wait(HEAL_WATCH_MAX.saturating_sub(min_watch), |ev| {
        let now = ev.iter().map(|e| e.at).max().unwrap_or(heal_at);
        let recent = || {
            ev.iter()
                .filter(|e| e.start() >= now - stable_us && e.write().is_some())
        };
        recent().count() > 0 && recent().all(|e| e.ack().is_some())
    });
}

fn measure_heal(
    rig: &Rig,
    events: &[Event],
    heal_at: Micros,
    end: Micros,
    w: &Writer,
    n: usize,
) -> RunResult {
    let writer_after = last_writer(rig, events, &w.host);
    let vip = rig.cluster.writer_vip();
    let recovered = recovery_after(events, heal_at, end);
    let mut r = RunResult {
        run: n,
        value_ms: recovered.map(|t| ms(t - heal_at)),
        error: recovered.is_none().then(|| {
            let watched = crate::report::fmt_ms(ms(end - heal_at));
            format!("writes did not land again within {watched}")
        }),
        failover: Some(writer_after != w.host),
        writer_before: w.host.clone(),
        failed_writes: failed_writes(events, heal_at, end),
        lost_writes: lost(rig, &writer_after, events, end),
        writer_after: Some(writer_after),
        ..RunResult::default()
    };
    let milestones = [
        Milestone {
            name: "old_vip_back",
            phase: "old writer re-adds the VIP",
            at: sampled_change(events, &w.host, heal_at, |x| has_vip(x, vip)),
        },
        Milestone {
            name: "old_writable",
            phase: "old writer writable again",
            at: sampled_change(events, &w.host, heal_at, |x| read_only(x).map(|ro| !ro)),
        },
        Milestone {
            name: "recovered",
            phase: "writes land again",
            at: recovered,
        },
    ];
    r.set_milestones(heal_at, &milestones);
    r
}
