//! Intervals and milestones extracted from a run's recorded events (sorted by time). Pure: the
//! same list always gives the same numbers.
//!
//! A sampled state change (a server turning writable, a VIP appearing) is placed halfway
//! between the middle of the last probe before it that was taken after the reference instant
//! (or the reference instant itself) and the middle of the first probe that shows it: the
//! change happened between those two probes, so the error is at most half a sampling period.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::events::{Event, Micros, What, WriteOutcome};
use crate::logs::{Known, classify};

/// A named instant of a run, `None` when the run did not show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    /// Short name (`detected`, `first_ack`, …).
    pub name: &'static str,
    /// The phase that ends here (`detection`, `catch-up`, …).
    pub phase: &'static str,
    /// When, on the run's clock.
    pub at: Option<Micros>,
}

/// One phase: from the previous milestone that happened to this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// The phase's name.
    pub name: &'static str,
    /// The milestone it ends at.
    pub to: &'static str,
    /// Its length (never negative: a milestone seen before its predecessor gives 0).
    pub us: Micros,
}

/// The phases between `start` and each milestone that happened, in order.
pub fn phases(start: Micros, milestones: &[Milestone]) -> Vec<Phase> {
    let mut prev = start;
    let mut out = Vec::new();
    for m in milestones {
        let Some(at) = m.at else { continue };
        out.push(Phase {
            name: m.phase,
            to: m.name,
            us: (at - prev).max(0),
        });
        prev = prev.max(at);
    }
    out
}

/// The first write acknowledged after `after` by a server other than `old_server_id`.
pub fn first_ack_elsewhere(events: &[Event], after: Micros, old_server_id: u32) -> Option<&Event> {
    events
        .iter()
        .find(|e| e.at > after && e.ack().is_some_and(|id| id != old_server_id))
}

/// The last write acknowledged by `server_id` before `before`.
pub fn last_ack_on(events: &[Event], before: Micros, server_id: u32) -> Option<&Event> {
    events
        .iter()
        .rev()
        .find(|e| e.at < before && e.ack() == Some(server_id))
}

/// The ids of the writes acknowledged before `before`.
pub fn acked_ids(events: &[Event], before: Micros) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.at < before)
        .filter_map(|e| match &e.what {
            What::Write {
                id,
                outcome: WriteOutcome::Ack,
                ..
            } => Some(*id),
            _ => None,
        })
        .collect()
}

/// A stretch without acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The acknowledgement before it (or the window's start).
    pub from: Micros,
    /// The acknowledgement after it (or the window's end when `open`).
    pub to: Micros,
    /// No write was acknowledged between `from` and the window's end.
    pub open: bool,
}

impl Gap {
    /// Its length.
    pub fn us(&self) -> Micros {
        self.to - self.from
    }
}

/// The longest time between consecutive acknowledgements that touches `[from, to]`: from the
/// last acknowledgement before `from` (or `from`) over every acknowledgement in the window, up to
/// `to` when the last one is earlier (an `open` gap).
pub fn longest_ack_gap(events: &[Event], from: Micros, to: Micros) -> Option<Gap> {
    if to <= from {
        return None;
    }
    let mut prev = events
        .iter()
        .rev()
        .find(|e| e.at < from && e.ack().is_some())
        .map_or(from, |e| e.at);
    let mut best: Option<Gap> = None;
    let mut consider = |g: Gap| {
        if best.is_none_or(|b| g.us() > b.us()) {
            best = Some(g);
        }
    };
    for e in events
        .iter()
        .filter(|e| e.at >= from && e.at <= to && e.ack().is_some())
    {
        consider(Gap {
            from: prev,
            to: e.at,
            open: false,
        });
        prev = e.at;
    }
    consider(Gap {
        from: prev,
        to,
        open: true,
    });
    best
}

