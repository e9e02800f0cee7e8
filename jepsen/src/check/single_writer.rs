//! Single writer: at no time did two hosts accept writes.
//!
//! Evidence that host X accepted writes at some instant within `[start, end]`: a write X
//! acknowledged (an insert, a register write or successful compare-and-set through the writer
//! VIP, or a direct probe — the answering server's `@@server_id` names X), or a sample of X's
//! server with `read_only=0`. Evidence that X did not: a sample with `read_only=1`, a server
//! probe without answer, a write X refused as read-only. Between two consecutive pieces of
//! writable evidence on X, less than [`MAX_GAP`] apart with no contrary evidence in between, X
//! is taken to have been writable throughout ("surely writable"). A violation is writable
//! evidence on another host lying wholly inside such an interval.
//!
//! The epoch rule: once a sample showed host Y's agent holding the writer role at epoch E, a
//! write acknowledged by another host X that started later breaks fencing — unless X's agent was
//! seen holding the writer at a higher epoch by [`MAX_GAP`] after that write ended.

use std::collections::BTreeMap;

use crate::check::{Verdict, Violation, first_n, json};
use crate::history::{History, Micros, Obs, Op, Sample, Status, ms};

/// Longest gap between two writable observations still read as "writable throughout".
pub const MAX_GAP: Micros = 1_000_000;

/// One piece of evidence about a host.
#[derive(Debug, Clone)]
struct Evidence {
    start: Micros,
    end: Micros,
    writable: bool,
    what: String,
}

/// Checks both rules.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let evidence = evidence_by_host(h)?;
    let mut violations = overlaps(&evidence);
    violations.extend(after_grant(h)?);
    violations.sort_by_key(|v| v.at);
    let violations = merge_incidents(violations);
    let summary = if violations.is_empty() {
        format!(
            "never two writers ({} writable observations on {} hosts)",
            evidence
                .values()
                .map(|e| e.iter().filter(|x| x.writable).count())
                .sum::<usize>(),
            evidence.len()
        )
    } else {
        format!(
            "{} incident(s) with two hosts accepting writes",
            violations.len()
        )
    };
    Ok(Verdict::from_violations(
        "single-writer",
        true,
        summary,
        violations,
    ))
}

fn evidence_by_host(h: &History) -> anyhow::Result<BTreeMap<String, Vec<Evidence>>> {
    let meta = h.meta()?;
    let mut by_host: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    for op in &h.ops {
        let Some(host) = op.server_id.and_then(|id| meta.host_of(id)) else {
            continue;
        };
        let refused = op.status == Status::Fail
            && op.kind.writes()
            && op
                .error
                .as_deref()
                .is_some_and(|e| e.contains("read-only") || e.contains("read_only"));
        if op.acked_write() || refused {
            by_host.entry(host.to_owned()).or_default().push(Evidence {
                start: op.start,
                end: op.end,
                writable: !refused,
                what: json(op),
            });
        }
    }
    for s in &h.samples {
        let writable = match &s.obs {
            Obs::Server { read_only, .. } => !read_only,
            Obs::Down { what, .. } if what == "server" => false,
            _ => continue,
        };
        by_host.entry(s.host.clone()).or_default().push(Evidence {
            start: s.start,
            end: s.end,
            writable,
            what: json(s),
        });
    }
    for list in by_host.values_mut() {
        list.sort_by_key(|e| (e.start, e.end));
    }
    Ok(by_host)
}

/// Surely-writable intervals of one host: (from, to, the two evidences bounding it).
fn surely_writable(list: &[Evidence]) -> Vec<(Micros, Micros, usize, usize)> {
    let mut out = Vec::new();
    let mut last_writable: Option<usize> = None;
    for (i, e) in list.iter().enumerate() {
        if !e.writable {
            last_writable = None;
            continue;
        }
        if let Some(p) = last_writable {
            let (from, to) = (list[p].end, e.start);
            // Consecutive writable evidence (contrary evidence in between resets `last_writable`).
            if from < to && to - from <= MAX_GAP {
                out.push((from, to, p, i));
            }
        }
        last_writable = Some(i);
    }
    out
}

