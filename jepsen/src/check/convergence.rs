//! Convergence: within [`LIMIT`] of the last heal the cluster is whole again and stays so until
//! the end of the run — exactly one writable server, holding the writer VIP, which no other host
//! holds; every VIP on exactly one host; every other server replicating (both threads) from the
//! writer.

use std::collections::BTreeMap;

use crate::check::{Verdict, Violation};
use crate::history::{History, Meta, Micros, Obs, ms};

/// How long after the last heal the cluster may take.
pub const LIMIT: Micros = 10_000_000;

/// The latest observations per host at some instant.
#[derive(Debug, Default, Clone)]
struct State {
    server: BTreeMap<String, Obs>,
    vips: BTreeMap<String, Vec<String>>,
}

impl State {
    fn note(&mut self, host: &str, obs: &Obs) {
        match obs {
            Obs::Server { .. } => {
                self.server.insert(host.to_owned(), obs.clone());
            }
            Obs::Down { what, .. } if what == "server" => {
                self.server.insert(host.to_owned(), obs.clone());
            }
            Obs::Vips { ips } => {
                self.vips.insert(host.to_owned(), ips.clone());
            }
            _ => {}
        }
    }

    /// What is not yet converged (empty when converged).
    fn problems(&self, meta: &Meta) -> Vec<String> {
        let mut p = Vec::new();
        let writers: Vec<&String> = self
            .server
            .iter()
            .filter(|(_, o)| {
                matches!(
                    o,
                    Obs::Server {
                        read_only: false,
                        ..
                    }
                )
            })
            .map(|(h, _)| h)
            .collect();
        if writers.len() != 1 {
            p.push(format!("{} writable servers {writers:?}", writers.len()));
        }
        for vip in meta.vips() {
            let holders: Vec<&String> = self
                .vips
                .iter()
                .filter(|(_, ips)| ips.contains(&vip))
                .map(|(h, _)| h)
                .collect();
            if holders.len() != 1 {
                p.push(format!("VIP {vip} on {holders:?}"));
            }
        }
        let Some(writer) = writers.first().filter(|_| writers.len() == 1) else {
            return p;
        };
        if !self
            .vips
            .get(*writer)
            .is_some_and(|ips| ips.contains(&meta.writer_vip))
        {
            p.push(format!("writer {writer} lacks the writer VIP"));
        }
        let writer_ip = meta
            .hosts
            .iter()
            .find(|h| &h.name == *writer)
            .map(|h| h.ip.clone());
        for host in meta.hosts.iter().filter(|h| &h.name != *writer) {
            match self.server.get(&host.name) {
                Some(Obs::Server {
                    master,
                    replicating,
                    ..
                }) => {
                    if master.as_ref() != writer_ip.as_ref() || !replicating {
                        p.push(format!(
                            "{} replicates from {master:?} (running: {replicating}), not {writer}",
                            host.name
                        ));
                    }
                }
                other => p.push(format!("{} server: {other:?}", host.name)),
            }
        }
        p
    }
}

/// Finds when the cluster converged after the last heal.
pub fn check(h: &History) -> anyhow::Result<Verdict> {
    let meta = h.meta()?;
    let healed = h.last_heal().unwrap_or(0);
    let mut samples: Vec<_> = h.samples.iter().collect();
    samples.sort_by_key(|s| s.end);
    let mut state = State::default();
    let mut converged_since: Option<Micros> = None;
    let mut at_limit: Option<Vec<String>> = None;
    let mut last_problems = vec!["no samples after the heal".to_owned()];
    for s in samples {
        state.note(&s.host, &s.obs);
        if s.end < healed {
            continue;
        }
        let problems = state.problems(meta);
        if s.end > healed + LIMIT && at_limit.is_none() {
            at_limit = Some(if converged_since.is_some() {
                Vec::new()
            } else {
                problems.clone()
            });
        }
        match (problems.is_empty(), converged_since) {
            (true, None) => converged_since = Some(s.end),
            (false, Some(_)) => converged_since = None,
            _ => {}
        }
        last_problems = problems;
    }
    let violations = match converged_since {
        Some(t) if t <= healed + LIMIT => Vec::new(),
        Some(t) => vec![Violation {
            at: t,
            summary: format!("converged only {} ms after the last heal", ms(t - healed)),
            events: at_limit.unwrap_or_default(),
        }],
        None => vec![Violation {
            at: h.end(),
            summary: format!(
                "not converged by the end of the run ({} ms after the last heal)",
                ms(h.end().saturating_sub(healed))
            ),
            events: last_problems,
        }],
    };
    let summary = match converged_since {
        Some(t) => format!(
            "converged {} ms after the last heal",
            ms(t.saturating_sub(healed))
        ),
        None => "never converged".to_owned(),
    };
    Ok(Verdict::from_violations(
        "convergence",
        true,
        summary,
        violations,
    ))
}