/// When writes land again after `heal`: the first acknowledgement of a write started after the
/// last write that failed (or may have failed) among those started in `[heal, until]`; with no
/// such failure, the first acknowledgement of a write started after `heal`. `None` when no
/// write was acknowledged after the last failure.
pub fn recovery_after(events: &[Event], heal: Micros, until: Micros) -> Option<Micros> {
    let writes = || {
        events.iter().filter_map(move |e| match &e.what {
            What::Write { start, outcome, .. } if *start >= heal && *start <= until => {
                Some((e, *start, *outcome))
            }
            _ => None,
        })
    };
    let last_bad = writes()
        .filter(|(_, _, o)| *o != WriteOutcome::Ack)
        .map(|(_, s, _)| s)
        .max();
    writes()
        .filter(|(_, s, o)| *o == WriteOutcome::Ack && last_bad.is_none_or(|b| *s > b))
        .map(|(e, _, _)| e.at)
        .min()
}

/// The writes that failed or may have failed among those started in `[from, to]`.
pub fn failed_writes(events: &[Event], from: Micros, to: Micros) -> usize {
    events
        .iter()
        .filter(|e| matches!(&e.what, What::Write { start, outcome, .. } if *start >= from && *start <= to && *outcome != WriteOutcome::Ack))
        .count()
}

/// When the sampled state of `host` first satisfied `pred` in a probe started at or after
/// `after` (see the module comment for the placement). `pred` answers `None` for probes of
/// other kinds.
pub fn sampled_change(
    events: &[Event],
    host: &str,
    after: Micros,
    pred: impl Fn(&What) -> Option<bool>,
) -> Option<Micros> {
    let mut lo = after;
    for e in events.iter().filter(|e| e.host == host) {
        let Some(holds) = pred(&e.what) else { continue };
        if e.start() < after {
            continue;
        }
        if holds {
            let hi = e.mid().max(lo);
            return Some(lo + (hi - lo) / 2);
        }
        lo = lo.max(e.mid());
    }
    None
}

/// Whether `vip` is among the VIPs of a VIP sample.
pub fn has_vip(w: &What, vip: Ipv4Addr) -> Option<bool> {
    match w {
        What::Vips { ips, .. } => Some(ips.contains(&vip)),
        _ => None,
    }
}

/// The `read_only` of a server sample.
pub fn read_only(w: &What) -> Option<bool> {
    match w {
        What::Server { read_only, .. } => Some(*read_only),
        _ => None,
    }
}

/// The first known log line after `after` (from `host` when given) that `pred` accepts.
pub fn first_log(
    events: &[Event],
    after: Micros,
    host: Option<&str>,
    pred: impl Fn(&Known) -> bool,
) -> Option<Micros> {
    events
        .iter()
        .filter(|e| e.at >= after && host.is_none_or(|h| e.host == h))
        .find(|e| e.log_text().and_then(classify).is_some_and(|k| pred(&k)))
        .map(|e| e.at)
}

/// Where a writer move went: the hosts and the VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move<'a> {
    /// The writer before.
    pub old: &'a str,
    /// The writer after.
    pub new: &'a str,
    /// The writer VIP.
    pub vip: Ipv4Addr,
}

/// Replicated-history stamps are whole milliseconds of the leader's clock: a change decided
/// within a millisecond after the fault can carry a stamp just before it.
const HISTORY_SLACK: Micros = 1_000;