fn overlaps(evidence: &BTreeMap<String, Vec<Evidence>>) -> Vec<Violation> {
    let mut out = Vec::new();
    for (x, xs) in evidence {
        let intervals = surely_writable(xs);
        if intervals.is_empty() {
            continue;
        }
        for (y, ys) in evidence {
            if x == y {
                continue;
            }
            for p in ys.iter().filter(|e| e.writable) {
                // Intervals are sorted and disjoint: the last one starting at or before p.start.
                let idx = intervals.partition_point(|(from, _, _, _)| *from <= p.start);
                let Some(&(from, to, a, b)) = idx.checked_sub(1).map(|i| &intervals[i]) else {
                    continue;
                };
                if p.end <= to {
                    out.push(Violation {
                        at: p.start,
                        summary: format!(
                            "{y} accepted a write at {}–{} ms while {x} was writable throughout {}–{} ms",
                            ms(p.start),
                            ms(p.end),
                            ms(from),
                            ms(to)
                        ),
                        events: vec![xs[a].what.clone(), p.what.clone(), xs[b].what.clone()],
                    });
                }
            }
        }
    }
    out
}

/// Writer grants seen in agent samples: (first seen, host, epoch), epochs increasing per host.
fn grants(samples: &[Sample]) -> Vec<(Micros, String, u64, String)> {
    let mut seen: BTreeMap<&str, u64> = BTreeMap::new();
    let mut out = Vec::new();
    let mut agent: Vec<&Sample> = samples.iter().filter(|s| s.obs.agent_writer()).collect();
    agent.sort_by_key(|s| s.end);
    for s in agent {
        let Obs::Agent { epoch, .. } = s.obs else {
            continue;
        };
        let prev = seen.entry(s.host.as_str()).or_insert(0);
        if epoch > *prev {
            *prev = epoch;
            out.push((s.end, s.host.clone(), epoch, json(s)));
        }
    }
    out
}

fn after_grant(h: &History) -> anyhow::Result<Vec<Violation>> {
    let meta = h.meta()?;
    let grants = grants(&h.samples);
    let mut out = Vec::new();
    for op in h.ops.iter().filter(|o| o.acked_write()) {
        let Some(host) = op.server_id.and_then(|id| meta.host_of(id)) else {
            continue;
        };
        // The highest-epoch grant observed before the write started.
        let latest = grants
            .iter()
            .filter(|(t, _, _, _)| *t < op.start)
            .max_by_key(|(_, _, epoch, _)| *epoch);
        // A higher grant to the writing host itself, seen up to MAX_GAP after the write, covers
        // it (the sampler may not have caught the agent's acceptance yet).
        let covered = |above: u64| {
            grants
                .iter()
                .any(|(t, h, e, _)| h == host && *e > above && *t <= op.end + MAX_GAP)
        };
        if let Some((t, holder, epoch, sample)) = latest
            && holder != host
            && !covered(*epoch)
        {
            out.push(violation_after_grant(op, host, holder, *epoch, *t, sample));
        }
    }
    Ok(out)
}

fn violation_after_grant(
    op: &Op,
    host: &str,
    holder: &str,
    epoch: u64,
    t: Micros,
    sample: &str,
) -> Violation {
    Violation {
        at: op.start,
        summary: format!(
            "{host} acknowledged a write at {}–{} ms after the writer was granted to {holder} at epoch {epoch} (seen at {} ms)",
            ms(op.start),
            ms(op.end),
            ms(t)
        ),
        events: vec![sample.to_owned(), json(op)],
    }
}

/// Merges violations less than a second apart into one incident (the first's summary, the
/// events of all, bounded).
fn merge_incidents(vs: Vec<Violation>) -> Vec<Violation> {
    let mut out: Vec<(Violation, usize, Micros)> = Vec::new();
    for v in vs {
        match out.last_mut() {
            Some((inc, n, last)) if v.at.saturating_sub(*last) < 1_000_000 => {
                *n += 1;
                *last = v.at;
                for e in v.events {
                    if inc.events.len() < 12 && !inc.events.contains(&e) {
                        inc.events.push(e);
                    }
                }
            }
            _ => {
                let at = v.at;
                out.push((v, 1, at));
            }
        }
    }
    out.into_iter()
        .map(|(mut v, n, last)| {
            if n > 1 {
                v.summary = format!("{} (+{} more until {} ms)", v.summary, n - 1, ms(last));
            }
            v.events = first_n(v.events, 12);
            v
        })
        .collect()
}
