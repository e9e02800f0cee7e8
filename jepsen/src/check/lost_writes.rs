//! Lost writes: every insert a client saw acknowledged is on every server after the heal.
//! Required (zero lost) with semi-synchronous replication; counted and reported without it.

use std::collections::BTreeMap;

use crate::check::{Outcome, Verdict, Violation, first_n, json, window_at};
use crate::history::{History, Op, OpKind, Workload};

/// Compares acknowledged inserts with the final rows of every server.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let meta = h.meta()?;
    let acked: BTreeMap<u64, &Op> = h
        .ops
        .iter()
        .filter(|o| o.workload == Workload::Insert && o.acked_write())
        .filter_map(|o| match o.kind {
            OpKind::Insert { id } => Some((id, o)),
            _ => None,
        })
        .collect();
    let mut violations = Vec::new();
    let mut details = Vec::new();
    for host in &meta.hosts {
        let Some(rows) = h.rows.iter().find(|r| r.host == host.name) else {
            violations.push(Violation {
                at: h.end(),
                summary: format!("{} was never read after the heal", host.name),
                events: Vec::new(),
            });
            continue;
        };
        let Some(ids) = &rows.ids else {
            violations.push(Violation {
                at: rows.at,
                summary: format!("{} could not be read after the heal", host.name),
                events: vec![json(rows)],
            });
            continue;
        };
        let missing: Vec<&Op> = acked
            .iter()
            .filter(|(id, _)| ids.binary_search(id).is_err())
            .map(|(_, op)| *op)
            .collect();
        details.push(format!(
            "{}: {} rows, {} of {} acknowledged inserts missing",
            host.name,
            ids.len(),
            missing.len(),
            acked.len()
        ));
        if let (false, Some(r)) = (missing.is_empty(), &rows.replication) {
            details.push(format!("{}: replicating {r}", host.name));
        }
        if let Some(first) = missing.first() {
            let windows: Vec<String> = missing
                .iter()
                .map(|o| {
                    window_at(&h.faults, o.end)
                        .unwrap_or("before any fault")
                        .to_owned()
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            violations.push(Violation {
                at: first.end,
                summary: format!(
                    "{} lacks {} acknowledged insert(s) (acknowledged during: {})",
                    host.name,
                    missing.len(),
                    windows.join(", ")
                ),
                events: first_n(missing.iter().map(|o| json(*o)).collect(), 10),
            });
        }
    }
    let lost = violations.len();
    let summary = if lost == 0 {
        format!("all {} acknowledged inserts on every server", acked.len())
    } else {
        format!(
            "{lost} server(s) lack acknowledged inserts ({})",
            if meta.semi_sync {
                "semi-sync: none may be lost"
            } else {
                "async replication: counted, not required"
            }
        )
    };
    let mut v = Verdict::from_violations("lost-writes", meta.semi_sync, summary, violations);
    v.details = details;
    if !meta.semi_sync && v.outcome == Outcome::Pass {
        v.outcome = Outcome::Info;
    }
    Ok(v)
}