/// The milestones of a writer move that started at `start` (a fault or a command), in the
/// order they normally happen; the ones a run does not show are `None`. `decided` is the first
/// replicated change after `start` that names the old writer or the writer VIP, `committed` the
/// first monitor's log line of that same change.
pub fn writer_move(events: &[Event], start: Micros, m: &Move<'_>) -> Vec<Milestone> {
    let role_of_vip = format!("({})", m.vip);
    let is_writer = |role: &str| role.contains(&role_of_vip);
    let old_quoted = format!("'{}'", m.old);
    let decided = events.iter().find(|e| {
        e.at >= start - HISTORY_SLACK
            && matches!(&e.what, What::Decided { line } if line.contains(&old_quoted) || line.contains(&role_of_vip))
    });
    let committed = match decided.map(|e| &e.what) {
        Some(What::Decided { line }) => events
            .iter()
            .find(|e| e.at >= start - HISTORY_SLACK && e.log_text() == Some(line.as_str()))
            .map(|e| e.at),
        _ => None,
    };
    let vip = m.vip;
    let milestone = |name, phase, at| Milestone { name, phase, at };
    vec![
        milestone(
            "detected",
            "detection",
            first_log(
                events,
                start,
                None,
                |k| matches!(k, Known::CheckFailed { host, .. } if host == m.old),
            ),
        ),
        milestone("decided", "decision", decided.map(|e| e.at)),
        milestone("committed", "commit", committed),
        milestone(
            "old_denied",
            "old writer denies writes",
            first_log(events, start, Some(m.old), |k| {
                matches!(k, Known::DeniedWrites)
            }),
        ),
        milestone(
            "old_vip_gone",
            "old writer drops the VIP",
            sampled_change(events, m.old, start, |w| has_vip(w, vip).map(|h| !h)),
        ),
        milestone(
            "assigned",
            "fence (writer assigned)",
            first_log(
                events,
                start,
                None,
                |k| matches!(k, Known::RoleTo { role, host } if is_writer(role) && host == m.new),
            ),
        ),
        milestone(
            "pushed",
            "push to the new writer",
            first_log(
                events,
                start,
                Some(m.new),
                |k| matches!(k, Known::AgentAdded { roles } if roles.iter().any(|r| is_writer(r))),
            ),
        ),
        milestone(
            "caught_up",
            "catch-up",
            first_log(events, start, Some(m.new), |k| matches!(k, Known::CaughtUp)),
        ),
        milestone(
            "writable",
            "read_only off",
            sampled_change(events, m.new, start, |w| read_only(w).map(|ro| !ro)),
        ),
        milestone(
            "vip_up",
            "VIP + ARP",
            sampled_change(events, m.new, start, |w| has_vip(w, vip)),
        ),
    ]
}

/// When the first status push after `after` reached an agent, from the agents' own view: the
/// first probe whose remaining lease grew over the probe before it, placed at that probe's
/// middle minus the part of the configured lease (`lease_ms`) it has used since, never before
/// the earlier probe. Pushes placed at or before `after` (the old leader's last) are skipped.
/// Returns the earliest over all agents, with the agent.
pub fn lease_renewal(events: &[Event], after: Micros, lease_ms: u64) -> Option<(Micros, String)> {
    let mut hosts: Vec<&str> = events
        .iter()
        .filter(|e| matches!(e.what, What::Agent { .. }))
        .map(|e| e.host.as_str())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
        .into_iter()
        .filter_map(|h| renewal_on(events, h, after, lease_ms).map(|t| (t, h.to_owned())))
        .min()
}

fn renewal_on(events: &[Event], host: &str, after: Micros, lease_ms: u64) -> Option<Micros> {
    let samples: Vec<(&Event, u64)> = events
        .iter()
        .filter(|e| e.host == host)
        .filter_map(|e| match e.what {
            What::Agent {
                lease_remaining_ms, ..
            } => Some((e, lease_remaining_ms)),
            _ => None,
        })
        .collect();
    samples.windows(2).find_map(|w| {
        let ((prev, was), (cur, now)) = (w[0], w[1]);
        if cur.at <= after || now <= was {
            return None;
        }
        let used = i64::try_from(lease_ms.saturating_sub(now)).unwrap_or(0) * 1000;
        let at = (cur.mid() - used).clamp(prev.start(), cur.at);
        (at > after).then_some(at)
    })
}

