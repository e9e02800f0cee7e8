//! Monotonic: no agent's accepted epoch ever decreases (it is persisted, so not even across a
//! restart); and no Raft term has two leaders (from every monitor's own view).

use std::collections::BTreeMap;

use crate::check::{Verdict, Violation, json};
use crate::history::{History, Obs, Sample, ms};

/// Checks both rules.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let mut violations = epochs(&h.samples);
    violations.extend(leaders(h)?);
    violations.sort_by_key(|v| v.at);
    let summary = if violations.is_empty() {
        "agent epochs never decreased; one leader per term".to_owned()
    } else {
        format!("{} violation(s)", violations.len())
    };
    Ok(Verdict::from_violations(
        "monotonic",
        true,
        summary,
        violations,
    ))
}

fn epochs(samples: &[Sample]) -> Vec<Violation> {
    let mut last: BTreeMap<&str, &Sample> = BTreeMap::new();
    let mut agent: Vec<&Sample> = samples
        .iter()
        .filter(|s| matches!(s.obs, Obs::Agent { .. }))
        .collect();
    agent.sort_by_key(|s| s.start);
    let mut out = Vec::new();
    for s in agent {
        let Obs::Agent { epoch, .. } = s.obs else {
            continue;
        };
        if let Some(prev) = last.get(s.host.as_str())
            && let Obs::Agent { epoch: before, .. } = prev.obs
            && epoch < before
            // Only samples that surely happened in this order.
            && prev.end <= s.start
        {
            out.push(Violation {
                at: s.start,
                summary: format!(
                    "agent of {} went from epoch {before} to {epoch} at {} ms",
                    s.host,
                    ms(s.start)
                ),
                events: vec![json(*prev), json(s)],
            });
        }
        last.insert(s.host.as_str(), s);
    }
    out
}

fn leaders(h: &History) -> anyhow::Result<Vec<Violation>> {
    let mut by_term: BTreeMap<u64, BTreeMap<u64, &Sample>> = BTreeMap::new();
    for s in &h.samples {
        if let Obs::Monitor {
            leader_id, term, ..
        } = s.obs
            && leader_id != 0
        {
            by_term
                .entry(term)
                .or_default()
                .entry(leader_id)
                .or_insert(s);
        }
    }
    Ok(by_term
        .into_iter()
        .filter(|(_, leaders)| leaders.len() > 1)
        .map(|(term, leaders)| {
            let first = leaders.values().map(|s| s.start).min().unwrap_or(0);
            let ids: Vec<String> = leaders.keys().map(ToString::to_string).collect();
            Violation {
                at: first,
                summary: format!("term {term} had leaders {}", ids.join(" and ")),
                events: leaders.values().map(|s| json(*s)).collect(),
            }
        })
        .collect())
}
