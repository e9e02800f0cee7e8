//! The report of a run, in its results directory: `history.jsonl` (written by the runner),
//! `verdicts.json` (each checker's verdict and judgement), `summary.txt` (a plain-text table,
//! then every violation with its offending events) and `timeline.svg`.

pub mod svg;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::expect::Judged;
use crate::history::{History, ms, secs};

/// Writes `verdicts.json`, `summary.txt` and `timeline.svg` into `dir`; returns the summary.
pub fn write(dir: &Path, h: &History, judged: &[Judged], schedule: &str) -> Result<String> {
    let summary = summary(h, judged, schedule);
    std::fs::write(dir.join("summary.txt"), &summary).context("writing summary.txt")?;
    let verdicts = serde_json::to_string_pretty(judged)?;
    std::fs::write(dir.join("verdicts.json"), verdicts).context("writing verdicts.json")?;
    std::fs::write(dir.join("timeline.svg"), svg::render(h, judged)?)
        .context("writing timeline.svg")?;
    Ok(summary)
}

/// The plain-text summary: the schedule, one row per checker, then the details and violations.
pub fn summary(h: &History, judged: &[Judged], schedule: &str) -> String {
    let mut s = String::new();
    if let Some(m) = &h.meta {
        let _ = writeln!(
            s,
            "mmm chaos run: seed {}, {} replication, trap {} ms, lease {} ms, sampler every {} ms, flap detection {}",
            m.seed,
            if m.semi_sync { "semi-sync" } else { "async" },
            m.trap_ms,
            m.lease_ms,
            m.sample_ms,
            if m.flap_detection { "on" } else { "off" }
        );
    }
    let _ = writeln!(
        s,
        "{} operations, {} samples, {} fault events over {} s\n",
        h.ops.len(),
        h.samples.len(),
        h.faults.len(),
        secs(h.end())
    );
    s.push_str(schedule);
    let _ = writeln!(
        s,
        "\n{:<14} {:<8} {:<17} summary",
        "checker", "verdict", "judgement"
    );
    for j in judged {
        let _ = writeln!(
            s,
            "{:<14} {:<8} {:<17} {}",
            j.verdict.checker,
            format!("{:?}", j.verdict.outcome).to_uppercase(),
            format!("{:?}", j.judgement),
            j.verdict.summary
        );
    }
    for j in judged {
        if j.verdict.details.is_empty() && j.verdict.violations.is_empty() && j.notes.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n== {} ==", j.verdict.checker);
        for d in j.notes.iter().chain(j.verdict.details.iter()) {
            let _ = writeln!(s, "{d}");
        }
        for v in &j.verdict.violations {
            let _ = writeln!(s, "- at {} ms: {}", ms(v.at), v.summary);
            for e in &v.events {
                let _ = writeln!(s, "    {e}");
            }
        }
    }
    s
}