/// The last moment (a probe's middle, not before `after`) at which monitor `m` still said it
/// did not lead: a leader knows it leads as soon as it does, so `m` pushed nothing as leader
/// before this.
pub fn not_leading_until(events: &[Event], after: Micros, m: &str) -> Micros {
    let mut until = after;
    for e in events.iter().filter(|e| e.host == m && e.start() >= after) {
        if let What::Monitor { leader, .. } = &e.what {
            if leader == m {
                break;
            }
            until = until.max(e.mid());
        }
    }
    until
}

/// When a monitor first reported a leader other than `old` in a probe started after `after`
/// (earliest over the monitors), with that leader.
pub fn new_leader(events: &[Event], after: Micros, old: &str) -> Option<(Micros, String)> {
    let mut monitors: Vec<&str> = events
        .iter()
        .filter(|e| matches!(e.what, What::Monitor { .. }))
        .map(|e| e.host.as_str())
        .collect();
    monitors.sort_unstable();
    monitors.dedup();
    let elected = |w: &What| match w {
        What::Monitor { leader, .. } => Some(!leader.is_empty() && leader != old),
        _ => None,
    };
    let at = monitors
        .into_iter()
        .filter_map(|m| sampled_change(events, m, after, elected))
        .min()?;
    let leader = events
        .iter()
        .filter(|e| e.start() >= after)
        .find_map(|e| match &e.what {
            What::Monitor { leader, .. } if !leader.is_empty() && leader != old => {
                Some(leader.clone())
            }
            _ => None,
        })?;
    Some((at, leader))
}

/// Whether the writer moved away from `old` in `[from, to]`: a write acknowledged by another
/// server, another server sampled writable, or the VIP sampled on another host.
pub fn writer_moved(
    events: &[Event],
    from: Micros,
    to: Micros,
    old: &str,
    old_server_id: u32,
    vip: Ipv4Addr,
) -> bool {
    events
        .iter()
        .filter(|e| e.at >= from && e.at <= to)
        .any(|e| {
            e.ack().is_some_and(|id| id != old_server_id)
                || (e.host != old
                    && (read_only(&e.what) == Some(false) || has_vip(&e.what, vip) == Some(true)))
        })
}

/// Whether a monitor logged a state change of `host` in `[from, to]`.
pub fn state_changed(events: &[Event], from: Micros, to: Micros, host: &str) -> bool {
    first_log(
        events,
        from,
        None,
        |k| matches!(k, Known::StateChanged { host: h, .. } if h == host),
    )
    .is_some_and(|at| at <= to)
}

/// How long two or more servers were surely writable at once, summed over `events` (sorted by
/// time, as the recorder returns them). A server counts as writable only between two
/// consecutive probes that both read `read_only=0` (from the first one's answer to the second
/// one's start), so the order in which hosts are probed never makes an overlap up; a probe
/// without an answer (a dead server) ends the run of writable probes. Safety demands zero;
/// anything else is a fencing failure the report shows.
pub fn two_writable(events: &[Event]) -> Micros {
    let mut last_writable: BTreeMap<&str, Micros> = BTreeMap::new();
    // (instant, +1 when a writable interval opens, -1 when it closes)
    let mut edges: Vec<(Micros, i32)> = Vec::new();
    for e in events {
        let writable = match &e.what {
            What::Server { read_only, .. } => !read_only,
            What::Down { probe, .. } if probe == "server" => false,
            _ => continue,
        };
        let host = e.host.as_str();
        match (writable, last_writable.get(host)) {
            (true, Some(&from)) if e.start() > from => {
                edges.push((from, 1));
                edges.push((e.start(), -1));
            }
            _ => {}
        }
        if writable {
            last_writable.insert(host, e.at);
        } else {
            last_writable.remove(host);
        }
    }
    // Closings sort before openings at the same instant: touching intervals do not overlap.
    edges.sort_unstable();
    let (mut open, mut since, mut total) = (0, 0, 0);
    for (at, step) in edges {
        if open >= 2 {
            total += at - since;
        }
        open += step;
        since = at;
    }
    total
}

#[cfg(test)]
mod tests;
